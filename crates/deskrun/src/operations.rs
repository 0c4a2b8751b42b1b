//! The user-level operations every surface shares: add (or replace) an installation, remove
//! it, `up`, `down`. The CLI and the desktop app both call these and only differ in how they
//! show [`Progress`]: the rules, the order of steps and what happens on failure live here.
//!
//! It does not read tokens from terminals or forms (its callers do), and it does not decide
//! how to ask the user a question: [`UpOptions::recreate_cluster`] says whether recreating
//! the cluster is allowed.

use std::path::PathBuf;
use std::time::Instant;

use secrecy::ExposeSecret;
use serde::Serialize;

use crate::arc::{self, CacheRoot, ChartSource};
use crate::cluster::{self, ClusterHandle, KindCluster, KindConfig};
use crate::config::{self, Config, ConfigStore};
use crate::github::{self, GitHubApi};
use crate::reconcile::{self, Plan, Reconciler, Scope};
use crate::secrets::{self, Secret, SecretStore};
use crate::spec::{self, Auth, Installation};
use crate::{app_key, process};

/// Errors of an operation, each saying what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The name is taken.
    #[error(
        "installation {name:?} already exists; change it with `deskrun add {name} --replace …`, \
         remove it with `deskrun remove {name}`, or choose another name"
    )]
    AlreadyExists {
        /// The name.
        name: String,
    },
    /// `--replace` of something that does not exist.
    #[error("there is no installation {name:?} to replace; add it without --replace")]
    NothingToReplace {
        /// The name.
        name: String,
    },
    /// No installation of that name.
    #[error("no installation named {name:?}{hint}; `deskrun list` shows the configured ones")]
    NoSuchInstallation {
        /// The name.
        name: String,
        /// ": it is a scale set of installation X" when it is one.
        hint: String,
    },
    /// Two installations would share a scale set name or a cache.
    #[error(transparent)]
    Collision(#[from] spec::Collision),
    /// An input rule was broken.
    #[error(transparent)]
    Spec(#[from] spec::Error),
    /// No token or key was given.
    #[error("the token (or GitHub App private key) is missing")]
    MissingSecret,
    /// A token with whitespace inside: two tokens pasted, or a line of a file.
    #[error("the token {problem}; {fix}")]
    MalformedToken {
        /// What is wrong with it (never the token itself).
        problem: &'static str,
        /// What to do.
        fix: &'static str,
    },
    /// GitHub Apps cannot register enterprise runners.
    #[error(
        "--auth-type github-app cannot be used for an enterprise URL: GitHub Apps cannot \
         register enterprise runners; use a classic PAT with the manage_runners:enterprise scope"
    )]
    AppForEnterprise,
    /// The GitHub App key cannot be used.
    #[error("the GitHub App private key cannot be used")]
    AppKey(#[source] app_key::Error),
    /// GitHub refused the credentials (or could not be asked).
    #[error("checking the credentials with GitHub failed")]
    Verify(#[source] github::Error),
    /// The keyring failed.
    #[error(transparent)]
    Secrets(#[from] secrets::Error),
    /// The config file failed.
    #[error(transparent)]
    Config(#[from] config::Error),
    /// The cluster failed.
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    /// Planning or applying failed.
    #[error(transparent)]
    Reconcile(#[from] reconcile::Error),
    /// No directory for caches.
    #[error("cannot find a data directory for caches: set DESKRUN_DATA_DIR or HOME")]
    NoDataDir,
    /// Creating the cache directory failed.
    #[error("cannot create the cache directory {path}")]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The cluster lacks host paths and may not be recreated.
    #[error(
        "cluster {cluster} must be recreated to map new host paths into its node ({paths}); \
         run `deskrun up --recreate-cluster` when ready (every runner restarts; caches on the \
         host stay)"
    )]
    RecreateNeeded {
        /// The cluster.
        cluster: String,
        /// The missing host paths.
        paths: String,
    },
    /// Some installations were left alone because their credentials are missing.
    #[error(
        "{} installation(s) left as they were because their credentials are missing from the \
         keyring: {}; store them again with `deskrun add NAME --replace …`",
        .0.len(),
        .0.join(", ")
    )]
    Skipped(Vec<String>),
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an operation reports while it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// Something worth telling.
    Note {
        /// The sentence.
        message: String,
    },
    /// Something that went wrong but did not stop the operation.
    Warning {
        /// The sentence.
        message: String,
    },
    /// What a reconcile will do.
    Plan {
        /// The kube context.
        context: String,
        /// The changes, in order.
        actions: Vec<String>,
        /// Scale sets already as wanted.
        unchanged: Vec<String>,
    },
    /// One change is done.
    Applied {
        /// How many are done.
        done: usize,
        /// How many there are.
        total: usize,
        /// Which.
        action: String,
    },
}

