//! The deskrun engine: everything the `deskrun` CLI (and later the desktop app) does, with no
//! user interface of its own.
//!
//! Data flows one way: [`config`] holds what the user asked for, [`spec`] validates it,
//! [`reconcile`] turns it into Helm releases and Kubernetes objects through [`arc`] and
//! [`cluster`], and [`status`] reads the cluster back. Tokens and keys live only in
//! [`secrets`]; external programs (`kind`, `helm`) are run only through [`process`].

pub mod activity;
pub mod app_key;
pub mod arc;
pub mod cluster;
pub mod cluster_host;
pub mod config;
pub mod doctor;
pub mod github;
pub mod helm;
pub mod incus;
pub mod operations;
pub mod paths;
pub mod process;
pub mod reconcile;
pub mod secrets;
pub mod spec;
pub mod status;

/// The namespace ARC's controller and every scale set live in, as in the original deskrun.
pub const ARC_NAMESPACE: &str = "arc-systems";

/// The label deskrun puts on every object it creates itself (Secrets, ConfigMaps), so that
/// it can find and remove them without touching anything else in the namespace.
pub const MANAGED_BY_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "deskrun");

/// The label naming the installation an object belongs to.
pub const INSTALLATION_LABEL: &str = "deskrun.dev/installation";
