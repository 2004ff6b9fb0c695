//! The desktop door: the webview's `invoke(name, args)` runs the command of that name from the API
//! declaration (`reviewdesk_api::visit_all`), the same one `reviewdesk serve`'s HTTP route runs.
//! Tauri first checks the window's capability, generated from the same declaration; errors reach
//! the UI as `{code, message}` like the server's.

use std::sync::Arc;

use reviewdesk_api::{App, CommandError};
use reviewdesk_core::Source;
use reviewdesk_runtime::AppRuntime;
use tauri::ipc::{Invoke, InvokeBody, InvokeError};
use tauri::{Manager, Runtime};

/// What every command reaches: the app functions' services.
pub struct Desktop {
    /// The runtime and settings (or why each could not start).
    pub app: Arc<App>,
}

impl Desktop {
    /// The runtime, or the reason it did not start (shown by every view).
    pub fn runtime(&self) -> Result<&Arc<AppRuntime>, CommandError> {
        self.app.runtime()
    }
}

/// The invoke handler: a command declared for the desktop runs; any other name is not found.
pub fn invoke_handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    let runners = reviewdesk_api::desktop_runners();
    move |invoke| {
        let Some(run) = runners.get(invoke.message.command()).copied() else {
            return false;
        };
        let Some(desktop) = invoke.message.webview_ref().try_state::<Desktop>() else {
            invoke.resolver.reject("Review Desk is still starting");
            return true;
        };
        let app = desktop.app.clone();
        let args = match invoke.message.payload() {
            InvokeBody::Json(v) => v.clone(),
            InvokeBody::Raw(_) => serde_json::Value::Null,
        };
        invoke.resolver.respond_async(async move {
            run(app, args, Source::Desktop)
                .await
                .map_err(|e| InvokeError::from(e.body))
        });
        true
    }
}
