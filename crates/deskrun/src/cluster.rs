//! The kind cluster's lifecycle through the `kind` executable, and the connection to it.
//!
//! deskrun never changes the user's kube config: kind is always given a throwaway
//! `--kubeconfig`, and the cluster's kubeconfig (context `kind-<name>`) is read with
//! `kind get kubeconfig` and kept in memory ([`ClusterHandle`]). Helm gets it as a 0600
//! temporary file that lives as long as the handle.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::process::{self, Program};

/// Where the deskrun cache root is mounted inside the kind node.
pub const NODE_CACHE_ROOT: &str = "/var/lib/deskrun/cache";

/// Where user host paths are mounted inside the kind node: `<prefix><host path>`. A prefix
/// keeps a host path like `/var/lib/docker` from landing on the node's own directories.
pub const NODE_HOST_PREFIX: &str = "/var/lib/deskrun/host";

/// Errors managing the cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Running kind failed.
    #[error(transparent)]
    Program(#[from] process::Error),
    /// The cluster does not exist.
    #[error(
        "kind cluster {name:?} does not exist; create it with `deskrun up` or `deskrun cluster create`"
    )]
    NotFound {
        /// The cluster name.
        name: String,
    },
    /// kind's kubeconfig could not be used.
    #[error("cannot use the kubeconfig of kind cluster {name:?}")]
    Kubeconfig {
        /// The cluster name.
        name: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing a temporary file failed.
    #[error("cannot write a temporary file for kind")]
    TempFile(#[source] std::io::Error),
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kind cluster configuration deskrun generates (kind.x-k8s.io/v1alpha4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KindConfig {
    kind: &'static str,
    api_version: &'static str,
    nodes: Vec<KindNode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct KindNode {
    role: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extra_mounts: Vec<ExtraMount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtraMount {
    host_path: PathBuf,
    container_path: PathBuf,
}

impl KindConfig {
    /// One control-plane node with the cache root and every host path mapped in.
    pub fn new(cache_root: &Path, host_paths: &[PathBuf]) -> Self {
        let mut extra_mounts = vec![ExtraMount {
            host_path: cache_root.to_path_buf(),
            container_path: PathBuf::from(NODE_CACHE_ROOT),
        }];
        extra_mounts.extend(host_paths.iter().map(|host| ExtraMount {
            host_path: host.clone(),
            container_path: node_path_of_host(host),
        }));
        Self {
            kind: "Cluster",
            api_version: "kind.x-k8s.io/v1alpha4",
            nodes: vec![KindNode { role: "control-plane", extra_mounts }],
        }
    }

    /// The config as kind reads it.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }
}

/// The path inside the kind node where a user host path is mounted.
pub fn node_path_of_host(host: &Path) -> PathBuf {
    let relative = host.strip_prefix("/").unwrap_or(host);
    Path::new(NODE_HOST_PREFIX).join(relative)
}

/// A kind cluster, by name.
#[derive(Debug, Clone)]
pub struct KindCluster {
    name: String,
    kind: Program,
}

impl KindCluster {
    /// The cluster `name`, driven through [`Program::kind`].
    pub fn new(name: &str) -> Self {
        Self { name: name.to_owned(), kind: Program::kind() }
    }

    /// The cluster name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kube context kind gives the cluster.
    pub fn context(&self) -> String {
        format!("kind-{}", self.name)
    }

    /// Whether kind knows the cluster.
    #[tracing::instrument(skip_all, fields(cluster = %self.name), err)]
    pub async fn exists(&self) -> Result<bool> {
        let out = self.kind.run(&args(["get", "clusters"]), None).await?;
        Ok(String::from_utf8_lossy(&out).lines().any(|line| line.trim() == self.name))
    }

    /// Creates the cluster from `config`, without touching the user's kube config.
    #[tracing::instrument(skip_all, fields(cluster = %self.name), err)]
    pub async fn create(&self, config: &KindConfig) -> Result<()> {
        let throwaway = tempfile::NamedTempFile::new().map_err(Error::TempFile)?;
        let mut argv = args(["create", "cluster", "--name", &self.name, "--config", "-"]);
        argv.extend(args(["--wait", "120s", "--kubeconfig"]));
        argv.push(throwaway.path().into());
        self.kind.run(&argv, Some(config.to_yaml().as_bytes())).await?;
        Ok(())
    }

    /// Deletes the cluster; a missing cluster is not an error.
    #[tracing::instrument(skip_all, fields(cluster = %self.name), err)]
    pub async fn delete(&self) -> Result<()> {
        let throwaway = tempfile::NamedTempFile::new().map_err(Error::TempFile)?;
        let mut argv = args(["delete", "cluster", "--name", &self.name, "--kubeconfig"]);
        argv.push(throwaway.path().into());
        self.kind.run(&argv, None).await?;
        Ok(())
    }

    /// Connects to the running cluster with its own kubeconfig, held in memory.
    // NB: debug: "no cluster" is a normal state (every start before the first `up`), and
    // callers report real failures.
    #[tracing::instrument(skip_all, fields(cluster = %self.name), err(level = "debug"))]
    pub async fn connect(&self) -> Result<ClusterHandle> {
        // NB: one kind process when the cluster runs (every `up` and `status`); only a
        // failure asks kind whether the cluster exists, to say so rather than kind's words.
        let argv = args(["get", "kubeconfig", "--name", &self.name]);
        let yaml = match self.kind.run(&argv, None).await {
            Ok(yaml) => yaml,
            Err(error) => {
                if matches!(self.exists().await, Ok(false)) {
                    return Err(Error::NotFound { name: self.name.clone() });
                }
                return Err(error.into());
            }
        };
        ClusterHandle::from_kubeconfig(&self.name, &self.context(), &yaml).await
    }
}

fn args<const N: usize>(items: [&str; N]) -> Vec<OsString> {
    items.into_iter().map(OsString::from).collect()
}

/// A connection to a running cluster: a kube client and, for Helm, the kubeconfig as a 0600
/// temporary file removed when the handle is dropped.
pub struct ClusterHandle {
    client: kube::Client,
    context: String,
    kubeconfig_file: tempfile::NamedTempFile,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle").field("context", &self.context).finish_non_exhaustive()
    }
}

impl ClusterHandle {
    /// Builds a handle from kubeconfig YAML, using `context` in it.
    pub async fn from_kubeconfig(name: &str, context: &str, yaml: &[u8]) -> Result<Self> {
        let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::Kubeconfig {
            name: name.to_owned(),
            source,
        };
        let text = std::str::from_utf8(yaml).map_err(|e| fail(Box::new(e)))?;
        let kubeconfig =
            kube::config::Kubeconfig::from_yaml(text).map_err(|e| fail(Box::new(e)))?;
        let options = kube::config::KubeConfigOptions {
            context: Some(context.to_owned()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| fail(Box::new(e)))?;
        let client = kube::Client::try_from(config).map_err(|e| fail(Box::new(e)))?;
        // NB: tempfile creates the file with mode 0600, so the client key in it stays private.
        let mut kubeconfig_file = tempfile::Builder::new()
            .prefix("deskrun-kubeconfig-")
            .tempfile()
            .map_err(Error::TempFile)?;
        kubeconfig_file.write_all(yaml).map_err(Error::TempFile)?;
        kubeconfig_file.flush().map_err(Error::TempFile)?;
        Ok(Self { client, context: context.to_owned(), kubeconfig_file })
    }

    /// The kube client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The kube context in use.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The kubeconfig file for Helm.
    pub fn kubeconfig_path(&self) -> &Path {
        self.kubeconfig_file.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_config_maps_the_cache_root_and_host_paths_under_a_prefix() {
        let config =
            KindConfig::new(Path::new("/home/u/.local/share/deskrun/cache"), &["/srv/npm".into()]);
        let yaml = config.to_yaml();
        assert!(yaml.contains("apiVersion: kind.x-k8s.io/v1alpha4"), "{yaml}");
        assert!(yaml.contains("containerPath: /var/lib/deskrun/cache"), "{yaml}");
        assert!(yaml.contains("hostPath: /srv/npm"), "{yaml}");
        assert!(yaml.contains("containerPath: /var/lib/deskrun/host/srv/npm"), "{yaml}");
    }
}
