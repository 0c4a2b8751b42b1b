//! Argument definitions (clap) and the dispatch to one function per command. Each command
//! adapts engine calls and prints; the rules live in the engine.

mod add;
mod cluster;
mod cluster_host;
mod completions;
mod doctor;
mod output;
mod reconcile;
mod status;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use output::is_broken_pipe;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  the command failed (the message says why and how to fix it); for `doctor`: a check
     failed
  2  the command line was wrong (unknown flag, missing argument)
  130  interrupted (Ctrl-C or SIGTERM); temporary files are removed first

Environment:
  DESKRUN_CONFIG_DIR    directory of config.json (default: the platform config directory)
  DESKRUN_DATA_DIR      directory of auto-chosen caches (default: the platform data directory)
  DESKRUN_TOKEN         the token for `add` (instead of a prompt or --token-stdin)
  DESKRUN_CHART_SOURCE  ARC chart source: an oci:// registry or a directory of charts
  DESKRUN_KIND, DESKRUN_HELM, DESKRUN_INCUS  paths of the kind, helm and incus executables
  DESKRUN_GITHUB_API_URL  GitHub REST API base (default: from the URL's host)
  RUST_LOG              log filter, e.g. RUST_LOG=deskrun=debug (or use --verbose)";

/// Run GitHub Actions jobs on this machine: a local kind cluster with GitHub's Actions
/// Runner Controller and one runner scale set per configured repository.
#[derive(Debug, Parser)]
#[command(name = "deskrun", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Log what deskrun does to stderr (same as RUST_LOG=deskrun=debug).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    command: Command,
}

const LIST_AFTER_HELP: &str = "\
With --output json: an array, one object per installation (never a secret):
  [{name, repository, mode, min_runners, max_runners, instances, mounts, auth: {type, …},
    scale_sets: [..], runs_on}]
Fields are only ever added.";

const STATUS_AFTER_HELP: &str = "\
With --output json:
  {cluster: {name, context, running},
   runners: [{name, installation, deployed, phase, listener, running, pending, failed,
              jobs: [{runner, job, repository, workflow_run_id}]}]}
Fields are only ever added. With --watch, the status object comes first, then one event
object per line.

Examples:
  deskrun status                 # every runner
  deskrun status web -o json     # one installation, for scripts";

const UP_AFTER_HELP: &str = "\
up prints its plan before it applies it, a line per change:
  + deploy scale set web          (new)
  ~ update scale set api (...)    (changed, with what changed)
  - remove scale set old          (no longer configured)
then applies the changes, each with its progress. Nothing changed: \"Nothing to change\",
and no write to the cluster. A change that needs new host paths mapped into the kind node
needs the cluster recreated: up asks first (or --recreate-cluster says yes).

Examples:
  deskrun up                     # after add --no-deploy, a config edit, or a reboot
  deskrun up --recreate-cluster  # after adding a --mount of a new host path";

#[derive(Debug, Subcommand)]
enum Command {
    /// Add a runner installation: save it (token in the OS keyring) and deploy it.
    #[command(after_help = add::AFTER_HELP)]
    Add(Box<AddArgs>),
    /// List the configured runner installations.
    #[command(after_help = LIST_AFTER_HELP)]
    List(OutputArgs),
    /// Show the cluster and, per runner: phase, listener, runners running/pending/failed,
    /// and the jobs they run.
    #[command(after_help = STATUS_AFTER_HELP)]
    Status(StatusArgs),
    /// Remove an installation from the cluster, the config and the keyring.
    Remove {
        /// The installation to remove.
        name: String,
    },
    /// Make the cluster match the config: create the cluster if missing, install or upgrade
    /// ARC, deploy or update every scale set, remove those no longer configured.
    #[command(after_help = UP_AFTER_HELP)]
    Up(UpArgs),
    /// Remove every scale set from the cluster; the config is kept, `up` brings them back.
    Down,
    /// Create, delete or inspect the local kind cluster.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Create, list, configure or delete cluster hosts: NixOS containers on the current Incus
    /// remote with Docker, kind, kubectl and deskrun inside.
    #[command(subcommand, after_help = cluster_host::AFTER_HELP)]
    ClusterHost(cluster_host::ClusterHostCommand),
    /// Check this machine: Docker, kind, Helm, kernel limits, disk, cgroups, keyring, and the
    /// desktop's notification service and tray. Exits 1 when a check fails.
    #[command(after_help = doctor::AFTER_HELP)]
    Doctor(OutputArgs),
    /// Print the completion script for a shell.
    #[command(after_help = completions::AFTER_HELP)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into --dir.
    Man {
        /// Write deskrun.1 and a page per subcommand here instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print deskrun's version and the ARC version it deploys.
    Version,
}

/// `--output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// A table for people.
    #[default]
    Text,
    /// JSON for scripts (the shape is stable).
    Json,
}

