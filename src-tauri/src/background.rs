//! Operations started from the tray menu, where there is no window to report to: they run in
//! the background and say how they ended with a notification.

use deskrun::operations::{self, UpOptions};
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;
use crate::{activity, tray};

/// `up`, from the tray.
pub fn start_runners(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let _busy = tray::Operation::start(&app, "Starting runners…");
        let state = app.state::<AppState>();
        let result =
            operations::up(&state.store, &state.secrets, UpOptions::default(), &|_| {}).await;
        activity::refresh(&app).await;
        report(&app, "Runners started", result.map(|_| ()));
    });
}

/// `down`, from the tray.
pub fn pause_runners(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let _busy = tray::Operation::start(&app, "Pausing runners…");
        let state = app.state::<AppState>();
        let result = operations::down(&state.store, &state.secrets, &|_| {}).await;
        activity::refresh(&app).await;
        report(&app, "Runners paused", result);
    });
}

/// Deletes the kind cluster, from the tray; the config and the caches on the host stay.
pub fn stop_cluster(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let _busy = tray::Operation::start(&app, "Stopping the cluster…");
        let state = app.state::<AppState>();
        let result = operations::delete_cluster(&state.store, &|_| {}).await;
        activity::refresh(&app).await;
        report(&app, "Cluster stopped; “Start cluster” brings the runners back", result);
    });
}

fn report(app: &AppHandle, done: &str, result: Result<(), operations::Error>) {
    let (title, body) = match result {
        Ok(()) => (done.to_owned(), String::new()),
        Err(error) => {
            let message = crate::error::IpcError::from(error).message;
            tracing::error!(error = %message, "tray operation failed");
            let body: String = message.chars().take(300).collect();
            ("deskrun could not do that".to_owned(), body)
        }
    };
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let _ = app.notification().builder().title(title).body(body).show();
    });
}
