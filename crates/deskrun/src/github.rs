//! GitHub's REST API, for the checks deskrun makes before it saves credentials: can this token
//! (or GitHub App) register runners for this URL, and which installation of the App serves
//! it. The registration and installation tokens these checks obtain are short-lived and
//! dropped unread. It also reads workflow jobs, whose conclusion is the result of a job a
//! runner ran (see [`crate::activity`]), which nothing in the cluster records.
//!
//! It does not store credentials (see [`crate::secrets`]) nor parse App keys (see
//! [`crate::app_key`]); the runners themselves talk to GitHub through ARC, not through here.
//! No error, log line or `Debug` output here carries a token, JWT or key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};

use crate::app_key;
use crate::secrets::Secret;
use crate::spec::{GitHubScope, GitHubUrl};

/// The environment variable that replaces the API base derived from the URL: for tests, and
/// for Enterprise Servers reached through a proxy.
pub const API_URL_ENV: &str = "DESKRUN_GITHUB_API_URL";

/// The REST API version deskrun is written against.
const API_VERSION: &str = "2022-11-28";

/// How long one request may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(10);

const USER_AGENT: &str = concat!("deskrun/", env!("CARGO_PKG_VERSION"));

/// Errors checking credentials with GitHub. Each says what to fix; none quotes a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API base is not an http(s) URL.
    #[error("the GitHub API address is not an http(s) URL; check {API_URL_ENV}")]
    InvalidBase,
    /// No answer from GitHub: DNS, connection, TLS or timeout.
    #[error("cannot reach GitHub at {base}: {reason}; check the network or use --no-verify")]
    Unreachable {
        /// The API base.
        base: String,
        /// What went wrong, in words.
        reason: &'static str,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The credential cannot be put in an HTTP header.
    #[error(
        "the token cannot be sent to GitHub: it has characters no token has (a line break or \
         a space inside it?); copy it again"
    )]
    MalformedCredential {
        /// The HTTP client's error, which does not quote the header.
        #[source]
        source: reqwest::Error,
    },
    /// GitHub rejected the token (HTTP 401).
    #[error(
        "GitHub rejected the token (HTTP 401): it is wrong, expired or revoked; create a new \
         one"
    )]
    BadToken,
    /// GitHub rejected the App's JWT (HTTP 401).
    #[error(
        "GitHub rejected the App's JWT (HTTP 401): check --app-id {app_id:?} and that the \
         private key belongs to this App (and that this computer's clock is right)"
    )]
    BadAppJwt {
        /// The App ID or client ID the JWT was issued for.
        app_id: String,
    },
    /// The credential lacks the permission to register runners (HTTP 403).
    #[error("the {credential} cannot register runners for {target} (HTTP 403: {message}): {needs}")]
    MissingPermission {
        /// "token" or "GitHub App".
        credential: &'static str,
        /// What the runners are for ("repository acme/app").
        target: String,
        /// The permission or scope to grant.
        needs: &'static str,
        /// GitHub's own words, which tell the rarer causes apart (SAML SSO not authorised
        /// for the token, a policy forbidding repository runners).
        message: String,
    },
    /// GitHub's rate limit is used up (HTTP 403 or 429).
    #[error(
        "GitHub's API rate limit is exhausted; try again {}, or use --no-verify",
        retry_when(*.reset_at)
    )]
    RateLimited {
        /// When the limit resets, in seconds since the Unix epoch, if GitHub said.
        reset_at: Option<u64>,
    },
    /// The repository, organization or enterprise is not visible to the token (HTTP 404).
    #[error(
        "not found: the {target} does not exist or this token cannot see it (a fine-grained \
         token must include it in its resource access)"
    )]
    NotFound {
        /// What was looked for ("repository acme/app").
        target: String,
    },
    /// The App has no installation covering the URL (HTTP 404).
    #[error(
        "the App is not installed on {target}: install it from the App's settings page \
         (Install App), and give it access to {target}"
    )]
    AppNotInstalled {
        /// `OWNER/REPO`, `ORG` or `enterprise ENT`.
        target: String,
    },
    /// The installation ID does not belong to this App (HTTP 404).
    #[error(
        "the App has no installation {installation_id}: check --installation-id (the number at \
         the end of the installation's URL, …/settings/installations/<id>)"
    )]
    InstallationNotFound {
        /// The installation ID given.
        installation_id: u64,
    },
    /// GitHub could not say which installation of the App serves an enterprise.
    #[error(
        "cannot look up the App's installation on enterprise {enterprise}: pass \
         --installation-id (the number at the end of the installation's URL, \
         …/settings/installations/<id>)"
    )]
    EnterpriseInstallationUnknown {
        /// The enterprise slug.
        enterprise: String,
    },
    /// The App's private key is not usable.
    #[error(transparent)]
    PrivateKey(#[from] app_key::Error),
    /// The JWT could not be signed.
    #[error("cannot sign the App's JWT with its private key")]
    Jwt {
        /// The signing library's error, which never quotes the key.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// The repository name is not `OWNER/REPO`.
    #[error("{value:?} is not a repository name of the form OWNER/REPO")]
    InvalidRepository {
        /// The name as given.
        value: String,
    },
    /// Any other refusal, with GitHub's own words.
    #[error("GitHub answered HTTP {status} to {action}: {message}")]
    UnexpectedStatus {
        /// The HTTP status code.
        status: u16,
        /// The request, in words.
        action: &'static str,
        /// The `message` field of GitHub's answer, shortened, with any credential masked.
        message: String,
    },
    /// GitHub's answer was not the JSON expected.
    #[error("GitHub's answer to {action} could not be read")]
    BadResponse {
        /// The request, in words.
        action: &'static str,
        /// The HTTP client's decoding error.
        #[source]
        source: reqwest::Error,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A client of one GitHub REST API (github.com, a GHE.com subdomain or an Enterprise Server).
#[derive(Debug, Clone)]
pub struct GitHubApi {
    base: String,
    client: reqwest::Client,
}

/// Which credential a request carries, which decides what GitHub's refusals mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A personal access token.
    Token,
    /// An App installation's token.
    App,
}

/// What a request was for.
#[derive(Debug, Clone, Copy)]
enum Purpose<'a> {
    /// A runner registration token for the scope.
    RegistrationToken { scope: &'a GitHubScope, credential: Credential },
    /// The App's installation on the scope's account, asked with the App's JWT.
    Installation { scope: &'a GitHubScope, app_id: &'a str },
    /// An installation token, asked with the App's JWT.
    InstallationToken { app_id: &'a str, installation_id: u64 },
    /// A workflow job, or the jobs of a workflow run (`what`), in a repository.
    WorkflowJobs { repository: &'a str, what: &'a str, credential: Credential },
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[derive(Deserialize)]
struct InstallationToken {
    token: Secret,
}

/// A workflow job as GitHub's REST API describes it, reduced to what deskrun reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkflowJob {
    /// The job's ID, the one in `/actions/jobs/{id}`.
    pub id: u64,
    /// The job's name as the workflow run shows it.
    #[serde(default)]
    pub name: String,
    /// `queued`, `in_progress`, `completed`, ….
    #[serde(default)]
    pub status: String,
    /// Once completed: `success`, `failure`, `cancelled`, `skipped`, `timed_out`, ….
    #[serde(default)]
    pub conclusion: Option<String>,
    /// The runner that ran it, which for ARC is the EphemeralRunner's name.
    #[serde(default)]
    pub runner_name: Option<String>,
    /// When it started, by GitHub's clock.
    #[serde(default)]
    pub started_at: Option<jiff::Timestamp>,
    /// When it completed, by GitHub's clock.
    #[serde(default)]
    pub completed_at: Option<jiff::Timestamp>,
}

#[derive(Deserialize)]
struct WorkflowJobs {
    jobs: Vec<WorkflowJob>,
}

/// The claims GitHub reads from an App's JWT.
#[derive(Serialize)]
struct AppClaims<'a> {
    iat: u64,
    exp: u64,
    iss: &'a str,
}

impl GitHubApi {
    /// The API of `url`'s host, or the one named by [`API_URL_ENV`] when it is set.
    pub fn for_url(url: &GitHubUrl) -> Self {
        Self::for_url_or(url, std::env::var(API_URL_ENV).ok())
    }

    fn for_url_or(url: &GitHubUrl, overridden: Option<String>) -> Self {
        match overridden.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(base) => Self::with_base(base),
            None => Self::with_base(&url.api_base()),
        }
    }

    /// The API at `base`, e.g. `https://api.github.com` or `https://HOST/api/v3`. A base that
    /// is not a URL is reported by the first request, as [`Error::InvalidBase`].
    pub fn with_base(base: &str) -> Self {
        let base = match url::Url::parse(base.trim()) {
            Ok(mut url) => {
                // NB: requests authenticate with a bearer header; credentials written into the
                // base would only end up in error messages.
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.as_str().trim_end_matches('/').to_owned()
            }
            Err(_) => base.to_owned(),
        };
        Self { base, client: http_client() }
    }

    /// The API base requests go to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Checks that `token` can register runners for `url`, by asking for a registration
    /// token (which is discarded).
    #[tracing::instrument(skip_all, fields(url = %url, api = %self.base), err)]
    pub async fn verify_pat(&self, url: &GitHubUrl, token: &Secret) -> Result<()> {
        self.registration_token(url.scope(), token, Credential::Token).await
    }

    /// Finds the ID of the App's installation that covers `url`, signing in as the App with
    /// its private key `key` (PEM).
    #[tracing::instrument(skip_all, fields(url = %url, api = %self.base, app_id = %app_id), err)]
    pub async fn find_installation(
        &self,
        url: &GitHubUrl,
        app_id: &str,
        key: &Secret,
    ) -> Result<u64> {
        let jwt = app_jwt(app_id, key)?;
        let scope = url.scope();
        let mut path = scope_path(scope);
        path.push("installation");
        let purpose = Purpose::Installation { scope, app_id };
        let response = self.send(Method::GET, &path, &jwt, purpose, StatusCode::OK).await?;
        let installation: Installation = response
            .json()
            .await
            .map_err(|source| Error::BadResponse { action: purpose.action(), source })?;
        Ok(installation.id)
    }

    /// Checks that the App's installation `installation_id` can register runners for `url`:
    /// signs in as the App, gets an installation token, and asks for a registration token
    /// with it (both tokens are discarded).
    #[tracing::instrument(
        skip_all,
        fields(url = %url, api = %self.base, app_id = %app_id, installation_id = installation_id),
        err
    )]
    pub async fn verify_app(
        &self,
        url: &GitHubUrl,
        app_id: &str,
        installation_id: u64,
        key: &Secret,
    ) -> Result<()> {
        let token = self.installation_token(app_id, installation_id, key).await?;
        self.registration_token(url.scope(), &token, Credential::App).await
    }

    /// Signs in as the App with its private key `key` (PEM) and returns a token of its
    /// installation `installation_id`, which GitHub lets live for an hour.
    #[tracing::instrument(
        skip_all,
        fields(api = %self.base, app_id = %app_id, installation_id = installation_id),
        err
    )]
    pub async fn installation_token(
        &self,
        app_id: &str,
        installation_id: u64,
        key: &Secret,
    ) -> Result<Secret> {
        let jwt = app_jwt(app_id, key)?;
        let id = installation_id.to_string();
        let path = ["app", "installations", &id, "access_tokens"];
        let purpose = Purpose::InstallationToken { app_id, installation_id };
        let response = self.send(Method::POST, &path, &jwt, purpose, StatusCode::CREATED).await?;
        let token: InstallationToken = response
            .json()
            .await
            .map_err(|source| Error::BadResponse { action: purpose.action(), source })?;
        Ok(token.token)
    }

    /// The workflow job `job_id` of `repository` (`OWNER/REPO`), read with `bearer`, a
    /// `credential` of that kind.
    #[tracing::instrument(skip_all, fields(api = %self.base, repository, job_id), err)]
    pub async fn workflow_job(
        &self,
        repository: &str,
        job_id: u64,
        bearer: &Secret,
        credential: Credential,
    ) -> Result<WorkflowJob> {
        let (owner, repo) = split_repository(repository)?;
        let id = job_id.to_string();
        let path = ["repos", owner, repo, "actions", "jobs", &id];
        let what = format!("workflow job {job_id}");
        let purpose = Purpose::WorkflowJobs { repository, what: &what, credential };
        let response = self.send(Method::GET, &path, bearer, purpose, StatusCode::OK).await?;
        response
            .json()
            .await
            .map_err(|source| Error::BadResponse { action: purpose.action(), source })
    }

    /// The jobs of the latest attempt of workflow run `run_id` in `repository` (`OWNER/REPO`),
    /// at most 100, read like [`GitHubApi::workflow_job`].
    #[tracing::instrument(skip_all, fields(api = %self.base, repository, run_id), err)]
    pub async fn run_jobs(
        &self,
        repository: &str,
        run_id: u64,
        bearer: &Secret,
        credential: Credential,
    ) -> Result<Vec<WorkflowJob>> {
        let (owner, repo) = split_repository(repository)?;
        let id = run_id.to_string();
        let path = ["repos", owner, repo, "actions", "runs", &id, "jobs"];
        let what = format!("workflow run {run_id}");
        let purpose = Purpose::WorkflowJobs { repository, what: &what, credential };
        let mut url = self.endpoint(&path)?;
        url.query_pairs_mut().append_pair("filter", "latest").append_pair("per_page", "100");
        let response = self.send_to(Method::GET, url, bearer, purpose, StatusCode::OK).await?;
        let jobs: WorkflowJobs = response
            .json()
            .await
            .map_err(|source| Error::BadResponse { action: purpose.action(), source })?;
        Ok(jobs.jobs)
    }

    async fn registration_token(
        &self,
        scope: &GitHubScope,
        bearer: &Secret,
        credential: Credential,
    ) -> Result<()> {
        let mut path = scope_path(scope);
        path.extend(["actions", "runners", "registration-token"]);
        let purpose = Purpose::RegistrationToken { scope, credential };
        // NB: the answer holds a registration token, a credential of its own: drop it unread.
        self.send(Method::POST, &path, bearer, purpose, StatusCode::CREATED).await.map(drop)
    }

    /// Sends one request and returns the answer if it has the `expected` status; any other
    /// answer becomes the error that explains it.
    async fn send(
        &self,
        method: Method,
        path: &[&str],
        bearer: &Secret,
        purpose: Purpose<'_>,
        expected: StatusCode,
    ) -> Result<reqwest::Response> {
        let url = self.endpoint(path)?;
        self.send_to(method, url, bearer, purpose, expected).await
    }

    /// [`Self::send`] to a URL with a query.
    async fn send_to(
        &self,
        method: Method,
        url: url::Url,
        bearer: &Secret,
        purpose: Purpose<'_>,
        expected: StatusCode,
    ) -> Result<reqwest::Response> {
        let response = self
            .client
            .request(method, url)
            // NB: bearer_auth marks the header sensitive, so no Debug or log shows it.
            .bearer_auth(bearer.expose_secret())
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .timeout(TIMEOUT)
            .send()
            .await
            .map_err(|source| self.unreachable(source))?;
        if response.status() == expected {
            return Ok(response);
        }
        Err(refusal(response, purpose, bearer).await)
    }

    fn endpoint(&self, path: &[&str]) -> Result<url::Url> {
        let mut url = url::Url::parse(&self.base).map_err(|_| Error::InvalidBase)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::InvalidBase);
        }
        url.path_segments_mut().map_err(|()| Error::InvalidBase)?.pop_if_empty().extend(path);
        Ok(url)
    }

    fn unreachable(&self, source: reqwest::Error) -> Error {
        if source.is_builder() {
            return Error::MalformedCredential { source };
        }
        let reason = if source.is_timeout() {
            "no answer within 10 seconds"
        } else if source.is_connect() {
            "the connection failed (DNS, refused or TLS)"
        } else {
            "the request failed"
        };
        Error::Unreachable { base: self.base.clone(), reason, source }
    }
}

