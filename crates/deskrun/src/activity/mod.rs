//! What the runners are doing, as it happens: kube-runtime watchers on EphemeralRunners,
//! AutoscalingRunnerSets and listener pods in [`ARC_NAMESPACE`](crate::ARC_NAMESPACE), turned
//! into one stream of [`ActivityEvent`]s (runner online, job started, job finished, needs
//! attention) that the CLI's `status --watch`, the tray, the window and the notifier all
//! consume, and the [`RunnerBoard`] they fold it into.
//!
//! It owns the derivation of events from what the cluster shows (`tracker`), the fold
//! (`board`), the job results read from GitHub (`results`, through [`crate::github`]) and the
//! background loop that ties them together (`watch`). It never writes to the cluster, and it
//! does not render events for people: the CLI and the app do.
//!
//! NB: "exactly once" is per [`ActivityWatch`]: one `JobStarted` and one `JobFinished` per
//! job (EphemeralRunner UID and job request ID) across the kube watchers' reconnects and
//! relists. A job already running when a watch starts is part of its initial state (see
//! [`ActivityWatch::board`]), not announced as started; its end is announced. A new process
//! has no memory of an earlier one's announcements.

mod board;
mod results;
mod tracker;
mod watch;

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use board::{BoardSummary, RunnerBoard, ScaleSetSummary, TrayState};
pub use results::JobResults;
pub use watch::{ActivityWatch, start};

/// Something that happened to the runners, in the words a person would use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ActivityEvent {
    /// A scale set appeared in the cluster (its AutoscalingRunnerSet was created).
    ScaleSetAdded {
        /// The scale set name (`runs-on:` target).
        scale_set: String,
    },
    /// A scale set left the cluster.
    ScaleSetRemoved {
        /// The scale set name.
        scale_set: String,
    },
    /// A runner is up and can take a job.
    RunnerOnline {
        /// The scale set it belongs to.
        scale_set: String,
        /// The EphemeralRunner's name.
        runner: String,
    },
    /// A runner stopped (its job ended, it failed, or it was scaled down or deleted).
    RunnerOffline {
        /// The scale set it belonged to.
        scale_set: String,
        /// The EphemeralRunner's name.
        runner: String,
    },
    /// A runner took a job.
    JobStarted(Job),
    /// A job ended: its runner finished, was deleted, or dropped the job.
    JobFinished {
        /// The job.
        job: Job,
        /// How it ended, by GitHub's account; [`JobResult::Unknown`] when GitHub could not
        /// be asked.
        result: JobResult,
        /// How long it ran: by GitHub's clock when known, else as deskrun saw it; `None`
        /// when the job was already running when the watch started and GitHub did not say.
        #[serde(rename = "duration_secs", with = "secs", default)]
        duration: Option<Duration>,
    },
    /// A scale set cannot run jobs without the user's help.
    NeedsAttention {
        /// The scale set.
        scale_set: String,
        /// What is wrong.
        reason: AttentionReason,
        /// The cluster's own words about it (a container's state or a runner's message).
        message: String,
    },
    /// A scale set that needed attention works again.
    AttentionCleared {
        /// The scale set.
        scale_set: String,
    },
}

impl ActivityEvent {
    /// The scale set the event is about.
    pub fn scale_set(&self) -> &str {
        match self {
            Self::ScaleSetAdded { scale_set }
            | Self::ScaleSetRemoved { scale_set }
            | Self::RunnerOnline { scale_set, .. }
            | Self::RunnerOffline { scale_set, .. }
            | Self::NeedsAttention { scale_set, .. }
            | Self::AttentionCleared { scale_set } => scale_set,
            Self::JobStarted(job) | Self::JobFinished { job, .. } => &job.scale_set,
        }
    }
}

/// A workflow job a runner runs, as ARC's listener recorded it on the EphemeralRunner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The scale set of the runner.
    pub scale_set: String,
    /// The EphemeralRunner running it.
    pub runner: String,
    /// GitHub's job ID as ARC recorded it (`jobId`), when it did.
    pub job_id: Option<String>,
    /// The runner request ID (`jobRequestId`), which identifies the job to the listener.
    pub job_request_id: Option<i64>,
    /// The job's display name (`jobDisplayName`), e.g. `build (ubuntu)`.
    pub name: String,
    /// `OWNER/REPO` the workflow runs in.
    pub repository: String,
    /// The workflow file and ref (`jobWorkflowRef`).
    pub workflow_ref: Option<String>,
    /// The workflow run.
    pub workflow_run_id: Option<i64>,
    /// The workflow run's page on GitHub.
    pub run_url: Option<String>,
    /// When it started: by GitHub's clock once GitHub said, else when deskrun saw it start
    /// (or, for a job already running then, when the watch started).
    pub started_at: Timestamp,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobResult {
    /// Every step passed.
    Succeeded,
    /// A step failed, or the job timed out.
    Failed,
    /// Someone (or a newer run) cancelled it.
    Cancelled,
    /// Its condition was false.
    Skipped,
    /// GitHub could not be asked (no credentials, no network, no job ID) or did not say.
    Unknown,
}

