//! Notion webhook deliveries: signature check (`X-Notion-Signature: sha256=<hex>`, HMAC-SHA256 of
//! the exact body keyed with the verification token, compared in constant time) and the parts of
//! the envelope the mirror uses.

use hmac::{Hmac, Mac};
use serde::Deserialize;

/// The setting under which the verification token from the handshake is kept.
pub const VERIFICATION_TOKEN_SETTING: &str = "webhook_verification_token";

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
