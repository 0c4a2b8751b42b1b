//! Shared pieces of the end-to-end tests: the `deskrun` binary in an isolated home, and a
//! kube client to the test harness's real API server.
//!
//! The harness (`tests/control-plane start`, run by `tests/run`) exports `KUBECONFIG`, a
//! PATH with the stand-in `kind` and the real `helm`, `DESKRUN_CHART_SOURCE` and
//! `DESKRUN_TEST_STATE`. Without them these tests fail rather than skip: a skipped
//! end-to-end test would look like a pass.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::cargo::CommandCargoExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};

/// The cluster name the tests use (deskrun's default).
pub const CLUSTER: &str = "deskrun";

/// The token the tests store; it must never appear in Helm values or output.
pub const TOKEN: &str = "ghp_e2eTestTokenThatMustNeverLeak0123456789";

/// Reads a variable the harness exports, or fails with how to run the tests.
pub fn harness_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the end-to-end tests need the test harness; run them with \
             `tests/run` (or `eval \"$(tests/control-plane start)\"` first)"
        )
    })
}

/// An isolated deskrun user: its own config and data directories.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp home");
        std::fs::create_dir(dir.path().join("home")).expect("a HOME inside the temp home");
        Self { dir }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A `deskrun` command with this home's directories.
    pub fn cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::cargo_bin("deskrun").expect("deskrun binary");
        cmd.env("DESKRUN_CONFIG_DIR", self.config_dir())
            .env("DESKRUN_DATA_DIR", self.data_dir())
            // NB: a HOME of its own: every command looks for the original tool's
            // ~/.deskrun/config.json to import, which must never be the developer's.
            .env("HOME", self.dir.path().join("home"))
            .env_remove("DESKRUN_TOKEN")
            .env_remove("RUST_LOG")
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs deskrun with `args`, returning its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run deskrun")
    }

    /// Runs deskrun with `args` and fails the test unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "deskrun {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The keyring service this home's tokens are stored under (its own, as for any config
    /// directory set with DESKRUN_CONFIG_DIR), so parallel tests never share an entry.
    pub fn keyring_service(&self) -> String {
        format!("deskrun:{}", self.config_dir().display())
    }

    /// The keyring entry of `account` as another program sees it, through the Secret
    /// Service (`secret-tool`), or `None` when there is none.
    pub fn keyring_lookup(&self, account: &str) -> Option<String> {
        let out = std::process::Command::new("secret-tool")
            .args(["lookup", "service", &self.keyring_service(), "username", account])
            .output()
            .expect("secret-tool (libsecret-tools)");
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn config_path(&self) -> PathBuf {
        self.config_dir().join("config.json")
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Serialises the tests that share the harness's one API server, and resets the cluster.
pub async fn exclusive_cluster() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    harness_env("DESKRUN_TEST_STATE");
    let guard = LOCK.lock().await;
    kind(&["delete", "cluster", "--name", CLUSTER]);
    guard
}

/// Runs the stand-in kind directly (to reset the cluster between tests).
pub fn kind(args: &[&str]) {
    let status = std::process::Command::new("kind").args(args).status().expect("run kind");
    assert!(status.success(), "kind {args:?} failed");
}

/// A client for the cluster deskrun deploys to, through kind's own kubeconfig.
pub async fn client() -> kube::Client {
    let out = std::process::Command::new("kind")
        .args(["get", "kubeconfig", "--name", CLUSTER])
        .output()
        .expect("kind get kubeconfig");
    assert!(out.status.success(), "kind get kubeconfig: {}", stderr(&out));
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&stdout(&out)).expect("kubeconfig");
    let options = kube::config::KubeConfigOptions {
        context: Some(format!("kind-{CLUSTER}")),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("config");
    kube::Client::try_from(config).expect("client")
}

/// The ARC resource `kind` (AutoscalingRunnerSet, …).
pub fn arc_resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("actions.github.com", "v1alpha1", kind))
}

/// Every object of the ARC kinds and core kinds in arc-systems, as `kind/name → resourceVersion`.
pub async fn resource_versions(client: &kube::Client) -> Vec<(String, String)> {
    let mut kinds: Vec<ApiResource> =
        ["AutoscalingRunnerSet", "EphemeralRunnerSet", "EphemeralRunner"]
            .into_iter()
            .map(arc_resource)
            .collect();
    for (group, version, kind) in [
        ("", "v1", "Secret"),
        ("", "v1", "ConfigMap"),
        ("", "v1", "ServiceAccount"),
        ("apps", "v1", "Deployment"),
        ("rbac.authorization.k8s.io", "v1", "Role"),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ] {
        kinds.push(ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind)));
    }
    let mut versions = Vec::new();
    for resource in kinds {
        let api: kube::Api<DynamicObject> =
            kube::Api::namespaced_with(client.clone(), "arc-systems", &resource);
        for obj in api.list(&ListParams::default()).await.expect("list").items {
            versions.push((
                format!("{}/{}", resource.kind, obj.metadata.name.unwrap_or_default()),
                obj.metadata.resource_version.unwrap_or_default(),
            ));
        }
    }
    let crds: kube::Api<DynamicObject> = kube::Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    );
    for obj in crds.list(&ListParams::default()).await.expect("list crds").items {
        versions.push((
            format!("CRD/{}", obj.metadata.name.unwrap_or_default()),
            obj.metadata.resource_version.unwrap_or_default(),
        ));
    }
    versions.sort();
    versions
}

/// Writes a throwaway RSA key in PEM form for GitHub App tests.
pub fn write_test_key(dir: &Path) -> PathBuf {
    let path = dir.join("app.pem");
    let status = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&path)
        .arg("2048")
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl genrsa failed");
    path
}
