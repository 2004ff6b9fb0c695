//! The Notion mirror's intake from the event log, the one place outside this module's own
//! queries where `task_events` is read for another crate. The mirror's tables (`sync_cursor`,
//! `sync_outbox`, `sync_discarded`) come from the migrations here too, so the event log's shape
//! and the queries over it have one owner: the mirror (`reviewdesk-sync`) calls these functions
//! on the store's pool instead of writing SQL against `task_events`.

use sqlx::{AnyPool, Row};

use super::now_ms;
use crate::error::Result;

/// The cursor (a `sync_cursor` row) up to which the log has been taken into `sync_outbox`.
pub const OUT_CURSOR: &str = "out:task_events";
/// Ids at or below this were handled before the outbox existed (set once, at the first intake).
pub const OUT_FLOOR: &str = "out:floor";

/// A cursor's value inside a transaction (0 when never set).
async fn cursor_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, name: &str) -> Result<Option<i64>> {
    Ok(
        match sqlx::query("SELECT value FROM sync_cursor WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?
        {
            Some(r) => Some(r.try_get("value")?),
            None => None,
        },
    )
}

/// A transaction that holds the write lock from its first statement. On SQLite (WAL) a
/// transaction that reads first and writes later fails at once with "database is locked" when
/// another connection committed in between (the busy timeout does not apply to that), so the
/// lock is taken up front with a write that changes nothing.
async fn begin_write(pool: &AnyPool) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE sync_cursor SET updated_at = updated_at WHERE name = $1")
        .bind(OUT_CURSOR)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Takes the log's new events into the outbox (one transaction with the cursor, so a crash loses
/// nothing and takes nothing twice); returns how many were added.
///
/// `rescan` re-reads that many ids behind the cursor: on PostgreSQL an event whose transaction
/// commits after a later id was read would otherwise be skipped for good. Already known rows
/// (waiting, handled or discarded) are left alone, so the rescan never sends anything twice.
pub async fn intake(pool: &AnyPool, rescan: i64) -> Result<u64> {
    let mut tx = begin_write(pool).await?;
    let cursor = cursor_in(&mut tx, OUT_CURSOR).await?.unwrap_or(0);
    let floor = match cursor_in(&mut tx, OUT_FLOOR).await? {
        Some(floor) => floor,
        None => {
            // First intake: what the cursor passed before the outbox existed was handled.
            sqlx::query(
                "INSERT INTO sync_cursor (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(OUT_FLOOR)
            .bind(cursor)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            cursor
        }
    };
    let from = (cursor - rescan.max(0)).max(floor);
    let added = sqlx::query(
        "INSERT INTO sync_outbox (event_id, task_id, created_at, state, attempts, next_attempt_at) \
         SELECT e.id, e.task_id, e.created_at, 'pending', 0, 0 FROM task_events e WHERE e.id > $1 \
         AND NOT EXISTS (SELECT 1 FROM sync_outbox o WHERE o.event_id = e.id) \
         AND NOT EXISTS (SELECT 1 FROM sync_discarded d WHERE d.event_id = e.id) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(from)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let max: Option<i64> = sqlx::query("SELECT MAX(id) AS m FROM task_events WHERE id > $1")
        .bind(cursor)
        .fetch_one(&mut *tx)
        .await?
        .try_get("m")?;
    if let Some(max) = max {
        sqlx::query(
            "INSERT INTO sync_cursor (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(OUT_CURSOR)
        .bind(max)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    // Handled rows are needed only while the rescan can still reach them.
    sqlx::query("DELETE FROM sync_outbox WHERE state <> 'pending' AND event_id <= $1")
        .bind(max.unwrap_or(cursor) - rescan.max(0))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(added)
}

/// Events of the log not mirrored yet (waiting in the outbox, or not taken in yet), and the
/// creation time (epoch ms) of the oldest.
pub async fn waiting(pool: &AnyPool) -> Result<(i64, Option<i64>)> {
    let cursor: i64 = match sqlx::query("SELECT value FROM sync_cursor WHERE name = $1")
        .bind(OUT_CURSOR)
        .fetch_optional(pool)
        .await?
    {
        Some(r) => r.try_get("value")?,
        None => 0,
    };
    let fresh = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM task_events WHERE id > $1",
    )
    .bind(cursor)
    .fetch_one(pool)
    .await?;
    let queued = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM sync_outbox WHERE state = 'pending'",
    )
    .fetch_one(pool)
    .await?;
    let n = fresh.try_get::<i64, _>("n")? + queued.try_get::<i64, _>("n")?;
    let oldest = [
        fresh.try_get::<Option<i64>, _>("oldest")?,
        queued.try_get::<Option<i64>, _>("oldest")?,
    ]
    .into_iter()
    .flatten()
    .min();
    Ok((n, oldest))
}
