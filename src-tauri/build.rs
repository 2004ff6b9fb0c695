//! The Tauri configuration lives at the repository root (one place for the app's identity,
//! shared by the bundler docs and CI), so the build is pointed at it explicitly.
//!
//! The app manifest lists every command so each needs an explicit permission. The commands are the
//! ones capabilities/default.json grants the main window: that file is generated from the API
//! declaration (`reviewdesk_api::visit_all`, by crates/api/tests/generated.rs), so the manifest,
//! the grant and the commands the window can run are the same list.

fn main() {
    let capability = std::fs::read_to_string("capabilities/default.json")
        .unwrap_or_else(|e| panic!("capabilities/default.json: {e}"));
    let capability: serde_json::Value = serde_json::from_str(&capability)
        .unwrap_or_else(|e| panic!("capabilities/default.json: {e}"));
    let commands: Vec<String> = capability["permissions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
        .map(|c| c.replace('-', "_"))
        .collect();
    // The manifest wants a static list; a build script runs once, so leaking it costs nothing.
    let commands: &'static [&'static str] = Box::leak(
        commands
            .into_iter()
            .map(|c| &*Box::leak(c.into_boxed_str()))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri build configuration: {e:#}");
    }
}
