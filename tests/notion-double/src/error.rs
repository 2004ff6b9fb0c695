//! Notion's error object, produced by every failing handler.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answered the way Notion answers it: `{object:"error", status, code, message, request_id}`.
///
/// The handler does not know the request id; the gate middleware renders the final body (see
/// `server::gate`), so this type travels in the response extensions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status, repeated in the body.
    pub status: u16,
    /// Notion's machine code, e.g. `validation_error`.
    pub code: String,
    /// Human message in Notion's wording.
    pub message: String,
    /// `Retry-After` seconds, for 429/529 answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Any error with the given status, code and message.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `validation_error`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "validation_error", message)
    }

    /// 400 `validation_error` for a body path, in Notion's "should be …, instead was …" form.
    pub fn body_path(path: &str, should: &str, instead: &str) -> Self {
        Self::validation(format!(
            "body failed validation: {path} should be {should}, instead was {instead}."
        ))
    }

    /// 404 `object_not_found` for an object kind and id.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            404,
            "object_not_found",
            format!(
                "Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
            ),
        )
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "API token is invalid.")
    }

    /// 429 `rate_limited` with a `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            429,
            "rate_limited",
            "You have been rate limited. Please try again in a few minutes.",
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// The standard code for an injected status.
    pub fn for_status(status: u16) -> Self {
        let (code, message) = match status {
            400 => ("validation_error", "Injected validation error."),
            401 => ("unauthorized", "API token is invalid."),
            403 => (
                "restricted_resource",
                "Insufficient permissions for this endpoint.",
            ),
            404 => ("object_not_found", "Could not find object."),
            409 => (
                "conflict_error",
                "Conflict occurred while saving. Please try again.",
            ),
            429 => (
                "rate_limited",
                "You have been rate limited. Please try again in a few minutes.",
            ),
            500 => ("internal_server_error", "Unexpected error occurred."),
            502 => ("bad_gateway", "Bad gateway."),
            503 => (
                "service_unavailable",
                "Notion is unavailable, please try again later.",
            ),
            504 => ("gateway_timeout", "Gateway timeout."),
            529 => (
                "service_overload",
                "Notion is overloaded, please try again later.",
            ),
            _ => ("internal_server_error", "Injected error."),
        };
        let mut e = Self::new(status, code, message);
        if status == 429 || status == 529 {
            e.retry_after = Some(1);
        }
        e
    }

    /// The error body with the given request id.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        serde_json::json!({
            "object": "error",
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Result of a double operation.
pub type ApiResult<T> = Result<T, ApiError>;
