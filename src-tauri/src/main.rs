//! Review Desk's desktop app: the review UI in a Tauri window over the same in-process runtime as
//! `reviewdesk serve` (worker, watcher, Notion mirror, domain events), plus a tray listing what waits
//! for review and a native notification whenever a task reaches a review gate.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
#[cfg(test)]
mod doors;
mod events;
mod files;
mod menu;
mod notify;
mod startup;
mod tray;

use std::sync::Arc;

use tauri::{Manager, RunEvent, WindowEvent};

pub use commands::Desktop;

fn main() -> std::process::ExitCode {
    webkit_environment();
    let logs = reviewdesk_core::context::default_data_dir().join("logs");
    let _log_guard = reviewdesk_core::telemetry::init(Some(&logs), "info");
    // The settings file is read now; the runtime (keyring, database, worker) starts while GTK and
    // WebKit do, and commands that arrive sooner wait for it (commands::desktop_app).
    let prepared = startup::prepare();
    let workspace = prepared
        .as_ref()
        .ok()
        .and_then(|p| reviewdesk_core::workspace::Workspace::open(p.workspace_dir()).ok())
        .map(Arc::new);
    let starting = tauri::async_runtime::spawn(startup::start(prepared));
    let (started, ready) = tokio::sync::watch::channel(false);
    // Clips and narrations play from a loopback HTTP server (see files::media_plugin); kept
    // alive for the whole run.
    let media = workspace.clone().and_then(|ws| {
        tauri::async_runtime::block_on(reviewdesk_server::start_media_server(ws))
            .inspect_err(|e| tracing::warn!("no media server, clips will not play: {e}"))
            .ok()
    });

    let app = tauri::Builder::default()
        // First: a second launch focuses the running window instead of starting another runtime.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            menu::show_main(app)
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .plugin(files::media_plugin(media.as_ref().map(|m| m.base_url())))
        .manage(commands::Starting(ready))
        .register_asynchronous_uri_scheme_protocol(
            files::SCHEME,
            move |_ctx, request, responder| {
                files::serve_async(workspace.clone(), request, responder)
            },
        )
        .invoke_handler(commands::invoke_handler())
        .on_menu_event(|app, event| menu::on_menu(app, event.id().as_ref()))
        .on_window_event(|window, event| {
            // Closing the window keeps Review Desk running in the tray; Quit is in the tray menu.
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == "main"
            {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .setup(|app| {
            if let Some(w) = app.get_webview_window("main") {
                software_rendering(&w);
            }
            match tray::Tray::create(app.handle()) {
                Ok(t) => {
                    app.manage(t);
                }
                Err(e) => tracing::warn!(error = %e, "no tray icon"),
            }
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let desktop = starting.await.unwrap_or_else(|e| {
                    Desktop::failed(format!("Review Desk could not start: {e}"))
                });
                let runtime = desktop.runtime().cloned();
                if let Err(e) = &runtime {
                    tracing::error!("{}", e.body.message);
                    eprintln!("{}", e.body.message);
                }
                // Subscribed before any command can run: the window's `get_events_position`
                // then names an entry after which every event reaches it.
                let events = runtime.as_ref().ok().map(|rt| rt.feed.subscribe());
                handle.manage(desktop);
                let _ = started.send(true);
                if let Some(events) = events {
                    events::forward_events(handle, events).await;
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"));
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("Review Desk could not open its window: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    app.run(|app, event| {
        if let RunEvent::Exit = event
            && let Some(desktop) = tauri::async_runtime::block_on(commands::desktop_app(app))
            && let Ok(rt) = desktop.runtime()
        {
            // Stop the worker at a safe point so its lease is released, not left to expire.
            let rt = rt.clone();
            if let Err(e) = tauri::async_runtime::block_on(rt.shutdown()) {
                tracing::error!(error = %e, "the worker did not stop cleanly");
            }
        }
    });
    std::process::ExitCode::SUCCESS
}

/// Whether a switch such as `REVIEWDESK_GPU_COMPOSITING` is on (set to `1`; README, Configuration).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn switched_on(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| v == "1")
}

/// The variables WebKit reads from this process's environment (and hands on to its web and
/// network processes) that Review Desk sets, given what `REVIEWDESK_GPU_COMPOSITING` and
/// `REVIEWDESK_JS_JIT` say. A variable the creator has set already is left as it is.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn webkit_defaults(
    gpu_compositing: Option<&std::ffi::OsStr>,
    js_jit: Option<&std::ffi::OsStr>,
) -> Vec<(&'static str, &'static str)> {
    let mut vars = Vec::new();
    // WebKit's DMA-BUF renderer hands the web process's GPU buffers to the window. WebKit draws
    // here without GPU compositing (see `software_rendering`), yet setting that renderer up still
    // loads a GL driver into the window's process (where there is no GPU, Mesa's software one):
    // about 10 MB of the app's memory (README, Performance).
    if !switched_on(gpu_compositing) {
        vars.push(("WEBKIT_DISABLE_DMABUF_RENDERER", "1"));
    }
    // The UI's scripts run in JavaScriptCore's interpreter, without its JIT compilers. They are
    // small and spend their time in the DOM, not in loops (the board paints 5,000 tasks as fast
    // either way: README, Performance), while with the JIT each WebKit process (and this one)
    // reserves 1 GB of writable and executable memory for compiled code: ~11 MB more memory, and
    // memory an exploit could write code into (which is why Safari's Lockdown Mode turns it off
    // too). `REVIEWDESK_JS_JIT=1` keeps it.
    if !switched_on(js_jit) {
        vars.push(("JSC_useJIT", "false"));
    }
    vars
}

#[cfg(target_os = "linux")]
fn webkit_environment() {
    let gpu = std::env::var_os("REVIEWDESK_GPU_COMPOSITING");
    let jit = std::env::var_os("REVIEWDESK_JS_JIT");
    for (var, value) in webkit_defaults(gpu.as_deref(), jit.as_deref()) {
        if std::env::var_os(var).is_some() {
            continue;
        }
        // SAFETY: the first thing main does: no other thread exists yet that could read the
        // environment meanwhile. WebKit reads it in this process and passes it to its own.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(var, value)
        };
    }
}

#[cfg(not(target_os = "linux"))]
fn webkit_environment() {}

#[cfg(test)]
#[test]
fn webkit_draws_without_its_dma_buf_renderer_and_without_the_js_jit_unless_asked_for() {
    let set = |gpu: Option<&str>, jit: Option<&str>| {
        webkit_defaults(gpu.map(AsRef::as_ref), jit.map(AsRef::as_ref))
            .into_iter()
            .map(|(var, _)| var)
            .collect::<Vec<_>>()
    };
    let both = ["WEBKIT_DISABLE_DMABUF_RENDERER", "JSC_useJIT"];
    assert_eq!(set(None, None), both);
    assert_eq!(set(Some("0"), Some("0")), both);
    assert_eq!(set(Some("1"), None), ["JSC_useJIT"]);
    assert_eq!(set(None, Some("1")), ["WEBKIT_DISABLE_DMABUF_RENDERER"]);
    assert!(set(Some("1"), Some("1")).is_empty());
    assert!(
        webkit_defaults(None, None).contains(&("JSC_useJIT", "false")),
        "JavaScriptCore reads false, not 0"
    );
}

/// The board, the gallery and the players are flat pages that WebKit draws well without GPU
/// compositing, and its accelerated mode loads a GL driver into the web process (where there is no
/// GPU, Mesa's software one: about 110 MB of the window's memory). `REVIEWDESK_GPU_COMPOSITING=1`
/// keeps WebKit's default (README, Performance).
#[cfg(target_os = "linux")]
fn software_rendering(w: &tauri::WebviewWindow) {
    if switched_on(std::env::var_os("REVIEWDESK_GPU_COMPOSITING").as_deref()) {
        return;
    }
    let _ = w.with_webview(|pw| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        if let Some(settings) = WebViewExt::settings(&pw.inner()) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn software_rendering(_: &tauri::WebviewWindow) {}
