//! Secrets in the OS keyring, with an environment variable as fallback.
//!
//! Keyring calls block (on Linux they are D-Bus round trips): from async code, call them on a
//! blocking thread (`tokio::task::spawn_blocking`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Result, SettingsError};

/// The keyring service name every Review Desk secret is stored under.
pub const KEYRING_SERVICE: &str = "reviewdesk";

/// One secret: its name in the keyring and the environment variable that can stand in for it.
///
/// The mirror's R2 credentials, for example, are
/// `SecretId::new("r2-access-key-id", "R2_ACCESS_KEY_ID")` and
/// `SecretId::new("r2-secret-access-key", "R2_SECRET_ACCESS_KEY")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretId {
    /// The keyring user name under [`KEYRING_SERVICE`].
    pub key: String,
    /// The environment variable read when the keyring has no value.
    pub env_var: String,
}

impl SecretId {
    /// A secret stored as `key` with `env_var` as fallback.
    pub fn new(key: impl Into<String>, env_var: impl Into<String>) -> SecretId {
        SecretId {
            key: key.into(),
            env_var: env_var.into(),
        }
    }

    /// The Notion integration token: keyring `notion-token`, environment `NOTION_TOKEN`.
    pub fn notion_token() -> SecretId {
        SecretId::new("notion-token", "NOTION_TOKEN")
    }
}

/// Where a secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    /// The OS keyring.
    Keyring,
    /// The environment variable.
    Environment,
    /// Nowhere: it is not set.
    None,
}

/// Why a keyring call failed. [`SecretStore`] turns it into a [`SettingsError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringError {
    /// No keyring can be reached (no Secret Service, no D-Bus session).
    Unavailable(String),
    /// The keyring is locked or refused access.
    Locked(String),
    /// Anything else. The text never holds the secret.
    Failed(String),
}

/// A place to keep secrets: the OS keyring ([`OsKeyring`]) or, in tests, [`MemoryKeyring`].
pub trait SecretBackend: Send + Sync {
    /// A short description for `Debug` output.
    fn describe(&self) -> String;
    /// The value stored under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<String>, KeyringError>;
    /// Stores `value` under `key`, replacing any previous value.
    fn set(&self, key: &str, value: &str) -> Result<(), KeyringError>;
    /// Removes `key`; removing a missing key succeeds.
    fn delete(&self, key: &str) -> Result<(), KeyringError>;
}

/// The OS keyring through the `keyring` crate: Secret Service on Linux (GNOME Keyring, KWallet),
/// Keychain on macOS, Credential Manager on Windows.
#[derive(Debug, Clone)]
pub struct OsKeyring {
    service: String,
}

impl OsKeyring {
    /// Secrets under the given keyring service name (the app uses [`KEYRING_SERVICE`]).
    pub fn new(service: impl Into<String>) -> OsKeyring {
        OsKeyring {
            service: service.into(),
        }
    }

    fn entry(&self, key: &str) -> Result<keyring::Entry, KeyringError> {
        keyring::Entry::new(&self.service, key).map_err(keyring_error)
    }
}

fn keyring_error(e: keyring::Error) -> KeyringError {
    use keyring::Error as E;
    match e {
        E::NoDefaultStore => KeyringError::Unavailable(match keyring::Entry::store_status() {
            Err(init) => init.to_string(),
            Ok(()) => e.to_string(),
        }),
        E::PlatformFailure(_) => KeyringError::Unavailable(e.to_string()),
        E::NoStorageAccess(_) => KeyringError::Locked(e.to_string()),
        // These two carry the stored bytes: describe them, never print them.
        E::BadEncoding(_) => KeyringError::Failed("the stored value is not text".into()),
        E::BadDataFormat(..) => KeyringError::Failed("the stored value is malformed".into()),
        E::Ambiguous(items) => KeyringError::Failed(format!(
            "{} keyring items match; delete the extra ones in your keyring manager",
            items.len()
        )),
        other => KeyringError::Failed(other.to_string()),
    }
}

impl SecretBackend for OsKeyring {
    fn describe(&self) -> String {
        format!("OS keyring (service {:?})", self.service)
    }

