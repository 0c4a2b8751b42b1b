//! The tray item: an icon per state, a tooltip in words, and a menu listing each runner plus
//! every action (some Linux trays never deliver clicks, so everything is in the menu). It is
//! redrawn from events — activity, operations starting and ending — never on a timer.

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

/// The tray's state and sentence for `summary`.
pub fn view(summary: &BoardSummary, cluster_running: bool, operation: bool) -> TrayView {
    let state = if operation {
        TrayState::Starting
    } else if !cluster_running {
        TrayState::Stopped
    } else {
        summary.state
    };
    let text = match state {
        TrayState::Stopped => "Runners stopped".to_owned(),
        TrayState::Starting => "Starting…".to_owned(),
        _ => summary.text.clone(),
    };
    TrayView { state: TrayView::state_name(state).to_owned(), text }
}

fn menu(
    app: &AppHandle,
    summary: &BoardSummary,
    view: &TrayView,
) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(app, "status", &view.text, false, None::<&str>)?)?;
    for set in &summary.per_scale_set {
        let what = match (&set.attention, set.jobs.first()) {
            (Some(attention), _) => format!("needs attention: {}", attention.message),
            (None, Some(job)) => format!("running {}", job.name),
            (None, None) if set.deployed => "idle".to_owned(),
            (None, None) => "not deployed".to_owned(),
        };
        let label = format!("{} — {what}", set.name);
        menu.append(&MenuItem::with_id(
            app,
            format!("runner:{}", set.name),
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
        menu.append(&item(RESUME, "Resume all runners", cluster_running)?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, QUIT, "Quit deskrun", true, None::<&str>)?)?;
    Ok(menu)
}

/// Creates the tray item. Without a tray host the item simply never shows; that is logged
/// once and the app goes on.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let summary = app.state::<AppState>().summary();
    let view = view(&summary, false, false);
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(&view.state))
        .tooltip(&view.text)
        .menu(&menu(app, &summary, &view)?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

/// Redraws the tray from the current board.
pub fn refresh(app: &AppHandle) {
    let state = app.state::<AppState>();
    let summary = state.summary();
    let operation = state.busy_operation.lock().map(|op| op.is_some()).unwrap_or(false);
    let running = state.cluster_running.load(std::sync::atomic::Ordering::Relaxed);
    let view = view(&summary, running, operation);
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
