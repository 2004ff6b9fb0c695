//! Typed errors with messages a creator can act on.

use std::time::Duration;

/// An error answered by the Notion API (`{object:"error", status, code, message, request_id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Notion's machine code, e.g. `validation_error`, `object_not_found`.
    pub code: String,
    /// Notion's message.
    pub message: String,
    /// `request_id` from the body or the `x-notion-request-id` header.
    pub request_id: Option<String>,
    /// `Retry-After`, when the answer carried one.
    pub retry_after: Option<Duration>,
}

/// What went wrong, coarse enough to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401: the token is invalid or revoked.
    Unauthorized,
    /// 403: the integration lacks a capability.
    Forbidden,
    /// 404: missing, or not shared with the integration.
    NotFound,
    /// 400: the request failed validation (or a bad URL / JSON / version).
    Invalid,
    /// 409: a write collided; re-read and retry.
    Conflict,
    /// 429 / 529: slow down.
    RateLimited,
    /// 5xx: Notion is having trouble.
    Server,
    /// No answer in time (client side).
    Timeout,
    /// The connection failed or was closed (client side).
    Network,
    /// Anything else (unexpected bodies, bad input to this crate).
    Other,
}

/// Every failure of a Notion call.
#[derive(Debug, thiserror::Error)]
pub enum NotionError {
    /// Notion answered with an error object.
    #[error("{}", describe(.0))]
    Api(ApiError),
    /// No answer within the client timeout (the request may or may not have landed).
    #[error("Notion did not answer within {}s: check the connection; the change may or may not have been applied", .timeout.as_secs())]
    Timeout {
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The connection failed or was closed before an answer.
    #[error("could not reach Notion ({detail}): check the network connection")]
    Network {
        /// What the HTTP library reported (never contains the token).
        detail: String,
    },
    /// An answer that is not a Notion error or object (e.g. an HTML page from the edge).
    #[error("unexpected answer from Notion (HTTP {status}): {detail}{}", rid(.request_id))]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// Why it could not be read.
        detail: String,
        /// `x-notion-request-id`, if any.
        request_id: Option<String>,
    },
    /// A success answer that lacks a field this client needs, or has it in another shape (the
    /// field is named, e.g. `page.last_edited_time`); nothing is made up in its place.
    #[error("unexpected answer from Notion: `{field}` {problem}")]
    Decode {
        /// The field, as a path from the object (`page.properties.Status.select.name`).
        field: String,
        /// What is wrong with it (`is missing`, `is a number where a string was expected`).
        problem: String,
    },
    /// Input this crate refuses before sending (e.g. an empty file).
    #[error("invalid Notion request: {0}")]
    InvalidInput(String),
}

fn rid(id: &Option<String>) -> String {
    id.as_ref()
        .map(|id| format!(" [request id {id}]"))
        .unwrap_or_default()
}

fn describe(e: &ApiError) -> String {
    let head = format!("{} {}", e.status, e.code);
    let text = match (e.status, e.code.as_str()) {
        (401, _) => {
            format!("Notion token rejected ({head}): paste a new token in Settings → Notion")
        }
        (403, _) => format!(
            "Notion refused access ({head}): give the integration the read, update and insert content capabilities — {}",
            e.message
        ),
        (404, _) => format!(
            "Notion could not find it ({head}): share the page or database with the integration (••• → Connections) — {}",
            e.message
        ),
        (409, _) => format!(
            "Notion reported a conflicting edit ({head}): re-read and try again — {}",
            e.message
        ),
        (429, _) | (529, _) => format!(
            "Notion asked us to slow down ({head}): requests resume automatically{}",
            e.retry_after
                .map(|d| format!(" after {}s", d.as_secs()))
                .unwrap_or_default()
        ),
        (s, _) if s >= 500 => format!(
            "Notion is having trouble ({head}): {}; try again later",
            e.message
        ),
        _ => format!("Notion rejected the request ({head}): {}", e.message),
    };
    format!("{text}{}", rid(&e.request_id))
}

impl NotionError {
    /// The coarse kind, for deciding what to show or whether to wait.
    pub fn kind(&self) -> ErrorKind {
        match self {
            NotionError::Api(e) => match e.status {
                401 => ErrorKind::Unauthorized,
                403 => ErrorKind::Forbidden,
                404 => ErrorKind::NotFound,
                409 => ErrorKind::Conflict,
                429 | 529 => ErrorKind::RateLimited,
                400..=499 => ErrorKind::Invalid,
                _ => ErrorKind::Server,
            },
            NotionError::Timeout { .. } => ErrorKind::Timeout,
            NotionError::Network { .. } => ErrorKind::Network,
            NotionError::Unexpected { status, .. } if *status >= 500 => ErrorKind::Server,
            _ => ErrorKind::Other,
        }
    }

    /// HTTP status, when Notion answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            NotionError::Api(e) => Some(e.status),
            NotionError::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Notion's error code (`validation_error`, …), when Notion answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            NotionError::Api(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The request id to quote to Notion support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            NotionError::Api(e) => e.request_id.as_deref(),
            NotionError::Unexpected { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether waiting and trying again later can help (rate limits, 5xx, timeouts, network).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Timeout | ErrorKind::Network
        )
    }
}

/// Result of a Notion call.
pub type Result<T, E = NotionError> = std::result::Result<T, E>;
