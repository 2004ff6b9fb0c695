//! Review Desk's desktop app: the review UI in a Tauri window over the same in-process runtime as
//! `reviewdesk serve` (worker, watcher, Notion mirror, domain events), plus a tray listing what waits
//! for review and a native notification whenever a task reaches a review gate.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod files;
mod notify;
mod tray;
#[cfg(test)]
mod wiring;

use std::sync::Arc;
use std::time::Duration;

use reviewdesk_core::{Core, CoreOptions, DomainEvent};
use reviewdesk_runtime::{AppRuntime, Door, RuntimeOptions};
use reviewdesk_settings::{Paths, SecretStore, SettingsFile, SettingsService};
use reviewdesk_sync::MirrorConfig;
use tauri::{AppHandle, Emitter, Manager, RunEvent, WindowEvent};
use tauri_plugin_notification::NotificationExt;

/// What every command reaches through `State`.
pub struct Desktop {
    /// The runtime, or why it could not start (every view shows that message).
    pub runtime: Result<Arc<AppRuntime>, String>,
    /// The Settings screen's service, or why the settings file could not be read.
    pub settings: Result<SettingsService, String>,
}

/// Event names shared with the UI (ui/src/lib/backend/tauri.ts).
mod events {
    /// A domain event, as `reviewdesk serve` sends over SSE.
    pub const DOMAIN: &str = "domain";
    /// Open a task's gallery (payload: task id).
    pub const OPEN_TASK: &str = "open-task";
    /// Open the Settings screen.
    pub const OPEN_SETTINGS: &str = "open-settings";
}

/// The folders used when the settings file names none: environment, then the OS defaults.
fn default_paths() -> (Paths, std::path::PathBuf) {
    let o = CoreOptions::default().resolved();
    let config_dir = o.config_dir.unwrap_or_default();
    let settings_file = config_dir.join("settings.json");
    (
        Paths {
            workspace: o.workspace.unwrap_or_default(),
            config_dir,
        },
        settings_file,
    )
}

/// Reads the settings (folders, poll interval, token from the keyring or `NOTION_TOKEN`) and
/// starts the runtime with them.
async fn start() -> Desktop {
    let (defaults, settings_file) = default_paths();
    let saved = match SettingsFile::load(&settings_file) {
        Ok(f) => f.settings,
        Err(e) => {
            let message = format!("Review Desk could not start: {e}");
            return Desktop {
                runtime: Err(message.clone()),
                settings: Err(message),
            };
        }
    };
    let running = Paths {
        workspace: saved
            .workspace
            .clone()
            .unwrap_or(defaults.workspace.clone()),
        config_dir: saved
            .config_dir
            .clone()
            .unwrap_or(defaults.config_dir.clone()),
    };
    let settings =
        SettingsService::open(&settings_file, SecretStore::os(), defaults, running.clone())
            .map_err(|e| e.to_string());
    let token = match settings.as_ref().map(|s| s.secrets().notion_token()) {
        Ok(Ok(t)) => t.map(|(token, _source)| token),
        Ok(Err(e)) => {
            tracing::warn!("Notion token unavailable: {e}");
            None
        }
        Err(_) => None,
    };
    let runtime = async {
        let core = Core::open(CoreOptions {
            workspace: Some(running.workspace),
            config_dir: Some(running.config_dir),
            ..CoreOptions::default()
        })
        .await?;
        let mut mirror = MirrorConfig::from_env();
        mirror.poll_interval = Duration::from_secs(u64::from(saved.poll_secs()));
        AppRuntime::start(
            core,
            RuntimeOptions {
                notion_token: token,
                mirror,
                // A hidden window should cost nearly nothing; changes made in this process arrive at once.
                feed_poll: Duration::from_secs(1),
                door: Door::Desktop,
                ..RuntimeOptions::default()
            },
        )
        .await
    }
    .await
    .map_err(|e| format!("Review Desk could not start: {e}"));
    Desktop { runtime, settings }
}