/// Where progress goes.
pub type ProgressSink<'a> = &'a (dyn Fn(Progress) + Sync);

fn note(progress: ProgressSink<'_>, message: String) {
    progress(Progress::Note { message });
}

fn warn(progress: ProgressSink<'_>, message: String) {
    progress(Progress::Warning { message });
}

/// An installation to add or replace, with its credentials as given.
#[derive(Debug)]
pub struct AddRequest {
    /// The installation; its `auth` is settled from `app` once the secret is checked.
    pub installation: Installation,
    /// GitHub App: the App ID and, when known, the installation ID. `None` for a PAT.
    pub app: Option<(String, Option<u64>)>,
    /// The token or private key; `None` keeps the stored one (only with `replace`).
    pub secret: Option<Secret>,
    /// Check the credentials with GitHub first.
    pub verify: bool,
    /// Replace an installation of the same name.
    pub replace: bool,
    /// Deploy it now if the cluster runs.
    pub deploy: bool,
}

/// The outcome of [`add`].
#[derive(Debug)]
pub struct Added {
    /// The installation as saved.
    pub installation: Installation,
    /// Whether it was deployed now (otherwise `up` will).
    pub deployed: bool,
}

/// Checks that `installation` may be added (or, with `replace`, replaced) in `config`.
pub fn check_new(installation: &Installation, config: &Config, replace: bool) -> Result<()> {
    let exists = config.installations.contains_key(&installation.name);
    let name = installation.name.clone();
    if exists && !replace {
        return Err(Error::AlreadyExists { name });
    }
    if replace && !exists {
        return Err(Error::NothingToReplace { name });
    }
    let cache_root = CacheRoot::from_env();
    spec::check_collisions(installation, config.installations.values(), cache_root.as_ref())?;
    Ok(())
}

