//! Faults that must lose nothing: no keyring, concurrent writers, a writer killed mid-save,
//! the original tool's plaintext config, changed credentials, and secrets leaking anywhere.

use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DynamicObject, ListParams, PostParams};
use serde_json::json;

use crate::support::*;

/// What the user saw: `add` with no Secret Service failed late or saved the installation
/// without its token. It must fail first, name the keyring, and save nothing.
#[test]
fn add_without_a_keyring_names_the_keyring_and_saves_nothing() {
    let home = Home::new();
    let out = home
        .cmd()
        .args(["add", "r", "-r", "https://github.com/o/r", "--no-verify", "--no-deploy"])
        .env("DESKRUN_TOKEN", TOKEN)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("keyring is not available"), "the keyring is named: {err}");
    assert!(err.contains("unlock"), "the fix is given: {err}");
    assert!(!home.config_path().exists(), "nothing may be saved without the token");
}

/// A locked keyring (a desktop whose login keyring was locked, say) must refuse `add` as fast
/// as a missing one, saying to unlock it, and change nothing already saved. Runs in a D-Bus
/// session of its own, so locking its keyring disturbs no other test.
#[test]
fn add_with_a_locked_keyring_says_to_unlock_it_and_changes_nothing() {
    let home = Home::new();
    let deskrun = assert_cmd::cargo::cargo_bin("deskrun");
    let script = r#"
        set -eu
        eval "$(echo '' | gnome-keyring-daemon --unlock --components=secrets | sed 's/^/export /')"
        echo "$TOKEN" | "$DESKRUN" add kept -r https://github.com/acme/kept --no-verify --no-deploy --token-stdin
        cp "$DESKRUN_CONFIG_DIR/config.json" "$DESKRUN_CONFIG_DIR/before.json"
        collection=$(gdbus call --session --dest org.freedesktop.secrets \
          --object-path /org/freedesktop/secrets \
          --method org.freedesktop.Secret.Service.ReadAlias default | grep -o "/org/[^']*")
        gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets \
          --method org.freedesktop.Secret.Service.Lock "[\"$collection\"]" >/dev/null
        set +e
        echo "$TOKEN" | timeout 60 "$DESKRUN" add web -r https://github.com/acme/web --no-verify --no-deploy --token-stdin
        echo "add exited $?"
        kill "$GNOME_KEYRING_PID" 2>/dev/null || true
    "#;
    let out = std::process::Command::new("dbus-run-session")
        .args(["--", "bash", "-c", script])
        .env("DESKRUN_CONFIG_DIR", home.config_dir())
        .env("DESKRUN_DATA_DIR", home.data_dir())
        .env("HOME", home.dir.path().join("home"))
        .env("TOKEN", TOKEN)
        .env("DESKRUN", &deskrun)
        .env_remove("DESKRUN_TOKEN")
        .current_dir(home.dir.path())
        .output()
        .expect("dbus-run-session and gnome-keyring (tests/run installs them)");
    let (said, err) = (stdout(&out), stderr(&out));
    assert!(said.contains("add exited 1"), "add fails with exit code 1: {said}{err}");
    assert!(err.contains("keyring is not available"), "the keyring is named: {err}");
    assert!(err.contains("unlock it"), "the fix is given: {err}");
    let before = std::fs::read(home.config_dir().join("before.json")).expect("first add saved");
    let after = std::fs::read(home.config_path()).unwrap();
    assert_eq!(after, before, "the saved config is byte for byte what it was");
    assert!(!String::from_utf8_lossy(&after).contains("\"web\""), "web was not saved");
}

