//! What commands run against: the runtime (core, worker, mirror) and, in the desktop app, its
//! settings.

use std::sync::Arc;

use reviewdesk_core::{ReviewService, TaskId, TaskService};
use reviewdesk_runtime::AppRuntime;
use reviewdesk_settings::SettingsService;

use crate::error::{CommandError, ErrorKind};

/// The services behind every door.
pub struct App {
    runtime: Result<Arc<AppRuntime>, String>,
    /// `None` where settings are not the app's to edit (`reviewdesk serve`: the environment).
    settings: Option<Result<SettingsService, String>>,
}

impl App {
    /// `reviewdesk serve`: a running runtime; settings come from the environment.
    pub fn server(runtime: Arc<AppRuntime>) -> App {
        App {
            runtime: Ok(runtime),
            settings: None,
        }
    }

    /// The desktop app: the runtime and the settings, or why each could not start (every view
    /// shows that message instead of failing).
    pub fn desktop(
        runtime: Result<Arc<AppRuntime>, String>,
        settings: Result<SettingsService, String>,
    ) -> App {
        App {
            runtime,
            settings: Some(settings),
        }
    }

    /// The runtime, or the reason it did not start.
    pub fn runtime(&self) -> Result<&Arc<AppRuntime>, CommandError> {
        self.runtime
            .as_ref()
            .map_err(|message| CommandError::new(ErrorKind::Unavailable, "startup_failed", message))
    }

    /// The settings service, where this door has one.
    pub fn settings(&self) -> Result<&SettingsService, CommandError> {
        match &self.settings {
            Some(Ok(s)) => Ok(s),
            Some(Err(message)) => Err(CommandError::new(
                ErrorKind::Internal,
                "settings_unreadable",
                message,
            )),
            None => Err(CommandError::new(
                ErrorKind::Unavailable,
                "unsupported",
                "settings are edited in the desktop app; `reviewdesk serve` reads the environment",
            )),
        }
    }

    pub(crate) fn tasks(&self) -> Result<TaskService, CommandError> {
        Ok(TaskService::new(self.runtime()?.core.clone()))
    }

    pub(crate) fn reviews(&self) -> Result<ReviewService, CommandError> {
        Ok(ReviewService::new(self.runtime()?.core.clone()))
    }
}

/// A task id from a path or argument: one that cannot be an id names no task (404, like an
/// unknown one), so a malformed link reads as "not found" rather than as invalid input.
pub(crate) fn task_id(s: &str) -> Result<TaskId, CommandError> {
    s.parse::<TaskId>()
        .map_err(|e| CommandError::new(ErrorKind::NotFound, "not_found", e.to_string()))
}
