//! `deskrun cluster-host` against the stand-in `incus` (tests/harness/incus), first on PATH:
//! it records every call (argv, and stdin for `file push -`), keeps instances and their files
//! in a directory, and answers like incus 6. The tests check the call sequence, the NixOS
//! configuration pushed into the host, and the record in deskrun's config.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::*;

/// The stand-in incus with its own state, and a PATH that finds it first.
struct IncusStandIn {
    dir: tempfile::TempDir,
}

impl IncusStandIn {
    fn new(settings: Value) -> Self {
        let stand_in = Self { dir: tempfile::tempdir().unwrap() };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/harness/incus");
        std::fs::create_dir_all(stand_in.bin()).unwrap();
        std::os::unix::fs::symlink(script.canonicalize().unwrap(), stand_in.bin().join("incus"))
            .unwrap();
        stand_in.set(settings);
        stand_in
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn set(&self, settings: Value) {
        std::fs::create_dir_all(self.state()).unwrap();
        std::fs::write(self.state().join("settings.json"), settings.to_string()).unwrap();
    }

    /// `deskrun ARGS` with this incus first on PATH.
    fn deskrun(&self, home: &Home, args: &[&str]) -> std::process::Output {
        let path = format!("{}:{}", self.bin().display(), std::env::var("PATH").unwrap());
        home.cmd()
            .args(args)
            .env("PATH", path)
            .env("INCUS_STANDIN_STATE", self.state())
            .env_remove("DESKRUN_INCUS")
            .output()
            .unwrap()
    }

    /// Runs the stand-in directly, as a user would run incus.
    fn incus(&self, args: &[&str]) {
        let status = std::process::Command::new(self.bin().join("incus"))
            .args(args)
            .env("INCUS_STANDIN_STATE", self.state())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "incus {args:?}");
    }

