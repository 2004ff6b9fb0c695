//! The store: tasks, assets, the append-only event log and audit trail, checkpoints and leases.
//!
//! One code path for SQLite (embedded default) and PostgreSQL (several workers), through sqlx's
//! `Any` driver: all SQL here is portable (`$n` parameters, `RETURNING`, epoch-millisecond integers),
//! and each backend has its own migrations. Transactions are short and always start with a write,
//! so SQLite takes its write lock up front instead of failing a lock upgrade under contention.
//!
//! One file per concern: `connection` (backends, migrations, the work listener), `tasks` (tasks
//! and transitions), `claims` (claims and leases), `assets` (assets, versions, flags),
//! `checkpoints`, `audit` (the event log and the audit trail) and [`outbox`] (the Notion mirror's
//! intake from the event log, the one reader of `task_events` outside this module). Every public
//! type is re-exported here. [`test_support`] holds helpers for tests and benchmarks only.

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::error::{CoreError, Result};

mod assets;
mod audit;
mod checkpoints;
mod claims;
mod connection;
mod costs;
pub mod outbox;
mod scenes;
mod tasks;
#[doc(hidden)]
pub mod test_support;

pub use assets::{AssetRecord, AssetVersion};
pub use audit::{AuditRow, Reviewer, TaskEventRow};
pub use checkpoints::{Finished, StepCheckpoint};
pub use claims::{ClaimRequest, Claimed, Lease};
pub use costs::{BudgetCheck, LedgerRow, PaidItem};
pub use tasks::{
    BoardTasks, Change, Effect, MoreTasks, PageCursor, StatusCount, TaskFilter, TaskOrder,
    Transition,
};

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
