//! `POST /api/notion/webhook`: Notion's webhook deliveries. Mounted outside the browser guards
//! (Notion sends no Origin, and reaches the server through a public tunnel whose Host and lack
//! of bearer token the guards would refuse): each delivery is authenticated by its
//! `X-Notion-Signature` instead.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use reviewdesk_sync::webhook::{self, Delivery, VERIFICATION_TOKEN_SETTING};

use crate::AppState;
use crate::error::HttpError;

/// Environment variable holding the subscription's verification token.
pub const SECRET_ENV: &str = "NOTION_WEBHOOK_SECRET";

/// Handles one delivery: the handshake (token kept for the creator to paste into Notion), or a
/// signed event (deduplicated by id, then the page is pulled through the polling path).
pub async fn handle(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(mirror) = s.mirror.clone() else {
        return HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mirror_off",
            "the Notion mirror is not running: set NOTION_TOKEN and the channel's Notion ids",
        )
        .into_response();
    };
    let stored = mirror
        .store()
        .setting(VERIFICATION_TOKEN_SETTING)
        .await
        .ok()
        .flatten();
    let secret = std::env::var(SECRET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .or(stored.clone());
    let signature = headers
        .get("x-notion-signature")
        .and_then(|v| v.to_str().ok());
    let signed_ok = match (signature, secret.as_deref()) {
        (Some(sig), Some(secret)) => webhook::verify_signature(&body, sig, secret),
        _ => false,
    };
    match webhook::parse(&body) {
        Some(Delivery::Verification { token }) => {
            // The handshake may come unsigned. Only the first one's token is trusted (see
            // `reviewdesk_sync::webhook::accept_handshake`).
            let env_secret = std::env::var(SECRET_ENV).ok().filter(|s| !s.is_empty());
            match webhook::accept_handshake(mirror.store(), &token, env_secret.as_deref()).await {
                Ok(webhook::Handshake::Stored) => {
                    tracing::warn!(
                        "Notion webhook verification received and trusted: paste the verification token shown in `reviewdesk notion check` into the integration's Webhooks tab"
                    );
                    StatusCode::OK.into_response()
                }
                Ok(_) => StatusCode::OK.into_response(),
                Err(e @ webhook::HandshakeError::TokenConflict) => {
                    tracing::warn!("Notion webhook handshake refused: {e}");
                    HttpError::new(StatusCode::CONFLICT, "token_conflict", e.to_string())
                        .into_response()
                }
                Err(e @ webhook::HandshakeError::EmptyToken) => {
                    HttpError::new(StatusCode::BAD_REQUEST, "invalid", e.to_string())
                        .into_response()
                }
                Err(e) => HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())
                    .into_response(),
            }
        }
        _ if !signed_ok => HttpError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "X-Notion-Signature does not match this body and the verification token",
        )
        .into_response(),
        Some(Delivery::Event {
            id,
            entity_id,
            entity_type,
            ..
        }) => {
            match mirror.store().first_delivery(&id).await {
                Ok(true) => {}
                Ok(false) => return StatusCode::OK.into_response(),
                Err(e) => {
                    return HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string())
                        .into_response();
                }
            }
            if entity_type == "page"
                && let Err(e) = mirror.pull_page(&entity_id).await
            {
                tracing::warn!("Notion webhook: pulling page {entity_id} failed: {e}");
                // Polling catches it up; Notion need not redeliver.
            }
            StatusCode::OK.into_response()
        }
        None => HttpError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "not a Notion webhook delivery",
        )
        .into_response(),
    }
}