    /// Every call so far, and empties the log.
    fn take_calls(&self) -> Vec<Value> {
        let log = self.state().join("calls.jsonl");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    /// A file inside an instance.
    fn file(&self, remote: &str, name: &str, path: &str) -> String {
        let path = self.state().join("instances").join(remote).join(name).join("rootfs").join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// The argv of each call, joined by spaces.
fn argvs(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .map(|call| {
            let argv: Vec<&str> =
                call["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
            argv.join(" ")
        })
        .collect()
}

/// What was pushed to `path` by `file push -`.
fn pushed<'a>(calls: &'a [Value], path: &str) -> &'a str {
    calls
        .iter()
        .find(|call| call["argv"].as_array().unwrap().iter().any(|a| a.as_str() == Some(path)))
        .and_then(|call| call["stdin"].as_str())
        .unwrap_or_else(|| panic!("nothing pushed to {path}"))
}

/// Fails unless Nix can parse `text` (Debian's nix-bin, which tests/run installs).
fn assert_nix_parses(text: &str) {
    let file = tempfile::Builder::new().suffix(".nix").tempfile().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let out = std::process::Command::new("nix-instantiate")
        .arg("--parse")
        .arg(file.path())
        .output()
        .expect("nix-instantiate (apt-get install nix-bin; tests/run installs it)");
    assert!(out.status.success(), "Nix cannot parse:\n{text}\n{}", stderr(&out));
}

fn config(home: &Home) -> Value {
    serde_json::from_str(&std::fs::read_to_string(home.config_path()).unwrap()).unwrap()
}

#[test]
fn create_launches_configures_and_records_a_nixos_host() {
    let home = Home::new();
    let incus = IncusStandIn::new(json!({"default_remote": "lab", "remotes": ["local", "lab"]}));
    let out =
        incus.deskrun(&home, &["cluster-host", "create", "--name", "ci-1", "--disk", "300GiB"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Cluster host ci-1 is ready on Incus remote lab.\nUse it: incus exec lab:ci-1 -- \
         deskrun --help\n"
    );

    let calls = incus.take_calls();
    let rebuild_env = "--env PATH=/run/wrappers/bin:/run/current-system/sw/bin \
                       --env NIX_CONFIG=experimental-features = nix-command flakes";
    assert_eq!(
        argvs(&calls),
        [
            "remote get-default".to_owned(),
            "list lab: --format json".to_owned(),
            "launch images:nixos/25.11 lab:ci-1 --config security.nesting=true --config \
             security.privileged=true --device root,size=300GiB"
                .to_owned(),
            "config device add lab:ci-1 kmsg unix-char source=/dev/kmsg path=/dev/kmsg".to_owned(),
            "exec lab:ci-1 --env PATH=/run/wrappers/bin:/run/current-system/sw/bin -- getent \
             hosts cache.nixos.org"
                .to_owned(),
            "file push - lab:ci-1/etc/nixos/deskrun-module.nix --uid 0 --gid 0 --mode 0644"
                .to_owned(),
            "file push - lab:ci-1/etc/nixos/deskrun.nix --uid 0 --gid 0 --mode 0644".to_owned(),
            "file pull lab:ci-1/etc/nixos/configuration.nix -".to_owned(),
            "file push - lab:ci-1/etc/nixos/configuration.nix --uid 0 --gid 0 --mode 0644"
                .to_owned(),
            format!("exec lab:ci-1 {rebuild_env} -- nixos-rebuild switch"),
        ],
        "the incus calls of `cluster-host create`, in order, all on the remote it started with"
    );

    let module = pushed(&calls, "lab:ci-1/etc/nixos/deskrun-module.nix");
    let repo_module = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../nix/module.nix");
    assert_eq!(module, std::fs::read_to_string(repo_module).unwrap(), "the module, as is");
    let host_config = pushed(&calls, "lab:ci-1/etc/nixos/deskrun.nix");
    insta::assert_snapshot!("cluster_host_deskrun_nix", host_config);
    let system = incus.file("lab", "ci-1", "etc/nixos/configuration.nix");
    insta::assert_snapshot!("cluster_host_configuration_nix", system);
    assert_nix_parses(module);
    assert_nix_parses(host_config);
    assert_nix_parses(&system);

    let recorded = &config(&home)["cluster_hosts"]["ci-1"];
    assert_eq!(recorded["remote"], "lab", "{recorded}");
    assert_eq!(recorded["disk"], "300GiB", "{recorded}");
    assert_eq!(recorded["image"], "images:nixos/25.11", "{recorded}");
    assert_eq!(recorded["flake"], "github:deskrun/deskrun", "{recorded}");

    let list = stdout(&incus.deskrun(&home, &["cluster-host", "list", "--output", "json"]));
    let list: Vec<String> = list
        .lines()
        .map(|line| match line.split_once("\"created_at\": ") {
            Some((indent, _)) => format!("{indent}\"created_at\": \"[created_at]\","),
            None => line.to_owned(),
        })
        .collect();
    insta::assert_snapshot!("cluster_host_list_json", list.join("\n"));
    let text = stdout(&incus.deskrun(&home, &["cluster-host", "list"]));
    assert!(text.starts_with("NAME  REMOTE  STATUS   IMAGE"), "{text}");
    assert!(text.contains("ci-1  lab     Running  images:nixos/25.11  300GiB"), "{text}");
}

#[test]
fn configure_repeats_the_setup_and_delete_removes_container_and_record() {
    let home = Home::new();
    let incus = IncusStandIn::new(json!({}));
    let out = incus.deskrun(&home, &["cluster-host", "create"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let name = config(&home)["cluster_hosts"].as_object().unwrap().keys().next().unwrap().clone();
    assert!(name.starts_with("deskrun-") && name.len() == 14, "a generated name: {name}");
    incus.take_calls();

    let out = incus.deskrun(&home, &["cluster-host", "configure", &name, "--flake", "path:/src"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = incus.take_calls();
    let calls_text = argvs(&calls).join("\n");
    assert!(calls_text.ends_with("-- nixos-rebuild switch"), "{calls_text}");
    assert!(
        !calls_text.contains("configuration.nix --uid"),
        "configuration.nix already imports deskrun.nix, so it is not rewritten: {calls_text}"
    );
    assert!(!calls_text.contains("launch"), "configure launches nothing: {calls_text}");
    let host_config = pushed(&calls, &format!("local:{name}/etc/nixos/deskrun.nix"));
    assert!(host_config.contains("builtins.getFlake \"path:/src\""), "{host_config}");
    assert_eq!(config(&home)["cluster_hosts"][&name]["flake"], "path:/src", "the new flake sticks");

    let out = incus.deskrun(&home, &["cluster-host", "delete", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("Deleted cluster host {name}.\n"));
    assert!(
        argvs(&incus.take_calls()).contains(&format!("delete local:{name} --force")),
        "a running host is stopped and deleted"
    );
    assert!(config(&home).get("cluster_hosts").is_none(), "the record is gone");
    let list = stdout(&incus.deskrun(&home, &["cluster-host", "list"]));
    assert!(list.contains("No cluster hosts"), "{list}");

    let out = incus.deskrun(&home, &["cluster-host", "delete", &name]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("there is no cluster host \"{name}\"")));
}

#[test]
fn a_taken_name_an_unreachable_remote_and_a_missing_incus_say_what_to_do() {
    let home = Home::new();
    let incus = IncusStandIn::new(json!({}));
    incus.incus(&["launch", "images:debian/12", "local:web"]);
    incus.take_calls();
    let out = incus.deskrun(&home, &["cluster-host", "create", "--name", "web"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("an instance named \"web\" already exists on Incus remote \"local\""),
        "{err}"
    );
    assert!(err.contains("choose another --name"), "the fix is named: {err}");
    assert!(!argvs(&incus.take_calls()).iter().any(|c| c.starts_with("launch")), "no launch");
    assert!(!home.config_path().exists(), "nothing is recorded");

    incus.set(json!({"unreachable": ["local"]}));
    let out = incus.deskrun(&home, &["cluster-host", "create", "--name", "h"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the Incus remote \"local\" is not reachable"), "{err}");
    assert!(err.contains("connection refused"), "incus's reason is kept: {err}");
    assert!(err.contains("incus remote switch"), "the fix is named: {err}");
    incus.take_calls();

    let empty = tempfile::tempdir().unwrap();
    let out = home
        .cmd()
        .args(["cluster-host", "create"])
        .env("PATH", empty.path())
        .env_remove("DESKRUN_INCUS")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`incus` was not found on PATH; install the Incus client"), "{err}");

    for (args, needle) in [
        (["--disk", "200"], "--disk \"200\" is not a disk size"),
        (["--name", "Web_1"], "--name \"Web_1\" is not a valid cluster host name"),
        (["--image", ""], "--image \"\" is not valid"),
    ] {
        let out = incus.deskrun(&home, &[&["cluster-host", "create"][..], &args[..]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    assert!(incus.take_calls().is_empty(), "bad flags are refused before incus runs");
}

/// What the user saw with the original tool: a failed rebuild left a container deskrun did
/// not know about. The host must stay recorded, and `configure` must finish the job.
#[test]
fn a_failed_rebuild_keeps_the_host_so_configure_can_finish_it() {
    let home = Home::new();
    let incus = IncusStandIn::new(json!({"fail_rebuild": true, "network_after": 1}));
    let out = incus.deskrun(&home, &["cluster-host", "create", "--name", "h"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cluster host \"h\" was created but configuring it failed"), "{err}");
    assert!(err.contains("deskrun cluster-host configure h"), "{err}");
    assert!(err.contains("failed with exit code 101"), "the rebuild's error is shown: {err}");
    let probes = argvs(&incus.take_calls()).iter().filter(|c| c.contains("getent")).count();
    assert_eq!(probes, 2, "the network probe is retried until the host resolves names");
    assert_eq!(config(&home)["cluster_hosts"]["h"]["name"], "h", "the host stays recorded");

    incus.set(json!({}));
    let out = incus.deskrun(&home, &["cluster-host", "configure", "h"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Cluster host h is configured.\n");

    incus.set(json!({"unreachable": ["local"]}));
    let list = incus.deskrun(&home, &["cluster-host", "list", "-o", "json"]);
    assert!(list.status.success(), "an unreachable remote does not fail the list");
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["status"], "Unreachable", "{list}");
}
