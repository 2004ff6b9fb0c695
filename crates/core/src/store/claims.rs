//! Claims and leases: which worker holds which task, until when, and the guard every leased
//! write goes through.

use chrono::{DateTime, Utc};
// Dynamic SQL here is assembled only from constants and enum names; values are always bound.
use sqlx::AssertSqlSafe;
use std::str::FromStr;
use std::time::Duration;

use super::audit::insert_event;
use super::tasks::{TASK_COLS, task_from_row};
use super::{Backend, Store, Transition, get, ms_to_dt, now_ms};
use crate::error::{CoreError, Result};
use crate::event::Source;
use crate::ids::TaskId;
use crate::status::Status;
use crate::task::{ErrorCategory, Task};

/// The worker-actionable statuses that a claim may pick up without a running lease.
const CLAIMABLE_WAITING: &str =
    "'queued','assets_approved','video_approved','audio_approved','approved'";

/// Statuses in which a worker was running a step (resumable after its lease expires).
const IN_PROGRESS: &str = "'claimed','generating_assets','generating_composites','composites_ready','generating_video',\
    'generating_audio','generating_sfx','sfx_ready','assembling','assembly_ready','uploading'";

/// The SQLite claim statement: leases the most urgent claimable task. Full channels are found once
/// per statement (an uncorrelated subquery over the leased tasks, which never include the
/// candidate: it is unleased or its lease expired), not once per candidate row. `$1` worker, `$2`
/// lease end, `$3` now, `$4` the claim's lease token. PostgreSQL claims through `reviewdesk_claim`
/// (migrations/postgres), whose status lists must match [`CLAIMABLE_WAITING`] and [`IN_PROGRESS`].
fn sqlite_claim_sql() -> String {
    format!(
        "UPDATE tasks SET lease_owner = $1, lease_token = $4, lease_expires_at = $2, updated_at = $3 WHERE id = (\
           SELECT t.id FROM tasks t LEFT JOIN channels c ON c.channel_id = t.channel_id \
           WHERE (t.lease_expires_at IS NULL OR t.lease_expires_at < $3) \
             AND (t.next_retry_at IS NULL OR t.next_retry_at <= $3) \
             AND (t.status IN ({CLAIMABLE_WAITING}) OR t.status IN ({IN_PROGRESS})) \
             AND COALESCE(c.is_active, 1) = 1 \
             AND t.channel_id NOT IN (SELECT o.channel_id FROM tasks o LEFT JOIN channels oc ON oc.channel_id = o.channel_id \
                  WHERE o.lease_expires_at IS NOT NULL AND o.lease_expires_at >= $3 \
                  GROUP BY o.channel_id, oc.max_concurrent HAVING COUNT(*) >= COALESCE(oc.max_concurrent, 2)) \
           ORDER BY t.priority_rank, t.created_at LIMIT 1) \
         AND (lease_expires_at IS NULL OR lease_expires_at < $3) RETURNING {TASK_COLS}"
    )
}

/// The PostgreSQL claim: one statement (see `reviewdesk_claim` in migrations/postgres). `$1`
/// worker, `$2` the claim's lease token, `$3` lease end, `$4` now; `$5` is 1 to move a queued task
/// to claimed with its event row in the same statement.
fn postgres_claim_sql() -> String {
    let cols: Vec<String> = TASK_COLS
        .split(',')
        .map(|c| format!("(c.claimed).{}", c.trim()))
        .collect();
    format!(
        "SELECT {}, c.claimed_from FROM reviewdesk_claim($1, $2, $3, $4, $5) c",
        cols.join(", ")
    )
}

/// What a worker may hold at once.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// This worker's id.
    pub worker_id: &'a str,
    /// Lease length.
    pub lease: Duration,
}

/// A task claimed by [`Store::claim`] or [`Store::claim_and_start`].
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The task as it is now (leased to the worker; claimed if it was queued).
    pub task: Task,
    /// Its status before the claim: `Queued` when the claim moved it to claimed.
    pub from: Status,
    /// The claim's hold on the task: every write for it presents this.
    pub lease: Lease,
}

