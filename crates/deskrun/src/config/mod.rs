//! The versioned config file: what the user asked for, and nothing secret.
//!
//! One JSON file, `config.json`, in the config directory. Every change goes through
//! [`ConfigStore::update`], which holds an exclusive lock on a sibling lock file for the
//! whole read-modify-write, so the app and the CLI never lose each other's updates, and
//! replaces the file atomically (temp file, fsync, rename), so a crash leaves the old or the
//! new file, never a torn one. A file that cannot be read is reported with its path and
//! line and left exactly as it is.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cluster_host::ClusterHost;
use crate::spec::Installation;

pub mod legacy;

/// The config format this build writes. Older files are upgraded on the next save.
pub const CONFIG_VERSION: u32 = 1;

/// The default kind cluster name (kube context `kind-deskrun`).
pub const DEFAULT_CLUSTER_NAME: &str = "deskrun";

/// Errors reading or writing the config file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No config directory could be found (no home directory and no override).
    #[error("cannot find a config directory: set DESKRUN_CONFIG_DIR or HOME")]
    NoConfigDir,
    /// The file exists but is not valid deskrun config.
    #[error(
        "config file {path} is broken at line {line}, column {column}: {message}; fix or \
         move the file (it was left untouched)"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the fault.
        line: usize,
        /// 1-based column of the fault.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The file parses but breaks a rule (edited by hand, or by a buggy tool).
    #[error(
        "config file {path} is not valid: {problem}; fix or move the file (it was left untouched)"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which entry and what is wrong with it.
        problem: String,
    },
    /// The file was written by a newer deskrun.
    #[error(
        "config file {path} has version {found}, newer than this deskrun understands \
         ({CONFIG_VERSION}); upgrade deskrun"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
    },
    /// Reading, locking or writing failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The whole config file.
#[serde_with::serde_as]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The format version, [`CONFIG_VERSION`] when written by this build.
    pub version: u32,
    /// The local cluster.
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Where ARC's charts come from.
    #[serde(default)]
    pub arc: ArcConfig,
    /// The configured installations, by name.
    #[serde(default)]
    #[serde_as(as = "serde_with::MapPreventDuplicates<_, _>")]
    pub installations: BTreeMap<String, Installation>,
    /// The desktop app's preferences.
    #[serde(default)]
    pub desktop: DesktopConfig,
    /// Cluster hosts made with `deskrun cluster-host create`, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cluster_hosts: BTreeMap<String, ClusterHost>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            cluster: ClusterConfig::default(),
            arc: ArcConfig::default(),
            installations: BTreeMap::new(),
            desktop: DesktopConfig::default(),
            cluster_hosts: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The installation that `name` names: itself, or one of its instances' scale sets.
    pub fn owner_of(&self, name: &str) -> Option<&Installation> {
        self.installations
            .values()
            .find(|inst| inst.name == name || inst.scale_sets().iter().any(|set| set.name == name))
    }

    /// Checks what the types cannot: versions, names, counts, and that no two installations
    /// collide (counting the caches chosen under this machine's data directory). Returns what
    /// is wrong, naming the installation.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.version == 0 {
            return Err("\"version\" is 0; the first version is 1".to_owned());
        }
        crate::spec::validate_cluster_name(&self.cluster.name).map_err(|e| e.to_string())?;
        let cache_root = crate::arc::CacheRoot::from_env();
        for (key, inst) in &self.installations {
            if key != &inst.name {
                return Err(format!(
                    "installation {key:?} has \"name\": {:?}; the two must be the same",
                    inst.name
                ));
            }
            inst.validate().map_err(|e| format!("installation {key:?}: {e}"))?;
            let others = self.installations.values().filter(|o| o.name < inst.name);
            crate::spec::check_collisions(inst, others, cache_root.as_ref())
                .map_err(|e| format!("installation {key:?}: {e}"))?;
        }
        for (key, host) in &self.cluster_hosts {
            if key != &host.name {
                return Err(format!(
                    "cluster host {key:?} has \"name\": {:?}; the two must be the same",
                    host.name
                ));
            }
        }
        Ok(())
    }
}

/// The desktop app's preferences: which notifications to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DesktopConfig {
    /// Notify when a job starts.
    pub notify_job_started: bool,
    /// Notify when a job finishes.
    pub notify_job_finished: bool,
    /// Notify when a runner needs attention.
    pub notify_attention: bool,
}

impl Default for DesktopConfig {
    fn default() -> Self {
        Self { notify_job_started: true, notify_job_finished: true, notify_attention: true }
    }
}

