//! Cluster hosts: NixOS containers on an Incus remote that run deskrun themselves (Docker,
//! kind, kubectl, Helm and the CLI inside), made and kept by `deskrun cluster-host`.
//!
//! It owns the workflow (create, configure, list, delete), the NixOS configuration pushed into
//! each host ([`HostConfig`], which enables `nix/module.nix`, pushed beside it), and the
//! record of each host in the config file ([`ClusterHost`]). The `incus` calls themselves are
//! in [`crate::incus`]. A host is recorded as soon as its container exists, so a failed
//! configuration can be retried with `configure` or cleaned up with `delete`.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigStore};
use crate::doctor::{MIN_INOTIFY_INSTANCES, MIN_INOTIFY_WATCHES};
use crate::incus::{self, Incus, InstanceRef, LaunchSpec};

/// The image `create` launches unless told otherwise.
pub const DEFAULT_IMAGE: &str = "images:nixos/25.11";

/// The root disk size `create` gives unless told otherwise: room for kind's node image,
/// runner images and warm caches.
pub const DEFAULT_DISK: &str = "200GiB";

/// Where a host gets deskrun from: this project's flake.
pub const DEFAULT_FLAKE: &str = "github:deskrun/deskrun";

/// The NixOS module for cluster hosts (`nix/module.nix`), pushed into every host as is.
pub const NIXOS_MODULE: &str = include_str!("../../../nix/module.nix");

/// Where the module goes in the host.
pub const MODULE_PATH: &str = "/etc/nixos/deskrun-module.nix";

/// Where the generated [`HostConfig`] goes in the host.
pub const HOST_CONFIG_PATH: &str = "/etc/nixos/deskrun.nix";

/// The host's own NixOS configuration, which must import [`HOST_CONFIG_PATH`].
pub const SYSTEM_CONFIG_PATH: &str = "/etc/nixos/configuration.nix";

/// PATH for commands run in a host: NixOS keeps its programs out of the FHS directories that
/// `incus exec` puts on PATH by default.
const HOST_PATH: &str = "/run/wrappers/bin:/run/current-system/sw/bin";

/// The generated configuration fetches deskrun with `builtins.getFlake`, which needs flakes
/// before the configuration that enables them is active.
const HOST_NIX_CONFIG: &str = "experimental-features = nix-command flakes";

/// A DNS name every NixOS rebuild needs: when it resolves, the host's network is up.
const NETWORK_PROBE_HOST: &str = "cache.nixos.org";

