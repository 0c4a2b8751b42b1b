//! Where deskrun keeps its files on this machine: the config directory and the data
//! directory that holds auto-chosen cache host paths. Environment variables override both,
//! for tests and for users who keep their data elsewhere.

use std::path::PathBuf;

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

/// The config directory set with [`CONFIG_DIR_ENV`], made absolute, if one is.
pub fn config_dir_override() -> Option<PathBuf> {
    let dir = std::env::var_os(CONFIG_DIR_ENV).filter(|dir| !dir.is_empty())?;
    let dir = PathBuf::from(dir);
    Some(std::path::absolute(&dir).unwrap_or(dir))
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
