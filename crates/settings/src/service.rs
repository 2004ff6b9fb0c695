//! What the Settings screen calls.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Result, SettingsError};
use crate::file::{Settings, SettingsFile};
use crate::secrets::{SecretId, SecretStore, TokenSource};

/// Seconds between Notion polls when none is saved.
pub const DEFAULT_POLL_SECS: u32 = 10;
/// The shortest poll interval allowed.
pub const MIN_POLL_SECS: u32 = 5;
/// The longest poll interval allowed.
pub const MAX_POLL_SECS: u32 = 600;

/// A workspace folder and a configuration folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Workspace folder.
    pub workspace: PathBuf,
    /// Configuration folder holding `channels/`.
    pub config_dir: PathBuf,
}

/// The Settings screen's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettingsView {
    /// The workspace folder in effect after the next start (saved override, else the default).
    pub workspace: String,
    /// The channel files folder in effect after the next start.
    pub config_dir: String,
    /// Seconds between Notion polls.
    pub notion_poll_secs: u32,
    /// Where the Notion token comes from (never the token itself).
    pub notion_token: TokenSource,
    /// Each paid provider's key: its name, environment variable and where it comes from
    /// (never the key itself).
    pub provider_keys: Vec<ProviderKeyView>,
    /// Whether the app starts at login; `null` where it cannot (no home folder).
    pub autostart: Option<bool>,
    /// The settings file.
    pub settings_file: String,
    /// The saved folders differ from the ones the running app uses: restart to apply them.
    pub restart_required: bool,
}

/// One provider key on the Settings screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProviderKeyView {
    /// Its name in the OS keyring (`gemini-api-key`); the name the save and remove calls take.
    pub name: String,
    /// The environment variable read when the keyring has none (`GEMINI_API_KEY`).
    pub env_var: String,
    /// Where the key comes from now.
    pub source: TokenSource,
}

/// The keyring name and environment variable of a provider key, or an error listing the names.
fn provider_key_id(name: &str) -> Result<SecretId> {
    reviewdesk_providers::KEY_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, env)| SecretId::new(*n, *env))
        .ok_or_else(|| {
            let names: Vec<&str> = reviewdesk_providers::KEY_NAMES
                .iter()
                .map(|(n, _)| *n)
                .collect();
            SettingsError::invalid(
                "name",
                format!(
                    "{name:?} is not a provider key; use one of {}",
                    names.join(", ")
                ),
            )
        })
}

/// Changes from the Settings screen. `null` leaves a field as it is; an empty string clears a
/// folder override back to the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettingsUpdate {
    /// New workspace folder: absolute; created if missing; must be writable.
    pub workspace: Option<String>,
    /// New channel files folder: absolute; must exist.
    pub config_dir: Option<String>,
    /// New poll interval in seconds, 5–600.
    pub notion_poll_secs: Option<u32>,
}

/// Settings file plus secrets, shared by the desktop app's commands (`Send + Sync`).
///
/// Every method may call the OS keyring, which blocks: from async code use `spawn_blocking`.
#[derive(Debug)]
pub struct SettingsService {
    file: Mutex<SettingsFile>,
    secrets: SecretStore,
    defaults: Paths,
    running: Paths,
    autostart: Option<crate::Autostart>,
}

impl SettingsService {
    /// Loads the settings file (missing → defaults). `defaults` are the folders used when nothing
    /// is saved; `running` are the folders the running app actually opened.
    pub fn open(
        settings_file: impl Into<PathBuf>,
        secrets: SecretStore,
        defaults: Paths,
        running: Paths,
    ) -> Result<SettingsService> {
        Ok(SettingsService {
            file: Mutex::new(SettingsFile::load(settings_file)?),
            secrets,
            defaults,
            running,
            autostart: None,
        })
    }

    /// Offers start at login through `autostart` (the desktop app's own entry).
    pub fn with_autostart(mut self, autostart: Option<crate::Autostart>) -> SettingsService {
        self.autostart = autostart;
        self
    }

    /// Starts the app at login, or stops doing so.
    pub fn set_autostart(&self, on: bool) -> Result<SettingsView> {
        match &self.autostart {
            Some(a) => a.set(on)?,
            None => {
                return Err(SettingsError::invalid(
                    "autostart",
                    "starting at login needs a home folder (HOME or XDG_CONFIG_HOME)",
                ));
            }
        }
        Ok(self.view())
    }

    fn file(&self) -> std::sync::MutexGuard<'_, SettingsFile> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The saved settings.
    pub fn settings(&self) -> Settings {
        self.file().settings.clone()
    }

    /// The folders in effect after the next start.
    pub fn effective(&self) -> Paths {
        effective(&self.file().settings, &self.defaults)
    }

