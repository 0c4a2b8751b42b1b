//! The `incus` executable, for cluster hosts: the current remote, the instances on a remote,
//! files in them and commands run in them.
//!
//! Every call names its instance as `REMOTE:NAME`, so an `incus remote switch` between (or
//! during) two deskrun commands never sends one of them to another server. It knows nothing
//! about NixOS or deskrun's config; [`crate::cluster_host`] does.

use std::ffi::OsString;
use std::fmt;

use serde::Deserialize;

use crate::process::{self, Program};

/// Errors driving Incus.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Running `incus` failed (not installed, or a command failed).
    #[error(transparent)]
    Program(#[from] process::Error),
    /// The remote's server did not answer, or refused us.
    #[error(
        "the Incus remote {remote:?} is not reachable ({detail}); check it with `incus list \
         {remote}:`, or pick another one with `incus remote switch NAME` (`incus remote list` \
         shows them)"
    )]
    RemoteUnreachable {
        /// The remote.
        remote: String,
        /// The last line incus printed.
        detail: String,
    },
    /// incus printed something deskrun cannot read.
    #[error("cannot read the output of `{command}`: {detail}")]
    UnexpectedOutput {
        /// The command.
        command: String,
        /// What was wrong with it.
        detail: String,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An instance on a remote, as incus addresses it: `REMOTE:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRef {
    /// The remote.
    pub remote: String,
    /// The instance name.
    pub name: String,
}

impl InstanceRef {
    /// The instance `name` on `remote`.
    pub fn new(remote: &str, name: &str) -> Self {
        Self { remote: remote.to_owned(), name: name.to_owned() }
    }

    /// A path inside the instance, as `incus file` takes it: `REMOTE:NAME/path`.
    fn file(&self, path: &str) -> String {
        format!("{self}/{}", path.trim_start_matches('/'))
    }
}

impl fmt::Display for InstanceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.remote, self.name)
    }
}

/// An instance as `incus list --format json` describes it (the fields deskrun reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Instance {
    /// The instance name.
    pub name: String,
    /// `Running`, `Stopped`, … as incus says it.
    #[serde(default)]
    pub status: String,
    /// When it was created (RFC 3339).
    #[serde(default)]
    pub created_at: String,
}

/// What `incus launch` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec<'a> {
    /// The image, e.g. `images:nixos/25.11`.
    pub image: &'a str,
    /// Instance configuration keys, as `--config KEY=VALUE`.
    pub config: &'a [(&'a str, &'a str)],
    /// The root disk size, e.g. `200GiB`.
    pub root_size: &'a str,
}

/// The `incus` client.
#[derive(Debug, Clone)]
pub struct Incus {
    program: Program,
}

impl Default for Incus {
    fn default() -> Self {
        Self { program: Program::incus() }
    }
}

impl Incus {
    /// The remote incus uses when none is named (`incus remote switch` changes it).
    #[tracing::instrument(skip_all, err)]
    pub async fn default_remote(&self) -> Result<String> {
        let out = self.run(&["remote", "get-default"], None).await?;
        let remote = String::from_utf8_lossy(&out).trim().to_owned();
        if remote.is_empty() {
            return Err(Error::UnexpectedOutput {
                command: "incus remote get-default".to_owned(),
                detail: "it printed nothing".to_owned(),
            });
        }
        Ok(remote)
    }

    /// Every instance on `remote`; the first call to a remote, so a failure here means the
    /// remote cannot be reached.
    #[tracing::instrument(skip_all, fields(remote), err)]
    pub async fn instances(&self, remote: &str) -> Result<Vec<Instance>> {
        let target = format!("{remote}:");
        let out = match self.run(&["list", &target, "--format", "json"], None).await {
            Ok(out) => out,
            Err(process::Error::Failed { stderr, .. }) => {
                let detail = stderr.lines().last().unwrap_or_default().trim().to_owned();
                return Err(Error::RemoteUnreachable { remote: remote.to_owned(), detail });
            }
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&out).map_err(|e| Error::UnexpectedOutput {
            command: format!("incus list {target} --format json"),
            detail: e.to_string(),
        })
    }

    /// Creates and starts the instance `at` from `spec`.
    #[tracing::instrument(skip_all, fields(instance = %at), err)]
    pub async fn launch(&self, at: &InstanceRef, spec: &LaunchSpec<'_>) -> Result<()> {
        let target = at.to_string();
        let root = format!("root,size={}", spec.root_size);
        let mut args = vec!["launch", spec.image, &target];
        let config: Vec<String> = spec.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for pair in &config {
            args.extend(["--config", pair]);
        }
        args.extend(["--device", &root]);
        self.run(&args, None).await?;
        Ok(())
    }

    /// Adds a device to the instance: `incus config device add`.
    #[tracing::instrument(skip_all, fields(instance = %at, device), err)]
    pub async fn add_device(
        &self,
        at: &InstanceRef,
        device: &str,
        kind: &str,
        properties: &[(&str, &str)],
    ) -> Result<()> {
        let target = at.to_string();
        let properties: Vec<String> = properties.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec!["config", "device", "add", &target, device, kind];
        args.extend(properties.iter().map(String::as_str));
        self.run(&args, None).await?;
        Ok(())
    }

    /// Writes `contents` to `path` in the instance, owned by root with mode 0644.
    #[tracing::instrument(skip_all, fields(instance = %at, path), err)]
    pub async fn push_file(&self, at: &InstanceRef, path: &str, contents: &[u8]) -> Result<()> {
        // NB: from stdin, incus would take the pipe's owner and mode; name them.
        let args = ["file", "push", "-", &at.file(path), "--uid", "0", "--gid", "0"];
        self.run(&[&args[..], &["--mode", "0644"]].concat(), Some(contents)).await?;
        Ok(())
    }

    /// Reads the file at `path` in the instance.
    #[tracing::instrument(skip_all, fields(instance = %at, path), err)]
    pub async fn pull_file(&self, at: &InstanceRef, path: &str) -> Result<Vec<u8>> {
        Ok(self.run(&["file", "pull", &at.file(path), "-"], None).await?)
    }

    /// Runs `command` in the instance with `env` set, and returns its stdout.
    #[tracing::instrument(skip_all, fields(instance = %at), err)]
    pub async fn exec(
        &self,
        at: &InstanceRef,
        env: &[(&str, &str)],
        command: &[&str],
    ) -> Result<Vec<u8>> {
        let target = at.to_string();
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec!["exec", &target];
        for pair in &env {
            args.extend(["--env", pair]);
        }
        args.push("--");
        args.extend(command);
        Ok(self.run(&args, None).await?)
    }

    /// Stops (if running) and deletes the instance.
    #[tracing::instrument(skip_all, fields(instance = %at), err)]
    pub async fn delete(&self, at: &InstanceRef) -> Result<()> {
        self.run(&["delete", &at.to_string(), "--force"], None).await?;
        Ok(())
    }

    async fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>, process::Error> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        self.program.run(&args, stdin).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_addressed_with_their_remote() {
        let at = InstanceRef::new("lab", "deskrun-1");
        assert_eq!(at.to_string(), "lab:deskrun-1");
        assert_eq!(at.file("/etc/nixos/deskrun.nix"), "lab:deskrun-1/etc/nixos/deskrun.nix");
    }

    #[test]
    fn list_output_is_read_leniently() {
        let json = r#"[{"name": "a", "status": "Running", "created_at": "2025-01-02T03:04:05Z",
                        "type": "container", "config": {"image.os": "NixOS"}}]"#;
        let instances: Vec<Instance> = serde_json::from_str(json).unwrap();
        assert_eq!(instances[0].name, "a");
        assert_eq!(instances[0].status, "Running");
    }
}
