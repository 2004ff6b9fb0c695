//! Tasks and their status transitions: each change commits with its event row, its audit row
//! and the decision's effects, or not at all.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
// Dynamic SQL here is assembled only from constants and enum names; values are always bound.
use sqlx::{AssertSqlSafe, Row};
use std::str::FromStr;

use super::assets::{set_flag_in, settle_sql};
use super::audit::{insert_audit_in, insert_event, last_event_id_in};
use super::checkpoints::reopen_step_in;
use super::{AuditRow, Lease, Store, get, ms_to_dt, now_ms, opt_ms};
use crate::config::ChannelConfig;
use crate::error::{CoreError, Result};
use crate::event::Source;
use crate::ids::{AssetName, ChannelId, TaskId};
use crate::status::{Status, Step};
use crate::task::{ErrorCategory, Priority, Task};

pub(super) const TASK_COLS: &str = "id, channel_id, title, topic, story_direction, priority, status, status_changed_at, \
    created_at, updated_at, notion_page_id, review_started_at, review_completed_at, error_log, attempts, \
    next_retry_at, error_category, correlation_id, plan_file, spent_micro";

/// Filters for listing tasks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
pub struct TaskFilter {
    /// Only these statuses.
    pub statuses: Vec<Status>,
    /// Only this channel.
    pub channel_id: Option<String>,
    /// At most this many (default 500).
    pub limit: Option<i64>,
    /// Only tasks whose title contains this text (letters A–Z in any case).
    #[serde(default)]
    pub title: Option<String>,
    /// Which end first.
    #[serde(default)]
    pub order: TaskOrder,
    /// With [`TaskOrder::Recent`]: only the tasks after this point of that order (the next page).
    #[serde(default)]
    pub before: Option<PageCursor>,
}

/// The order of a task list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum TaskOrder {
    /// Most urgent first: priority, then the oldest.
    #[default]
    Urgent,
    /// The latest status change first (how a finished column reads), pageable with a
    /// [`PageCursor`].
    Recent,
}

/// Where a newest-first list stopped: the last task's status time and id. Keyset paging: a page
/// never repeats or skips a task when others are added meanwhile, and costs one index range scan
/// however deep it goes. Written `<epoch ms>_<task id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    /// Status time of the last task shown, in epoch milliseconds.
    pub changed_ms: i64,
    /// Its id (ties on the same millisecond).
    pub id: TaskId,
}

impl PageCursor {
    /// The cursor after `task`.
    pub fn after(task: &Task) -> Self {
        PageCursor {
            changed_ms: task.status_changed_at.timestamp_millis(),
            id: task.id,
        }
    }
}

impl std::fmt::Display for PageCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.changed_ms, self.id)
    }
}

impl FromStr for PageCursor {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || CoreError::invalid("before", "not a page cursor (take it from the last page)");
        let (ms, id) = s.split_once('_').ok_or_else(bad)?;
        Ok(PageCursor {
            changed_ms: ms.parse().map_err(|_| bad())?,
            id: TaskId::from_str(id).map_err(|_| bad())?,
        })
    }
}

impl Serialize for PageCursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PageCursor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl ts_rs::TS for PageCursor {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name(_: &ts_rs::Config) -> String {
        "string".into()
    }
    fn inline(_: &ts_rs::Config) -> String {
        "string".into()
    }
    fn decl(_: &ts_rs::Config) -> String {
        String::new()
    }
    fn decl_concrete(_: &ts_rs::Config) -> String {
        String::new()
    }
}

/// How many tasks of a channel are in a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct StatusCount {
    /// Status.
    pub status: Status,
    /// Channel.
    pub channel_id: ChannelId,
    /// Tasks.
    #[ts(type = "number")]
    pub n: i64,
}

