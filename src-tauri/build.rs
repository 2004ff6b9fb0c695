//! The Tauri configuration lives at the repository root (one place for the app's identity,
//! shared by the bundler docs and CI), so the build is pointed at it explicitly.
//!
//! The app manifest lists every command so each needs an explicit permission: the capability in
//! capabilities/default.json grants exactly these to the main window and nothing else.

/// The app's own commands (must match `generate_handler!` in main.rs).
const COMMANDS: &[&str] = &[
    "list_tasks",
    "get_task",
    "create_task",
    "approve",
    "reject",
    "flag_asset",
    "bulk_approve",
    "bulk_reject",
    "retry",
    "cancel",
    "get_status",
    "pause_worker",
    "resume_worker",
    "get_settings",
    "save_settings",
    "set_notion_token",
    "clear_notion_token",
    "check_notion",
    "add_missing_notion_properties",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri build configuration: {e:#}");
    }
}
