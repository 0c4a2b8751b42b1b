//! The app's state, managed by Tauri: the config and keyring the engine uses, the running
//! activity watch, and the recent-jobs feed. Background work is owned here and stops when
//! the handles drop.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use deskrun::activity::{ActivityEvent, ActivityWatch, BoardSummary, JobResults};
use deskrun::config::{Config, ConfigStore};
use deskrun::secrets::SecretStore;

use crate::views::ActivityItem;

/// How many finished or running jobs the activity feed keeps.
const FEED_LEN: usize = 200;

/// The activity watch on a cluster, with what it was started for.
pub struct Watching {
    /// The watch; dropping it stops it.
    pub watch: ActivityWatch,
    /// The cluster watched, as the config names it (see [`Watching::cluster_of`]).
    pub cluster: (String, Option<String>),
    /// Where the watch's finished jobs get their results; it follows config changes.
    pub results: JobResults,
}

impl Watching {
    /// Which cluster `config` means: its name and when deskrun created it, so a cluster
    /// deleted and created again (by the CLI, say) is another one.
    pub fn cluster_of(config: &Config) -> (String, Option<String>) {
        (config.cluster.name.clone(), config.cluster.created_at.clone())
    }
}

/// Everything the commands, the tray and the notifier share.
pub struct AppState {
    /// The config file.
    pub store: ConfigStore,
    /// The keyring.
    pub secrets: SecretStore,
    /// The watch on the cluster, while one runs; replacing it stops the old one.
    pub watch: Mutex<Option<Watching>>,
    /// Recent jobs, newest first.
    pub feed: Mutex<VecDeque<ActivityItem>>,
    /// Whether a long operation (up, down, add) runs now: the tray says "starting".
    pub busy_operation: Mutex<Option<String>>,
    /// Whether the cluster existed at the last look (start-up or an operation).
    pub cluster_running: AtomicBool,
    /// The watch on the config file, while it runs.
    pub config_watcher: Mutex<Option<::notify::RecommendedWatcher>>,
}

impl AppState {
    /// State for the config in `store`.
    pub fn new(store: ConfigStore) -> Self {
        Self {
            store,
            secrets: SecretStore::from_env(),
            watch: Mutex::new(None),
            feed: Mutex::new(VecDeque::new()),
            busy_operation: Mutex::new(None),
            cluster_running: AtomicBool::new(false),
            config_watcher: Mutex::new(None),
        }
    }

    /// Adds `event` to the feed; returns the feed line it made or changed.
    pub fn record(&self, event: &ActivityEvent) -> Option<ActivityItem> {
        let Ok(mut feed) = self.feed.lock() else { return None };
        match event {
            ActivityEvent::JobStarted(job) => {
                let item = ActivityItem::started(job);
                feed.push_front(item.clone());
                feed.truncate(FEED_LEN);
                Some(item)
            }
            ActivityEvent::JobFinished { job, result, duration } => {
                let key = ActivityItem::key_of(job);
                let finished = ActivityItem::finished(job, *result, *duration);
                match feed.iter_mut().find(|item| item.key == key) {
                    Some(item) => *item = finished.clone(),
                    None => feed.push_front(finished.clone()),
                }
                feed.truncate(FEED_LEN);
                Some(finished)
            }
            _ => None,
        }
    }

    /// The runners in numbers and words, from the watch's board (empty without a watch).
    pub fn summary(&self) -> BoardSummary {
        let board = self.watch.lock().ok().and_then(|w| w.as_ref().map(|w| w.watch.board()));
        board.unwrap_or_default().summary()
    }
}
