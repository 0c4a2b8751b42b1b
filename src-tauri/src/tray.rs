//! The tray item: an icon per state, a tooltip in words, and a menu listing each runner plus
//! every action (some Linux trays never deliver clicks, so everything is in the menu). It is
//! redrawn from events — activity, operations starting and ending — never on a timer, on a
//! thread of its own that draws only the latest state.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use deskrun::activity::{BoardSummary, TrayState};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::state::AppState;
use crate::views::TrayView;

const TRAY_ID: &str = "deskrun";

/// Menu item ids.
const OPEN: &str = "open";
const ADD: &str = "add-runner";
const START_CLUSTER: &str = "start-cluster";
const STOP_CLUSTER: &str = "stop-cluster";
const PAUSE: &str = "pause";
const RESUME: &str = "resume";
const QUIT: &str = "quit";

/// The least time between two redraws: a burst of events redraws a few times a second, not
/// once per event (each redraw rebuilds the menu on the GUI thread).
const REDRAW_GAP: Duration = Duration::from_millis(100);

fn icon(state: &str) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        "starting" => include_bytes!("../../icons/tray/starting@2x.png"),
        "idle" => include_bytes!("../../icons/tray/idle@2x.png"),
        "busy" => include_bytes!("../../icons/tray/busy@2x.png"),
        "attention" => include_bytes!("../../icons/tray/attention@2x.png"),
        _ => include_bytes!("../../icons/tray/stopped@2x.png"),
    };
    // NB: the PNGs are ours and checked in; a decode failure is a build mistake.
    Image::from_bytes(bytes).unwrap_or_else(|_| Image::new(&[0, 0, 0, 0], 1, 1))
}

/// The tray's state and sentence for `summary`; `operation` is the long operation under way
/// (its title is the sentence then: "Stopping the cluster…" is not "Starting…").
pub fn view(summary: &BoardSummary, cluster_running: bool, operation: Option<&str>) -> TrayView {
    let state = if operation.is_some() {
        TrayState::Starting
    } else if !cluster_running {
        TrayState::Stopped
    } else {
        summary.state
    };
    let text = match state {
        TrayState::Stopped => "Runners stopped".to_owned(),
        TrayState::Starting => operation.unwrap_or("Starting…").to_owned(),
        _ => summary.text.clone(),
    };
    TrayView { state: TrayView::state_name(state).to_owned(), text }
}

/// Every scale set the config asks for (the cluster may show fewer, or none while stopped).
fn configured_scale_sets(app: &AppHandle) -> Vec<String> {
    let config = app.state::<AppState>().store.load().unwrap_or_default();
    config.installations.values().flat_map(|inst| inst.scale_sets()).map(|s| s.name).collect()
}

/// One menu line per runner: what the cluster shows, then what is configured but not there.
fn runner_lines(summary: &BoardSummary, configured: &[String]) -> Vec<(String, String)> {
    let mut lines: Vec<(String, String)> = summary
        .per_scale_set
        .iter()
        .map(|set| {
            let what = match (&set.attention, set.jobs.as_slice()) {
                (Some(attention), _) => format!("needs attention: {}", attention.message),
                (None, [job]) => format!("running {}", job.name),
                (None, [job, more @ ..]) => format!("running {} (+{} more)", job.name, more.len()),
                (None, []) if set.deployed => "idle".to_owned(),
                (None, []) => "not deployed".to_owned(),
            };
            (set.name.clone(), what)
        })
        .collect();
    for name in configured {
        if !lines.iter().any(|(shown, _)| shown == name) {
            lines.push((name.clone(), "not deployed".to_owned()));
        }
    }
    lines
}

