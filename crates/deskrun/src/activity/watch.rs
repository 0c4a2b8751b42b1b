//! The background loop: three kube-runtime watchers (EphemeralRunners, AutoscalingRunnerSets,
//! listener pods) merged into one stream, fed to the tracker, finished jobs completed with
//! their results, and the events sent to every subscriber and folded into a shared
//! [`RunnerBoard`]. [`ActivityWatch`] owns the loop: dropping it stops it.
//!
//! It does not derive events itself (the tracker does) nor connect to the cluster (the
//! caller passes a client).

use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt as _;
use futures::stream::BoxStream;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::tracker::{Observed, Source, Tracker};
use super::{ActivityEvent, ActivitySettings, JobResults, RunnerBoard};
use crate::ARC_NAMESPACE;
use crate::status::LISTENER_COMPONENT;

/// How many events a [`ActivityWatch::subscribe`]r may fall behind before it misses some
/// (and is told so by [`broadcast::error::RecvError::Lagged`]).
const CHANNEL_CAPACITY: usize = 256;

/// The subscribers that must miss nothing (see [`ActivityWatch::subscribe_lossless`]).
type LosslessSubscribers = Arc<Mutex<Vec<mpsc::UnboundedSender<ActivityEvent>>>>;

/// The running watch: subscribe to its events, read its board; dropping it stops the loop.
#[derive(Debug)]
pub struct ActivityWatch {
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
    events: broadcast::Sender<ActivityEvent>,
    lossless: LosslessSubscribers,
    board: Arc<Mutex<RunnerBoard>>,
    synced: watch::Receiver<bool>,
    revision: watch::Receiver<u64>,
}

/// Starts watching the runners in [`ARC_NAMESPACE`] through `client`, completing finished
/// jobs with `results`; returns the watch and a first subscription to its events. Must be
/// called inside a Tokio runtime.
///
/// The watchers retry with kube-runtime's default backoff for as long as the watch lives,
/// so a cluster that is down, or ARC not installed yet, only delays the events.
pub fn start(
    client: kube::Client,
    results: JobResults,
    settings: ActivitySettings,
) -> (ActivityWatch, broadcast::Receiver<ActivityEvent>) {
    spawn(observations(client), results, settings)
}

/// Starts the loop on any stream of observations (the watchers', or a test's).
fn spawn(
    observations: BoxStream<'static, Observed>,
    results: JobResults,
    settings: ActivitySettings,
) -> (ActivityWatch, broadcast::Receiver<ActivityEvent>) {
    let (events, first) = broadcast::channel(CHANNEL_CAPACITY);
    let (synced_tx, synced) = watch::channel(false);
    let (revision_tx, revision) = watch::channel(0);
    let board = Arc::new(Mutex::new(RunnerBoard::new()));
    let lossless = LosslessSubscribers::default();
    let cancel = CancellationToken::new();
    let feed = Feed {
        tracker: Tracker::new(&settings),
        results,
        events: events.clone(),
        lossless: Arc::clone(&lossless),
        board: Arc::clone(&board),
        synced: synced_tx,
        revision: revision_tx,
    };
    let task = tokio::spawn(feed.run(observations, settings, cancel.clone()));
    let watch =
        ActivityWatch { cancel, task: Some(task), events, lossless, board, synced, revision };
    (watch, first)
}

impl ActivityWatch {
    /// A new subscription: every event from now on, as long as the subscriber keeps up (a
    /// relist can announce hundreds at once); one that falls behind misses some and is told.
    pub fn subscribe(&self) -> broadcast::Receiver<ActivityEvent> {
        self.events.subscribe()
    }