/// Checks the request, verifies the credentials, stores the secret, saves the config and
/// (when asked and the cluster runs) deploys. Nothing is saved unless every check passes;
/// a failed save puts the keyring back as it was.
#[tracing::instrument(skip_all, fields(installation = %request.installation.name), err)]
pub async fn add(
    store: &ConfigStore,
    secrets: &SecretStore,
    request: AddRequest,
    progress: ProgressSink<'_>,
) -> Result<Added> {
    let AddRequest { mut installation, app, secret, verify, replace, deploy } = request;
    installation.validate()?;
    check_new(&installation, &store.load()?, replace)?;
    for warning in installation.warnings() {
        warn(progress, warning);
    }
    let url = installation.repository.clone();
    if app.is_some() && matches!(url.scope(), spec::GitHubScope::Enterprise { .. }) {
        return Err(Error::AppForEnterprise);
    }
    let api = GitHubApi::for_url(&url);
    let secret = match (secret, &app) {
        (Some(key), Some(_)) => {
            Some(app_key::normalize_private_key(key.expose_secret()).map_err(Error::AppKey)?)
        }
        (Some(token), None) => Some(check_token(token)?),
        (None, _) if replace => None,
        (None, _) => return Err(Error::MissingSecret),
    };
    // What the checks use: the new secret, or (replacing without one) the stored one.
    let current = match &secret {
        Some(secret) => secret.clone(),
        None if verify => secrets.load(&installation.name)?,
        None => Secret::from(String::new()),
    };
    let secret_for_checks = &current;
    if verify {
        note(progress, format!("Checking the credentials with GitHub ({})…", api.base()));
    }
    installation.auth = match app {
        None => {
            if verify {
                api.verify_pat(&url, secret_for_checks).await.map_err(Error::Verify)?;
            }
            Auth::Pat
        }
        Some((app_id, installation_id)) => {
            let installation_id = match (installation_id, verify) {
                (Some(id), _) => id,
                (None, false) => return Err(spec::Error::MissingInstallationId.into()),
                (None, true) => {
                    let id = api.find_installation(&url, &app_id, secret_for_checks).await;
                    let id = id.map_err(Error::Verify)?;
                    note(progress, format!("Found the App's installation on {url}: {id}"));
                    id
                }
            };
            if verify {
                let check = api.verify_app(&url, &app_id, installation_id, secret_for_checks).await;
                check.map_err(Error::Verify)?;
            }
            Auth::GithubApp { app_id, installation_id }
        }
    };
    // NB: the keyring is written under the config lock: a concurrent add of the same name
    // waits, then finds the name taken, and never touches the entry written here.
    let lock = store.lock()?;
    let mut config = lock.load()?;
    check_new(&installation, &config, replace)?;
    let previous = secrets.load(&installation.name).ok();
    if let Some(secret) = &secret {
        secrets.store(&installation.name, secret)?;
    }
    config.installations.insert(installation.name.clone(), installation.clone());
    if let Err(error) = lock.save(&config) {
        // Nothing was saved, so the keyring goes back to what it held before.
        let _ = match &previous {
            Some(old) => secrets.store(&installation.name, old),
            None => secrets.delete(&installation.name),
        };
        return Err(error.into());
    }
    drop(lock);
    let verb = if replace { "Updated" } else { "Saved" };
    note(
        progress,
        format!("{verb} installation {} in {}", installation.name, store.path().display()),
    );
    let deployed = deploy && deploy_one(store, secrets, &installation.name, progress).await?;
    Ok(Added { installation, deployed })
}

/// A PAT as stored: trimmed, and one token only.
fn check_token(token: Secret) -> Result<Secret> {
    let trimmed = token.expose_secret().trim();
    if trimmed.is_empty() {
        return Err(Error::MissingSecret);
    }
    let malformed = |problem, fix| Err(Error::MalformedToken { problem, fix });
    if trimmed.contains("PRIVATE KEY-----") {
        return malformed(
            "is a private key (PEM)",
            "a GitHub App's key goes with --auth-type github-app --app-id ID",
        );
    }
    if trimmed.chars().any(char::is_whitespace) {
        return malformed(
            "has a line break or space inside it",
            "give exactly one token (check what was pasted or piped)",
        );
    }
    if trimmed.starts_with(['"', '\'', '`']) || trimmed.ends_with(['"', '\'', '`']) {
        return malformed("is in quotes", "give the token without the quotes around it");
    }
    if trimmed.contains('=') {
        return malformed(
            "has a '=' in it, as in NAME=value (GitHub tokens have none)",
            "give only the value",
        );
    }
    // NB: GitHub's tokens are ASCII letters, digits and '_' (ghp_…, github_pat_…, ghs_…);
    // anything else came from a copy that took more than the token.
    if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
        return malformed(
            "has characters no GitHub token has (control characters or non-ASCII)",
            "copy the token again from GitHub's page",
        );
    }
    if trimmed.len() > MAX_TOKEN_LEN {
        return malformed(
            "is far longer than any GitHub token (a file or paste of something else?)",
            "give only the token",
        );
    }
    Ok(Secret::from(trimmed.to_owned()))
}

/// Longer than any GitHub token (fine-grained ones are 93 characters today), with room.
const MAX_TOKEN_LEN: usize = 1024;