/// What the board shows of a desk that may hold years of work: every task still in the pipeline,
/// the latest ones of each finished status, and exact counts of everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct BoardTasks {
    /// Every task not yet published or cancelled (most urgent first), then the latest of each
    /// finished status (newest first).
    pub tasks: Vec<Task>,
    /// Exact counts per status and channel (of the tasks matching the title search, if any).
    pub counts: Vec<StatusCount>,
    /// Per finished status with more tasks than shown: where its next page starts.
    pub more: Vec<MoreTasks>,
    /// The last entry of the event log this read reflects (0: none yet). A window whose event
    /// stream began at or before it has missed nothing and need not read the board again.
    pub events_through: i64,
}

/// A finished column's next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct MoreTasks {
    /// Status.
    pub status: Status,
    /// Pass as `before` with [`TaskOrder::Recent`].
    pub before: PageCursor,
}

/// `LOWER(title) LIKE` pattern for a title search: the text lower-cased, its wildcards escaped;
/// none for no text (no search).
fn title_pattern(text: Option<&str>) -> Option<String> {
    let text = text.filter(|t| !t.trim().is_empty())?;
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    // NUL never occurs in a title, and PostgreSQL refuses it in text.
    for c in text.trim().to_lowercase().chars().filter(|c| *c != '\0') {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    Some(p)
}

/// The SQL condition of a title search, bound as parameter `$n`. SQLite's LOWER changes only
/// A–Z, so only those letters match in any case on both backends.
fn title_condition(n: usize) -> String {
    format!(" AND LOWER(title) LIKE ${n} ESCAPE '\\'")
}

/// A status change with the extras that must commit with it.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    /// The status the caller saw; the change fails with a conflict if it moved meanwhile.
    pub from: Status,
    /// New status.
    pub to: Status,
    /// Origin.
    pub source: Source,
    /// Line to append to error_log (already formatted).
    pub log_line: Option<String>,
    /// Only if this claim still holds the task (a worker's writes; fails with a conflict once
    /// the task was cancelled, released or claimed again).
    pub lease: Option<&'a Lease>,
    /// Release the lease in the same write.
    pub release_lease: bool,
    /// Reset attempts / retry time / category.
    pub clear_retry: bool,
    /// Extra JSON for the event row.
    pub payload: serde_json::Value,
    /// Writes that belong to the decision and commit (or roll back) with it, in this order.
    pub effects: Vec<Effect>,
}

/// A write that commits in the same transaction as a decision's status change, so a decision is
/// never half applied (a rejected task whose step is still complete would skip regeneration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Exactly these assets are flagged afterwards (the others unflagged; notes kept), with a
    /// `flag` event for each change.
    SetFlags(Vec<AssetName>),
    /// Flagged assets become `rejected` (`approved: false`), or every drawn asset `approved`.
    SettleAssets {
        /// Approve rather than reject.
        approved: bool,
    },
    /// The step (and every later one) runs again: only `items` of it, or all when `None`.
    ReopenStep {
        /// Step.
        step: Step,
        /// Items to redo.
        items: Option<Vec<String>>,
    },
}

impl<'a> Transition<'a> {
    /// A plain change.
    pub fn new(from: Status, to: Status, source: Source) -> Self {
        Transition {
            from,
            to,
            source,
            log_line: None,
            lease: None,
            release_lease: false,
            clear_retry: false,
            payload: serde_json::json!({}),
            effects: Vec::new(),
        }
    }
}

/// One status change of a batch, with the audit row that must commit with it.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// Task.
    pub id: TaskId,
    /// The move.
    pub transition: Transition<'a>,
    /// The decision's audit row.
    pub audit: Option<AuditRow>,
}

