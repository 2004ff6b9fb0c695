//! The store: tasks, assets, the append-only event log and audit trail, checkpoints and leases.
//!
//! One code path for SQLite (embedded default) and PostgreSQL (several workers), through sqlx's
//! `Any` driver: all SQL here is portable (`$n` parameters, `RETURNING`, epoch-millisecond integers),
//! and each backend has its own migrations. Transactions are short and always start with a write,
//! so SQLite takes its write lock up front instead of failing a lock upgrade under contention.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
// Dynamic SQL here is assembled only from constants and enum names; values are always bound.
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use crate::asset::{AssetKind, PlannedAsset, ReviewState};
use crate::config::ChannelConfig;
use crate::error::{CoreError, Result};
use crate::event::Source;
use crate::ids::{AssetName, ChannelId, TaskId};
use crate::status::{Status, Step};
use crate::task::{ErrorCategory, Priority, Task};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (one machine).
    Sqlite,
    /// PostgreSQL (several workers on several machines).
    Postgres,
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Epoch milliseconds to a UTC time.
pub fn ms_to_dt(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

const TASK_COLS: &str = "id, channel_id, title, topic, story_direction, priority, status, status_changed_at, \
    created_at, updated_at, notion_page_id, review_started_at, review_completed_at, error_log, attempts, \
    next_retry_at, error_category, correlation_id, plan_file";

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

fn check_db_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(CoreError::invalid(
            "database name",
            "use 1–63 characters of a-z, 0-9 and _",
        ));
    }
    Ok(())
}

/// The same server URL with another database name (query string kept).
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// Filters for listing tasks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
pub struct TaskFilter {
    /// Only these statuses.
    pub statuses: Vec<Status>,
    /// Only this channel.
    pub channel_id: Option<String>,
    /// At most this many (default 500).
    pub limit: Option<i64>,
}

/// An asset with its current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct AssetRecord {
    /// Task.
    pub task_id: TaskId,
    /// Name.
    pub name: AssetName,
    /// Kind.
    pub kind: AssetKind,
    /// Prompt.
    pub prompt: String,
    /// Position in the plan.
    pub position: i64,
    /// Current version (0: not generated yet).
    pub current_version: u32,
    /// Review state.
    pub review_state: ReviewState,
    /// Flagged for regeneration.
    pub flagged: bool,
    /// Optional flag note.
    pub flag_note: Option<String>,
}

/// One stored version of an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct AssetVersion {
    /// Version number, from 1.
    pub version: u32,
    /// blake3 of the file bytes.
    pub content_hash: String,
    /// Thumbnail path relative to the workspace.
    pub thumb_path: Option<String>,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// File size.
    pub bytes: u64,
    /// What made it (worker, watcher).
    pub source: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

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

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The URL, kept for the LISTEN connection (PostgreSQL); never printed.
    url: Secret,
}

/// A string that `Debug` never shows (database URLs may carry passwords).
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The PostgreSQL notification channel on which the database announces claimable work
/// (see migrations/postgres: a trigger on `tasks` calls `pg_notify`).
pub const WORK_CHANNEL: &str = "reviewdesk_work";

fn get<T>(row: &AnyRow, col: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get::<T, _>(col).map_err(CoreError::from)
}

fn opt_ms(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(get::<Option<i64>>(row, col)?.map(ms_to_dt))
}

fn task_from_row(row: &AnyRow) -> Result<Task> {
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
    })
}

fn version_from_row(r: &AnyRow) -> Result<AssetVersion> {
    Ok(AssetVersion {
        version: get::<i64>(r, "version")? as u32,
        content_hash: get(r, "content_hash")?,
        thumb_path: get(r, "thumb_path")?,
        width: get::<i64>(r, "width")? as u32,
        height: get::<i64>(r, "height")? as u32,
        bytes: get::<i64>(r, "bytes")? as u64,
        source: get(r, "source")?,
        created_at: ms_to_dt(get(r, "created_at")?),
    })
}

fn asset_from_row(row: &AnyRow) -> Result<AssetRecord> {
    Ok(AssetRecord {
        task_id: TaskId::from_str(&get::<String>(row, "task_id")?)?,
        name: AssetName::parse(get::<String>(row, "name")?)?,
        kind: AssetKind::parse(&get::<String>(row, "kind")?)?,
        prompt: get(row, "prompt")?,
        position: get(row, "position")?,
        current_version: get::<i64>(row, "current_version")? as u32,
        review_state: ReviewState::parse(&get::<String>(row, "review_state")?)?,
        flagged: get::<i64>(row, "flagged")? != 0,
        flag_note: get(row, "flag_note")?,
    })
}

