//! The derivation of [`ActivityEvent`]s from what the watchers see: a synchronous state
//! machine fed with watcher events and clock ticks, so that every rule (exactly one start and
//! one finish per job, relists, gaps, attention) is tested without a cluster or a clock.
//!
//! It does not talk to the cluster or to GitHub: [`super::watch`] feeds it and resolves the
//! results of finished jobs, which it leaves [`JobResult::Unknown`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::DynamicObject;
use kube::runtime::watcher::Event;
use serde::Deserialize;

use super::{ActivityEvent, ActivitySettings, AttentionReason, Job, JobResult};
use crate::status::SCALE_SET_NAME_LABEL;

/// The watchers that feed the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// EphemeralRunners.
    Runners,
    /// AutoscalingRunnerSets.
    ScaleSets,
    /// Listener pods.
    Listeners,
}

impl Source {
    fn index(self) -> usize {
        self as usize
    }
}

/// One thing a watcher reported.
#[derive(Debug)]
pub(crate) enum Observed {
    /// An EphemeralRunner event.
    Runner(Event<DynamicObject>),
    /// An AutoscalingRunnerSet event.
    ScaleSet(Event<DynamicObject>),
    /// A listener pod event (boxed: a pod is large).
    Listener(Box<Event<Pod>>),
    /// The watcher failed; it retries by itself.
    Failed(Source),
}

/// What one observation changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Derived {
    /// The events, in order.
    pub events: Vec<ActivityEvent>,
    /// Whether to announce them, or only fold them into the board: a watcher's first listing
    /// is the state the watch starts from, not news.
    pub announce: bool,
}

/// The waiting reasons of a listener container that cannot run.
const FAILING_REASONS: [&str; 6] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
];

/// The EphemeralRunner status fields the tracker reads (ARC 0.14's CRD).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RunnerStatusFields {
    phase: Option<String>,
    reason: Option<String>,
    message: Option<String>,
    job_request_id: Option<i64>,
    job_id: Option<String>,
    job_repository_name: Option<String>,
    job_workflow_ref: Option<String>,
    workflow_run_id: Option<i64>,
    job_display_name: Option<String>,
}

/// What identifies a job on its runner. Fields fill in over time, so two keys are the same
/// job unless an ID both carry differs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JobKey {
    request_id: Option<i64>,
    job_id: Option<String>,
}

impl JobKey {
    /// Whether `other` is this job: an ID they both carry agrees, or neither carries one.
    /// Strict, for telling a new job from one already finished.
    fn is(&self, other: &Self) -> bool {
        if let (Some(a), Some(b)) = (self.request_id, other.request_id) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (&self.job_id, &other.job_id) {
            return a == b;
        }
        [self, other].iter().all(|k| k.request_id.is_none() && k.job_id.is_none())
    }

    /// Whether `other` may be this job with fields filled in: no ID they both carry differs.
    fn same(&self, other: &Self) -> bool {
        match (self.request_id, other.request_id) {
            (Some(a), Some(b)) => a == b,
            _ => match (&self.job_id, &other.job_id) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            },
        }
    }
}

/// An EphemeralRunner as the tracker reads it.
struct RunnerView {
    uid: String,
    name: String,
    scale_set: String,
    phase: String,
    /// Succeeded, Failed or being deleted: it runs nothing any more.
    over: bool,
    /// Being deleted.
    deleting: bool,
    job: Option<(JobKey, Job)>,
    /// `reason: message`, when ARC set either.
    problem: Option<String>,
}

/// A job the tracker knows is running.
#[derive(Debug, Clone)]
struct TrackedJob {
    key: JobKey,
    job: Job,
    /// Whether its start was seen, rather than found running when the watch began.
    seen_start: bool,
}

/// What the tracker remembers of a runner.
#[derive(Debug, Clone)]
struct RunnerSeen {
    name: String,
    scale_set: String,
    online: bool,
    job: Option<TrackedJob>,
    /// Jobs already finished on this runner: never started again.
    done: Vec<JobKey>,
    /// Since when it has been Pending or Failed, and which.
    stuck: Option<(Timestamp, String)>,
    problem: Option<String>,
}

/// What the tracker remembers of a listener pod.
#[derive(Debug, Clone)]
struct ListenerSeen {
    scale_set: String,
    restarts: i32,
    failing: bool,
}

/// The last sign that a scale set's listener failed.
#[derive(Debug, Clone)]
struct ListenerFailure {
    at: Timestamp,
    message: String,
    credentials: bool,
}

/// The state machine; see the module documentation.
#[derive(Debug)]
pub(crate) struct Tracker {
    stuck_after: Duration,
    listener_settle: Duration,
    /// Per [`Source`]: whether its first listing (or first failure) is behind it.
    seeded: [bool; 3],
    /// Per [`Source`]: the keys listed so far in a relist, between `Init` and `InitDone`.
    relisting: [Option<HashSet<String>>; 3],
    runners: HashMap<String, RunnerSeen>,
    scale_sets: BTreeSet<String>,
    listeners: HashMap<String, ListenerSeen>,
    failures: HashMap<String, ListenerFailure>,
    attention: BTreeMap<String, (AttentionReason, String)>,
}

impl Tracker {
    pub(crate) fn new(settings: &ActivitySettings) -> Self {
        Self {
            stuck_after: settings.stuck_after,
            listener_settle: settings.listener_settle,
            seeded: [false; 3],
            relisting: [None, None, None],
            runners: HashMap::new(),
            scale_sets: BTreeSet::new(),
            listeners: HashMap::new(),
            failures: HashMap::new(),
            attention: BTreeMap::new(),
        }
    }

