//! Connecting to SQLite or PostgreSQL, running the migrations (the one owner of the schema,
//! the Notion mirror's `sync_*` tables included) and listening for work on PostgreSQL.

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use std::time::Duration;

use super::{Backend, Secret, Store, WORK_CHANNEL};
use crate::error::{CoreError, Result};

// The whole schema, the Notion mirror's `sync_*` tables included: nothing else creates tables.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

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

    /// The pool, for crates that keep their own tables in this database (the Notion mirror's
    /// `sync_*` tables, which the migrations run by [`Store::connect`] create).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// SQL for a newline character (the function differs between backends).
    pub(super) fn newline(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "char(10)",
            Backend::Postgres => "chr(10)",
        }
    }
}