    fn get(&self, key: &str) -> Result<Option<String>, KeyringError> {
        match self.entry(key)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn set(&self, key: &str, value: &str) -> Result<(), KeyringError> {
        self.entry(key)?.set_password(value).map_err(keyring_error)
    }

    fn delete(&self, key: &str) -> Result<(), KeyringError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

/// An in-memory keyring for tests, optionally one that behaves like a machine without a keyring.
#[derive(Default)]
pub struct MemoryKeyring {
    items: Mutex<BTreeMap<String, String>>,
    unavailable: bool,
}

impl MemoryKeyring {
    /// An empty, working keyring.
    pub fn new() -> MemoryKeyring {
        MemoryKeyring::default()
    }

    /// A keyring that fails every call as if no Secret Service were running.
    pub fn unavailable() -> MemoryKeyring {
        MemoryKeyring {
            unavailable: true,
            ..MemoryKeyring::default()
        }
    }

    fn items(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, String>>, KeyringError> {
        if self.unavailable {
            return Err(KeyringError::Unavailable(
                "org.freedesktop.secrets was not provided by any .service files".into(),
            ));
        }
        Ok(self.items.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl std::fmt::Debug for MemoryKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = match self.items() {
            Ok(items) => items.keys().cloned().collect(),
            Err(_) => Vec::new(),
        };
        f.debug_struct("MemoryKeyring")
            .field("keys", &keys)
            .field("unavailable", &self.unavailable)
            .finish()
    }
}

impl SecretBackend for MemoryKeyring {
    fn describe(&self) -> String {
        format!("{self:?}")
    }

    fn get(&self, key: &str) -> Result<Option<String>, KeyringError> {
        Ok(self.items()?.get(key).cloned())
    }

    fn set(&self, key: &str, value: &str) -> Result<(), KeyringError> {
        self.items()?.insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), KeyringError> {
        self.items()?.remove(key);
        Ok(())
    }
}

/// Looks up an environment variable; injectable so tests never touch the process environment.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Secrets: keyring first, then the environment. Its `Debug` output never shows a secret.
#[derive(Clone)]
pub struct SecretStore {
    backend: Arc<dyn SecretBackend>,
    env: EnvLookup,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("backend", &self.backend.describe())
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    /// The real thing: the OS keyring under [`KEYRING_SERVICE`] and the process environment.
    pub fn os() -> SecretStore {
        SecretStore::new(Arc::new(OsKeyring::new(KEYRING_SERVICE)))
    }

    /// Secrets in `backend`, falling back to the process environment.
    pub fn new(backend: Arc<dyn SecretBackend>) -> SecretStore {
        SecretStore {
            backend,
            env: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// Replaces the environment lookup (tests pass a map instead of the process environment).
    pub fn with_env(
        mut self,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> SecretStore {
        self.env = Arc::new(env);
        self
    }

    fn env_value(&self, id: &SecretId) -> Option<String> {
        (self.env)(&id.env_var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn error(&self, id: &SecretId, e: KeyringError) -> SettingsError {
        match e {
            KeyringError::Unavailable(detail) => SettingsError::KeyringUnavailable {
                env_var: id.env_var.clone(),
                detail,
            },
            KeyringError::Locked(detail) => SettingsError::KeyringLocked {
                env_var: id.env_var.clone(),
                detail,
            },
            KeyringError::Failed(detail) => SettingsError::Keyring { detail },
        }
    }

    /// The paid providers' keys, each from the keyring, else its environment variable
    /// (`GEMINI_API_KEY`, `KLING_ACCESS_KEY` + `KLING_SECRET_KEY`, `ELEVENLABS_API_KEY`). A key that
    /// cannot be read is left out, with a warning naming it (never its value).
    pub fn provider_keys(&self) -> reviewdesk_providers::Keys {
        reviewdesk_providers::Keys::from_lookup(|name, env| {
            match self.get(&SecretId::new(name, env)) {
                Ok(v) => v.map(|(value, _)| value),
                Err(e) => {
                    tracing::warn!(secret = name, error = %e, "cannot read a provider key");
                    None
                }
            }
        })
    }

    /// The secret and where it came from: the keyring, else the environment variable.
    /// Without a reachable keyring this quietly reads the environment; a locked or failing keyring
    /// is an error only when the environment has no value either.
    pub fn get(&self, id: &SecretId) -> Result<Option<(String, TokenSource)>> {
        let failure = match self.backend.get(&id.key) {
            Ok(Some(v)) if !v.trim().is_empty() => {
                return Ok(Some((v.trim().to_string(), TokenSource::Keyring)));
            }
            Ok(_) => None,
            Err(KeyringError::Unavailable(detail)) => {
                tracing::debug!(secret = %id.key, %detail, "no OS keyring; reading the environment");
                None
            }
            Err(e) => Some(e),
        };
        match (self.env_value(id), failure) {
            (Some(v), _) => Ok(Some((v, TokenSource::Environment))),
            (None, Some(e)) => Err(self.error(id, e)),
            (None, None) => Ok(None),
        }
    }

    /// Where the secret would come from; [`TokenSource::None`] when it cannot be read.
    pub fn source(&self, id: &SecretId) -> TokenSource {
        match self.get(id) {
            Ok(Some((_, source))) => source,
            Ok(None) => TokenSource::None,
            Err(e) => {
                tracing::warn!(secret = %id.key, error = %e, "cannot read a secret");
                TokenSource::None
            }
        }
    }

    /// Stores a secret in the keyring (trimmed; empty or whitespace inside is refused).
    /// Never falls back to a file: without a keyring this fails and names the environment variable.
    pub fn set(&self, id: &SecretId, value: &str) -> Result<()> {
        let value = value.trim();
        if value.is_empty() {
            return Err(SettingsError::invalid(&id.key, "the value is empty"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SettingsError::invalid(
                &id.key,
                "the value contains spaces or line breaks: copy it again",
            ));
        }
        self.backend
            .set(&id.key, value)
            .map_err(|e| self.error(id, e))
    }

    /// Removes a secret from the keyring (a no-op when it is not there or there is no keyring).
    /// The environment variable, if set, still applies.
    pub fn clear(&self, id: &SecretId) -> Result<()> {
        match self.backend.delete(&id.key) {
            Ok(()) | Err(KeyringError::Unavailable(_)) => Ok(()),
            Err(e) => Err(self.error(id, e)),
        }
    }

    /// The Notion token: keyring entry `notion-token`, else `NOTION_TOKEN`.
    pub fn notion_token(&self) -> Result<Option<(String, TokenSource)>> {
        self.get(&SecretId::notion_token())
    }

    /// Checks (see [`validate_notion_token`]) and stores the Notion token in the keyring.
    pub fn set_notion_token(&self, token: &str) -> Result<()> {
        let token = validate_notion_token(token)?;
        self.set(&SecretId::notion_token(), &token)
    }

    /// Removes the Notion token from the keyring.
    pub fn clear_notion_token(&self) -> Result<()> {
        self.clear(&SecretId::notion_token())
    }
}

/// The trimmed token if it looks like a Notion internal-integration secret: `ntn_…` (or the older
/// `secret_…`), no spaces, printable ASCII. Error messages never repeat the token.
pub fn validate_notion_token(raw: &str) -> Result<String> {
    let bad = |message: &str| Err(SettingsError::invalid("notion_token", message));
    let token = raw.trim();
    if token.is_empty() {
        return bad("paste the Notion token: the field is empty");
    }
    if token.chars().any(char::is_whitespace) {
        return bad(
            "the Notion token contains spaces or line breaks: copy it again from your integration's page",
        );
    }
    let Some(rest) = token
        .strip_prefix("ntn_")
        .or_else(|| token.strip_prefix("secret_"))
    else {
        return bad(
            "that is not a Notion token: internal integration secrets start with ntn_ (older ones with secret_); copy it from your integration's Configuration tab at notion.so/profile/integrations",
        );
    };
    if rest.is_empty() {
        return bad("the Notion token is incomplete: copy the whole secret");
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return bad("the Notion token contains characters a token never has: copy it again");
    }
    Ok(token.to_string())
}
