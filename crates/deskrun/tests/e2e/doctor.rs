//! `deskrun doctor` against a made-up machine: kernel values are files under
//! `DESKRUN_DOCTOR_ROOT`, kind and helm are scripts that print a version, and Docker is a
//! socket served by the test that answers `GET /_ping` like the daemon. The keyring and the
//! session bus are the harness's real ones.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

/// A machine for doctor to look at, in a temporary directory.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    /// Limits, cgroups, tools and a Docker daemon that all pass.
    fn good() -> Self {
        let machine = Self { dir: tempfile::tempdir().unwrap() };
        machine.sysctl("max_user_watches", "1048576");
        machine.sysctl("max_user_instances", "1024");
        let cgroup = machine.root().join("sys/fs/cgroup");
        std::fs::create_dir_all(&cgroup).unwrap();
        std::fs::write(cgroup.join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
        machine.tool("kind", "kind v0.30.0 go1.24.6 linux/amd64");
        machine.tool("helm", "v3.21.4+g1d2a3b4");
        serve_docker_unix(&machine.docker_socket());
        machine
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn docker_socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn sysctl(&self, name: &str, value: &str) {
        let dir = self.root().join("proc/sys/fs/inotify");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), format!("{value}\n")).unwrap();
    }

    /// A script standing in for `name` that prints `version`.
    fn tool(&self, name: &str, version: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho '{version}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `deskrun doctor` looking at this machine.
    fn doctor(&self, home: &Home) -> std::process::Command {
        let mut cmd = home.cmd();
        cmd.arg("doctor")
            .env("DESKRUN_DOCTOR_ROOT", self.root())
            .env("DESKRUN_KIND", self.dir.path().join("kind"))
            .env("DESKRUN_HELM", self.dir.path().join("helm"))
            .env("DOCKER_HOST", format!("unix://{}", self.docker_socket().display()))
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY");
        cmd
    }
}

/// Answers every connection like the Docker daemon answers `GET /_ping`.
fn serve_docker_unix(path: &Path) {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer_ping(stream);
        }
    });
}

fn serve_docker_tcp() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer_ping(stream);
        }
    });
    port
}

fn answer_ping(mut stream: impl Read + Write) {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        request.push(byte[0]);
    }
    assert!(request.starts_with(b"GET /_ping HTTP/1.1\r\n"), "{request:?}");
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nApi-Version: 1.51\r\nContent-Type: text/plain; charset=utf-8\r\n\
          Content-Length: 2\r\n\r\nOK",
    );
}