    /// A new subscription that misses nothing: every event from now on, however far behind
    /// the subscriber falls, for a consumer that owes the user exactly one notification per
    /// job start and end. Dropping the receiver ends the subscription.
    ///
    /// NB: the events wait in memory until read, so the subscriber must keep reading; a
    /// consumer that can stall (on a desktop notification, a redraw) hands the work on.
    pub fn subscribe_lossless(&self) -> mpsc::UnboundedReceiver<ActivityEvent> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.lossless.lock().unwrap_or_else(PoisonError::into_inner).push(sender);
        receiver
    }

    /// The board as of now. A consumer subscribes first, then seeds its own board with this:
    /// events in between are in both, and applying them twice is harmless.
    pub fn board(&self) -> RunnerBoard {
        self.board.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits until every watcher has listed (or tried to list) the cluster once: from then
    /// on, what happens is announced, and the board holds the state it started from.
    pub async fn synced(&self) {
        let mut synced = self.synced.clone();
        // NB: an error means the loop ended, which is no reason to wait any longer.
        let _ = synced.wait_for(|done| *done).await;
    }

    /// A signal that changes whenever the board does (each event, and the sync), for a
    /// consumer that shows the board but must not hold the watch itself (the desktop app
    /// keeps it in its state and redraws the tray): a finished job leaves the board at once,
    /// while its event waits for GitHub's answer about the result.
    pub fn board_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revision.clone()
    }

    /// Stops the loop and waits for it to end.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
            && error.is_panic()
        {
            tracing::error!(%error, "the activity watch panicked");
        }
    }
}

impl Drop for ActivityWatch {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// What the loop owns.
struct Feed {
    tracker: Tracker,
    results: JobResults,
    events: broadcast::Sender<ActivityEvent>,
    lossless: LosslessSubscribers,
    board: Arc<Mutex<RunnerBoard>>,
    synced: watch::Sender<bool>,
    revision: watch::Sender<u64>,
}

impl Feed {
    async fn run(
        mut self,
        mut observations: BoxStream<'static, Observed>,
        settings: ActivitySettings,
        cancel: CancellationToken,
    ) {
        let mut lookups: JoinSet<ActivityEvent> = JoinSet::new();
        let mut tick = tokio::time::interval(settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let derived = tokio::select! {
                () = cancel.cancelled() => break,
                observed = observations.next() => match observed {
                    Some(observed) => self.tracker.observe(observed, Timestamp::now()),
                    None => break,
                },
                Some(resolved) = lookups.join_next() => {
                    if let Ok(event) = resolved {
                        self.publish(event, true);
                    }
                    continue;
                }
                _ = tick.tick() => self.tracker.tick(Timestamp::now()),
            };
            for event in derived.events {
                if derived.announce && matches!(event, ActivityEvent::JobFinished { .. }) {
                    // NB: asking GitHub takes a moment (and retries, up to 15 s); other
                    // events go on, and the job leaves the board now: the tray must not
                    // stay busy while the notification waits for its result. The resolved
                    // event applies again, harmlessly.
                    self.apply(&event);
                    let results = self.results.clone();
                    lookups.spawn(async move { results.resolve(event).await });
                } else {
                    self.publish(event, derived.announce);
                }
            }
            if self.tracker.synced() && !*self.synced.borrow() {
                self.board.lock().unwrap_or_else(PoisonError::into_inner).mark_synced();
                self.synced.send_replace(true);
                self.revision.send_modify(|r| *r += 1);
            }
        }
    }

    fn apply(&self, event: &ActivityEvent) {
        self.board.lock().unwrap_or_else(PoisonError::into_inner).apply(event);
        self.revision.send_modify(|r| *r += 1);
    }

    fn publish(&self, event: ActivityEvent, announce: bool) {
        self.apply(&event);
        if announce {
            let mut lossless = self.lossless.lock().unwrap_or_else(PoisonError::into_inner);
            lossless.retain(|subscriber| subscriber.send(event.clone()).is_ok());
            // NB: no subscriber is no error: the board still has it.
            let _ = self.events.send(event);
        }
    }
}

fn resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("actions.github.com", "v1alpha1", kind))
}

