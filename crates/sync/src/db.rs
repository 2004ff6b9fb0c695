//! The mirror's own tables, in the core's database (portable SQL: `$n`, BIGINT epoch ms).

use reviewdesk_core::TaskId;
use reviewdesk_core::store::now_ms;
use sqlx::{AnyPool, Row};

use crate::error::Result;

const MIGRATION: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sync_cursor (name TEXT PRIMARY KEY, value BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_pages (asset_key TEXT PRIMARY KEY, task_id TEXT NOT NULL, page_id TEXT, created_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sync_pages_task ON sync_pages (task_id)",
    "CREATE TABLE IF NOT EXISTS sync_outbox_state (task_id TEXT PRIMARY KEY, pushed_status TEXT, pushed_at BIGINT, handled_status TEXT, handled_edit TEXT)",
    "CREATE TABLE IF NOT EXISTS sync_webhook_events (event_id TEXT PRIMARY KEY, received_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
];

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
    /// Creates the tables if needed (idempotent) and returns the store.
    pub async fn migrate(pool: &AnyPool) -> Result<SyncStore> {
        for sql in MIGRATION {
            sqlx::query(*sql).execute(pool).await?;
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

    /// Events of the log not mirrored yet, and the creation time (ms) of the oldest.
    pub async fn waiting(&self, cursor: i64) -> Result<(i64, Option<i64>)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM task_events WHERE id > $1",
        )
        .bind(cursor)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("n")?, row.try_get("oldest")?))
    }
}
