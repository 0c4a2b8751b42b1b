//! End-to-end tests of the `deskrun` CLI against the test harness: a real kube-apiserver,
//! real Helm, ARC's real 0.14.2 charts, a real Secret Service keyring, and a stand-in
//! `kind` (kind needs Docker, which the test machines lack).

mod activity;
mod cluster;
mod cluster_host;
mod doctor;
mod faults;
mod preflight;
mod shell;
mod support;

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::*;

const NS: &str = "arc-systems";

fn add_all(home: &Home) {
    let npm = home.dir.path().join("npm-cache");
    let key = write_test_key(home.dir.path());
    let mut cmd = home.cmd();
    cmd.args(["add", "k8s", "-r", "https://github.com/acme/app", "--no-verify"])
        .args(["--min-runners", "0", "--max-runners", "3"])
        .env("DESKRUN_TOKEN", TOKEN);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "add k8s: {}", stderr(&out));
    assert_eq!(stdout(&out), "runs-on: k8s\n", "add ends with the runs-on line");
    assert!(stderr(&out).contains("is not running"), "no cluster yet: {}", stderr(&out));

    let out = home
        .cmd()
        .args(["add", "priv", "-r", "https://github.com/acme/app.git", "--no-verify"])
        .args(["--mode", "cached-privileged-kubernetes", "--instances", "2"])
        .args(["--mount", "/var/lib/docker", "--cache", "/root/.cache"])
        .arg("--mount")
        .arg(format!("{}:/root/.npm", npm.display()))
        .env("DESKRUN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "add priv: {}", stderr(&out));
    assert!(stdout(&out).contains("runs-on: priv-"), "{}", stdout(&out));

    let mut child = home
        .cmd()
        .args(["add", "dind", "-r", "https://github.com/acme", "-m", "dind", "--no-verify"])
        .arg("--token-stdin")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{TOKEN}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "add dind: {}", stderr(&out));

    let out = home
        .cmd()
        .args(["add", "app", "-r", "https://github.com/acme/app", "--no-verify"])
        .args(["--auth-type", "github-app", "--app-id", "12345", "--installation-id", "67890"])
        .arg("--private-key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "add app: {}", stderr(&out));
}

async fn list_dynamic(client: &kube::Client, kind: &str) -> Vec<DynamicObject> {
    let api: kube::Api<DynamicObject> =
        kube::Api::namespaced_with(client.clone(), NS, &arc_resource(kind));
    api.list(&ListParams::default()).await.unwrap().items
}