impl JobResult {
    /// The result GitHub's `conclusion` names.
    pub fn from_conclusion(conclusion: &str) -> Self {
        match conclusion {
            "success" => Self::Succeeded,
            "failure" | "timed_out" | "startup_failure" => Self::Failed,
            "cancelled" => Self::Cancelled,
            "skipped" => Self::Skipped,
            _ => Self::Unknown,
        }
    }

    /// The result in one word for people: "succeeded", "failed", …, "finished".
    pub fn as_word(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::Unknown => "finished",
        }
    }
}

/// Why a scale set needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionReason {
    /// GitHub refused the scale set's credentials (HTTP 401, "Bad credentials").
    CredentialsRejected,
    /// The listener pod keeps crashing or cannot start.
    ListenerFailing,
    /// Runners have been pending or failed for longer than
    /// [`ActivitySettings::stuck_after`].
    RunnersStuck,
}

impl AttentionReason {
    /// The reason in a few words for people: "credentials rejected", ….
    pub fn as_words(self) -> &'static str {
        match self {
            Self::CredentialsRejected => "credentials rejected",
            Self::ListenerFailing => "listener failing",
            Self::RunnersStuck => "runners stuck",
        }
    }
}

/// The thresholds of the attention rules, and how often they are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivitySettings {
    /// How long a runner may stay Pending or Failed before its scale set needs attention.
    pub stuck_after: Duration,
    /// How long a listener must stay up after a failure to count as recovered.
    pub listener_settle: Duration,
    /// How often the clock-based rules (the two above) are checked.
    pub tick: Duration,
}

impl Default for ActivitySettings {
    fn default() -> Self {
        Self {
            // NB: a first runner pulls its image, which can take minutes on a slow link.
            stuck_after: Duration::from_secs(10 * 60),
            listener_settle: Duration::from_secs(2 * 60),
            tick: Duration::from_secs(5),
        }
    }
}

/// A duration the way people read it: `45s`, `2m10s`, `1h05m`.
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// `Option<Duration>` as whole seconds, the form scripts and the UI read.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_flat_with_an_event_tag() {
        let job = Job {
            scale_set: "web".into(),
            runner: "web-abc-runner-1".into(),
            job_id: Some("77".into()),
            job_request_id: Some(1001),
            name: "build (ubuntu)".into(),
            repository: "acme/web".into(),
            workflow_ref: None,
            workflow_run_id: Some(4242),
            run_url: Some("https://github.com/acme/web/actions/runs/4242".into()),
            started_at: "2026-01-02T03:04:05Z".parse().unwrap(),
        };
        let started = serde_json::to_value(ActivityEvent::JobStarted(job.clone())).unwrap();
        assert_eq!(started["event"], "job_started");
        assert_eq!(started["name"], "build (ubuntu)", "a started job's fields sit at the top");
        assert_eq!(started["started_at"], "2026-01-02T03:04:05Z", "timestamps are RFC 3339");
        let finished = ActivityEvent::JobFinished {
            job,
            result: JobResult::Failed,
            duration: Some(Duration::from_secs(130)),
        };
        let value = serde_json::to_value(&finished).unwrap();
        assert_eq!(value["result"], "failed");
        assert_eq!(value["duration_secs"], 130, "durations are whole seconds for scripts");
        let back: ActivityEvent = serde_json::from_value(value).unwrap();
        assert_eq!(back, finished, "the app may store events and read them back");
    }

    #[test]
    fn durations_read_like_a_clock() {
        let d = Duration::from_secs;
        assert_eq!(format_duration(d(45)), "45s");
        assert_eq!(format_duration(d(130)), "2m10s");
        assert_eq!(format_duration(d(600)), "10m");
        assert_eq!(format_duration(d(3900)), "1h05m");
    }

    #[test]
    fn conclusions_map_to_results_and_anything_new_is_unknown() {
        assert_eq!(JobResult::from_conclusion("success"), JobResult::Succeeded);
        assert_eq!(JobResult::from_conclusion("timed_out"), JobResult::Failed);
        assert_eq!(JobResult::from_conclusion("cancelled"), JobResult::Cancelled);
        assert_eq!(JobResult::from_conclusion("skipped"), JobResult::Skipped);
        assert_eq!(JobResult::from_conclusion("neutral"), JobResult::Unknown);
        assert_eq!(JobResult::Unknown.as_word(), "finished");
    }
}
