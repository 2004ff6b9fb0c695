//! The core's error type: every message says what happened and what to do.

use std::path::PathBuf;

use crate::status::Status;

/// Errors from the core services. Each has a stable [`CoreError::code`] for the UI and HTTP layers.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The state machine refuses this move.
    #[error("cannot move a task from {from} to {to}: that transition is not allowed")]
    RefusedTransition {
        /// Current status.
        from: Status,
        /// Requested status.
        to: Status,
    },
    /// The task is not at a review gate, so there is nothing to decide.
    #[error("task {task} is in {status}, not at a review gate; nothing to approve or reject")]
    NotAtGate {
        /// Task id.
        task: String,
        /// Its status.
        status: Status,
    },
    /// An id or name names nothing.
    #[error("{what} {id:?} does not exist")]
    NotFound {
        /// What was looked for ("task", "asset").
        what: &'static str,
        /// The id given.
        id: String,
    },
    /// Input failed validation; `field` names it.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The offending field.
        field: String,
        /// Why, and what is expected.
        message: String,
    },
    /// A configuration file or setting is wrong.
    #[error("configuration error in {file}: {message}")]
    Config {
        /// File or setting name.
        file: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A path would leave the workspace.
    #[error("refused path {0:?}: it would leave the workspace")]
    PathEscape(String),
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot write").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An image could not be read or made.
    #[error(transparent)]
    Imaging(#[from] reviewdesk_imaging::ImagingError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Another worker or person changed the task first.
    #[error("task {0} was changed by someone else meanwhile; reload and try again")]
    Conflict(String),
}

impl CoreError {
    /// A stable machine-readable code, for the UI and the HTTP API.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::RefusedTransition { .. } => "refused_transition",
            CoreError::NotAtGate { .. } => "not_at_gate",
            CoreError::NotFound { .. } => "not_found",
            CoreError::Invalid { .. } => "invalid",
            CoreError::Config { .. } => "config",
            CoreError::PathEscape(_) => "path_escape",
            CoreError::Io { .. } => "io",
            CoreError::Imaging(_) => "imaging",
            CoreError::Database(_) | CoreError::Migration(_) => "database",
            CoreError::Conflict(_) => "conflict",
        }
    }

    /// Shorthand for an [`CoreError::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an [`CoreError::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Result with [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
