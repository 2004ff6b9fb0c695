//! Start-up: the settings (folders, poll interval, the Notion token from the keyring or
//! `NOTION_TOKEN`), then the same runtime `reviewdesk serve` starts.

use std::sync::Arc;
use std::time::Duration;

use reviewdesk_api::App;
use reviewdesk_core::{Core, CoreOptions};
use reviewdesk_runtime::{AppRuntime, Door, RuntimeOptions};

use crate::Desktop;
use reviewdesk_settings::{Paths, SecretStore, SettingsFile, SettingsService};
use reviewdesk_sync::MirrorConfig;

/// The folders used when the settings file names none: environment, then the OS defaults.
fn default_paths() -> (Paths, std::path::PathBuf) {
    let o = CoreOptions::default().resolved();
    let config_dir = o.config_dir.unwrap_or_default();
    let settings_file = config_dir.join("settings.json");
    (
        Paths {
            workspace: o.workspace.unwrap_or_default(),
            config_dir,
        },
        settings_file,
    )
}

/// What start-up reads before anything slow: the settings file and the folders it names.
pub struct Prepared {
    settings_file: std::path::PathBuf,
    saved: reviewdesk_settings::Settings,
    defaults: Paths,
    running: Paths,
}

impl Prepared {
    /// The workspace folder the runtime will use (files and media are served from it).
    pub fn workspace_dir(&self) -> &std::path::Path {
        &self.running.workspace
    }
}

/// Reads the settings file (cheap; the window needs the workspace folder before the runtime is up).
pub fn prepare() -> Result<Prepared, String> {
    let (defaults, settings_file) = default_paths();
    let saved = SettingsFile::load(&settings_file)
        .map_err(|e| format!("Review Desk could not start: {e}"))?
        .settings;
    let running = Paths {
        workspace: saved
            .workspace
            .clone()
            .unwrap_or(defaults.workspace.clone()),
        config_dir: saved
            .config_dir
            .clone()
            .unwrap_or(defaults.config_dir.clone()),
    };
    Ok(Prepared {
        settings_file,
        saved,
        defaults,
        running,
    })
}

/// Starts the runtime with the prepared settings (keyring, database, worker, watcher, mirror).
/// It runs while the window and WebKit start; commands that arrive sooner wait for it.
pub async fn start(prepared: Result<Prepared, String>) -> Desktop {
    let Prepared {
        settings_file,
        saved,
        defaults,
        running,
    } = match prepared {
        Ok(p) => p,
        Err(message) => return Desktop::failed(message),
    };
    let settings =
        SettingsService::open(&settings_file, SecretStore::os(), defaults, running.clone())
            .map(|s| {
                // Start at login starts this very program (the installed one, in a package).
                let exe = std::env::current_exe().ok();
                s.with_autostart(exe.and_then(reviewdesk_settings::Autostart::for_exe))
            })
            .map_err(|e| e.to_string());
    let token = match settings.as_ref().map(|s| s.secrets().notion_token()) {
        Ok(Ok(t)) => t.map(|(token, _source)| token),
        Ok(Err(e)) => {
            tracing::warn!("Notion token unavailable: {e}");
            None
        }
        Err(_) => None,
    };
    let provider_keys = match settings.as_ref() {
        Ok(s) => s.secrets().provider_keys(),
        Err(_) => reviewdesk_core::provider_steps::ProviderKeys::from_env(),
    };
    let runtime = async {
        let mut worker_settings = reviewdesk_core::config::WorkerSettings::from_env()?;
        worker_settings.providers.keys = provider_keys;
        let core = Core::open(CoreOptions {
            workspace: Some(running.workspace),
            config_dir: Some(running.config_dir),
            worker_settings: Some(worker_settings),
            ..CoreOptions::default()
        })
        .await?;
        let mut mirror = MirrorConfig::from_env();
        mirror.poll_interval = Duration::from_secs(u64::from(saved.poll_secs()));
        AppRuntime::start(
            core,
            RuntimeOptions {
                notion_token: token,
                mirror,
                // A hidden window should cost nearly nothing; changes made in this process arrive at once.
                feed_poll: Duration::from_secs(1),
                door: Door::Desktop,
                ..RuntimeOptions::default()
            },
        )
        .await
    }
    .await
    .map_err(|e| format!("Review Desk could not start: {e}"));
    Desktop {
        app: Arc::new(App::desktop(runtime, settings)),
    }
}