/// Two processes adding at once (the app and the CLI) must not lose either update.
#[test]
fn concurrent_adds_lose_no_update() {
    let home = Home::new();
    let children: Vec<_> = (0..8)
        .map(|i| {
            home.cmd()
                .args(["add", &format!("r{i}"), "-r", "https://github.com/o/r"])
                .args(["--no-verify", "--no-deploy"])
                .env("DESKRUN_TOKEN", TOKEN)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let list: serde_json::Value =
        serde_json::from_slice(&home.ok(&["list", "--output", "json"]).stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 8, "every concurrent add is kept: {list}");
}

/// A process killed in the middle of a save must leave the old or the new file.
#[test]
fn a_writer_killed_mid_save_never_leaves_a_torn_config() {
    let home = Home::new();
    home.cmd()
        .args(["add", "base", "-r", "https://github.com/o/r", "--no-verify", "--no-deploy"])
        .env("DESKRUN_TOKEN", TOKEN)
        .output()
        .unwrap();
    for i in 0..20u64 {
        let mut child = home
            .cmd()
            .args(["add", &format!("k{i}"), "-r", "https://github.com/o/r"])
            .args(["--no-verify", "--no-deploy"])
            .env("DESKRUN_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill at a different point of the run each time, from start-up to the save.
        std::thread::sleep(Duration::from_millis(i * 7 % 120));
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(home.config_path()).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("torn config after kill {i}: {e}\n{text}"));
        assert!(parsed["installations"]["base"].is_object(), "earlier data survives");
    }
    home.ok(&["list"]);
}

/// The original tool kept tokens in plaintext in `~/.deskrun/config.json`.
#[test]
fn the_original_config_is_imported_and_its_plaintext_tokens_scrubbed() {
    let home = Home::new();
    let legacy_dir = home.dir.path().join("home").join(".deskrun");
    std::fs::create_dir_all(&legacy_dir).unwrap();
    let legacy = legacy_dir.join("config.json");
    let old = json!({
        "cluster_name": "deskrun",
        "installations": {
            "old-one": {"Name": "old-one", "Repository": "https://github.com/acme/one",
                        "ContainerMode": "kubernetes", "MinRunners": 1, "MaxRunners": 3,
                        "CachePaths": [], "AuthType": "pat", "AuthValue": format!("{TOKEN}1")},
            "old-two": {"Name": "old-two", "Repository": "http://github.com/acme/two",
                        "ContainerMode": "cached-privileged-kubernetes", "MinRunners": 1,
                        "MaxRunners": 1, "Instances": 2,
                        "CachePaths": [{"MountPath": "/var/lib/docker", "HostPath": ""}],
                        "AuthType": "pat", "AuthValue": format!("{TOKEN}2")},
            "old-app": {"Name": "old-app", "Repository": "https://github.com/acme",
                        "AuthType": "github-app", "AuthValue": "-----BEGIN RSA PRIVATE KEY-----"}
        }
    });
    std::fs::write(&legacy, serde_json::to_string_pretty(&old).unwrap()).unwrap();
    let out = home.cmd().arg("list").env("HOME", home.dir.path().join("home")).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("Moved the plaintext tokens"), "the user is told: {err}");
    assert!(err.contains("imported: old-one, old-two"), "{err}");
    assert!(err.contains("old-app") && err.contains("--app-id"), "the App needs its IDs: {err}");
    let list = stdout(&out);
    assert!(list.contains("old-one") && list.contains("old-two"), "{list}");
    assert!(list.contains("https://github.com/acme/two"), "http is upgraded as before: {list}");
    let scrubbed = std::fs::read_to_string(&legacy).unwrap();
    assert!(!scrubbed.contains(TOKEN) && !scrubbed.contains("PRIVATE KEY"), "{scrubbed}");
    assert!(scrubbed.contains("\"old-one\""), "the old file keeps everything else");
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(!config.contains(TOKEN), "no token in the new config");
    assert_eq!(home.keyring_lookup("old-one").as_deref(), Some(format!("{TOKEN}1").as_str()));
    assert!(err.contains("legacy:old-app"), "the App key is parked, not lost: {err}");
    assert_eq!(
        home.keyring_lookup("legacy:old-app").as_deref(),
        Some("-----BEGIN RSA PRIVATE KEY-----")
    );
    let again = home.cmd().arg("list").env("HOME", home.dir.path().join("home")).output().unwrap();
    assert!(!stderr(&again).contains("Moved"), "the import runs once: {}", stderr(&again));
}

/// What an audit found: an old config that was a symlink (a dotfiles checkout) or had a
/// second hard link kept its plaintext token in the real file or the other link, because
/// the scrub replaced only the name it was given.
#[test]
fn an_original_config_behind_a_symlink_or_hard_link_is_scrubbed_everywhere() {
    let entry = |token: &str| {
        json!({"installations": {"one": {"Name": "one", "Repository": "https://github.com/a/b",
            "ContainerMode": "kubernetes", "MinRunners": 1, "MaxRunners": 2, "CachePaths": [],
            "AuthType": "pat", "AuthValue": token}}})
        .to_string()
    };
    for link in ["symlink", "hard link"] {
        let home = Home::new();
        let legacy_dir = home.dir.path().join("home").join(".deskrun");
        std::fs::create_dir_all(&legacy_dir).unwrap();
        let real = home.dir.path().join("dotfiles-config.json");
        std::fs::write(&real, entry(TOKEN)).unwrap();
        let legacy = legacy_dir.join("config.json");
        if link == "symlink" {
            std::os::unix::fs::symlink(&real, &legacy).unwrap();
        } else {
            std::fs::hard_link(&real, &legacy).unwrap();
        }
        let out = home.ok(&["list"]);
        assert!(stderr(&out).contains("Moved the plaintext tokens"), "{link}: {}", stderr(&out));
        for name in [&real, &legacy] {
            let text = std::fs::read_to_string(name).unwrap();
            assert!(!text.contains(TOKEN), "{link}: {} still holds the token", name.display());
        }
        assert_eq!(home.keyring_lookup("one").as_deref(), Some(TOKEN), "{link}");
        if link == "symlink" {
            assert!(legacy.symlink_metadata().unwrap().is_symlink(), "the symlink stays one");
        }
    }
}

/// deskrun's own config behind a symlink (a dotfiles checkout) stays a symlink when saved.
#[test]
fn a_symlinked_config_stays_a_symlink() {
    let home = Home::new();
    let real = home.dir.path().join("dotfiles-deskrun.json");
    std::fs::write(&real, r#"{"version": 1}"#).unwrap();
    std::fs::create_dir_all(home.config_dir()).unwrap();
    std::os::unix::fs::symlink(&real, home.config_path()).unwrap();
    let add = ["add", "r", "-r", "https://github.com/o/r", "--no-deploy", "--no-verify"];
    let out = home.cmd().args(add).env("DESKRUN_TOKEN", TOKEN).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(home.config_path().symlink_metadata().unwrap().is_symlink(), "still a symlink");
    assert!(std::fs::read_to_string(&real).unwrap().contains("\"r\""), "the real file has r");
}

/// ARC's listener keeps its own copy of the credentials: a changed token must update the
/// Secret and recreate the listener, or the runners keep using the old token.
#[tokio::test]
async fn changed_credentials_update_the_secret_and_restart_the_listener() {
    let _cluster = exclusive_cluster().await;
    let home = Home::new();
    let add = |token: &str, replace: bool| {
        let mut cmd = home.cmd();
        cmd.args(["add", "web", "-r", "https://github.com/acme/web", "--no-verify"])
            .env("DESKRUN_TOKEN", token);
        if replace {
            cmd.arg("--replace");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "add: {}", stderr(&out));
        out
    };
    add(TOKEN, false);
    home.ok(&["up"]);
    let client = client().await;
    let listeners: kube::Api<DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        "arc-systems",
        &arc_resource("AutoscalingListener"),
    );
    let listener: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingListener",
        "metadata": {"name": "web-754b578d-listener", "namespace": "arc-systems",
                     "labels": {"actions.github.com/scale-set-name": "web"}},
        "spec": {"githubConfigUrl": "https://github.com/acme/web",
                 "githubConfigSecret": "web-754b578d-listener",
                 "autoscalingRunnerSetName": "web", "autoscalingRunnerSetNamespace": "arc-systems",
                 "ephemeralRunnerSetName": "web-abcde", "runnerScaleSetId": 1,
                 "image": "ghcr.io/actions/gha-runner-scale-set-controller:0.14.2"}
    }))
    .unwrap();
    listeners.create(&PostParams::default(), &listener).await.expect("listener");

    let new_token = format!("{TOKEN}-rotated");
    let out = add(&new_token, true);
    assert!(stderr(&out).contains("~ update credentials of web"), "{}", stderr(&out));
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), "arc-systems");
    let secret = secrets.get("deskrun-web-github").await.unwrap();
    assert_eq!(secret.data.unwrap()["github_token"].0, new_token.as_bytes(), "Secret updated");
    let left = listeners.list(&ListParams::default()).await.unwrap().items;
    assert!(left.is_empty(), "the listener is deleted so ARC recreates it: {left:?}");
    assert_eq!(home.keyring_lookup("web").as_deref(), Some(new_token.as_str()), "keyring updated");
}