/// Settings of the local kind cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The kind cluster name.
    pub name: String,
    /// The host paths mapped into the node when deskrun created the cluster; a new one
    /// needs the cluster to be recreated, because kind mounts are fixed at creation.
    #[serde(default)]
    pub host_mounts: Vec<PathBuf>,
    /// When deskrun last created the cluster (RFC 3339); `None` once it deleted it. Other
    /// processes (the desktop app) watch the config file and learn of the change from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { name: DEFAULT_CLUSTER_NAME.to_owned(), host_mounts: Vec::new(), created_at: None }
    }
}

/// Where ARC's Helm charts come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArcConfig {
    /// An OCI registry prefix or a local directory of charts; `None` means GitHub's registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_source: Option<String>,
}

/// The config file on disk.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    path: PathBuf,
}

impl ConfigStore {
    /// The store in the config directory ([`crate::paths::config_dir`]).
    pub fn from_env() -> Result<Self> {
        let dir = crate::paths::config_dir().ok_or(Error::NoConfigDir)?;
        Ok(Self::in_dir(&dir))
    }

    /// The store at `<dir>/config.json`.
    pub fn in_dir(dir: &Path) -> Self {
        Self { path: dir.join("config.json") }
    }

    /// The config file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the config; a missing file is the empty default config.
    #[tracing::instrument(skip_all, fields(path = %self.path.display()), err)]
    pub fn load(&self) -> Result<Config> {
        let text = match fs::read_to_string(&self.path) {
            // NB: saves are atomic, so deskrun never leaves an empty file: something else
            // emptied it (a full disk under an editor, a truncating copy). Taking it for "no
            // runners" would let `up` remove every deployed one.
            Ok(text) if text.trim().is_empty() => {
                return Err(Error::Invalid {
                    path: self.path.clone(),
                    problem: "it is empty, which deskrun never writes (was it emptied by \
                              accident?); restore it, or delete it to start with no runners"
                        .to_owned(),
                });
            }
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(self.io_error("read", source)),
        };
        self.parse(&text)
    }

    fn parse(&self, text: &str) -> Result<Config> {
        /// The config file: a JSON object with a version.
        #[derive(Deserialize)]
        #[serde(rename = "the config file (a JSON object)")]
        struct VersionOnly {
            version: Option<u32>,
        }
        let parse_error = |e: serde_json::Error| {
            // serde_json appends " at line L column C"; the error names the position itself.
            let full = e.to_string();
            let message = full.rsplit_once(" at line ").map_or(full.as_str(), |(m, _)| m);
            Error::Parse {
                path: self.path.clone(),
                line: e.line(),
                column: e.column(),
                message: message.to_owned(),
            }
        };
        // NB: the version is checked first, so a newer file's unknown fields are reported
        // as "upgrade deskrun" rather than as a parse error.
        let probe: VersionOnly = serde_json::from_str(text).map_err(parse_error)?;
        if let Some(found) = probe.version.filter(|v| *v > CONFIG_VERSION) {
            return Err(Error::TooNew { path: self.path.clone(), found });
        }
        let mut config: Config = serde_json::from_str(text).map_err(parse_error)?;
        config.validate().map_err(|problem| Error::Invalid { path: self.path.clone(), problem })?;
        config.version = CONFIG_VERSION;
        Ok(config)
    }

    /// Reads, changes and saves the config under an exclusive lock; `change` decides
    /// whether to save by returning `Ok`. An `Err` from `change` leaves the file untouched.
    #[tracing::instrument(skip_all, fields(path = %self.path.display()))]
    pub fn update<T, E>(&self, change: impl FnOnce(&mut Config) -> Result<T, E>) -> Result<T, E>
    where
        E: From<Error>,
    {
        let lock = self.lock()?;
        let mut config = lock.load()?;
        let before = config.clone();
        let out = change(&mut config)?;
        if config != before {
            lock.save(&config)?;
        }
        Ok(out)
    }

