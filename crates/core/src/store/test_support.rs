//! Helpers for tests and benchmarks only: a throw-away PostgreSQL database per test. Not part of
//! the app's API (hidden from the documentation); `Store::create_postgres_database` and
//! `Store::drop_postgres_database` forward here for the callers that predate this module.

// Dynamic SQL here is assembled only from a checked database name.
use sqlx::AssertSqlSafe;

use super::Store;
use crate::error::{CoreError, Result};

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

/// Drops a PostgreSQL database created by [`create_postgres_database`], closing any
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

#[doc(hidden)]
impl Store {
    /// [`create_postgres_database`], for tests and benchmarks only.
    #[doc(hidden)]
    pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String> {
        create_postgres_database(admin_url, name).await
    }

    /// [`drop_postgres_database`], for tests and benchmarks only.
    #[doc(hidden)]
    pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<()> {
        drop_postgres_database(admin_url, name).await
    }
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

#[doc(hidden)]
impl Store {
    /// Inserts many tasks (each with its `created` event) in one transaction: a desk with years of
    /// work made in seconds, for tests and benchmarks only. Each task keeps its own status and
    /// time (`status_changed_at` = `created_at`).
    #[doc(hidden)]
    pub async fn insert_tasks_for_test(&self, tasks: &[crate::Task]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for t in tasks {
            super::tasks::insert_task_in(&mut tx, t, None, crate::Source::Cli).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