/// A distinctive token (and a GitHub App's private key) must appear nowhere but the keyring
/// and the credentials Secrets: not in the config dir, in any output or log, in Helm values,
/// in other objects, or in the arguments of the programs deskrun runs. The commands include
/// the GitHub preflight (against a local GitHub), doctor and the cluster commands.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_leaks_nowhere() {
    let _cluster = exclusive_cluster().await;
    let home = Home::new();
    let token = "ghp_LeakCanary7f3a9c1e5b2d8f4a6c0e9b7d5f3a1c8e";
    let github = wiremock::MockServer::start().await;
    for (verb, route, status, body) in [
        ("GET", "/repos/acme/app/installation", 200, json!({"id": 4242})),
        (
            "POST",
            "/app/installations/4242/access_tokens",
            201,
            json!({"token": "ghs_x", "expires_at": "2026-12-03T18:00:00Z"}),
        ),
        (
            "POST",
            "/repos/acme/app/actions/runners/registration-token",
            201,
            json!({"token": "AABB", "expires_at": "2026-12-03T18:00:00Z"}),
        ),
    ] {
        wiremock::Mock::given(wiremock::matchers::method(verb))
            .and(wiremock::matchers::path(route))
            .respond_with(wiremock::ResponseTemplate::new(status).set_body_json(body))
            .mount(&github)
            .await;
    }
    let key_file = write_test_key(home.dir.path());
    let key = std::fs::read_to_string(&key_file).unwrap();
    // A whole line of the key's body: distinctive, and what any leak of the PEM carries.
    let key_line = key.lines().nth(3).unwrap().to_owned();
    let argv_log = home.dir.path().join("helm-argv.log");
    let env_log = home.dir.path().join("helm-env.log");
    let shim_dir = home.dir.path().join("shim");
    std::fs::create_dir_all(&shim_dir).unwrap();
    let real_helm = which("helm");
    let shim = shim_dir.join("helm");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nenv >> '{}'\nexec '{}' \"$@\"\n",
            argv_log.display(),
            env_log.display(),
            real_helm
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", shim_dir.display(), std::env::var("PATH").unwrap());
    let outputs = std::cell::RefCell::new(String::new());
    let run_with = |args: &[&str], stdin: Option<&str>, token_env: Option<&str>| {
        let mut cmd = home.cmd();
        cmd.args(args).arg("--verbose").env("PATH", &path).env("RUST_LOG", "trace");
        cmd.env("DESKRUN_GITHUB_API_URL", github.uri());
        if let Some(token) = token_env {
            cmd.env("DESKRUN_TOKEN", token);
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(pipe);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        outputs.borrow_mut().push_str(&stdout(&out));
        outputs.borrow_mut().push_str(&stderr(&out));
    };
    let run = |args: &[&str], stdin: Option<&str>| run_with(args, stdin, None);
    run(
        &["add", "canary", "-r", "https://github.com/acme/app", "--no-verify", "--token-stdin"],
        Some(token),
    );
    // Checked with GitHub (the preflight path), and an App whose installation is looked up.
    run(&["add", "checked", "-r", "https://github.com/acme/app", "--token-stdin"], Some(token));
    let app = ["add", "app", "-r", "https://github.com/acme/app", "--auth-type", "github-app"];
    run(
        &[&app[..], &["--app-id", "77", "--private-key-file", key_file.to_str().unwrap()]].concat(),
        None,
    );
    run(&["up"], None);
    run(&["status", "--output", "json"], None);
    run(&["status"], None);
    run(&["list", "--output", "json"], None);
    run(&["cluster", "status", "--output", "json"], None);
    // doctor reports problems (no Docker here) with a non-zero exit: its output counts anyway.
    let doctor =
        home.cmd().args(["doctor", "--verbose"]).env("RUST_LOG", "trace").output().unwrap();
    outputs.borrow_mut().push_str(&stdout(&doctor));
    outputs.borrow_mut().push_str(&stderr(&doctor));
    run(&["remove", "checked"], None);
    run(&["remove", "app"], None);
    // The rotated token comes through DESKRUN_TOKEN, which deskrun's children never inherit.
    let rotated = format!("{token}X");
    let replace = ["add", "canary", "-r", "https://github.com/acme/app", "--no-verify"];
    run_with(&[&replace[..], &["--replace"]].concat(), None, Some(&rotated));
    run(&["down"], None);
    run_with(&["up"], None, Some(&rotated));
    run(&["remove", "canary"], None);
    let outputs = outputs.borrow().clone();
    assert!(!outputs.contains(token), "the token appeared in deskrun's output or logs");
    let encoded = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(token)
    };
    assert!(!outputs.contains(&encoded), "the base64 token appeared in output or logs");
    assert!(!outputs.contains(&key_line), "the App key appeared in deskrun's output or logs");

    for entry in walk(&home.config_dir()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        assert!(!text.contains(token), "token in {}", entry.display());
        assert!(!text.contains(&key_line), "App key in {}", entry.display());
    }
    let argv = std::fs::read_to_string(&argv_log).expect("helm was run through the shim");
    assert!(!argv.contains(token), "the token was in helm's arguments");
    assert!(!argv.contains(&key_line), "the App key was in helm's arguments");
    let env = std::fs::read_to_string(&env_log).expect("helm's environment was recorded");
    assert!(env.contains("PATH="), "the environment record is real: {env}");
    assert!(!env.contains(token), "the token was in helm's environment (DESKRUN_TOKEN)");
    assert!(!env.contains(&key_line), "the App key was in helm's environment");
    let kind_calls =
        std::path::Path::new(&harness_env("DESKRUN_TEST_STATE")).join("kind-calls.log");
    assert!(!std::fs::read_to_string(kind_calls).unwrap().contains(token), "token in kind's argv");
    // While deployed: only the credentials Secret may hold it; check Helm's own records too.
    run(
        &["add", "canary", "-r", "https://github.com/acme/app", "--no-verify", "--token-stdin"],
        Some(token),
    );
    run(
        &[&app[..], &["--app-id", "77", "--private-key-file", key_file.to_str().unwrap()]].concat(),
        None,
    );
    let client = client().await;
    let secrets: kube::Api<Secret> = kube::Api::all(client.clone());
    for secret in secrets.list(&ListParams::default()).await.unwrap().items {
        let name = secret.metadata.name.clone().unwrap_or_default();
        if name == "deskrun-canary-github" || name == "deskrun-app-github" {
            continue;
        }
        let blob = serde_json::to_string(&secret).unwrap();
        assert!(!blob.contains(token), "token in Secret {name}");
        assert!(!blob.contains(&key_line), "App key in Secret {name}");
        // Helm's records are base64 of gzip: decode them too.
        if let Some(release) = secret.data.as_ref().and_then(|d| d.get("release")) {
            let decoded = helm_record(&release.0);
            assert!(!decoded.contains(token), "token in Helm release record {name}");
            assert!(!decoded.contains(&key_line), "App key in Helm release record {name}");
        }
    }
    for kind in
        ["AutoscalingRunnerSet", "AutoscalingListener", "EphemeralRunnerSet", "EphemeralRunner"]
    {
        let api: kube::Api<DynamicObject> =
            kube::Api::all_with(client.clone(), &arc_resource(kind));
        let blob = serde_json::to_string(&api.list(&ListParams::default()).await.unwrap()).unwrap();
        assert!(!blob.contains(token), "token in {kind}");
        assert!(!blob.contains(&key_line), "App key in {kind}");
    }
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as corev1, rbac::v1 as rbac};
    let everything_else = [
        ("ConfigMaps", list_json::<corev1::ConfigMap>(&client).await),
        ("Pods", list_json::<corev1::Pod>(&client).await),
        ("ServiceAccounts", list_json::<corev1::ServiceAccount>(&client).await),
        ("Events", list_json::<corev1::Event>(&client).await),
        ("Deployments", list_json::<apps::Deployment>(&client).await),
        ("Roles", list_json::<rbac::Role>(&client).await),
        ("RoleBindings", list_json::<rbac::RoleBinding>(&client).await),
    ];
    for (kind, blob) in everything_else {
        assert!(!blob.contains(token), "token in {kind}");
        assert!(!blob.contains(&key_line), "App key in {kind}");
    }
}