/// Inserts a task and its `created` event inside a transaction.
pub(super) async fn insert_task_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    task: &Task,
    plan: Option<&str>,
    source: Source,
) -> Result<()> {
    let res = sqlx::query(
        "INSERT INTO tasks (id, channel_id, title, topic, story_direction, priority, priority_rank, status, \
         status_changed_at, created_at, updated_at, notion_page_id, error_log, correlation_id, plan_file, plan) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$9,$9,$10,'',$11,$12,$13)",
    )
    .bind(task.id.to_string())
    .bind(task.channel_id.as_str())
    .bind(&task.title)
    .bind(&task.topic)
    .bind(&task.story_direction)
    .bind(task.priority.as_str())
    .bind(task.priority.rank())
    .bind(task.status.as_str())
    .bind(task.created_at.timestamp_millis())
    .bind(task.notion_page_id.clone())
    .bind(&task.correlation_id)
    .bind(task.plan_file.clone())
    .bind(plan)
    .execute(&mut **tx)
    .await;
    if let Err(sqlx::Error::Database(e)) = &res
        && e.is_unique_violation()
    {
        return Err(CoreError::invalid(
            "notion_page_id",
            "another task already mirrors this Notion page",
        ));
    }
    res?;
    insert_event(
        tx,
        task.id,
        "created",
        None,
        Some(task.status),
        source,
        serde_json::json!({"title": task.title}),
        &task.correlation_id,
    )
    .await?;
    Ok(())
}