    /// Whether every watcher has listed (or tried to list) once: the state is complete.
    pub(crate) fn synced(&self) -> bool {
        self.seeded.iter().all(|s| *s)
    }

    /// Folds in one observation made at `now`.
    pub(crate) fn observe(&mut self, observed: Observed, now: Timestamp) -> Derived {
        let source = match &observed {
            Observed::Runner(_) => Source::Runners,
            Observed::ScaleSet(_) => Source::ScaleSets,
            Observed::Listener(_) => Source::Listeners,
            Observed::Failed(source) => *source,
        };
        // NB: a source is seeded by its first InitDone (or failure): what it lists until then
        // is the state the watch starts from, not news.
        let announce = self.seeded[source.index()];
        let mut out = Vec::new();
        match observed {
            Observed::Runner(event) => self.runner_event(event, now, &mut out),
            Observed::ScaleSet(event) => self.scale_set_event(event, &mut out),
            Observed::Listener(event) => self.listener_event(*event, now, &mut out),
            Observed::Failed(source) => self.seed(source),
        }
        Derived { events: out, announce }
    }

    /// Marks `source` seeded after its first `InitDone` or failure.
    fn seed(&mut self, source: Source) {
        self.seeded[source.index()] = true;
    }

    /// Re-evaluates what depends on the clock: stuck runners, listeners that settled.
    pub(crate) fn tick(&mut self, now: Timestamp) -> Derived {
        let mut out = Vec::new();
        let sets: BTreeSet<String> = self.known_scale_sets();
        for set in sets {
            self.evaluate_attention(&set, now, &mut out);
        }
        Derived { events: out, announce: true }
    }

    fn known_scale_sets(&self) -> BTreeSet<String> {
        let mut sets = self.scale_sets.clone();
        sets.extend(self.runners.values().map(|r| r.scale_set.clone()));
        sets.extend(self.listeners.values().map(|l| l.scale_set.clone()));
        sets.extend(self.failures.keys().cloned());
        sets.extend(self.attention.keys().cloned());
        sets
    }

    /// Starts, records or ends a relist of `source`; returns the keys a finished relist did
    /// not list, which are gone.
    fn relist(&mut self, source: Source, step: RelistStep, key: Option<String>) -> Vec<String> {
        let slot = &mut self.relisting[source.index()];
        match step {
            RelistStep::Init => {
                *slot = Some(HashSet::new());
                Vec::new()
            }
            RelistStep::Listed => {
                if let (Some(listed), Some(key)) = (slot.as_mut(), key) {
                    listed.insert(key);
                }
                Vec::new()
            }
            RelistStep::Done => {
                let listed = slot.take().unwrap_or_default();
                let known: Vec<String> = match source {
                    Source::Runners => self.runners.keys().cloned().collect(),
                    Source::ScaleSets => self.scale_sets.iter().cloned().collect(),
                    Source::Listeners => self.listeners.keys().cloned().collect(),
                };
                known.into_iter().filter(|k| !listed.contains(k)).collect()
            }
        }
    }

    fn runner_event(
        &mut self,
        event: Event<DynamicObject>,
        now: Timestamp,
        out: &mut Vec<ActivityEvent>,
    ) {
        match event {
            Event::Init => {
                self.relist(Source::Runners, RelistStep::Init, None);
            }
            Event::InitApply(obj) => {
                let view = read_runner(&obj, now);
                self.relist(Source::Runners, RelistStep::Listed, Some(view.uid.clone()));
                self.runner_applied(view, now, out);
            }
            Event::Apply(obj) => self.runner_applied(read_runner(&obj, now), now, out),
            Event::Delete(obj) => {
                let view = read_runner(&obj, now);
                self.runner_gone(&view.uid, now, out);
            }
            Event::InitDone => {
                for uid in self.relist(Source::Runners, RelistStep::Done, None) {
                    self.runner_gone(&uid, now, out);
                }
                self.seed(Source::Runners);
            }
        }
    }

    fn runner_applied(&mut self, view: RunnerView, now: Timestamp, out: &mut Vec<ActivityEvent>) {
        if view.scale_set.is_empty() {
            // NB: not ARC's (ARC labels every runner with its scale set): nothing to report.
            return;
        }
        let seen_start = self.seeded[Source::Runners.index()];
        let seen = self.runners.entry(view.uid.clone()).or_insert_with(|| RunnerSeen {
            name: view.name.clone(),
            scale_set: view.scale_set.clone(),
            online: false,
            job: None,
            done: Vec::new(),
            stuck: None,
            problem: None,
        });
        let online = !view.over && view.phase == "Running";
        if online && !seen.online {
            seen.online = true;
            out.push(ActivityEvent::RunnerOnline {
                scale_set: seen.scale_set.clone(),
                runner: seen.name.clone(),
            });
        }
        let current = if view.over { None } else { view.job };
        match (seen.job.take(), current) {
            (None, None) => {}
            (None, Some((key, job))) => start(seen, key, job, seen_start, out),
            (Some(tracked), None) => finish(seen, tracked, now, out),
            (Some(mut tracked), Some((key, job))) if tracked.key.same(&key) => {
                merge(&mut tracked, key, job);
                seen.job = Some(tracked);
            }
            (Some(tracked), Some((key, job))) => {
                finish(seen, tracked, now, out);
                start(seen, key, job, seen_start, out);
            }
        }
        if !online && seen.online {
            seen.online = false;
            out.push(ActivityEvent::RunnerOffline {
                scale_set: seen.scale_set.clone(),
                runner: seen.name.clone(),
            });
        }
        let stuck_phase = !view.deleting && matches!(view.phase.as_str(), "Pending" | "Failed");
        seen.stuck = match seen.stuck.take() {
            Some((since, phase)) if stuck_phase && phase == view.phase => Some((since, phase)),
            _ if stuck_phase => Some((now, view.phase.clone())),
            _ => None,
        };
        seen.problem = view.problem;
        let set = seen.scale_set.clone();
        self.evaluate_attention(&set, now, out);
    }

