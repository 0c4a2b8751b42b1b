//! The fold of [`ActivityEvent`]s into what the tray, the window and the CLI show: which
//! scale sets are deployed, which runners are online, which jobs run, what needs attention,
//! and the one state and sentence of the tray.
//!
//! It does not watch anything itself: it is fed events (and seeded from the watch's initial
//! state), and applying an event twice changes nothing, so a consumer may seed a board from
//! [`super::ActivityWatch::board`] after subscribing without losing or doubling an event.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{ActivityEvent, AttentionReason, Job};

/// The runners as the events so far describe them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunnerBoard {
    synced: bool,
    scale_sets: BTreeMap<String, ScaleSetState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
struct ScaleSetState {
    deployed: bool,
    runners: BTreeSet<String>,
    /// By runner: a runner runs one job at a time.
    jobs: BTreeMap<String, Job>,
    attention: Option<Attention>,
}

/// Why a scale set needs attention, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attention {
    /// What is wrong.
    pub reason: AttentionReason,
    /// The cluster's own words about it.
    pub message: String,
}

/// The tray's state, one per icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrayState {
    /// Nothing is deployed (or there is no cluster).
    Stopped,
    /// The watch has not read the cluster's state yet.
    Starting,
    /// Scale sets are deployed and no job runs.
    Idle,
    /// At least one job runs.
    Busy,
    /// A scale set needs the user's attention.
    Attention,
}

/// The board in numbers and words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoardSummary {
    /// The tray's state.
    pub state: TrayState,
    /// Jobs running now.
    pub jobs_running: usize,
    /// Runners online now.
    pub runners_online: usize,
    /// Each scale set, by name.
    pub per_scale_set: Vec<ScaleSetSummary>,
    /// The state in a sentence, for the tooltip: "2 jobs running on 3 runners".
    pub text: String,
}

/// One scale set on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaleSetSummary {
    /// The scale set name.
    pub name: String,
    /// Whether its AutoscalingRunnerSet exists.
    pub deployed: bool,
    /// Its runners online.
    pub runners_online: usize,
    /// The jobs its runners run, by runner name.
    pub jobs: Vec<Job>,
    /// What needs attention, if anything.
    pub attention: Option<Attention>,
}

impl RunnerBoard {
    /// An empty board, [`TrayState::Starting`] until [`RunnerBoard::mark_synced`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Says that the board now holds the cluster's whole state.
    pub fn mark_synced(&mut self) {
        self.synced = true;
    }

    /// Whether the board holds the cluster's whole state.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The jobs running now, by scale set and runner.
    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.scale_sets.values().flat_map(|s| s.jobs.values())
    }

    /// Folds in `event`; applying it again changes nothing.
    pub fn apply(&mut self, event: &ActivityEvent) {
        let name = event.scale_set().to_owned();
        if let ActivityEvent::ScaleSetRemoved { .. } = event {
            self.scale_sets.remove(&name);
            return;
        }
        let set = self.scale_sets.entry(name.clone()).or_default();
        match event {
            ActivityEvent::ScaleSetAdded { .. } => set.deployed = true,
            ActivityEvent::ScaleSetRemoved { .. } => {}
            ActivityEvent::RunnerOnline { runner, .. } => {
                set.runners.insert(runner.clone());
            }
            ActivityEvent::RunnerOffline { runner, .. } => {
                set.runners.remove(runner);
            }
            ActivityEvent::JobStarted(job) => {
                set.jobs.insert(job.runner.clone(), job.clone());
            }
            ActivityEvent::JobFinished { job, .. } => {
                if set.jobs.get(&job.runner).is_some_and(|running| running.same_job(job)) {
                    set.jobs.remove(&job.runner);
                }
            }
            ActivityEvent::NeedsAttention { reason, message, .. } => {
                set.attention = Some(Attention { reason: *reason, message: message.clone() });
            }
            ActivityEvent::AttentionCleared { .. } => set.attention = None,
        }
        // A scale set known only through its runners leaves with the last of them.
        if !set.deployed && set.runners.is_empty() && set.jobs.is_empty() && set.attention.is_none()
        {
            self.scale_sets.remove(&name);
        }
    }

    /// The board in numbers and words.
    pub fn summary(&self) -> BoardSummary {
        let per_scale_set: Vec<ScaleSetSummary> = self
            .scale_sets
            .iter()
            .map(|(name, set)| ScaleSetSummary {
                name: name.clone(),
                deployed: set.deployed,
                runners_online: set.runners.len(),
                jobs: set.jobs.values().cloned().collect(),
                attention: set.attention.clone(),
            })
            .collect();
        let jobs_running: usize = per_scale_set.iter().map(|s| s.jobs.len()).sum();
        let runners_online: usize = per_scale_set.iter().map(|s| s.runners_online).sum();
        let attention: Vec<&ScaleSetSummary> =
            per_scale_set.iter().filter(|s| s.attention.is_some()).collect();
        let state = if !self.synced {
            TrayState::Starting
        } else if !attention.is_empty() {
            TrayState::Attention
        } else if jobs_running > 0 {
            TrayState::Busy
        } else if per_scale_set.is_empty() {
            TrayState::Stopped
        } else {
            TrayState::Idle
        };
        // NB: a job's runner is online even when its RunnerOnline has not been folded in yet.
        let busy = format!(
            "{} running on {}",
            count(jobs_running, "job"),
            count(runners_online.max(jobs_running), "runner")
        );
        let text = match state {
            TrayState::Starting => "starting".to_owned(),
            TrayState::Stopped => "no runners deployed".to_owned(),
            TrayState::Busy => busy,
            TrayState::Idle if runners_online > 0 => {
                format!("idle, {} online", count(runners_online, "runner"))
            }
            TrayState::Idle => "idle, waiting for jobs".to_owned(),
            TrayState::Attention => {
                let what = match &attention[..] {
                    [one] => format!(
                        "{} needs attention: {}",
                        one.name,
                        one.attention.as_ref().map_or("", |a| a.reason.as_words())
                    ),
                    many => format!("{} scale sets need attention", many.len()),
                };
                if jobs_running > 0 { format!("{what}; {busy}") } else { what }
            }
        };
        BoardSummary { state, jobs_running, runners_online, per_scale_set, text }
    }
}

