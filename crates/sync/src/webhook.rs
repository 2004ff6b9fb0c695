//! Notion webhook deliveries: signature check (`X-Notion-Signature: sha256=<hex>`, HMAC-SHA256 of
//! the exact body keyed with the verification token, compared in constant time), the one-time
//! handshake, and the parts of the envelope the mirror uses.
//!
//! # Which verification token is trusted
//! The token Notion sends in the handshake is the key that signs every later event, so whoever
//! gets their token trusted can forge events. Anyone who can reach the URL can send a
//! "handshake", so a handshake alone never makes a token trusted ([`accept_handshake`]):
//! - With `NOTION_WEBHOOK_SECRET` set, that value is the key; handshakes are acknowledged and
//!   never stored.
//! - Without it, a handshake's token is stored as **pending** and shown to the creator
//!   (`reviewdesk notion webhook status`, the status API). A later handshake replaces a pending
//!   token (Notion's "resend token" after a planted one is never refused). The creator pastes the
//!   token into Notion's Webhooks tab (Notion accepts it only if it is the one Notion sent) and
//!   confirms it here ([`confirm_pending`], `reviewdesk notion webhook confirm <token>`); only a
//!   confirmed token checks signatures. A handshake while a token is confirmed is stored as
//!   pending beside it, without touching the confirmed one.
//!
//! Until a token is confirmed, events cannot be verified and are refused (401).

use hmac::{Hmac, Mac};
use serde::Deserialize;

use crate::db::SyncStore;
use crate::error::SyncError;

/// Environment variable holding the subscription's verification token; when set, it is the key
/// and handshakes are not stored.
pub const SECRET_ENV: &str = "NOTION_WEBHOOK_SECRET";
/// The setting under which the confirmed verification token is kept (the only one trusted).
pub const VERIFICATION_TOKEN_SETTING: &str = "webhook_verification_token";
/// The setting under which the token of the last unconfirmed handshake is kept.
pub const PENDING_TOKEN_SETTING: &str = "webhook_pending_verification_token";
/// When (epoch ms) the pending token arrived.
const PENDING_SINCE_SETTING: &str = "webhook_pending_since_ms";

/// What became of a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Stored as pending, waiting for the creator to confirm it (it replaced an earlier pending
    /// token when `replaced` is true).
    Pending {
        /// An earlier, different pending token was replaced.
        replaced: bool,
    },
    /// The token is already the confirmed one (a redelivery).
    AlreadyTrusted,
    /// `NOTION_WEBHOOK_SECRET` is set: it is the key, and nothing is stored.
    SecretConfigured,
}

/// Why a handshake or a confirmation was refused.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The handshake carried an empty token.
    #[error("the handshake's verification_token is empty")]
    EmptyToken,
    /// `confirm` found no pending token.
    #[error(
        "no webhook verification token is waiting to be confirmed: in Notion's integration settings → Webhooks, create the subscription (or resend its token), then run `reviewdesk notion webhook status`"
    )]
    NothingPending,
    /// `confirm` was given a token other than the pending one.
    #[error(
        "that is not the pending webhook verification token (a newer handshake may have replaced it): run `reviewdesk notion webhook status` and confirm the token it shows, the one Notion accepted"
    )]
    NotThePendingToken,
    /// The mirror's tables failed.
    #[error(transparent)]
    Store(#[from] SyncError),
}

/// The webhook's trust state, for the creator (status bar, `reviewdesk notion webhook status`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookStatus {
    /// A handshake token waiting for the creator's confirmation.
    pub pending_token: Option<String>,
    /// When it arrived (epoch ms).
    pub pending_since_ms: Option<i64>,
    /// A token is confirmed and checks signatures.
    pub confirmed: bool,
}

/// Applies the trust rule (module docs) to a handshake carrying `token`; `secret` is
/// `NOTION_WEBHOOK_SECRET` when set.
pub async fn accept_handshake(
    store: &SyncStore,
    token: &str,
    secret: Option<&str>,
) -> Result<Handshake, HandshakeError> {
    if secret.is_some_and(|s| !s.is_empty()) {
        return Ok(Handshake::SecretConfigured);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(HandshakeError::EmptyToken);
    }
    if let Some(known) = store.setting(VERIFICATION_TOKEN_SETTING).await?
        && constant_time_eq(known.as_bytes(), token.as_bytes())
    {
        return Ok(Handshake::AlreadyTrusted);
    }
    let before = store.setting(PENDING_TOKEN_SETTING).await?;
    store.set_setting(PENDING_TOKEN_SETTING, token).await?;
    store
        .set_setting(
            PENDING_SINCE_SETTING,
            &reviewdesk_core::store::now_ms().to_string(),
        )
        .await?;
    Ok(Handshake::Pending {
        replaced: before.is_some_and(|b| !constant_time_eq(b.as_bytes(), token.as_bytes())),
    })
}

