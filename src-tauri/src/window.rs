//! The main window, created when first opened and destroyed when closed: the webview is
//! most of the app's memory, and the tray needs none of it.

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

/// The window's label (capabilities refer to it).
pub const MAIN: &str = "main";

/// Shows the window, creating it if needed, at `view` (e.g. `add`) when given.
pub fn show(app: &AppHandle, view: Option<&str>) {
    let url = match view {
        Some(view) => format!("index.html#/{view}"),
        None => "index.html".to_owned(),
    };
    if let Some(window) = app.get_webview_window(MAIN) {
        if let Some(view) = view {
            let _ = window.eval(format!("window.location.hash = '#/{view}'"));
        }
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App(url.into()))
        .title("deskrun")
        .inner_size(1040.0, 720.0)
        .min_inner_size(720.0, 480.0)
        .build();
    if let Err(error) = built {
        tracing::error!(%error, "cannot open the window");
    }
}
