//! One error for every door: a kind (which the HTTP door turns into a status) and the `{code,
//! message}` the UI shows.

use reviewdesk_core::CoreError;
use reviewdesk_core::api::ApiError;
use reviewdesk_runtime::{NotionCheckError, RuntimeError};
use reviewdesk_settings::SettingsError;

/// What kind of failure, for the door's own signalling (an HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such task, asset or route (404).
    NotFound,
    /// Refused from the current state, or someone else was first (409).
    Conflict,
    /// Invalid arguments; the message names the field (422).
    Invalid,
    /// This door does not offer the command, or the app could not start (503).
    Unavailable,
    /// A fault of the app or the machine (500); logged.
    Internal,
}

impl ErrorKind {
    /// The HTTP status of this kind.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Invalid => 422,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// A command's failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", body.message)]
pub struct CommandError {
    /// What kind.
    pub kind: ErrorKind,
    /// What the UI receives.
    pub body: ApiError,
}

impl CommandError {
    /// An error with a kind, code and message.
    pub fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> Self {
        CommandError {
            kind,
            body: ApiError {
                code: code.into(),
                message: message.into(),
            },
        }
    }

    /// Arguments that do not match the command's (serde names the field).
    pub fn invalid_arguments(e: &dyn std::fmt::Display) -> Self {
        CommandError::new(ErrorKind::Invalid, "invalid", format!("invalid body: {e}"))
    }

    /// A fault of the app (logged).
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(error = %message, "command failed");
        CommandError::new(ErrorKind::Internal, "internal", message)
    }
}

impl From<CoreError> for CommandError {
    fn from(e: CoreError) -> Self {
        let kind = match &e {
            CoreError::NotFound { .. } | CoreError::PathEscape(_) => ErrorKind::NotFound,
            CoreError::RefusedTransition { .. }
            | CoreError::NotAtGate { .. }
            | CoreError::Conflict(_) => ErrorKind::Conflict,
            CoreError::Invalid { .. } | CoreError::Config { .. } => ErrorKind::Invalid,
            _ => ErrorKind::Internal,
        };
        if kind == ErrorKind::Internal {
            tracing::error!(error = %e, "command failed");
        }
        CommandError {
            kind,
            body: ApiError::from(&e),
        }
    }
}

impl From<RuntimeError> for CommandError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Core(e) => e.into(),
            e @ RuntimeError::NoWorker => {
                CommandError::new(ErrorKind::Conflict, "no_worker", e.to_string())
            }
        }
    }
}

impl From<NotionCheckError> for CommandError {
    fn from(e: NotionCheckError) -> Self {
        let kind = match e {
            NotionCheckError::Notion(_) => ErrorKind::Unavailable,
            NotionCheckError::Off | NotionCheckError::NotSetUp => ErrorKind::Conflict,
            NotionCheckError::Channel(_) => ErrorKind::Invalid,
        };
        CommandError::new(kind, e.code(), e.to_string())
    }
}

impl From<SettingsError> for CommandError {
    fn from(e: SettingsError) -> Self {
        let kind = match e {
            SettingsError::Invalid { .. } => ErrorKind::Invalid,
            _ => ErrorKind::Internal,
        };
        CommandError::new(kind, e.code(), e.to_string())
    }
}
