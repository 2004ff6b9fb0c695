//! The desktop app's settings and secrets.
//!
//! - [`SettingsFile`]: the non-secret settings (workspace, channel files folder, poll interval) as JSON,
//!   saved atomically.
//! - [`SecretStore`]: the Notion token and other secrets in the OS keyring, with an environment
//!   variable as fallback. Secrets are never written to a plain file and never appear in `Debug`
//!   output or error messages.
//! - [`SettingsService`]: what the Settings screen calls; every call returns a fresh [`SettingsView`].
#![warn(missing_docs)]

mod autostart;
mod error;
mod file;
mod secrets;
mod service;

pub use autostart::{AUTOSTART_FILE, Autostart};
pub use error::{Result, SettingsError};
pub use file::{Settings, SettingsFile};
pub use secrets::{
    EnvLookup, KEYRING_SERVICE, KeyringError, MemoryKeyring, OsKeyring, SecretBackend, SecretId,
    SecretStore, TokenSource, validate_notion_token,
};
pub use service::{
    DEFAULT_POLL_SECS, MAX_POLL_SECS, MIN_POLL_SECS, Paths, ProviderKeyView, SettingsService,
    SettingsUpdate, SettingsView,
};
