//! The desktop door: the webview's `invoke(name, args)` runs the command of that name from the API
//! declaration (`reviewdesk_api::visit_all`), the same one `reviewdesk serve`'s HTTP route runs.
//! Tauri first checks the window's capability, generated from the same declaration; errors reach
//! the UI as `{code, message}` like the server's.

use std::sync::Arc;

use reviewdesk_api::{App, CommandError};
use reviewdesk_core::Source;
use reviewdesk_runtime::AppRuntime;
use tauri::ipc::{Invoke, InvokeBody, InvokeError, InvokeResponseBody};
use tauri::{Manager, Runtime};

/// What every command reaches: the app functions' services.
pub struct Desktop {
    /// The runtime and settings (or why each could not start).
    pub app: Arc<App>,
}

impl Desktop {
    /// Neither runtime nor settings: why, for every view to show.
    pub fn failed(message: String) -> Desktop {
        Desktop {
            app: Arc::new(App::desktop(Err(message.clone()), Err(message))),
        }
    }

    /// The runtime, or the reason it did not start (shown by every view).
    pub fn runtime(&self) -> Result<&Arc<AppRuntime>, CommandError> {
        self.app.runtime()
    }
}

/// Managed from the first moment: turns true once start-up has managed the [`Desktop`] (whether
/// or not the runtime started), so a command, a tray click or the exit can wait for it.
pub struct Starting(pub tokio::sync::watch::Receiver<bool>);

/// The app's services once start-up has finished, waiting for it if needed (the runtime starts
/// while the window and WebKit do). `None` only where no start-up is under way.
pub async fn desktop_app<R: Runtime>(handle: &tauri::AppHandle<R>) -> Option<Arc<App>> {
    if let Some(d) = handle.try_state::<Desktop>() {
        return Some(d.app.clone());
    }
    let mut ready = handle.try_state::<Starting>()?.0.clone();
    let _ = ready.wait_for(|started| *started).await;
    handle.try_state::<Desktop>().map(|d| d.app.clone())
}

/// The invoke handler: a command declared for the desktop runs; any other name is not found.
pub fn invoke_handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    let runners = reviewdesk_api::desktop_runners();
    move |invoke| {
        let Some(run) = runners.get(invoke.message.command()).copied() else {
            return false;
        };
        let handle = invoke.message.webview_ref().app_handle().clone();
        let args = match invoke.message.payload() {
            InvokeBody::Json(v) => v.clone(),
            InvokeBody::Raw(_) => serde_json::Value::Null,
        };
        invoke.resolver.respond_async(async move {
            let Some(app) = desktop_app(&handle).await else {
                return Err(InvokeError::from("Review Desk did not start"));
            };
            run(app, args, Source::Desktop)
                .await
                .map(|answer| InvokeResponseBody::Json(Box::<str>::from(answer).into()))
                .map_err(|e| InvokeError::from(e.body))
        });
        true
    }
}
