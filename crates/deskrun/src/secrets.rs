//! The credential store: tokens and private keys in the OS keyring (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows), and the redacting type that carries
//! them. Nothing else in deskrun touches the keyring.
//!
//! There is deliberately no fallback: when the keyring is missing or locked, storing fails
//! with the fix, and the caller saves nothing.

use secrecy::{ExposeSecret, SecretString};

/// A token or key, redacted in `Debug` and never serialized.
pub type Secret = SecretString;

/// The keyring service deskrun's entries are stored under for the default config directory.
/// A config directory set with [`crate::paths::CONFIG_DIR_ENV`] gets a service of its own
/// (see [`SecretStore::from_env`]).
pub const KEYRING_SERVICE: &str = "deskrun";

/// The environment variable a PAT may be given in (`deskrun add`). Child processes (kind,
/// helm, docker, incus) are started without it: they have no use for it.
pub const TOKEN_ENV: &str = "DESKRUN_TOKEN";

/// Errors talking to the keyring.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable keyring (no Secret Service on the session bus, or it is locked).
    #[error(
        "the OS keyring is not available ({detail}); on Linux start a Secret Service such \
         as gnome-keyring or KeePassXC and unlock it, then try again"
    )]
    Unavailable {
        /// What the keyring library said.
        detail: String,
    },
    /// The installation has no credentials stored.
    #[error(
        "no credentials for installation {installation:?} in the keyring; add them again with \
         `deskrun add {installation} …`"
    )]
    Missing {
        /// The installation.
        installation: String,
    },
    /// Any other keyring failure.
    #[error("keyring operation failed for installation {installation:?}")]
    Keyring {
        /// The installation.
        installation: String,
        /// The underlying error.
        #[source]
        source: keyring::Error,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The keyring-backed store of installation credentials.
#[derive(Debug, Clone)]
pub struct SecretStore {
    service: String,
}

impl SecretStore {
    /// The store for the config that [`crate::config::ConfigStore::from_env`] reads: service
    /// [`KEYRING_SERVICE`] for the platform config directory, `deskrun:<dir>` for a directory
    /// set with [`crate::paths::CONFIG_DIR_ENV`].
    ///
    /// NB: entries are keyed by installation name, so two configs sharing one service would
    /// overwrite (or remove) each other's tokens for a runner of the same name.
    pub fn from_env() -> Self {
        match crate::paths::config_dir_override() {
            Some(dir) => Self::with_service(format!("{KEYRING_SERVICE}:{}", dir.display())),
            None => Self::with_service(KEYRING_SERVICE.to_owned()),
        }
    }

    /// The store under keyring service `service`.
    pub fn with_service(service: String) -> Self {
        Self { service }
    }

    /// The keyring service the entries are stored under (an installation's name is the
    /// account): `secret-tool lookup service <this> username <installation>` reads one.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, installation: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, installation).map_err(|e| map_error(installation, e))
    }

    /// Stores (or replaces) the secret of `installation`.
    #[tracing::instrument(skip_all, fields(installation), err)]
    pub fn store(&self, installation: &str, secret: &Secret) -> Result<()> {
        // NB: the value is stored as UTF-8 bytes as given, so a multi-line PEM key comes
        // back byte for byte.
        self.entry(installation)?
            .set_password(secret.expose_secret())
            .map_err(|e| map_error(installation, e))
    }

    /// Reads the secret of `installation`.
    // NB: debug: "no entry" is the normal answer before a first add, and callers say what a
    // real failure means.
    #[tracing::instrument(skip_all, fields(installation), err(level = "debug"))]
    pub fn load(&self, installation: &str) -> Result<Secret> {
        match self.entry(installation)?.get_password() {
            Ok(value) => Ok(SecretString::from(value)),
            Err(keyring::Error::NoEntry) => {
                Err(Error::Missing { installation: installation.to_owned() })
            }
            Err(e) => Err(map_error(installation, e)),
        }
    }

    /// Removes the secret of `installation`; a missing one is not an error.
    #[tracing::instrument(skip_all, fields(installation), err)]
    pub fn delete(&self, installation: &str) -> Result<()> {
        match self.entry(installation)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(installation, e)),
        }
    }
}

impl SecretStore {
    /// Stores, reads back and deletes a throwaway entry, to tell whether the keyring works
    /// (`deskrun doctor`). A locked keyring fails here as it would for `add`.
    #[tracing::instrument(skip_all, err)]
    pub fn probe(&self) -> Result<()> {
        // NB: a leading dot keeps the probe from colliding with any installation's name.
        const PROBE: &str = ".deskrun-doctor-probe";
        let value = format!("probe-{}", std::process::id());
        self.store(PROBE, &Secret::from(value.clone()))?;
        let read_back = self.load(PROBE);
        self.delete(PROBE)?;
        if read_back?.expose_secret() != value {
            return Err(Error::Unavailable {
                detail: "an entry read back differently from how it was stored".to_owned(),
            });
        }
        Ok(())
    }
}

fn map_error(installation: &str, error: keyring::Error) -> Error {
    match error {
        keyring::Error::NoStorageAccess(e) => Error::Unavailable { detail: e.to_string() },
        keyring::Error::PlatformFailure(e) => Error::Unavailable { detail: e.to_string() },
        keyring::Error::NoEntry => Error::Missing { installation: installation.to_owned() },
        source => Error::Keyring { installation: installation.to_owned(), source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_output_is_redacted() {
        let secret = Secret::from("ghp_supersecret".to_owned());
        let debug = format!("{secret:?}");
        assert!(!debug.contains("supersecret"), "Debug must never show the token: {debug}");
    }
}
