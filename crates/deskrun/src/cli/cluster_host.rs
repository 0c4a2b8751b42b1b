//! `deskrun cluster-host create | list | configure | delete`: the arguments, and printing
//! what [`deskrun::cluster_host`] does.

use clap::{Args, Subcommand};
use deskrun::cluster_host::{
    ClusterHosts, CreateOptions, DEFAULT_DISK, DEFAULT_FLAKE, DEFAULT_IMAGE, HostStatus,
};
use deskrun::config::ConfigStore;

use super::output::{print, progress};
use super::{OutputArgs, OutputFormat};

/// `deskrun cluster-host --help`, after the subcommands.
pub const AFTER_HELP: &str = "\
A cluster host is a NixOS container on the current Incus remote (`incus remote switch` picks
another) with Docker, kind, kubectl, Helm and deskrun inside, set up by the NixOS module in
nix/module.nix. Use it with `incus exec REMOTE:NAME -- deskrun …`.

JSON (list --output json): [{\"name\", \"remote\", \"image\", \"disk\", \"flake\",
\"created_at\", \"status\"}], status as incus says it (Running, Stopped, …), or Missing, or
Unreachable.

Environment:
  DESKRUN_INCUS  path of the incus executable";

/// `deskrun cluster-host …`.
#[derive(Debug, Subcommand)]
pub enum ClusterHostCommand {
    /// Launch a NixOS container on the current Incus remote and set it up with Docker, kind,
    /// kubectl, Helm and deskrun.
    Create(CreateArgs),
    /// List the cluster hosts deskrun created, with their state on their remote.
    List(OutputArgs),
    /// Push the NixOS configuration again and rebuild: after a deskrun update, or when
    /// `create` failed while configuring.
    Configure {
        /// The cluster host.
        name: String,
        /// Take deskrun from this flake from now on.
        #[arg(long, value_name = "REF")]
        flake: Option<String>,
    },
    /// Delete a cluster host's container (stopping it) and forget it.
    Delete {
        /// The cluster host.
        name: String,
    },
}

/// `deskrun cluster-host create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The container's name [default: deskrun-XXXXXX].
    #[arg(long)]
    name: Option<String>,
    /// Root disk size.
    #[arg(long, default_value = DEFAULT_DISK, value_name = "SIZE")]
    disk: String,
    /// The NixOS image.
    #[arg(long, default_value = DEFAULT_IMAGE)]
    image: String,
    /// The flake deskrun is installed from inside the host.
    #[arg(long, default_value = DEFAULT_FLAKE, value_name = "REF")]
    flake: String,
}

pub async fn run(command: ClusterHostCommand) -> anyhow::Result<()> {
    let hosts = ClusterHosts::new(ConfigStore::from_env()?);
    let report = |line: &str| progress(line);
    match command {
        ClusterHostCommand::Create(args) => {
            let options = CreateOptions {
                name: args.name,
                disk: args.disk,
                image: args.image,
                flake: args.flake,
            };
            let host = hosts.create(&options, &report).await?;
            print(&format!(
                "Cluster host {name} is ready on Incus remote {remote}.\nUse it: incus exec \
                 {remote}:{name} -- deskrun --help\n",
                name = host.name,
                remote = host.remote
            ))
        }
        ClusterHostCommand::List(args) => list(&hosts, args.output).await,
        ClusterHostCommand::Configure { name, flake } => {
            let host = hosts.configure(&name, flake.as_deref(), &report).await?;
            print(&format!("Cluster host {} is configured.\n", host.name))
        }
        ClusterHostCommand::Delete { name } => {
            let existed = hosts.delete(&name, &report).await?;
            let note = if existed { "" } else { " (its container was already gone)" };
            print(&format!("Deleted cluster host {name}{note}.\n"))
        }
    }
}

async fn list(hosts: &ClusterHosts, format: OutputFormat) -> anyhow::Result<()> {
    let hosts = hosts.list().await?;
    if format == OutputFormat::Json {
        return print(&format!("{}\n", serde_json::to_string_pretty(&hosts)?));
    }
    if hosts.is_empty() {
        return print("No cluster hosts. Create one with `deskrun cluster-host create`.\n");
    }
    let rows: Vec<[String; 6]> = hosts
        .iter()
        .map(|HostStatus { host, status }| {
            [
                host.name.clone(),
                host.remote.clone(),
                status.clone(),
                host.image.clone(),
                host.disk.clone(),
                host.created_at.clone(),
            ]
        })
        .collect();
    print(&super::status::table(&["NAME", "REMOTE", "STATUS", "IMAGE", "DISK", "CREATED"], &rows))
}
