//! Running the external programs deskrun drives (`kind`, `helm`, `incus`): finding them,
//! feeding input through stdin (never secrets in argv), capturing output, and turning failures
//! into typed errors that say what to install or start. It also knows where the Docker daemon
//! is, as the docker CLI (and so kind) finds it.
//!
//! It knows nothing about what the programs do; [`crate::cluster`], [`crate::helm`] and
//! [`crate::incus`] do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

/// Errors running an external program.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program is not installed (or not on PATH).
    #[error("`{program}` was not found on PATH; {install_hint}")]
    NotFound {
        /// The program name.
        program: String,
        /// How to install it.
        install_hint: &'static str,
    },
    /// The path an environment variable gives for the program cannot be run.
    #[error("cannot run {path} (from {env}): {reason}; fix {env} or unset it to use PATH")]
    BadOverride {
        /// The variable.
        env: &'static str,
        /// Its value.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Docker is not running or not reachable, which kind needs.
    #[error("the Docker daemon is not reachable through {tried} ({detail}); {fix}, then try again")]
    DockerUnavailable {
        /// Where kind looked for Docker: DOCKER_HOST, the docker context, or the default.
        tried: String,
        /// The line of output that told us.
        detail: String,
        /// What to do about this kind of failure.
        fix: &'static str,
    },
    /// The program ran and failed.
    #[error("`{command}` failed with {status}: {stderr}")]
    Failed {
        /// The program and its arguments (never secrets: those go through stdin or files).
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },
    /// Starting or talking to the program failed.
    #[error("cannot run {program}")]
    Io {
        /// The program.
        program: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An external program and how to tell the user to get it.
#[derive(Debug, Clone)]
pub struct Program {
    name: &'static str,
    path: PathBuf,
    /// The environment variable `path` came from, if any.
    from_env: Option<&'static str>,
    install_hint: &'static str,
    /// Variables set for the child whatever the user's environment says.
    fixed_env: &'static [(&'static str, &'static str)],
}

impl Program {
    /// `kind`, or `$DESKRUN_KIND`.
    pub fn kind() -> Self {
        Self::from_env(
            "kind",
            "DESKRUN_KIND",
            "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), \
             or set DESKRUN_KIND to its path",
        )
    }

    /// `helm`, or `$DESKRUN_HELM`.
    pub fn helm() -> Self {
        Self {
            // NB: deskrun reads Helm's records from Secrets (`helm::Helm::releases`); a user's
            // HELM_DRIVER=configmap would hide every release from it and make each `up`
            // install again.
            fixed_env: &[("HELM_DRIVER", "secret")],
            ..Self::from_env(
                "helm",
                "DESKRUN_HELM",
                "install Helm 3 (https://helm.sh/docs/intro/install/), or set DESKRUN_HELM to its \
                 path",
            )
        }
    }

    /// `incus`, or `$DESKRUN_INCUS`: the client of the Incus daemon that runs cluster hosts.
    pub fn incus() -> Self {
        Self::from_env(
            "incus",
            "DESKRUN_INCUS",
            "install the Incus client (https://linuxcontainers.org/incus/docs/main/installing/) \
             and add a remote with `incus remote add`, or set DESKRUN_INCUS to its path",
        )
    }

    fn from_env(name: &'static str, env: &'static str, install_hint: &'static str) -> Self {
        match std::env::var_os(env).filter(|p| !p.is_empty()) {
            Some(path) => {
                Self { name, path: path.into(), from_env: Some(env), install_hint, fixed_env: &[] }
            }
            None => Self {
                name,
                path: PathBuf::from(name),
                from_env: None,
                install_hint,
                fixed_env: &[],
            },
        }
    }

    /// The program's name, for messages.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Checks that the program can be found and run, without running it: for work that must
    /// not start (a cluster created, a release half done) when a later step cannot run.
    pub fn ensure_available(&self) -> Result<()> {
        match which::which(&self.path) {
            Ok(_) => Ok(()),
            Err(which::Error::CannotFindBinaryPath) if self.path.exists() => {
                Err(self.spawn_error(std::io::ErrorKind::PermissionDenied.into()))
            }
            Err(_) => Err(self.spawn_error(std::io::ErrorKind::NotFound.into())),
        }
    }

    /// Runs the program with `args`, writing `stdin` to it, and returns its stdout.
    // NB: debug: a failing child is often an answer (`kind get kubeconfig` of no cluster),
    // and its caller says what it means.
    #[tracing::instrument(skip_all, fields(program = self.name), err(level = "debug"))]
    pub async fn run(&self, args: &[OsString], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
        let command_line = self.command_line(args);
        tracing::debug!(command = %command_line, "running");
        let mut child = tokio::process::Command::new(&self.path)
            .args(args)
            .env_remove(crate::secrets::TOKEN_ENV)
            .envs(self.fixed_env.iter().copied())
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| self.spawn_error(source))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // NB: a child that exits without reading all of its input (a failing helm) closes
            // the pipe; its exit status and stderr below say why, not the broken pipe.
            match pipe.write_all(input).await {
                Err(source) if source.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(self.io_error(source));
                }
                _ => {}
            }
        }
        let output = child.wait_with_output().await.map_err(|source| self.io_error(source))?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if let Some((detail, fix)) = docker_unavailable(&stderr) {
            let tried = docker_endpoint().to_string();
            return Err(Error::DockerUnavailable { tried, detail, fix });
        }
        Err(Error::Failed { command: command_line, status: output.status, stderr })
    }

    fn command_line(&self, args: &[OsString]) -> String {
        let mut line = self.name.to_owned();
        for arg in args {
            line.push(' ');
            line.push_str(&arg.to_string_lossy());
        }
        line
    }

    fn spawn_error(&self, source: std::io::Error) -> Error {
        if let Some(env) = self.from_env {
            let reason = match source.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_owned(),
                std::io::ErrorKind::PermissionDenied => "not an executable file".to_owned(),
                _ => source.to_string(),
            };
            return Error::BadOverride { env, path: self.path.display().to_string(), reason };
        }
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound {
                program: self.path.display().to_string(),
                install_hint: self.install_hint,
            }
        } else {
            self.io_error(source)
        }
    }

    fn io_error(&self, source: std::io::Error) -> Error {
        Error::Io { program: self.path.display().to_string(), source }
    }
}