/// The three watchers as one stream.
fn observations(client: kube::Client) -> BoxStream<'static, Observed> {
    let api = |kind| {
        kube::Api::<DynamicObject>::namespaced_with(client.clone(), ARC_NAMESPACE, &resource(kind))
    };
    let runners = watcher(api("EphemeralRunner"), watcher::Config::default())
        .modify(trim_runner)
        .default_backoff();
    let scale_sets = watcher(api("AutoscalingRunnerSet"), watcher::Config::default())
        .modify(trim_scale_set)
        .default_backoff();
    let selector = format!("app.kubernetes.io/component={LISTENER_COMPONENT}");
    let pods: kube::Api<Pod> = kube::Api::namespaced(client, ARC_NAMESPACE);
    let listeners = watcher(pods, watcher::Config::default().labels(&selector))
        .modify(trim_pod)
        .default_backoff();
    futures::stream::select_all([
        observe(runners, Source::Runners, Observed::Runner),
        observe(scale_sets, Source::ScaleSets, Observed::ScaleSet),
        observe(listeners, Source::Listeners, |event| Observed::Listener(Box::new(event))),
    ])
    .boxed()
}

/// One watcher's events as observations; its errors are logged and retried.
fn observe<K: 'static, S>(
    stream: S,
    source: Source,
    wrap: fn(watcher::Event<K>) -> Observed,
) -> BoxStream<'static, Observed>
where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
{
    stream
        .map(move |item| match item {
            Ok(event) => wrap(event),
            Err(error) => {
                // NB: before ARC is installed its CRDs do not exist: a 404 until `up`.
                tracing::debug!(?source, %error, "watch failed; retrying with backoff");
                Observed::Failed(source)
            }
        })
        .boxed()
}

/// Drops what the tracker never reads: managed fields, annotations, owners.
fn trim_meta(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    meta.annotations = None;
    meta.owner_references = None;
}

/// Keeps an EphemeralRunner's metadata, status and GitHub URL; its pod template can be large.
fn trim_runner(runner: &mut DynamicObject) {
    trim_meta(&mut runner.metadata);
    let mut kept = serde_json::Map::new();
    if let Some(url) = runner.data.pointer("/spec/githubConfigUrl").cloned() {
        kept.insert("spec".into(), serde_json::json!({ "githubConfigUrl": url }));
    }
    if let Some(status) = runner.data.get_mut("status").map(serde_json::Value::take) {
        kept.insert("status".into(), status);
    }
    runner.data = serde_json::Value::Object(kept);
}

/// Only an AutoscalingRunnerSet's name matters.
fn trim_scale_set(set: &mut DynamicObject) {
    trim_meta(&mut set.metadata);
    set.data = serde_json::Value::Object(serde_json::Map::new());
}

