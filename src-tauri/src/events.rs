//! Events the backend pushes to the window (typed through tauri-specta): the tray state and
//! activity-feed lines, so the window updates without polling.

use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::AppHandle;
use tauri_specta::Event;

use crate::views::{ActivityItem, TrayView};

/// The tray's state changed.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct TrayChanged(pub TrayView);

/// A job started or finished (the feed line, updated in place by its key).
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct ActivityChanged(pub ActivityItem);

/// Tells the window the tray changed; no window is fine.
pub fn emit_tray(app: &AppHandle, view: TrayView) {
    let _ = TrayChanged(view).emit(app);
}

/// Tells the window about a feed line.
pub fn emit_activity(app: &AppHandle, item: ActivityItem) {
    let _ = ActivityChanged(item).emit(app);
}
