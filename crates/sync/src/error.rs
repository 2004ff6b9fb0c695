//! Errors of the mirror, worded for the creator.

use reviewdesk_notion::{ErrorKind, NotionError};

/// Result of the mirror.
pub type Result<T> = std::result::Result<T, SyncError>;

/// What can go wrong while mirroring.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A Notion call failed (the message says what to do).
    #[error("{}", notion_hint(.0))]
    Notion(NotionError),
    /// The local store or review service refused or failed.
    #[error("{0}")]
    Core(#[from] reviewdesk_core::CoreError),
    /// The mirror's own tables failed.
    #[error("the mirror's tables in the local database failed: {0}")]
    Db(#[from] sqlx::Error),
    /// The Notion setup does not match what the mirror needs.
    #[error("{0}")]
    Setup(String),
    /// `discard` was given an event that is not waiting to be mirrored.
    #[error(
        "event {event_id} is not waiting to be mirrored (already sent, already discarded, or not an event id): `reviewdesk notion outbox` lists the events that wait"
    )]
    NotWaiting {
        /// The event id given.
        event_id: i64,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<NotionError> for SyncError {
    fn from(e: NotionError) -> Self {
        SyncError::Notion(e)
    }
}

impl SyncError {
    /// Worth retrying later without the creator doing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Notion(e) => e.is_transient(),
            SyncError::Db(_) => true,
            _ => false,
        }
    }
}

fn notion_hint(e: &NotionError) -> String {
    match e.kind() {
        ErrorKind::Unauthorized => format!(
            "Notion answered 401 unauthorized: the token was revoked or is wrong — paste a new one in Settings (or set NOTION_TOKEN){}",
            e.request_id()
                .map(|r| format!(" [request id {r}]"))
                .unwrap_or_default()
        ),
        ErrorKind::NotFound => format!(
            "{e} — share the Review Desk databases with the integration (… menu → Connections), or run `reviewdesk notion check`"
        ),
        ErrorKind::Invalid => format!(
            "{e} — run `reviewdesk notion check` to compare the databases with what Review Desk needs"
        ),
        _ => e.to_string(),
    }
}
