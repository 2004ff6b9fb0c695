//! Mapping core errors to HTTP answers: `{code, message}` with a fitting status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reviewdesk_core::CoreError;
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

impl From<CoreError> for HttpError {
    fn from(e: CoreError) -> Self {
        let status = match &e {
            CoreError::NotFound { .. } | CoreError::PathEscape(_) => StatusCode::NOT_FOUND,
            CoreError::RefusedTransition { .. }
            | CoreError::NotAtGate { .. }
            | CoreError::Conflict(_) => StatusCode::CONFLICT,
            CoreError::Invalid { .. } | CoreError::Config { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "request failed");
        }
        HttpError {
            status,
            body: ApiError::from(&e),
        }
    }
}

impl From<reviewdesk_runtime::RuntimeError> for HttpError {
    fn from(e: reviewdesk_runtime::RuntimeError) -> Self {
        match e {
            reviewdesk_runtime::RuntimeError::Core(e) => e.into(),
            e @ reviewdesk_runtime::RuntimeError::NoWorker => {
                HttpError::new(StatusCode::CONFLICT, "no_worker", e.to_string())
            }
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
