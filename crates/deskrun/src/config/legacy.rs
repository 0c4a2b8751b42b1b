//! Import of the original Go deskrun's `~/.deskrun/config.json`, which kept tokens in
//! plaintext (`AuthValue`). Each token moves to the OS keyring, the installation joins the
//! config, and the plaintext is scrubbed from the old file (rewritten atomically, every other
//! field kept, so the old tool still reads it).
//!
//! An installation that cannot be imported as it is (a GitHub App without its IDs, a name or
//! URL the rules refuse, a name already in use) is reported; its token still leaves the file
//! unless that would lose it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{ConfigStore, Error, Result};
use crate::secrets::{self, Secret, SecretStore};
use crate::spec::{self, Auth, ContainerMode, GitHubUrl, Installation, Mount, MountType};

/// The original tool's config file, `~/.deskrun/config.json`.
pub fn default_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| dirs.home_dir().join(".deskrun").join("config.json"))
}

/// What an import did, for the user.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// The old file.
    pub path: PathBuf,
    /// Installations now in the config, their tokens in the keyring.
    pub imported: Vec<String>,
    /// Installations not imported, and why.
    pub skipped: Vec<(String, String)>,
}

/// Errors of an import: the keyring (nothing is scrubbed without it) or the files.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The keyring refused a token; nothing was changed.
    #[error("cannot import {path}: its tokens must move to the keyring first")]
    Keyring {
        /// The old file.
        path: PathBuf,
        /// The keyring's error.
        #[source]
        source: secrets::Error,
    },
    /// Reading or writing a config file failed.
    #[error(transparent)]
    Config(#[from] Error),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OldInstallation {
    name: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    container_mode: String,
    #[serde(default)]
    min_runners: i64,
    #[serde(default)]
    max_runners: i64,
    #[serde(default)]
    instances: i64,
    #[serde(default)]
    mounts: Vec<OldMount>,
    #[serde(default)]
    cache_paths: Vec<OldMount>,
    #[serde(default)]
    auth_type: String,
}

/// A mount in any of the old tool's spellings (`Mounts`, `CachePaths`, and the older
/// `MountPath`/`HostPath` fields).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OldMount {
    #[serde(default, alias = "HostPath")]
    source: String,
    #[serde(default, alias = "MountPath")]
    target: String,
    #[serde(default, rename = "Type")]
    kind: String,
}

/// The keyring account an old token is kept under when it cannot become an installation.
pub fn parked_account(name: &str) -> String {
    format!("legacy:{name}")
}