    /// The secrets.
    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// The current state for the Settings screen.
    pub fn view(&self) -> SettingsView {
        let file = self.file();
        let eff = effective(&file.settings, &self.defaults);
        SettingsView {
            restart_required: !same_dir(&eff.workspace, &self.running.workspace)
                || !same_dir(&eff.config_dir, &self.running.config_dir),
            workspace: eff.workspace.display().to_string(),
            config_dir: eff.config_dir.display().to_string(),
            notion_poll_secs: file.settings.poll_secs(),
            notion_token: self.secrets.source(&SecretId::notion_token()),
            provider_keys: reviewdesk_providers::KEY_NAMES
                .iter()
                .map(|(name, env)| ProviderKeyView {
                    name: name.to_string(),
                    env_var: env.to_string(),
                    source: self.secrets.source(&SecretId::new(*name, *env)),
                })
                .collect(),
            autostart: self.autostart.as_ref().map(crate::Autostart::is_enabled),
            settings_file: file.path().display().to_string(),
        }
    }

    /// Validates every given field, then saves them all or none.
    pub fn update(&self, update: SettingsUpdate) -> Result<SettingsView> {
        {
            let mut file = self.file();
            let mut next = file.settings.clone();
            if let Some(secs) = update.notion_poll_secs {
                next.notion_poll_secs = Some(check_poll_secs(secs)?);
            }
            if let Some(dir) = &update.config_dir {
                next.config_dir = check_config_dir(dir)?;
            }
            // Last: it may create the folder, so only once everything else is valid.
            if let Some(dir) = &update.workspace {
                next.workspace = check_workspace(dir)?;
            }
            if next != file.settings {
                file.save(next)?;
            }
        }
        Ok(self.view())
    }

    /// Validates and stores the Notion token in the OS keyring.
    pub fn set_notion_token(&self, token: &str) -> Result<SettingsView> {
        self.secrets.set_notion_token(token)?;
        Ok(self.view())
    }

    /// Removes the Notion token from the OS keyring (`NOTION_TOKEN` still applies if set).
    pub fn clear_notion_token(&self) -> Result<SettingsView> {
        self.secrets.clear_notion_token()?;
        Ok(self.view())
    }

    /// Stores a provider key (`name` from [`reviewdesk_providers::KEY_NAMES`]) in the OS keyring.
    pub fn set_provider_key(&self, name: &str, value: &str) -> Result<SettingsView> {
        self.secrets.set(&provider_key_id(name)?, value)?;
        Ok(self.view())
    }

    /// Removes a provider key from the OS keyring (its environment variable still applies).
    pub fn clear_provider_key(&self, name: &str) -> Result<SettingsView> {
        self.secrets.clear(&provider_key_id(name)?)?;
        Ok(self.view())
    }
}

fn effective(settings: &Settings, defaults: &Paths) -> Paths {
    Paths {
        workspace: settings
            .workspace
            .clone()
            .unwrap_or_else(|| defaults.workspace.clone()),
        config_dir: settings
            .config_dir
            .clone()
            .unwrap_or_else(|| defaults.config_dir.clone()),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

fn check_poll_secs(secs: u32) -> Result<u32> {
    if (MIN_POLL_SECS..=MAX_POLL_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(SettingsError::invalid(
            "notion_poll_secs",
            format!(
                "poll interval must be between {MIN_POLL_SECS} and {MAX_POLL_SECS} seconds (got {secs})"
            ),
        ))
    }
}

/// `""` → `None` (back to the default); otherwise an absolute path.
fn absolute(field: &str, label: &str, raw: &str) -> Result<Option<PathBuf>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(raw);
    if !path.is_absolute() {
        return Err(SettingsError::invalid(
            field,
            format!(
                "{label} must be a full path starting at the root (like /home/you/reviewdesk), not {raw:?}"
            ),
        ));
    }
    Ok(Some(path))
}

fn check_config_dir(raw: &str) -> Result<Option<PathBuf>> {
    let field = "config_dir";
    let Some(path) = absolute(field, "the channel files folder", raw)? else {
        return Ok(None);
    };
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(Some(path)),
        Ok(_) => Err(SettingsError::invalid(
            field,
            format!(
                "{} is a file; choose the folder that holds channels/",
                path.display()
            ),
        )),
        Err(e) => Err(SettingsError::invalid(
            field,
            format!(
                "the channel files folder {} cannot be opened ({e}): create it or choose the folder that holds channels/",
                path.display()
            ),
        )),
    }
}

fn check_workspace(raw: &str) -> Result<Option<PathBuf>> {
    let field = "workspace";
    let Some(path) = absolute(field, "the workspace folder", raw)? else {
        return Ok(None);
    };
    if path.exists() && !path.is_dir() {
        return Err(SettingsError::invalid(
            field,
            format!(
                "{} is a file; choose a folder for the workspace",
                path.display()
            ),
        ));
    }
    std::fs::create_dir_all(&path).map_err(|e| {
        SettingsError::invalid(
            field,
            format!(
                "cannot create the workspace folder {} ({e}): choose a folder you can write to",
                path.display()
            ),
        )
    })?;
    tempfile::tempfile_in(&path).map_err(|e| {
        SettingsError::invalid(
            field,
            format!(
                "cannot write to the workspace folder {} ({e}): choose a folder you can write to",
                path.display()
            ),
        )
    })?;
    Ok(Some(path))
}
