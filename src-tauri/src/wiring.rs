//! One list of commands, four places: the UI's `Commands` (what the webview may call), the app
//! manifest in build.rs, the capability that grants them, and `generate_handler!`. A command
//! missing from any one of them fails only at run time ("not allowed" or "not found"), so this test
//! reads all four and compares them.

use std::collections::BTreeSet;

const UI_COMMANDS: &str = include_str!("../../ui/src/lib/backend/transport.ts");
const BUILD_RS: &str = include_str!("../build.rs");
const CAPABILITY: &str = include_str!("../capabilities/default.json");
const MAIN_RS: &str = include_str!("main.rs");

/// The quoted names between two markers.
fn quoted_between(text: &str, start: &str, end: &str) -> BTreeSet<String> {
    let from = text.find(start).expect("start marker") + start.len();
    let to = from + text[from..].find(end).expect("end marker");
    text[from..to]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_the_ui_calls_is_in_the_manifest_the_capability_and_the_handler() {
    // `  name: { args: …; result: … };` lines of the `Commands` interface.
    let body = &UI_COMMANDS[UI_COMMANDS
        .find("export interface Commands {")
        .expect("Commands")..];
    let body = &body[..body.find("\n}").expect("end of Commands")];
    let ui: BTreeSet<String> = body
        .lines()
        .filter_map(|l| l.trim().split_once(": { args:").map(|(n, _)| n.to_owned()))
        .collect();
    assert!(ui.len() >= 19, "parsed {ui:?}");

    let manifest = quoted_between(BUILD_RS, "const COMMANDS: &[&str] = &[", "];");
    assert_eq!(manifest, ui, "build.rs COMMANDS vs the UI's Commands");

    let granted: BTreeSet<String> = quoted_between(CAPABILITY, "\"permissions\": [", "]")
        .into_iter()
        .filter_map(|p| p.strip_prefix("allow-").map(|c| c.replace('-', "_")))
        .collect();
    assert_eq!(
        granted, ui,
        "capabilities/default.json vs the UI's Commands"
    );

    let from = MAIN_RS.find("generate_handler![").expect("handler") + "generate_handler![".len();
    let handled: BTreeSet<String> = MAIN_RS[from..from + MAIN_RS[from..].find(']').expect("]")]
        .split(',')
        .filter_map(|c| c.trim().strip_prefix("commands::").map(str::to_owned))
        .collect();
    assert_eq!(handled, ui, "generate_handler! vs the UI's Commands");
}
