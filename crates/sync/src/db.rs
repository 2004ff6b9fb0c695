//! The mirror's own tables, in the core's database (portable SQL: `$n`, BIGINT epoch ms).
//!
//! The core owns the schema: its migrations create these tables, and it owns the one query that
//! reads its event log for the mirror (the outbox intake, [`reviewdesk_core::store::outbox`]).

use reviewdesk_core::store::{now_ms, outbox};
use reviewdesk_core::{CoreError, TaskId};
// Table names in dynamic SQL come from the constant list below; values are always bound.
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::error::{Result, SyncError};

/// The mirror's tables, all created by the core's migrations (`migrations/*/…_sync_tables.sql`,
/// run by [`reviewdesk_core::Store::connect`]); [`SyncStore::open`] checks they are there.
const TABLES: &[&str] = &[
    "sync_cursor",
    "sync_pages",
    "sync_outbox_state",
    "sync_webhook_events",
    "sync_settings",
    "sync_outbox",
    "sync_refused_pages",
    "sync_discarded",
];

/// The cursor up to which the log has been taken into `sync_outbox` (the intake is the core's:
/// [`reviewdesk_core::store::outbox`]).
pub(crate) const OUT_CURSOR: &str = outbox::OUT_CURSOR;

/// The oldest waiting event of a task that failed at least once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckEvent {
    /// The event (`task_events.id`); the id `reviewdesk notion discard` takes.
    pub event_id: i64,
    /// Its task.
    pub task_id: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// When the next attempt is due (epoch ms).
    pub next_attempt_at: i64,
    /// The last failure, worded for the creator.
    pub last_error: Option<String>,
    /// Events of the task waiting behind it, itself included.
    pub waiting: i64,
}

/// A waiting event that was dropped on purpose (the audit trail of `discard`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscardedEvent {
    /// The event (`task_events.id`).
    pub event_id: i64,
    /// Its task.
    pub task_id: String,
    /// Its kind (`status_changed`, `log`, …).
    pub kind: String,
    /// Failed attempts before it was dropped.
    pub attempts: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// Why it was dropped.
    pub reason: String,
    /// Who dropped it.
    pub discarded_by: String,
    /// When (epoch ms).
    pub discarded_at: i64,
}

/// A Notion page whose change the mirror could not apply; the poll went on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedPage {
    /// The Notion page.
    pub page_id: String,
    /// Its title, to find it on the board.
    pub title: String,
    /// The Status it had in Notion.
    pub notion_status: String,
    /// Why it was not applied, worded for the creator.
    pub reason: String,
    /// Whether the reason was also appended to the page's Error Log in Notion.
    pub error_log_written: bool,
    /// What was refused (the page's edit and the properties the mirror reads).
    pub fingerprint: String,
    /// When (epoch ms).
    pub refused_at: i64,
}

/// What the mirror remembers of a task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxState {
    /// The Status (board name) last written to Notion by the mirror.
    pub pushed_status: Option<String>,
    /// The Notion Status last acted on.
    pub handled_status: Option<String>,
    /// The `last_edited_time` of the page when it was acted on.
    pub handled_edit: Option<String>,
}

/// The mirror's tables.
#[derive(Debug, Clone)]
pub struct SyncStore {
    pool: AnyPool,
}

impl SyncStore {
    /// The mirror's tables in the store's database (`Store::pool`). The core's migrations,
    /// run by `Store::connect`, create them; this only checks that they are there, so a database
    /// that was not opened through the core fails here, at start-up, rather than at the first
    /// write.
    pub async fn open(pool: &AnyPool) -> Result<SyncStore> {
        for table in TABLES {
            sqlx::query(AssertSqlSafe(format!("SELECT 1 FROM {table} WHERE 1 = 0")))
                .fetch_optional(pool)
                .await?;
        }
        Ok(SyncStore { pool: pool.clone() })
    }