/// Every object of kind `K` in the cluster, as JSON.
async fn list_json<K>(client: &kube::Client) -> String
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: kube::Api<K> = kube::Api::all(client.clone());
    serde_json::to_string(&api.list(&ListParams::default()).await.unwrap().items).unwrap()
}

fn which(program: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    stdout(&out).trim().to_owned()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn helm_record(data: &[u8]) -> String {
    use base64::Engine;
    use std::io::Read;
    let gz = base64::engine::general_purpose::STANDARD.decode(data).unwrap_or_default();
    let mut json = String::new();
    let _ = flate2::read::GzDecoder::new(gz.as_slice()).read_to_string(&mut json);
    json
}

/// What the user saw: with Docker Desktop's socket elsewhere, kind failed with a bare
/// "Cannot connect". deskrun must say Docker is unreachable and where it looked.
#[test]
fn docker_unreachable_says_where_it_looked() {
    harness_env("DESKRUN_TEST_STATE");
    let home = Home::new();
    let nowhere = home.dir.path().join("no-control-plane");
    let out = home
        .cmd()
        .arg("up")
        .env("DESKRUN_TEST_STATE", &nowhere)
        .env("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Docker daemon is not reachable"), "{err}");
    assert!(err.contains("DOCKER_HOST=unix:///run/user/1000/docker.sock"), "what was tried: {err}");
    assert!(!home.config_path().exists(), "nothing is written");
    // Docker running but not this user's to use, and a docker context that is gone: each
    // with its own fix (the docker CLI's words, as kind passes them on).
    for (docker_says, fix) in [
        (
            "permission denied while trying to connect to the Docker daemon socket at \
             unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.51/info\": \
             dial unix /var/run/docker.sock: connect: permission denied",
            "usermod -aG docker",
        ),
        (
            "context \"lab\": context not found: open /root/.docker/contexts/meta/1/meta.json",
            "docker context ls",
        ),
    ] {
        let out =
            home.cmd().arg("up").env("KIND_STANDIN_DOCKER_ERROR", docker_says).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(fix), "{docker_says}: {err}");
        assert!(!home.config_path().exists(), "nothing is written");
    }
}

