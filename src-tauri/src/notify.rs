//! Desktop notifications for job starts, job ends and runners needing attention, as the
//! settings allow. A missing notification service is logged once and never stops the app.

use std::sync::atomic::{AtomicBool, Ordering};

use deskrun::activity::{ActivityEvent, JobResult, format_duration};
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

static WARNED: AtomicBool = AtomicBool::new(false);

/// Shows the notification `event` calls for, if any.
pub fn on_event(app: &AppHandle, event: &ActivityEvent) {
    let Ok(config) = app.state::<AppState>().store.load() else { return };
    let prefs = config.desktop;
    let (title, body) = match event {
        ActivityEvent::JobStarted(job) if prefs.notify_job_started => (
            format!("Job started: {}", job.name),
            format!("on runner {} ({})", job.scale_set, job.repository),
        ),
        ActivityEvent::JobFinished { job, result, duration } if prefs.notify_job_finished => {
            let how = match result {
                JobResult::Unknown => "finished".to_owned(),
                other => other.as_word().to_owned(),
            };
            let took = duration.map(|d| format!(" in {}", format_duration(d))).unwrap_or_default();
            (
                format!("Job {how}: {}", job.name),
                format!("on {}{took} ({})", job.scale_set, job.repository),
            )
        }
        ActivityEvent::NeedsAttention { scale_set, reason, message } if prefs.notify_attention => {
            (format!("{scale_set} needs attention"), format!("{}: {message}", reason.as_words()))
        }
        _ => return,
    };
    // NB: showing is a blocking D-Bus round trip to the notification server; on the event
    // loop it would hold up every later event (and a slow server would make them lag).
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let shown = app.notification().builder().title(title).body(body).show();
        if let Err(error) = shown
            && !WARNED.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(%error, "cannot show notifications (no notification service?)");
        }
    });
}
