//! `POST /api/notion/webhook`: Notion's webhook deliveries. Mounted outside the browser guards
//! (Notion sends no Origin, and reaches the server through a public tunnel whose Host and lack
//! of bearer token the guards would refuse): each delivery is authenticated by its
//! `X-Notion-Signature` instead.
//!
//! Browsers are refused outright: Notion's servers send neither `Origin` nor `Sec-Fetch-Site`,
//! and always send JSON, while any web page can `fetch(…, {mode: 'no-cors'})` this URL (with a
//! `text/plain` body and those headers). A handshake's token is only ever stored as pending; the
//! creator confirms it (see `reviewdesk_sync::webhook`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reviewdesk_sync::webhook::{self, Delivery, SECRET_ENV};

use crate::AppState;
use crate::error::HttpError;

/// Refuses what cannot be a delivery from Notion's servers: a browser request, or a body that
/// is not declared as JSON.
fn refuse_non_notion(headers: &HeaderMap) -> Option<HttpError> {
    for name in [header::ORIGIN.as_str(), "sec-fetch-site"] {
        if headers.contains_key(name) {
            return Some(HttpError::new(
                StatusCode::FORBIDDEN,
                "browser_request",
                format!(
                    "this URL only takes Notion's webhook deliveries, which carry no {name} header; a web page cannot post here"
                ),
            ));
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" {
        return Some(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Notion webhook deliveries are JSON: Content-Type must be application/json, not {}",
                if content_type.is_empty() {
                    "missing"
                } else {
                    content_type
                }
            ),
        ));
    }
    None
}

/// Handles one delivery: the handshake (its token kept as pending for the creator to confirm),
/// or a signed event (deduplicated by id, then the page is pulled through the polling path).
pub async fn handle(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = refuse_non_notion(&headers) {
        return refused.into_response();
    }
    // Not a server fault: this server simply has no mirror to take webhooks.
    let Some(mirror) = s.mirror.clone() else {
        return HttpError::new(
            StatusCode::NOT_FOUND,
            "mirror_off",
            "the Notion mirror is not running: set NOTION_TOKEN and the channel's Notion ids",
        )
        .into_response();
    };
    let env_secret = std::env::var(SECRET_ENV).ok().filter(|s| !s.is_empty());
    match webhook::parse(&body) {
        Some(Delivery::Verification { token }) => {
            // The handshake may come unsigned; its token is never trusted before the creator
            // confirms it (see `reviewdesk_sync::webhook::accept_handshake`).
            match webhook::accept_handshake(mirror.store(), &token, env_secret.as_deref()).await {
                Ok(webhook::Handshake::Pending { replaced }) => {
                    tracing::warn!(
                        replaced,
                        "Notion webhook verification token received and kept as pending: `reviewdesk notion webhook status` shows it; paste it into the integration's Webhooks tab, then run `reviewdesk notion webhook confirm <token>`"
                    );
                    StatusCode::OK.into_response()
                }
                Ok(_) => StatusCode::OK.into_response(),
                Err(e @ webhook::HandshakeError::EmptyToken) => {
                    HttpError::new(StatusCode::BAD_REQUEST, "invalid", e.to_string())
                        .into_response()
                }
                Err(e) => HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string())
                    .into_response(),
            }
        }
        Some(Delivery::Event {
            id,
            entity_id,
            entity_type,
            ..
        }) => {
            let secret = match env_secret {
                Some(s) => Some(s),
                None => match webhook::trusted_token(mirror.store()).await {
                    Ok(t) => t,
                    Err(e) => {
                        return HttpError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "store",
                            e.to_string(),
                        )
                        .into_response();
                    }
                },
            };
            let Some(secret) = secret else {
                return HttpError::new(
                    StatusCode::UNAUTHORIZED,
                    "webhook_not_confirmed",
                    "no webhook verification token is confirmed yet, so this event cannot be verified: run `reviewdesk notion webhook status`, paste the pending token into Notion's Webhooks tab, then `reviewdesk notion webhook confirm <token>` (or set NOTION_WEBHOOK_SECRET)",
                )
                .into_response();
            };
            let signed_ok = headers
                .get("x-notion-signature")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|sig| webhook::verify_signature(&body, sig, &secret));
            if !signed_ok {
                return HttpError::new(
                    StatusCode::UNAUTHORIZED,
                    "bad_signature",
                    "X-Notion-Signature does not match this body and the confirmed verification token",
                )
                .into_response();
            }
            match mirror.record_webhook_event(&id).await {
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