/// Errors managing cluster hosts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Driving Incus failed.
    #[error(transparent)]
    Incus(#[from] incus::Error),
    /// Reading or writing the config file failed.
    #[error(transparent)]
    Config(#[from] config::Error),
    /// `--name` is not a usable instance name.
    #[error(
        "--name {value:?} is not a valid cluster host name: {reason}; use lowercase letters, \
         digits and '-', starting with a letter, at most 63 characters"
    )]
    InvalidName {
        /// The name given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `--disk` is not a size Incus understands.
    #[error(
        "--disk {value:?} is not a disk size; give a whole number and a unit, e.g. 200GiB \
         (units: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
    )]
    InvalidDisk {
        /// The size given.
        value: String,
    },
    /// `--image` or `--flake` is empty or has spaces or control characters.
    #[error(
        "--{flag} {value:?} is not valid: it must be non-empty, without spaces, e.g. {example}"
    )]
    InvalidReference {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: String,
        /// A valid value.
        example: &'static str,
    },
    /// An instance of that name already exists on the remote.
    #[error(
        "an instance named {name:?} already exists on Incus remote {remote:?}; choose another \
         --name (`incus list {remote}:` shows the taken ones)"
    )]
    NameTaken {
        /// The name.
        name: String,
        /// The remote.
        remote: String,
    },
    /// deskrun already has a cluster host of that name.
    #[error(
        "cluster host {name:?} already exists (on Incus remote {remote:?}); reconfigure it with \
         `deskrun cluster-host configure {name}`, or choose another --name"
    )]
    AlreadyRecorded {
        /// The name.
        name: String,
        /// Its remote.
        remote: String,
    },
    /// deskrun has no cluster host of that name.
    #[error(
        "there is no cluster host {name:?} in deskrun's config; `deskrun cluster-host list` \
         shows them (deskrun only changes hosts it created)"
    )]
    NotRecorded {
        /// The name.
        name: String,
    },
    /// The host is recorded but its container is gone.
    #[error(
        "cluster host {name:?} is recorded but Incus remote {remote:?} has no such instance; \
         remove the record with `deskrun cluster-host delete {name}` and create it again"
    )]
    InstanceMissing {
        /// The name.
        name: String,
        /// The remote.
        remote: String,
    },
    /// The host's configuration.nix has no `imports` list to add deskrun.nix to.
    #[error(
        "{SYSTEM_CONFIG_PATH} in cluster host {name:?} has no `imports = [ … ];` list; add \
         `imports = [ ./deskrun.nix ];` to it (`incus exec {name} -- nano {SYSTEM_CONFIG_PATH}`) \
         and run `deskrun cluster-host configure {name}`"
    )]
    NoImportsList {
        /// The host.
        name: String,
    },
    /// The host never got a working network.
    #[error(
        "cluster host {name:?} cannot resolve {NETWORK_PROBE_HOST} after {seconds} s, and NixOS \
         needs it to install packages; check the instance's network (`incus exec {name} -- ip \
         addr`), then run `deskrun cluster-host configure {name}`"
    )]
    NoNetwork {
        /// The host.
        name: String,
        /// How long deskrun waited.
        seconds: u64,
        /// The last failure.
        #[source]
        source: incus::Error,
    },
    /// The container exists but configuring it failed; the record is kept.
    #[error(
        "cluster host {name:?} was created but configuring it failed; fix the cause below, then \
         run `deskrun cluster-host configure {name}` (or remove it with `deskrun cluster-host \
         delete {name}`)"
    )]
    Configure {
        /// The host.
        name: String,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where progress lines go (the CLI prints them; the app may show them).
pub type ProgressSink<'a> = &'a (dyn Fn(&str) + Sync);

/// A cluster host as recorded in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterHost {
    /// The Incus instance name.
    pub name: String,
    /// The Incus remote it lives on (the default remote when it was created).
    pub remote: String,
    /// The image it was launched from.
    pub image: String,
    /// Its root disk size.
    pub disk: String,
    /// The flake its deskrun comes from.
    pub flake: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
}

impl ClusterHost {
    /// The instance, as incus addresses it.
    pub fn instance(&self) -> InstanceRef {
        InstanceRef::new(&self.remote, &self.name)
    }
}

/// What `create` is asked for; [`CreateOptions::default`] is the CLI's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    /// The name; `None` picks `deskrun-XXXXXX`.
    pub name: Option<String>,
    /// The root disk size.
    pub disk: String,
    /// The image.
    pub image: String,
    /// Where deskrun comes from.
    pub flake: String,
}

impl Default for CreateOptions {
    fn default() -> Self {
        Self {
            name: None,
            disk: DEFAULT_DISK.to_owned(),
            image: DEFAULT_IMAGE.to_owned(),
            flake: DEFAULT_FLAKE.to_owned(),
        }
    }
}

/// A recorded host and what its remote says about it, for `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostStatus {
    /// The record.
    #[serde(flatten)]
    pub host: ClusterHost,
    /// The instance's status as incus says it (`Running`, `Stopped`, …), `Missing` when the
    /// remote has no such instance, or `Unreachable` when the remote did not answer.
    pub status: String,
}

/// The NixOS configuration deskrun writes into a host: it enables the cluster host module with
/// deskrun from `flake`. Rendered from these values, each escaped as a Nix string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig<'a> {
    /// The host's name (for the header comment only).
    pub name: &'a str,
    /// The flake deskrun comes from.
    pub flake: &'a str,
    /// `fs.inotify.max_user_watches`.
    pub max_user_watches: u64,
    /// `fs.inotify.max_user_instances`.
    pub max_user_instances: u64,
}