/// Whether the cluster cannot be reached because kind or Docker is missing, rather than
/// because something went wrong in it.
fn cluster_unreachable(error: &cluster::Error) -> bool {
    matches!(
        error,
        cluster::Error::Program(
            process::Error::NotFound { .. }
                | process::Error::BadOverride { .. }
                | process::Error::DockerUnavailable { .. }
        )
    )
}

/// Deploys one installation if the cluster runs; returns whether it did.
pub async fn deploy_one(
    store: &ConfigStore,
    secrets: &SecretStore,
    name: &str,
    progress: ProgressSink<'_>,
) -> Result<bool> {
    let config = store.load()?;
    let cluster = KindCluster::new(&config.cluster.name);
    let running = match cluster.exists().await {
        Ok(running) => running,
        Err(error) if cluster_unreachable(&error) => {
            note(progress, format!("Not deployed now: {error}\nThen `deskrun up` deploys {name}."));
            return Ok(false);
        }
        Err(error) => return Err(error.into()),
    };
    if !running {
        note(
            progress,
            format!(
                "Cluster {} is not running: `deskrun up` creates it and deploys {name}",
                cluster.name()
            ),
        );
        return Ok(false);
    }
    if !missing_host_paths(&config).is_empty() {
        note(
            progress,
            format!(
                "{name} mounts host paths the cluster does not have: `deskrun up` recreates it"
            ),
        );
        return Ok(false);
    }
    let handle = cluster.connect().await?;
    reconcile(&config, &handle, secrets, &Scope::Only(name.to_owned()), progress).await?;
    Ok(true)
}

/// Options of [`up`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UpOptions {
    /// Recreate the cluster when new host paths must be mapped into it.
    pub recreate_cluster: bool,
}

/// Host paths the config mounts that the running cluster was not created with.
pub fn missing_host_paths(config: &Config) -> Vec<PathBuf> {
    arc::required_host_paths(config.installations.values())
        .into_iter()
        .filter(|path| !config.cluster.host_mounts.contains(path))
        .collect()
}