/// The socket the docker CLI uses when nothing else is configured.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Where the Docker daemon is, as the docker CLI (and so kind) finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerEndpoint {
    /// The daemon's address (`unix:///…`, `tcp://…`, `ssh://…`), or `None` when a docker
    /// context is named but its metadata cannot be read.
    pub host: Option<String>,
    /// Whether the connection uses TLS (`DOCKER_TLS_VERIFY`, or TLS material in the context).
    pub tls: bool,
    /// Where the address came from, for messages.
    pub source: DockerSource,
}

/// How [`DockerEndpoint`] was decided, in the docker CLI's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerSource {
    /// The `DOCKER_HOST` variable.
    HostVariable,
    /// A context named by `DOCKER_CONTEXT`.
    ContextVariable(String),
    /// The current context in the docker CLI's `config.json`.
    CurrentContext(String),
    /// Nothing configured: the default socket.
    Default,
}

impl std::fmt::Display for DockerEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = self.host.as_deref().unwrap_or("?");
        match &self.source {
            DockerSource::HostVariable => write!(f, "DOCKER_HOST={host}"),
            DockerSource::ContextVariable(context) => {
                write!(f, "docker context {context:?} (from DOCKER_CONTEXT)")
            }
            DockerSource::CurrentContext(context) => {
                write!(f, "docker context {context:?} (the current one)")
            }
            DockerSource::Default => write!(f, "the default socket {host}"),
        }
    }
}