impl<'a> HostConfig<'a> {
    /// The configuration for `host`, with the inotify limits `deskrun doctor` asks for.
    pub fn for_host(host: &'a ClusterHost) -> Self {
        Self {
            name: &host.name,
            flake: &host.flake,
            max_user_watches: MIN_INOTIFY_WATCHES,
            max_user_instances: MIN_INOTIFY_INSTANCES,
        }
    }

    /// The file, as NixOS reads it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "# Generated by deskrun {} for cluster host {}.\n",
            env!("CARGO_PKG_VERSION"),
            nix_string(self.name)
        ));
        out.push_str(
            "# `deskrun cluster-host configure` rewrites it: put your own settings in \
             configuration.nix.\n",
        );
        out.push_str("{ pkgs, ... }:\n\nlet\n");
        out.push_str(&format!("  deskrun = builtins.getFlake {};\n", nix_string(self.flake)));
        out.push_str("in\n{\n  imports = [ ./deskrun-module.nix ];\n\n");
        out.push_str("  services.deskrun.clusterHost = {\n    enable = true;\n");
        out.push_str("    package = deskrun.packages.${pkgs.stdenv.hostPlatform.system}.cli;\n");
        out.push_str(&format!("    inotify.maxUserWatches = {};\n", self.max_user_watches));
        out.push_str(&format!("    inotify.maxUserInstances = {};\n", self.max_user_instances));
        out.push_str("  };\n}\n");
        out
    }
}

/// `value` as a Nix string literal: quotes, backslashes and `${` escaped, so that no value can
/// end the string or splice in an expression.
pub fn nix_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What adding `./deskrun.nix` to a host's `configuration.nix` comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportEdit {
    /// It is imported already: nothing to change.
    AlreadyImported,
    /// The file with the import added.
    Updated(String),
    /// There is no `imports = [` outside comments to add it to.
    NoImportsList,
}

/// Adds `./deskrun.nix` to the `imports` list of a NixOS `configuration.nix`.
pub fn import_host_config(configuration: &str) -> ImportEdit {
    const IMPORT: &str = "./deskrun.nix";
    let code_lines = || configuration.lines().filter(|l| !l.trim_start().starts_with('#'));
    if code_lines().any(|line| line.contains(IMPORT)) {
        return ImportEdit::AlreadyImported;
    }
    let Some(bracket) = imports_bracket(configuration) else {
        return ImportEdit::NoImportsList;
    };
    let after = &configuration[bracket + 1..];
    let line_end = after.find('\n').unwrap_or(after.len());
    let rest_of_line = after[..line_end].trim();
    let mut out = configuration.to_owned();
    if (rest_of_line.is_empty() || rest_of_line.starts_with('#')) && line_end < after.len() {
        // A list over several lines: the new entry gets a line, indented like the next one.
        let next_line = &after[line_end + 1..];
        let indent: String = next_line.chars().take_while(|c| *c == ' ').collect();
        out.insert_str(bracket + 1 + line_end + 1, &format!("{indent}{IMPORT}\n"));
    } else {
        out.insert_str(bracket + 1, &format!(" {IMPORT}"));
    }
    ImportEdit::Updated(out)
}

/// The byte offset of the `[` that opens `imports = [`, skipping comments; the `=` and the `[`
/// may be on later lines.
fn imports_bracket(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find("imports") {
        let start = from + found;
        from = start + "imports".len();
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let in_comment = text[line_start..start].contains('#');
        let word_start = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'));
        if in_comment || !word_start {
            continue;
        }
        let Some(after_eq) = text[from..].trim_start().strip_prefix('=') else { continue };
        let list = after_eq.trim_start();
        if list.starts_with('[') {
            return Some(text.len() - list.len());
        }
    }
    None
}

