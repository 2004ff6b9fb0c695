//! One error type whose messages tell a creator what to do next.

use std::path::PathBuf;

/// Everything that can go wrong with settings and secrets. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The settings file exists but could not be read.
    #[error("cannot read the settings file {}: {source}", path.display())]
    Read {
        /// The settings file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The settings file is not valid JSON or holds values out of range.
    #[error(
        "the settings file {} is damaged ({problem}): fix it or delete it to go back to the defaults",
        path.display()
    )]
    BadFile {
        /// The settings file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Writing the settings file failed; the previous file is unchanged.
    #[error(
        "could not save the settings to {}: {source}; the previous settings were kept (check that the folder is writable and the disk is not full)",
        path.display()
    )]
    Save {
        /// The settings file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The start-at-login entry could not be written or removed.
    #[error(
        "could not change the start-at-login entry {}: {source} (check that the folder is writable and the disk is not full)",
        path.display()
    )]
    Autostart {
        /// The autostart entry.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A value entered on the Settings screen was refused; the message says why and what to enter.
    #[error("{message}")]
    Invalid {
        /// The field: `workspace`, `config_dir`, `notion_poll_secs`, or a secret's name.
        field: String,
        /// What to fix.
        message: String,
    },
    /// There is no OS keyring to store secrets in (e.g. no Secret Service on Linux).
    #[error(
        "no OS keyring is available (Secret Service not running): set {env_var} in the environment instead"
    )]
    KeyringUnavailable {
        /// The environment variable that can hold the secret instead.
        env_var: String,
        /// The platform's error, for logs.
        detail: String,
    },
    /// The OS keyring exists but is locked or refused access.
    #[error(
        "the OS keyring is locked or refused access ({detail}): unlock it and try again, or set {env_var} in the environment instead"
    )]
    KeyringLocked {
        /// The environment variable that can hold the secret instead.
        env_var: String,
        /// The platform's error.
        detail: String,
    },
    /// Any other keyring failure.
    #[error("the OS keyring failed: {detail}")]
    Keyring {
        /// The platform's error (never the secret).
        detail: String,
    },
}

impl SettingsError {
    /// A stable machine-readable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            SettingsError::Read { .. } => "settings_unreadable",
            SettingsError::BadFile { .. } => "settings_damaged",
            SettingsError::Save { .. } => "settings_not_saved",
            SettingsError::Autostart { .. } => "autostart_failed",
            SettingsError::Invalid { .. } => "invalid",
            SettingsError::KeyringUnavailable { .. } => "keyring_unavailable",
            SettingsError::KeyringLocked { .. } => "keyring_locked",
            SettingsError::Keyring { .. } => "keyring_failed",
        }
    }

    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        SettingsError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = SettingsError> = std::result::Result<T, E>;