fn json_report(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --output json: {e}\n{}", stdout(out)))
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

/// Replaces the status, message and fix of the checks `ids`, and the summary's counts.
fn redact_checks(json: &str, ids: &[&str]) -> String {
    const REDACTED: &str = "\"[depends on the machine]\"";
    let mut redacting = false;
    let mut out = String::new();
    for line in json.lines() {
        let field = line.trim_start().split(':').next().unwrap_or_default().trim_matches('"');
        if field == "id" {
            redacting = ids.iter().any(|id| line.contains(&format!("\"{id}\"")));
        } else if field == "summary" {
            redacting = true;
        }
        let redact = ["status", "message", "fix", "pass", "warn", "fail"].contains(&field);
        match line.split_once(": ") {
            Some((name, value)) if redacting && redact => {
                let comma = if value.ends_with(',') { "," } else { "" };
                out.push_str(&format!("{name}: {REDACTED}{comma}\n"));
            }
            _ => out.push_str(&format!("{line}\n")),
        }
    }
    out
}

#[test]
fn doctor_on_a_good_machine_passes_and_reports_a_stable_json_shape() {
    // The keyring check needs the harness's session (an unlocked gnome-keyring).
    harness_env("DBUS_SESSION_BUS_ADDRESS");
    let home = Home::new();
    let machine = Machine::good();
    let out = machine.doctor(&home).args(["--output", "json"]).output().unwrap();
    let report = json_report(&out);
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .filter_map(|c| c["id"].as_str())
        .collect();
    // NB: only the free disk depends on the test machine itself.
    assert!(failed.iter().all(|id| *id == "disk"), "{failed:?}: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(i32::from(!failed.is_empty())), "{}", stderr(&out));

    // The machine's own free space and desktop services vary; everything else is injected.
    // NB: redacted line by line in the output as printed, so the snapshot keeps its order.
    let json = redact_checks(&stdout(&out), &["disk", "notifications", "tray"]);
    let json = json.replace(&machine.dir.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!("doctor_json", json);
}

#[test]
fn doctor_fails_low_limits_old_tools_and_no_docker_each_with_its_fix() {
    let home = Home::new();
    let machine = Machine::good();
    machine.sysctl("max_user_watches", "8192");
    machine.sysctl("max_user_instances", "128");
    machine.tool("kind", "kind v0.19.0 go1.20.4 linux/amd64");
    let out = machine
        .doctor(&home)
        .env("DESKRUN_HELM", "/nonexistent/helm")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "a failed check exits 1:\n{text}");
    let failed = "check(s) failed (docker, kind, helm, inotify-watches, inotify-instances";
    assert!(stderr(&out).contains(failed), "{}", stderr(&out));
    for needle in [
        "FAIL  inotify watches",
        "fs.inotify.max_user_watches is 8192; kind needs at least 524288",
        "fix: sudo sysctl -w fs.inotify.max_user_watches=524288",
        "fix: sudo sysctl -w fs.inotify.max_user_instances=512",
        "/etc/sysctl.d/90-deskrun.conf",
        "kind v0.19.0 is older than 0.20",
        "install kind 0.20 or newer",
        "cannot run /nonexistent/helm (from DESKRUN_HELM)",
        "DOCKER_HOST=unix:///nonexistent/docker.sock",
        "fix: start Docker",
        "PASS  cgroup version",
    ] {
        assert!(text.contains(needle), "doctor's report names {needle:?}:\n{text}");
    }
}

#[test]
fn doctor_reads_cgroup_v1_and_unreadable_limits_as_warnings() {
    let home = Home::new();
    let machine = Machine::good();
    let cgroup = machine.root().join("sys/fs/cgroup");
    std::fs::remove_file(cgroup.join("cgroup.controllers")).unwrap();
    std::fs::create_dir_all(cgroup.join("memory")).unwrap();
    std::fs::remove_file(machine.root().join("proc/sys/fs/inotify/max_user_instances")).unwrap();
    let out = machine.doctor(&home).args(["--output", "json"]).output().unwrap();
    let report = json_report(&out);
    assert_eq!(check(&report, "cgroup")["status"], "warn", "{report}");
    assert!(check(&report, "cgroup")["message"].as_str().unwrap().contains("cgroup v1"));
    assert_eq!(check(&report, "inotify-instances")["status"], "warn", "{report}");
    assert_eq!(check(&report, "inotify-watches")["status"], "pass", "{report}");
}

#[test]
fn doctor_finds_docker_through_the_current_context_and_over_tcp() {
    use sha2::Digest;
    let home = Home::new();
    let machine = Machine::good();
    let config = machine.dir.path().join("docker-config");
    let id: String =
        sha2::Sha256::digest(b"lab").iter().map(|byte| format!("{byte:02x}")).collect();
    let meta = config.join("contexts/meta").join(id);
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(config.join("config.json"), r#"{"currentContext": "lab"}"#).unwrap();
    let host = format!("unix://{}", machine.docker_socket().display());
    let meta_json = serde_json::json!({"Name": "lab", "Endpoints": {"docker": {"Host": host}}});
    std::fs::write(meta.join("meta.json"), meta_json.to_string()).unwrap();

    let out = machine.doctor(&home).env_remove("DOCKER_HOST").args(["-o", "json"]).output();
    let report = json_report(&out.unwrap());
    let docker = check(&report, "docker");
    assert_eq!(docker["status"], "pass", "{docker}");
    let message = docker["message"].as_str().unwrap();
    assert!(message.contains("docker context \"lab\" (the current one)"), "{message}");
    assert!(message.contains(&host) && message.contains("API 1.51"), "{message}");

    let port = serve_docker_tcp();
    let out = machine
        .doctor(&home)
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .args(["-o", "json"])
        .output()
        .unwrap();
    let report = json_report(&out);
    assert_eq!(check(&report, "docker")["status"], "pass", "{report}");
}

/// What a user on a headless server saw: doctor must not crash or hang without a session
/// bus; the desktop-only checks warn, the keyring (which `add` needs) fails.
#[test]
fn doctor_without_a_session_bus_warns_for_desktop_services() {
    let home = Home::new();
    let machine = Machine::good();
    let runtime = tempfile::tempdir().unwrap();
    let out = machine
        .doctor(&home)
        .args(["--output", "json"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env_remove("DISPLAY")
        .output()
        .unwrap();
    let report = json_report(&out);
    for id in ["notifications", "tray"] {
        let check = check(&report, id);
        assert_eq!(check["status"], "warn", "{check}");
        assert!(check["message"].as_str().unwrap().contains("no session bus"), "{check}");
    }
    assert_eq!(check(&report, "keyring")["status"], "fail", "{report}");
    assert_eq!(out.status.code(), Some(1));
}

/// A session bus of the test's own, whose service directory offers only `services`.
struct PrivateBus {
    daemon: std::process::Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    fn start(services: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let service_dir = dir.path().join("services");
        std::fs::create_dir_all(&service_dir).unwrap();
        for name in services {
            let file = format!("[D-BUS Service]\nName={name}\nExec=/bin/false\n");
            std::fs::write(service_dir.join(format!("{name}.service")), file).unwrap();
        }
        let config = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={bus}</listen>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            bus = dir.path().join("bus").display(),
            services = service_dir.display()
        );
        let config_path = dir.path().join("bus.conf");
        std::fs::write(&config_path, config).unwrap();
        let mut daemon = std::process::Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config_path.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian's dbus-daemon; tests/run installs it)");
        // The daemon prints its address once it listens.
        let mut address = String::new();
        let mut out = std::io::BufReader::new(daemon.stdout.take().unwrap());
        std::io::BufRead::read_line(&mut out, &mut address).unwrap();
        Self { daemon, address: address.trim().to_owned(), _dir: dir }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

#[test]
fn doctor_finds_desktop_services_that_start_on_demand_and_misses_absent_ones() {
    let home = Home::new();
    let machine = Machine::good();
    let bus = PrivateBus::start(&["org.freedesktop.Notifications"]);
    let out = machine
        .doctor(&home)
        .args(["--output", "json"])
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .output()
        .unwrap();
    let report = json_report(&out);
    let notifications = check(&report, "notifications");
    assert_eq!(notifications["status"], "pass", "an activatable service counts: {notifications}");
    assert!(notifications["message"].as_str().unwrap().contains("starts on first use"));
    let tray = check(&report, "tray");
    assert_eq!(tray["status"], "warn", "{tray}");
    assert!(tray["fix"].as_str().unwrap().contains("AppIndicator"), "{tray}");
}