impl Purpose<'_> {
    fn action(self) -> &'static str {
        match self {
            Self::RegistrationToken { .. } => "the runner registration-token request",
            Self::Installation { .. } => "the App installation lookup",
            Self::InstallationToken { .. } => "the installation-token request",
            Self::WorkflowJobs { .. } => "the workflow job lookup",
        }
    }

    /// What GitHub's refusal with `status` means for this request.
    fn explain(self, status: StatusCode, message: String) -> Error {
        use Credential::{App, Token};
        match (self, status) {
            (Self::RegistrationToken { credential: Token, .. }, StatusCode::UNAUTHORIZED) => {
                Error::BadToken
            }
            (Self::RegistrationToken { scope, credential }, StatusCode::FORBIDDEN) => {
                Error::MissingPermission {
                    credential: match credential {
                        Token => "token",
                        App => "GitHub App",
                    },
                    target: target(scope),
                    needs: needed_permission(scope, credential),
                    message,
                }
            }
            (Self::RegistrationToken { scope, credential: Token }, StatusCode::NOT_FOUND) => {
                Error::NotFound { target: target(scope) }
            }
            (Self::RegistrationToken { scope, credential: App }, StatusCode::NOT_FOUND) => {
                Error::AppNotInstalled { target: account(scope) }
            }
            (
                Self::Installation { app_id, .. } | Self::InstallationToken { app_id, .. },
                StatusCode::UNAUTHORIZED,
            ) => Error::BadAppJwt { app_id: app_id.to_owned() },
            // NB: a 404 here is either no installation or an Enterprise Server without this
            // endpoint (it is new in 2026); either way the ID must come from the user.
            (
                Self::Installation { scope: GitHubScope::Enterprise { enterprise }, .. },
                StatusCode::NOT_FOUND,
            ) => Error::EnterpriseInstallationUnknown { enterprise: enterprise.clone() },
            (Self::Installation { scope, .. }, StatusCode::NOT_FOUND) => {
                Error::AppNotInstalled { target: account(scope) }
            }
            (Self::InstallationToken { installation_id, .. }, StatusCode::NOT_FOUND) => {
                Error::InstallationNotFound { installation_id }
            }
            (Self::WorkflowJobs { credential: Token, .. }, StatusCode::UNAUTHORIZED) => {
                Error::BadToken
            }
            (Self::WorkflowJobs { repository, what, .. }, StatusCode::NOT_FOUND) => {
                Error::NotFound { target: format!("{what} in repository {repository}") }
            }
            (purpose, status) => Error::UnexpectedStatus {
                status: status.as_u16(),
                action: purpose.action(),
                message,
            },
        }
    }
}

