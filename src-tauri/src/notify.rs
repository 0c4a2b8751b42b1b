//! Desktop notifications for job starts, job ends and runners needing attention, as the
//! settings allow, shown one after another on a thread of their own. A missing notification
//! service is logged once and never stops the app.
//!
//! It does not decide what happened (the engine's activity watch does) nor keep the feed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use deskrun::activity::{ActivityEvent, JobResult, format_duration};
use deskrun::config::DesktopConfig;
use tauri::{AppHandle, Manager};

use crate::state::AppState;

static WARNED: AtomicBool = AtomicBool::new(false);

/// A notification's title and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The first line, e.g. "Job started: build".
    pub title: String,
    /// The rest, e.g. "on runner web (acme/web)".
    pub body: String,
}

/// The notification thread's queue: [`Notifier::send`] never waits for the notification
/// server. Dropping it ends the thread once the queue is shown.
pub struct Notifier {
    queue: mpsc::Sender<ActivityEvent>,
}

impl Notifier {
    /// Starts the thread that shows what `event` calls for, by the settings in the config.
    pub fn start(app: &AppHandle) -> std::io::Result<Self> {
        let app = app.clone();
        let mut desktop = Desktop::new(app.config().identifier.clone());
        Self::with(move |event| {
            let Ok(config) = app.state::<AppState>().store.load() else { return };
            if let Some(notice) = notice(&config.desktop, &event) {
                desktop.show(notice);
            }
        })
    }

    /// Starts a thread running `handle` on each event sent, in order.
    fn with(mut handle: impl FnMut(ActivityEvent) + Send + 'static) -> std::io::Result<Self> {
        let (queue, events) = mpsc::channel();
        // NB: showing is a blocking D-Bus round trip. On an
        // async runtime thread — where tauri-plugin-notification's `show` runs it — a burst
        // of them stalls the activity watch, its GitHub lookups and the redraws.
        std::thread::Builder::new().name("deskrun-notifier".into()).spawn(move || {
            for event in events {
                handle(event);
            }
        })?;
        Ok(Self { queue })
    }

    /// Queues the notification `event` calls for, if any; returns at once.
    pub fn send(&self, event: &ActivityEvent) {
        if matters(event) {
            // NB: the thread only ends when this sender drops.
            let _ = self.queue.send(event.clone());
        }
    }
}

/// Whether `event` may call for a notification (settings aside): the rest is not queued.
fn matters(event: &ActivityEvent) -> bool {
    matches!(
        event,
        ActivityEvent::JobStarted(_)
            | ActivityEvent::JobFinished { .. }
            | ActivityEvent::NeedsAttention { .. }
    )
}

/// The notification `event` calls for under `prefs`, if any.
fn notice(prefs: &DesktopConfig, event: &ActivityEvent) -> Option<Notice> {
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
        _ => return None,
    };
    Some(Notice { title, body })
}

/// Where notices are shown: the desktop's notification service.
struct Desktop {
    #[cfg_attr(not(any(windows, target_os = "macos")), expect(dead_code))]
    identifier: String,
    /// The session bus, connected on first use and kept: see [`Desktop::show`].
    #[cfg(all(unix, not(target_os = "macos")))]
    bus: Option<dbus::blocking::Connection>,
}

impl Desktop {
    fn new(identifier: String) -> Self {
        Self {
            identifier,
            #[cfg(all(unix, not(target_os = "macos")))]
            bus: None,
        }
    }

