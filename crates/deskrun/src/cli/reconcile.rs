//! `deskrun up`, `down`, `remove`, and the deploy step of `add`: connect (creating the
//! cluster where asked), print the plan, apply it with progress.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, bail};
use deskrun::arc::ChartSource;
use deskrun::cluster::{self, ClusterHandle, KindCluster};
use deskrun::config::{Config, ConfigStore};
use deskrun::process;
use deskrun::reconcile::{Action, Plan, Reconciler, Scope};
use deskrun::secrets::{self, SecretStore};

use super::cluster::{create_cluster, missing_host_paths};
use super::output::progress;

pub async fn up(recreate_cluster: bool) -> anyhow::Result<()> {
    let store = ConfigStore::from_env()?;
    let config = store.load()?;
    check_keyring(&config)?;
    let cluster = KindCluster::new(&config.cluster.name);
    if !cluster.exists().await? {
        create_cluster(&store, &cluster).await?;
    } else {
        let missing = missing_host_paths(&config);
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
            progress(&format!(
                "Cluster {} must be recreated to map new host paths into its node: {}\n\
                 (kind fixes mounts at creation; every runner restarts, caches on the host stay)",
                cluster.name(),
                list.join(", ")
            ));
            if !recreate_cluster && !confirm("Recreate the cluster now?")? {
                bail!("cluster not recreated; run `deskrun up --recreate-cluster` when ready");
            }
            cluster.delete().await?;
            create_cluster(&store, &cluster).await?;
        }
    }
    let config = store.load()?;
    let plan = reconcile(&config, &cluster, &Scope::All).await?;
    if !plan.skipped.is_empty() {
        let names: Vec<&str> = plan.skipped.iter().map(|(name, _)| name.as_str()).collect();
        bail!(
            "{} installation(s) left as they were because their credentials are missing from \
             the keyring: {}; store them again with `deskrun add NAME --replace …`",
            names.len(),
            names.join(", ")
        );
    }
    Ok(())
}

/// Fails early, before anything is created or deleted, when the keyring cannot be used at
/// all; a single missing entry is reported later and does not stop the others.
fn check_keyring(config: &Config) -> anyhow::Result<()> {
    let secrets = SecretStore::default();
    for name in config.installations.keys() {
        match secrets.load(name) {
            Ok(_) | Err(secrets::Error::Missing { .. }) => {}
            Err(error) => return Err(error).context("cannot read the runners' credentials"),
        }
    }
    Ok(())
}

pub async fn down() -> anyhow::Result<()> {
    let config = ConfigStore::from_env()?.load()?;
    let cluster = KindCluster::new(&config.cluster.name);
    if !cluster.exists().await? {
        progress(&format!("Cluster {} is not running; nothing to remove", cluster.name()));
        return Ok(());
    }
    reconcile(&config, &cluster, &Scope::Nothing).await?;
    progress("The config is kept: `deskrun up` deploys the runners again");
    Ok(())
}

/// Deploys one installation if the cluster runs; otherwise says how to start it.
pub async fn deploy_one(name: &str) -> anyhow::Result<()> {
    let config = ConfigStore::from_env()?.load()?;
    let cluster = KindCluster::new(&config.cluster.name);
    let running = match cluster.exists().await {
        Ok(running) => running,
        Err(error) if cluster_unreachable(&error) => {
            progress(&format!("Not deployed now: {error}\nThen `deskrun up` deploys {name}."));
            return Ok(());
        }
        Err(error) => return Err(error.into()),
    };
    if !running {
        progress(&format!(
            "Cluster {} is not running: `deskrun up` creates it and deploys {name}",
            cluster.name()
        ));
        return Ok(());
    }
    if !missing_host_paths(&config).is_empty() {
        progress(&format!(
            "{name} mounts host paths the cluster does not have: `deskrun up` recreates it"
        ));
        return Ok(());
    }
    reconcile(&config, &cluster, &Scope::Only(name.to_owned())).await?;
    Ok(())
}

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

pub async fn remove(name: &str) -> anyhow::Result<()> {
    let store = ConfigStore::from_env()?;
    let config = store.load()?;
    let Some(installation) = config.installations.get(name).cloned() else {
        bail!("no installation named {name:?}; `deskrun list` shows the configured ones");
    };
    let cluster = KindCluster::new(&config.cluster.name);
    match cluster.exists().await {
        Ok(true) => {
            let handle = connect(&cluster).await?;
            reconciler(&handle, &config)
                .remove_installation(&installation, &|action| progress(&format!("  {action}")))
                .await?;
        }
        Ok(false) => {}
        Err(error) if cluster_unreachable(&error) => progress(&format!(
            "warning: cannot reach cluster {} ({error}); if it still runs {name}, `deskrun up` \
             removes it there later",
            cluster.name()
        )),
        Err(error) => return Err(error.into()),
    }
    // NB: the keyring first: if it fails for another reason than being unavailable, the
    // config still lists the installation and `remove` can simply be run again.
    match SecretStore::default().delete(name) {
        Ok(()) => {}
        Err(error @ secrets::Error::Unavailable { .. }) => progress(&format!(
            "warning: {error}; the token of {name} may remain in the keyring (service \
             \"deskrun\", account \"{name}\")"
        )),
        Err(error) => return Err(error).context("cannot remove the token from the keyring"),
    }
    store.update(|config| {
        config.installations.remove(name);
        Ok::<_, anyhow::Error>(())
    })?;
    progress(&format!("Removed installation {name}"));
    Ok(())
}

async fn connect(cluster: &KindCluster) -> anyhow::Result<ClusterHandle> {
    cluster.connect().await.with_context(|| format!("cannot connect to cluster {}", cluster.name()))
}

fn reconciler<'a>(handle: &'a ClusterHandle, config: &Config) -> Reconciler<'a> {
    Reconciler::new(handle, ChartSource::resolve(&config.arc), SecretStore::default())
}

async fn reconcile(config: &Config, cluster: &KindCluster, scope: &Scope) -> anyhow::Result<Plan> {
    let handle = connect(cluster).await?;
    let reconciler = reconciler(&handle, config);
    let plan = reconciler.plan(config, scope).await?;
    for (name, error) in &plan.skipped {
        progress(&format!("warning: skipping {name}: {error}"));
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
        progress(&message);
        return Ok(plan);
    }
    progress(&format!("Plan for {}:", handle.context()));
    for action in &plan.actions {
        progress(&format!("  {action}"));
    }
    for unchanged in &plan.unchanged {
        progress(&format!("  = {unchanged} unchanged"));
    }
    let started = Instant::now();
    let total = plan.actions.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let report = |action: &Action| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(&format!("[{n}/{total}] done: {action}"));
    };
    reconciler.apply(&plan, &report).await?;
    progress(&format!("Applied {total} change(s) in {:.1}s", started.elapsed().as_secs_f64()));
    Ok(plan)
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
