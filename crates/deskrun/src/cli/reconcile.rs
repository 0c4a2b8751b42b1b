//! `deskrun up`, `down`, `remove`, and the deploy step of `add`: connect (creating the
//! cluster where asked), print the plan, apply it with progress.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, bail};
use deskrun::arc::{self, ChartSource};
use deskrun::cluster::{ClusterHandle, KindCluster};
use deskrun::config::{Config, ConfigStore};
use deskrun::reconcile::{Action, Reconciler, Scope};
use deskrun::secrets::SecretStore;

use super::cluster::{create_cluster, missing_host_paths};
use super::output::progress;

pub async fn up(recreate_cluster: bool) -> anyhow::Result<()> {
    let store = ConfigStore::from_env()?;
    let config = store.load()?;
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
    reconcile(&config, &cluster, &Scope::All).await
}

pub async fn down() -> anyhow::Result<()> {
    let config = ConfigStore::from_env()?.load()?;
    let cluster = KindCluster::new(&config.cluster.name);
    if !cluster.exists().await? {
        progress(&format!(
            "Cluster {} is not running; nothing to remove",
            cluster.name()
        ));
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
    if !cluster.exists().await? {
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
    reconcile(&config, &cluster, &Scope::Only(name.to_owned())).await
}

pub async fn remove(name: &str) -> anyhow::Result<()> {
    let store = ConfigStore::from_env()?;
    let config = store.load()?;
    let Some(installation) = config.installations.get(name).cloned() else {
        bail!("no installation named {name:?}; `deskrun list` shows the configured ones");
    };
    let cluster = KindCluster::new(&config.cluster.name);
    if cluster.exists().await? {
        let mut remaining = config.clone();
        remaining.installations.remove(name);
        let handle = connect(&cluster).await?;
        let reconciler = reconciler(&handle, &config);
        let mut plan = reconciler.plan(&remaining, &Scope::All).await?;
        // NB: only this installation's objects go; other pending changes wait for `up`.
        let releases: Vec<String> = installation
            .scale_sets()
            .into_iter()
            .map(|s| s.name)
            .collect();
        let mut objects: Vec<String> = releases
            .iter()
            .map(|r| arc::hook_config_map_name(r))
            .collect();
        objects.push(arc::credentials_secret_name(name));
        plan.actions.retain(|action| match action {
            Action::Remove { release } => releases.contains(release),
            Action::DeleteObject { name: object, .. } => objects.contains(object),
            _ => false,
        });
        apply(&reconciler, &plan).await?;
    }
    store.update(|config| {
        config.installations.remove(name);
        Ok::<_, anyhow::Error>(())
    })?;
    SecretStore::default()
        .delete(name)
        .context("cannot remove the token from the keyring")?;
    progress(&format!("Removed installation {name}"));
    Ok(())
}

async fn connect(cluster: &KindCluster) -> anyhow::Result<ClusterHandle> {
    cluster
        .connect()
        .await
        .with_context(|| format!("cannot connect to cluster {}", cluster.name()))
}

fn reconciler<'a>(handle: &'a ClusterHandle, config: &Config) -> Reconciler<'a> {
    Reconciler::new(
        handle,
        ChartSource::resolve(&config.arc),
        SecretStore::default(),
    )
}

async fn reconcile(config: &Config, cluster: &KindCluster, scope: &Scope) -> anyhow::Result<()> {
    let handle = connect(cluster).await?;
    let reconciler = reconciler(&handle, config);
    let plan = reconciler.plan(config, scope).await?;
    if plan.is_empty() {
        progress(&format!(
            "Nothing to change: {} scale set(s) up to date in {}",
            plan.unchanged.len(),
            handle.context()
        ));
        return Ok(());
    }
    progress(&format!("Plan for {}:", handle.context()));
    for action in &plan.actions {
        progress(&format!("  {action}"));
    }
    for unchanged in &plan.unchanged {
        progress(&format!("  = {unchanged} unchanged"));
    }
    apply(&reconciler, &plan).await
}

async fn apply(reconciler: &Reconciler<'_>, plan: &deskrun::reconcile::Plan) -> anyhow::Result<()> {
    let started = Instant::now();
    let total = plan.actions.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let report = |action: &Action| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(&format!("[{n}/{total}] done: {action}"));
    };
    reconciler.apply(plan, &report).await?;
    progress(&format!(
        "Applied {total} change(s) in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
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