/// What the user saw: two commands started at once on first use both imported, and the
/// slower one wrote the plaintext token back into the old file.
#[test]
fn two_first_runs_at_once_import_once_and_keep_the_file_scrubbed() {
    let home = Home::new();
    let fake_home = home.dir.path().join("home");
    let legacy = fake_home.join(".deskrun").join("config.json");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    let old = json!({"cluster_name": "deskrun", "installations": {"x": {
        "Name": "x", "Repository": "https://github.com/o/r", "ContainerMode": "kubernetes",
        "MinRunners": 1, "MaxRunners": 5, "AuthType": "pat", "AuthValue": TOKEN}}});
    std::fs::write(&legacy, old.to_string()).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            home.cmd()
                .arg("list")
                .env("HOME", &fake_home)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut told = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        told += usize::from(stderr(&out).contains("Moved the plaintext tokens"));
    }
    assert_eq!(told, 1, "exactly one process imports");
    assert!(!std::fs::read_to_string(&legacy).unwrap().contains(TOKEN), "scrubbed for good");
    assert_eq!(home.keyring_lookup("x").as_deref(), Some(TOKEN));
}

/// What the user saw: two `add`s of one name at once; the winner said "Saved" but the
/// loser's clean-up had deleted the winner's token from the keyring.
#[test]
fn concurrent_adds_of_one_name_keep_the_winners_token() {
    let home = Home::new();
    let children: Vec<_> = (0..3)
        .map(|i| {
            home.cmd()
                .args(["add", "same", "-r", "https://github.com/o/r", "--no-verify", "--no-deploy"])
                .env("DESKRUN_TOKEN", format!("{TOKEN}{i}"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let winners: Vec<usize> = children
        .into_iter()
        .enumerate()
        .filter_map(|(i, child)| child.wait_with_output().unwrap().status.success().then_some(i))
        .collect();
    assert_eq!(winners.len(), 1, "one add wins, the others find the name taken");
    let stored = home.keyring_lookup("same");
    assert_eq!(stored.as_deref(), Some(format!("{TOKEN}{}", winners[0]).as_str()));
}

/// What the user saw: rotating a token with --replace reset --instances and --mount.
#[test]
fn replace_keeps_what_it_is_not_told_to_change() {
    let home = Home::new();
    let add = |args: &[&str], token: Option<&str>| {
        let mut cmd = home.cmd();
        cmd.args(["add", "a", "--no-verify", "--no-deploy"]).args(args);
        if let Some(token) = token {
            cmd.env("DESKRUN_TOKEN", token);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    add(
        &["-r", "https://github.com/o/r", "--mount", "/var/lib/docker", "--instances", "2"],
        Some(TOKEN),
    );
    add(&["--replace"], Some("ghp_rotated"));
    add(&["--replace", "--mode", "dind"], None);
    let list: serde_json::Value =
        serde_json::from_slice(&home.ok(&["list", "--output", "json"]).stdout).unwrap();
    let a = &list[0];
    assert_eq!(a["instances"], 2, "{a}");
    assert_eq!(a["mounts"][0]["target"], "/var/lib/docker", "{a}");
    assert_eq!(a["mode"], "dind", "{a}");
    assert_eq!(home.keyring_lookup("a").as_deref(), Some("ghp_rotated"), "the token was rotated");
}

#[test]
fn a_token_with_a_line_break_or_an_app_for_an_enterprise_is_refused_offline_too() {
    let home = Home::new();
    let out = home
        .cmd()
        .args(["add", "r", "-r", "https://github.com/o/r", "--no-verify", "--no-deploy"])
        .env("DESKRUN_TOKEN", "ghp_one\nghp_two")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("line break or space"), "{}", stderr(&out));
    let key = write_test_key(home.dir.path());
    let out = home
        .cmd()
        .args(["add", "e", "-r", "https://github.com/enterprises/big", "--no-verify"])
        .args(["--auth-type", "github-app", "--app-id", "1", "--installation-id", "2"])
        .arg("--private-key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("manage_runners:enterprise"), "{}", stderr(&out));
    assert!(!home.config_path().exists());
}

/// What must hold for every kind of refused input: `add` exits non-zero naming the field, and
/// what was saved before (the config file, byte for byte, and the keyring entry) is exactly
/// as it was, including when the refused `add` is a `--replace` of a saved installation.
#[test]
fn refused_input_leaves_the_saved_config_and_keyring_untouched() {
    let home = Home::new();
    let shared = home.dir.path().join("shared");
    let shared_mount = format!("{}:/shared", shared.display());
    let add = |args: &[&str], token: &str| {
        let mut cmd = home.cmd();
        cmd.arg("add").args(args).args(["--no-deploy", "--no-verify", "--token-stdin"]);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(token.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let base = ["base", "-r", "https://github.com/o/r", "--mount", "/root/.npm"];
    let out = add(&[&base[..], &["--mount", &shared_mount]].concat(), TOKEN);
    assert!(out.status.success(), "the first add must succeed: {}", stderr(&out));
    let saved = std::fs::read(home.config_path()).unwrap();
    let saved_token = home.keyring_lookup("base");
    assert_eq!(saved_token.as_deref(), Some(TOKEN), "the first add stored its token");

    let inside_shared = format!("{}:/x", shared.join("npm").display());
    let over_chosen_cache = format!("{}:/x", home.data_dir().join("cache").display());
    let url = "https://github.com/o/r";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["My_Runner", "-r", url], "name \"My_Runner\""),
        (vec!["r", "-r", url, "--min-runners", "4", "--max-runners", "2"], "--min-runners"),
        (vec!["r", "-r", url, "--instances", "0"], "--instances"),
        (vec!["r", "-r", "http://github.com/o/r"], "--repository"),
        (vec!["r", "-r", "https://github.com/orgs"], "--repository"),
        (vec!["r", "-r", "https://github.com/o/r?access_token=ghp_q"], "--repository"),
        (vec!["r", "-r", "https://api.github.com/repos/o/r"], "--repository"),
        (vec!["arc", "-r", url], "name \"arc\" is reserved"),
        (vec!["123", "-r", url], "YAML reads \"123\" as a number"),
        (vec!["r", "-r", "https://github.com/o/r/.."], "--repository"),
        (vec!["r", "-r", "https://github.com/-o/r"], "--repository"),
        (vec!["r", "-r", url, "--mount", "relative/target"], "--mount"),
        (vec!["r", "-r", url, "--mount", "/a:/b:Bogus"], "--mount"),
        (vec!["r", "-r", url, "--auth-type", "github-app", "--installation-id", "1"], "--app-id"),
        (vec!["base", "-r", "https://github.com/orgs/acme", "--replace"], "--repository"),
        (vec!["base", "-r", "https://ghes.corp/api/v3", "--replace"], "--repository"),
        (vec!["r", "-r", url, "--mount", &shared_mount], "host path"),
        (vec!["r", "-r", url, "--mount", &inside_shared], "host path"),
        (vec!["r", "-r", url, "--mount", &over_chosen_cache], "the cache deskrun chose"),
    ];
    for (args, field) in &cases {
        let out = add(args, "ghp_refusedTokenThatMustNotBeStored");
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} must be refused: {err}");
        assert!(err.contains(field), "{args:?}: the error names {field:?}: {err}");
        assert!(!err.contains("ghp_q"), "{args:?}: the URL's query is not echoed: {err}");
        let now = std::fs::read(home.config_path()).unwrap();
        assert!(now == saved, "{args:?} changed the config:\n{}", String::from_utf8_lossy(&now));
        assert_eq!(home.keyring_lookup("base"), saved_token, "{args:?} changed the keyring");
        assert_eq!(home.keyring_lookup("r"), None, "{args:?} stored a token for nothing");
    }
    // The refusals were the inputs' fault: the same home still takes a valid add.
    let out = add(&["r", "-r", url, "--mount", "/root/.npm"], TOKEN);
    assert!(out.status.success(), "a valid add after the refused ones: {}", stderr(&out));
}

/// What a user hit: `--auth-value "$(cat key.pem)"` was refused by the argument parser
/// (the PEM starts with "-----"), and its error printed the whole private key, twice.
#[test]
fn a_private_key_given_with_auth_value_is_taken_and_never_echoed() {
    let home = Home::new();
    let key = std::fs::read_to_string(write_test_key(home.dir.path())).unwrap();
    let out = home
        .cmd()
        .args(["add", "app", "-r", "https://github.com/o/r", "--no-deploy", "--no-verify"])
        .args(["--auth-type", "github-app", "--app-id", "1", "--installation-id", "2"])
        .args(["--auth-value", &key])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("visible to other processes"), "the warning is printed: {err}");
    let body = key.lines().nth(1).unwrap();
    assert!(!err.contains(body) && !stdout(&out).contains(body), "the key is not echoed");
    assert!(home.keyring_lookup("app").is_some(), "the key is in the keyring");
    // A token that happens to start with a dash is a value too, and an error about it (here:
    // the same secret given twice) never quotes it.
    let out = home
        .cmd()
        .args(["add", "pat", "-r", "https://github.com/o/r", "--no-deploy", "--no-verify"])
        .args(["--auth-value", "-ghp_dashLeadingToken", "--token-stdin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("dashLeading"), "{}", stderr(&out));
    // A forgotten value must not swallow the next flag as the token (and deploy, here).
    for (flag, says) in [
        ("--no-deploy", "one of add's flags"),
        ("-r", "one of add's flags"),
        ("--mode=dind", "one of add's flags"),
        ("-h", "one of add's flags"),
        ("--foo", "starting with '-'"),
    ] {
        let out = home
            .cmd()
            .args(["add", "forgot", "--auth-value", flag, "--no-verify", "--no-deploy"])
            .args(["-r", "https://github.com/o/r"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{flag}: {err}");
        assert!(err.contains(says), "{flag}: {err}");
        assert_eq!(home.keyring_lookup("forgot"), None, "{flag}: nothing stored");
    }
}