    fn runner_gone(&mut self, uid: &str, now: Timestamp, out: &mut Vec<ActivityEvent>) {
        let Some(mut seen) = self.runners.remove(uid) else {
            return;
        };
        if let Some(tracked) = seen.job.take() {
            finish(&mut seen, tracked, now, out);
        }
        if seen.online {
            out.push(ActivityEvent::RunnerOffline {
                scale_set: seen.scale_set.clone(),
                runner: seen.name.clone(),
            });
        }
        self.evaluate_attention(&seen.scale_set, now, out);
    }

    fn scale_set_event(&mut self, event: Event<DynamicObject>, out: &mut Vec<ActivityEvent>) {
        let name = |obj: &DynamicObject| obj.metadata.name.clone().unwrap_or_default();
        match event {
            Event::Init => {
                self.relist(Source::ScaleSets, RelistStep::Init, None);
            }
            Event::InitApply(obj) => {
                self.relist(Source::ScaleSets, RelistStep::Listed, Some(name(&obj)));
                self.scale_set_applied(name(&obj), out);
            }
            Event::Apply(obj) => self.scale_set_applied(name(&obj), out),
            Event::Delete(obj) => self.scale_set_gone(&name(&obj), out),
            Event::InitDone => {
                for gone in self.relist(Source::ScaleSets, RelistStep::Done, None) {
                    self.scale_set_gone(&gone, out);
                }
                self.seed(Source::ScaleSets);
            }
        }
    }

    fn scale_set_applied(&mut self, name: String, out: &mut Vec<ActivityEvent>) {
        if !name.is_empty() && self.scale_sets.insert(name.clone()) {
            out.push(ActivityEvent::ScaleSetAdded { scale_set: name });
        }
    }

    fn scale_set_gone(&mut self, name: &str, out: &mut Vec<ActivityEvent>) {
        if !self.scale_sets.remove(name) {
            return;
        }
        self.failures.remove(name);
        if self.attention.remove(name).is_some() {
            out.push(ActivityEvent::AttentionCleared { scale_set: name.to_owned() });
        }
        out.push(ActivityEvent::ScaleSetRemoved { scale_set: name.to_owned() });
    }

    fn listener_event(&mut self, event: Event<Pod>, now: Timestamp, out: &mut Vec<ActivityEvent>) {
        match event {
            Event::Init => {
                self.relist(Source::Listeners, RelistStep::Init, None);
            }
            Event::InitApply(pod) => {
                self.relist(Source::Listeners, RelistStep::Listed, Some(pod_uid(&pod)));
                self.listener_applied(&pod, now, out);
            }
            Event::Apply(pod) => self.listener_applied(&pod, now, out),
            Event::Delete(pod) => self.listener_gone(&pod_uid(&pod), now, out),
            Event::InitDone => {
                for uid in self.relist(Source::Listeners, RelistStep::Done, None) {
                    self.listener_gone(&uid, now, out);
                }
                self.seed(Source::Listeners);
            }
        }
    }

    fn listener_applied(&mut self, pod: &Pod, now: Timestamp, out: &mut Vec<ActivityEvent>) {
        let Some(scale_set) =
            pod.metadata.labels.as_ref().and_then(|l| l.get(SCALE_SET_NAME_LABEL))
        else {
            return;
        };
        let state = read_listener(pod);
        let before = self.listeners.get(&pod_uid(pod)).map(|l| l.restarts);
        let restarted = before.is_some_and(|b| state.restarts > b);
        if state.failing || restarted {
            let message = if state.message.is_empty() && restarted {
                format!("the listener restarted ({} restarts)", state.restarts)
            } else {
                state.message.clone()
            };
            let credentials = mentions_rejected_credentials(&message);
            self.failures
                .insert(scale_set.clone(), ListenerFailure { at: now, message, credentials });
        }
        self.listeners.insert(
            pod_uid(pod),
            ListenerSeen {
                scale_set: scale_set.clone(),
                restarts: state.restarts,
                failing: state.failing,
            },
        );
        let set = scale_set.clone();
        self.evaluate_attention(&set, now, out);
    }

    fn listener_gone(&mut self, uid: &str, now: Timestamp, out: &mut Vec<ActivityEvent>) {
        if let Some(gone) = self.listeners.remove(uid) {
            self.evaluate_attention(&gone.scale_set, now, out);
        }
    }