/// Checks a cluster host name: an Incus instance name that is also a hostname.
pub fn validate_name(name: &str) -> Result<()> {
    let invalid = |reason| Err(Error::InvalidName { value: name.to_owned(), reason });
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > 63 {
        return invalid("it is longer than 63 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return invalid("it has characters other than lowercase letters, digits and '-'");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return invalid("it does not start with a letter");
    }
    if name.ends_with('-') {
        return invalid("it ends with '-'");
    }
    Ok(())
}

/// Checks a disk size as Incus reads it: a whole number and a unit, e.g. `200GiB`.
pub fn validate_disk(disk: &str) -> Result<()> {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"];
    let digits = disk.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = disk.split_at(digits);
    let positive = number.parse::<u64>().is_ok_and(|n| n > 0);
    if positive && UNITS.contains(&unit) {
        Ok(())
    } else {
        Err(Error::InvalidDisk { value: disk.to_owned() })
    }
}

fn validate_reference(flag: &'static str, value: &str, example: &'static str) -> Result<()> {
    let bad = value.is_empty()
        || value.starts_with('-')
        || value.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err(Error::InvalidReference { flag, value: value.to_owned(), example });
    }
    Ok(())
}

/// A name nobody chose: `deskrun-` and six hex digits.
fn random_name() -> String {
    // NB: RandomState is seeded from the OS per process; good enough to avoid collisions,
    // and a collision is caught anyway (the name is checked against the remote).
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("deskrun-{:06x}", random & 0xff_ffff)
}

fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Cluster hosts: the config's records and the Incus remotes they live on.
#[derive(Debug, Clone)]
pub struct ClusterHosts {
    incus: Incus,
    store: ConfigStore,
    network_attempts: u32,
    network_interval: Duration,
}

impl ClusterHosts {
    /// Hosts recorded in `store`, driven through [`Incus::default`].
    pub fn new(store: ConfigStore) -> Self {
        Self {
            incus: Incus::default(),
            store,
            network_attempts: 90,
            network_interval: Duration::from_secs(2),
        }
    }

    /// Launches a NixOS container on the current remote, records it, and configures it.
    #[tracing::instrument(skip_all, fields(name = ?options.name), err)]
    pub async fn create(
        &self,
        options: &CreateOptions,
        progress: ProgressSink<'_>,
    ) -> Result<ClusterHost> {
        let name = options.name.clone().unwrap_or_else(random_name);
        validate_name(&name)?;
        validate_disk(&options.disk)?;
        validate_reference("image", &options.image, DEFAULT_IMAGE)?;
        validate_reference("flake", &options.flake, DEFAULT_FLAKE)?;
        if let Some(host) = self.store.load()?.cluster_hosts.get(&name) {
            return Err(Error::AlreadyRecorded { name, remote: host.remote.clone() });
        }
        let remote = self.incus.default_remote().await?;
        if self.incus.instances(&remote).await?.iter().any(|i| i.name == name) {
            return Err(Error::NameTaken { name, remote });
        }

        let host = ClusterHost {
            name: name.clone(),
            remote,
            image: options.image.clone(),
            disk: options.disk.clone(),
            flake: options.flake.clone(),
            created_at: now_rfc3339(),
        };
        let at = host.instance();
        progress(&format!(
            "Launching {} on Incus remote {} from {} ({} disk)…",
            host.name, host.remote, host.image, host.disk
        ));
        // Docker and kind's node containers need nesting; kind's nodes also need a privileged
        // container and the kernel log (kubelet reads /dev/kmsg), as in the original deskrun.
        let config = [("security.nesting", "true"), ("security.privileged", "true")];
        let spec = LaunchSpec { image: &host.image, config: &config, root_size: &host.disk };
        self.incus.launch(&at, &spec).await?;
        let kmsg = [("source", "/dev/kmsg"), ("path", "/dev/kmsg")];
        self.incus.add_device(&at, "kmsg", "unix-char", &kmsg).await?;
        self.store.update(|config| {
            config.cluster_hosts.insert(host.name.clone(), host.clone());
            Ok::<_, Error>(())
        })?;

        self.apply(&host, progress)
            .await
            .map_err(|source| Error::Configure { name: name.clone(), source: Box::new(source) })?;
        Ok(host)
    }

