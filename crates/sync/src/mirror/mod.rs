//! The mirror: out (event log → Notion) and in (Notion → review service).
//!
//! - this module: the [`Mirror`] type, its configuration, its state for the status bar and the
//!   channels it resolved;
//! - `push`: the out side, from the event log's outbox to Notion writes, task by task;
//! - `task_pages`: the Tasks page of a task (find-or-create, status pushes);
//! - `asset_rows`: the Assets rows of a task (find-or-create by Asset Key, row statuses);
//! - `clip_rows`: the Videos and Audio rows of a task (the later gates' clips, the same way);
//! - `storage`: the file of a row per the channel's storage strategy;
//! - `pull`: the in side, from Tasks pages to the review service;
//! - `loops`: the out and in loops.

mod asset_rows;
mod clip_rows;
mod loops;
mod pull;
mod push;
mod storage;
mod task_pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use reviewdesk_core::api::MirrorState;
use reviewdesk_core::config::{ChannelConfig, StorageStrategy};
use reviewdesk_core::store::{Reviewer, now_ms};
use reviewdesk_core::{AssetName, ChannelId, Core, CoreError, Task, TaskId};
use reviewdesk_notion::{DataSourceId, DatabaseId, NotionClient, PropertyValue, RichText, UserId};
use reviewdesk_settings::SecretStore;
use tokio::sync::Mutex as AsyncMutex;

pub use clip_rows::clip_key;

use crate::db::SyncStore;
use crate::error::{Result, SyncError};
use crate::rows::{StatusShape, tasks};

/// Ids re-read behind the out cursor on PostgreSQL, where a transaction can commit after a
/// later id was already read (core transactions last milliseconds; this covers bursts of ~1000
/// events meanwhile).
const PG_RESCAN_IDS: i64 = 1000;
/// Notion rounds `last_edited_time` down to the minute: re-read that much before the cursor.
const POLL_MARGIN_MS: i64 = 60_000;
/// Tasks mirrored at once by a push round (each task's events stay in order; the client's rate
/// limiter still spaces the requests at Notion's 3 per second).
const PUSH_TASKS: usize = 3;
/// Rich text arrays hold at most 100 objects of at most 2000 UTF-16 units.
const ERROR_LOG_UNITS: usize = 100 * 2000;