fn runner_container(ars: &DynamicObject) -> &Value {
    ars.data["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "runner")
        .expect("runner container")
}

fn env_of(container: &Value, name: &str) -> Option<String> {
    container["env"].as_array()?.iter().find(|e| e["name"] == name)?["value"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn add_and_up_deploy_every_mode_and_a_second_up_writes_nothing() {
    let _cluster = exclusive_cluster().await;
    let home = Home::new();
    let state = std::path::PathBuf::from(harness_env("DESKRUN_TEST_STATE"));
    let user_kubeconfig = std::fs::read(harness_env("KUBECONFIG")).unwrap();
    add_all(&home);
    let config = std::fs::read_to_string(home.config_path()).unwrap();
    assert!(!config.contains(TOKEN), "the config file must not hold the token");

    let out = home.ok(&["up"]);
    let log = stderr(&out);
    assert!(log.contains("+ install ARC controller"), "up shows its plan: {log}");
    assert!(log.contains("+ deploy scale set priv-2"), "{log}");
    assert_eq!(
        std::fs::read(harness_env("KUBECONFIG")).unwrap(),
        user_kubeconfig,
        "deskrun must never change the user's kubeconfig or current context"
    );

    // The kind config maps the cache root and the user's host path into the node.
    let kind_config =
        std::fs::read_to_string(state.join("kind-clusters").join(CLUSTER).join("config.yaml"))
            .unwrap();
    let npm = home.dir.path().join("npm-cache");
    assert!(kind_config.contains(&format!("hostPath: {}", npm.display())), "{kind_config}");
    assert!(kind_config.contains("containerPath: /var/lib/deskrun/cache"), "{kind_config}");

    let client = client().await;
    // CRDs are established.
    let crds: kube::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        kube::Api::all(client.clone());
    let established: BTreeSet<String> =
        crds.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|crd| {
                crd.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| {
                    c.iter().any(|c| c.type_ == "Established" && c.status == "True")
                })
            })
            .filter_map(|crd| crd.metadata.name)
            .collect();
    for crd in
        ["autoscalingrunnersets", "ephemeralrunnersets", "ephemeralrunners", "autoscalinglisteners"]
    {
        let name = format!("{crd}.actions.github.com");
        assert!(established.contains(&name), "CRD {crd} established");
        // deskrun applies them itself (Helm gets --skip-crds), so a newer chart's CRDs
        // replace older ones.
        let managers: Vec<String> = crds
            .get(&name)
            .await
            .unwrap()
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter_map(|f| f.manager)
            .collect();
        assert!(
            managers.iter().any(|m| m == "deskrun"),
            "CRD {crd} applied by deskrun: {managers:?}"
        );
    }

    // The controller runs the pinned version.
    let deployments: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), NS);
    let controller = deployments.get("arc-gha-rs-controller").await.expect("controller Deployment");
    let image =
        controller.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert!(image.ends_with(":0.14.2"), "controller image pinned to 0.14.2: {image}");

    // Every scale set, with URL, counts, mode, volumes.
    let sets = list_dynamic(&client, "AutoscalingRunnerSet").await;
    let by_name = |name: &str| {
        sets.iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("AutoscalingRunnerSet {name} missing"))
    };
    let names: BTreeSet<_> = sets.iter().filter_map(|s| s.metadata.name.clone()).collect();
    assert_eq!(names, BTreeSet::from(["app", "dind", "k8s", "priv-1", "priv-2"].map(String::from)));
    // What every scale set must say: (name, URL, Secret, min, max, container hook or none).
    let k8s_hook = Some("/home/runner/k8s/index.js");
    let novolume_hook = Some("/home/runner/k8s-novolume/index.js");
    let app_url = "https://github.com/acme/app";
    for (name, url, secret, min, max, hook) in [
        ("k8s", app_url, "deskrun-k8s-github", 0, 3, k8s_hook),
        ("priv-1", app_url, "deskrun-priv-github", 1, 1, novolume_hook),
        ("priv-2", app_url, "deskrun-priv-github", 1, 1, novolume_hook),
        ("dind", "https://github.com/acme", "deskrun-dind-github", 1, 5, None),
        ("app", app_url, "deskrun-app-github", 1, 5, k8s_hook),
    ] {
        let spec = &by_name(name).data["spec"];
        assert_eq!(spec["githubConfigUrl"], url, "{name}'s URL");
        assert_eq!(spec["githubConfigSecret"], secret, "{name}'s Secret");
        assert_eq!(
            (&spec["minRunners"], &spec["maxRunners"]),
            (&json!(min), &json!(max)),
            "{name}"
        );
        let runner = runner_container(by_name(name));
        assert_eq!(
            env_of(runner, "ACTIONS_RUNNER_CONTAINER_HOOKS").as_deref(),
            hook,
            "{name}'s container mode"
        );
        let template = env_of(runner, "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE");
        assert_eq!(template.is_some(), name.starts_with("priv"), "{name}'s hook template env");
    }
    let k8s = by_name("k8s");
    assert_eq!(k8s.data["spec"]["githubConfigUrl"], "https://github.com/acme/app");
    assert_eq!(k8s.data["spec"]["githubConfigSecret"], "deskrun-k8s-github");
    assert_eq!(
        (k8s.data["spec"]["minRunners"].clone(), k8s.data["spec"]["maxRunners"].clone()),
        (json!(0), json!(3))
    );
    assert_eq!(
        env_of(runner_container(k8s), "ACTIONS_RUNNER_CONTAINER_HOOKS").as_deref(),
        Some("/home/runner/k8s/index.js")
    );
    let volumes = k8s.data["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(
        volumes.contains("\"storageClassName\":\"standard\""),
        "kubernetes mode work claim: {volumes}"
    );

    let priv1 = by_name("priv-1");
    assert_eq!(
        priv1.data["spec"]["githubConfigUrl"], "https://github.com/acme/app",
        ".git is normalised away"
    );
    assert_eq!(
        (priv1.data["spec"]["minRunners"].clone(), priv1.data["spec"]["maxRunners"].clone()),
        (json!(1), json!(1))
    );
    let runner = runner_container(priv1);
    assert_eq!(
        env_of(runner, "ACTIONS_RUNNER_CONTAINER_HOOKS").as_deref(),
        Some("/home/runner/k8s-novolume/index.js")
    );
    assert!(
        env_of(runner, "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE").is_some(),
        "privileged hook template env"
    );
    let volumes = priv1.data["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(volumes.contains("deskrun-priv-1-hook"), "hook ConfigMap volume: {volumes}");
    assert!(
        volumes.contains("/var/lib/deskrun/cache/priv/instance-1/var_lib_docker"),
        "partitioned cache: {volumes}"
    );
    assert!(
        volumes.contains(&format!("/var/lib/deskrun/host{}", npm.display())),
        "host mount: {volumes}"
    );
    let priv2 = by_name("priv-2").data["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(
        priv2.contains("priv/instance-2/var_lib_docker"),
        "instance 2 has its own cache: {priv2}"
    );

    let maps: kube::Api<ConfigMap> = kube::Api::namespaced(client.clone(), NS);
    for instance in ["priv-1", "priv-2"] {
        let volumes = by_name(instance).data["spec"]["template"]["spec"]["volumes"].to_string();
        let map = format!("deskrun-{instance}-hook");
        assert!(volumes.contains(&map), "{instance} mounts its own hook ConfigMap: {volumes}");
        let hook = maps.get(&map).await.expect("hook ConfigMap");
        let template = hook.data.unwrap().into_values().next().unwrap();
        let cache = format!("priv/instance-{}/var_lib_docker", &instance[5..]);
        for needle in [
            "privileged: true",
            "SYS_ADMIN",
            "SYSTEMD_IGNORE_CHROOT",
            "/sys/fs/cgroup",
            "/root/.npm",
            &cache,
        ] {
            assert!(template.contains(needle), "{map} has {needle}: {template}");
        }
    }
    let other_maps: Vec<String> = maps
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|m| m.metadata.name)
        .filter(|n| n.ends_with("-hook"))
        .collect();
    assert_eq!(other_maps, ["deskrun-priv-1-hook", "deskrun-priv-2-hook"], "hooks only for priv");

    let dind = by_name("dind");
    assert_eq!(dind.data["spec"]["githubConfigUrl"], "https://github.com/acme");
    let init = dind.data["spec"]["template"]["spec"]["initContainers"].to_string();
    assert!(init.contains("docker:dind"), "dind mode has the Docker sidecar: {init}");

    // Credentials Secrets carry exactly ARC's keys.
    let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), NS);
    let keys = |s: Secret| s.data.unwrap().into_keys().collect::<Vec<_>>();
    assert_eq!(keys(secrets.get("deskrun-k8s-github").await.unwrap()), ["github_token"]);
    assert_eq!(
        keys(secrets.get("deskrun-app-github").await.unwrap()),
        ["github_app_id", "github_app_installation_id", "github_app_private_key"]
    );
    assert_eq!(by_name("app").data["spec"]["githubConfigSecret"], "deskrun-app-github");

    // No token in any Helm release's values.
    for release in ["k8s", "priv-1", "priv-2", "dind", "app", "arc"] {
        let out = std::process::Command::new("helm")
            .args([
                "get",
                "values",
                release,
                "--all",
                "-n",
                NS,
                "--kube-context",
                "kind-deskrun",
                "-o",
                "json",
            ])
            .env("KUBECONFIG", kind_kubeconfig(home.dir.path()))
            .output()
            .unwrap();
        assert!(out.status.success(), "helm get values {release}: {}", stderr(&out));
        let values = stdout(&out);
        assert!(
            !values.contains(TOKEN) && !values.contains("PRIVATE KEY"),
            "secret in {release}'s values"
        );
    }

    // A second up changes nothing at all.
    let before = resource_versions(&client).await;
    let out = home.ok(&["up"]);
    assert!(stderr(&out).contains("Nothing to change"), "{}", stderr(&out));
    assert_eq!(resource_versions(&client).await, before, "a second up must write nothing");

    // A deleted CRD is deskrun's to notice (Helm's record does not hold it): up puts it back.
    let crds: kube::Api<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    > = kube::Api::all(client.clone());
    let listeners = "autoscalinglisteners.actions.github.com";
    crds.delete(listeners, &Default::default()).await.unwrap();
    for _ in 0..100 {
        if crds.get_opt(listeners).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let out = home.ok(&["up"]);
    assert!(
        stderr(&out).contains(&format!("upgrade ARC controller (CRD {listeners} is missing)")),
        "{}",
        stderr(&out)
    );
    assert!(crds.get_opt(listeners).await.unwrap().is_some(), "up applied the CRD again");

    // remove one: its release and objects go, the others are untouched.
    let before: Vec<_> = resource_versions(&client)
        .await
        .into_iter()
        .filter(|(name, _)| !name.contains("dind"))
        .collect();
    // NB: with the user's shell set to keep Helm's records in ConfigMaps, which would make
    // helm look for the release where it is not and report its uninstall as done.
    for args in [&["remove", "dind"][..], &["up"]] {
        let out = home.cmd().args(args).env("HELM_DRIVER", "configmap").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let after = resource_versions(&client).await;
    assert!(
        after.iter().all(|(name, _)| !name.contains("/dind")),
        "dind's objects are gone: {after:?}"
    );
    assert_eq!(after, before, "removing dind must not touch the other objects");
    let list = stdout(&home.ok(&["list", "--output", "json"]));
    assert!(!list.contains("\"dind\""), "dind left the config: {list}");

    // down: no scale set remains; the config keeps them.
    home.ok(&["down"]);
    assert!(
        list_dynamic(&client, "AutoscalingRunnerSet").await.is_empty(),
        "down removes every scale set"
    );
    let list = stdout(&home.ok(&["list"]));
    for name in ["k8s", "priv", "app"] {
        assert!(list.contains(name), "down keeps {name} in the config: {list}");
    }
}

/// Writes kind's kubeconfig for the test cluster, for running helm by hand.
fn kind_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let out = std::process::Command::new("kind")
        .args(["get", "kubeconfig", "--name", CLUSTER])
        .output()
        .unwrap();
    let path = dir.join("kind-kubeconfig");
    std::fs::write(&path, out.stdout).unwrap();
    path
}