/// `OWNER/REPO` as its two path segments.
fn split_repository(repository: &str) -> Result<(&str, &str)> {
    match repository.split_once('/') {
        Some((owner, repo)) if !owner.is_empty() && !repo.is_empty() && !repo.contains('/') => {
            Ok((owner, repo))
        }
        _ => Err(Error::InvalidRepository { value: repository.to_owned() }),
    }
}

/// The API path of the scope's account: `repos/OWNER/REPO`, `orgs/ORG` or
/// `enterprises/ENT`.
fn scope_path(scope: &GitHubScope) -> Vec<&str> {
    match scope {
        GitHubScope::Repository { owner, repo } => vec!["repos", owner, repo],
        GitHubScope::Organization { org } => vec!["orgs", org],
        GitHubScope::Enterprise { enterprise } => vec!["enterprises", enterprise],
    }
}

/// The permission runner registration needs, as ARC's documentation names it.
fn needed_permission(scope: &GitHubScope, credential: Credential) -> &'static str {
    match (scope, credential) {
        (GitHubScope::Repository { .. }, Credential::Token) => {
            "a fine-grained token needs the repository permission \"Administration: read and \
             write\" (a classic token needs the repo scope)"
        }
        (GitHubScope::Organization { .. }, Credential::Token) => {
            "a fine-grained token needs the organization permission \"Self-hosted runners: read \
             and write\" (a classic token needs the admin:org scope)"
        }
        (GitHubScope::Enterprise { .. }, _) => {
            "enterprise runners need a classic token with the manage_runners:enterprise scope"
        }
        (GitHubScope::Repository { .. }, Credential::App) => {
            "give the App the repository permission \"Administration: read and write\" on its \
             settings page, then accept the new permission on the installation"
        }
        (GitHubScope::Organization { .. }, Credential::App) => {
            "give the App the organization permission \"Self-hosted runners: read and write\" \
             on its settings page, then accept the new permission on the installation"
        }
    }
}

