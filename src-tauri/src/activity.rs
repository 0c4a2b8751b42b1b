//! The app's side of the activity watch: starts it when the cluster runs, and turns each
//! event into a feed line, a window event, a notification and a tray redraw.

use std::sync::atomic::Ordering;

use deskrun::activity::{self, ActivitySettings, JobResults};
use deskrun::cluster::KindCluster;
use tauri::{AppHandle, Manager};
use tokio::sync::broadcast::error::RecvError;

use crate::state::AppState;
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
    let (watch, mut events) =
        activity::start(handle.client().clone(), results, ActivitySettings::default());
    let mut synced = watch.synced_signal();
    if let Ok(mut slot) = state.watch.lock() {
        *slot = Some(watch);
    }
    tray::refresh(app);
    // NB: redrawing the tray waits for the GUI thread; it runs on its own task, coalescing
    // bursts, so a slow redraw never delays the next notification.
    let (redraw, mut redraws) = tokio::sync::mpsc::channel::<()>(1);
    let drawer = app.clone();
    tauri::async_runtime::spawn(async move {
        while redraws.recv().await.is_some() {
            tray::refresh(&drawer);
        }
    });
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        // NB: the handle keeps the kubeconfig file Helm needs alive while the watch runs.
        let _handle = handle;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => {
                        on_event(&app, &event);
                        let _ = redraw.try_send(());
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "activity events dropped; the tray is redrawn");
                        tray::refresh(&app);
                    }
                    Err(RecvError::Closed) => break,
                },
                changed = synced.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    tray::refresh(&app);
                }
            }
        }
    });
}

/// Restarts the watch whenever the config file is replaced — the CLI (or another process)
/// added a runner, or created or deleted the cluster — so the tray never goes stale. The
/// watcher is kept in the app state; a platform without file events just misses this.
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
            restart(&app).await;
        }
    });
}

fn on_event(app: &AppHandle, event: &activity::ActivityEvent) {
    notify::on_event(app, event);
    if let Some(item) = app.state::<AppState>().record(event) {
        events::emit_activity(app, item);
    }
}