impl Store {
    /// Connects and runs the migrations. `sqlite:` and `postgres:` URLs are accepted.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(CoreError::invalid(
                "database URL",
                "expected sqlite://<file> or postgres://user@host/db",
            ));
        };
        let mut opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        if backend == Backend::Sqlite {
            opts = opts.max_connections(4).after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; the busy timeout makes concurrent
                    // worker processes wait for the write lock instead of failing.
                    sqlx::raw_sql(
                        "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            });
        } else {
            opts = opts.max_connections(8);
        }
        let pool = opts.connect(url).await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Store {
            pool,
            backend,
            url: Secret(url.to_string()),
        })
    }

    /// Creates a PostgreSQL database named `name` through an admin URL (any database of the same
    /// server) and returns the URL of the new database. For tests and setup scripts: `name` must
    /// match `^[a-z0-9_]{1,63}$`.
    pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String> {
        use sqlx::Connection;
        check_db_name(name)?;
        let mut conn = sqlx::postgres::PgConnection::connect(admin_url).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(replace_db_name(admin_url, name))
    }

    /// Drops a PostgreSQL database created by [`Store::create_postgres_database`], closing any
    /// connection still open to it.
    pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<()> {
        use sqlx::Connection;
        check_db_name(name)?;
        let mut conn = sqlx::postgres::PgConnection::connect(admin_url).await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }

    /// Closes the pool (waits for connections in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Listens for "work became claimable" notifications from the database (PostgreSQL
    /// LISTEN/NOTIFY, so workers on other machines hear about it) and calls `on_work` for each,
    /// and once after every reconnection (notifications may have been missed meanwhile).
    /// Returns `None` on SQLite, where workers share one machine and rely on in-process wakeups
    /// and polling. Abort the returned task to stop listening; `ready` turns true once the
    /// listener is subscribed.
    pub fn spawn_work_listener(
        &self,
        on_work: impl Fn() + Send + Sync + 'static,
        ready: Option<tokio::sync::watch::Sender<bool>>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend != Backend::Postgres {
            return None;
        }
        let url = self.url.clone();
        Some(tokio::spawn(async move {
            loop {
                let mut listener = match sqlx::postgres::PgListener::connect(&url.0).await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot open the work listener; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if let Err(e) = listener.listen(WORK_CHANNEL).await {
                    tracing::warn!(error = %e, "cannot LISTEN for work; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                // Anything that arrived before we listened is found by the caller's next look.
                // (Before `ready`, so a caller counting wakeups after `ready` sees only real ones.)
                on_work();
                if let Some(r) = &ready {
                    r.send_replace(true);
                }
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => on_work(),
                        // The connection dropped and was re-established: look again.
                        Ok(None) => on_work(),
                        Err(e) => {
                            tracing::warn!(error = %e, "work listener failed; reconnecting");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            break;
                        }
                    }
                }
            }
        }))
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for crates that add their own tables (the Notion mirror).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

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
        .execute(&mut *tx)
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
            &mut tx,
            task.id,
            "created",
            None,
            Some(task.status),
            source,
            serde_json::json!({"title": task.title}),
            &task.correlation_id,
        )
        .await?;
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

    /// Tasks matching a filter, most urgent first.
    pub async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        let mut sql = format!("SELECT {TASK_COLS} FROM tasks WHERE 1=1");
        let mut n = 0;
        if !filter.statuses.is_empty() {
            let list: Vec<String> = filter
                .statuses
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            // Status names come from the enum, never from input text.
            sql.push_str(&format!(" AND status IN ({})", list.join(",")));
        }
        if filter.channel_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND channel_id = ${n}"));
        }
        sql.push_str(&format!(
            " ORDER BY priority_rank, created_at LIMIT {}",
            filter.limit.unwrap_or(500).clamp(1, 10_000)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some(c) = &filter.channel_id {
            q = q.bind(c.clone());
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(task_from_row)
            .collect()
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

    async fn transition_in(
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

    /// SQL for a newline character (the function differs between backends).
    fn newline(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "char(10)",
            Backend::Postgres => "chr(10)",
        }
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

    /// Records a failed attempt that will be retried later, releasing the lease.
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
             error_log = CASE WHEN error_log = '' THEN $5 ELSE error_log || {nl} || $5 END \
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

    /// Inserts the planned assets that are not there yet (idempotent, so a resumed step adds no duplicates).
    pub async fn ensure_assets(&self, id: TaskId, plan: &[PlannedAsset]) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for (i, a) in plan.iter().enumerate() {
            sqlx::query(
                "INSERT INTO assets (task_id, name, kind, prompt, position, updated_at) VALUES ($1,$2,$3,$4,$5,$6) \
                 ON CONFLICT (task_id, name) DO NOTHING",
            )
            .bind(id.to_string())
            .bind(a.name.as_str())
            .bind(a.kind.as_str())
            .bind(&a.prompt)
            .bind(i as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The assets of a task in plan order.
    pub async fn assets(&self, id: TaskId) -> Result<Vec<AssetRecord>> {
        let rows = sqlx::query(
            "SELECT task_id, name, kind, prompt, position, current_version, review_state, flagged, flag_note \
             FROM assets WHERE task_id = $1 ORDER BY position",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(asset_from_row).collect()
    }

    /// One asset.
    pub async fn asset(&self, id: TaskId, name: &AssetName) -> Result<AssetRecord> {
        let row = sqlx::query(
            "SELECT task_id, name, kind, prompt, position, current_version, review_state, flagged, flag_note \
             FROM assets WHERE task_id = $1 AND name = $2",
        )
        .bind(id.to_string())
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| CoreError::NotFound { what: "asset", id: format!("{id}/{name}") })?;
        asset_from_row(&row)
    }

    /// Every version of an asset, oldest first.
    pub async fn asset_versions(&self, id: TaskId, name: &AssetName) -> Result<Vec<AssetVersion>> {
        let rows = sqlx::query(
            "SELECT name, version, content_hash, thumb_path, width, height, bytes, source, created_at FROM asset_versions \
             WHERE task_id = $1 AND name = $2 ORDER BY version",
        )
        .bind(id.to_string())
        .bind(name.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Every version of every asset of a task in one query, oldest first per asset.
    pub async fn all_asset_versions(
        &self,
        id: TaskId,
    ) -> Result<std::collections::HashMap<String, Vec<AssetVersion>>> {
        let rows = sqlx::query(
            "SELECT name, version, content_hash, thumb_path, width, height, bytes, source, created_at FROM asset_versions \
             WHERE task_id = $1 ORDER BY name, version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out: std::collections::HashMap<String, Vec<AssetVersion>> =
            std::collections::HashMap::new();
        for r in &rows {
            out.entry(get::<String>(r, "name")?)
                .or_default()
                .push(version_from_row(r)?);
        }
        Ok(out)
    }

    /// Records a new version of an asset (and, for the worker, the step checkpoint under its
    /// lease) in one transaction. `expected_current` guards against two writers adding the same
    /// version; with a checkpoint, nothing is written unless the lease still holds the task.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_asset_version(
        &self,
        id: TaskId,
        name: &AssetName,
        expected_current: u32,
        v: &AssetVersion,
        checkpoint: Option<(&Lease, Step, &str)>,
        source: Source,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if let Some((lease, _, _)) = checkpoint {
            guard_lease_in(&mut tx, lease).await?;
        }
        let res = sqlx::query(
            "UPDATE assets SET current_version = $1, review_state = 'generated', flagged = 0, flag_note = NULL, updated_at = $2 \
             WHERE task_id = $3 AND name = $4 AND current_version = $5",
        )
        .bind(v.version as i64)
        .bind(now)
        .bind(id.to_string())
        .bind(name.as_str())
        .bind(expected_current as i64)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() != 1 {
            return Err(CoreError::Conflict(format!("{id}/{name}")));
        }
        sqlx::query(
            "INSERT INTO asset_versions (task_id, name, version, content_hash, thumb_path, width, height, bytes, source, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        )
        .bind(id.to_string())
        .bind(name.as_str())
        .bind(v.version as i64)
        .bind(&v.content_hash)
        .bind(v.thumb_path.clone())
        .bind(v.width as i64)
        .bind(v.height as i64)
        .bind(v.bytes as i64)
        .bind(source.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some((_, step, output)) = checkpoint {
            checkpoint_in(&mut tx, id, step, name.as_str(), output, now).await?;
        }
        let corr: String = sqlx::query("SELECT correlation_id FROM tasks WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get("correlation_id")?;
        insert_event(
            &mut tx,
            id,
            "asset_version",
            None,
            None,
            source,
            serde_json::json!({"name": name.as_str(), "version": v.version, "content_hash": v.content_hash}),
            &corr,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records one finished item of a step, without a lease: for outputs recorded outside a
    /// worker (imports, tests). A worker records through [`Store::checkpoint_leased`].
    pub async fn checkpoint(&self, id: TaskId, step: Step, item: &str, output: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        checkpoint_in(&mut tx, id, step, item, output, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records one finished item of a step for the claim holding `lease`; fails with
    /// [`CoreError::Conflict`] (and records nothing) once the claim no longer holds the task.
    pub async fn checkpoint_leased(
        &self,
        lease: &Lease,
        step: Step,
        item: &str,
        output: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        guard_lease_in(&mut tx, lease).await?;
        checkpoint_in(&mut tx, lease.task_id, step, item, output, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finished items of a step with their outputs.
    pub async fn checkpoints(&self, id: TaskId, step: Step) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT item, output FROM step_checkpoints WHERE task_id = $1 AND step = $2 ORDER BY item")
            .bind(id.to_string())
            .bind(step.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((get(r, "item")?, get(r, "output")?)))
            .collect()
    }

    /// Finished items of several steps of a task in one query, as `(step, item, output)`, in
    /// pipeline order then item order. Task detail uses it to list the media for review without a
    /// query per step.
    pub async fn checkpoints_of_steps(
        &self,
        id: TaskId,
        steps: &[Step],
    ) -> Result<Vec<(Step, String, String)>> {
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (0..steps.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT step, item, output FROM step_checkpoints WHERE task_id = $1 AND step IN ({placeholders})"
        );
        // Only numbered placeholders are formatted into the text; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string());
        for s in steps {
            q = q.bind(s.as_str());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            // A step name this build does not know (a newer writer) is skipped, not an error.
            let Some(step) = Step::parse(&get::<String>(r, "step")?) else {
                continue;
            };
            out.push((step, get(r, "item")?, get(r, "output")?));
        }
        // Sorted here rather than in SQL: the step column sorts alphabetically, not in pipeline order.
        out.sort();
        Ok(out)
    }

    /// Marks a step finished for the claim holding `lease`; fails with [`CoreError::Conflict`]
    /// (and records nothing) once the claim no longer holds the task.
    pub async fn complete_step(&self, lease: &Lease, step: Step) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        guard_lease_in(&mut tx, lease).await?;
        sqlx::query("INSERT INTO step_completions (task_id, step, completed_at) VALUES ($1,$2,$3) ON CONFLICT (task_id, step) DO NOTHING")
            .bind(lease.task_id.to_string())
            .bind(step.as_str())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Steps finished for a task.
    pub async fn completed_steps(&self, id: TaskId) -> Result<BTreeSet<Step>> {
        let rows = sqlx::query("SELECT step FROM step_completions WHERE task_id = $1")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                r.try_get::<String, _>("step")
                    .ok()
                    .and_then(|s| Step::parse(&s))
            })
            .collect())
    }

    /// Prepares a step to run again: forgets its completion (and of every later step) and the
    /// checkpoints of `items` (all items when `None`), so only those are redone.
    pub async fn reopen_step(
        &self,
        id: TaskId,
        step: Step,
        items: Option<&[String]>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        reopen_step_in(&mut tx, id, step, items).await?;
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

    /// Sets or clears an asset's flag (with an event row).
    pub async fn set_flag(
        &self,
        id: TaskId,
        name: &AssetName,
        flagged: bool,
        note: Option<&str>,
        source: Source,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        set_flag_in(&mut tx, id, name, flagged, note, source).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the review state of every current asset after a decision: flagged ones become
    /// `rejected` (on reject), the rest `approved` (on approve) or stay `generated`.
    pub async fn settle_asset_states(&self, id: TaskId, approved: bool) -> Result<()> {
        sqlx::query(settle_sql(approved))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Clears flags (after a retry consumed them).
    pub async fn clear_flags(&self, id: TaskId) -> Result<()> {
        sqlx::query("UPDATE assets SET flagged = 0, flag_note = NULL WHERE task_id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
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
        rows.iter()
            .map(|r| {
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
                    flagged: serde_json::from_str(&get::<String>(r, "flagged")?)
                        .unwrap_or_default(),
                    correlation_id: get(r, "correlation_id")?,
                    created_at: ms_to_dt(get(r, "created_at")?),
                })
            })
            .collect()
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

    /// Tasks that still need a worker (queued, approved, running or waiting for a retry).
    pub async fn pending_work(&self) -> Result<i64> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM tasks WHERE status IN ({CLAIMABLE_WAITING}) OR status IN ({IN_PROGRESS})"
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

async fn insert_audit_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, row: &AuditRow) -> Result<()> {
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

/// Fails with [`CoreError::Conflict`] unless `lease` still holds its task, and keeps it so until
/// the transaction ends: the guard is a write, so it locks the task row (PostgreSQL) or takes the
/// write lock (SQLite) before anything else is written, and a cancel or a new claim waits for it.
async fn guard_lease_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, lease: &Lease) -> Result<()> {
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

async fn checkpoint_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: TaskId,
    step: Step,
    item: &str,
    output: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO step_checkpoints (task_id, step, item, output, completed_at) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (task_id, step, item) DO UPDATE SET output = excluded.output, completed_at = excluded.completed_at",
    )
    .bind(id.to_string())
    .bind(step.as_str())
    .bind(item)
    .bind(output)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_event(
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

/// Forgets a step's completion (and every later step's) and the checkpoints of `items` (all when
/// `None`), inside the caller's transaction.
async fn reopen_step_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: TaskId,
    step: Step,
    items: Option<&[String]>,
) -> Result<()> {
    let later: Vec<Step> = Step::ALL.into_iter().filter(|s| *s >= step).collect();
    for s in &later {
        sqlx::query("DELETE FROM step_completions WHERE task_id = $1 AND step = $2")
            .bind(id.to_string())
            .bind(s.as_str())
            .execute(&mut **tx)
            .await?;
    }
    match items {
        Some(items) => {
            for item in items {
                sqlx::query(
                    "DELETE FROM step_checkpoints WHERE task_id = $1 AND step = $2 AND item = $3",
                )
                .bind(id.to_string())
                .bind(step.as_str())
                .bind(item)
                .execute(&mut **tx)
                .await?;
            }
        }
        None => {
            sqlx::query("DELETE FROM step_checkpoints WHERE task_id = $1 AND step = $2")
                .bind(id.to_string())
                .bind(step.as_str())
                .execute(&mut **tx)
                .await?;
        }
    }
    // Later steps consumed the old outputs, so they run again in full.
    for s in later.iter().skip(1) {
        sqlx::query("DELETE FROM step_checkpoints WHERE task_id = $1 AND step = $2")
            .bind(id.to_string())
            .bind(s.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The asset review states after a decision.
fn settle_sql(approved: bool) -> &'static str {
    if approved {
        "UPDATE assets SET review_state = 'approved', flagged = 0, flag_note = NULL WHERE task_id = $1 AND current_version > 0"
    } else {
        "UPDATE assets SET review_state = CASE WHEN flagged = 1 THEN 'rejected' ELSE review_state END WHERE task_id = $1"
    }
}

/// Sets or clears an asset's flag with its event row, inside the caller's transaction.
async fn set_flag_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: TaskId,
    name: &AssetName,
    flagged: bool,
    note: Option<&str>,
    source: Source,
) -> Result<()> {
    let res = sqlx::query("UPDATE assets SET flagged = $1, flag_note = $2, updated_at = $3 WHERE task_id = $4 AND name = $5")
            .bind(flagged as i64)
            .bind(note.map(str::to_string))
            .bind(now_ms())
            .bind(id.to_string())
            .bind(name.as_str())
            .execute(&mut **tx)
            .await?;
    if res.rows_affected() != 1 {
        return Err(CoreError::NotFound {
            what: "asset",
            id: format!("{id}/{name}"),
        });
    }
    insert_event(
        tx,
        id,
        "flag",
        None,
        None,
        source,
        serde_json::json!({"name": name.as_str(), "flagged": flagged, "note": note}),
        "",
    )
    .await?;
    Ok(())
}