/// Only a listener pod's labels and status matter.
fn trim_pod(pod: &mut Pod) {
    trim_meta(&mut pod.metadata);
    pod.spec = None;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::channel::mpsc;
    use kube::runtime::watcher::Event;
    use serde_json::json;

    use super::*;

    fn runner(uid: &str, job: Option<i64>) -> DynamicObject {
        let mut status = json!({"phase": "Running"});
        if let Some(id) = job {
            status["jobRequestId"] = json!(id);
            status["jobDisplayName"] = json!(format!("job {id}"));
            status["jobRepositoryName"] = json!("acme/web");
        }
        serde_json::from_value(json!({
            "apiVersion": "actions.github.com/v1alpha1", "kind": "EphemeralRunner",
            "metadata": {"name": format!("web-{uid}"), "uid": uid,
                         "labels": {"actions.github.com/scale-set-name": "web"}},
            "spec": {"githubConfigUrl": "https://github.com/acme/web", "spec": {"containers": []}},
            "status": status,
        }))
        .unwrap()
    }

    async fn next(events: &mut broadcast::Receiver<ActivityEvent>) -> ActivityEvent {
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("an event within 5 s")
            .expect("the loop is running")
    }

    /// Starts a loop on the returned feed and sends it a synced first listing (no runners).
    async fn synced_loop()
    -> (mpsc::UnboundedSender<Observed>, ActivityWatch, broadcast::Receiver<ActivityEvent>) {
        synced_loop_with(JobResults::none()).await
    }

    /// [`synced_loop`], completing finished jobs with `results`.
    async fn synced_loop_with(
        results: JobResults,
    ) -> (mpsc::UnboundedSender<Observed>, ActivityWatch, broadcast::Receiver<ActivityEvent>) {
        let (feed, stream) = mpsc::unbounded();
        let (watch, events) = spawn(stream.boxed(), results, Default::default());
        for observed in [
            Observed::Runner(Event::Init),
            Observed::Runner(Event::InitDone),
            Observed::ScaleSet(Event::Init),
            Observed::ScaleSet(Event::InitDone),
            Observed::Failed(Source::Listeners),
        ] {
            feed.unbounded_send(observed).unwrap();
        }
        tokio::time::timeout(Duration::from_secs(5), watch.synced()).await.expect("synced");
        (feed, watch, events)
    }

    /// The desktop app announced 256 of 300 jobs started in a benchmark's burst: its
    /// subscription fell behind the broadcast and lost the rest.
    #[tokio::test]
    async fn a_lossless_subscriber_far_behind_gets_every_job_start_and_end_once() {
        const JOBS: i64 = 500;
        let (feed, watch, mut broadcast) = synced_loop().await;
        let mut lossless = watch.subscribe_lossless();
        for id in 0..JOBS {
            let uid = format!("u{id}");
            feed.unbounded_send(Observed::Runner(Event::Apply(runner(&uid, Some(id))))).unwrap();
            feed.unbounded_send(Observed::Runner(Event::Delete(runner(&uid, Some(id))))).unwrap();
        }
        // Online, started, finished, offline per job; nothing is read until all are sent.
        let expected = usize::try_from(4 * JOBS).unwrap();
        tokio::time::timeout(Duration::from_secs(10), async {
            while lossless.len() < expected {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("every event within 10 s");

        let mut started = std::collections::BTreeMap::<String, usize>::new();
        let mut finished = std::collections::BTreeMap::<String, usize>::new();
        while let Ok(event) = lossless.try_recv() {
            match event {
                ActivityEvent::JobStarted(job) => *started.entry(job.name).or_default() += 1,
                ActivityEvent::JobFinished { job, .. } => {
                    *finished.entry(job.name).or_default() += 1;
                }
                _ => {}
            }
        }
        let jobs = usize::try_from(JOBS).unwrap();
        assert_eq!(started.len(), jobs, "every job's start reaches the subscriber");
        assert_eq!(finished.len(), jobs, "every job's end reaches the subscriber");
        assert!(
            started.values().chain(finished.values()).all(|&n| n == 1),
            "no start or end is announced twice"
        );
        assert!(
            matches!(broadcast.try_recv(), Err(broadcast::error::TryRecvError::Lagged(_))),
            "the burst overflows the broadcast, or this test proves nothing"
        );
    }

    /// What the app showed: the tray stayed busy for up to 15 s after a job ended, while the
    /// finished event waited for GitHub to say the job's result.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_finished_job_leaves_the_board_before_its_result_is_known() {
        let github = wiremock::MockServer::start().await;
        let completed = json!({"id": 77, "name": "job 1", "status": "completed",
            "conclusion": "success", "runner_name": "web-u1",
            "started_at": "2026-01-02T03:04:05Z", "completed_at": "2026-01-02T03:06:15Z"});
        wiremock::Mock::given(wiremock::matchers::path("/repos/acme/web/actions/jobs/77"))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .set_body_json(completed)
                    .set_delay(Duration::from_secs(2)),
            )
            .mount(&github)
            .await;
        let results = JobResults::fixed("web", &github.uri(), "ghp_x");
        let (feed, watch, mut events) = synced_loop_with(results).await;
        let mut running = runner("u1", Some(1));
        running.data["status"]["jobId"] = json!("77");
        feed.unbounded_send(Observed::Runner(Event::Apply(running.clone()))).unwrap();
        while !matches!(next(&mut events).await, ActivityEvent::JobStarted(_)) {}
        let mut board = watch.board_signal();
        board.borrow_and_update();
        assert_eq!(watch.board().summary().jobs_running, 1);

        feed.unbounded_send(Observed::Runner(Event::Delete(running))).unwrap();
        tokio::time::timeout(Duration::from_secs(1), async {
            while watch.board().summary().jobs_running > 0 {
                board.changed().await.expect("the loop runs");
            }
        })
        .await
        .expect("the job leaves the board within a second, not when GitHub answers");
        let finished = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let ActivityEvent::JobFinished { result, .. } = next(&mut events).await {
                    return result;
                }
            }
        })
        .await
        .expect("the finished event follows");
        assert_eq!(finished, super::super::JobResult::Succeeded, "with GitHub's result");
        assert_eq!(watch.board().summary().jobs_running, 0, "applying it again is harmless");
    }

    #[tokio::test]
    async fn a_dropped_lossless_subscription_is_forgotten() {
        let (feed, watch, _events) = synced_loop().await;
        drop(watch.subscribe_lossless());
        let mut kept = watch.subscribe_lossless();
        feed.unbounded_send(Observed::Runner(Event::Apply(runner("u1", Some(1))))).unwrap();
        let first = tokio::time::timeout(Duration::from_secs(5), kept.recv()).await;
        assert!(matches!(first, Ok(Some(ActivityEvent::RunnerOnline { .. }))));
        assert_eq!(
            watch.lossless.lock().unwrap().len(),
            1,
            "a subscriber that went away is no longer sent events (nor kept in memory)"
        );
    }

    #[test]
    fn trimming_keeps_what_the_tracker_reads() {
        let mut obj = runner("u1", Some(5));
        obj.metadata.annotations = Some([("big".to_owned(), "x".repeat(1000))].into());
        trim_runner(&mut obj);
        assert!(obj.data.pointer("/spec/spec").is_none(), "the pod template is dropped");
        assert_eq!(obj.data["spec"]["githubConfigUrl"], "https://github.com/acme/web");
        assert_eq!(obj.data["status"]["jobRequestId"], 5);
        assert!(obj.metadata.annotations.is_none() && obj.metadata.labels.is_some());
    }

    #[tokio::test]
    async fn the_initial_state_seeds_the_board_and_only_changes_are_announced() {
        let (feed, stream) = mpsc::unbounded();
        let settings = ActivitySettings::default();
        let (watch, mut events) = spawn(stream.boxed(), JobResults::none(), settings);
        let send = |observed| feed.unbounded_send(observed).unwrap();
        send(Observed::Runner(Event::Init));
        send(Observed::Runner(Event::InitApply(runner("u1", Some(1)))));
        send(Observed::Runner(Event::InitDone));
        send(Observed::ScaleSet(Event::Init));
        send(Observed::ScaleSet(Event::InitDone));
        send(Observed::Failed(Source::Listeners));
        tokio::time::timeout(Duration::from_secs(5), watch.synced()).await.expect("synced");
        let board = watch.board();
        assert!(board.is_synced());
        assert_eq!(board.summary().jobs_running, 1, "the running job is on the board");

        send(Observed::Runner(Event::Apply(runner("u2", Some(2)))));
        let ActivityEvent::RunnerOnline { runner: online, .. } = next(&mut events).await else {
            panic!("a new running runner is online first")
        };
        assert_eq!(online, "web-u2", "u1's seeded RunnerOnline was never announced");
        let ActivityEvent::JobStarted(job) = next(&mut events).await else {
            panic!("then its job starts")
        };
        assert_eq!(job.name, "job 2");

        send(Observed::Runner(Event::Delete(runner("u1", Some(1)))));
        let mut finished = None;
        for _ in 0..2 {
            if let ActivityEvent::JobFinished { job, result, duration } = next(&mut events).await {
                finished = Some((job.name, result, duration));
            }
        }
        assert_eq!(
            finished,
            Some(("job 1".to_owned(), super::super::JobResult::Unknown, None)),
            "a seeded job's end is announced, without a duration deskrun did not see"
        );
        assert_eq!(watch.board().summary().jobs_running, 1);

        drop(watch);
        tokio::time::timeout(Duration::from_secs(5), async {
            while !feed.is_closed() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("dropping the handle stops the loop, which drops the stream");
    }
}
