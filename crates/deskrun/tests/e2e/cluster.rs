//! `deskrun cluster create | delete | status` and `deskrun version`, against the stand-in
//! kind and the harness's API server.

use serde_json::Value;

use crate::support::*;

fn cluster_status(home: &Home) -> Value {
    let out = home.ok(&["cluster", "status", "--output", "json"]);
    serde_json::from_slice(&out.stdout).expect("cluster status --output json is JSON")
}

/// Saves installation `name` without deploying or asking GitHub.
fn add_saved(home: &Home, name: &str) {
    let add = ["add", name, "-r", "https://github.com/acme/web", "--no-deploy", "--no-verify"];
    let out = home.cmd().args(add).env("DESKRUN_TOKEN", TOKEN).output().unwrap();
    assert!(out.status.success(), "add {name}: {}", stderr(&out));
}

/// How many times deskrun asked kind to create a cluster so far.
fn kind_creates() -> usize {
    let log = std::path::Path::new(&harness_env("DESKRUN_TEST_STATE")).join("kind-calls.log");
    let calls = std::fs::read_to_string(log).unwrap_or_default();
    calls.lines().filter(|call| call.contains("create cluster")).count()
}

#[tokio::test]
async fn cluster_commands_create_report_and_delete_the_kind_cluster() {
    let _cluster = exclusive_cluster().await;
    let home = Home::new();
    let before = cluster_status(&home);
    assert_eq!(before["running"], false, "no cluster yet: {before}");
    assert_eq!(before["name"], "deskrun", "the default cluster name: {before}");
    assert_eq!(before["context"], "kind-deskrun", "the kube context kind gives it: {before}");
    let text = stdout(&home.ok(&["cluster", "status"]));
    assert!(text.contains("not running; `deskrun up` creates it"), "says what to do: {text}");

    // A runner with a host path of its own: the new cluster must map it into the node.
    let cache = home.dir.path().join("gradle-cache");
    let mount = format!("{}:/home/runner/.gradle", cache.display());
    let add = ["add", "web", "-r", "https://github.com/acme/web", "--no-deploy", "--no-verify"];
    let out = home
        .cmd()
        .args(add)
        .args(["--mount", &mount])
        .env("DESKRUN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let creates = kind_creates();
    home.ok(&["cluster", "create"]);
    assert_eq!(kind_creates(), creates + 1, "one `kind create cluster`");
    let state = std::path::PathBuf::from(harness_env("DESKRUN_TEST_STATE"));
    let kind_config =
        std::fs::read_to_string(state.join("kind-clusters").join(CLUSTER).join("config.yaml"))
            .expect("kind was given a config");
    assert!(
        kind_config.contains(&format!("hostPath: {}", cache.display())),
        "the runner's host path is mapped into the node: {kind_config}"
    );
    let running = cluster_status(&home);
    assert_eq!(running["running"], true, "{running}");
    let mounts: Vec<&str> =
        running["host_mounts"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(mounts.contains(&cache.to_str().unwrap()), "the mapped paths are listed: {running}");
    let config: Value =
        serde_json::from_slice(&std::fs::read(home.config_path()).unwrap()).unwrap();
    assert!(config["cluster"]["created_at"].is_string(), "the creation is recorded: {config}");

    let again = home.ok(&["cluster", "create"]);
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
    assert_eq!(kind_creates(), creates + 1, "an existing cluster is not created again");

    home.ok(&["cluster", "delete"]);
    assert_eq!(cluster_status(&home)["running"], false, "the cluster is gone");
    let config: Value =
        serde_json::from_slice(&std::fs::read(home.config_path()).unwrap()).unwrap();
    assert!(config["cluster"]["created_at"].is_null(), "the deletion is recorded: {config}");
    assert!(config["installations"]["web"].is_object(), "the runners stay configured: {config}");
}

#[test]
fn version_names_deskrun_and_the_pinned_arc_version() {
    let home = Home::new();
    let out = stdout(&home.ok(&["version"]));
    assert_eq!(out, format!("deskrun {} (ARC 0.14.2)\n", env!("CARGO_PKG_VERSION")));
}

/// What a user without helm saw: `up` created the cluster (minutes with real kind), then
/// failed on the first Helm call. It must say what to install before it creates anything.
#[tokio::test]
async fn up_without_helm_says_so_before_creating_the_cluster() {
    let _cluster = exclusive_cluster().await;
    let home = Home::new();
    add_saved(&home, "web");
    let creates = kind_creates();
    let missing = home.dir.path().join("no-helm-here");
    let out = home.cmd().arg("up").env("DESKRUN_HELM", &missing).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("DESKRUN_HELM") && err.contains("no such file"), "{err}");
    assert_eq!(kind_creates(), creates, "no cluster was created");
    assert_eq!(cluster_status(&home)["running"], false);
}

/// What a user found: each Ctrl-C during `up` left a copy of the cluster's admin
/// kubeconfig (client key and all) in /tmp. Interrupted, deskrun removes it and says so.
#[tokio::test]
async fn an_interrupted_up_leaves_no_kubeconfig_behind() {
    let _cluster = exclusive_cluster().await;
    let home = Home::new();
    add_saved(&home, "web");
    // A helm that takes its time, so that the interrupt lands while up holds the kubeconfig.
    let tmp = home.dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let slow_helm = home.dir.path().join("slow-helm");
    std::fs::write(&slow_helm, "#!/bin/sh\nsleep 30\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&slow_helm, std::fs::Permissions::from_mode(0o755)).unwrap();
    let child = home
        .cmd()
        .arg("up")
        .env("DESKRUN_HELM", &slow_helm)
        .env("TMPDIR", &tmp)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(&tmp).unwrap().next().is_none() {
        assert!(std::time::Instant::now() < deadline, "up never wrote its kubeconfig");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// What a user saw: one installation Helm could not deploy stopped `up` after a few of its
/// changes, the others left undeployed, with only helm's command line as the message.
#[tokio::test]
async fn one_failing_release_does_not_stop_the_others() {
    let _cluster = exclusive_cluster().await;
    let home = Home::new();
    for name in ["alpha", "bad", "gamma", "delta"] {
        add_saved(&home, name);
    }
    // Helm refuses the release "bad" and installs everything else for real.
    let shim = home.dir.path().join("helm");
    let real = std::process::Command::new("sh").args(["-c", "command -v helm"]).output().unwrap();
    let real = stdout(&real).trim().to_owned();
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\ncase \" $* \" in *' upgrade --install bad '*) echo 'Error: boom' >&2; \
             exit 1;; esac\nexec '{real}' \"$@\"\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = home.cmd().arg("up").env("DESKRUN_HELM", &shim).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("scale set bad was not deployed"), "the failure is named: {err}");
    assert!(err.contains("Error: boom"), "with helm's reason: {err}");
    let client = client().await;
    let api: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(client, "arc-systems", &arc_resource("AutoscalingRunnerSet"));
    for name in ["alpha", "gamma", "delta"] {
        assert!(api.get_opt(name).await.unwrap().is_some(), "{name} was deployed all the same");
    }
    // Fixed (here: the real helm), the next up deploys what is missing and nothing else.
    let out = home.ok(&["up"]);
    assert!(stderr(&out).contains("+ deploy scale set bad"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("scale set alpha"), "{}", stderr(&out));
}