/// Where the docker CLI (and so kind) looks for the daemon, in the order it decides:
/// `DOCKER_HOST`, then `DOCKER_CONTEXT`, then the current context in
/// `~/.docker/config.json` (or `$DOCKER_CONFIG`), then the default socket.
pub fn docker_endpoint() -> DockerEndpoint {
    let tls_variable = std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
    if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        return DockerEndpoint {
            host: Some(host),
            tls: tls_variable,
            source: DockerSource::HostVariable,
        };
    }
    let config_dir = std::env::var_os("DOCKER_CONFIG")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|dirs| dirs.home_dir().join(".docker")));
    let named = std::env::var("DOCKER_CONTEXT").ok().filter(|c| !c.is_empty());
    let (context, source) = match named {
        Some(context) => (Some(context.clone()), DockerSource::ContextVariable(context)),
        None => {
            let current = config_dir
                .as_ref()
                .and_then(|dir| std::fs::read_to_string(dir.join("config.json")).ok())
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|config| config.get("currentContext")?.as_str().map(str::to_owned))
                .filter(|context| !context.is_empty());
            match current {
                Some(context) => (Some(context.clone()), DockerSource::CurrentContext(context)),
                None => (None, DockerSource::Default),
            }
        }
    };
    // NB: "default" is the docker CLI's name for "no context": DOCKER_HOST or the socket.
    match (context, config_dir) {
        (Some(context), Some(dir)) if context != "default" => {
            let (host, tls) = context_endpoint(&dir, &context);
            DockerEndpoint { host, tls: tls || tls_variable, source }
        }
        _ => DockerEndpoint {
            host: Some(DEFAULT_DOCKER_HOST.to_owned()),
            tls: false,
            source: DockerSource::Default,
        },
    }
}

/// Reads a docker context's endpoint from the docker CLI's context store, where each context
/// lives in a directory named by the SHA-256 of its name.
fn context_endpoint(config_dir: &Path, context: &str) -> (Option<String>, bool) {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(context.as_bytes());
    let id: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let meta = config_dir.join("contexts").join("meta").join(&id).join("meta.json");
    let host = std::fs::read_to_string(meta)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|meta| meta.pointer("/Endpoints/docker/Host")?.as_str().map(str::to_owned));
    let tls = config_dir.join("contexts").join("tls").join(&id).join("docker").is_dir();
    (host, tls)
}