    /// Shows `notice`; a failure is logged once (no notification service, say).
    fn show(&mut self, notice: Notice) {
        match self.try_show(&notice) {
            Ok(()) => {}
            // A slow server (a burst of hundreds on screen) is not a missing one: not the
            // one-time warning.
            #[cfg(all(unix, not(target_os = "macos")))]
            Err(error) if error.name() == Some("org.freedesktop.DBus.Error.NoReply") => {
                tracing::debug!(%error, "the notification service did not answer in time");
            }
            Err(error) => {
                if !WARNED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "cannot show notifications (no notification service?)");
                }
            }
        }
    }

    /// The freedesktop `Notify` call over one session-bus connection for the thread's life.
    ///
    /// NB: not notify-rust, which opens a new bus connection for every notification: in a
    /// burst here each of those took 20 ms at first and up to 270 ms after a few hundred
    /// (300 in 57 s), against 3 ms for the same call on a kept connection.
    #[cfg(all(unix, not(target_os = "macos")))]
    fn try_show(&mut self, notice: &Notice) -> Result<(), dbus::Error> {
        const SERVICE: &str = "org.freedesktop.Notifications";
        let bus = match self.bus.take() {
            Some(bus) => bus,
            None => dbus::blocking::Connection::new_session()?,
        };
        let proxy = bus.with_proxy(
            SERVICE,
            "/org/freedesktop/Notifications",
            std::time::Duration::from_secs(5),
        );
        // app_name, replaces_id, app_icon (the installed icon's name), summary, body,
        // actions, hints, expire_timeout (-1: the server's default).
        let args = (
            "deskrun",
            0u32,
            "deskrun-app",
            notice.title.as_str(),
            notice.body.as_str(),
            Vec::<&str>::new(),
            dbus::arg::PropMap::new(),
            -1i32,
        );
        let shown: Result<(u32,), dbus::Error> = proxy.method_call(SERVICE, "Notify", args);
        // NB: the server sends NotificationClosed to the connection that asked; nothing here
        // reads those, and on a kept connection they would pile up for the app's life.
        while bus.channel().pop_message().is_some() {}
        // A connection that failed is dropped, so the next notice connects anew.
        if shown.is_ok() {
            self.bus = Some(bus);
        }
        shown.map(drop)
    }

    /// Shows `notice` the way tauri-plugin-notification would, on the calling thread.
    #[cfg(any(windows, target_os = "macos"))]
    fn try_show(&mut self, notice: &Notice) -> Result<(), notify_rust::error::Error> {
        let mut notification = notify_rust::Notification::new();
        notification.summary(&notice.title).body(&notice.body).auto_icon();
        #[cfg(windows)]
        {
            // The notification's AppUserModelID only works for the installed app.
            let dev = std::env::current_exe().ok().and_then(|exe| {
                exe.parent()
                    .map(|dir| dir.ends_with("target/debug") || dir.ends_with("target/release"))
            });
            if dev == Some(false) {
                notification.app_id(&self.identifier);
            }
        }
        #[cfg(target_os = "macos")]
        {
            let _ = notify_rust::set_application(if tauri::is_dev() {
                "com.apple.Terminal"
            } else {
                &self.identifier
            });
        }
        notification.show().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    use deskrun::activity::Job;

    use super::*;

    fn job(n: u32) -> Job {
        Job {
            scale_set: "web".into(),
            runner: format!("web-{n}"),
            job_id: None,
            job_request_id: Some(n.into()),
            name: format!("job {n}"),
            repository: "acme/web".into(),
            workflow_ref: None,
            workflow_run_id: None,
            run_url: None,
            started_at: "2026-01-02T03:04:05Z".parse().unwrap(),
        }
    }

    /// In a benchmark's burst the app showed ~4 notifications a second and fell behind the
    /// activity watch: every notification held up the events after it.
    #[test]
    fn sending_never_waits_for_a_stalled_notification_server() {
        let stall = Arc::new(Barrier::new(2));
        let (shown, seen) = mpsc::channel();
        let server = Arc::clone(&stall);
        let notifier = Notifier::with(move |event| {
            if let ActivityEvent::JobStarted(job) = event {
                if job.name == "job 0" {
                    server.wait();
                }
                shown.send(job.name).unwrap();
            }
        })
        .unwrap();

        // NB: the first notification is stuck until `stall` is released below, so if sending
        // waited for it this loop would never end.
        for n in 0..1000 {
            notifier.send(&ActivityEvent::JobStarted(job(n)));
            notifier.send(&ActivityEvent::RunnerOnline {
                scale_set: "web".into(),
                runner: n.to_string(),
            });
        }
        stall.wait();
        let names: Vec<String> = (0..1000)
            .map(|_| seen.recv_timeout(Duration::from_secs(5)).expect("each is shown"))
            .collect();
        let expected: Vec<String> = (0..1000).map(|n| format!("job {n}")).collect();
        assert_eq!(names, expected, "every notification is shown once, in order");
        assert!(seen.try_recv().is_err(), "and no more");
    }

    #[test]
    fn settings_pick_which_events_notify() {
        let mut prefs = DesktopConfig { notify_job_finished: false, ..DesktopConfig::default() };
        let started = ActivityEvent::JobStarted(job(1));
        let finished = ActivityEvent::JobFinished {
            job: job(1),
            result: JobResult::Unknown,
            duration: Some(Duration::from_secs(130)),
        };
        assert_eq!(
            notice(&prefs, &started),
            Some(Notice {
                title: "Job started: job 1".into(),
                body: "on runner web (acme/web)".into()
            })
        );
        assert_eq!(notice(&prefs, &finished), None, "finishes are turned off");
        prefs.notify_job_finished = true;
        let shown = notice(&prefs, &finished).expect("finishes are on");
        assert_eq!(shown.title, "Job finished: job 1", "an unknown result reads 'finished'");
        assert_eq!(shown.body, "on web in 2m10s (acme/web)");
    }
}