    /// What needs the user's attention on `set` now, if anything.
    fn attention_of(&mut self, set: &str, now: Timestamp) -> Option<(AttentionReason, String)> {
        let failing_now = self.listeners.values().any(|l| l.scale_set == set && l.failing);
        let settle = self.listener_settle;
        if let Some(failure) = self.failures.get(set) {
            // NB: a listener that just restarted runs for a while before it fails again; only
            // one that stayed up for `listener_settle` counts as recovered.
            if failing_now || elapsed(failure.at, now) < settle {
                let reason = if failure.credentials {
                    AttentionReason::CredentialsRejected
                } else {
                    AttentionReason::ListenerFailing
                };
                return Some((reason, failure.message.clone()));
            }
            self.failures.remove(set);
        }
        let mine: Vec<&RunnerSeen> = self.runners.values().filter(|r| r.scale_set == set).collect();
        if let Some(problem) = mine
            .iter()
            .filter_map(|r| r.problem.as_deref())
            .find(|p| mentions_rejected_credentials(p))
        {
            return Some((AttentionReason::CredentialsRejected, problem.to_owned()));
        }
        let stuck: Vec<(&RunnerSeen, &str)> = mine
            .iter()
            .filter_map(|r| {
                let (since, phase) = r.stuck.as_ref()?;
                (elapsed(*since, now) >= self.stuck_after).then_some((*r, phase.as_str()))
            })
            .collect();
        if stuck.is_empty() {
            return None;
        }
        Some((AttentionReason::RunnersStuck, stuck_message(&stuck, self.stuck_after)))
    }

