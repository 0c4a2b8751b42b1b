//! Shell integration: completion scripts for each shell, the man pages, and the exit codes
//! in `--help`, all generated from the same clap definitions.

use crate::support::*;

#[test]
fn completions_cover_every_shell_and_the_new_commands() {
    let home = Home::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&home.ok(&["completions", shell]));
        for command in ["cluster-host", "doctor", "completions", "status", "add"] {
            assert!(script.contains(command), "{shell} completion names {command}");
        }
    }
    let out = home.run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a command-line error");
}

#[test]
fn the_bash_completion_is_valid_bash() {
    let home = Home::new();
    let script = home.dir.path().join("deskrun.bash");
    std::fs::write(&script, home.ok(&["completions", "bash"]).stdout).unwrap();
    let out = std::process::Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(out.status.success(), "bash -n: {}", stderr(&out));
    // Sourcing it registers the completion function, as a user's shell would.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p deskrun", script.display()))
        .output()
        .unwrap();
    assert!(stdout(&out).contains("_deskrun"), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn man_pages_are_generated_from_the_commands() {
    let home = Home::new();
    let page = stdout(&home.ok(&["man"]));
    assert!(page.contains(".TH deskrun 1"), "{page}");
    assert!(page.contains("cluster\\-host") && page.contains("doctor"), "{page}");
    assert!(page.contains("Exit codes"), "the exit codes are in the man page");

    let dir = home.dir.path().join("man");
    home.ok(&["man", "--dir", dir.to_str().unwrap()]);
    for page in ["deskrun.1", "deskrun-doctor.1", "deskrun-cluster-host-create.1", "deskrun-man.1"]
    {
        assert!(dir.join(page).is_file(), "{page} is written");
    }
    let help = stdout(&home.ok(&["--help"]));
    assert!(help.contains("  man "), "the README's `deskrun man` is in --help: {help}");
}

#[test]
fn help_documents_exit_codes_and_json_shapes() {
    let home = Home::new();
    let help = stdout(&home.ok(&["--help"]));
    assert!(help.contains("Exit codes:") && help.contains("2  the command line was wrong"));
    let doctor = stdout(&home.ok(&["doctor", "--help"]));
    assert!(doctor.contains("1  at least one check failed"), "{doctor}");
    assert!(doctor.contains("\"summary\""), "the JSON shape is documented: {doctor}");
    let hosts = stdout(&home.ok(&["cluster-host", "--help"]));
    assert!(hosts.contains("JSON (list --output json)"), "{hosts}");
    let list = stdout(&home.ok(&["list", "--help"]));
    assert!(list.contains("runs_on}]"), "list's JSON shape is documented: {list}");
    let status = stdout(&home.ok(&["status", "--help"]));
    assert!(status.contains("jobs: [{runner, job"), "status's JSON shape: {status}");
    let up = stdout(&home.ok(&["up", "--help"]));
    assert!(up.contains("+ deploy scale set") && up.contains("Nothing to change"), "{up}");
    let add = stdout(&home.ok(&["add", "--help"]));
    assert!(add.contains("looks it up"), "how an omitted installation ID is found: {add}");
}
