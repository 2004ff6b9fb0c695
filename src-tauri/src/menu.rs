//! What the tray menu's entries do, and showing the main window.

use tauri::{AppHandle, Emitter, Manager};

use crate::events::{OPEN_SETTINGS, OPEN_TASK, refresh_tray};
use crate::tray;

pub fn show_main(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

pub fn on_menu(app: &AppHandle, id: &str) {
    if let Some(task) = id.strip_prefix(tray::ids::OPEN_TASK) {
        show_main(app);
        let _ = app.emit(OPEN_TASK, task);
        return;
    }
    match id {
        tray::ids::SHOW => show_main(app),
        tray::ids::SETTINGS => {
            show_main(app);
            let _ = app.emit(OPEN_SETTINGS, ());
        }
        tray::ids::PAUSE | tray::ids::RESUME => {
            let app = app.clone();
            let pause = id == tray::ids::PAUSE;
            tauri::async_runtime::spawn(async move {
                let desktop = crate::commands::desktop_app(&app).await;
                if let Some(rt) = desktop.as_ref().and_then(|d| d.runtime().ok()) {
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