/// Trusts the pending token, which must be `token` (what the creator saw and pasted into
/// Notion); it replaces any confirmed one and is no longer pending.
pub async fn confirm_pending(store: &SyncStore, token: &str) -> Result<(), HandshakeError> {
    let pending = store
        .setting(PENDING_TOKEN_SETTING)
        .await?
        .ok_or(HandshakeError::NothingPending)?;
    if !constant_time_eq(pending.as_bytes(), token.trim().as_bytes()) {
        return Err(HandshakeError::NotThePendingToken);
    }
    store
        .set_setting(VERIFICATION_TOKEN_SETTING, &pending)
        .await?;
    store.delete_setting(PENDING_TOKEN_SETTING).await?;
    store.delete_setting(PENDING_SINCE_SETTING).await?;
    Ok(())
}

/// The confirmed token, the only one that checks signatures (`None` until confirmed).
pub async fn trusted_token(store: &SyncStore) -> Result<Option<String>, SyncError> {
    store.setting(VERIFICATION_TOKEN_SETTING).await
}

/// The pending and confirmed state.
pub async fn status(store: &SyncStore) -> Result<WebhookStatus, SyncError> {
    Ok(WebhookStatus {
        pending_token: store.setting(PENDING_TOKEN_SETTING).await?,
        pending_since_ms: store
            .setting(PENDING_SINCE_SETTING)
            .await?
            .and_then(|v| v.parse().ok()),
        confirmed: store.setting(VERIFICATION_TOKEN_SETTING).await?.is_some(),
    })
}

/// Forgets the confirmed and the pending token (`reviewdesk notion webhook reset`): events are
/// refused until a new handshake is confirmed. Returns whether any was stored.
pub async fn reset_trusted_token(store: &SyncStore) -> Result<bool, SyncError> {
    let confirmed = store.delete_setting(VERIFICATION_TOKEN_SETTING).await?;
    let pending = store.delete_setting(PENDING_TOKEN_SETTING).await?;
    store.delete_setting(PENDING_SINCE_SETTING).await?;
    Ok(confirmed || pending)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when `signature` is `sha256=` + the HMAC-SHA256 hex of `body` keyed with `token`.
/// The comparison runs in constant time.
pub fn verify_signature(body: &[u8], signature: &str, token: &str) -> bool {
    let Some(hex_sig) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// What a delivery can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The one-time handshake carrying the verification token.
    Verification {
        /// The token to paste back into Notion's integration settings.
        token: String,
    },
    /// An event: a doorbell for one entity.
    Event {
        /// Event id (deduplication key).
        id: String,
        /// Event type, e.g. `page.properties_updated`.
        kind: String,
        /// The entity's id.
        entity_id: String,
        /// The entity's type (`page`, `database`, …).
        entity_type: String,
    },
}

#[derive(Deserialize)]
struct Envelope {
    verification_token: Option<String>,
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    entity: Option<Entity>,
}

#[derive(Deserialize)]
struct Entity {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Parses a delivery body; `None` when it is neither a handshake nor an event.
pub fn parse(body: &[u8]) -> Option<Delivery> {
    let e: Envelope = serde_json::from_slice(body).ok()?;
    if let Some(token) = e.verification_token {
        return Some(Delivery::Verification { token });
    }
    let entity = e.entity?;
    Some(Delivery::Event {
        id: e.id?,
        kind: e.kind.unwrap_or_default(),
        entity_id: entity.id,
        entity_type: entity.kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip_and_forgery() {
        let body = br#"{"id":"e1"}"#;
        let sig = notion_double::sign_webhook(body, "secret_abc");
        assert!(verify_signature(body, &sig, "secret_abc"));
        assert!(!verify_signature(body, &sig, "secret_other"));
        assert!(!verify_signature(b"{\"id\":\"e2\"}", &sig, "secret_abc"));
        assert!(!verify_signature(body, "sha256=zz", "secret_abc"));
    }
}