/// One claim's hold on a task. All slots of a worker share its owner id, so the owner alone
/// cannot tell a stale run (its task was cancelled, retried and claimed again meanwhile) from the
/// current one; the token is unique to the claim. Every write a worker makes for the task
/// (heartbeat, checkpoint, step completion, status change, retry, release) presents it and fails
/// with [`CoreError::Conflict`] once the task was cancelled, released or claimed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The task held.
    pub task_id: TaskId,
    /// The worker holding it (for people and logs; shared by the worker's slots).
    pub owner: String,
    /// Unique to this claim.
    pub token: String,
}

/// Fails with [`CoreError::Conflict`] unless `lease` still holds its task, and keeps it so until
/// the transaction ends: the guard is a write, so it locks the task row (PostgreSQL) or takes the
/// write lock (SQLite) before anything else is written, and a cancel or a new claim waits for it.
pub(super) async fn guard_lease_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    lease: &Lease,
) -> Result<()> {
    let res = sqlx::query(
        "UPDATE tasks SET lease_token = lease_token WHERE id = $1 AND lease_token = $2 AND lease_owner IS NOT NULL",
    )
    .bind(lease.task_id.to_string())
    .bind(&lease.token)
    .execute(&mut **tx)
    .await?;
    if res.rows_affected() != 1 {
        return Err(CoreError::Conflict(lease.task_id.to_string()));
    }
    Ok(())
}

impl Store {
    /// Claims the most urgent claimable task for this worker, honouring each channel's
    /// max_concurrent. Returns `None` when nothing is claimable now. The task keeps its status;
    /// [`Store::claim_and_start`] also moves a queued task to claimed.
    ///
    /// SQLite runs the claim as one UPDATE (SQLite has one writer at a time, so the channel count
    /// inside it is exact). PostgreSQL runs it as one statement, `reviewdesk_claim`: it picks the
    /// row with `FOR UPDATE SKIP LOCKED` (workers never wait for, nor both take, the same task),
    /// then counts the channel's leases under a per-channel advisory lock held to commit, so two
    /// workers claiming different tasks of one channel at the same instant cannot both squeeze
    /// past max_concurrent; a full channel is skipped and the next candidate tried.
    pub async fn claim(&self, req: ClaimRequest<'_>) -> Result<Option<Claimed>> {
        self.claim_with(req, false).await
    }

    /// [`Store::claim`], and a queued task moves to claimed with its status_changed event row
    /// (source worker) in the same transaction: what a worker does before running a step, in one
    /// commit. Other claimable statuses are leased unchanged.
    pub async fn claim_and_start(&self, req: ClaimRequest<'_>) -> Result<Option<Claimed>> {
        self.claim_with(req, true).await
    }

    async fn claim_with(&self, req: ClaimRequest<'_>, start: bool) -> Result<Option<Claimed>> {
        let now = now_ms();
        let lease_end = now + req.lease.as_millis() as i64;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let lease_for = |task: &Task| Lease {
            task_id: task.id,
            owner: req.worker_id.to_string(),
            token: token.clone(),
        };
        if self.backend == Backend::Postgres {
            // Autocommit: one round trip, one commit.
            let Some(row) = sqlx::query(AssertSqlSafe(postgres_claim_sql()))
                .bind(req.worker_id)
                .bind(&token)
                .bind(lease_end)
                .bind(now)
                .bind(start as i64)
                .fetch_optional(&self.pool)
                .await?
            else {
                return Ok(None);
            };
            let task = task_from_row(&row)?;
            return Ok(Some(Claimed {
                lease: lease_for(&task),
                from: Status::from_str(&get::<String>(&row, "claimed_from")?)?,
                task,
            }));
        }
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query(AssertSqlSafe(sqlite_claim_sql()))
            .bind(req.worker_id)
            .bind(lease_end)
            .bind(now)
            .bind(&token)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let mut task = task_from_row(&row)?;
        let lease = lease_for(&task);
        let from = task.status;
        if start && from == Status::Queued {
            let mut t = Transition::new(Status::Queued, Status::Claimed, Source::Worker);
            t.lease = Some(&lease);
            task = self
                .transition_in(&mut tx, task.id, &t)
                .await?
                .ok_or_else(|| CoreError::Conflict(task.id.to_string()))?;
        }
        tx.commit().await?;
        Ok(Some(Claimed { task, from, lease }))
    }