    /// Emits `NeedsAttention` when `set`'s reason appears or changes, `AttentionCleared`
    /// when it goes; a changed message alone is not news.
    fn evaluate_attention(&mut self, set: &str, now: Timestamp, out: &mut Vec<ActivityEvent>) {
        let wanted = self.attention_of(set, now);
        let had = self.attention.get(set).map(|(reason, _)| *reason);
        match wanted {
            Some((reason, message)) => {
                if had != Some(reason) {
                    out.push(ActivityEvent::NeedsAttention {
                        scale_set: set.to_owned(),
                        reason,
                        message: message.clone(),
                    });
                }
                self.attention.insert(set.to_owned(), (reason, message));
            }
            None => {
                if self.attention.remove(set).is_some() {
                    out.push(ActivityEvent::AttentionCleared { scale_set: set.to_owned() });
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum RelistStep {
    Init,
    Listed,
    Done,
}

fn start(
    seen: &mut RunnerSeen,
    key: JobKey,
    job: Job,
    seen_start: bool,
    out: &mut Vec<ActivityEvent>,
) {
    if seen.done.iter().any(|done| done.is(&key)) {
        return;
    }
    out.push(ActivityEvent::JobStarted(job.clone()));
    seen.job = Some(TrackedJob { key, job, seen_start });
}

fn finish(
    seen: &mut RunnerSeen,
    tracked: TrackedJob,
    now: Timestamp,
    out: &mut Vec<ActivityEvent>,
) {
    let duration = tracked.seen_start.then(|| elapsed(tracked.job.started_at, now));
    seen.done.push(tracked.key);
    out.push(ActivityEvent::JobFinished { job: tracked.job, result: JobResult::Unknown, duration });
}

/// Takes the fields a later patch filled in, keeping the start time.
fn merge(tracked: &mut TrackedJob, key: JobKey, job: Job) {
    tracked.key.request_id = tracked.key.request_id.or(key.request_id);
    tracked.key.job_id = tracked.key.job_id.take().or(key.job_id);
    let started_at = tracked.job.started_at;
    let old = std::mem::replace(&mut tracked.job, job);
    let new = &mut tracked.job;
    new.started_at = started_at;
    new.job_id = new.job_id.take().or(old.job_id);
    new.job_request_id = new.job_request_id.or(old.job_request_id);
    new.workflow_ref = new.workflow_ref.take().or(old.workflow_ref);
    new.workflow_run_id = new.workflow_run_id.or(old.workflow_run_id);
    new.run_url = new.run_url.take().or(old.run_url);
    if new.name.is_empty() {
        new.name = old.name;
    }
    if new.repository.is_empty() {
        new.repository = old.repository;
    }
}

fn read_runner(obj: &DynamicObject, now: Timestamp) -> RunnerView {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let uid = obj.metadata.uid.clone().unwrap_or_else(|| name.clone());
    let scale_set = obj
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SCALE_SET_NAME_LABEL))
        .cloned()
        .unwrap_or_default();
    let status: RunnerStatusFields = obj
        .data
        .get("status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    let phase = status.phase.clone().unwrap_or_default();
    let deleting = obj.metadata.deletion_timestamp.is_some();
    let over = deleting || matches!(phase.as_str(), "Succeeded" | "Failed");
    let problem = match (status.reason.as_deref(), status.message.as_deref()) {
        (Some(r), Some(m)) if !r.is_empty() && !m.is_empty() => Some(format!("{r}: {m}")),
        (Some(one), _) | (_, Some(one)) if !one.is_empty() => Some(one.to_owned()),
        _ => None,
    };
    let config_url = obj.data.pointer("/spec/githubConfigUrl").and_then(|v| v.as_str());
    let job = read_job(&status, &scale_set, &name, config_url, now);
    RunnerView { uid, name, scale_set, phase, over, deleting, job, problem }
}

/// The job ARC's listener recorded on the runner, if it recorded one.
fn read_job(
    status: &RunnerStatusFields,
    scale_set: &str,
    runner: &str,
    config_url: Option<&str>,
    now: Timestamp,
) -> Option<(JobKey, Job)> {
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let request_id = status.job_request_id.filter(|id| *id > 0);
    let job_id = nonempty(&status.job_id);
    let name = nonempty(&status.job_display_name);
    if request_id.is_none() && job_id.is_none() && name.is_none() {
        return None;
    }
    let repository = nonempty(&status.job_repository_name).unwrap_or_default();
    let workflow_run_id = status.workflow_run_id.filter(|id| *id > 0);
    let run_url = match (config_url.and_then(web_base), workflow_run_id) {
        (Some(base), Some(run)) if !repository.is_empty() => {
            Some(format!("{base}/{repository}/actions/runs/{run}"))
        }
        _ => None,
    };
    let job = Job {
        scale_set: scale_set.to_owned(),
        runner: runner.to_owned(),
        job_id: job_id.clone(),
        job_request_id: request_id,
        name: name.unwrap_or_default(),
        repository,
        workflow_ref: nonempty(&status.job_workflow_ref),
        workflow_run_id,
        run_url,
        started_at: now,
    };
    Some((JobKey { request_id, job_id }, job))
}

/// `https://HOST` of a `githubConfigUrl`, where the repositories' pages are.
fn web_base(config_url: &str) -> Option<String> {
    let url = url::Url::parse(config_url).ok()?;
    let host = url.host_str()?;
    let host = if host == "www.github.com" { "github.com" } else { host };
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

fn pod_uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().or_else(|| pod.metadata.name.clone()).unwrap_or_default()
}

/// A listener pod's health as the tracker reads it.
struct ListenerState {
    restarts: i32,
    failing: bool,
    message: String,
}

fn read_listener(pod: &Pod) -> ListenerState {
    let status = pod.status.as_ref();
    let containers: &[ContainerStatus] =
        status.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default();
    let restarts = containers.iter().map(|c| c.restart_count).sum();
    let waiting = containers.iter().find_map(|c| {
        let waiting = c.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.as_deref()?;
        FAILING_REASONS.contains(&reason).then_some((reason, waiting.message.as_deref()))
    });
    let phase_failed = status.and_then(|s| s.phase.as_deref()) == Some("Failed");
    // The last words of the container that died, which name the cause (HTTP 401, 409, …).
    let last_words = containers.iter().find_map(|c| {
        let terminated = c
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .or_else(|| c.last_state.as_ref()?.terminated.as_ref())?;
        terminated.message.clone().or_else(|| terminated.reason.clone())
    });
    let mut parts: Vec<String> = Vec::new();
    if let Some((reason, message)) = waiting {
        parts.push(match message {
            Some(m) if !m.is_empty() => format!("{reason}: {m}"),
            _ => reason.to_owned(),
        });
    } else if phase_failed {
        let why = status.and_then(|s| s.message.clone().or_else(|| s.reason.clone()));
        parts.push(why.map_or_else(|| "the pod failed".to_owned(), |w| format!("failed: {w}")));
    }
    if let Some(words) = last_words.filter(|w| !w.trim().is_empty()) {
        parts.push(format!("last exit: {}", one_line(&words)));
    }
    if restarts > 0 && !parts.is_empty() {
        parts.push(format!("{restarts} restarts"));
    }
    ListenerState {
        restarts,
        failing: waiting.is_some() || phase_failed,
        message: parts.join("; "),
    }
}

/// Whether GitHub's refusal of the credentials shows in `text`: "Bad credentials", or HTTP
/// status 401 as a number of its own (not inside "14010").
pub(crate) fn mentions_rejected_credentials(text: &str) -> bool {
    if text.to_ascii_lowercase().contains("bad credentials") {
        return true;
    }
    let bytes = text.as_bytes();
    text.match_indices("401").any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + 3).copied();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

/// A message on one line, at most 300 characters: container messages can be log tails.
fn one_line(text: &str) -> String {
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
    line.chars().take(300).collect()
}

fn stuck_message(stuck: &[(&RunnerSeen, &str)], after: Duration) -> String {
    let count = |phase: &str| stuck.iter().filter(|(_, p)| *p == phase).count();
    let runners = |n: usize| if n == 1 { "1 runner".to_owned() } else { format!("{n} runners") };
    let mut parts = Vec::new();
    let after = super::format_duration(after);
    for phase in ["Pending", "Failed"] {
        let n = count(phase);
        if n > 0 {
            parts.push(format!("{} {} for more than {after}", runners(n), phase.to_lowercase()));
        }
    }
    if let Some(problem) = stuck.iter().find_map(|(r, _)| r.problem.as_deref()) {
        parts.push(one_line(problem));
    }
    parts.join("; ")
}

/// `to - from`, or zero when the clock went backwards.
fn elapsed(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const T0: &str = "2026-01-02T03:00:00Z";

    fn at(secs: u64) -> Timestamp {
        T0.parse::<Timestamp>().unwrap() + Duration::from_secs(secs)
    }

    fn settings() -> ActivitySettings {
        ActivitySettings {
            stuck_after: Duration::from_secs(600),
            listener_settle: Duration::from_secs(120),
            tick: Duration::from_secs(5),
        }
    }

    /// An EphemeralRunner of scale set `web` as the API server returns it.
    fn runner(uid: &str, status: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "actions.github.com/v1alpha1", "kind": "EphemeralRunner",
            "metadata": {"name": format!("web-abcde-{uid}"), "uid": uid,
                         "labels": {"actions.github.com/scale-set-name": "web"}},
            "spec": {"githubConfigUrl": "https://github.com/acme"},
            "status": status,
        }))
        .unwrap()
    }

    /// The status ARC's listener leaves on a runner that took job request `request`.
    fn with_job(request: i64) -> Value {
        json!({"phase": "Running", "ready": true, "jobRequestId": request, "jobId": "77",
               "jobDisplayName": "build (ubuntu)", "jobRepositoryName": "acme/web",
               "workflowRunId": 4242, "jobWorkflowRef": "acme/web/.github/workflows/ci.yml@main"})
    }

    fn listener(uid: &str, status: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("web-listener-{uid}"), "uid": uid,
                         "labels": {"actions.github.com/scale-set-name": "web",
                                    "app.kubernetes.io/component": "runner-scale-set-listener"}},
            "status": status,
        }))
        .unwrap()
    }

    fn pod(event: Event<Pod>) -> Observed {
        Observed::Listener(Box::new(event))
    }

    fn crash_looping(restarts: i32, last_words: &str) -> Value {
        json!({"phase": "Running", "containerStatuses": [{
            "name": "listener", "image": "x", "imageID": "", "ready": false,
            "restartCount": restarts,
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": "back-off 40s restarting failed container"}},
            "lastState": {"terminated": {"exitCode": 1, "message": last_words}},
        }]})
    }

    fn healthy(restarts: i32) -> Value {
        json!({"phase": "Running", "containerStatuses": [{
            "name": "listener", "image": "x", "imageID": "", "ready": true,
            "restartCount": restarts, "state": {"running": {}},
        }]})
    }

    /// A tracker whose three watchers have listed an empty cluster.
    fn synced() -> Tracker {
        let mut tracker = Tracker::new(&settings());
        for observed in [
            Observed::Runner(Event::Init),
            Observed::Runner(Event::InitDone),
            Observed::ScaleSet(Event::Init),
            Observed::ScaleSet(Event::InitDone),
            pod(Event::Init),
            pod(Event::InitDone),
        ] {
            assert!(tracker.observe(observed, at(0)).events.is_empty());
        }
        assert!(tracker.synced());
        tracker
    }

    /// Feeds `observed` in order at `now`, returning the announced events' kinds and names.
    fn feed(tracker: &mut Tracker, now: Timestamp, observed: Vec<Observed>) -> Vec<String> {
        observed
            .into_iter()
            .flat_map(|o| {
                let derived = tracker.observe(o, now);
                assert!(derived.announce, "after the first listing everything is news");
                derived.events
            })
            .map(|e| describe(&e))
            .collect()
    }

    fn describe(event: &ActivityEvent) -> String {
        match event {
            ActivityEvent::JobStarted(job) => format!("started {}", job.runner),
            ActivityEvent::JobFinished { job, result, duration } => {
                format!("finished {} {result:?} {duration:?}", job.runner)
            }
            ActivityEvent::RunnerOnline { runner, .. } => format!("online {runner}"),
            ActivityEvent::RunnerOffline { runner, .. } => format!("offline {runner}"),
            ActivityEvent::NeedsAttention { reason, .. } => format!("attention {reason:?}"),
            ActivityEvent::AttentionCleared { .. } => "cleared".to_owned(),
            ActivityEvent::ScaleSetAdded { scale_set } => format!("added {scale_set}"),
            ActivityEvent::ScaleSetRemoved { scale_set } => format!("removed {scale_set}"),
        }
    }

    fn jobs(events: &[String]) -> Vec<&str> {
        events
            .iter()
            .filter(|e| e.starts_with("started") || e.starts_with("finished"))
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn a_job_starts_once_and_finishes_once_when_its_runner_is_deleted() {
        let mut t = synced();
        let events = feed(
            &mut t,
            at(10),
            vec![
                Observed::Runner(Event::Apply(runner("u1", json!({"phase": "Pending"})))),
                Observed::Runner(Event::Apply(runner("u1", json!({"phase": "Running"})))),
                Observed::Runner(Event::Apply(runner("u1", with_job(1001)))),
                // The controller and listener keep patching: ready flips, messages change.
                Observed::Runner(Event::Apply(runner("u1", with_job(1001)))),
            ],
        );
        assert_eq!(events, ["online web-abcde-u1", "started web-abcde-u1"]);
        let started = t.runners["u1"].job.as_ref().unwrap().job.clone();
        assert_eq!(started.name, "build (ubuntu)");
        assert_eq!(started.repository, "acme/web");
        assert_eq!(started.job_request_id, Some(1001));
        assert_eq!(
            started.run_url.as_deref(),
            Some("https://github.com/acme/web/actions/runs/4242"),
            "the run's page is on the host of the scale set's URL"
        );
        let events = feed(
            &mut t,
            at(140),
            vec![
                Observed::Runner(Event::Delete(runner("u1", with_job(1001)))),
                Observed::Runner(Event::Delete(runner("u1", with_job(1001)))),
            ],
        );
        assert_eq!(
            events,
            ["finished web-abcde-u1 Unknown Some(130s)", "offline web-abcde-u1"],
            "a second Delete (a watcher resuming) finishes nothing again"
        );
    }

    #[test]
    fn leaving_running_or_dropping_the_job_fields_finishes_the_job() {
        for (why, after) in [
            ("Succeeded", json!({"phase": "Succeeded"})),
            ("Failed", json!({"phase": "Failed", "reason": "TooManyPodFailures"})),
            ("fields cleared", json!({"phase": "Running"})),
        ] {
            let mut t = synced();
            feed(&mut t, at(1), vec![Observed::Runner(Event::Apply(runner("u1", with_job(7))))]);
            let events =
                feed(&mut t, at(5), vec![Observed::Runner(Event::Apply(runner("u1", after)))]);
            assert_eq!(jobs(&events), ["finished web-abcde-u1 Unknown Some(4s)"], "{why}");
            let again = feed(
                &mut t,
                at(6),
                vec![Observed::Runner(Event::Apply(runner("u1", with_job(7))))],
            );
            assert!(jobs(&again).is_empty(), "{why}: a finished job never starts again: {again:?}");
        }
    }

    #[test]
    fn a_failed_phase_without_a_job_is_no_job_event() {
        let mut t = synced();
        let failed = json!({"phase": "Failed", "reason": "TooManyPodFailures"});
        let events =
            feed(&mut t, at(1), vec![Observed::Runner(Event::Apply(runner("u1", failed)))]);
        assert!(jobs(&events).is_empty(), "a Failed runner is not a failed job: {events:?}");
    }

    #[test]
    fn job_fields_arriving_in_two_patches_start_one_job() {
        let mut t = synced();
        let first = json!({"phase": "Running", "jobDisplayName": "build (ubuntu)"});
        let events = feed(
            &mut t,
            at(1),
            vec![
                Observed::Runner(Event::Apply(runner("u1", first))),
                Observed::Runner(Event::Apply(runner("u1", with_job(9)))),
            ],
        );
        assert_eq!(jobs(&events), ["started web-abcde-u1"]);
        assert_eq!(t.runners["u1"].job.as_ref().unwrap().job.job_request_id, Some(9));
    }

    #[test]
    fn a_job_without_ids_after_a_finished_one_is_a_new_job() {
        let mut t = synced();
        feed(&mut t, at(1), vec![Observed::Runner(Event::Apply(runner("u1", with_job(1))))]);
        feed(&mut t, at(2), vec![Observed::Runner(Event::Apply(runner("u1", json!({}))))]);
        let named = json!({"phase": "Running", "jobDisplayName": "deploy"});
        let events = feed(&mut t, at(3), vec![Observed::Runner(Event::Apply(runner("u1", named)))]);
        assert_eq!(jobs(&events), ["started web-abcde-u1"], "job 1 is done, not this one");
    }

    #[test]
    fn a_new_job_on_the_same_runner_finishes_the_old_one_first() {
        let mut t = synced();
        feed(&mut t, at(1), vec![Observed::Runner(Event::Apply(runner("u1", with_job(1))))]);
        let events =
            feed(&mut t, at(2), vec![Observed::Runner(Event::Apply(runner("u1", with_job(2))))]);
        assert_eq!(
            jobs(&events),
            ["finished web-abcde-u1 Unknown Some(1s)", "started web-abcde-u1"]
        );
    }

    #[test]
    fn a_relist_does_not_start_known_jobs_again() {
        let mut t = synced();
        feed(&mut t, at(1), vec![Observed::Runner(Event::Apply(runner("u1", with_job(1))))]);
        // The watch's resource version expired: kube-runtime lists everything again.
        let events = feed(
            &mut t,
            at(50),
            vec![
                Observed::Failed(Source::Runners),
                Observed::Runner(Event::Init),
                Observed::Runner(Event::InitApply(runner("u1", with_job(1)))),
                Observed::Runner(Event::InitDone),
            ],
        );
        assert!(events.is_empty(), "nothing changed, so nothing is news: {events:?}");
        let events =
            feed(&mut t, at(60), vec![Observed::Runner(Event::Delete(runner("u1", json!({}))))]);
        assert_eq!(jobs(&events), ["finished web-abcde-u1 Unknown Some(59s)"], "still exactly one");
    }

    #[test]
    fn a_runner_that_vanished_during_a_gap_finishes_its_job_at_the_relist() {
        let mut t = synced();
        feed(
            &mut t,
            at(1),
            vec![
                Observed::Runner(Event::Apply(runner("u1", with_job(1)))),
                Observed::Runner(Event::Apply(runner("u2", with_job(2)))),
            ],
        );
        // Disconnected while u1's job ended and its runner went, and u3 took a job.
        let events = feed(
            &mut t,
            at(30),
            vec![
                Observed::Failed(Source::Runners),
                Observed::Runner(Event::Init),
                Observed::Runner(Event::InitApply(runner("u2", with_job(2)))),
                Observed::Runner(Event::InitApply(runner("u3", with_job(3)))),
                Observed::Runner(Event::InitDone),
            ],
        );
        assert_eq!(
            jobs(&events),
            ["started web-abcde-u3", "finished web-abcde-u1 Unknown Some(29s)"],
            "u3's start is news; u1's end is told once the relist shows it gone"
        );
        assert!(events.contains(&"offline web-abcde-u1".to_owned()));
    }

    #[test]
    fn the_first_listing_is_the_starting_state_not_news() {
        let mut t = Tracker::new(&settings());
        let seed = [
            Observed::Runner(Event::Init),
            Observed::Runner(Event::InitApply(runner("u1", with_job(1)))),
            Observed::Runner(Event::InitDone),
        ];
        for observed in seed {
            let derived = t.observe(observed, at(0));
            assert!(!derived.announce, "the first listing only seeds the board");
        }
        assert!(!t.synced(), "two watchers have not listed yet");
        t.observe(Observed::Failed(Source::ScaleSets), at(0));
        t.observe(pod(Event::InitDone), at(0));
        assert!(t.synced(), "a watcher that failed its first listing does not hold up the rest");
        let events =
            feed(&mut t, at(90), vec![Observed::Runner(Event::Delete(runner("u1", json!({}))))]);
        assert_eq!(
            jobs(&events),
            ["finished web-abcde-u1 Unknown None"],
            "its end is news; how long it ran before the watch is unknown"
        );
    }

    #[test]
    fn scale_sets_come_and_go_once_each_across_relists() {
        let mut t = synced();
        let set = |name: &str| -> DynamicObject {
            serde_json::from_value(json!({"apiVersion": "actions.github.com/v1alpha1",
                "kind": "AutoscalingRunnerSet", "metadata": {"name": name}}))
            .unwrap()
        };
        let events = feed(
            &mut t,
            at(1),
            vec![
                Observed::ScaleSet(Event::Apply(set("web"))),
                Observed::ScaleSet(Event::Apply(set("web"))),
                Observed::ScaleSet(Event::Apply(set("ci"))),
                Observed::ScaleSet(Event::Init),
                Observed::ScaleSet(Event::InitApply(set("web"))),
                Observed::ScaleSet(Event::InitDone),
            ],
        );
        assert_eq!(events, ["added web", "added ci", "removed ci"]);
    }

    #[test]
    fn a_crash_looping_listener_needs_attention_until_it_stays_up() {
        let mut t = synced();
        let events = feed(
            &mut t,
            at(0),
            vec![
                pod(Event::Apply(listener("p1", healthy(0)))),
                pod(Event::Apply(listener("p1", crash_looping(3, "exit 1")))),
                pod(Event::Apply(listener("p1", crash_looping(4, "exit 1")))),
            ],
        );
        assert_eq!(events, ["attention ListenerFailing"], "said once, not per restart");
        let (_, message) = &t.attention["web"];
        assert!(message.contains("CrashLoopBackOff") && message.contains("exit 1"), "{message}");
        let events = feed(&mut t, at(30), vec![pod(Event::Apply(listener("p1", healthy(4))))]);
        assert!(events.is_empty(), "up for 30 s after a crash is not recovered yet");
        assert!(t.tick(at(100)).events.is_empty());
        assert_eq!(
            t.tick(at(151)).events,
            [ActivityEvent::AttentionCleared { scale_set: "web".into() }]
        );
        assert!(t.tick(at(200)).events.is_empty(), "cleared once");
    }

    #[test]
    fn a_rising_restart_count_alone_is_a_failing_listener() {
        let mut t = synced();
        feed(&mut t, at(0), vec![pod(Event::Apply(listener("p1", healthy(2))))]);
        assert!(t.attention.is_empty(), "old restarts before the watch are no evidence");
        let events = feed(&mut t, at(10), vec![pod(Event::Apply(listener("p1", healthy(3))))]);
        assert_eq!(events, ["attention ListenerFailing"]);
    }

    #[test]
    fn a_401_from_the_listener_is_rejected_credentials() {
        let mut t = synced();
        let words = "failed to create session: GET https://api.github.com/...: 401 Bad credentials";
        let events =
            feed(&mut t, at(0), vec![pod(Event::Apply(listener("p1", crash_looping(1, words))))]);
        assert_eq!(events, ["attention CredentialsRejected"]);
        // ARC recreates a failed listener pod: a new pod, the same scale set.
        let events = feed(
            &mut t,
            at(10),
            vec![
                pod(Event::Delete(listener("p1", json!({})))),
                pod(Event::Apply(listener("p2", healthy(0)))),
            ],
        );
        assert!(events.is_empty(), "a fresh pod right after the failure is not a recovery yet");
        assert_eq!(t.tick(at(200)).events.len(), 1, "cleared after it stayed up");
    }

    #[test]
    fn runners_pending_past_the_threshold_are_stuck_until_they_run() {
        let mut t = synced();
        let pending = json!({"phase": "Pending"});
        feed(
            &mut t,
            at(0),
            vec![
                Observed::Runner(Event::Apply(runner("u1", pending.clone()))),
                Observed::Runner(Event::Apply(runner("u2", pending.clone()))),
            ],
        );
        assert!(t.tick(at(599)).events.is_empty());
        // A status update that leaves it Pending does not restart the clock.
        feed(&mut t, at(300), vec![Observed::Runner(Event::Apply(runner("u1", pending)))]);
        let events: Vec<String> = t.tick(at(600)).events.iter().map(describe).collect();
        assert_eq!(events, ["attention RunnersStuck"]);
        assert_eq!(t.attention["web"].1, "2 runners pending for more than 10m");
        feed(
            &mut t,
            at(610),
            vec![Observed::Runner(Event::Apply(runner("u1", json!({"phase": "Running"}))))],
        );
        assert_eq!(t.attention["web"].1, "1 runner pending for more than 10m", "u2 still is");
        let events =
            feed(&mut t, at(620), vec![Observed::Runner(Event::Delete(runner("u2", json!({}))))]);
        assert_eq!(events, ["cleared"]);
    }

    #[test]
    fn a_runner_message_with_bad_credentials_needs_attention() {
        let mut t = synced();
        let status = json!({"phase": "Failed", "reason": "RunnerRegistration",
                            "message": "failed to generate JIT config: 401 Unauthorized"});
        let events =
            feed(&mut t, at(0), vec![Observed::Runner(Event::Apply(runner("u1", status)))]);
        assert_eq!(events, ["attention CredentialsRejected"]);
    }

    #[test]
    fn only_a_401_of_its_own_is_a_rejection() {
        assert!(mentions_rejected_credentials("HTTP 401"));
        assert!(mentions_rejected_credentials("401 Unauthorized"));
        assert!(mentions_rejected_credentials("{\"message\":\"Bad credentials\"}"));
        assert!(!mentions_rejected_credentials("listening on :14010"));
        assert!(!mentions_rejected_credentials("runner 4017 registered"));
    }
}
