//! `deskrun list` and `deskrun status`: tables for people, JSON for scripts.

use std::fmt::Write;

use deskrun::cluster::KindCluster;
use deskrun::config::ConfigStore;
use deskrun::spec::{Auth, Installation};
use deskrun::status::RunnerStatus;
use serde::Serialize;

use super::OutputFormat;
use super::output::print;

/// One row of `list --output json`: the installation as configured, never a secret.
#[derive(Serialize)]
struct ListEntry<'a> {
    #[serde(flatten)]
    installation: &'a Installation,
    scale_sets: Vec<String>,
    runs_on: String,
}

pub fn list(format: OutputFormat) -> anyhow::Result<()> {
    let config = ConfigStore::from_env()?.load()?;
    let installations: Vec<&Installation> = config.installations.values().collect();
    if format == OutputFormat::Json {
        let entries: Vec<ListEntry> = installations
            .iter()
            .map(|inst| ListEntry {
                installation: inst,
                scale_sets: inst.scale_sets().into_iter().map(|s| s.name).collect(),
                runs_on: inst.runs_on(),
            })
            .collect();
        return print(&format!("{}\n", serde_json::to_string_pretty(&entries)?));
    }
    if installations.is_empty() {
        return print("No installations. Add one with `deskrun add NAME --repository URL`.\n");
    }
    let rows: Vec<[String; 6]> = installations
        .iter()
        .map(|inst| {
            let runners = if inst.instances > 1 {
                format!("{}×1", inst.instances)
            } else {
                format!("{}-{}", inst.min_runners, inst.max_runners)
            };
            let auth = match &inst.auth {
                Auth::Pat => "pat".to_owned(),
                Auth::GithubApp { app_id, .. } => format!("github-app {app_id}"),
            };
            let mounts: Vec<String> = inst.mounts.iter().map(|m| m.to_spec()).collect();
            [
                inst.name.clone(),
                inst.repository.to_string(),
                inst.mode.to_string(),
                runners,
                auth,
                if mounts.is_empty() { "-".to_owned() } else { mounts.join(",") },
            ]
        })
        .collect();
    let headers = ["NAME", "REPOSITORY", "MODE", "RUNNERS", "AUTH", "MOUNTS"];
    print(&table(&headers, &rows))
}

/// `status --output json`.
#[derive(Serialize)]
struct StatusReport {
    cluster: ClusterState,
    runners: Vec<RunnerStatus>,
}

#[derive(Serialize)]
struct ClusterState {
    name: String,
    context: String,
    running: bool,
}

pub async fn status(only: Option<&str>, format: OutputFormat) -> anyhow::Result<()> {
    let config = ConfigStore::from_env()?.load()?;
    if let Some(name) = only {
        let known = config
            .installations
            .values()
            .any(|inst| inst.name == name || inst.scale_sets().iter().any(|s| s.name == name));
        anyhow::ensure!(known, "no installation named {name:?}; `deskrun list` shows them");
    }
    let cluster = KindCluster::new(&config.cluster.name);
    let running = cluster.exists().await?;
    let runners = if running {
        let handle = cluster.connect().await?;
        deskrun::status::read(&handle, &config, only).await?
    } else {
        Vec::new()
    };
    let report = StatusReport {
        cluster: ClusterState {
            name: cluster.name().to_owned(),
            context: cluster.context(),
            running,
        },
        runners,
    };
    match format {
        OutputFormat::Json => print(&format!("{}\n", serde_json::to_string_pretty(&report)?)),
        OutputFormat::Text => print(&render_status(&report)),
    }
}

fn render_status(report: &StatusReport) -> String {
    let mut out = String::new();
    let cluster = &report.cluster;
    if !cluster.running {
        let _ = writeln!(out, "Cluster {}: not running; `deskrun up` starts it", cluster.name);
        return out;
    }
    let _ = writeln!(out, "Cluster {}: running (context {})", cluster.name, cluster.context);
    if report.runners.is_empty() {
        out.push_str("No runners. Add one with `deskrun add NAME --repository URL`.\n");
        return out;
    }
    out.push('\n');
    let rows: Vec<[String; 7]> = report
        .runners
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.phase.clone(),
                r.listener.clone(),
                r.running.to_string(),
                r.pending.to_string(),
                r.failed.to_string(),
                r.jobs.len().to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["NAME", "PHASE", "LISTENER", "RUNNING", "PENDING", "FAILED", "JOBS"],
        &rows,
    ));
    let jobs: Vec<_> =
        report.runners.iter().flat_map(|r| r.jobs.iter().map(move |j| (r, j))).collect();
    if !jobs.is_empty() {
        out.push_str("\nCurrent jobs:\n");
        for (runner, job) in jobs {
            let _ = writeln!(
                out,
                "  {}  {}  {} ({})",
                runner.name, job.runner, job.job, job.repository
            );
        }
    }
    out
}

/// A left-aligned table, columns two spaces apart.
fn table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headers.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(widths) {
            let _ = write!(text, "{cell:<width$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}
