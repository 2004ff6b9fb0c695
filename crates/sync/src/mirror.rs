//! The mirror: out (event log → Notion) and in (Notion → review service).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use reviewdesk_core::api::MirrorState;
use reviewdesk_core::asset::AssetKind;
use reviewdesk_core::config::{ChannelConfig, StorageStrategy};
use reviewdesk_core::store::{AssetRecord, Reviewer, TaskEventRow, now_ms};
use reviewdesk_core::task::error_log_line;
use reviewdesk_core::workspace::Workspace;
use reviewdesk_core::{
    AssetName, ChannelId, Core, CoreError, NewTask, Priority, ReviewInput, ReviewService, Source,
    Status, StatusKind, Task, TaskId, TaskService,
};
use reviewdesk_notion::{
    DataSourceId, DatabaseId, DateValue, Direction, FileSource, FileValue, Filter, Idempotency,
    NewFileUpload, NewPage, NotionClient, Page, PageId, PageParent, PageUpdate, PropertyValue,
    Query, RichText, SINGLE_PART_MAX, Sort, Timestamp, UploadMode, UserId,
};
use reviewdesk_settings::SecretStore;
use tokio::sync::Mutex as AsyncMutex;

use crate::db::{DiscardedEvent, StuckEvent, SyncStore};
use crate::error::{Result, SyncError};

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
    /// `select` or `status`: the shape the Tasks Status property has.
    status_kind: String,
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
        let store = SyncStore::migrate(core.store.pool()).await?;
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
        let schema = self.client.retrieve_data_source(&tasks_ds).await?;
        let status_kind = match schema.properties.get("Status") {
            Some(p) if p.kind == "status" => "status".to_string(),
            Some(p) if p.kind == "select" => "select".to_string(),
            _ => {
                return Err(SyncError::Setup(
                    "the Tasks database has no Status property of type select or status: run `reviewdesk notion check`".into(),
                ));
            }
        };
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
            status_kind,
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

    fn status_value(ctx: &ChannelCtx, name: &str) -> PropertyValue {
        if ctx.status_kind == "status" {
            PropertyValue::status(name)
        } else {
            PropertyValue::select(name)
        }
    }

    // ------------------------------------------------------------------ out

    /// Takes the log's new events in, then mirrors every task's waiting events, each task in
    /// log order, now (tasks waiting out a backoff included); returns how many events were
    /// handled.
    ///
    /// Tasks are independent: up to 3 are mirrored at once (each one's events strictly in
    /// order), and when one of a task's events fails, it and the events behind it wait (retried
    /// with backoff, see [`Mirror::push_due`]) while other tasks go on. An event leaves the
    /// outbox only once fully handled, so nothing is lost in a crash, and find-or-create keeps a
    /// replay from duplicating pages. Returns a failure after the other tasks had their turn; a
    /// failure that every task would meet (Notion down, token revoked, rate limited) starts no
    /// further task and is the one returned.
    pub async fn push_once(&self) -> Result<usize> {
        self.push_round(true).await
    }

    /// What the out loop runs: like [`Mirror::push_once`], but a task whose oldest waiting event
    /// failed is left alone until its backoff (doubling from `backoff` to `max_backoff`) is over.
    pub async fn push_due(&self) -> Result<usize> {
        self.push_round(false).await
    }

    /// How many ids behind the cursor each intake re-reads (PostgreSQL transactions may commit
    /// out of id order; SQLite serialises writers, so nothing can appear behind the cursor).
    fn rescan(&self) -> i64 {
        match self.core.store.backend() {
            reviewdesk_core::store::Backend::Postgres => PG_RESCAN_IDS,
            reviewdesk_core::store::Backend::Sqlite => 0,
        }
    }

    async fn push_round(&self, force: bool) -> Result<usize> {
        let _guard = self.out_lock.lock().await;
        self.store.intake(self.rescan()).await?;
        let now = now_ms();
        let due: Vec<String> = self
            .store
            .heads()
            .await?
            .into_iter()
            .filter(|(_, _, due)| force || *due <= now)
            .map(|(task, _, _)| task)
            .collect();
        // Up to PUSH_TASKS tasks at once, each one's events strictly in order (one future per
        // task). After a failure every task would meet, no further task starts; the ones already
        // under way are never cancelled half-way (each stops at its own first failure).
        let stop = AtomicBool::new(false);
        let stop = &stop;
        let mut rounds = futures::stream::iter(due.into_iter().map(|task| async move {
            if stop.load(Ordering::Acquire) {
                return (0, Ok(()));
            }
            let (n, result) = self.push_task(&task).await;
            if result.as_ref().is_err_and(affects_every_task) {
                stop.store(true, Ordering::Release);
            }
            (n, result)
        }))
        .buffer_unordered(PUSH_TASKS);
        let mut handled = 0;
        let mut first: Option<SyncError> = None;
        while let Some((n, result)) = rounds.next().await {
            handled += n;
            if let Err(e) = result {
                // A failure every task meets is the one to report.
                match &first {
                    Some(f) if affects_every_task(f) || !affects_every_task(&e) => {}
                    _ => first = Some(e),
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(handled),
        }
    }

    /// Mirrors one task's waiting events in order, stopping at the first failure (recorded on
    /// that event with its next attempt time). Returns how many were handled.
    async fn push_task(&self, task: &str) -> (usize, Result<()>) {
        let mut handled = 0;
        loop {
            let pending = match self.store.pending_of(task).await {
                Ok(p) => p,
                Err(e) => return (handled, Err(e)),
            };
            let Some(&(head, _)) = pending.first() else {
                return (handled, Ok(()));
            };
            let attempts: HashMap<i64, i64> = pending.iter().copied().collect();
            let events: Vec<TaskEventRow> = match TaskId::from_str(task) {
                Ok(id) => match self.core.store.events_after(head - 1, Some(id), 200).await {
                    Ok(rows) => rows
                        .into_iter()
                        .filter(|e| attempts.contains_key(&e.id))
                        .collect(),
                    Err(e) => return (handled, Err(e.into())),
                },
                Err(_) => Vec::new(),
            };
            if events.is_empty() {
                // Not a task id this build knows: nothing to mirror.
                for (id, _) in &pending {
                    if let Err(e) = self.store.mark_done(*id).await {
                        return (handled, Err(e));
                    }
                }
                return (handled, Ok(()));
            }
            // A status push carries Status, Error Log and Retry Status: an event followed by a
            // later waiting status change of the same task needs only its side effects.
            let last_status = events
                .iter()
                .filter(|e| e.kind == "status_changed")
                .map(|e| e.id)
                .max();
            for ev in &events {
                let superseded = last_status.is_some_and(|id| id > ev.id);
                match self.handle_event(ev, superseded).await {
                    Ok(()) => {
                        if let Err(e) = self.store.mark_done(ev.id).await {
                            return (handled, Err(e));
                        }
                        handled += 1;
                    }
                    Err(e) => {
                        let n = attempts.get(&ev.id).copied().unwrap_or(0) + 1;
                        let next = now_ms() + self.backoff_ms(n);
                        tracing::warn!(
                            task_id = task,
                            event_id = ev.id,
                            attempts = n,
                            "Notion mirror: event {} ({}) of task {task} failed; it and the task's later events wait, other tasks go on: {e}",
                            ev.id,
                            ev.kind
                        );
                        if let Err(db) =
                            self.store.mark_failed(ev.id, n, next, &e.to_string()).await
                        {
                            tracing::warn!("Notion mirror: could not record the failure: {db}");
                        }
                        return (handled, Err(e));
                    }
                }
            }
        }
    }

    /// The wait before attempt `attempts + 1` of a failing event.
    fn backoff_ms(&self, attempts: i64) -> i64 {
        let base = self.config.backoff.as_millis().max(1) as i64;
        let max = self.config.max_backoff.as_millis().max(1) as i64;
        let shift = (attempts - 1).clamp(0, 30) as u32;
        base.saturating_mul(1i64 << shift).min(max)
    }

    /// The oldest waiting event of every task whose mirroring is failing.
    pub async fn stuck(&self) -> Result<Vec<StuckEvent>> {
        self.store.stuck().await
    }

    /// Drops a waiting event for good (for one that can never succeed, e.g. refused by Notion's
    /// validation), so the task's later events can go. Recorded in `sync_discarded`, in the
    /// task's Error Log (which reaches Notion with the next push) and in the log file.
    pub async fn discard(
        &self,
        event_id: i64,
        reason: &str,
        source: Source,
    ) -> Result<DiscardedEvent> {
        let _guard = self.out_lock.lock().await;
        let ev = self
            .core
            .store
            .events_after(event_id - 1, None, 1)
            .await?
            .into_iter()
            .find(|e| e.id == event_id);
        let kind = match &ev {
            Some(e) => match e.to_status.as_deref() {
                Some(to) => format!(
                    "{} to {}",
                    e.kind,
                    Status::from_str(to).map_or(to, |s| s.board_name())
                ),
                None => e.kind.clone(),
            },
            None => "unknown".into(),
        };
        let who = reviewdesk_core::review::local_reviewer()
            .name
            .map(|n| format!("{n} ({})", source.as_str()))
            .unwrap_or_else(|| source.as_str().to_string());
        let d = self
            .store
            .discard(event_id, &kind, reason, &who)
            .await?
            .ok_or(SyncError::NotWaiting { event_id })?;
        let line_text = format!(
            "Notion mirror: event {event_id} ({kind}) discarded by {who} after {} failed attempt(s): {reason}{}",
            d.attempts,
            d.last_error
                .as_deref()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        );
        tracing::warn!(task_id = %d.task_id, event_id, "{line_text}");
        if let Ok(task_id) = TaskId::from_str(&d.task_id) {
            match self.core.store.task(task_id).await {
                Ok(task) => {
                    let line = error_log_line(Utc::now(), task.status, &line_text);
                    self.core.store.append_log(task_id, &line, source).await?;
                }
                Err(CoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(d)
    }

    async fn handle_event(&self, ev: &TaskEventRow, superseded: bool) -> Result<()> {
        let Ok(task_id) = TaskId::from_str(&ev.task_id) else {
            return Ok(());
        };
        let task = match self.core.store.task(task_id).await {
            Ok(t) => t,
            Err(CoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Some(ctx) = self.ctx(&task.channel_id).await? else {
            return Ok(());
        };
        match ev.kind.as_str() {
            "created" => {
                self.ensure_task_page(&ctx, &task).await?;
            }
            "status_changed" => {
                let (Some(from), Some(to)) = (
                    ev.from_status
                        .as_deref()
                        .and_then(|s| Status::from_str(s).ok()),
                    ev.to_status
                        .as_deref()
                        .and_then(|s| Status::from_str(s).ok()),
                ) else {
                    return Ok(());
                };
                let page = self.ensure_task_page(&ctx, &task).await?;
                if to == Status::AssetsReady {
                    // Publish BEFORE the status, so no reviewer sees the status without images.
                    self.publish_assets(&ctx, &task, &page).await?;
                }
                if from == Status::AssetsReady && to == Status::AssetsApproved {
                    self.mark_rows(&task, None, "approved").await?;
                }
                if from == Status::AssetsReady && to == Status::AssetError {
                    let flagged = self.rejected_flags(&task).await?;
                    self.mark_rows(&task, Some(&flagged), "rejected").await?;
                }
                if !superseded {
                    self.push_status(&ctx, &task, &page, to, ev.created_at)
                        .await?;
                }
            }
            "log" | "retry_scheduled" if !superseded => {
                if let Some(page) = task.notion_page_id.as_deref() {
                    let update = PageUpdate {
                        properties: vec![
                            ("Error Log".into(), error_log_value(&task.error_log)),
                            (
                                "Retry Status".into(),
                                PropertyValue::text(&retry_status(
                                    &task,
                                    self.core.worker_settings.max_attempts,
                                )),
                            ),
                        ],
                        in_trash: None,
                    };
                    self.client
                        .update_page(&PageId::new(page), &update, Idempotency::Idempotent)
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn rejected_flags(&self, task: &Task) -> Result<Vec<String>> {
        let audit = self.core.store.audit(task.id).await?;
        Ok(audit
            .iter()
            .rev()
            .find(|a| a.decision == "reject")
            .map(|a| a.flagged.clone())
            .unwrap_or_default())
    }

    /// Sets the Status of the task's current asset rows (only `only` when given).
    async fn mark_rows(&self, task: &Task, only: Option<&[String]>, status: &str) -> Result<()> {
        let assets = self.core.store.assets(task.id).await?;
        for a in assets {
            if let Some(only) = only
                && !only.iter().any(|n| n == a.name.as_str())
            {
                continue;
            }
            let key = asset_key(task.id, &a.name, a.current_version);
            if let Some(Some(page)) = self.store.page(&key).await? {
                let update = PageUpdate {
                    properties: vec![("Status".into(), PropertyValue::select(status))],
                    in_trash: None,
                };
                self.client
                    .update_page(&PageId::new(page), &update, Idempotency::Idempotent)
                    .await?;
            }
        }
        Ok(())
    }

    async fn push_status(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
        status: Status,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let name = status.board_name();
        let update = PageUpdate {
            properties: vec![
                ("Status".into(), Self::status_value(ctx, name)),
                (
                    "Updated".into(),
                    PropertyValue::Date(Some(DateValue::datetime(at))),
                ),
                ("Error Log".into(), error_log_value(&task.error_log)),
                (
                    "Retry Status".into(),
                    PropertyValue::text(&retry_status(
                        task,
                        self.core.worker_settings.max_attempts,
                    )),
                ),
            ],
            in_trash: None,
        };
        self.client
            .update_page(page, &update, Idempotency::Idempotent)
            .await?;
        self.store.set_pushed(task.id, name).await?;
        Ok(())
    }

    /// The task's page: the recorded one, one found after a cut-off create, or a new one.
    async fn ensure_task_page(&self, ctx: &ChannelCtx, task: &Task) -> Result<PageId> {
        if let Some(p) = &task.notion_page_id {
            return Ok(PageId::new(p));
        }
        let key = format!("task:{}", task.id);
        match self.store.page(&key).await? {
            Some(Some(p)) => {
                self.core.store.set_notion_page(task.id, &p).await?;
                return Ok(PageId::new(p));
            }
            Some(None) => {
                // A create was sent but its answer never recorded: find it before creating again.
                let bot = self.bot_id().await?;
                let found = self
                    .client
                    .query_data_source(
                        &ctx.tasks_ds,
                        &Query {
                            filter: Some(Filter::title_equals("Title", &task.title)),
                            ..Query::default()
                        },
                    )
                    .await?;
                for p in found {
                    if p.created_by.id == bot
                        && self
                            .core
                            .store
                            .task_by_notion_page(p.id.as_str())
                            .await?
                            .is_none()
                    {
                        self.store
                            .set_page(&key, task.id, Some(p.id.as_str()))
                            .await?;
                        self.core
                            .store
                            .set_notion_page(task.id, p.id.as_str())
                            .await?;
                        return Ok(p.id);
                    }
                }
            }
            None => {}
        }
        self.store.set_page(&key, task.id, None).await?;
        let page = self
            .client
            .create_page(&NewPage {
                parent: PageParent::DataSource(ctx.tasks_ds.clone()),
                properties: vec![
                    ("Title".into(), PropertyValue::title(&task.title)),
                    ("Topic".into(), PropertyValue::text(&task.topic)),
                    (
                        "Story Direction".into(),
                        PropertyValue::text(&task.story_direction),
                    ),
                    (
                        "Channel".into(),
                        PropertyValue::select(task.channel_id.as_str()),
                    ),
                    (
                        "Priority".into(),
                        PropertyValue::select(priority_name(task.priority)),
                    ),
                    (
                        "Status".into(),
                        Self::status_value(ctx, task.status.board_name()),
                    ),
                    (
                        "Updated".into(),
                        PropertyValue::Date(Some(DateValue::datetime(task.status_changed_at))),
                    ),
                ],
                children: vec![],
            })
            .await?;
        self.store
            .set_page(&key, task.id, Some(page.id.as_str()))
            .await?;
        self.core
            .store
            .set_notion_page(task.id, page.id.as_str())
            .await?;
        self.store
            .set_pushed(task.id, task.status.board_name())
            .await?;
        Ok(page.id)
    }

    /// Publishes the current version of every asset: ≤ 1 lookup + 3 requests per asset (`notion`
    /// storage), 1 per asset (`none`).
    async fn publish_assets(&self, ctx: &ChannelCtx, task: &Task, page: &PageId) -> Result<()> {
        let assets = self.core.store.assets(task.id).await?;
        let known: HashMap<String, Option<String>> =
            self.store.pages(task.id).await?.into_iter().collect();
        let mut todo: Vec<(AssetRecord, String)> = assets
            .into_iter()
            .filter(|a| a.current_version > 0)
            .map(|a| {
                let k = asset_key(task.id, &a.name, a.current_version);
                (a, k)
            })
            .filter(|(_, k)| !matches!(known.get(k), Some(Some(_))))
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        // Find: one query for every row of this task (a replay after a crash creates nothing twice).
        let existing = self
            .client
            .query_data_source(
                &ctx.assets_ds,
                &Query {
                    filter: Some(Filter::property(
                        "Asset Key",
                        "rich_text",
                        "starts_with",
                        format!("{}/", task.id),
                    )),
                    page_size: Some(100),
                    ..Query::default()
                },
            )
            .await?;
        for p in &existing {
            if let Some(k) = p.get("Asset Key").and_then(PropertyValue::plain_text) {
                self.store
                    .set_page(&k, task.id, Some(p.id.as_str()))
                    .await?;
            }
        }
        let found: std::collections::HashSet<String> = existing
            .iter()
            .filter_map(|p| p.get("Asset Key").and_then(PropertyValue::plain_text))
            .collect();
        todo.retain(|(_, k)| !found.contains(k));
        for (asset, key) in todo {
            self.create_asset_row(ctx, task, page, &asset, &key).await?;
        }
        Ok(())
    }

    async fn create_asset_row(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        task_page: &PageId,
        asset: &AssetRecord,
        key: &str,
    ) -> Result<()> {
        let version = asset.current_version;
        let versions = self.core.store.asset_versions(task.id, &asset.name).await?;
        let generated = versions
            .iter()
            .find(|v| v.version == version)
            .map(|v| v.created_at)
            .unwrap_or_else(Utc::now);
        let filename = format!("{}.v{version}.png", asset.name);
        let mut notes: Option<String> = None;
        let rel = Workspace::asset_version_rel(
            &task.channel_id,
            task.id,
            asset.kind,
            &asset.name,
            version,
        );
        let file = match ctx.channel.storage_strategy {
            StorageStrategy::None => None,
            StorageStrategy::Notion => {
                let bytes = self.read_workspace_file(&rel).await?;
                // users/me is read once per mirror (with the bot id) and gives the upload limit.
                self.bot_id().await?;
                let limit = *self.upload_limit.lock().unwrap_or_else(|e| e.into_inner());
                let (bytes, filename, content_type) = match limit {
                    Some(limit) if bytes.len() as u64 > limit => {
                        let original = bytes.len();
                        let (jpeg, w, h) =
                            tokio::task::spawn_blocking(move || jpeg_rendition(&bytes, limit))
                                .await
                                .map_err(|e| {
                                    SyncError::Setup(format!("rendition thread failed: {e}"))
                                })??;
                        notes = Some(format!(
                            "The original PNG ({:.1} MB) is above this workspace's upload limit ({:.1} MB): this file is a JPEG rendition ({w}x{h}). The original is in the Review Desk workspace.",
                            original as f64 / 1_048_576.0,
                            limit as f64 / 1_048_576.0
                        ));
                        (jpeg, format!("{}.v{version}.jpg", asset.name), "image/jpeg")
                    }
                    _ => (bytes, filename.clone(), "image/png"),
                };
                let bytes = Bytes::from(bytes);
                let up = if bytes.len() <= SINGLE_PART_MAX {
                    let created = self
                        .client
                        .create_file_upload(
                            &NewFileUpload {
                                mode: UploadMode::SinglePart,
                                filename: Some(filename.clone()),
                                content_type: Some(content_type.into()),
                            },
                            Idempotency::Idempotent,
                        )
                        .await?;
                    self.client
                        .send_file_upload(
                            &created.id,
                            bytes,
                            &filename,
                            content_type,
                            None,
                            Idempotency::NotIdempotent,
                        )
                        .await?
                } else {
                    self.client
                        .upload_file(&filename, content_type, bytes)
                        .await?
                };
                Some(FileValue {
                    name: filename,
                    source: FileSource::Upload { id: up.id },
                })
            }
            StorageStrategy::R2 => {
                let bytes = self.read_workspace_file(&rel).await?;
                let project = Workspace::project_rel(&task.channel_id, task.id);
                let inner = rel.strip_prefix(&project).unwrap_or(&rel);
                let object = format!(
                    "{}/{}/{}",
                    task.channel_id,
                    task.id,
                    inner.to_string_lossy().replace('\\', "/")
                );
                let uploader = ctx
                    .r2
                    .as_ref()
                    .ok_or_else(|| SyncError::Setup("the r2 uploader is not configured".into()))?;
                let url = uploader
                    .put(&object, Bytes::from(bytes), "image/png")
                    .await?;
                Some(FileValue {
                    name: filename.clone(),
                    source: FileSource::External { url },
                })
            }
        };
        let mut properties = vec![
            (
                "Name".into(),
                PropertyValue::title(&format!("{} v{version}", asset.name)),
            ),
            ("Asset Key".into(), PropertyValue::text(key)),
            (
                "Asset Type".into(),
                PropertyValue::select(kind_name(asset.kind)),
            ),
            ("Status".into(), PropertyValue::select("generated")),
            (
                "Generated Date".into(),
                PropertyValue::Date(Some(DateValue::datetime(generated))),
            ),
            ("Task".into(), PropertyValue::relation([task_page.clone()])),
            (
                "Version".into(),
                PropertyValue::Number(Some(version as f64)),
            ),
        ];
        if let Some(f) = file {
            properties.push(("File".into(), PropertyValue::Files(vec![f])));
        }
        if let Some(n) = notes {
            properties.push(("Notes".into(), PropertyValue::text(&n)));
        }
        self.store.set_page(key, task.id, None).await?;
        let created = self
            .client
            .create_page(&NewPage {
                parent: PageParent::DataSource(ctx.assets_ds.clone()),
                properties,
                children: vec![],
            })
            .await?;
        self.store
            .set_page(key, task.id, Some(created.id.as_str()))
            .await?;
        Ok(())
    }

    // ------------------------------------------------------------------- in

    /// Polls every channel's Tasks data source from its cursor (minus a margin), to the end of
    /// the pagination, and acts on the creators' changes; returns how many pages were read.
    pub async fn pull_once(&self) -> Result<usize> {
        let mut n = 0;
        for ctx in self.all_ctx().await? {
            let name = format!("poll:{}", ctx.tasks_ds);
            let cursor = self.store.cursor(&name).await?;
            let filter = (cursor > 0).then(|| {
                Filter::last_edited_on_or_after(reviewdesk_core::store::ms_to_dt(
                    cursor - POLL_MARGIN_MS,
                ))
            });
            let pages = self
                .client
                .query_data_source(
                    &ctx.tasks_ds,
                    &Query {
                        filter,
                        sorts: vec![Sort::Timestamp(
                            Timestamp::LastEditedTime,
                            Direction::Ascending,
                        )],
                        page_size: Some(100),
                    },
                )
                .await?;
            let mut max = cursor;
            for page in &pages {
                // Only a failure every page would meet stops the poll (before the cursor moves,
                // so the next poll tries again); one page's refusal is recorded and passed over.
                self.apply_page(&ctx, page).await?;
                max = max.max(page.last_edited_time.timestamp_millis());
                n += 1;
            }
            if max > cursor {
                self.store.set_cursor(&name, max).await?;
            }
        }
        Ok(n)
    }

    /// Reads one page (a webhook doorbell) and runs it through the same path as polling.
    pub async fn pull_page(&self, page_id: &str) -> Result<()> {
        let page = self.client.retrieve_page(&PageId::new(page_id)).await?;
        let ds = match &page.parent {
            reviewdesk_notion::Parent::DataSource { data_source_id, .. } => data_source_id.clone(),
            _ => return Ok(()),
        };
        for ctx in self.all_ctx().await? {
            if ctx.tasks_ds == ds {
                return self.apply_page(&ctx, &page).await;
            }
        }
        Ok(())
    }

    /// Acts on one page. A failure that concerns this page only (a title too long, an inactive
    /// channel, a value Notion refuses…) is recorded on the page's Error Log and locally
    /// ([`SyncStore::refused_pages`]) and is not returned, so other pages, and later decisions,
    /// still go through. Failures every page would meet (Notion unreachable, token revoked,
    /// local database) are returned.
    async fn apply_page(&self, ctx: &ChannelCtx, page: &Page) -> Result<()> {
        let fingerprint = page_fingerprint(page);
        let known = self.store.refused_page(page.id.as_str()).await?;
        if known.as_ref().is_some_and(|r| r.fingerprint == fingerprint) {
            // The same change, read again within the poll margin: already refused and recorded.
            return Ok(());
        }
        match self.pull_page_in(ctx, page).await {
            Ok(()) => {
                // Our own Error Log write is an edit too: only a person's later edit clears it.
                if known.is_some() && page.last_edited_by.id != self.bot_id().await? {
                    self.store.clear_refused_page(page.id.as_str()).await?;
                }
                Ok(())
            }
            Err(e) if affects_every_task(&e) => Err(e),
            Err(e) => self.refuse_page(page, fingerprint, &e).await,
        }
    }

    /// Records why a page's change was not applied: appended to its Error Log in Notion (and to
    /// the local task's log when the page has one), and in `sync_refused_pages`.
    async fn refuse_page(&self, page: &Page, fingerprint: String, why: &SyncError) -> Result<()> {
        let notion_status = page
            .get("Status")
            .and_then(PropertyValue::plain_text)
            .unwrap_or_default();
        let title = page.title();
        let reason = why.to_string().replace(['\r', '\n'], " ");
        let text = format!(
            "Review Desk did not apply this change: {reason} — fix the page and set its Status again"
        );
        tracing::warn!(page_id = %page.id, "Notion page \"{title}\" not applied, the poll goes on: {reason}");
        let task = self
            .core
            .store
            .task_by_notion_page(page.id.as_str())
            .await?;
        let line = match &task {
            Some(t) => error_log_line(Utc::now(), t.status, &text),
            None => format!(
                "[{}] {}: {text}",
                Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                if notion_status.is_empty() {
                    "No status"
                } else {
                    notion_status.as_str()
                }
            ),
        };
        let log = page
            .get("Error Log")
            .and_then(PropertyValue::plain_text)
            .unwrap_or_default();
        let log = if log.trim().is_empty() {
            line.clone()
        } else {
            format!("{}\n{line}", log.trim_end())
        };
        // The whole new value is sent, so a repeat after a timeout writes the same text.
        let update = PageUpdate {
            properties: vec![("Error Log".into(), error_log_value(&log))],
            in_trash: None,
        };
        let error_log_written = match self
            .client
            .update_page(&page.id, &update, Idempotency::Idempotent)
            .await
        {
            Ok(_) => true,
            Err(e) => {
                let e = SyncError::from(e);
                if affects_every_task(&e) {
                    // Nothing recorded: the next poll reads the page again and retries.
                    return Err(e);
                }
                tracing::warn!(page_id = %page.id, "could not write the refusal to the page's Error Log: {e}");
                false
            }
        };
        if let Some(t) = &task {
            // The local log reaches the page's Error Log with the task's next status push too.
            self.core
                .store
                .append_log(t.id, &line, Source::Notion)
                .await?;
        }
        self.store
            .record_refused_page(&crate::db::RefusedPage {
                page_id: page.id.to_string(),
                title,
                notion_status,
                reason,
                error_log_written,
                fingerprint,
                refused_at: now_ms(),
            })
            .await
    }

    async fn pull_page_in(&self, ctx: &ChannelCtx, page: &Page) -> Result<()> {
        let Some(notion_status) = page.get("Status").and_then(PropertyValue::plain_text) else {
            return Ok(());
        };
        let bot = self.bot_id().await?;
        if page.last_edited_by.id == bot {
            return Ok(());
        }
        let edit = page.last_edited_time.to_rfc3339();
        let target = Status::from_board_name(&notion_status);
        let Some(task) = self
            .core
            .store
            .task_by_notion_page(page.id.as_str())
            .await?
        else {
            if target == Some(Status::Queued) {
                self.create_from_page(ctx, page).await?;
            }
            return Ok(());
        };
        if notion_status == task.status.board_name() {
            return Ok(());
        }
        let seen = self.store.outbox(task.id).await?;
        if seen.pushed_status.as_deref() == Some(notion_status.as_str())
            || (seen.handled_status.as_deref() == Some(notion_status.as_str())
                && seen.handled_edit.as_deref() == Some(edit.as_str()))
        {
            return Ok(());
        }
        let reviewer = self.reviewer(&page.last_edited_by).await;
        let input = ReviewInput::from(Source::Notion, reviewer);
        let review = ReviewService::new(self.core.clone());
        let refused = |why: String| Err(CoreError::invalid("status", why));
        let result = match target {
            Some(s) if s.kind() == StatusKind::Decision && task.status.can_transition_to(s) => {
                review.approve(task.id, input).await
            }
            Some(s)
                if s.kind() == StatusKind::Error
                    && task.status.is_gate()
                    && task.status.can_transition_to(s) =>
            {
                let log = page
                    .get("Error Log")
                    .and_then(PropertyValue::plain_text)
                    .unwrap_or_default();
                let feedback = newest_entry(&log);
                let flags = self.rejected_rows(ctx, &task, &page.id).await?;
                review
                    .reject(task.id, Some(flags), input.with_reason(feedback))
                    .await
            }
            Some(Status::Queued) if task.status == Status::Draft => {
                review.queue(task.id, Source::Notion).await
            }
            Some(Status::Queued) => review.retry(task.id, input).await,
            Some(Status::Cancelled) => review.cancel(task.id, input).await,
            Some(s) => refused(format!(
                "{} → {} is not a move the pipeline allows",
                task.status.board_name(),
                s.board_name()
            )),
            None => refused(format!("\"{notion_status}\" is not a Review Desk status")),
        };
        match result {
            Ok(_) => {
                self.store
                    .set_handled(task.id, &notion_status, &edit)
                    .await?;
            }
            Err(e) => {
                self.revert(ctx, &task, &page.id, &notion_status, &e.to_string())
                    .await?;
                self.store
                    .set_handled(task.id, &notion_status, &edit)
                    .await?;
            }
        }
        Ok(())
    }

    /// The person (or bot) behind a Notion edit: name and email from `GET /v1/users/{id}`, asked
    /// once per user. Without the integration's user-information capability (403) or the email
    /// capability, what Notion gives is kept (the id, and the name where known); a transient
    /// failure falls back the same way, without caching, so a later decision asks again.
    async fn reviewer(&self, who: &reviewdesk_notion::UserRef) -> Reviewer {
        if let Some(r) = self.reviewers.lock().await.get(&who.id) {
            return r.clone();
        }
        let fallback = Reviewer {
            id: Some(who.id.to_string()),
            name: who.name.clone(),
            email: None,
        };
        let (reviewer, keep) = match self.client.retrieve_user(&who.id).await {
            Ok(u) => {
                let bot = matches!(u.kind, reviewdesk_notion::UserKind::Bot { .. });
                let name = u.name.clone().or(fallback.name.clone());
                (
                    Reviewer {
                        id: Some(u.id.to_string()),
                        name: if bot {
                            name.map(|n| format!("{n} (Notion integration)"))
                        } else {
                            name
                        },
                        email: u.email().map(str::to_owned),
                    },
                    true,
                )
            }
            Err(e) => {
                let keep = !e.is_transient();
                if e.kind() == reviewdesk_notion::ErrorKind::Forbidden {
                    tracing::info!(
                        "Notion user {} not read: the integration lacks the user-information capability (integration settings → Capabilities); audit rows name the Notion user id only",
                        who.id
                    );
                } else {
                    tracing::warn!("Notion user {} could not be read: {e}", who.id);
                }
                (fallback, keep)
            }
        };
        if keep {
            self.reviewers
                .lock()
                .await
                .insert(who.id.clone(), reviewer.clone());
        }
        reviewer
    }

    /// Puts the true status back in Notion, with the reason in the Error Log.
    async fn revert(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
        attempted: &str,
        why: &str,
    ) -> Result<()> {
        let line = error_log_line(
            Utc::now(),
            task.status,
            &format!(
                "Notion change to \"{attempted}\" refused: {why}; Status set back to \"{}\"",
                task.status.board_name()
            ),
        );
        self.core
            .store
            .append_log(task.id, &line, Source::Notion)
            .await?;
        let task = self.core.store.task(task.id).await?;
        tracing::info!(task_id = %task.id, "reverted a Notion status change: {why}");
        self.push_status(ctx, &task, page, task.status, task.status_changed_at)
            .await
    }

    /// Asset names whose current-version row is marked "rejected" in Notion.
    async fn rejected_rows(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
    ) -> Result<Vec<AssetName>> {
        let rows = self
            .client
            .query_data_source(
                &ctx.assets_ds,
                &Query {
                    filter: Some(Filter::And(vec![
                        Filter::relation_contains("Task", page),
                        Filter::select_equals("Status", "rejected"),
                    ])),
                    page_size: Some(100),
                    ..Query::default()
                },
            )
            .await?;
        let assets = self.core.store.assets(task.id).await?;
        let mut out = Vec::new();
        for r in rows {
            let Some(key) = r.get("Asset Key").and_then(PropertyValue::plain_text) else {
                continue;
            };
            if let Some(a) = assets
                .iter()
                .find(|a| asset_key(task.id, &a.name, a.current_version) == key)
                && !out.contains(&a.name)
            {
                out.push(a.name.clone());
            }
        }
        Ok(out)
    }

    async fn create_from_page(&self, ctx: &ChannelCtx, page: &Page) -> Result<()> {
        let text = |n: &str| {
            page.get(n)
                .and_then(PropertyValue::plain_text)
                .unwrap_or_default()
        };
        let channel = text("Channel");
        let channel_id = self
            .core
            .channels()
            .into_iter()
            .find(|c| c.channel_id.as_str() == channel || c.channel_name == channel)
            .map(|c| c.channel_id)
            .unwrap_or_else(|| ctx.channel.channel_id.clone());
        let priority = Priority::parse(&text("Priority").to_lowercase()).ok();
        let title = page.title();
        let task = TaskService::new(self.core.clone())
            .create(
                NewTask {
                    channel_id: Some(channel_id.as_str().to_string()),
                    title: if title.trim().is_empty() {
                        "Untitled".into()
                    } else {
                        title
                    },
                    topic: text("Topic"),
                    story_direction: text("Story Direction"),
                    priority,
                    draft: false,
                    plan: None,
                    notion_page_id: Some(page.id.to_string()),
                },
                Source::Notion,
            )
            .await?;
        self.store
            .set_pushed(task.id, Status::Queued.board_name())
            .await?;
        Ok(())
    }

    // ----------------------------------------------------------------- loops

    /// Runs the out and in loops until the task is dropped; failures are kept for
    /// [`Mirror::state`] and retried with backoff (nothing is dropped).
    pub async fn run(self: Arc<Self>) {
        let out = {
            let me = self.clone();
            tokio::spawn(async move { me.out_loop().await })
        };
        let pull = {
            let me = self.clone();
            tokio::spawn(async move { me.pull_loop().await })
        };
        let _ = tokio::join!(out, pull);
    }

    async fn out_loop(&self) {
        let mut events = self.core.events.subscribe();
        let mut backoff = self.config.backoff;
        loop {
            match self.push_due().await {
                Err(e) if affects_every_task(&e) => {
                    tracing::warn!("Notion mirror (out): {e}");
                    self.set_error(Some(&e));
                    self.announce().await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
                // A failure of one task is recorded on its event (and shown by `state`); the
                // other tasks went on.
                _ => {
                    self.set_error(None);
                    self.announce().await;
                    backoff = self.config.backoff;
                    let mut wait = self.config.out_interval;
                    if let Ok(heads) = self.store.heads().await {
                        let now = now_ms();
                        if let Some(due) = heads.iter().map(|h| h.2).filter(|&d| d > now).min() {
                            wait = wait.min(Duration::from_millis((due - now) as u64));
                        }
                    }
                    tokio::select! {
                        _ = events.recv() => {}
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    async fn pull_loop(&self) {
        let mut backoff = self.config.backoff;
        loop {
            match self.pull_once().await {
                Ok(_) => {
                    backoff = self.config.backoff;
                    tokio::time::sleep(self.config.poll_interval).await;
                }
                Err(e) => {
                    tracing::warn!("Notion mirror (in): {e}");
                    self.set_error(Some(&e));
                    self.announce().await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
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

/// What the in side acts on in a page: who changed it when, and the properties it reads.
fn page_fingerprint(page: &Page) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(page.last_edited_time.to_rfc3339());
    h.update([0u8]);
    h.update(page.last_edited_by.id.as_str());
    for name in [
        "Status",
        "Title",
        "Topic",
        "Story Direction",
        "Channel",
        "Priority",
    ] {
        h.update([0u8]);
        h.update(name);
        h.update([1u8]);
        if name == "Title" {
            h.update(page.title());
        } else if let Some(v) = page.get(name).and_then(PropertyValue::plain_text) {
            h.update(v);
        }
    }
    hex::encode(h.finalize())
}

/// The newest entry of an Error Log: its last non-empty line.
fn newest_entry(log: &str) -> String {
    log.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::High => "High",
        Priority::Low => "Low",
        _ => "Normal",
    }
}

fn kind_name(k: AssetKind) -> &'static str {
    k.as_str()
}

/// A high-quality JPEG of a PNG that fits under `limit` bytes: quality 90 at full size, then
/// smaller sizes until it fits. Transparency is flattened onto white.
fn jpeg_rendition(png: &[u8], limit: u64) -> Result<(Vec<u8>, u32, u32)> {
    use image::ImageEncoder;
    let img = image::load_from_memory(png)
        .map_err(|e| {
            SyncError::Setup(format!(
                "cannot read the asset to make a smaller rendition: {e}"
            ))
        })?
        .to_rgba8();
    let mut rgb = image::RgbImage::new(img.width(), img.height());
    for (d, s) in rgb.pixels_mut().zip(img.pixels()) {
        let a = s.0[3] as u32;
        for c in 0..3 {
            d.0[c] = ((s.0[c] as u32 * a + 255 * (255 - a)) / 255) as u8;
        }
    }
    let mut scale = 1.0f64;
    loop {
        let (w, h) = (
            ((rgb.width() as f64) * scale).max(1.0) as u32,
            ((rgb.height() as f64) * scale).max(1.0) as u32,
        );
        let frame = if scale < 1.0 {
            image::imageops::resize(&rgb, w, h, image::imageops::FilterType::Triangle)
        } else {
            rgb.clone()
        };
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(frame.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .map_err(|e| SyncError::Setup(format!("cannot encode a JPEG rendition: {e}")))?;
        if out.len() as u64 <= limit || w <= 64 {
            return Ok((out, w, h));
        }
        scale *= 0.75;
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

    #[test]
    fn newest_entry_is_the_last_non_empty_line() {
        assert_eq!(newest_entry("[t] a\nmake it bluer\n\n"), "make it bluer");
    }
}