    /// A cursor's value (0 when never set).
    pub async fn cursor(&self, name: &str) -> Result<i64> {
        let row = sqlx::query("SELECT value FROM sync_cursor WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>("value")?,
            None => 0,
        })
    }

    /// Stores a cursor.
    pub async fn set_cursor(&self, name: &str, value: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_cursor (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(value)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Known pages of a task: key → page id (`None` while a create is in flight or was cut off).
    pub async fn pages(&self, task: TaskId) -> Result<Vec<(String, Option<String>)>> {
        let rows = sqlx::query("SELECT asset_key, page_id FROM sync_pages WHERE task_id = $1")
            .bind(task.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("asset_key")?, r.try_get("page_id")?)))
            .collect()
    }

    /// The page recorded for a key.
    pub async fn page(&self, key: &str) -> Result<Option<Option<String>>> {
        let row = sqlx::query("SELECT page_id FROM sync_pages WHERE asset_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("page_id")?),
            None => None,
        })
    }

    /// Records a key's page (or, with `None`, the intent to create it before the request).
    pub async fn set_page(&self, key: &str, task: TaskId, page_id: Option<&str>) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_pages (asset_key, task_id, page_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (asset_key) DO UPDATE SET page_id = COALESCE(excluded.page_id, sync_pages.page_id)",
        )
        .bind(key)
        .bind(task.to_string())
        .bind(page_id.map(str::to_owned))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What the mirror remembers of a task.
    pub async fn outbox(&self, task: TaskId) -> Result<OutboxState> {
        let row = sqlx::query(
            "SELECT pushed_status, handled_status, handled_edit FROM sync_outbox_state WHERE task_id = $1",
        )
        .bind(task.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => OutboxState {
                pushed_status: r.try_get("pushed_status")?,
                handled_status: r.try_get("handled_status")?,
                handled_edit: r.try_get("handled_edit")?,
            },
            None => OutboxState::default(),
        })
    }

    /// Records the Status just written to Notion.
    pub async fn set_pushed(&self, task: TaskId, status: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_outbox_state (task_id, pushed_status, pushed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (task_id) DO UPDATE SET pushed_status = excluded.pushed_status, pushed_at = excluded.pushed_at",
        )
        .bind(task.to_string())
        .bind(status)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a Notion change as acted on.
    pub async fn set_handled(&self, task: TaskId, status: &str, edit: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_outbox_state (task_id, handled_status, handled_edit) VALUES ($1, $2, $3) \
             ON CONFLICT (task_id) DO UPDATE SET handled_status = excluded.handled_status, handled_edit = excluded.handled_edit",
        )
        .bind(task.to_string())
        .bind(status)
        .bind(edit)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a webhook event id; false when it was seen before.
    pub async fn first_delivery(&self, event_id: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO sync_webhook_events (event_id, received_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets webhook event ids received at or before `cutoff_ms` (Notion redelivers for a
    /// few hours at most, so old ids only take space); returns how many were removed.
    pub async fn prune_webhook_events(&self, cutoff_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sync_webhook_events WHERE received_at <= $1")
            .bind(cutoff_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The webhook event ids kept for deduplication, oldest first.
    pub async fn webhook_event_ids(&self) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT event_id FROM sync_webhook_events ORDER BY received_at, event_id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(r.try_get("event_id")?)).collect()
    }

    /// Records (or replaces) the refusal of a page's change.
    pub async fn record_refused_page(&self, r: &RefusedPage) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_refused_pages (page_id, title, notion_status, reason, error_log_written, fingerprint, refused_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (page_id) DO UPDATE SET title = excluded.title, \
             notion_status = excluded.notion_status, reason = excluded.reason, error_log_written = excluded.error_log_written, \
             fingerprint = excluded.fingerprint, refused_at = excluded.refused_at",
        )
        .bind(&r.page_id)
        .bind(&r.title)
        .bind(&r.notion_status)
        .bind(&r.reason)
        .bind(r.error_log_written as i64)
        .bind(&r.fingerprint)
        .bind(r.refused_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The recorded refusal of a page, if any.
    pub async fn refused_page(&self, page_id: &str) -> Result<Option<RefusedPage>> {
        let row = sqlx::query(
            "SELECT page_id, title, notion_status, reason, error_log_written, fingerprint, refused_at \
             FROM sync_refused_pages WHERE page_id = $1",
        )
        .bind(page_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(refused_row).transpose()
    }

    /// Every page whose change is refused, oldest first.
    pub async fn refused_pages(&self) -> Result<Vec<RefusedPage>> {
        let rows = sqlx::query(
            "SELECT page_id, title, notion_status, reason, error_log_written, fingerprint, refused_at \
             FROM sync_refused_pages ORDER BY refused_at, page_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(refused_row).collect()
    }

    /// Forgets a page's refusal (a later change of it was applied); true when one was recorded.
    pub async fn clear_refused_page(&self, page_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sync_refused_pages WHERE page_id = $1")
            .bind(page_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A setting.
    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM sync_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("value")?),
            None => None,
        })
    }

    /// Stores a setting.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a setting only if it has no value yet; true when it was stored (atomic, so of two
    /// racing writers exactly one wins).
    pub async fn set_setting_if_absent(&self, name: &str, value: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO sync_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a setting; true when it existed.
    pub async fn delete_setting(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sync_settings WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Events of the log not mirrored yet (waiting in the outbox, or not taken in yet), and the
    /// creation time (ms) of the oldest.
    pub async fn waiting(&self) -> Result<(i64, Option<i64>)> {
        outbox::waiting(&self.pool).await.map_err(db_error)
    }

    /// A transaction that holds the write lock from its first statement. On SQLite (WAL) a
    /// transaction that reads first and writes later fails at once with "database is locked"
    /// when another connection committed in between (the busy timeout does not apply to that),
    /// so the lock is taken up front with a write that changes nothing.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE sync_cursor SET updated_at = updated_at WHERE name = $1")
            .bind(OUT_CURSOR)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Takes the log's new events into the outbox (one transaction with the cursor, so a crash
    /// loses nothing and takes nothing twice); returns how many were added. `rescan` re-reads
    /// that many ids behind the cursor (see [`reviewdesk_core::store::outbox::intake`]).
    pub async fn intake(&self, rescan: i64) -> Result<u64> {
        outbox::intake(&self.pool, rescan).await.map_err(db_error)
    }

    /// The head (oldest waiting event) of every task with waiting events, oldest first, with
    /// when it is due (epoch ms; 0 when it never failed).
    pub async fn heads(&self) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT o.task_id, o.event_id, o.next_attempt_at FROM sync_outbox o WHERE o.state = 'pending' \
             AND o.event_id = (SELECT MIN(p.event_id) FROM sync_outbox p WHERE p.task_id = o.task_id AND p.state = 'pending') \
             ORDER BY o.event_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("task_id")?,
                    r.try_get("event_id")?,
                    r.try_get("next_attempt_at")?,
                ))
            })
            .collect()
    }

    /// The waiting events of a task, oldest first, with the failed attempts of each.
    pub async fn pending_of(&self, task: &str) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT event_id, attempts FROM sync_outbox WHERE task_id = $1 AND state = 'pending' ORDER BY event_id",
        )
        .bind(task)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("event_id")?, r.try_get("attempts")?)))
            .collect()
    }

    /// Marks a waiting event as handled.
    pub async fn mark_done(&self, event_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sync_outbox SET state = 'done', done_at = $2 WHERE event_id = $1 AND state = 'pending'",
        )
        .bind(event_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt at a waiting event and when to try again.
    pub async fn mark_failed(
        &self,
        event_id: i64,
        attempts: i64,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE sync_outbox SET attempts = $2, next_attempt_at = $3, last_error = $4 WHERE event_id = $1 AND state = 'pending'",
        )
        .bind(event_id)
        .bind(attempts)
        .bind(next_attempt_at)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The head of every task whose head failed at least once, oldest first.
    pub async fn stuck(&self) -> Result<Vec<StuckEvent>> {
        let rows = sqlx::query(
            "SELECT o.event_id, o.task_id, o.attempts, o.next_attempt_at, o.last_error, \
             (SELECT COUNT(*) FROM sync_outbox w WHERE w.task_id = o.task_id AND w.state = 'pending') AS waiting \
             FROM sync_outbox o WHERE o.state = 'pending' AND o.attempts > 0 \
             AND o.event_id = (SELECT MIN(p.event_id) FROM sync_outbox p WHERE p.task_id = o.task_id AND p.state = 'pending') \
             ORDER BY o.event_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StuckEvent {
                    event_id: r.try_get("event_id")?,
                    task_id: r.try_get("task_id")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    last_error: r.try_get("last_error")?,
                    waiting: r.try_get("waiting")?,
                })
            })
            .collect()
    }

    /// Drops a waiting event and records why (one transaction); `None` when the event is not
    /// waiting (already handled, discarded, or unknown).
    pub async fn discard(
        &self,
        event_id: i64,
        kind: &str,
        reason: &str,
        by: &str,
    ) -> Result<Option<DiscardedEvent>> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(
            "SELECT task_id, attempts, last_error FROM sync_outbox WHERE event_id = $1 AND state = 'pending'",
        )
        .bind(event_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let d = DiscardedEvent {
            event_id,
            task_id: row.try_get("task_id")?,
            kind: kind.to_string(),
            attempts: row.try_get("attempts")?,
            last_error: row.try_get("last_error")?,
            reason: reason.to_string(),
            discarded_by: by.to_string(),
            discarded_at: now_ms(),
        };
        sqlx::query("UPDATE sync_outbox SET state = 'discarded', done_at = $2 WHERE event_id = $1")
            .bind(event_id)
            .bind(d.discarded_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sync_discarded (event_id, task_id, kind, attempts, last_error, reason, discarded_by, discarded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(d.event_id)
        .bind(&d.task_id)
        .bind(&d.kind)
        .bind(d.attempts)
        .bind(d.last_error.clone())
        .bind(&d.reason)
        .bind(&d.discarded_by)
        .bind(d.discarded_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(d))
    }

    /// The audit trail of discarded events, oldest first.
    pub async fn discarded(&self) -> Result<Vec<DiscardedEvent>> {
        let rows = sqlx::query(
            "SELECT event_id, task_id, kind, attempts, last_error, reason, discarded_by, discarded_at \
             FROM sync_discarded ORDER BY discarded_at, event_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DiscardedEvent {
                    event_id: r.try_get("event_id")?,
                    task_id: r.try_get("task_id")?,
                    kind: r.try_get("kind")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    reason: r.try_get("reason")?,
                    discarded_by: r.try_get("discarded_by")?,
                    discarded_at: r.try_get("discarded_at")?,
                })
            })
            .collect()
    }
}

/// A database failure of the core's outbox queries is the mirror's database failure (transient,
/// retried), as it was when the mirror ran these queries itself.
fn db_error(e: CoreError) -> SyncError {
    match e {
        CoreError::Database(e) => SyncError::Db(e),
        e => SyncError::Core(e),
    }
}

fn refused_row(r: &sqlx::any::AnyRow) -> Result<RefusedPage> {
    Ok(RefusedPage {
        page_id: r.try_get("page_id")?,
        title: r.try_get("title")?,
        notion_status: r.try_get("notion_status")?,
        reason: r.try_get("reason")?,
        error_log_written: r.try_get::<i64, _>("error_log_written")? != 0,
        fingerprint: r.try_get("fingerprint")?,
        refused_at: r.try_get("refused_at")?,
    })
}
