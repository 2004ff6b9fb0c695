//! The append-only logs: `task_events` (every change, the mirror's and the feed's source) and
//! `review_audit` (every decision). Database triggers refuse updates and deletes of both.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
// Dynamic SQL here is assembled only from constants; values are always bound.
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::{Store, get, ms_to_dt, now_ms};
use crate::error::Result;
use crate::event::Source;
use crate::ids::TaskId;
use crate::status::Status;

/// A row of the append-only event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct TaskEventRow {
    /// Monotonic id (the mirror's cursor).
    pub id: i64,
    /// Task.
    pub task_id: String,
    /// Kind: created, status_changed, decision, flag, asset_version.
    pub kind: String,
    /// Previous status.
    pub from_status: Option<String>,
    /// New status.
    pub to_status: Option<String>,
    /// Origin.
    pub source: String,
    /// JSON details.
    pub payload: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Who made a decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Reviewer {
    /// Stable id (OS user, Notion user id).
    pub id: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Email, where known.
    pub email: Option<String>,
}

/// A row of the review audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct AuditRow {
    /// Monotonic id.
    pub id: i64,
    /// Task.
    pub task_id: String,
    /// Gate status at the time.
    pub gate: String,
    /// approve / reject / cancel / retry.
    pub decision: String,
    /// Status after the decision.
    pub resulting_status: String,
    /// Reviewer.
    pub reviewer: Reviewer,
    /// Origin.
    pub source: String,
    /// Feedback or note.
    pub reason: Option<String>,
    /// Flagged asset names.
    pub flagged: Vec<String>,
    /// Correlation id.
    pub correlation_id: String,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
}

pub(super) async fn insert_audit_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    row: &AuditRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO review_audit (task_id, gate, decision, resulting_status, reviewer_id, reviewer_name, reviewer_email, \
         source, reason, flagged, correlation_id, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(&row.task_id)
    .bind(&row.gate)
    .bind(&row.decision)
    .bind(&row.resulting_status)
    .bind(row.reviewer.id.clone())
    .bind(row.reviewer.name.clone())
    .bind(row.reviewer.email.clone())
    .bind(&row.source)
    .bind(row.reason.clone())
    .bind(serde_json::to_string(&row.flagged).unwrap_or_else(|_| "[]".into()))
    .bind(&row.correlation_id)
    .bind(row.created_at.timestamp_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: TaskId,
    kind: &str,
    from: Option<Status>,
    to: Option<Status>,
    source: Source,
    payload: serde_json::Value,
    correlation_id: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO task_events (task_id, kind, from_status, to_status, source, payload, correlation_id, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(id.to_string())
    .bind(kind)
    .bind(from.map(|s| s.as_str().to_string()))
    .bind(to.map(|s| s.as_str().to_string()))
    .bind(source.as_str())
    .bind(payload.to_string())
    .bind(correlation_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The newest entry of the event log (0 while it is empty): where a reader of only what comes
/// next starts, and, read first in a transaction, the last change that transaction reflects.
pub(super) async fn last_event_id_in<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
) -> Result<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM task_events")
        .fetch_one(e)
        .await?;
    get(&row, "m")
}

impl Store {
    /// The newest entry of the event log (0 while it is empty).
    pub async fn last_event_id(&self) -> Result<i64> {
        last_event_id_in(&self.pool).await
    }

    /// Appends an audit row (the table refuses updates and deletes).
    pub async fn insert_audit(&self, row: &AuditRow) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_audit_in(&mut tx, row).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The audit trail of a task, oldest first.
    pub async fn audit(&self, id: TaskId) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT id, task_id, gate, decision, resulting_status, reviewer_id, reviewer_name, reviewer_email, source, reason, \
             flagged, correlation_id, created_at FROM review_audit WHERE task_id = $1 ORDER BY id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }

    /// Every decision of a date range (`from` inclusive, `to` exclusive, either open) and,
    /// optionally, of one channel, oldest first, with the task's channel and title: the record
    /// of human review a channel exports.
    pub async fn audit_between(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        channel: Option<&str>,
    ) -> Result<Vec<(AuditRow, String, String)>> {
        let rows = sqlx::query(
            "SELECT a.id, a.task_id, a.gate, a.decision, a.resulting_status, a.reviewer_id, a.reviewer_name, \
             a.reviewer_email, a.source, a.reason, a.flagged, a.correlation_id, a.created_at, \
             t.channel_id, t.title FROM review_audit a JOIN tasks t ON t.id = a.task_id \
             WHERE a.created_at >= $1 AND a.created_at < $2 AND ($3 = '' OR t.channel_id = $3) \
             ORDER BY a.id",
        )
        .bind(from.map_or(i64::MIN, |d| d.timestamp_millis()))
        .bind(to.map_or(i64::MAX, |d| d.timestamp_millis()))
        .bind(channel.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((audit_from_row(r)?, get(r, "channel_id")?, get(r, "title")?)))
            .collect()
    }

    /// Each status the task has been in, from its creation and status-change events.
    pub async fn status_history(&self, id: TaskId) -> Result<Vec<crate::history::StatusSpan>> {
        let rows = sqlx::query(
            "SELECT to_status, source, created_at FROM task_events \
             WHERE task_id = $1 AND kind IN ('created', 'status_changed') AND to_status IS NOT NULL \
             ORDER BY id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in &rows {
            // A status this version does not know (written by a newer one) is left out.
            let Ok(status) = get::<String>(r, "to_status")?.parse::<Status>() else {
                continue;
            };
            entries.push(crate::history::Entered {
                status,
                at: ms_to_dt(get(r, "created_at")?),
                source: get(r, "source")?,
            });
        }
        Ok(crate::history::spans(entries))
    }

    /// Events after a cursor (all tasks when `task` is `None`), oldest first.
    pub async fn events_after(
        &self,
        after_id: i64,
        task: Option<TaskId>,
        limit: i64,
    ) -> Result<Vec<TaskEventRow>> {
        let mut sql = "SELECT id, task_id, kind, from_status, to_status, source, payload, created_at FROM task_events WHERE id > $1".to_string();
        if task.is_some() {
            sql.push_str(" AND task_id = $3");
        }
        sql.push_str(" ORDER BY id LIMIT $2");
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(after_id).bind(limit);
        if let Some(t) = task {
            q = q.bind(t.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(TaskEventRow {
                    id: get(r, "id")?,
                    task_id: get(r, "task_id")?,
                    kind: get(r, "kind")?,
                    from_status: get(r, "from_status")?,
                    to_status: get(r, "to_status")?,
                    source: get(r, "source")?,
                    payload: serde_json::from_str(&get::<String>(r, "payload")?)
                        .unwrap_or(serde_json::Value::Null),
                    created_at: ms_to_dt(get(r, "created_at")?),
                })
            })
            .collect()
    }
}

fn audit_from_row(r: &AnyRow) -> Result<AuditRow> {
    Ok(AuditRow {
        id: get(r, "id")?,
        task_id: get(r, "task_id")?,
        gate: get(r, "gate")?,
        decision: get(r, "decision")?,
        resulting_status: get(r, "resulting_status")?,
        reviewer: Reviewer {
            id: get(r, "reviewer_id")?,
            name: get(r, "reviewer_name")?,
            email: get(r, "reviewer_email")?,
        },
        source: get(r, "source")?,
        reason: get(r, "reason")?,
        flagged: serde_json::from_str(&get::<String>(r, "flagged")?).unwrap_or_default(),
        correlation_id: get(r, "correlation_id")?,
        created_at: ms_to_dt(get(r, "created_at")?),
    })
}
