//! Domain events to the window, native notifications at review gates, and the tray kept current.

use reviewdesk_core::DomainEvent;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::{notify, tray};

/// A domain event, as `reviewdesk serve` sends over SSE.
pub const DOMAIN: &str = "domain";
/// Some domain events could not be forwarded (the window fell too far behind): it reads its
/// position again (`get_events_position`) and catches up, as after a dropped event stream.
pub const EVENTS_LOST: &str = "events-lost";
/// Open a task's gallery (payload: task id).
pub const OPEN_TASK: &str = "open-task";
/// Open the Settings screen.
pub const OPEN_SETTINGS: &str = "open-settings";

/// Rebuilds the tray from the database (cheap: one indexed query, and the menu only when it
/// changed). The menu is rebuilt on the main thread without waiting for it, so a busy UI thread
/// never holds up the async runtime that serves the window's commands.
pub async fn refresh_tray(app: &AppHandle) {
    if app.try_state::<tray::Tray<tauri::Wry>>().is_none() {
        return;
    }
    let Some(desktop) = crate::commands::desktop_app(app).await else {
        return;
    };
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

/// Forwards domain events (`rx`, subscribed to the runtime's feed) to the window, notifies at
/// review gates, keeps the tray current.
pub async fn forward_events(app: AppHandle, mut rx: tokio::sync::broadcast::Receiver<DomainEvent>) {
    use tokio::sync::broadcast::error::RecvError;
    refresh_tray(&app).await;
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(_)) => {
                // The window missed events: it asks where they start again and catches up.
                let _ = app.emit(EVENTS_LOST, ());
                refresh_tray(&app).await;
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let _ = app.emit(DOMAIN, &ev);
        match &ev {
            DomainEvent::ReviewReady {
                task_id, headline, ..
            } => {
                let (title, body) = (headline.clone(), notify::BODY.to_string());
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
