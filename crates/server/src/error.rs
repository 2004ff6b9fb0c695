//! Error answers: `{code, message}` with a fitting status (a command's error kind decides it).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reviewdesk_api::CommandError;
use reviewdesk_core::api::ApiError;

/// An error answer.
#[derive(Debug)]
pub struct HttpError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `{code, message}` sent as JSON.
    pub body: ApiError,
}

impl HttpError {
    /// An error with a code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            body: ApiError {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

impl From<CommandError> for HttpError {
    fn from(e: CommandError) -> Self {
        HttpError {
            status: StatusCode::from_u16(e.kind.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: e.body,
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