/// "repository OWNER/REPO", "organization ORG" or "enterprise ENT".
fn target(scope: &GitHubScope) -> String {
    match scope {
        GitHubScope::Repository { owner, repo } => format!("repository {owner}/{repo}"),
        GitHubScope::Organization { org } => format!("organization {org}"),
        GitHubScope::Enterprise { enterprise } => format!("enterprise {enterprise}"),
    }
}

/// "OWNER/REPO", "ORG" or "enterprise ENT": where an App is installed.
fn account(scope: &GitHubScope) -> String {
    match scope {
        GitHubScope::Repository { owner, repo } => format!("{owner}/{repo}"),
        GitHubScope::Organization { org } => org.clone(),
        GitHubScope::Enterprise { enterprise } => format!("enterprise {enterprise}"),
    }
}

/// Turns a refused request into its error.
async fn refusal(response: reqwest::Response, purpose: Purpose<'_>, bearer: &Secret) -> Error {
    let status = response.status();
    if is_rate_limited(status, response.headers()) {
        return Error::RateLimited { reset_at: reset_at(response.headers()) };
    }
    let body = response.text().await.unwrap_or_default();
    purpose.explain(status, github_message(&body, status, bearer))
}

/// GitHub signals an exhausted limit with 429, or with 403 and these headers (primary limit:
/// `x-ratelimit-remaining: 0`; secondary limit: `retry-after`).
fn is_rate_limited(status: StatusCode, headers: &HeaderMap) -> bool {
    let remaining_zero = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (remaining_zero || headers.contains_key(header::RETRY_AFTER)))
}