fn menu(
    app: &AppHandle,
    summary: &BoardSummary,
    view: &TrayView,
) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(app, "status", &view.text, false, None::<&str>)?)?;
    let configured = configured_scale_sets(app);
    for (name, what) in runner_lines(summary, &configured) {
        let label = format!("{name} — {what}");
        menu.append(&MenuItem::with_id(
            app,
            format!("runner:{name}"),
            label,
            false,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, OPEN, "Open deskrun", true, None::<&str>)?)?;
    menu.append(&MenuItem::with_id(app, ADD, "Add runner…", true, None::<&str>)?)?;
    let idle = view.state != "starting";
    let cluster_running =
        app.state::<AppState>().cluster_running.load(std::sync::atomic::Ordering::Relaxed);
    let deployed = summary.per_scale_set.iter().any(|s| s.deployed);
    let item = |id: &str, label: &str, enabled: bool| {
        MenuItem::with_id(app, id, label, enabled && idle, None::<&str>)
    };
    if cluster_running {
        menu.append(&item(STOP_CLUSTER, "Stop cluster", true)?)?;
    } else {
        menu.append(&item(START_CLUSTER, "Start cluster", true)?)?;
    }
    if deployed {
        menu.append(&item(PAUSE, "Pause all runners", true)?)?;
    } else {
        // NB: nothing configured, nothing to resume: "Add runner…" is the way on.
        menu.append(&item(
            RESUME,
            "Resume all runners",
            cluster_running && !configured.is_empty(),
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, QUIT, "Quit deskrun", true, None::<&str>)?)?;
    Ok(menu)
}

/// Creates the tray item. Without a tray host the item simply never shows; that is logged
/// once and the app goes on.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let summary = app.state::<AppState>().summary();
    let view = view(&summary, false, None);
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(&view.state))
        .tooltip(&view.text)
        .menu(&menu(app, &summary, &view)?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

/// The tray's drawing thread: redraw requests coalesce while it draws, so it always draws
/// the latest state and a request never waits. Dropping it ends the thread.
pub struct Painter {
    requests: mpsc::SyncSender<()>,
}

impl Painter {
    /// Starts the thread that draws the tray of `app`.
    pub fn start(app: &AppHandle) -> std::io::Result<Self> {
        let app = app.clone();
        Self::with(move || draw(&app))
    }

    /// Starts a thread running `draw` after requests, at most once per [`REDRAW_GAP`].
    fn with(mut draw: impl FnMut() + Send + 'static) -> std::io::Result<Self> {
        // NB: one pending request is enough: the draw after it reads the state then.
        let (requests, pending) = mpsc::sync_channel(1);
        // NB: setting the icon, tooltip and menu waits for the GUI thread; on an async
        // runtime thread a burst of redraws stalls the activity watch and its lookups.
        std::thread::Builder::new().name("deskrun-tray".into()).spawn(move || {
            while pending.recv().is_ok() {
                let began = Instant::now();
                draw();
                std::thread::sleep(REDRAW_GAP.saturating_sub(began.elapsed()));
            }
        })?;
        Ok(Self { requests })
    }

    /// Asks for a redraw; returns at once.
    pub fn request(&self) {
        // NB: full means a redraw is pending already, and it will see this change.
        let _ = self.requests.try_send(());
    }
}

/// Redraws the tray from the current board, soon; returns at once. Without a tray (no tray
/// host), nothing.
pub fn refresh(app: &AppHandle) {
    if let Some(painter) = app.try_state::<Painter>() {
        painter.request();
    }
}

fn draw(app: &AppHandle) {
    let state = app.state::<AppState>();
    let summary = state.summary();
    let operation = state.busy_operation.lock().ok().and_then(|op| op.clone());
    let running = state.cluster_running.load(std::sync::atomic::Ordering::Relaxed);
    let view = view(&summary, running, operation.as_deref());
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    let _ = tray.set_icon(Some(icon(&view.state)));
    let _ = tray.set_tooltip(Some(&view.text));
    if let Ok(menu) = menu(app, &summary, &view) {
        let _ = tray.set_menu(Some(menu));
    }
    crate::events::emit_tray(app, view);
}

fn on_menu(app: &AppHandle, id: &str) {
    match id {
        OPEN => crate::window::show(app, None),
        ADD => crate::window::show(app, Some("add")),
        // Starting the cluster is `up`: it also deploys every runner, as users expect.
        START_CLUSTER | RESUME => crate::background::start_runners(app.clone()),
        STOP_CLUSTER => crate::background::stop_cluster(app.clone()),
        PAUSE => crate::background::pause_runners(app.clone()),
        QUIT => app.exit(0),
        _ => {}
    }
}

/// Marks a long operation as running (the tray says "starting") until dropped.
pub struct Operation {
    app: AppHandle,
}

impl Operation {
    /// Starts marking `label`.
    pub fn start(app: &AppHandle, label: &str) -> Self {
        if let Ok(mut op) = app.state::<AppState>().busy_operation.lock() {
            *op = Some(label.to_owned());
        }
        refresh(app);
        Self { app: app.clone() }
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        if let Ok(mut op) = self.app.state::<AppState>().busy_operation.lock() {
            *op = None;
        }
        refresh(&self.app);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use deskrun::activity::ScaleSetSummary;

    use super::*;

    fn job(name: &str) -> deskrun::activity::Job {
        deskrun::activity::Job {
            scale_set: "web".into(),
            runner: format!("web-runner-{name}"),
            job_id: None,
            job_request_id: None,
            name: name.into(),
            repository: "acme/web".into(),
            workflow_ref: None,
            workflow_run_id: None,
            run_url: None,
            started_at: Default::default(),
        }
    }

    /// The menu listed only what the cluster showed: a runner configured but not deployed
    /// (or every runner, while the cluster was stopped) was missing, and of two jobs on one
    /// scale set only the first was named.
    #[test]
    fn the_menu_lists_configured_runners_and_counts_every_job() {
        let set = |name: &str, jobs: Vec<deskrun::activity::Job>| ScaleSetSummary {
            name: name.into(),
            deployed: true,
            runners_online: 2,
            jobs,
            attention: None,
        };
        let empty = deskrun::activity::RunnerBoard::new().summary();
        let summary = BoardSummary {
            per_scale_set: vec![set("web", vec![job("lint"), job("test")]), set("api", vec![])],
            ..empty.clone()
        };
        let configured = ["web".to_owned(), "docs".to_owned(), "api".to_owned()];
        let lines = runner_lines(&summary, &configured);
        let want = [("web", "running lint (+1 more)"), ("api", "idle"), ("docs", "not deployed")];
        let got: Vec<(&str, &str)> = lines.iter().map(|(n, w)| (n.as_str(), w.as_str())).collect();
        assert_eq!(got, want);
        assert_eq!(runner_lines(&empty, &configured).len(), 3, "stopped");
    }

    /// While the cluster stopped, the tray said "Starting…".
    #[test]
    fn an_operation_is_named_by_its_own_title() {
        let empty = deskrun::activity::RunnerBoard::new().summary();
        let view = view(&empty, true, Some("Stopping the cluster…"));
        assert_eq!(
            (view.state.as_str(), view.text.as_str()),
            ("starting", "Stopping the cluster…")
        );
        assert_eq!(super::view(&empty, false, None).text, "Runners stopped");
    }

    /// In a benchmark's burst every activity event waited for a tray redraw, which waits for
    /// the GUI thread: the app fell behind the cluster.
    #[test]
    fn requests_during_a_slow_redraw_coalesce_into_one_redraw_of_the_latest_state() {
        let state = Arc::new(AtomicUsize::new(0));
        let (drawn, draws) = mpsc::channel();
        let gui = Arc::new(Barrier::new(2));
        let (seen, first) = (Arc::clone(&state), Arc::clone(&gui));
        let mut count = 0;
        let painter = Painter::with(move || {
            count += 1;
            if count == 1 {
                first.wait();
            }
            drawn.send(seen.load(Ordering::SeqCst)).unwrap();
        })
        .unwrap();

        painter.request();
        // NB: the first redraw is stuck until `gui` is released below, so if a request waited
        // for a redraw this loop would never end.
        for n in 1..=1000 {
            state.store(n, Ordering::SeqCst);
            painter.request();
        }
        gui.wait();
        let mut shown = vec![draws.recv_timeout(Duration::from_secs(5)).expect("a redraw")];
        while let Ok(state) = draws.recv_timeout(REDRAW_GAP * 5) {
            shown.push(state);
        }
        assert_eq!(shown.last(), Some(&1000), "the last redraw shows the latest state");
        assert!(shown.len() <= 2, "the requests made a redraw or two, not one each: {shown:?}");
    }
}