#[derive(Debug, Args)]
struct OutputArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Only this installation (or scale set).
    name: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    /// Then print what happens, a line per event (one JSON object per line with --output
    /// json: the status first, then the events), until Ctrl-C.
    #[arg(short, long)]
    watch: bool,
}

#[derive(Debug, Args)]
struct UpArgs {
    /// Recreate the cluster without asking when new host paths must be mapped into it.
    #[arg(long)]
    recreate_cluster: bool,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Create the kind cluster (with every configured host path mapped in).
    Create,
    /// Delete the kind cluster; the config is kept.
    Delete,
    /// Say whether the cluster exists and how to reach it.
    Status(OutputArgs),
}

/// `deskrun add`.
#[derive(Debug, Args)]
struct AddArgs {
    /// The scale set name: what `runs-on:` targets (a DNS label, at most 42 characters).
    name: String,
    /// GitHub URL the runners register with: https://github.com/OWNER/REPO, an
    /// organization https://github.com/ORG, or https://github.com/enterprises/ENT.
    /// Required, except with --replace (which keeps the saved value of every flag not given).
    #[arg(short, long, value_name = "URL")]
    repository: Option<String>,
    /// Container mode: kubernetes (each job in its own pod), cached-privileged-kubernetes
    /// (job pods privileged root, for systemd and nested containers), or dind
    /// (Docker-in-Docker).
    /// [default: kubernetes]
    #[arg(short, long, value_name = "MODE",
          value_parser = ["kubernetes", "cached-privileged-kubernetes", "dind"])]
    mode: Option<String>,
    /// Idle runners kept ready, 0 or more, at most --max-runners [default: 1].
    #[arg(long, value_name = "N")]
    min_runners: Option<u32>,
    /// The most runners at once, 1 to 256 [default: 5].
    #[arg(long, value_name = "N")]
    max_runners: Option<u32>,
    /// Make N scale sets <name>-1 … <name>-N, each with one runner and its own caches; 1 to
    /// 32 [default: 1].
    #[arg(long, value_name = "N")]
    instances: Option<u32>,
    /// Host path to mount: TARGET (deskrun picks a cache path), SRC:TARGET, or
    /// SRC:TARGET:TYPE with TYPE DirectoryOrCreate (default), Directory or Socket.
    #[arg(long = "mount", value_name = "SPEC")]
    mounts: Vec<String>,
    /// Older spelling of --mount: TARGET or SRC:TARGET, several separated by commas.
    #[arg(long = "cache", value_name = "SPEC")]
    caches: Vec<String>,
    /// Credentials: pat (personal access token) or github-app.
    /// [default: pat]
    #[arg(long, value_name = "TYPE", value_parser = ["pat", "github-app"])]
    auth_type: Option<String>,
    /// The token (or, for github-app, the private key PEM). Visible to other processes and
    /// kept in shell history: prefer --token-stdin, DESKRUN_TOKEN or the prompt.
    // NB: hyphen values allowed: a PEM starts with "-----BEGIN", and without this clap
    // refuses it with an error that echoes the whole key.
    #[arg(long, value_name = "SECRET", hide_env_values = true, allow_hyphen_values = true)]
    auth_value: Option<String>,
    /// Read the token (or private key) from standard input.
    #[arg(long)]
    token_stdin: bool,
    /// GitHub App ID (or client ID), with --auth-type github-app.
    #[arg(long, value_name = "ID")]
    app_id: Option<String>,
    /// GitHub App installation ID, with --auth-type github-app. Omitted: deskrun looks it up
    /// through GitHub's API with the App's key (so --no-verify needs it given).
    #[arg(long, value_name = "ID")]
    installation_id: Option<String>,
    /// GitHub App private key file (PEM), with --auth-type github-app.
    #[arg(long, value_name = "PATH")]
    private_key_file: Option<PathBuf>,
    /// Only save; do not deploy now (`deskrun up` deploys later).
    #[arg(long)]
    no_deploy: bool,
    /// Skip checking the credentials against GitHub's API (for offline use); by default
    /// deskrun checks that they can register runners for the URL before saving anything.
    #[arg(long)]
    no_verify: bool,
    /// Change an existing installation: flags given replace saved values, the others (and
    /// the token, when none is given) are kept. Its runners are updated in place and, for
    /// new credentials, its listeners restart.
    #[arg(long)]
    replace: bool,
}