/// When the limit resets: `x-ratelimit-reset` (epoch seconds), else now plus `retry-after`.
fn reset_at(headers: &HeaderMap) -> Option<u64> {
    let number = |name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok())
    };
    number("x-ratelimit-reset").or_else(|| number("retry-after").map(|secs| now() + secs))
}

/// "after HH:MM (UTC)", rounded up to the minute, or "in a few minutes".
fn retry_when(reset_at: Option<u64>) -> String {
    match reset_at {
        Some(at) => {
            let minutes = at.div_ceil(60);
            format!("after {:02}:{:02} (UTC)", minutes / 60 % 24, minutes % 60)
        }
        None => "in a few minutes".to_owned(),
    }
}

/// GitHub's `message`, one line of at most 200 characters, with the credential masked in
/// case a proxy echoes the request.
fn github_message(body: &str, status: StatusCode, bearer: &Secret) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
    let secret = bearer.expose_secret();
    let masked = if secret.is_empty() { message } else { message.replace(secret, "***") };
    masked.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect()
}

/// A JWT that signs in as the App for nine minutes (GitHub allows at most ten).
fn app_jwt(app_id: &str, key: &Secret) -> Result<Secret> {
    let der = app_key::pkcs1_der(key)?;
    let now = now();
    // Issued a minute back, so that a clock slightly ahead of GitHub's is not refused.
    let claims = AppClaims { iat: now.saturating_sub(60), exp: now + 9 * 60, iss: app_id };
    let header = Header::new(Algorithm::RS256);
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(&der))
        .map(Secret::from)
        .map_err(|source| Error::Jwt { source })
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn http_client() -> reqwest::Client {
    let builder = || reqwest::Client::builder().user_agent(USER_AGENT).connect_timeout(TIMEOUT);
    builder()
        .build()
        .or_else(|error| {
            // A system store with only unreadable certificates fails the build; GitHub's
            // public certificates are still trusted through the bundled roots.
            tracing::warn!(%error, "ignoring the system's certificate store");
            builder().tls_built_in_native_certs(false).build()
        })
        .expect("a rustls client with bundled roots needs nothing from the system")
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use jsonwebtoken::{DecodingKey, Validation};
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    use serde_json::json;
    use wiremock::matchers::{header, header_regex, method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    use super::*;
    use crate::app_key::test_keys;

    const TOKEN: &str = "ghp_TEST0nly0token0never0shown";
    const INSTALL_TOKEN: &str = "ghs_TEST0nly0installation0token";
    const APP_ID: &str = "12345";

    /// One App key for the whole module: generating RSA keys is the slow part of these tests.
    fn app_key() -> &'static (Secret, String) {
        static KEY: OnceLock<(Secret, String)> = OnceLock::new();
        KEY.get_or_init(|| {
            let private = test_keys::rsa_pkcs1();
            let public = test_keys::public_key_of(&private);
            (Secret::from(private), public)
        })
    }

    fn url(input: &str) -> GitHubUrl {
        GitHubUrl::parse(input).unwrap()
    }

    fn token() -> Secret {
        Secret::from(TOKEN.to_owned())
    }

    /// Checks the JWT in `request`: RS256, signed by the test App's key (verified with the
    /// public half OpenSSL derived), issued by `APP_ID`, living under GitHub's ten minutes.
    fn signed_by_app(request: &Request) -> bool {
        let Some(jwt) = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let public = rsa::PublicKey::from_public_key_pem(&app_key().1).unwrap();
        let der = public.to_pkcs1_der().unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iat", "iss"]);
        validation.set_issuer(&[APP_ID]);
        let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(
            jwt,
            &DecodingKey::from_rsa_der(der.as_bytes()),
            &validation,
        ) else {
            return false;
        };
        let (iat, exp) = (data.claims["iat"].as_u64(), data.claims["exp"].as_u64());
        data.header.alg == Algorithm::RS256
            && matches!((iat, exp), (Some(iat), Some(exp)) if iat < now() && exp - iat <= 600)
    }

    /// The error's Display chain and Debug, where no credential may appear.
    fn assert_secret_free(error: &Error) {
        let mut text = format!("{error} {error:?}");
        let mut source = std::error::Error::source(error);
        while let Some(e) = source {
            text.push_str(&e.to_string());
            source = e.source();
        }
        let key = app_key().0.expose_secret();
        let key_line = key.lines().nth(1).unwrap();
        for secret in [TOKEN, INSTALL_TOKEN, key_line] {
            assert!(!text.contains(secret), "errors must never carry a credential: {text}");
        }
    }

    async fn refuse(server: &MockServer, verb: &str, at: &str, response: ResponseTemplate) {
        Mock::given(method(verb))
            .and(path(at))
            .respond_with(response)
            .expect(1)
            .mount(server)
            .await;
    }

    #[test]
    fn the_api_base_comes_from_the_url_unless_overridden() {
        let github = url("https://github.com/acme/app");
        assert_eq!(GitHubApi::for_url_or(&github, None).base(), "https://api.github.com");
        let ghes = url("https://git.corp/acme");
        assert_eq!(GitHubApi::for_url_or(&ghes, None).base(), "https://git.corp/api/v3");
        let overridden = GitHubApi::for_url_or(&ghes, Some("http://127.0.0.1:9/api/v3/".into()));
        assert_eq!(overridden.base(), "http://127.0.0.1:9/api/v3");
        let blank = GitHubApi::for_url_or(&github, Some(" ".into()));
        assert_eq!(blank.base(), "https://api.github.com", "an empty override is no override");
    }

    #[tokio::test]
    async fn a_pat_is_checked_at_the_registration_endpoint_of_each_scope() {
        let server = MockServer::start().await;
        let cases = [
            ("https://github.com/acme/app", "/repos/acme/app/actions/runners/registration-token"),
            ("https://github.com/acme", "/orgs/acme/actions/runners/registration-token"),
            (
                "https://github.com/enterprises/big",
                "/enterprises/big/actions/runners/registration-token",
            ),
        ];
        for (_, at) in cases {
            Mock::given(method("POST"))
                .and(path(at))
                .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
                .and(header("accept", "application/vnd.github+json"))
                .and(header("x-github-api-version", API_VERSION))
                .and(header_regex("user-agent", "^deskrun/"))
                .respond_with(
                    ResponseTemplate::new(201)
                        .set_body_json(json!({"token": "AABBCC", "expires_at": "2026-01-01"})),
                )
                .expect(1)
                .mount(&server)
                .await;
        }
        let api = GitHubApi::with_base(&server.uri());
        for (input, at) in cases {
            api.verify_pat(&url(input), &token())
                .await
                .unwrap_or_else(|e| panic!("POST {at} answered 201, so {input} is fine: {e}"));
        }
        // NB: `expect(1)` on each mock is checked when the server drops.
    }

    #[tokio::test]
    async fn an_enterprise_server_base_keeps_its_api_prefix() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v3/orgs/acme/actions/runners/registration-token"))
            .respond_with(ResponseTemplate::new(201))
            .expect(1)
            .mount(&server)
            .await;
        let api = GitHubApi::with_base(&format!("{}/api/v3/", server.uri()));
        api.verify_pat(&url("https://git.corp/acme"), &token()).await.unwrap();
    }

    #[tokio::test]
    async fn a_rejected_token_says_to_create_a_new_one() {
        let server = MockServer::start().await;
        let body = json!({"message": "Bad credentials", "status": "401"});
        refuse(
            &server,
            "POST",
            "/repos/acme/app/actions/runners/registration-token",
            ResponseTemplate::new(401).set_body_json(body),
        )
        .await;
        let api = GitHubApi::with_base(&server.uri());
        let err = api.verify_pat(&url("https://github.com/acme/app"), &token()).await.unwrap_err();
        assert!(matches!(err, Error::BadToken), "{err}");
        assert!(err.to_string().contains("expired or revoked; create a new one"));
        assert_secret_free(&err);
    }

    #[tokio::test]
    async fn a_forbidden_token_is_told_the_permission_of_its_scope() {
        let server = MockServer::start().await;
        let cases = [
            (
                "https://github.com/acme/app",
                "/repos/acme/app",
                "\"Administration: read and write\"",
            ),
            ("https://github.com/acme", "/orgs/acme", "\"Self-hosted runners: read and write\""),
            ("https://github.com/enterprises/big", "/enterprises/big", "manage_runners:enterprise"),
        ];
        let body = json!({"message": "Resource not accessible by personal access token"});
        for (_, prefix, _) in cases {
            let at = format!("{prefix}/actions/runners/registration-token");
            refuse(&server, "POST", &at, ResponseTemplate::new(403).set_body_json(&body)).await;
        }
        let api = GitHubApi::with_base(&server.uri());
        for (input, _, permission) in cases {
            let err = api.verify_pat(&url(input), &token()).await.unwrap_err();
            assert!(matches!(err, Error::MissingPermission { .. }), "{err}");
            assert!(
                err.to_string().contains(permission),
                "a 403 for {input} must name {permission}: {err}"
            );
            assert_secret_free(&err);
        }
    }

    #[tokio::test]
    async fn an_exhausted_rate_limit_says_when_to_try_again() {
        let server = MockServer::start().await;
        // 1_700_000_000 is 22:13:20 UTC; the user is told the next full minute.
        refuse(
            &server,
            "POST",
            "/orgs/acme/actions/runners/registration-token",
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1700000000")
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .await;
        refuse(
            &server,
            "POST",
            "/repos/acme/app/actions/runners/registration-token",
            ResponseTemplate::new(429).insert_header("retry-after", "60"),
        )
        .await;
        let api = GitHubApi::with_base(&server.uri());
        let err = api.verify_pat(&url("https://github.com/acme"), &token()).await.unwrap_err();
        assert!(matches!(err, Error::RateLimited { reset_at: Some(1_700_000_000) }), "{err}");
        assert!(err.to_string().contains("try again after 22:14 (UTC), or use --no-verify"));
        let err = api.verify_pat(&url("https://github.com/acme/app"), &token()).await.unwrap_err();
        assert!(
            matches!(err, Error::RateLimited { reset_at: Some(at) } if at >= now() + 59),
            "a 429 with retry-after is a rate limit ending then: {err}"
        );
    }

    #[tokio::test]
    async fn an_invisible_repository_is_not_found() {
        let server = MockServer::start().await;
        refuse(
            &server,
            "POST",
            "/repos/acme/app/actions/runners/registration-token",
            ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        )
        .await;
        let api = GitHubApi::with_base(&server.uri());
        let err = api.verify_pat(&url("https://github.com/acme/app"), &token()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("the repository acme/app does not exist or this token cannot see it"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn other_answers_quote_githubs_message_without_the_token() {
        let server = MockServer::start().await;
        // A proxy that echoes the request must not make the token part of the error.
        let echo = format!("upstream said no to Bearer {TOKEN}\nsecond line");
        refuse(
            &server,
            "POST",
            "/orgs/acme/actions/runners/registration-token",
            ResponseTemplate::new(502).set_body_json(json!({"message": echo})),
        )
        .await;
        let api = GitHubApi::with_base(&server.uri());
        let err = api.verify_pat(&url("https://github.com/acme"), &token()).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("HTTP 502") && text.contains("upstream said no"), "{text}");
        assert_secret_free(&err);
    }

    #[tokio::test]
    async fn an_unreachable_api_says_so_and_offers_no_verify() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let api = GitHubApi::with_base(&base);
        let err = api.verify_pat(&url("https://github.com/acme/app"), &token()).await.unwrap_err();
        assert!(matches!(err, Error::Unreachable { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot reach GitHub at {base}:"))
                && text.contains("--no-verify"),
            "{text}"
        );
        assert_secret_free(&err);
    }

    #[tokio::test]
    async fn a_base_that_is_not_a_url_is_reported_not_panicked_on() {
        let api = GitHubApi::with_base("not a url");
        let err = api.verify_pat(&url("https://github.com/acme/app"), &token()).await.unwrap_err();
        assert!(matches!(err, Error::InvalidBase), "{err}");
    }

    #[tokio::test]
    async fn the_app_installation_is_found_with_an_rs256_jwt() {
        let server = MockServer::start().await;
        for (at, id) in [("/repos/acme/app/installation", 4242), ("/orgs/acme/installation", 77)] {
            Mock::given(method("GET"))
                .and(path(at))
                .and(signed_by_app)
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": id})))
                .expect(1)
                .mount(&server)
                .await;
        }
        let api = GitHubApi::with_base(&server.uri());
        let key = &app_key().0;
        let repo =
            api.find_installation(&url("https://github.com/acme/app"), APP_ID, key).await.unwrap();
        assert_eq!(repo, 4242);
        let org =
            api.find_installation(&url("https://github.com/acme"), APP_ID, key).await.unwrap();
        assert_eq!(org, 77);
    }

    #[tokio::test]
    async fn an_app_not_installed_is_told_where_to_install_it() {
        let server = MockServer::start().await;
        let not_found =
            || ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        refuse(&server, "GET", "/repos/acme/app/installation", not_found()).await;
        refuse(&server, "GET", "/enterprises/big/installation", not_found()).await;
        let api = GitHubApi::with_base(&server.uri());
        let key = &app_key().0;
        let err = api
            .find_installation(&url("https://github.com/acme/app"), APP_ID, key)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::AppNotInstalled { .. }), "{err}");
        assert!(err.to_string().starts_with("the App is not installed on acme/app"), "{err}");
        assert_secret_free(&err);
        let err = api
            .find_installation(&url("https://github.com/enterprises/big"), APP_ID, key)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::EnterpriseInstallationUnknown { .. }), "{err}");
        assert!(err.to_string().contains("--installation-id"), "{err}");
    }

    #[tokio::test]
    async fn an_app_is_verified_end_to_end() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/app/installations/4242/access_tokens"))
            .and(signed_by_app)
            .respond_with(
                ResponseTemplate::new(201)
                    .set_body_json(json!({"token": INSTALL_TOKEN, "expires_at": "2026-01-01"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/orgs/acme/actions/runners/registration-token"))
            .and(header("authorization", format!("Bearer {INSTALL_TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"token": "AABB"})))
            .expect(1)
            .mount(&server)
            .await;
        let api = GitHubApi::with_base(&server.uri());
        api.verify_app(&url("https://github.com/acme"), APP_ID, 4242, &app_key().0).await.unwrap();
    }

    #[tokio::test]
    async fn app_refusals_name_what_to_fix() {
        let server = MockServer::start().await;
        refuse(
            &server,
            "POST",
            "/app/installations/1/access_tokens",
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "A JSON web token could not be decoded"})),
        )
        .await;
        refuse(&server, "POST", "/app/installations/2/access_tokens", ResponseTemplate::new(404))
            .await;
        Mock::given(method("POST"))
            .and(path("/app/installations/3/access_tokens"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"token": INSTALL_TOKEN})))
            .mount(&server)
            .await;
        refuse(
            &server,
            "POST",
            "/repos/acme/app/actions/runners/registration-token",
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .await;
        refuse(
            &server,
            "POST",
            "/repos/acme/other/actions/runners/registration-token",
            ResponseTemplate::new(404),
        )
        .await;
        let api = GitHubApi::with_base(&server.uri());
        let key = &app_key().0;
        let repo = url("https://github.com/acme/app");

        let err = api.verify_app(&repo, APP_ID, 1, key).await.unwrap_err();
        assert!(matches!(err, Error::BadAppJwt { .. }), "{err}");
        assert!(err.to_string().contains("check --app-id \"12345\""), "{err}");
        assert_secret_free(&err);

        let err = api.verify_app(&repo, APP_ID, 2, key).await.unwrap_err();
        assert!(matches!(err, Error::InstallationNotFound { installation_id: 2 }), "{err}");

        let err = api.verify_app(&repo, APP_ID, 3, key).await.unwrap_err();
        assert!(matches!(err, Error::MissingPermission { credential: "GitHub App", .. }));
        assert!(err.to_string().contains("\"Administration: read and write\""), "{err}");
        assert_secret_free(&err);

        let other = url("https://github.com/acme/other");
        let err = api.verify_app(&other, APP_ID, 3, key).await.unwrap_err();
        assert!(err.to_string().starts_with("the App is not installed on acme/other"), "{err}");
        assert_secret_free(&err);
    }

    #[tokio::test]
    async fn a_bad_key_is_refused_before_anything_is_sent() {
        let server = MockServer::start().await;
        let api = GitHubApi::with_base(&server.uri());
        let ssh = Secret::from("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n".to_owned());
        let err =
            api.verify_app(&url("https://github.com/acme"), APP_ID, 1, &ssh).await.unwrap_err();
        assert!(matches!(err, Error::PrivateKey(app_key::Error::OpenSsh)), "{err}");
        assert!(
            server.received_requests().await.unwrap_or_default().is_empty(),
            "no request may go out with a key that cannot sign"
        );
    }

    #[tokio::test]
    async fn a_workflow_job_is_read_with_an_app_installation_token() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/app/installations/4242/access_tokens"))
            .and(signed_by_app)
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"token": INSTALL_TOKEN})))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/repos/acme/app/actions/jobs/77"))
            .and(header("authorization", format!("Bearer {INSTALL_TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": 77, "name": "build", "status": "completed", "conclusion": "success",
                "started_at": "2026-01-02T03:04:05Z", "completed_at": null, "steps": []
            })))
            .expect(1)
            .mount(&server)
            .await;
        let api = GitHubApi::with_base(&server.uri());
        let token = api.installation_token(APP_ID, 4242, &app_key().0).await.unwrap();
        let job = api.workflow_job("acme/app", 77, &token, Credential::App).await.unwrap();
        assert_eq!(
            (job.status.as_str(), job.conclusion.as_deref()),
            ("completed", Some("success"))
        );
        assert_eq!(job.started_at.map(|t| t.to_string()).as_deref(), Some("2026-01-02T03:04:05Z"));
        assert_eq!(job.completed_at, None);
    }

    #[tokio::test]
    async fn workflow_job_refusals_name_the_job() {
        let server = MockServer::start().await;
        refuse(&server, "GET", "/repos/acme/app/actions/jobs/1", ResponseTemplate::new(404)).await;
        refuse(&server, "GET", "/repos/acme/app/actions/jobs/2", ResponseTemplate::new(401)).await;
        let api = GitHubApi::with_base(&server.uri());
        let err = api.workflow_job("acme/app", 1, &token(), Credential::Token).await.unwrap_err();
        assert!(
            err.to_string().contains("the workflow job 1 in repository acme/app does not exist"),
            "{err}"
        );
        let err = api.workflow_job("acme/app", 2, &token(), Credential::Token).await.unwrap_err();
        assert!(matches!(err, Error::BadToken), "{err}");
        assert_secret_free(&err);
        let err = api.workflow_job("acme", 3, &token(), Credential::Token).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRepository { .. }), "{err}");
    }

    #[test]
    fn reset_times_round_up_to_the_minute() {
        assert_eq!(retry_when(Some(1_700_000_000)), "after 22:14 (UTC)");
        assert_eq!(retry_when(Some(1_699_999_980)), "after 22:13 (UTC)");
        assert_eq!(retry_when(None), "in a few minutes");
    }
}