#[tokio::test]
async fn status_and_list_output() {
    let _cluster = exclusive_cluster().await;
    let home = Home::new();
    for (name, extra) in [("web", vec!["--max-runners", "4"]), ("ci", vec!["--instances", "2"])] {
        let out = home
            .cmd()
            .args(["add", name, "-r", "https://github.com/acme/web", "--no-verify", "--no-deploy"])
            .args(extra)
            .env("DESKRUN_TOKEN", TOKEN)
            .output()
            .unwrap();
        assert!(out.status.success(), "add {name}: {}", stderr(&out));
    }
    insta::assert_snapshot!("list_text", stdout(&home.ok(&["list"])));
    insta::assert_snapshot!("list_json", stdout(&home.ok(&["list", "--output", "json"])));
    insta::assert_snapshot!("status_no_cluster", stdout(&home.ok(&["status"])));
    let down: Value =
        serde_json::from_slice(&home.ok(&["status", "--output", "json"]).stdout).unwrap();
    let runners: Vec<(&str, &Value)> = down["runners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), &r["deployed"]))
        .collect();
    let not_deployed = json!(false);
    assert_eq!(
        runners,
        [("ci-1", &not_deployed), ("ci-2", &not_deployed), ("web", &not_deployed)],
        "with no cluster, the JSON still lists the configured runners: {down}"
    );

    home.ok(&["up"]);
    let client = client().await;
    simulate_runners(&client, "web").await;
    insta::assert_snapshot!("status_text", stdout(&home.ok(&["status"])));
    insta::assert_snapshot!("status_json", stdout(&home.ok(&["status", "--output", "json"])));
    insta::assert_snapshot!("status_one", stdout(&home.ok(&["status", "ci"])));
    let out = home.run(&["status", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no installation named \"nope\""), "{}", stderr(&out));
    // A scale set's name is not an installation's: remove says whose instance it is.
    let out = home.run(&["remove", "ci-2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("instances of installation \"ci\""), "{}", stderr(&out));
}

/// Creates what ARC's controller and listener would: an EphemeralRunnerSet, three
/// EphemeralRunners (one running a job) and a listener pod, with their status set.
async fn simulate_runners(client: &kube::Client, scale_set: &str) {
    let labels = json!({"actions.github.com/scale-set-name": scale_set, "actions.github.com/scale-set-namespace": NS});
    let runner_spec = json!({
        "githubConfigUrl": "https://github.com/acme/web",
        "githubConfigSecret": "deskrun-web-github",
        "runnerScaleSetId": 1,
        "spec": {"containers": [{"name": "runner", "image": "ghcr.io/actions/actions-runner:latest"}]},
    });
    let create = |kind: &'static str, name: String, spec: Value, status: Value| {
        let api: kube::Api<DynamicObject> =
            kube::Api::namespaced_with(client.clone(), NS, &arc_resource(kind));
        let resource = arc_resource(kind);
        let labels = labels.clone();
        async move {
            let obj: DynamicObject = serde_json::from_value(json!({
                "apiVersion": resource.api_version,
                "kind": resource.kind,
                "metadata": {"name": name, "namespace": NS, "labels": labels},
                "spec": spec,
            }))
            .unwrap();
            api.create(&PostParams::default(), &obj)
                .await
                .unwrap_or_else(|e| panic!("create {kind}: {e}"));
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
            .unwrap_or_else(|e| panic!("status of {kind}: {e}"));
        }
    };
    create(
        "EphemeralRunnerSet",
        format!("{scale_set}-abcde"),
        json!({"replicas": 3, "patchID": 0, "ephemeralRunnerSpec": runner_spec.clone()}),
        json!({"currentReplicas": 3, "phase": "Running"}),
    )
    .await;
    create(
        "EphemeralRunner",
        format!("{scale_set}-abcde-runner-1"),
        runner_spec.clone(),
        json!({"phase": "Running", "ready": true, "runnerName": "r1", "jobDisplayName": "build (ubuntu)",
               "jobRepositoryName": "acme/web", "workflowRunId": 4242, "jobId": "77"}),
    )
    .await;
    create(
        "EphemeralRunner",
        format!("{scale_set}-abcde-runner-2"),
        runner_spec.clone(),
        json!({"phase": "Pending"}),
    )
    .await;
    create(
        "EphemeralRunner",
        format!("{scale_set}-abcde-runner-3"),
        runner_spec,
        json!({"phase": "Failed", "reason": "TooManyPodFailures"}),
    )
    .await;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), NS);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": format!("{scale_set}-754b578d-listener"), "namespace": NS,
                     "labels": {"actions.github.com/scale-set-name": scale_set,
                                "app.kubernetes.io/component": "runner-scale-set-listener"}},
        "spec": {"containers": [{"name": "listener", "image": "ghcr.io/actions/gha-runner-scale-set-controller:0.14.2"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.expect("listener pod");
    pods.patch_status(
        &format!("{scale_set}-754b578d-listener"),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running"}})),
    )
    .await
    .expect("listener status");
}

#[test]
fn bad_input_is_refused_before_anything_is_saved() {
    let home = Home::new();
    let repo = "https://github.com/o/r";
    // (arguments, exit code, what the error must name)
    let cases: &[(&[&str], i32, &str)] = &[
        (&["add", "My_Runner", "-r", repo], 1, "\"my-runner\""),
        (
            &["add", "r", "-r", repo, "--min-runners", "4", "--max-runners", "2"],
            1,
            "--min-runners 4",
        ),
        (&["add", "r", "-r", repo, "--instances", "0"], 1, "--instances 0"),
        (&["add", "r", "-r", repo, "--instances", "1000"], 1, "--instances 1000"),
        (&["add", "r", "-r", "http://github.com/o/r"], 1, "https"),
        (&["add", "r", "-r", "github.com/o/r"], 1, "--repository"),
        (&["add", "r", "-r", "https://github.com//r"], 1, "empty path part"),
        (&["add", "r", "-r", "https://ghp_leak123@github.com/o/r"], 1, "credentials"),
        (&["add", "r", "-r", repo, "--mount", "relative/path"], 1, "absolute"),
        (&["add", "r", "-r", repo, "--mount", "/a:/b:Bogus"], 1, "unknown type"),
        (&["add", "r", "-r", repo, "--cache", "rel"], 1, "--cache \"rel\""),
        (&["add", "r", "-r", repo, "--cache", "/a:/b:Socket"], 1, "--mount SRC:TARGET:TYPE"),
        (
            &["add", "r", "-r", repo, "--auth-type", "github-app", "--installation-id", "1"],
            1,
            "--app-id",
        ),
        (
            &[
                "add",
                "r",
                "-r",
                repo,
                "--auth-type",
                "github-app",
                "--app-id",
                "abc",
                "--installation-id",
                "1",
            ],
            1,
            "--app-id \"abc\"",
        ),
        (
            &[
                "add",
                "r",
                "-r",
                repo,
                "--auth-type",
                "github-app",
                "--app-id",
                "1",
                "--installation-id",
                "Iv23liAbc",
            ],
            1,
            "Client ID",
        ),
        (
            &["add", "r", "-r", repo, "--app-id", "5"],
            1,
            "--app-id goes with --auth-type github-app",
        ),
        (&["add", "r", "-r", repo, "--token-stdin", "--auth-value", "x"], 1, "given twice"),
        (&["add", "r", "-r", repo, "--replace"], 1, "no installation \"r\" to replace"),
        (&["add", "r", "-r", repo, "--mode", "docker"], 2, "--mode"),
        (&["add", "r", "-r", repo, "--auth-type", "ssh"], 2, "--auth-type"),
    ];
    for (args, code, needle) in cases {
        let out = home.cmd().args(*args).env("DESKRUN_TOKEN", TOKEN).output().unwrap();
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?} must fail with exit code {code}: {err}"
        );
        assert!(err.contains(needle), "{args:?}: error {err:?} should name {needle:?}");
        assert!(!err.contains(TOKEN) && !err.contains("ghp_leak123"), "no secret in errors: {err}");
        assert!(!home.config_path().exists(), "{args:?}: nothing may be saved");
        if *code == 1 {
            assert!(err.starts_with("deskrun: "), "errors start with the program name: {err}");
            assert_eq!(err.matches("deskrun: ").count(), 1, "the error is printed once: {err}");
        }
    }
}

/// Long names make ARC's kubernetes-mode job pod names collide: warned, not refused.
#[test]
fn a_long_kubernetes_mode_name_is_saved_with_a_warning() {
    let home = Home::new();
    let name = "a-very-long-runner-name-for-the-monorepo";
    let out = home
        .cmd()
        .args(["add", name, "-r", "https://github.com/o/r", "--no-verify", "--no-deploy"])
        .env("DESKRUN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("job pod names"), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("runs-on: {name}\n"));
}
