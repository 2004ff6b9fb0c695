//! Notion webhook deliveries: signature check (`X-Notion-Signature: sha256=<hex>`, HMAC-SHA256 of
//! the exact body keyed with the verification token, compared in constant time), the one-time
//! handshake, and the parts of the envelope the mirror uses.
//!
//! # Which verification token is trusted
//! The token Notion sends in the handshake is the key that signs every later event, so whoever
//! gets their token trusted can forge events. The rule ([`accept_handshake`]):
//! - With `NOTION_WEBHOOK_SECRET` set, that value is the key; handshakes are acknowledged and
//!   never stored.
//! - Without it, the **first** handshake's token is stored (trust on first use) and from then on
//!   signs events. A repeated handshake with the same token is acknowledged. A handshake with a
//!   different token is refused ([`HandshakeError::TokenConflict`], HTTP 409) and logged: either
//!   a second subscription was created, or someone is trying to swap the key. The creator then
//!   sets `NOTION_WEBHOOK_SECRET` to the token of the subscription they mean, or runs
//!   `reviewdesk notion webhook-reset` and lets the subscription send its handshake again.
//!
//! Until a token is known, events cannot be verified and are refused (401).

use hmac::{Hmac, Mac};
use serde::Deserialize;

use crate::db::SyncStore;
use crate::error::SyncError;

/// The setting under which the verification token from the handshake is kept.
pub const VERIFICATION_TOKEN_SETTING: &str = "webhook_verification_token";

/// What became of a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// The first handshake: its token is now trusted (paste it into Notion to activate).
    Stored,
    /// The token was already the trusted one (a redelivery).
    AlreadyTrusted,
    /// `NOTION_WEBHOOK_SECRET` is set: it is the key, and nothing is stored.
    SecretConfigured,
}

/// Why a handshake was refused.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// A different token is already trusted.
    #[error(
        "a different webhook verification token is already trusted, so this handshake was refused (a second Notion subscription, or a forged request): set NOTION_WEBHOOK_SECRET to the verification token of the subscription you mean, or run `reviewdesk notion webhook-reset` and have Notion send the verification again"
    )]
    TokenConflict,
    /// The handshake carried an empty token.
    #[error("the handshake's verification_token is empty")]
    EmptyToken,
    /// The mirror's tables failed.
    #[error(transparent)]
    Store(#[from] SyncError),
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
    if token.trim().is_empty() {
        return Err(HandshakeError::EmptyToken);
    }
    if store
        .set_setting_if_absent(VERIFICATION_TOKEN_SETTING, token)
        .await?
    {
        return Ok(Handshake::Stored);
    }
    match store.setting(VERIFICATION_TOKEN_SETTING).await? {
        Some(known) if constant_time_eq(known.as_bytes(), token.as_bytes()) => {
            Ok(Handshake::AlreadyTrusted)
        }
        _ => Err(HandshakeError::TokenConflict),
    }
}

/// Forgets the trusted token (`reviewdesk notion webhook-reset`): the next handshake is trusted.
/// Returns whether one was stored.
pub async fn reset_trusted_token(store: &SyncStore) -> Result<bool, SyncError> {
    store.delete_setting(VERIFICATION_TOKEN_SETTING).await
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
