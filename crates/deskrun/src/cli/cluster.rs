//! `deskrun cluster create | delete | status`, and the cluster creation `up` shares.

use std::path::PathBuf;

use deskrun::cluster::KindCluster;
use deskrun::config::ConfigStore;
use deskrun::operations;
use serde::Serialize;

use super::OutputFormat;
use super::output::print;

pub async fn create() -> anyhow::Result<()> {
    let store = ConfigStore::from_env()?;
    let cluster = KindCluster::new(&store.load()?.cluster.name);
    if cluster.exists().await? {
        super::output::progress(&format!("Cluster {} already exists", cluster.name()));
        return Ok(());
    }
    operations::create_cluster(&store, &cluster, &super::output::show).await?;
    Ok(())
}

pub async fn delete() -> anyhow::Result<()> {
    operations::delete_cluster(&ConfigStore::from_env()?, &super::output::show).await?;
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