    /// Takes the exclusive lock for a read-modify-write that does more than change the
    /// config (e.g. also writes the keyring), so that no other process interleaves.
    pub fn lock(&self) -> Result<ConfigLock<'_>> {
        Ok(ConfigLock { store: self, _file: self.lock_file()? })
    }

    fn lock_file(&self) -> Result<File> {
        let dir = self.dir();
        fs::create_dir_all(dir)
            .map_err(|source| self.io_error("create the directory of", source))?;
        let lock_path = dir.join("config.json.lock");
        let file =
            File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(
                |source| Error::Io {
                    action: "open the lock file",
                    path: lock_path.clone(),
                    source,
                },
            )?;
        // NB: an advisory lock (flock on Unix) held by this handle until it is dropped.
        file.lock().map_err(|source| Error::Io { action: "lock", path: lock_path, source })?;
        Ok(file)
    }

    pub(crate) fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn write(&self, config: &Config) -> Result<()> {
        let text = serde_json::to_string_pretty(config)
            .map_err(|e| self.io_error("serialize", io::Error::other(e)))?;
        self.write_text(&text)
    }

    /// Replaces the file with `text` atomically: temp file, fsync, rename, directory fsync.
    /// A symlinked file (a dotfiles checkout) stays a symlink: the file it points at is the
    /// one replaced.
    fn write_text(&self, text: &str) -> Result<()> {
        let real = std::fs::canonicalize(&self.path).unwrap_or_else(|_| {
            // NB: a symlink to a file not made yet (a fresh dotfiles checkout) is written
            // through too: replacing the link would cut it off from the checkout.
            match std::fs::read_link(&self.path) {
                Ok(target) => self.dir().join(target),
                Err(_) => self.path.clone(),
            }
        });
        let dir = real.parent().unwrap_or(Path::new("."));
        let text = file_text(text);
        let mut temp = tempfile::Builder::new()
            .prefix(".config.json.")
            .tempfile_in(dir)
            .map_err(|source| self.io_error("create a temporary file beside", source))?;
        temp.write_all(text.as_bytes())
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|source| self.io_error("write", source))?;
        temp.persist(&real).map_err(|e| self.io_error("replace", e.error))?;
        // NB: the rename is only durable once the directory entry is synced too.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| self.io_error("sync the directory of", source))?;
        Ok(())
    }

    fn io_error(&self, action: &'static str, source: io::Error) -> Error {
        Error::Io { action, path: self.path.clone(), source }
    }
}

/// `text` as the config files hold it: no trailing blank lines, one final newline.
fn file_text(text: &str) -> String {
    format!("{}\n", text.trim_end())
}

/// The config file held under its exclusive lock until dropped.
#[derive(Debug)]
pub struct ConfigLock<'a> {
    store: &'a ConfigStore,
    _file: File,
}