/// A SQL list of status names. They come from the enum, never from input text.
fn status_list(statuses: &[Status]) -> String {
    statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The board's unfinished tasks, most urgent first. The statuses are named (not "not finished"),
/// so the read goes through the status index without visiting years of finished tasks' rows.
fn unfinished_sql(unfinished: &[Status], cond: &str) -> String {
    format!(
        "SELECT {TASK_COLS} FROM tasks WHERE status IN ({}){cond} ORDER BY priority_rank, created_at",
        status_list(unfinished)
    )
}

/// The board's exact counts per status and channel; without a title filter they come from the
/// `tasks_by_status_channel` index alone.
fn counts_sql(cond: &str) -> String {
    format!(
        "SELECT status, channel_id, COUNT(*) AS n FROM tasks WHERE 1=1{cond} GROUP BY status, channel_id"
    )
}

pub(super) fn task_from_row(row: &AnyRow) -> Result<Task> {
    let id: String = get(row, "id")?;
    let status: String = get(row, "status")?;
    Ok(Task {
        id: TaskId::from_str(&id)?,
        channel_id: ChannelId::parse(get::<String>(row, "channel_id")?)?,
        title: get(row, "title")?,
        topic: get(row, "topic")?,
        story_direction: get(row, "story_direction")?,
        priority: Priority::parse(&get::<String>(row, "priority")?)?,
        status: Status::from_str(&status)?,
        status_changed_at: ms_to_dt(get(row, "status_changed_at")?),
        created_at: ms_to_dt(get(row, "created_at")?),
        updated_at: ms_to_dt(get(row, "updated_at")?),
        notion_page_id: get(row, "notion_page_id")?,
        review_started_at: opt_ms(row, "review_started_at")?,
        review_completed_at: opt_ms(row, "review_completed_at")?,
        error_log: get(row, "error_log")?,
        attempts: get::<i64>(row, "attempts")? as u32,
        next_retry_at: opt_ms(row, "next_retry_at")?,
        error_category: get::<Option<String>>(row, "error_category")?
            .and_then(|c| ErrorCategory::parse(&c)),
        correlation_id: get(row, "correlation_id")?,
        plan_file: get(row, "plan_file")?,
        spent_usd: crate::costs::Usd(get(row, "spent_micro")?).dollars(),
    })
}

impl Store {
    /// Records channel limits used by claims.
    pub async fn sync_channels(&self, channels: &[ChannelConfig]) -> Result<()> {
        for c in channels {
            sqlx::query(
                "INSERT INTO channels (channel_id, max_concurrent, is_active) VALUES ($1, $2, $3) \
                 ON CONFLICT (channel_id) DO UPDATE SET max_concurrent = excluded.max_concurrent, is_active = excluded.is_active",
            )
            .bind(c.channel_id.as_str())
            .bind(c.max_concurrent as i64)
            .bind(c.is_active as i64)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Inserts a task and its `created` event in one transaction.
    pub async fn insert_task(&self, task: &Task, source: Source) -> Result<()> {
        self.insert_task_with_plan(task, None, source).await
    }

    /// [`Store::insert_task`] with the text of a custom asset plan.
    pub async fn insert_task_with_plan(
        &self,
        task: &Task,
        plan: Option<&str>,
        source: Source,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_task_in(&mut tx, task, plan, source).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One task.
    pub async fn task(&self, id: TaskId) -> Result<Task> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TASK_COLS} FROM tasks WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| CoreError::NotFound {
            what: "task",
            id: id.to_string(),
        })?;
        task_from_row(&row)
    }

    /// The text of a task's custom asset plan, if it was given one.
    pub async fn task_plan(&self, id: TaskId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT plan FROM tasks WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CoreError::NotFound {
                what: "task",
                id: id.to_string(),
            })?;
        Ok(row.try_get::<Option<String>, _>("plan")?)
    }

    /// The task mirroring a Notion page.
    pub async fn task_by_notion_page(&self, page_id: &str) -> Result<Option<Task>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TASK_COLS} FROM tasks WHERE notion_page_id = $1"
        )))
        .bind(page_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Links a task to its Notion page.
    pub async fn set_notion_page(&self, id: TaskId, page_id: &str) -> Result<()> {
        sqlx::query("UPDATE tasks SET notion_page_id = $1 WHERE id = $2")
            .bind(page_id)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Tasks matching a filter, most urgent first (or newest first, page by page).
    pub async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        let mut sql = format!("SELECT {TASK_COLS} FROM tasks WHERE 1=1");
        let mut n = 0;
        if !filter.statuses.is_empty() {
            sql.push_str(&format!(
                " AND status IN ({})",
                status_list(&filter.statuses)
            ));
        }
        if filter.channel_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND channel_id = ${n}"));
        }
        let pattern = title_pattern(filter.title.as_deref());
        if pattern.is_some() {
            n += 1;
            sql.push_str(&title_condition(n));
        }
        let before = filter.before.filter(|_| filter.order == TaskOrder::Recent);
        if before.is_some() {
            sql.push_str(&format!(
                " AND (status_changed_at < ${} OR (status_changed_at = ${} AND id < ${}))",
                n + 1,
                n + 1,
                n + 2
            ));
        }
        sql.push_str(match filter.order {
            TaskOrder::Urgent => " ORDER BY priority_rank, created_at",
            TaskOrder::Recent => " ORDER BY status_changed_at DESC, id DESC",
        });
        sql.push_str(&format!(
            " LIMIT {}",
            filter.limit.unwrap_or(500).clamp(1, 10_000)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some(c) = &filter.channel_id {
            q = q.bind(c.clone());
        }
        if let Some(p) = pattern {
            q = q.bind(p);
        }
        if let Some(b) = before {
            q = q.bind(b.changed_ms).bind(b.id.to_string());
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(task_from_row)
            .collect()
    }

    /// The board: every task still in the pipeline, the `latest` most recent of each finished
    /// status, and exact counts per status and channel; all of it limited to titles containing
    /// `title` when given. Read in one transaction, so the counts agree with the tasks.
    pub async fn board_tasks(&self, title: Option<&str>, latest: i64) -> Result<BoardTasks> {
        let pattern = title_pattern(title);
        let cond = if pattern.is_some() {
            title_condition(1)
        } else {
            String::new()
        };
        let (finished, unfinished): (Vec<Status>, Vec<Status>) =
            Status::ALL.iter().partition(|s| s.is_terminal());
        let latest = latest.clamp(1, 1000);
        let mut tx = self.pool.begin().await?;
        // First in the transaction: every logged change up to here is in what follows.
        let events_through = last_event_id_in(&mut *tx).await?;

        let bind = |sql: String| {
            let q = sqlx::query(AssertSqlSafe(sql));
            match &pattern {
                Some(p) => q.bind(p.clone()),
                None => q,
            }
        };
        let mut tasks = bind(unfinished_sql(&unfinished, &cond))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(task_from_row)
            .collect::<Result<Vec<_>>>()?;
        let mut more = Vec::new();
        for status in finished {
            // One more than shown tells whether a next page exists.
            let rows = bind(format!(
                "SELECT {TASK_COLS} FROM tasks WHERE status = '{}'{cond} \
                 ORDER BY status_changed_at DESC, id DESC LIMIT {}",
                status.as_str(),
                latest + 1
            ))
            .fetch_all(&mut *tx)
            .await?;
            let mut page = rows.iter().map(task_from_row).collect::<Result<Vec<_>>>()?;
            if page.len() as i64 > latest {
                page.truncate(latest as usize);
                if let Some(last) = page.last() {
                    more.push(MoreTasks {
                        status,
                        before: PageCursor::after(last),
                    });
                }
            }
            tasks.extend(page);
        }
        let counts = bind(counts_sql(&cond))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| {
                Ok(StatusCount {
                    status: Status::from_str(&get::<String>(row, "status")?)?,
                    channel_id: ChannelId::parse(get::<String>(row, "channel_id")?)?,
                    n: get(row, "n")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(BoardTasks {
            tasks,
            counts,
            more,
            events_through,
        })
    }

    /// Changes a task's status with its event row in one short transaction.
    /// Fails with [`CoreError::Conflict`] when the status moved meanwhile or the lease was lost.
    pub async fn transition(&self, id: TaskId, t: &Transition<'_>) -> Result<Task> {
        let mut tasks = self
            .apply(&[Change {
                id,
                transition: t.clone(),
                audit: None,
            }])
            .await?;
        Ok(tasks.remove(0))
    }

    /// Applies several status changes (each with its event row and optional audit row) in ONE
    /// transaction: all or nothing.
    pub async fn apply(&self, changes: &[Change<'_>]) -> Result<Vec<Task>> {
        for c in changes {
            c.transition.from.check_transition(c.transition.to)?;
        }
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            match self.transition_in(&mut tx, c.id, &c.transition).await? {
                Some(task) => {
                    if let Some(audit) = &c.audit {
                        insert_audit_in(&mut tx, audit).await?;
                    }
                    for effect in &c.transition.effects {
                        self.effect_in(&mut tx, c.id, effect, c.transition.source)
                            .await?;
                    }
                    out.push(task);
                }
                None => {
                    tx.rollback().await?;
                    // Distinguish "no such task", "no longer allowed" and "someone else was first".
                    let current = self.task(c.id).await?;
                    if current.status != c.transition.from
                        && !current.status.can_transition_to(c.transition.to)
                    {
                        return Err(CoreError::RefusedTransition {
                            from: current.status,
                            to: c.transition.to,
                        });
                    }
                    return Err(CoreError::Conflict(c.id.to_string()));
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(super) async fn transition_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: TaskId,
        t: &Transition<'_>,
    ) -> Result<Option<Task>> {
        let now = now_ms();
        let entering_gate = t.to.is_gate();
        let leaving_gate = t.from.is_gate();
        let sql = format!(
            "UPDATE tasks SET status = $1, status_changed_at = $2, updated_at = $2, \
             error_log = CASE WHEN $3 = '' THEN error_log WHEN error_log = '' THEN $3 ELSE error_log || {nl} || $3 END, \
             review_started_at = CASE WHEN $4 = 1 THEN $2 ELSE review_started_at END, \
             review_completed_at = CASE WHEN $4 = 1 THEN NULL WHEN $5 = 1 THEN $2 ELSE review_completed_at END, \
             lease_owner = CASE WHEN $6 = 1 THEN NULL ELSE lease_owner END, \
             lease_token = CASE WHEN $6 = 1 THEN NULL ELSE lease_token END, \
             lease_expires_at = CASE WHEN $6 = 1 THEN NULL ELSE lease_expires_at END, \
             attempts = CASE WHEN $7 = 1 THEN 0 ELSE attempts END, \
             next_retry_at = CASE WHEN $7 = 1 THEN NULL ELSE next_retry_at END, \
             error_category = CASE WHEN $7 = 1 THEN NULL ELSE error_category END \
             WHERE id = $8 AND status = $9 {} RETURNING {TASK_COLS}",
            if t.lease.is_some() {
                "AND lease_token = $10 AND lease_owner IS NOT NULL"
            } else {
                ""
            },
            nl = self.newline()
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(t.to.as_str())
            .bind(now)
            .bind(t.log_line.clone().unwrap_or_default())
            .bind(entering_gate as i64)
            .bind(leaving_gate as i64)
            .bind(t.release_lease as i64)
            .bind(t.clear_retry as i64)
            .bind(id.to_string())
            .bind(t.from.as_str());
        if let Some(lease) = t.lease {
            q = q.bind(lease.token.clone());
        }
        let Some(row) = q.fetch_optional(&mut **tx).await? else {
            return Ok(None);
        };
        let task = task_from_row(&row)?;
        let mut payload = t.payload.clone();
        if let Some(line) = &t.log_line
            && let Some(obj) = payload.as_object_mut()
        {
            obj.insert("log_line".into(), serde_json::Value::String(line.clone()));
        }
        insert_event(
            tx,
            id,
            "status_changed",
            Some(t.from),
            Some(t.to),
            t.source,
            payload,
            &task.correlation_id,
        )
        .await?;
        Ok(Some(task))
    }

    /// Appends a line to error_log without changing the status (with an event row).
    pub async fn append_log(&self, id: TaskId, line: &str, source: Source) -> Result<()> {
        let sql = format!(
            "UPDATE tasks SET error_log = CASE WHEN error_log = '' THEN $1 ELSE error_log || {nl} || $1 END, updated_at = $2 WHERE id = $3 RETURNING correlation_id",
            nl = self.newline()
        );
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(line)
            .bind(now_ms())
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| CoreError::NotFound {
                what: "task",
                id: id.to_string(),
            })?;
        let corr: String = get(&row, "correlation_id")?;
        insert_event(
            &mut tx,
            id,
            "log",
            None,
            None,
            source,
            serde_json::json!({"log_line": line}),
            &corr,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs one decision effect inside the decision's transaction.
    async fn effect_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: TaskId,
        effect: &Effect,
        source: Source,
    ) -> Result<()> {
        match effect {
            Effect::SetFlags(names) => {
                let rows = sqlx::query(
                    "SELECT name, flagged, flag_note FROM assets WHERE task_id = $1 ORDER BY position",
                )
                .bind(id.to_string())
                .fetch_all(&mut **tx)
                .await?;
                for r in rows {
                    let name: String = r.try_get("name")?;
                    let was = r.try_get::<i64, _>("flagged")? != 0;
                    let note: Option<String> = r.try_get("flag_note")?;
                    let on = names.iter().any(|n| n.as_str() == name);
                    if on != was {
                        let name = AssetName::parse(name)?;
                        set_flag_in(tx, id, &name, on, note.as_deref(), source).await?;
                    }
                }
            }
            Effect::SettleAssets { approved } => {
                sqlx::query(settle_sql(*approved))
                    .bind(id.to_string())
                    .execute(&mut **tx)
                    .await?;
            }
            Effect::ReopenStep { step, items } => {
                reopen_step_in(tx, id, *step, items.as_deref()).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan for `sql`, one line per step.
    async fn plan(store: &Store, sql: &str) -> String {
        sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|row| get::<String>(row, "detail").unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn the_board_reads_through_indexes_without_visiting_finished_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let store = Store::connect(&url).await.unwrap();
        let (_, unfinished): (Vec<Status>, Vec<Status>) =
            Status::ALL.iter().partition(|s| s.is_terminal());

        let counts = plan(&store, &counts_sql("")).await;
        assert!(
            counts.contains("USING COVERING INDEX tasks_by_status_channel"),
            "the counts visit the tasks' rows: {counts}"
        );
        let tasks = plan(&store, &unfinished_sql(&unfinished, "")).await;
        assert!(
            tasks.contains("USING INDEX tasks_by_status") && !tasks.contains("SCAN tasks"),
            "the unfinished tasks are found by scanning every task: {tasks}"
        );
    }
}