fn show_main(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Rebuilds the tray from the database (cheap: one indexed query, and the menu only when it
/// changed). The menu is rebuilt on the main thread without waiting for it, so a busy UI thread
/// never holds up the async runtime that serves the window's commands.
pub async fn refresh_tray(app: &AppHandle) {
    if app.try_state::<tray::Tray<tauri::Wry>>().is_none() {
        return;
    }
    let desktop = app.state::<Desktop>();
    let Ok(rt) = desktop.runtime() else {
        return;
    };
    let paused = rt.worker.as_ref().is_some_and(|w| w.is_paused());
    let model = match rt.waiting_for_review().await {
        Ok(tasks) => tray::TrayModel::new(&tasks, paused),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the tasks waiting for review");
            return;
        }
    };
    let handle = app.clone();
    let _ = app.run_on_main_thread(move || {
        if let Some(tray) = handle.try_state::<tray::Tray<tauri::Wry>>()
            && let Err(e) = tray.show(&handle, model)
        {
            tracing::warn!(error = %e, "cannot update the tray");
        }
    });
}

/// Shows the native notification off the async runtime (the D-Bus call blocks).
fn notify(app: &AppHandle, title: String, body: String) {
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        if let Err(e) = app.notification().builder().title(title).body(body).show() {
            tracing::warn!(error = %e, "cannot show the notification");
        }
    });
}

/// Forwards domain events to the window, notifies at review gates, keeps the tray current.
async fn forward_events(app: AppHandle, rt: Arc<AppRuntime>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = rt.feed.subscribe();
    refresh_tray(&app).await;
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(_)) => {
                refresh_tray(&app).await;
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let _ = app.emit(events::DOMAIN, &ev);
        match &ev {
            DomainEvent::ReviewReady {
                task_id,
                gate,
                title,
                items,
            } => {
                let (title, body) = notify::review_ready_text(*gate, title, *items);
                tracing::info!(task = %task_id, "notifying: {title}");
                notify(&app, title, body);
                refresh_tray(&app).await;
            }
            DomainEvent::StatusChanged { .. }
            | DomainEvent::TaskCreated { .. }
            | DomainEvent::DecisionMade { .. }
            | DomainEvent::Worker { .. } => refresh_tray(&app).await,
            _ => {}
        }
    }
}

fn on_menu(app: &AppHandle, id: &str) {
    if let Some(task) = id.strip_prefix(tray::ids::OPEN_TASK) {
        show_main(app);
        let _ = app.emit(events::OPEN_TASK, task);
        return;
    }
    match id {
        tray::ids::SHOW => show_main(app),
        tray::ids::SETTINGS => {
            show_main(app);
            let _ = app.emit(events::OPEN_SETTINGS, ());
        }
        tray::ids::PAUSE | tray::ids::RESUME => {
            let app = app.clone();
            let pause = id == tray::ids::PAUSE;
            tauri::async_runtime::spawn(async move {
                let desktop = app.state::<Desktop>();
                if let Ok(rt) = desktop.runtime() {
                    let r = if pause {
                        rt.pause_worker().await
                    } else {
                        rt.resume_worker().await
                    };
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "cannot pause or resume the worker");
                    }
                }
                refresh_tray(&app).await;
            });
        }
        tray::ids::QUIT => app.exit(0),
        _ => {}
    }
}

fn main() -> std::process::ExitCode {
    let logs = reviewdesk_core::runtime::default_data_dir().join("logs");
    let _log_guard = reviewdesk_core::telemetry::init(Some(&logs), "info");
    let desktop = tauri::async_runtime::block_on(start());
    if let Err(e) = &desktop.runtime {
        tracing::error!("{e}");
        eprintln!("{e}");
    }
    let workspace = desktop
        .runtime
        .as_ref()
        .ok()
        .map(|rt| Arc::new(rt.core.workspace.clone()));

    let app = tauri::Builder::default()
        // First: a second launch focuses the running window instead of starting another runtime.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main(app)
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .manage(desktop)
        .register_asynchronous_uri_scheme_protocol(
            files::SCHEME,
            move |_ctx, request, responder| {
                files::serve_async(workspace.clone(), request, responder)
            },
        )
        .invoke_handler(tauri::generate_handler![
            commands::list_tasks,
            commands::get_task,
            commands::create_task,
            commands::approve,
            commands::reject,
            commands::flag_asset,
            commands::bulk_approve,
            commands::bulk_reject,
            commands::retry,
            commands::cancel,
            commands::get_status,
            commands::pause_worker,
            commands::resume_worker,
            commands::get_settings,
            commands::save_settings,
            commands::set_notion_token,
            commands::clear_notion_token,
            commands::check_notion,
            commands::add_missing_notion_properties,
        ])
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
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
            match tray::Tray::create(app.handle()) {
                Ok(t) => {
                    app.manage(t);
                }
                Err(e) => tracing::warn!(error = %e, "no tray icon"),
            }
            if let Ok(rt) = app.state::<Desktop>().runtime() {
                tauri::async_runtime::spawn(forward_events(app.handle().clone(), rt.clone()));
            }
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
            && let Ok(rt) = app.state::<Desktop>().runtime()
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