impl Job {
    /// Whether `other` is this job, possibly with more fields filled in: their IDs agree.
    pub(crate) fn same_job(&self, other: &Job) -> bool {
        if self.runner != other.runner {
            return false;
        }
        match (self.job_request_id, other.job_request_id) {
            (Some(a), Some(b)) => a == b,
            _ => match (&self.job_id, &other.job_id) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            },
        }
    }
}

/// "1 job", "3 runners".
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::JobResult;

    fn job(runner: &str, request: i64) -> Job {
        Job {
            scale_set: "web".into(),
            runner: runner.into(),
            job_id: None,
            job_request_id: Some(request),
            name: format!("job {request}"),
            repository: "acme/web".into(),
            workflow_ref: None,
            workflow_run_id: None,
            run_url: None,
            started_at: "2026-01-02T03:04:05Z".parse().unwrap(),
        }
    }

    fn online(runner: &str) -> ActivityEvent {
        ActivityEvent::RunnerOnline { scale_set: "web".into(), runner: runner.into() }
    }

    fn finished(job: Job) -> ActivityEvent {
        ActivityEvent::JobFinished { job, result: JobResult::Succeeded, duration: None }
    }

    fn synced_board(events: &[ActivityEvent]) -> RunnerBoard {
        let mut board = RunnerBoard::new();
        board.mark_synced();
        for event in events {
            board.apply(event);
        }
        board
    }

    #[test]
    fn the_tray_goes_from_starting_to_idle_to_busy_and_back() {
        let mut board = RunnerBoard::new();
        assert_eq!(board.summary().state, TrayState::Starting, "nothing read from the cluster");
        board.mark_synced();
        assert_eq!(board.summary().state, TrayState::Stopped);
        assert_eq!(board.summary().text, "no runners deployed");
        board.apply(&ActivityEvent::ScaleSetAdded { scale_set: "web".into() });
        assert_eq!(board.summary().text, "idle, waiting for jobs");
        for runner in ["r1", "r2", "r3"] {
            board.apply(&online(runner));
        }
        assert_eq!(board.summary().text, "idle, 3 runners online");
        board.apply(&ActivityEvent::JobStarted(job("r1", 1)));
        board.apply(&ActivityEvent::JobStarted(job("r2", 2)));
        let summary = board.summary();
        assert_eq!(summary.state, TrayState::Busy);
        assert_eq!(summary.text, "2 jobs running on 3 runners");
        assert_eq!(summary.per_scale_set[0].jobs.len(), 2, "the tray menu lists each job");
        board.apply(&finished(job("r1", 1)));
        assert_eq!(board.summary().text, "1 job running on 3 runners");
        board.apply(&finished(job("r2", 2)));
        assert_eq!(board.summary().state, TrayState::Idle);
    }

    #[test]
    fn applying_an_event_twice_changes_nothing() {
        let events = [
            ActivityEvent::ScaleSetAdded { scale_set: "web".into() },
            online("r1"),
            ActivityEvent::JobStarted(job("r1", 1)),
        ];
        let once = synced_board(&events);
        let doubled: Vec<ActivityEvent> = events.iter().chain(&events).cloned().collect();
        assert_eq!(synced_board(&doubled), once, "a seeded board may see events again");
        let mut board = once.clone();
        board.apply(&finished(job("r1", 1)));
        board.apply(&finished(job("r1", 1)));
        assert_eq!(board.summary().jobs_running, 0);
    }

    #[test]
    fn a_late_finish_of_an_older_job_keeps_the_newer_one() {
        let mut board = synced_board(&[ActivityEvent::JobStarted(job("r1", 2))]);
        board.apply(&finished(job("r1", 1)));
        assert_eq!(board.summary().jobs_running, 1, "job 1 is not job 2");
    }

    #[test]
    fn attention_wins_over_busy_and_clears() {
        let mut board = synced_board(&[
            ActivityEvent::ScaleSetAdded { scale_set: "web".into() },
            ActivityEvent::JobStarted(job("r1", 1)),
        ]);
        board.apply(&ActivityEvent::NeedsAttention {
            scale_set: "web".into(),
            reason: AttentionReason::ListenerFailing,
            message: "CrashLoopBackOff".into(),
        });
        let summary = board.summary();
        assert_eq!(summary.state, TrayState::Attention);
        assert_eq!(
            summary.text, "web needs attention: listener failing; 1 job running on 1 runner",
            "the tooltip says what is wrong and still counts the jobs"
        );
        board.apply(&ActivityEvent::AttentionCleared { scale_set: "web".into() });
        assert_eq!(board.summary().state, TrayState::Busy);
    }

    #[test]
    fn a_removed_scale_set_leaves_the_board() {
        let mut board =
            synced_board(&[ActivityEvent::ScaleSetAdded { scale_set: "web".into() }, online("r1")]);
        board.apply(&ActivityEvent::ScaleSetRemoved { scale_set: "web".into() });
        assert_eq!(board.summary().state, TrayState::Stopped);
        let mut board = synced_board(&[online("r1")]);
        board.apply(&ActivityEvent::RunnerOffline { scale_set: "web".into(), runner: "r1".into() });
        assert!(board.summary().per_scale_set.is_empty(), "known only through r1, gone with it");
    }
}
