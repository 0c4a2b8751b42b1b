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
        activity::restart(&app).await;
        report(&app, "Runners started", result.map(|_| ()));
    });
}

/// `down`, from the tray.
pub fn pause_runners(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let _busy = tray::Operation::start(&app, "Pausing runners…");
        let state = app.state::<AppState>();
        let result = operations::down(&state.store, &state.secrets, &|_| {}).await;
        activity::restart(&app).await;
        report(&app, "Runners paused", result);
    });
}

fn report(app: &AppHandle, done: &str, result: Result<(), operations::Error>) {
    let (title, body) = match result {
        Ok(()) => (done.to_owned(), String::new()),
        Err(error) => {
            tracing::error!(error = %crate::error::IpcError::from(error).message, "tray operation failed");
            ("deskrun could not do that".to_owned(), "Open deskrun to see why.".to_owned())
        }
    };
    let _ = app.notification().builder().title(title).body(body).show();
}