/// Timings of the mirror.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// How often the Tasks data source is polled (design: 10 s, 5–600 s; tests use less).
    pub poll_interval: Duration,
    /// How long the out loop sleeps when idle before looking at the log again.
    pub out_interval: Duration,
    /// First wait after a failed round (doubles up to `max_backoff`).
    pub backoff: Duration,
    /// Longest wait after failures.
    pub max_backoff: Duration,
    /// Where the `r2` storage strategy reads its credentials: the OS keyring, then the
    /// environment ([`SecretStore::os`] by default; tests inject a `MemoryKeyring`).
    pub secrets: SecretStore,
    /// How long webhook event ids are kept to drop redeliveries (default 7 days; Notion retries
    /// a delivery for a few hours at most).
    pub webhook_event_retention: Duration,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        MirrorConfig {
            poll_interval: Duration::from_secs(10),
            out_interval: Duration::from_secs(2),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            secrets: SecretStore::os(),
            webhook_event_retention: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

impl MirrorConfig {
    /// From `REVIEWDESK_NOTION_POLL_SECS` (clamped to 5–600), other values default (secrets from
    /// the OS keyring, then the environment).
    pub fn from_env() -> Self {
        let mut c = MirrorConfig::default();
        if let Some(s) = std::env::var("REVIEWDESK_NOTION_POLL_SECS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            c.poll_interval = Duration::from_secs(s.clamp(5, 600));
        }
        c
    }
}

/// What the mirror resolved of one channel's databases.
#[derive(Debug, Clone)]
struct ChannelCtx {
    channel: ChannelConfig,
    tasks_ds: DataSourceId,
    assets_ds: DataSourceId,
    /// The Videos data source, when the channel has the database.
    videos_ds: Option<DataSourceId>,
    /// The Audio data source, when the channel has the database.
    audio_ds: Option<DataSourceId>,
    /// The shape the Tasks Status property has.
    status_shape: StatusShape,
    /// Whether the Tasks database has the Cost number (databases made before it was added get
    /// it from `reviewdesk notion check`; until then the cost is simply not sent).
    has_cost: bool,
    /// The uploader of the `r2` strategy.
    r2: Option<Arc<crate::r2::R2Uploader>>,
}

/// The Asset Key of an asset version: `<task id>/<asset name>/v<version>`.
pub fn asset_key(task: TaskId, name: &AssetName, version: u32) -> String {
    format!("{task}/{name}/v{version}")
}

/// The Error Log as a rich text value: split into ≤ 2000-unit objects, the oldest entries dropped
/// when the whole exceeds 100 objects.
pub fn error_log_value(log: &str) -> PropertyValue {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut units = 0usize;
    for line in lines.iter().rev() {
        let n = line.encode_utf16().count() + 1;
        if units + n > ERROR_LOG_UNITS - 2000 {
            break;
        }
        units += n;
        kept.push(line);
    }
    kept.reverse();
    PropertyValue::RichText(RichText::split(&kept.join("\n")))
}

fn retry_status(task: &Task, max_attempts: u32) -> String {
    match task.next_retry_at {
        Some(at) if !task.status.is_terminal() => {
            let mins = (at - Utc::now()).num_minutes().max(0);
            format!("Attempt {}/{max_attempts} - next {mins} min", task.attempts)
        }
        _ => String::new(),
    }
}

/// The Notion mirror of one token (one shared [`NotionClient`], so one rate limiter).
#[derive(Debug)]
pub struct Mirror {
    core: Arc<Core>,
    client: NotionClient,
    store: SyncStore,
    config: MirrorConfig,
    bot: AsyncMutex<Option<UserId>>,
    /// The workspace's per-file upload limit, read with the bot user.
    upload_limit: Mutex<Option<u64>>,
    channels: AsyncMutex<HashMap<String, ChannelCtx>>,
    last_error: Mutex<Option<String>>,
    /// The state last announced as a domain event (ages left out, so only real changes count).
    announced: Mutex<Option<MirrorState>>,
    out_lock: AsyncMutex<()>,
    /// Reviewers by Notion user id (`GET /v1/users/{id}` is asked once per user).
    reviewers: AsyncMutex<HashMap<UserId, Reviewer>>,
}

impl Mirror {
    /// A mirror over a core; creates the mirror's tables.
    pub async fn new(
        core: Arc<Core>,
        client: NotionClient,
        config: MirrorConfig,
    ) -> Result<Arc<Mirror>> {
        let store = SyncStore::open(core.store.pool()).await?;
        Ok(Arc::new(Mirror {
            core,
            client,
            store,
            config,
            bot: AsyncMutex::new(None),
            upload_limit: Mutex::new(None),
            channels: AsyncMutex::new(HashMap::new()),
            last_error: Mutex::new(None),
            announced: Mutex::new(None),
            out_lock: AsyncMutex::new(()),
            reviewers: AsyncMutex::new(HashMap::new()),
        }))
    }

    /// The mirror's tables.
    pub fn store(&self) -> &SyncStore {
        &self.store
    }

    /// The shared client.
    pub fn client(&self) -> &NotionClient {
        &self.client
    }

    /// Records a webhook event id; false when it was seen before (a redelivery). Ids older than
    /// [`MirrorConfig::webhook_event_retention`] are forgotten first, so the table stays small.
    pub async fn record_webhook_event(&self, event_id: &str) -> Result<bool> {
        let retention =
            i64::try_from(self.config.webhook_event_retention.as_millis()).unwrap_or(i64::MAX);
        self.store
            .prune_webhook_events(now_ms().saturating_sub(retention))
            .await?;
        self.store.first_delivery(event_id).await
    }

    /// True when some channel has Notion database ids.
    pub fn configured(core: &Core) -> bool {
        core.channels()
            .iter()
            .any(|c| c.notion.tasks_database_id.is_some() && c.notion.assets_database_id.is_some())
    }

    /// The state the status bar shows: connected with N events waiting, or the error and fix
    /// (a failure every task meets, else the oldest task whose events cannot be mirrored).
    pub async fn state(&self) -> MirrorState {
        let (waiting, oldest) = self.store.waiting().await.unwrap_or((0, None));
        let waiting = waiting.max(0) as u32;
        let err = self
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let err = match err {
            Some(e) => Some(e),
            None => self
                .store
                .stuck()
                .await
                .ok()
                .and_then(|s| s.into_iter().next())
                .map(|s| {
                    format!(
                        "task {} cannot be mirrored ({} attempt(s)): {} — its {} waiting event(s) are retried on their own, other tasks go on; to drop this one: `reviewdesk notion discard {}`",
                        s.task_id,
                        s.attempts,
                        s.last_error.unwrap_or_default(),
                        s.waiting,
                        s.event_id
                    )
                }),
        };
        let err = match err {
            Some(e) => Some(e),
            None => self
                .store
                .refused_pages()
                .await
                .ok()
                .filter(|r| !r.is_empty())
                .map(|refused| {
                    let r = &refused[refused.len() - 1];
                    format!(
                        "the Notion page \"{}\" was not applied: {} — {}fix the page in Notion and set its Status again; other pages go on ({} page(s) not applied: `reviewdesk notion outbox` lists them)",
                        r.title,
                        r.reason,
                        if r.error_log_written {
                            "its Error Log says so; "
                        } else {
                            ""
                        },
                        refused.len()
                    )
                }),
        };
        let err = match err {
            Some(e) => Some(e),
            None => self.webhook_pending_message().await,
        };
        match err {
            Some(message) => MirrorState::Error { message, waiting },
            None => MirrorState::Connected {
                waiting,
                oldest_age_secs: oldest.map(|ms| ((now_ms() - ms).max(0) / 1000) as u64),
            },
        }
    }

    /// A webhook handshake waiting for the creator: the token to paste into Notion and confirm.
    /// Until then signed events are refused, so the status bar says so (with the token: the
    /// creator is the one who must see it).
    async fn webhook_pending_message(&self) -> Option<String> {
        if std::env::var(crate::webhook::SECRET_ENV).is_ok_and(|s| !s.is_empty()) {
            return None;
        }
        let w = crate::webhook::status(&self.store).await.ok()?;
        let token = w.pending_token?;
        Some(format!(
            "webhook verification token {token} is waiting for confirmation: paste it into the Notion integration's Webhooks tab, then run `reviewdesk notion webhook confirm {token}`; until then webhook events are refused ({}; polling goes on)",
            if w.confirmed {
                "events signed with the token confirmed earlier are still accepted"
            } else {
                "none is confirmed"
            }
        ))
    }

    /// Emits a `Mirror` domain event when the state changed since the last one.
    async fn announce(&self) {
        let state = self.state().await;
        let key = match &state {
            MirrorState::Connected { waiting, .. } => MirrorState::Connected {
                waiting: *waiting,
                oldest_age_secs: None,
            },
            other => other.clone(),
        };
        {
            let mut last = self.announced.lock().unwrap_or_else(|e| e.into_inner());
            if last.as_ref() == Some(&key) {
                return;
            }
            *last = Some(key);
        }
        self.core
            .events
            .emit(reviewdesk_core::DomainEvent::Mirror { state });
    }

    fn set_error(&self, e: Option<&SyncError>) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = e.map(|e| e.to_string());
    }

    /// Reads a file of the workspace (path checked to stay inside it).
    async fn read_workspace_file(&self, rel: &std::path::Path) -> Result<Vec<u8>> {
        let path = self.core.workspace.resolve(rel)?;
        tokio::fs::read(&path)
            .await
            .map_err(|source| SyncError::Io {
                path: path.display().to_string(),
                source,
            })
    }

    async fn bot_id(&self) -> Result<UserId> {
        let mut bot = self.bot.lock().await;
        if let Some(b) = bot.as_ref() {
            return Ok(b.clone());
        }
        let me = self.client.me().await?;
        *bot = Some(me.id.clone());
        *self.upload_limit.lock().unwrap_or_else(|e| e.into_inner()) = me.max_file_upload_size;
        Ok(me.id)
    }

    async fn ctx(&self, channel: &ChannelId) -> Result<Option<ChannelCtx>> {
        let mut map = self.channels.lock().await;
        if let Some(c) = map.get(channel.as_str()) {
            return Ok(Some(c.clone()));
        }
        let Ok(cfg) = self.core.channel(channel) else {
            return Ok(None);
        };
        let (Some(tasks), Some(assets)) = (
            cfg.notion.tasks_database_id.clone(),
            cfg.notion.assets_database_id.clone(),
        ) else {
            return Ok(None);
        };
        let first = |list: Vec<reviewdesk_notion::DataSourceRef>, label: &str| {
            list.into_iter().next().map(|d| d.id).ok_or_else(|| {
                SyncError::Setup(format!(
                    "the {label} database has no data source: run `reviewdesk notion check`"
                ))
            })
        };
        let tasks_ds = first(
            self.client
                .data_source_ids(&DatabaseId::new(&tasks))
                .await?,
            "Tasks",
        )?;
        let assets_ds = first(
            self.client
                .data_source_ids(&DatabaseId::new(&assets))
                .await?,
            "Assets",
        )?;
        let mut clip_ds = Vec::new();
        for (id, label) in [
            (&cfg.notion.videos_database_id, "Videos"),
            (&cfg.notion.audio_database_id, "Audio"),
        ] {
            clip_ds.push(match id {
                Some(db) => Some(first(
                    self.client.data_source_ids(&DatabaseId::new(db)).await?,
                    label,
                )?),
                None => None,
            });
        }
        let audio_ds = clip_ds.pop().flatten();
        let videos_ds = clip_ds.pop().flatten();
        let schema = self.client.retrieve_data_source(&tasks_ds).await?;
        let status_shape = match schema
            .properties
            .get(tasks::STATUS)
            .and_then(|p| StatusShape::of_kind(&p.kind))
        {
            Some(shape) => shape,
            None => {
                return Err(SyncError::Setup(
                    "the Tasks database has no Status property of type select or status: run `reviewdesk notion check`".into(),
                ));
            }
        };
        let has_cost = schema
            .properties
            .get(tasks::COST)
            .is_some_and(|p| p.kind == "number");
        let r2 = match (&cfg.storage_strategy, &cfg.r2) {
            (StorageStrategy::R2, Some(s)) => Some(Arc::new(
                crate::r2::R2Uploader::load(s, &self.config.secrets).await?,
            )),
            (StorageStrategy::R2, None) => {
                return Err(SyncError::Setup(
                    "storage_strategy is r2 but the channel file has no r2 section".into(),
                ));
            }
            _ => None,
        };
        let ctx = ChannelCtx {
            r2,
            channel: cfg,
            tasks_ds,
            assets_ds,
            videos_ds,
            audio_ds,
            status_shape,
            has_cost,
        };
        map.insert(channel.as_str().to_string(), ctx.clone());
        Ok(Some(ctx))
    }

    async fn all_ctx(&self) -> Result<Vec<ChannelCtx>> {
        let mut out = Vec::new();
        for c in self.core.channels() {
            if let Some(ctx) = self.ctx(&c.channel_id).await? {
                out.push(ctx);
            }
        }
        Ok(out)
    }
}

