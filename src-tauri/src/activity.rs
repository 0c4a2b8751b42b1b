//! The app's side of the activity watch: starts it when the cluster runs, and turns each
//! event into a feed line, a window event, a notification and a tray redraw.
//!
//! NB: the loop reading the events never waits: notifications and redraws are handed to
//! their own threads (`notify`, `tray`), and it reads a subscription that misses nothing,
//! so every job start and end is notified exactly once however large the burst.

use std::sync::atomic::Ordering;

use deskrun::activity::{self, ActivitySettings, JobResults};
use deskrun::cluster::KindCluster;
use tauri::{AppHandle, Manager};

use crate::state::{AppState, Watching};
use crate::{events, notify, tray};

/// (Re)starts the watch for the configured cluster; without a cluster, stops it.
pub async fn restart(app: &AppHandle) {
    let state = app.state::<AppState>();
    if let Ok(mut watch) = state.watch.lock() {
        watch.take();
    }
    let config = match state.store.load() {
        Ok(config) => config,
        Err(error) => {
            tracing::warn!(%error, "cannot read the config; no activity watch");
            return tray::refresh(app);
        }
    };
    let cluster = KindCluster::new(&config.cluster.name);
    let handle = match cluster.connect().await {
        Ok(handle) => handle,
        Err(error) => {
            tracing::info!(%error, "no cluster to watch");
            state.cluster_running.store(false, Ordering::Relaxed);
            return tray::refresh(app);
        }
    };
    state.cluster_running.store(true, Ordering::Relaxed);
    let results = JobResults::from_config(&config, state.secrets.clone());
    let (watch, _) =
        activity::start(handle.client().clone(), results.clone(), ActivitySettings::default());
    // NB: before any await: nothing is announced until the watch has listed the cluster.
    let mut events = watch.subscribe_lossless();
    // NB: the tray shows the board, which changes with every event, when the watch has
    // synced, and before some events arrive (a finished job waits for its result from
    // GitHub): this one signal is what redraws it.
    let mut board = watch.board_signal();
    if let Ok(mut slot) = state.watch.lock() {
        *slot = Some(Watching { watch, cluster: Watching::cluster_of(&config), results });
    }
    tray::refresh(app);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        // NB: the handle keeps the kubeconfig file Helm needs alive while the watch runs.
        let _handle = handle;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => on_event(&app, &event),
                    None => break,
                },
                changed = board.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    tray::refresh(&app);
                }
            }
        }
    });
}

/// Follows the config file whenever it is replaced — the CLI (or another process) added a
/// runner, or created or deleted the cluster — so the tray never goes stale (see
/// [`refresh`]). The file watcher is kept in the app state; a platform without file
/// events just misses this.
pub fn follow_config(app: &AppHandle) {
    use ::notify::Watcher;
    let state = app.state::<AppState>();
    let config = state.store.path().to_path_buf();
    let Some(dir) = config.parent().map(std::path::Path::to_path_buf) else { return };
    let _ = std::fs::create_dir_all(&dir);
    let (changes, mut changed) = tokio::sync::mpsc::unbounded_channel();
    let watcher = ::notify::recommended_watcher(move |event: ::notify::Result<::notify::Event>| {
        // NB: saves are atomic renames, so the file itself is replaced: match by path, and
        // only changes — reads (the app's own loads) raise access events, which must not
        // restart the watch.
        let changed = |e: &::notify::Event| {
            (e.kind.is_create() || e.kind.is_modify() || e.kind.is_remove())
                && e.paths.iter().any(|p| p == &config)
        };
        if event.is_ok_and(|e| changed(&e)) {
            let _ = changes.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(error) => return tracing::warn!(%error, "cannot watch the config file"),
    };
    if let Err(error) = watcher.watch(&dir, ::notify::RecursiveMode::NonRecursive) {
        return tracing::warn!(%error, dir = %dir.display(), "cannot watch the config directory");
    }
    if let Ok(mut slot) = state.config_watcher.lock() {
        *slot = Some(watcher);
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while changed.recv().await.is_some() {
            // One save makes several file events: take them all, then restart once.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            while changed.try_recv().is_ok() {}
            refresh(&app).await;
        }
    });
}

/// Brings the watch up to date with a changed config. The watch on the same cluster goes on and only learns the
/// runners' new credentials: restarting it would take its first listing as the starting
/// state, so a job ending meanwhile would never be announced finished. Another cluster, or
/// none, restarts it.
pub async fn refresh(app: &AppHandle) {
    let state = app.state::<AppState>();
    let Ok(config) = state.store.load() else { return restart(app).await };
    let same_cluster = state.watch.lock().ok().and_then(|slot| {
        let watching = slot.as_ref()?;
        (watching.cluster == Watching::cluster_of(&config)).then(|| watching.results.clone())
    });
    match same_cluster {
        Some(results) => {
            results.follow(&config);
            tray::refresh(app);
        }
        None => restart(app).await,
    }
}

fn on_event(app: &AppHandle, event: &activity::ActivityEvent) {
    if let Some(notifier) = app.try_state::<notify::Notifier>() {
        notifier.send(event);
    }
    if let Some(item) = app.state::<AppState>().record(event) {
        events::emit_activity(app, item);
    }
}