/// Imports `path` into `store` when it still holds a plaintext token; `Ok(None)` when there
/// is nothing to do. Runs under the config lock, so two processes starting at once import
/// once (the second finds the file already scrubbed).
#[tracing::instrument(skip_all, fields(path = %path.display()), err)]
pub fn import(
    path: &Path,
    store: &ConfigStore,
    secrets: &SecretStore,
) -> Result<Option<ImportReport>, ImportError> {
    if !path.is_file() {
        return Ok(None);
    }
    let lock = store.lock()?;
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(None) };
    let parse_error = |e: serde_json::Error| Error::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: format!("the original deskrun's config is not valid JSON ({e})"),
    };
    let mut old: Value = serde_json::from_str(&text).map_err(parse_error)?;
    let Some(entries) = old.get("installations").and_then(Value::as_object) else {
        return Ok(None);
    };
    let token_of = |v: &Value| {
        v.get("AuthValue").and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned()
    };
    let pending: Vec<(String, Value)> = entries
        .iter()
        .filter(|(_, v)| !token_of(v).is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if pending.is_empty() {
        return Ok(None);
    }
    let mut report = ImportReport { path: path.to_path_buf(), ..Default::default() };
    let mut config = lock.load()?;
    if config.installations.is_empty()
        && let Some(name) = old.get("cluster_name").and_then(Value::as_str)
        && !name.is_empty()
        && spec::validate_cluster_name(name).is_ok()
    {
        config.cluster.name = name.to_owned();
    }
    let keyring_error = |source| ImportError::Keyring { path: path.to_path_buf(), source };
    let cache_root = crate::arc::CacheRoot::from_env();
    let root = cache_root.as_ref();
    for (key, entry) in &pending {
        let token = Secret::from(token_of(entry));
        let converted = if config.installations.contains_key(key) {
            Err("an installation of that name already exists".to_owned())
        } else {
            convert(key, entry).and_then(|installation| {
                spec::check_collisions(&installation, config.installations.values(), root)
                    .map_err(|e| e.to_string())?;
                Ok(installation)
            })
        };
        match converted {
            Ok(installation) => {
                secrets.store(key, &token).map_err(keyring_error)?;
                config.installations.insert(key.clone(), installation);
                report.imported.push(key.clone());
            }
            Err(reason) => {
                // NB: parked, never lost: the plaintext still leaves the file.
                let account = parked_account(key);
                secrets.store(&account, &token).map_err(keyring_error)?;
                report.skipped.push((
                    key.clone(),
                    format!(
                        "{reason}; its token is in the keyring as account {account:?} \
                         (`secret-tool lookup service {service:?} username {account}`)",
                        service = secrets.service(),
                    ),
                ));
            }
        }
    }
    lock.save(&config)?;
    if let Some(entries) = old.get_mut("installations").and_then(Value::as_object_mut) {
        for (key, _) in &pending {
            if let Some(entry) = entries.get_mut(key) {
                entry["AuthValue"] = Value::String(String::new());
            }
        }
    }
    let text = serde_json::to_string_pretty(&old).unwrap_or_default();
    let scrubbed = ConfigStore { path: path.to_path_buf() };
    if hard_links(path) > 1 {
        // NB: a rename would give this name a new file and leave the plaintext in the
        // other names of the old one; overwriting in place scrubs them all. The tokens are
        // in the keyring already, so a torn write loses nothing.
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)
            .and_then(|mut file| {
                use std::io::Write;
                file.write_all(super::file_text(&text).as_bytes())?;
                file.sync_all()
            })
            .map_err(|source| scrubbed.io_error("overwrite", source))?;
    } else {
        scrubbed.write_text(&text)?;
    }
    drop(lock);
    Ok(Some(report))
}

/// How many names the file at `path` has (1 when it cannot tell).
fn hard_links(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or(1, |meta| meta.nlink())
}

/// The old entry as an installation, or why it cannot be one (its token is in the keyring
/// under `key` either way).
fn convert(key: &str, entry: &Value) -> std::result::Result<Installation, String> {
    let old: OldInstallation =
        serde_json::from_value(entry.clone()).map_err(|e| format!("unreadable entry: {e}"))?;
    if old.auth_type == "github-app" {
        return Err(format!(
            "it uses a GitHub App, and deskrun needs its App ID and installation ID; write the \
             key (kept in the keyring as said next) to a file with the `secret-tool lookup` \
             shown, and run `deskrun add {key} -r URL --auth-type github-app --app-id ID \
             --private-key-file KEY`"
        ));
    }
    // NB: the old tool upgraded http:// to https://; so does the import.
    let url = old.repository.trim();
    let url = url.strip_prefix("http://").map_or(url.to_owned(), |rest| format!("https://{rest}"));
    let positive = |value: i64| u32::try_from(value).ok().filter(|v| *v > 0);
    let mut mounts = Vec::new();
    for mount in old.mounts.iter().chain(&old.cache_paths) {
        let kind = match mount.kind.as_str() {
            "Directory" => MountType::Directory,
            "Socket" => MountType::Socket,
            _ => MountType::DirectoryOrCreate,
        };
        let source = (!mount.source.is_empty()).then(|| PathBuf::from(&mount.source));
        mounts.push(Mount { source, target: PathBuf::from(&mount.target), kind });
    }
    let mode = match old.container_mode.as_str() {
        "" => ContainerMode::default(),
        other => other.parse::<ContainerMode>().map_err(|e| e.to_string())?,
    };
    let installation = Installation {
        name: if old.name.is_empty() { key.to_owned() } else { old.name },
        repository: GitHubUrl::parse(&url).map_err(|e| e.to_string())?,
        mode,
        min_runners: u32::try_from(old.min_runners).unwrap_or(spec::DEFAULT_MIN_RUNNERS),
        max_runners: positive(old.max_runners).unwrap_or(spec::DEFAULT_MAX_RUNNERS),
        instances: positive(old.instances).unwrap_or(1),
        mounts,
        auth: Auth::Pat,
    };
    if installation.name != key {
        return Err(format!("its Name {:?} differs from its key", installation.name));
    }
    installation.validate().map_err(|e| e.to_string())?;
    Ok(installation)
}
