//! `deskrun cluster create | delete | status`, and the cluster creation `up` shares.

use std::path::PathBuf;

use anyhow::Context;
use deskrun::arc::{self, CacheRoot};
use deskrun::cluster::{KindCluster, KindConfig};
use deskrun::config::{Config, ConfigStore};
use serde::Serialize;

use super::OutputFormat;
use super::output::{print, progress};

/// Host paths the config mounts that the running cluster was not created with.
pub fn missing_host_paths(config: &Config) -> Vec<PathBuf> {
    arc::required_host_paths(config.installations.values())
        .into_iter()
        .filter(|path| !config.cluster.host_mounts.contains(path))
        .collect()
}

/// Creates the cluster with the cache root and every configured host path mapped in, and
/// records the mapped paths in the config.
pub async fn create_cluster(store: &ConfigStore, cluster: &KindCluster) -> anyhow::Result<()> {
    let config = store.load()?;
    let data_dir = deskrun::paths::data_dir()
        .context("cannot find a data directory: set DESKRUN_DATA_DIR or HOME")?;
    let cache_root = CacheRoot::new(&data_dir);
    std::fs::create_dir_all(&cache_root.host).with_context(|| {
        format!("cannot create the cache directory {}", cache_root.host.display())
    })?;
    let host_paths = arc::required_host_paths(config.installations.values());
    progress(&format!(
        "Creating kind cluster {} (the first time takes a few minutes to pull the node image)…",
        cluster.name()
    ));
    cluster.create(&KindConfig::new(&cache_root.host, &host_paths)).await?;
    store.update(|config| {
        config.cluster.host_mounts = host_paths;
        Ok::<_, anyhow::Error>(())
    })?;
    progress(&format!("Created cluster {} (context {})", cluster.name(), cluster.context()));
    Ok(())
}

pub async fn create() -> anyhow::Result<()> {
    let store = ConfigStore::from_env()?;
    let cluster = KindCluster::new(&store.load()?.cluster.name);
    if cluster.exists().await? {
        progress(&format!("Cluster {} already exists", cluster.name()));
        return Ok(());
    }
    create_cluster(&store, &cluster).await
}

pub async fn delete() -> anyhow::Result<()> {
    let store = ConfigStore::from_env()?;
    let cluster = KindCluster::new(&store.load()?.cluster.name);
    if !cluster.exists().await? {
        progress(&format!("Cluster {} does not exist", cluster.name()));
        return Ok(());
    }
    progress(&format!("Deleting cluster {}…", cluster.name()));
    cluster.delete().await?;
    store.update(|config| {
        config.cluster.host_mounts.clear();
        Ok::<_, anyhow::Error>(())
    })?;
    progress(&format!(
        "Deleted cluster {}; the config is kept and caches stay on the host",
        cluster.name()
    ));
    Ok(())
}

/// `cluster status --output json`.
#[derive(Serialize)]
struct ClusterReport {
    name: String,
    context: String,
    running: bool,
    host_mounts: Vec<PathBuf>,
}

pub async fn status(format: OutputFormat) -> anyhow::Result<()> {
    let config = ConfigStore::from_env()?.load()?;
    let cluster = KindCluster::new(&config.cluster.name);
    let report = ClusterReport {
        name: cluster.name().to_owned(),
        context: cluster.context(),
        running: cluster.exists().await?,
        host_mounts: config.cluster.host_mounts.clone(),
    };
    match format {
        OutputFormat::Json => print(&format!("{}\n", serde_json::to_string_pretty(&report)?)),
        OutputFormat::Text => print(&format!(
            "Cluster {}: {} (context {})\n",
            report.name,
            if report.running { "running" } else { "not running; `deskrun up` creates it" },
            report.context
        )),
    }
}