/// A failure every task (or polled page) would meet (Notion down or slow, token revoked, local
/// database): the round stops instead of trying each task or page in turn.
fn affects_every_task(e: &SyncError) -> bool {
    match e {
        SyncError::Notion(n) => {
            n.is_transient() || n.kind() == reviewdesk_notion::ErrorKind::Unauthorized
        }
        SyncError::Db(_) | SyncError::Core(CoreError::Database(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_log_splits_long_text_and_keeps_the_newest_entries() {
        let mut log = String::new();
        for i in 0..400 {
            log.push_str(&format!(
                "[2026-01-01T00:00:00Z] Asset Error: entry {i} {}\n",
                "x".repeat(990)
            ));
        }
        log.push_str(&"y".repeat(4500));
        let PropertyValue::RichText(parts) = error_log_value(&log) else {
            panic!("rich text");
        };
        assert!(parts.len() <= 100, "{} objects", parts.len());
        assert!(
            parts
                .iter()
                .all(|p| p.content.encode_utf16().count() <= 2000)
        );
        let all: String = parts.iter().map(|p| p.content.as_str()).collect();
        assert!(
            all.ends_with(&"y".repeat(4500)),
            "the newest entry is kept whole"
        );
        assert!(all.contains("entry 399"));
        assert!(!all.contains("entry 0 "), "the oldest entries are dropped");
    }
}
