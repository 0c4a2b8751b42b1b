//! What the window sees: the shapes commands take and return and events carry, as
//! `specta::Type`s for the generated TypeScript bindings. Built from engine types here, so
//! the engine stays free of UI dependencies. Nothing here ever holds a secret value.

use std::time::Duration;

use deskrun::activity::{Job, JobResult, TrayState};
use serde::{Deserialize, Serialize};
use specta::Type;

/// The window's main view: the cluster and every runner.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Overview {
    /// The kind cluster's name.
    pub cluster: String,
    /// Whether the cluster exists.
    pub cluster_running: bool,
    /// What the tray shows.
    pub tray: TrayView,
    /// One row per installation.
    pub runners: Vec<RunnerView>,
    /// A long operation running now, if any ("Deploying web…").
    pub operation: Option<String>,
}

/// The tray's state, as the window shows it.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq, Eq)]
pub struct TrayView {
    /// `stopped`, `starting`, `idle`, `busy` or `attention`.
    pub state: String,
    /// "2 jobs running on 3 runners".
    pub text: String,
}

impl TrayView {
    /// The name the UI and the icons use for `state`.
    pub fn state_name(state: TrayState) -> &'static str {
        match state {
            TrayState::Stopped => "stopped",
            TrayState::Starting => "starting",
            TrayState::Idle => "idle",
            TrayState::Busy => "busy",
            TrayState::Attention => "attention",
        }
    }
}

/// One configured installation and how it is doing.
#[derive(Debug, Clone, Serialize, Type)]
pub struct RunnerView {
    /// The name (`runs-on:` target, or prefix with instances).
    pub name: String,
    /// The GitHub URL.
    pub repository: String,
    /// The container mode.
    pub mode: String,
    /// Idle runners kept ready.
    pub min_runners: u32,
    /// Most runners.
    pub max_runners: u32,
    /// Instances.
    pub instances: u32,
    /// Mount specs, as typed.
    pub mounts: Vec<String>,
    /// `pat` or `github-app`.
    pub auth: String,
    /// The GitHub App ID, for the edit form.
    pub app_id: Option<String>,
    /// The `runs-on:` line.
    pub runs_on: String,
    /// `not-deployed`, `idle`, `busy`, `attention`, or `unknown` before the first sync.
    pub state: String,
    /// Runners online.
    pub runners_online: u32,
    /// Jobs running now.
    pub jobs: Vec<JobView>,
    /// What needs attention, in words.
    pub attention: Option<String>,
    /// Bytes in its auto-chosen caches on this machine.
    pub cache_bytes: Option<f64>,
}

/// A job as the window shows it.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq)]
pub struct JobView {
    /// The job's display name.
    pub name: String,
    /// `owner/repo`.
    pub repository: String,
    /// The scale set.
    pub scale_set: String,
    /// The runner pod.
    pub runner: String,
    /// The workflow file and ref.
    pub workflow: Option<String>,
    /// The run's page on GitHub.
    pub run_url: Option<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
}

impl From<&Job> for JobView {
    fn from(job: &Job) -> Self {
        Self {
            name: job.name.clone(),
            repository: job.repository.clone(),
            scale_set: job.scale_set.clone(),
            runner: job.runner.clone(),
            workflow: job.workflow_ref.clone(),
            run_url: job.run_url.clone(),
            started_at: job.started_at.to_string(),
        }
    }
}

/// A line of the activity feed.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq)]
pub struct ActivityItem {
    /// Identifies the job across its started and finished lines.
    pub key: String,
    /// The job.
    pub job: JobView,
    /// `running`, `succeeded`, `failed`, `cancelled`, `skipped` or `finished` (unknown).
    pub result: String,
    /// How long it ran, in seconds, once finished.
    pub duration_secs: Option<f64>,
}

impl ActivityItem {
    /// The feed key of `job`.
    pub fn key_of(job: &Job) -> String {
        let id = job.job_id.clone().or(job.job_request_id.map(|id| id.to_string()));
        format!("{}/{}", job.runner, id.unwrap_or_default())
    }

    /// A running job.
    pub fn started(job: &Job) -> Self {
        Self {
            key: Self::key_of(job),
            job: job.into(),
            result: "running".to_owned(),
            duration_secs: None,
        }
    }

    /// A finished job.
    pub fn finished(job: &Job, result: JobResult, duration: Option<Duration>) -> Self {
        let result = match result {
            JobResult::Unknown => "finished".to_owned(),
            other => other.as_word().to_owned(),
        };
        Self {
            key: Self::key_of(job),
            job: job.into(),
            result,
            duration_secs: duration.map(|d| d.as_secs_f64()),
        }
    }
}

/// The add/edit form.
#[derive(Debug, Clone, Deserialize, Type)]
pub struct RunnerForm {
    /// Name.
    pub name: String,
    /// GitHub URL.
    pub repository: String,
    /// Container mode.
    pub mode: String,
    /// Idle runners.
    pub min_runners: u32,
    /// Most runners.
    pub max_runners: u32,
    /// Instances.
    pub instances: u32,
    /// Mount specs, one per entry.
    pub mounts: Vec<String>,
    /// `pat` or `github-app`.
    pub auth: String,
    /// The token or private key; empty when editing keeps the stored one.
    pub secret: String,
    /// GitHub App ID.
    pub app_id: Option<String>,
    /// GitHub App installation ID (looked up when empty).
    pub installation_id: Option<String>,
    /// Editing an existing installation.
    pub replace: bool,
    /// Check the credentials with GitHub first.
    pub verify: bool,
}

