//! The one error type that crosses IPC: a stable `code` the UI can branch on and a message
//! for people. Engine errors are mapped here and nowhere else.

use serde::Serialize;
use specta::Type;

/// An error a command returns to the window.
#[derive(Debug, Clone, Serialize, Type, PartialEq, Eq)]
pub struct IpcError {
    /// What kind of failure, for the UI to branch on.
    pub code: ErrorCode,
    /// The error and its causes, for people; never a secret.
    pub message: String,
}

/// The failures the UI treats differently. Add a code only when the UI needs it.
#[derive(Debug, Clone, Copy, Serialize, Type, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A form field is wrong; the message names it.
    InvalidInput,
    /// The OS keyring is missing or locked.
    KeyringUnavailable,
    /// GitHub refused the credentials.
    CredentialsRejected,
    /// GitHub could not be asked (no network, DNS, a proxy), which says nothing about the
    /// credentials.
    GithubUnreachable,
    /// kind, helm or Docker is missing or not running.
    ToolMissing,
    /// The cluster must be recreated to map new host paths; start again with
    /// `recreate_cluster` to allow it.
    RecreateNeeded,
    /// Anything else.
    Internal,
}

impl IpcError {
    /// An error with `code` and the chain of `error` as its message.
    pub fn new(code: ErrorCode, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { code, message }
    }

    /// An input error with a plain message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { code: ErrorCode::InvalidInput, message: message.into() }
    }
}

impl From<deskrun::operations::Error> for IpcError {
    fn from(error: deskrun::operations::Error) -> Self {
        use deskrun::operations::Error as E;
        use deskrun::{cluster, process, secrets};
        let code = match &error {
            E::Spec(_)
            | E::AlreadyExists { .. }
            | E::NothingToReplace { .. }
            | E::NoSuchInstallation { .. }
            | E::Collision(_)
            | E::AppKey(_)
            | E::MissingSecret
            | E::MalformedToken { .. }
            | E::AppForEnterprise => ErrorCode::InvalidInput,
            E::Secrets(secrets::Error::Unavailable { .. }) => ErrorCode::KeyringUnavailable,
            E::Verify(deskrun::github::Error::Unreachable { .. }) => ErrorCode::GithubUnreachable,
            E::Verify(_) => ErrorCode::CredentialsRejected,
            E::RecreateNeeded { .. } => ErrorCode::RecreateNeeded,
            E::Cluster(cluster::Error::Program(
                process::Error::NotFound { .. }
                | process::Error::BadOverride { .. }
                | process::Error::DockerUnavailable { .. },
            )) => ErrorCode::ToolMissing,
            _ => ErrorCode::Internal,
        };
        Self::new(code, &error)
    }
}

impl From<deskrun::config::Error> for IpcError {
    fn from(error: deskrun::config::Error) -> Self {
        Self::new(ErrorCode::Internal, &error)
    }
}

impl From<deskrun::spec::Error> for IpcError {
    fn from(error: deskrun::spec::Error) -> Self {
        Self::new(ErrorCode::InvalidInput, &error)
    }
}

#[cfg(test)]
mod tests {
    use deskrun::github::GitHubApi;
    use deskrun::spec::GitHubUrl;

    use super::*;

    /// What a user saw: saving offline said "GitHub did not accept these credentials",
    /// which sends them to make a new token for nothing.
    #[tokio::test]
    async fn an_unreachable_github_is_not_rejected_credentials() {
        // NB: port 9 (discard) on loopback: nothing listens, the connection is refused.
        let api = GitHubApi::with_base("http://127.0.0.1:9");
        let url = GitHubUrl::parse("https://github.com/o/r").unwrap();
        let token = deskrun::secrets::Secret::from("ghp_x".to_owned());
        let error = api.verify_pat(&url, &token).await.unwrap_err();
        let ipc = IpcError::from(deskrun::operations::Error::Verify(error));
        assert_eq!(ipc.code, ErrorCode::GithubUnreachable, "{}", ipc.message);
    }
}