/// Recognises kind's ways of saying that Docker is missing or stopped.
fn docker_unavailable(stderr: &str) -> Option<(String, &'static str)> {
    const START: &str = "start Docker (or Docker Desktop), or point DOCKER_HOST (or `docker \
                         context use`) at the running one";
    const NO_CONTEXT: &str = "the docker context does not exist: list them with `docker context \
                              ls` and pick one with `docker context use NAME` (or unset \
                              DOCKER_CONTEXT)";
    const SIGNS: [(&str, &str); 7] = [
        (
            "permission denied while trying to connect to the Docker daemon",
            "Docker runs, but this user may not use it: add it to the docker group (`sudo \
             usermod -aG docker $USER`) and log in again, or use rootless Docker",
        ),
        ("context not found", NO_CONTEXT),
        ("is not found on the file system", NO_CONTEXT),
        ("Cannot connect to the Docker daemon", START),
        (
            "\"docker\": executable file not found",
            "install Docker (https://docs.docker.com/get-docker/)",
        ),
        ("failed to connect to the docker API", START),
        ("error during connect", START),
    ];
    stderr.lines().find_map(|line| {
        let (_, fix) = SIGNS.iter().find(|(sign, _)| line.contains(sign))?;
        Some((line.trim().to_owned(), *fix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_program_says_how_to_install_it() {
        let program = Program {
            name: "kind",
            path: PathBuf::from("/nonexistent/kind"),
            from_env: None,
            install_hint: "install kind",
            fixed_env: &[],
        };
        let err = program.run(&[], None).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("install kind"), "{err}");
    }

    #[test]
    fn availability_is_checked_without_running_the_program() {
        let missing = Program {
            name: "helm",
            path: PathBuf::from("deskrun-no-such-helm"),
            from_env: None,
            install_hint: "install Helm 3",
            fixed_env: &[],
        };
        let err = missing.ensure_available().unwrap_err();
        assert!(err.to_string().contains("install Helm 3"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let not_executable = dir.path().join("helm");
        std::fs::write(&not_executable, "").unwrap();
        let overridden =
            Program { path: not_executable, from_env: Some("DESKRUN_HELM"), ..missing.clone() };
        let err = overridden.ensure_available().unwrap_err().to_string();
        assert!(err.contains("DESKRUN_HELM") && err.contains("not an executable"), "{err}");
        let sh = Program { path: PathBuf::from("sh"), ..missing };
        assert!(sh.ensure_available().is_ok());
    }

    /// A helm that failed before reading its values was reported as a broken pipe, which the
    /// CLI then took for `deskrun list | head` and exited 0.
    #[tokio::test]
    async fn a_child_that_exits_before_reading_its_input_fails_with_its_own_words() {
        let program = Program {
            name: "sh",
            path: PathBuf::from("sh"),
            from_env: None,
            install_hint: "",
            fixed_env: &[],
        };
        let args = ["-c", "echo 'Error: boom' >&2; exit 1"].map(OsString::from);
        let input = vec![b'x'; 1 << 20];
        let err = program.run(&args, Some(&input)).await.unwrap_err();
        assert!(matches!(err, Error::Failed { .. }), "{err:?}");
        assert!(err.to_string().contains("Error: boom"), "{err}");
    }

    #[tokio::test]
    async fn a_bad_override_names_the_variable() {
        let program = Program {
            name: "kind",
            path: PathBuf::from("/tmp"),
            from_env: Some("DESKRUN_KIND"),
            install_hint: "install kind",
            fixed_env: &[],
        };
        let err = program.run(&[], None).await.unwrap_err().to_string();
        assert!(err.contains("DESKRUN_KIND") && err.contains("/tmp"), "{err}");
    }

    #[test]
    fn a_docker_context_is_found_by_the_hash_of_its_name() {
        let dir = tempfile::tempdir().unwrap();
        // The docker CLI's directory for a context named "lab": the SHA-256 of the name.
        let id = "a51146d38077ff992eba84cf1d5e9b249073503eb74868699016153b031a38f7";
        let meta = dir.path().join("contexts/meta").join(id);
        std::fs::create_dir_all(&meta).unwrap();
        let json = r#"{"Name":"lab","Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376"}}}"#;
        std::fs::write(meta.join("meta.json"), json).unwrap();
        assert_eq!(
            context_endpoint(dir.path(), "lab"),
            (Some("tcp://10.0.0.5:2376".into()), false)
        );
        std::fs::create_dir_all(dir.path().join("contexts/tls").join(id).join("docker")).unwrap();
        assert!(context_endpoint(dir.path(), "lab").1, "TLS material means TLS");
        assert_eq!(context_endpoint(dir.path(), "other"), (None, false));
    }

    #[test]
    fn docker_down_is_recognised_in_kind_output() {
        let stderr = "ERROR: failed to list clusters: command \"docker ps\" failed\n\
                      Cannot connect to the Docker daemon at unix:///var/run/docker.sock.";
        assert!(docker_unavailable(stderr).is_some_and(|(_, fix)| fix.contains("start Docker")));
        assert!(docker_unavailable("some other failure").is_none());
        let denied = "ERROR: failed to list clusters: command \"docker ps\" failed\npermission \
                      denied while trying to connect to the Docker daemon socket at \
                      unix:///var/run/docker.sock: dial unix /var/run/docker.sock: connect: \
                      permission denied";
        let (_, fix) = docker_unavailable(denied).expect("permission denied is recognised");
        assert!(fix.contains("usermod -aG docker"), "{fix}");
        let no_context = "context \"lab\": context not found: open /root/.docker/contexts/meta/x";
        let (_, fix) = docker_unavailable(no_context).expect("a missing context is recognised");
        assert!(fix.contains("docker context ls"), "{fix}");
    }
}