/// The engine's verdict on the form's runner counts: one message per field at fault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Type)]
pub struct CountsCheck {
    /// About the name with the instances' suffix (`<name>-N` must still fit); the name's
    /// own rules are `validate_field`'s.
    pub name: Option<String>,
    /// About the minimum number of idle runners.
    pub min_runners: Option<String>,
    /// About the maximum number of runners.
    pub max_runners: Option<String>,
    /// About the number of instances.
    pub instances: Option<String>,
}

/// A form field the engine validates as the user types.
#[derive(Debug, Clone, Copy, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum FormField {
    /// The name.
    Name,
    /// The GitHub URL.
    Repository,
    /// One mount spec.
    Mount,
    /// The GitHub App ID.
    AppId,
    /// The installation ID.
    InstallationId,
    /// The kind cluster name (Settings).
    Cluster,
}

/// Progress of a long operation, streamed to the window.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProgressView {
    /// A sentence.
    Note {
        /// It.
        message: String,
    },
    /// A warning.
    Warning {
        /// It.
        message: String,
    },
    /// The plan.
    Plan {
        /// The changes.
        actions: Vec<String>,
    },
    /// One change done.
    Applied {
        /// Done so far.
        done: u32,
        /// All.
        total: u32,
        /// Which.
        action: String,
    },
}

impl From<deskrun::operations::Progress> for ProgressView {
    fn from(progress: deskrun::operations::Progress) -> Self {
        use deskrun::operations::Progress;
        match progress {
            Progress::Note { message } => Self::Note { message },
            Progress::Warning { message } => Self::Warning { message },
            Progress::Plan { actions, .. } => Self::Plan { actions },
            Progress::Applied { done, total, action } => Self::Applied {
                done: u32::try_from(done).unwrap_or(u32::MAX),
                total: u32::try_from(total).unwrap_or(u32::MAX),
                action,
            },
        }
    }
}

/// The settings view.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq, Eq)]
pub struct Settings {
    /// Notify when a job starts.
    pub notify_job_started: bool,
    /// Notify when a job finishes.
    pub notify_job_finished: bool,
    /// Notify when a runner needs attention.
    pub notify_attention: bool,
    /// The kind cluster's name.
    pub cluster: String,
    /// Start the app (in the tray) at login; off until the user turns it on.
    pub start_at_login: bool,
}

/// The environment checks behind `deskrun doctor`, for the diagnostics view.
#[derive(Debug, Clone, Serialize, Type)]
pub struct DoctorView {
    /// Every check, in the engine's order.
    pub checks: Vec<CheckView>,
    /// How many passed.
    pub pass: u32,
    /// How many warned.
    pub warn: u32,
    /// How many failed.
    pub fail: u32,
}

/// One environment check's result.
#[derive(Debug, Clone, Serialize, Type)]
pub struct CheckView {
    /// The stable identifier (`docker`, `kind`, `inotify-watches`, …).
    pub id: String,
    /// What was checked.
    pub title: String,
    /// How it ended.
    pub status: CheckStatus,
    /// What was found.
    pub message: String,
    /// What to do about it; `None` when it passed.
    pub fix: Option<String>,
}

/// How a check ended.
#[derive(Debug, Clone, Copy, Serialize, Type, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// All is well.
    Pass,
    /// deskrun works, but something is degraded or could not be checked.
    Warn,
    /// deskrun cannot work until this is fixed.
    Fail,
}

impl From<deskrun::doctor::Status> for CheckStatus {
    fn from(status: deskrun::doctor::Status) -> Self {
        use deskrun::doctor::Status;
        match status {
            Status::Pass => Self::Pass,
            Status::Warn => Self::Warn,
            Status::Fail => Self::Fail,
        }
    }
}

impl From<deskrun::doctor::Report> for DoctorView {
    fn from(report: deskrun::doctor::Report) -> Self {
        // specta refuses `usize`, which has no exact TypeScript type; a count of checks fits.
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let checks = report
            .checks
            .into_iter()
            .map(|check| CheckView {
                id: check.id.to_owned(),
                title: check.title.to_owned(),
                status: check.status.into(),
                message: check.message,
                fix: check.fix,
            })
            .collect();
        Self {
            checks,
            pass: count(report.summary.pass),
            warn: count(report.summary.warn),
            fail: count(report.summary.fail),
        }
    }
}

#[cfg(test)]
mod tests {
    use deskrun::doctor::{Check, Report, Status, Summary};

    use super::*;

    /// The diagnostics view picks each check's badge by these exact words and shows the
    /// fix only when there is one.
    #[test]
    fn doctor_view_says_pass_warn_fail_and_keeps_the_fix() {
        let check = |id, status, fix: Option<&str>| Check {
            id,
            title: "A check",
            status,
            message: format!("{id} found"),
            fix: fix.map(str::to_owned),
        };
        let report = Report {
            checks: vec![
                check("docker", Status::Pass, None),
                check("disk", Status::Warn, Some("free some space")),
                check("kind", Status::Fail, Some("install kind")),
            ],
            summary: Summary { pass: 1, warn: 1, fail: 1 },
        };
        let json = serde_json::to_value(DoctorView::from(report)).unwrap();
        let statuses: Vec<_> =
            json["checks"].as_array().unwrap().iter().map(|c| &c["status"]).collect();
        assert_eq!(statuses, ["pass", "warn", "fail"], "the UI's badge keys");
        assert_eq!(json["checks"][0]["fix"], serde_json::Value::Null, "a pass has no fix");
        assert_eq!(json["checks"][2]["fix"], "install kind", "a failure keeps its fix");
        assert_eq!(
            (&json["pass"], &json["warn"], &json["fail"]),
            (&1.into(), &1.into(), &1.into())
        );
    }
}
