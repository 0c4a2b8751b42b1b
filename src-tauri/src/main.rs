//! The deskrun desktop app's entry point; everything is in the library so tests can reach it.

// Release builds on Windows get no console window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    deskrun_app::run();
}