/// Sets up logging to stderr: warnings by default, debug with `--verbose`, or `RUST_LOG`.
pub fn init_logging(verbose: bool) {
    // NB: off by default: the CLI prints every error itself, once; logs are for --verbose.
    let default = if verbose { "deskrun=debug" } else { "off" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // NB: generators and the doctor must not change anything, so they skip the import.
    let read_only = matches!(
        cli.command,
        Command::Version | Command::Completions { .. } | Command::Man { .. } | Command::Doctor(_)
    );
    if !read_only {
        import_legacy_config();
    }
    match cli.command {
        Command::Add(args) => add::run(*args).await,
        Command::List(args) => status::list(args.output),
        Command::Status(args) => {
            status::status(args.name.as_deref(), args.output.output, args.watch).await
        }
        Command::Remove { name } => reconcile::remove(&name).await,
        Command::Up(args) => reconcile::up(args.recreate_cluster).await,
        Command::Down => reconcile::down().await,
        Command::Cluster(ClusterCommand::Create) => cluster::create().await,
        Command::Cluster(ClusterCommand::Delete) => cluster::delete().await,
        Command::Cluster(ClusterCommand::Status(args)) => cluster::status(args.output).await,
        Command::ClusterHost(command) => cluster_host::run(command).await,
        Command::Doctor(args) => doctor::run(args.output).await,
        Command::Completions { shell } => completions::completions(shell),
        Command::Man { dir } => completions::man(dir.as_deref()),
        Command::Version => output::print(&format!(
            "deskrun {} (ARC {})\n",
            env!("CARGO_PKG_VERSION"),
            deskrun::arc::ARC_VERSION
        )),
    }
}

/// Moves the original deskrun's plaintext tokens into the keyring, once, and says so. A
/// failure is a warning: the command the user asked for still runs.
fn import_legacy_config() {
    use deskrun::config::{ConfigStore, legacy};
    let (Some(path), Ok(store)) = (legacy::default_path(), ConfigStore::from_env()) else {
        return;
    };
    match legacy::import(&path, &store, &deskrun::secrets::SecretStore::from_env()) {
        Ok(None) => {}
        Ok(Some(report)) => {
            output::progress(&format!(
                "Moved the plaintext tokens of the original deskrun's {} into the OS keyring \
                 and removed them from that file.",
                report.path.display()
            ));
            if !report.imported.is_empty() {
                output::progress(&format!("  imported: {}", report.imported.join(", ")));
            }
            for (name, reason) in &report.skipped {
                output::progress(&format!("  not imported: {name}: {reason}"));
            }
        }
        Err(error) => {
            let chain: Vec<String> =
                anyhow::Error::new(error).chain().map(ToString::to_string).collect();
            output::progress(&format!("warning: {}", chain.join(": ")));
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub async fn stop_requested() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // NB: without a handler there is no Ctrl-C to wait for; the default kills us.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = async {
            match signal(SignalKind::terminate()) {
                Ok(mut term) => drop(term.recv().await),
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}

impl Cli {
    /// Whether the command stops on Ctrl-C by itself (`status --watch` ends cleanly there);
    /// every other command is dropped where it stands, which removes its temporary files
    /// (the cluster's kubeconfig copy) and kills its child processes.
    pub fn stops_by_itself(&self) -> bool {
        matches!(&self.command, Command::Status(args) if args.watch)
    }
}
