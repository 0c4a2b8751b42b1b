//! `deskrun list` and `deskrun status`: tables for people, JSON for scripts; with
//! `status --watch`, the runners' activity as it happens, a line per event.

use std::fmt::Write;

use deskrun::activity::{self, ActivityEvent, ActivitySettings, Job, JobResult, JobResults};
use deskrun::cluster::{ClusterHandle, KindCluster};
use deskrun::config::{Config, ConfigStore};
use deskrun::secrets::SecretStore;
use deskrun::spec::{Auth, Installation};
use deskrun::status::RunnerStatus;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::OutputFormat;
use super::output::{print, progress};

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

pub async fn status(only: Option<&str>, format: OutputFormat, watch: bool) -> anyhow::Result<()> {
    let config = ConfigStore::from_env()?.load()?;
    if let Some(name) = only {
        anyhow::ensure!(
            config.owner_of(name).is_some(),
            "no installation named {name:?}; `deskrun list` shows them"
        );
    }
    let cluster = KindCluster::new(&config.cluster.name);
    let running = cluster.exists().await?;
    let handle = if running { Some(cluster.connect().await?) } else { None };
    let runners = match &handle {
        Some(handle) => deskrun::status::read(handle, &config, only).await?,
        // NB: the configured runners all the same, not deployed: a script reading the JSON
        // sees them rather than an empty list.
        None => deskrun::status::not_deployed(&config, only),
    };
    let report = StatusReport {
        cluster: ClusterState {
            name: cluster.name().to_owned(),
            context: cluster.context(),
            running,
        },
        runners,
    };
    match (format, watch) {
        // NB: with --watch every line is one JSON object, the status included.
        (OutputFormat::Json, true) => print(&format!("{}\n", serde_json::to_string(&report)?))?,
        (OutputFormat::Json, false) => {
            print(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
        }
        (OutputFormat::Text, _) => print(&render_status(&report))?,
    }
    if !watch {
        return Ok(());
    }
    let Some(handle) = handle else {
        anyhow::bail!(
            "cluster {} is not running, so there is nothing to watch; `deskrun up` creates it",
            cluster.name()
        );
    };
    watch_activity(&handle, &config, only, format).await
}

fn render_status(report: &StatusReport) -> String {
    let mut out = String::new();
    let cluster = &report.cluster;
    if !cluster.running {
        let _ = writeln!(out, "Cluster {}: not running; `deskrun up` creates it", cluster.name);
        let names: Vec<&str> = report.runners.iter().map(|r| r.name.as_str()).collect();
        if !names.is_empty() {
            let _ = writeln!(out, "Configured, not deployed: {}", names.join(", "));
        }
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
pub(super) fn table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> String {
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

/// `status --watch`: the runners' events, as they happen, until Ctrl-C or SIGTERM (exit 0).
async fn watch_activity(
    cluster: &ClusterHandle,
    config: &Config,
    only: Option<&str>,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let wanted: Option<Vec<String>> = only.map(|name| {
        let sets = config.installations.get(name).map(Installation::scale_sets);
        sets.map_or_else(|| vec![name.to_owned()], |s| s.into_iter().map(|s| s.name).collect())
    });
    let results = JobResults::from_config(config, SecretStore::from_env());
    let settings = ActivitySettings::default();
    let (watch, mut events) = activity::start(cluster.client().clone(), results, settings);
    let stop = super::stop_requested();
    tokio::pin!(stop);
    tokio::select! {
        () = watch.synced() => {}
        () = &mut stop => return Ok(()),
    }
    // NB: scripts (and the end-to-end tests) wait for this line: from here on, every change
    // is printed.
    progress("Watching for activity; Ctrl-C stops.");
    loop {
        let event = tokio::select! {
            () = &mut stop => break,
            received = events.recv() => match received {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    progress(&format!("warning: {missed} events were missed"));
                    continue;
                }
                Err(RecvError::Closed) => break,
            },
        };
        if wanted.as_ref().is_some_and(|sets| !sets.iter().any(|s| s == event.scale_set())) {
            continue;
        }
        match format {
            OutputFormat::Json => {
                let line = EventLine { time: jiff::Timestamp::now(), event: &event };
                print(&format!("{}\n", serde_json::to_string(&line)?))?;
            }
            OutputFormat::Text => print(&render_event(&event))?,
        }
    }
    watch.stop().await;
    Ok(())
}

/// One line of `status --watch --output json`: when, and the event's own fields.
#[derive(Serialize)]
struct EventLine<'a> {
    time: jiff::Timestamp,
    #[serde(flatten)]
    event: &'a ActivityEvent,
}

/// "12:03:04 job started: build (ubuntu) on web (acme/web, run 4242)".
fn render_event(event: &ActivityEvent) -> String {
    let time = jiff::Zoned::now().strftime("%H:%M:%S");
    let what = match event {
        ActivityEvent::ScaleSetAdded { scale_set } => format!("scale set deployed: {scale_set}"),
        ActivityEvent::ScaleSetRemoved { scale_set } => format!("scale set removed: {scale_set}"),
        ActivityEvent::RunnerOnline { scale_set, runner } => {
            format!("runner online: {runner} ({scale_set})")
        }
        ActivityEvent::RunnerOffline { scale_set, runner } => {
            format!("runner offline: {runner} ({scale_set})")
        }
        ActivityEvent::JobStarted(job) => format!("job started: {}", describe_job(job)),
        ActivityEvent::JobFinished { job, result, duration } => {
            let mut line = format!("job finished: {}", describe_job(job));
            // NB: an unknown result is just "finished", which the line already says.
            if *result != JobResult::Unknown {
                let _ = write!(line, " {}", result.as_word());
            }
            if let Some(duration) = duration {
                let _ = write!(line, " in {}", activity::format_duration(*duration));
            }
            line
        }
        ActivityEvent::NeedsAttention { scale_set, reason, message } => {
            format!("attention: {scale_set} {}: {message}", reason.as_words())
        }
        ActivityEvent::AttentionCleared { scale_set } => format!("recovered: {scale_set}"),
    };
    format!("{time} {what}\n")
}

/// "build (ubuntu) on web (acme/web, run 4242)".
fn describe_job(job: &Job) -> String {
    let name = if job.name.is_empty() { "a job" } else { &job.name };
    let mut about: Vec<String> = Vec::new();
    if !job.repository.is_empty() {
        about.push(job.repository.clone());
    }
    if let Some(run) = job.workflow_run_id {
        about.push(format!("run {run}"));
    }
    if about.is_empty() {
        format!("{name} on {}", job.scale_set)
    } else {
        format!("{name} on {} ({})", job.scale_set, about.join(", "))
    }
}