    /// Pushes the NixOS configuration into the recorded host `name` again and rebuilds it;
    /// `flake` replaces where its deskrun comes from.
    #[tracing::instrument(skip_all, fields(name), err)]
    pub async fn configure(
        &self,
        name: &str,
        flake: Option<&str>,
        progress: ProgressSink<'_>,
    ) -> Result<ClusterHost> {
        let mut host = self.recorded(name)?;
        if !self.incus.instances(&host.remote).await?.iter().any(|i| i.name == name) {
            return Err(Error::InstanceMissing { name: name.to_owned(), remote: host.remote });
        }
        if let Some(flake) = flake.filter(|f| *f != host.flake) {
            validate_reference("flake", flake, DEFAULT_FLAKE)?;
            host.flake = flake.to_owned();
            self.store.update(|config| {
                config.cluster_hosts.insert(host.name.clone(), host.clone());
                Ok::<_, Error>(())
            })?;
        }
        self.apply(&host, progress).await?;
        Ok(host)
    }

    /// Deletes the recorded host `name`'s container (stopping it) and its record. Returns
    /// whether there was a container to delete.
    #[tracing::instrument(skip_all, fields(name), err)]
    pub async fn delete(&self, name: &str, progress: ProgressSink<'_>) -> Result<bool> {
        let host = self.recorded(name)?;
        let at = host.instance();
        let exists = self.incus.instances(&host.remote).await?.iter().any(|i| i.name == name);
        if exists {
            progress(&format!("Deleting instance {at}…"));
            self.incus.delete(&at).await?;
        }
        self.store.update(|config| {
            config.cluster_hosts.remove(name);
            Ok::<_, Error>(())
        })?;
        Ok(exists)
    }

    /// Every recorded host with its status on its remote; an unreachable remote makes its
    /// hosts `Unreachable` rather than failing the list.
    #[tracing::instrument(skip_all, err)]
    pub async fn list(&self) -> Result<Vec<HostStatus>> {
        let hosts = self.store.load()?.cluster_hosts;
        let mut by_remote: BTreeMap<&str, Option<Vec<incus::Instance>>> = BTreeMap::new();
        for host in hosts.values() {
            if !by_remote.contains_key(host.remote.as_str()) {
                let instances = match self.incus.instances(&host.remote).await {
                    Ok(instances) => Some(instances),
                    Err(incus::Error::RemoteUnreachable { .. }) => None,
                    Err(e) => return Err(e.into()),
                };
                by_remote.insert(&host.remote, instances);
            }
        }
        let status_of = |host: &ClusterHost| match &by_remote[host.remote.as_str()] {
            None => "Unreachable".to_owned(),
            Some(instances) => instances
                .iter()
                .find(|i| i.name == host.name)
                .map_or_else(|| "Missing".to_owned(), |i| i.status.clone()),
        };
        Ok(hosts.values().map(|h| HostStatus { host: h.clone(), status: status_of(h) }).collect())
    }

