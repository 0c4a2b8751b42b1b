//! Tauri's build step: generates the context (config, capabilities, icons) for the app.

fn main() {
    tauri_build::build();
}
