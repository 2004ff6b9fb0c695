//! The core context shared by every door (desktop, server, CLI): store, workspace, channels, events.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::config::{ChannelConfig, WorkerSettings, load_channels};
use crate::error::{CoreError, Result};
use crate::event::EventBus;
use crate::ids::ChannelId;
use crate::store::Store;
use crate::workspace::Workspace;

/// Where things live. Every field falls back to the environment, then to the OS default.
#[derive(Debug, Clone, Default)]
pub struct CoreOptions {
    /// `sqlite://…` or `postgres://…` (env `REVIEWDESK_DATABASE_URL`).
    pub database_url: Option<String>,
    /// Workspace folder (env `REVIEWDESK_WORKSPACE`).
    pub workspace: Option<PathBuf>,
    /// Configuration folder holding `channels/` (env `REVIEWDESK_CONFIG_DIR`).
    pub config_dir: Option<PathBuf>,
    /// Worker timings; from the environment when absent.
    pub worker_settings: Option<WorkerSettings>,
}

/// The OS-specific default folders.
pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "reviewdesk")
}

/// The user's data folder (database, logs, default workspace).
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("REVIEWDESK_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| project_dirs().map(|d| d.data_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from(".reviewdesk-data"))
}

impl CoreOptions {
    /// Fills unset fields from the environment and OS defaults.
    pub fn resolved(mut self) -> CoreOptions {
        let data = default_data_dir();
        if self.database_url.is_none() {
            self.database_url = Some(std::env::var("REVIEWDESK_DATABASE_URL").unwrap_or_else(
                |_| format!("sqlite://{}?mode=rwc", data.join("reviewdesk.db").display()),
            ));
        }
        if self.workspace.is_none() {
            self.workspace = Some(
                std::env::var_os("REVIEWDESK_WORKSPACE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| data.join("workspace")),
            );
        }
        if self.config_dir.is_none() {
            self.config_dir = Some(
                std::env::var_os("REVIEWDESK_CONFIG_DIR")
                    .map(PathBuf::from)
                    .or_else(|| project_dirs().map(|d| d.config_dir().to_path_buf()))
                    .unwrap_or_else(|| PathBuf::from(".reviewdesk-config")),
            );
        }
        self
    }
}

/// The shared core context.
#[derive(Debug)]
pub struct Core {
    /// The database.
    pub store: Store,
    /// The workspace.
    pub workspace: Workspace,
    /// Domain events.
    pub events: EventBus,
    /// Configuration folder.
    pub config_dir: PathBuf,
    channels: RwLock<Vec<ChannelConfig>>,
    /// Wakes idle workers in this process when work arrives.
    pub work_available: tokio::sync::Notify,
    /// Worker timings.
    pub worker_settings: WorkerSettings,
    /// What paid generators cost (the shipped defaults under `<config>/prices.yaml`).
    pub prices: crate::costs::PriceTable,
    /// The paid providers' clients, shared by every task.
    pub providers: crate::provider_steps::ProviderClients,
    /// Writes to the database by any process, heard without polling (SQLite).
    pub db_changes: crate::db_watch::DbWatch,
}

impl Core {
    /// Opens the store (running migrations), the workspace and the channel files.
    pub async fn open(options: CoreOptions) -> Result<Arc<Core>> {
        let o = options.resolved();
        let url = o.database_url.expect("resolved");
        if let Some(file) = crate::db_watch::sqlite_file(&url)
            && let Some(dir) = file.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| CoreError::io("cannot create database folder", dir, e))?;
        }
        let workspace = Workspace::open(o.workspace.expect("resolved"))?;
        let config_dir = o.config_dir.expect("resolved");
        let worker_settings = match o.worker_settings {
            Some(s) => s,
            None => WorkerSettings::from_env()?,
        };
        let channels = load_channels(&config_dir.join("channels"))?;
        let prices = crate::costs::PriceTable::load(&config_dir)?;
        let store = Store::connect(&url).await?;
        store.sync_channels(&channels).await?;
        let db_changes = crate::db_watch::DbWatch::for_url(&url);
        Ok(Arc::new(Core {
            db_changes,
            store,
            workspace,
            events: EventBus::new(),
            config_dir,
            channels: RwLock::new(channels),
            work_available: tokio::sync::Notify::new(),
            worker_settings,
            prices,
            providers: Default::default(),
        }))
    }

    /// All channels.
    pub fn channels(&self) -> Vec<ChannelConfig> {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One channel, or an error telling how to add it.
    pub fn channel(&self, id: &ChannelId) -> Result<ChannelConfig> {
        self.channels()
            .into_iter()
            .find(|c| &c.channel_id == id)
            .ok_or_else(|| CoreError::Config {
                file: self.config_dir.join("channels").display().to_string(),
                message: format!(
                    "no channel \"{id}\"; add channels/{id}.yaml with channel_id: {id}"
                ),
            })
    }

    /// Re-reads the channel files; on error the previous channels stay in force.
    pub async fn reload_channels(&self) -> Result<()> {
        let channels = load_channels(&self.config_dir.join("channels"))?;
        self.store.sync_channels(&channels).await?;
        *self.channels.write().unwrap_or_else(|e| e.into_inner()) = channels;
        tracing::info!("channel files reloaded");
        Ok(())
    }
}