    /// Renews a lease for `length` from now; `false` means this claim no longer holds the task
    /// (it was cancelled, released or claimed again, possibly by another slot of the same worker).
    pub async fn heartbeat(&self, lease: &Lease, length: Duration) -> Result<bool> {
        let now = now_ms();
        let res = sqlx::query(
            "UPDATE tasks SET lease_expires_at = $1 WHERE id = $2 AND lease_token = $3 AND lease_owner IS NOT NULL",
        )
        .bind(now + length.as_millis() as i64)
        .bind(lease.task_id.to_string())
        .bind(&lease.token)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Whether this claim still holds its task (a read; the worker checks it whenever the task
    /// may have changed, so a cancel stops the running step without waiting for a heartbeat).
    pub async fn lease_held(&self, lease: &Lease) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS held FROM tasks WHERE id = $1 AND lease_token = $2 AND lease_owner IS NOT NULL",
        )
        .bind(lease.task_id.to_string())
        .bind(&lease.token)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Gives a lease back (nothing happens when this claim no longer holds the task).
    pub async fn release(&self, lease: &Lease) -> Result<()> {
        sqlx::query("UPDATE tasks SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_token = $2")
            .bind(lease.task_id.to_string())
            .bind(&lease.token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a failed attempt that will be retried later, releasing the lease. An empty
    /// `log_line` adds nothing to the error log (a wait that was already explained).
    pub async fn schedule_retry(
        &self,
        lease: &Lease,
        attempts: u32,
        next_at: DateTime<Utc>,
        category: ErrorCategory,
        log_line: &str,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE tasks SET attempts = $1, next_retry_at = $2, error_category = $3, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = $4, \
             error_log = CASE WHEN $5 = '' THEN error_log WHEN error_log = '' THEN $5 ELSE error_log || {nl} || $5 END \
             WHERE id = $6 AND lease_token = $7 AND lease_owner IS NOT NULL RETURNING status, correlation_id",
            nl = self.newline()
        );
        let id = lease.task_id;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(attempts as i64)
            .bind(next_at.timestamp_millis())
            .bind(category.as_str())
            .bind(now_ms())
            .bind(log_line)
            .bind(id.to_string())
            .bind(&lease.token)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| CoreError::Conflict(id.to_string()))?;
        let corr: String = get(&row, "correlation_id")?;
        insert_event(
            &mut tx,
            id,
            "retry_scheduled",
            None,
            None,
            Source::Worker,
            serde_json::json!({"attempts": attempts, "next_retry_at": next_at.to_rfc3339(), "category": category.as_str(), "log_line": log_line}),
            &corr,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Tasks that still need a worker (queued, approved, running or waiting for a retry).
    /// A task waiting for a missing program (a configuration wait: no lease, a time to look
    /// again) is not counted: it may wait for days, and "until idle" must not wait with it.
    pub async fn pending_work(&self) -> Result<i64> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM tasks WHERE (status IN ({CLAIMABLE_WAITING}) OR status IN ({IN_PROGRESS})) \
             AND NOT (lease_owner IS NULL AND next_retry_at IS NOT NULL AND COALESCE(error_category, '') = 'configuration')"
        )))
        .fetch_one(&self.pool)
        .await?;
        get(&row, "n")
    }

    /// Earliest time at which some task becomes claimable (retry time or lease expiry), if any.
    pub async fn next_wakeup(&self) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT MIN(CASE WHEN next_retry_at IS NOT NULL AND (lease_expires_at IS NULL OR next_retry_at > lease_expires_at) \
             THEN next_retry_at ELSE lease_expires_at END) AS t FROM tasks WHERE status IN ({CLAIMABLE_WAITING}) OR status IN ({IN_PROGRESS})"
        )))
        .fetch_one(&self.pool)
        .await?;
        Ok(get::<Option<i64>>(&row, "t")?.map(ms_to_dt))
    }
}