/// Makes the cluster match the config: creates it if missing (or recreates it for new host
/// paths when allowed), installs or upgrades ARC, deploys what changed, removes what is no
/// longer configured.
#[tracing::instrument(skip_all, err)]
pub async fn up(
    store: &ConfigStore,
    secrets: &SecretStore,
    options: UpOptions,
    progress: ProgressSink<'_>,
) -> Result<Plan> {
    let config = store.load()?;
    // NB: before anything is created or deleted: a keyring that cannot be used at all stops
    // here; a single missing entry is reported later and does not stop the others. One
    // entry tells, and the plan reads them all anyway: each read is a Secret Service
    // session, and reading every entry twice cost a 30-installation `up` a third of a second.
    if let Some(name) = config.installations.keys().next() {
        match secrets.load(name) {
            Ok(_) | Err(secrets::Error::Missing { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    // NB: helm is needed only after the cluster is created (minutes); a missing one is
    // said now, before anything is made that it could not finish.
    crate::process::Program::helm()
        .ensure_available()
        .map_err(|e| reconcile::Error::from(crate::helm::Error::from(e)))?;
    let cluster = KindCluster::new(&config.cluster.name);
    // NB: connecting is how `up` learns that the cluster runs: one kind process, not two.
    let handle = match cluster.connect().await {
        Ok(handle) => {
            let missing = missing_host_paths(&config);
            if missing.is_empty() {
                handle
            } else {
                let paths: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
                if !options.recreate_cluster {
                    let cluster = cluster.name().to_owned();
                    return Err(Error::RecreateNeeded { cluster, paths: paths.join(", ") });
                }
                note(
                    progress,
                    format!("Recreating cluster {} to map {}", cluster.name(), paths.join(", ")),
                );
                drop(handle);
                cluster.delete().await?;
                create_cluster(store, &cluster, progress).await?;
                cluster.connect().await?
            }
        }
        Err(cluster::Error::NotFound { .. }) => {
            create_cluster(store, &cluster, progress).await?;
            cluster.connect().await?
        }
        Err(error) => return Err(error.into()),
    };
    let config = store.load()?;
    let plan = reconcile(&config, &handle, secrets, &Scope::All, progress).await?;
    if !plan.skipped.is_empty() {
        return Err(Error::Skipped(plan.skipped.iter().map(|(name, _)| name.clone()).collect()));
    }
    Ok(plan)
}

/// Removes every scale set from the cluster; the config is kept.
#[tracing::instrument(skip_all, err)]
pub async fn down(
    store: &ConfigStore,
    secrets: &SecretStore,
    progress: ProgressSink<'_>,
) -> Result<()> {
    let config = store.load()?;
    let cluster = KindCluster::new(&config.cluster.name);
    if !cluster.exists().await? {
        note(progress, format!("Cluster {} is not running; nothing to remove", cluster.name()));
        return Ok(());
    }
    let handle = cluster.connect().await?;
    reconcile(&config, &handle, secrets, &Scope::Nothing, progress).await?;
    note(progress, "The config is kept: `deskrun up` deploys the runners again".to_owned());
    Ok(())
}

/// Removes an installation from the cluster (when reachable), the keyring and the config,
/// without needing its token.
#[tracing::instrument(skip_all, fields(installation = name), err)]
pub async fn remove(
    store: &ConfigStore,
    secrets: &SecretStore,
    name: &str,
    progress: ProgressSink<'_>,
) -> Result<()> {
    let config = store.load()?;
    let Some(installation) = config.installations.get(name).cloned() else {
        // NB: `web-2` is a scale set of installation `web`; instances go and come together.
        let hint = config.owner_of(name).map_or_else(String::new, |inst| {
            format!(
                " ({name} is one of the {} instances of installation {:?}: remove that, or \
                 lower its --instances with `deskrun add {} --replace --instances N`)",
                inst.instances, inst.name, inst.name
            )
        });
        return Err(Error::NoSuchInstallation { name: name.to_owned(), hint });
    };
    let cluster = KindCluster::new(&config.cluster.name);
    match cluster.exists().await {
        Ok(true) => {
            let handle = cluster.connect().await?;
            let reconciler = reconciler(&handle, &config, secrets);
            let report = |action: &reconcile::Action| note(progress, format!("  {action}"));
            reconciler.remove_installation(&installation, &report).await?;
        }
        Ok(false) => {}
        Err(error) if cluster_unreachable(&error) => warn(
            progress,
            format!(
                "cannot reach cluster {} ({error}); if it still runs {name}, `deskrun up` \
                 removes it there later",
                cluster.name()
            ),
        ),
        Err(error) => return Err(error.into()),
    }
    // NB: the keyring first: if it fails for another reason than being unavailable, the
    // config still lists the installation and `remove` can simply be run again.
    match secrets.delete(name) {
        Ok(()) => {}
        Err(error @ secrets::Error::Unavailable { .. }) => warn(
            progress,
            format!(
                "{error}; the token of {name} may remain in the keyring (service {:?}, \
                 account \"{name}\")",
                secrets.service()
            ),
        ),
        Err(error) => return Err(error.into()),
    }
    store.update(|config| {
        config.installations.remove(name);
        Ok::<_, Error>(())
    })?;
    note(progress, format!("Removed installation {name}"));
    Ok(())
}

/// Creates the cluster with the cache root and every configured host path mapped in, and
/// records the mapped paths in the config.
pub async fn create_cluster(
    store: &ConfigStore,
    cluster: &KindCluster,
    progress: ProgressSink<'_>,
) -> Result<()> {
    let config = store.load()?;
    let data_dir = crate::paths::data_dir().ok_or(Error::NoDataDir)?;
    let cache_root = CacheRoot::new(&data_dir);
    std::fs::create_dir_all(&cache_root.host)
        .map_err(|source| Error::CacheDir { path: cache_root.host.clone(), source })?;
    let host_paths = arc::required_host_paths(config.installations.values());
    note(
        progress,
        format!(
            "Creating kind cluster {} (the first time takes a few minutes to pull the node \
             image)…",
            cluster.name()
        ),
    );
    cluster.create(&KindConfig::new(&cache_root.host, &host_paths)).await?;
    store.update(|config| {
        config.cluster.host_mounts = host_paths;
        config.cluster.created_at = Some(jiff::Timestamp::now().to_string());
        Ok::<_, Error>(())
    })?;
    note(progress, format!("Created cluster {} (context {})", cluster.name(), cluster.context()));
    Ok(())
}

/// Deletes the cluster; the config is kept and caches stay on the host.
pub async fn delete_cluster(store: &ConfigStore, progress: ProgressSink<'_>) -> Result<()> {
    let cluster = KindCluster::new(&store.load()?.cluster.name);
    if !cluster.exists().await? {
        note(progress, format!("Cluster {} does not exist", cluster.name()));
        return Ok(());
    }
    note(progress, format!("Deleting cluster {}…", cluster.name()));
    cluster.delete().await?;
    store.update(|config| {
        config.cluster.host_mounts.clear();
        config.cluster.created_at = None;
        Ok::<_, Error>(())
    })?;
    note(
        progress,
        format!(
            "Deleted cluster {}; the config is kept and caches stay on the host",
            cluster.name()
        ),
    );
    Ok(())
}

fn reconciler<'a>(
    handle: &'a ClusterHandle,
    config: &Config,
    secrets: &SecretStore,
) -> Reconciler<'a> {
    Reconciler::new(handle, ChartSource::resolve(&config.arc), secrets.clone())
}

async fn reconcile(
    config: &Config,
    handle: &ClusterHandle,
    secrets: &SecretStore,
    scope: &Scope,
    progress: ProgressSink<'_>,
) -> Result<Plan> {
    let reconciler = reconciler(handle, config, secrets);
    let plan = reconciler.plan(config, scope).await?;
    for (name, error) in &plan.skipped {
        warn(progress, format!("skipping {name}: {error}"));
    }
    if plan.is_empty() {
        let message = match scope {
            Scope::Nothing => "Nothing to remove: no scale set is deployed".to_owned(),
            _ => format!(
                "Nothing to change: {} scale set(s) up to date in {}",
                plan.unchanged.len(),
                handle.context()
            ),
        };
        note(progress, message);
        return Ok(plan);
    }
    progress(Progress::Plan {
        context: handle.context().to_owned(),
        actions: plan.actions.iter().map(ToString::to_string).collect(),
        unchanged: plan.unchanged.clone(),
    });
    let started = Instant::now();
    let total = plan.actions.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let report = |action: &reconcile::Action| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(Progress::Applied { done: n, total, action: action.to_string() });
    };
    reconciler.apply(&plan, &report).await?;
    note(progress, format!("Applied {total} change(s) in {:.1}s", started.elapsed().as_secs_f64()));
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens that are not one GitHub token are refused with what is wrong, never quoting it.
    #[test]
    fn a_token_that_is_not_one_token_says_what_is_wrong() {
        let check =
            |raw: &str| check_token(Secret::from(raw.to_owned())).map_err(|e| e.to_string());
        assert_eq!(check("  ghp_abc123\n").unwrap().expose_secret(), "ghp_abc123", "trimmed");
        let long = "g".repeat(MAX_TOKEN_LEN + 1);
        for (raw, says) in [
            ("ghp_one\nghp_two", "line break or space"),
            ("\"ghp_quoted\"", "in quotes"),
            ("'ghp_quoted'", "in quotes"),
            ("`ghp_quoted`", "in quotes"),
            ("GITHUB_TOKEN=ghp_abc", "NAME=value"),
            ("ghp_\u{1}ctl", "control characters"),
            ("ghp_é", "non-ASCII"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
                "--auth-type github-app",
            ),
            (long.as_str(), "far longer"),
        ] {
            let err = check(raw).unwrap_err();
            assert!(err.contains(says), "{raw:?}: {err}");
            assert!(!err.contains("ghp_"), "the token is never quoted: {err}");
        }
    }
}