    fn recorded(&self, name: &str) -> Result<ClusterHost> {
        self.store
            .load()?
            .cluster_hosts
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotRecorded { name: name.to_owned() })
    }

    /// Waits for the network, pushes the module and the generated configuration, imports it
    /// from configuration.nix, and runs `nixos-rebuild switch`.
    async fn apply(&self, host: &ClusterHost, progress: ProgressSink<'_>) -> Result<()> {
        let at = host.instance();
        progress(&format!("Waiting for {} to boot and reach {NETWORK_PROBE_HOST}…", host.name));
        self.wait_for_network(host).await?;

        progress(&format!("Writing {MODULE_PATH} and {HOST_CONFIG_PATH}…"));
        self.incus.push_file(&at, MODULE_PATH, NIXOS_MODULE.as_bytes()).await?;
        let config = HostConfig::for_host(host).render();
        self.incus.push_file(&at, HOST_CONFIG_PATH, config.as_bytes()).await?;
        let system = self.incus.pull_file(&at, SYSTEM_CONFIG_PATH).await?;
        let system = String::from_utf8_lossy(&system);
        match import_host_config(&system) {
            ImportEdit::Updated(updated) => {
                progress(&format!("Importing ./deskrun.nix in {SYSTEM_CONFIG_PATH}…"));
                self.incus.push_file(&at, SYSTEM_CONFIG_PATH, updated.as_bytes()).await?;
            }
            ImportEdit::AlreadyImported => {}
            ImportEdit::NoImportsList => {
                return Err(Error::NoImportsList { name: host.name.clone() });
            }
        }

        progress("Running nixos-rebuild switch (the first time builds deskrun: many minutes)…");
        let env = [("PATH", HOST_PATH), ("NIX_CONFIG", HOST_NIX_CONFIG)];
        self.incus.exec(&at, &env, &["nixos-rebuild", "switch"]).await?;
        Ok(())
    }

    async fn wait_for_network(&self, host: &ClusterHost) -> Result<()> {
        let at = host.instance();
        let env = [("PATH", HOST_PATH)];
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.incus.exec(&at, &env, &["getent", "hosts", NETWORK_PROBE_HOST]).await {
                Ok(_) => return Ok(()),
                Err(source) if attempt >= self.network_attempts => {
                    let seconds = self.network_interval.as_secs() * u64::from(attempt);
                    return Err(Error::NoNetwork { name: host.name.clone(), seconds, source });
                }
                Err(_) => tokio::time::sleep(self.network_interval).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nix_strings_cannot_be_escaped_from() {
        assert_eq!(nix_string("github:o/r"), r#""github:o/r""#);
        assert_eq!(nix_string(r#"a"b\c${d}$e"#), r#""a\"b\\c\${d}$e""#);
        assert_eq!(nix_string("x\ny"), r#""x\ny""#);
    }

    #[test]
    fn the_import_goes_into_the_existing_list_once() {
        let one_line = "{ config, pkgs, ... }:\n{\n  imports = [ <nixpkgs/lxc.nix> ];\n}\n";
        let ImportEdit::Updated(updated) = import_host_config(one_line) else { panic!() };
        assert!(updated.contains("imports = [ ./deskrun.nix <nixpkgs/lxc.nix> ];"), "{updated}");
        assert_eq!(
            import_host_config(&updated),
            ImportEdit::AlreadyImported,
            "a second run changes nothing"
        );

        let multi = "{ ... }:\n{\n  imports =\n    [\n      ./hw.nix\n    ];\n}\n";
        let ImportEdit::Updated(updated) = import_host_config(multi) else { panic!() };
        assert!(updated.contains("[\n      ./deskrun.nix\n      ./hw.nix\n"), "{updated}");
        let other = "{ ... }:\n{\n  my.imports = [ ];\n  imports = [ ];\n}\n";
        let ImportEdit::Updated(updated) = import_host_config(other) else { panic!() };
        assert!(updated.contains("my.imports = [ ];\n  imports = [ ./deskrun.nix ];"), "{updated}");
    }

    #[test]
    fn the_lxc_images_list_gets_its_own_line() {
        let text = "{ modulesPath, ... }:\n{\n  imports =\n    [ # Include the lxc config.\n      \
                    \"${modulesPath}/virtualisation/lxc-container.nix\"\n    ];\n}\n";
        let ImportEdit::Updated(updated) = import_host_config(text) else { panic!() };
        let expected = "[ # Include the lxc config.\n      ./deskrun.nix\n      \"${modulesPath}";
        assert!(updated.contains(expected), "{updated}");
    }

    #[test]
    fn commented_imports_do_not_count() {
        let text = "# imports = [ ./deskrun.nix ];\n{ ... }:\n{\n  imports = [ ];\n}\n";
        let ImportEdit::Updated(updated) = import_host_config(text) else { panic!() };
        assert!(updated.contains("  imports = [ ./deskrun.nix ];"), "{updated}");
        assert_eq!(import_host_config("{ ... }: { }\n"), ImportEdit::NoImportsList);
    }

    #[test]
    fn names_and_disks_are_checked_before_incus_sees_them() {
        for ok in ["deskrun-a1b2c3", "h", "lab-1"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1host", "-x", "x-", "Host", "a b", "a:b", &"x".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad:?} must be refused");
        }
        for ok in ["200GiB", "1TB", "500MiB"] {
            assert!(validate_disk(ok).is_ok(), "{ok}");
        }
        for bad in ["", "200", "GiB", "0GiB", "200 GiB", "200gib", "1.5GiB", "200GiB,x=y"] {
            assert!(validate_disk(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn random_names_are_valid() {
        let name = random_name();
        assert!(validate_name(&name).is_ok(), "{name}");
        assert_eq!(name.len(), "deskrun-".len() + 6, "{name}");
    }
}