impl ConfigLock<'_> {
    /// Reads the config (see [`ConfigStore::load`]).
    pub fn load(&self) -> Result<Config> {
        self.store.load()
    }

    /// Replaces the file with `config`, atomically.
    pub fn save(&self, config: &Config) -> Result<()> {
        self.store.write(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_the_default_config() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(dir.path());
        assert_eq!(store.load().unwrap(), Config::default());
    }

    /// A config.json that links to a file not made yet (a fresh dotfiles checkout) was
    /// replaced by a regular file, cutting the link.
    #[test]
    fn a_link_to_a_missing_file_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(&dir.path().join("config"));
        fs::create_dir_all(dir.path().join("config")).unwrap();
        fs::create_dir_all(dir.path().join("dotfiles")).unwrap();
        std::os::unix::fs::symlink("../dotfiles/deskrun.json", store.path()).unwrap();
        store
            .update(|c: &mut Config| {
                c.cluster.name = "linked".into();
                Ok::<_, Error>(())
            })
            .unwrap();
        assert!(store.path().symlink_metadata().unwrap().is_symlink(), "still a link");
        let real = fs::read_to_string(dir.path().join("dotfiles/deskrun.json")).unwrap();
        assert!(real.contains("\"linked\""), "{real}");
    }

    /// What a user saw: an emptied config.json read as "no runners", and the next `up`
    /// removed every deployed scale set without a word.
    #[test]
    fn an_emptied_file_is_an_error_not_an_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(dir.path());
        for text in ["", "  \n\n"] {
            fs::write(store.path(), text).unwrap();
            let err = store.load().unwrap_err().to_string();
            assert!(err.contains("it is empty") && err.contains("config.json"), "{err}");
            let update = store.update(|c: &mut Config| {
                c.cluster.name = "other".into();
                Ok::<_, Error>(())
            });
            assert!(update.is_err(), "a change is refused too");
            assert_eq!(fs::read_to_string(store.path()).unwrap(), text, "left untouched");
        }
    }

    #[test]
    fn broken_file_is_reported_with_path_and_line_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(dir.path());
        let broken = "{\n  \"version\": 1,\n  \"installations\": {,}\n}\n";
        fs::write(store.path(), broken).unwrap();
        let err = store.update(|c: &mut Config| {
            c.cluster.name = "changed".into();
            Ok::<_, Error>(())
        });
        let message = err.unwrap_err().to_string();
        assert!(message.contains("line 3"), "the line of the fault is named: {message}");
        assert!(message.contains(&store.path().display().to_string()), "{message}");
        assert_eq!(fs::read_to_string(store.path()).unwrap(), broken, "file must be untouched");
    }

    #[test]
    fn hand_edited_content_is_checked_like_cli_input() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(dir.path());
        let inst = |key: &str, name: &str, min: u32, instances: u32| {
            format!(
                r#""{key}": {{"name": "{name}", "repository": "https://github.com/o/r",
                "min_runners": {min}, "max_runners": 5, "instances": {instances},
                "auth": {{"type": "pat"}}}}"#
            )
        };
        let app = |installation_id: &str| {
            format!(
                r#""a": {{"name": "a", "repository": "https://github.com/o/r",
                "min_runners": 1, "max_runners": 5, "instances": 1,
                "auth": {{"type": "github-app", "app_id": "7",
                "installation_id": {installation_id}}}}}"#
            )
        };
        let cases = [
            (inst("R1", "R1", 1, 1), "installation \"R1\""),
            (inst("r1", "r1", 9, 1), "--min-runners 9"),
            (inst("r1", "r2", 1, 1), "must be the same"),
            (inst("r1", "r1", 1, 0), "--instances 0"),
            (format!("{}, {}", inst("x", "x", 1, 2), inst("x-1", "x-1", 1, 1)), "x-1"),
            (inst("arc", "arc", 1, 1), "reserved"),
            // A token written into the file by hand is refused, not silently dropped.
            (
                inst("t", "t", 1, 1).replace(r#""type": "pat""#, r#""type": "pat", "token": "x""#),
                "token",
            ),
            (app("0"), "--installation-id \"0\""),
            (app("12").replace(r#""app_id": "7""#, r#""app_id": "  ""#), "--app-id"),
        ];
        for (installations, needle) in cases {
            let text = format!(r#"{{"version": 1, "installations": {{{installations}}}}}"#);
            fs::write(store.path(), &text).unwrap();
            let err = store.load().unwrap_err().to_string();
            assert!(err.contains(needle), "{installations}: error {err:?} should name {needle:?}");
            assert_eq!(fs::read_to_string(store.path()).unwrap(), text, "left untouched");
        }
    }

    /// What the user saw: two hand-edited installations mounting ~/cache and ~/cache/npm
    /// loaded fine, and their runners overwrote each other's caches.
    #[test]
    fn hand_edited_nested_host_paths_are_refused_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(dir.path());
        let inst = |name: &str, source: &str| {
            format!(
                r#""{name}": {{"name": "{name}", "repository": "https://github.com/o/r",
                "min_runners": 1, "max_runners": 5, "instances": 1, "auth": {{"type": "pat"}},
                "mounts": [{{"source": "{source}", "target": "/c"}}]}}"#
            )
        };
        let installations = format!("{}, {}", inst("a", "/h/cache"), inst("b", "/h/cache/npm"));
        let text = format!(r#"{{"version": 1, "installations": {{{installations}}}}}"#);
        fs::write(store.path(), &text).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("/h/cache/npm") && err.contains("\"a\""), "names both: {err}");
        assert_eq!(fs::read_to_string(store.path()).unwrap(), text, "left untouched");
    }

    #[test]
    fn a_duplicated_installation_is_an_error_not_last_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(dir.path());
        let one = r#"{"name": "a", "repository": "https://github.com/o/r", "min_runners": 1,
            "max_runners": 5, "instances": 1, "auth": {"type": "pat"}}"#;
        fs::write(
            store.path(),
            format!(r#"{{"version": 1, "installations": {{"a": {one}, "a": {one}}}}}"#),
        )
        .unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("duplicate"), "{err}");
    }

    #[test]
    fn newer_version_asks_for_an_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(dir.path());
        fs::write(store.path(), r#"{"version": 99, "future": true}"#).unwrap();
        assert!(matches!(store.load(), Err(Error::TooNew { found: 99, .. })));
    }

    #[test]
    fn update_round_trips_and_a_failed_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(dir.path());
        store
            .update(|c| {
                c.cluster.name = "other".into();
                Ok::<_, Error>(())
            })
            .unwrap();
        assert_eq!(store.load().unwrap().cluster.name, "other");
        let before = fs::read(store.path()).unwrap();
        let failed: Result<(), Error> = store.update(|c| {
            c.cluster.name = "lost".into();
            Err(Error::NoConfigDir)
        });
        assert!(failed.is_err());
        assert_eq!(fs::read(store.path()).unwrap(), before, "a failed change must not save");
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConfigStore::in_dir(dir.path());
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for j in 0..10 {
                        store
                            .update(|c| {
                                c.cluster.host_mounts.push(format!("/t{i}/{j}").into());
                                Ok::<_, Error>(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.load().unwrap().cluster.host_mounts.len(), 80, "no update may be lost");
    }
}
