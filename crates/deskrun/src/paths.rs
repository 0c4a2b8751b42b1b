//! Where deskrun keeps its files on this machine: the config directory and the data
//! directory that holds auto-chosen cache host paths. Environment variables override both,
//! for tests and for users who keep their data elsewhere.

use std::path::{Component, Path, PathBuf};

/// Environment variable that overrides the config directory.
pub const CONFIG_DIR_ENV: &str = "DESKRUN_CONFIG_DIR";

/// Environment variable that overrides the data directory (auto-chosen caches live there).
pub const DATA_DIR_ENV: &str = "DESKRUN_DATA_DIR";

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("dev", "deskrun", "deskrun")
}

/// The directory holding `config.json`: `$DESKRUN_CONFIG_DIR`, else the platform config
/// directory (`~/.config/deskrun` on Linux).
pub fn config_dir() -> Option<PathBuf> {
    match std::env::var_os(CONFIG_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => project_dirs().map(|dirs| dirs.config_dir().to_path_buf()),
    }
}

/// The config directory set with [`CONFIG_DIR_ENV`], if one is, in one spelling for one
/// directory: absolute, with symlinks, `.`, `..` and trailing slashes resolved as far as the
/// path exists. It names the directory's keyring service, so `/x`, `/x/` and `/x/../x` must
/// find the same tokens.
pub fn config_dir_override() -> Option<PathBuf> {
    let dir = std::env::var_os(CONFIG_DIR_ENV).filter(|dir| !dir.is_empty())?;
    let dir = PathBuf::from(dir);
    Some(canonical(&std::path::absolute(&dir).unwrap_or(dir)))
}

/// `path` with `.` and `..` resolved lexically, then its longest existing ancestor
/// canonicalised (symlinks) and the rest appended: a directory not created yet names the same
/// service once it is.
fn canonical(path: &Path) -> PathBuf {
    let mut lexical = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |out, name| out.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

/// The directory holding deskrun's data, including the cache root that is mapped into the
/// kind node: `$DESKRUN_DATA_DIR`, else the platform data directory
/// (`~/.local/share/deskrun` on Linux).
pub fn data_dir() -> Option<PathBuf> {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => project_dirs().map(|dirs| dirs.data_dir().to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_directory_has_one_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(base.join("x")).unwrap();
        std::os::unix::fs::symlink(base.join("x"), base.join("link")).unwrap();
        let want = base.join("x");
        for spelling in ["x", "x/", "x/.", "x/../x", "./x", "link", "link/"] {
            assert_eq!(canonical(&base.join(spelling)), want, "{spelling}");
        }
        let later = base.join("x/new");
        assert_eq!(canonical(&base.join("link/new/")), later, "a directory not made yet");
        std::fs::create_dir(&later).unwrap();
        assert_eq!(canonical(&base.join("link/new")), later, "the same once it exists");
    }
}
