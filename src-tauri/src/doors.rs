//! The desktop door as the window meets it: the real capability (generated from the API
//! declaration) and the real invoke handler, on Tauri's mock runtime. Driven by the declaration
//! itself, so a command declared for the desktop but not reachable fails here, as does one the
//! window could call without being declared for it.

use std::sync::Arc;

use reviewdesk_api::{App, Command};
use tauri::Manager;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;

use crate::Desktop;

fn request(command: &str) -> InvokeRequest {
    InvokeRequest {
        cmd: command.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        // No arguments: every command fails before doing anything (no runtime, or a missing
        // argument), which proves it got to its runner without changing a thing.
        body: InvokeBody::Json(serde_json::json!({})),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    }
}

/// The mock app with `state` managed and the real invoke handler, and its main window.
fn mock_window<S: Send + Sync + 'static>(
    state: S,
) -> (tauri::App<MockRuntime>, tauri::WebviewWindow<MockRuntime>) {
    let app = mock_builder()
        .manage(state)
        .invoke_handler(crate::commands::invoke_handler())
        .build(tauri::generate_context!("../tauri.conf.json", test = true))
        .expect("mock app");
    // The configured window opens when the app runs; the mock app is not run, so open it here.
    let window = match app.get_webview_window("main") {
        Some(w) => w,
        None => tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .expect("the main window"),
    };
    (app, window)
}

#[test]
fn the_window_reaches_exactly_the_commands_declared_for_the_desktop() {
    let (_app, window) = mock_window(Desktop {
        app: Arc::new(App::desktop(
            Err("no runtime in this test".into()),
            Err("no settings in this test".into()),
        )),
    });
    let declared = reviewdesk_api::declarations();
    assert!(
        declared.iter().any(|(_, d)| !d.desktop),
        "an HTTP-only command to refuse"
    );
    for (name, doors) in declared {
        if name == reviewdesk_api::GetDiagnostics::NAME {
            // The one command meant to answer when the app could not start: it says why.
            let report = get_ipc_response(&window, request(name))
                .expect("diagnostics answer without a runtime");
            assert!(
                format!("{report:?}").contains("Started: no: no runtime in this test"),
                "{report:?}"
            );
            continue;
        }
        let error =
            get_ipc_response(&window, request(name)).expect_err("nothing else can succeed here");
        if doors.desktop {
            // The command's own error (`{code, message}`), not Tauri's refusal (a string).
            let code = error["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} did not reach its runner: {error}"));
            assert!(
                ["startup_failed", "settings_unreadable", "invalid"].contains(&code),
                "{name}: {error}"
            );
        } else {
            assert!(
                error.as_str().is_some_and(|m| m.contains("not allowed")),
                "{name} is not declared for the desktop, yet the window may call it: {error}"
            );
        }
    }
    let unknown = get_ipc_response(&window, request("drop_database")).expect_err("unknown");
    assert!(unknown.as_str().is_some(), "{unknown}");
}

#[test]
fn a_command_sent_while_the_runtime_starts_waits_for_it_and_is_answered() {
    let (started, ready) = tokio::sync::watch::channel(false);
    let (app, window) = mock_window(crate::commands::Starting(ready));
    let asking = std::thread::spawn({
        let window = window.clone();
        move || get_ipc_response(&window, request(reviewdesk_api::GetDiagnostics::NAME))
    });
    // Nothing can answer it yet: start-up has not managed the app's services.
    assert!(!asking.is_finished());
    app.manage(Desktop {
        app: Arc::new(App::desktop(
            Err("the runtime failed in this test".into()),
            Err("no settings in this test".into()),
        )),
    });
    started.send(true).expect("the app still listens");
    let report = asking
        .join()
        .expect("the asking thread")
        .expect("diagnostics answer once start-up is over");
    assert!(
        format!("{report:?}").contains("Started: no: the runtime failed in this test"),
        "{report:?}"
    );
}
