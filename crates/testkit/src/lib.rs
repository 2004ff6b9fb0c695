//! Test support shared by the workspace's tests (a dev-dependency only, never shipped):
//!
//! - [`TestDb`]: a store on a fresh SQLite file or a fresh PostgreSQL database, with one policy
//!   for a missing PostgreSQL (see [`pg_admin_url`]);
//! - [`TestCore`]: a [`Core`] over a temp dir (workspace, config dir, channel file, fast worker
//!   timings);
//! - `spawn_server` (feature `server`): the HTTP server over a [`TestCore`] on `127.0.0.1:0`;
//! - [`wait_until`] / [`wait_until_blocking`]: poll a state with a deadline, never a fixed sleep.
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reviewdesk_core::config::WorkerSettings;
use reviewdesk_core::{Core, CoreOptions, Store};
use tempfile::TempDir;

pub use tempfile;

/// The variable naming a PostgreSQL admin URL (`export REVIEWDESK_TEST_PG_URL=$(scripts/start-postgres.sh)`).
pub const PG_URL_VAR: &str = "REVIEWDESK_TEST_PG_URL";

// ---------------------------------------------------------------------------------------------
// Databases

/// The PostgreSQL admin URL for `test`, under the one policy of the workspace's tests:
/// `REVIEWDESK_TEST_PG_URL` set → that URL; not set in CI (env `CI` set and not `false`/`0`) →
/// panic, so a CI that forgets the variable fails instead of silently losing PostgreSQL
/// coverage; not set locally → `None`, with the reason printed (the test is skipped).
pub fn pg_admin_url(test: &str) -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if in_ci() => panic!(
            "{test}: {PG_URL_VAR} is not set and CI is: PostgreSQL tests must run in CI. \
             Start one with `export {PG_URL_VAR}=$(scripts/start-postgres.sh)`"
        ),
        _ => {
            eprintln!(
                "SKIPPED {test} on PostgreSQL: {PG_URL_VAR} is not set \
                 (`export {PG_URL_VAR}=$(scripts/start-postgres.sh)` runs it)"
            );
            None
        }
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// A fresh PostgreSQL database of its own (created through the admin URL), dropped by
/// [`PgDatabase::drop_database`]. For tests that need only the URL (a child process, a mirror).
pub struct PgDatabase {
    /// The admin URL it was created through.
    pub admin: String,
    /// The database's name.
    pub name: String,
    /// The URL of the new database.
    pub url: String,
}

impl PgDatabase {
    /// A fresh database for `test` (its name starts with `prefix`), or `None` when PostgreSQL
    /// is skipped under [`pg_admin_url`]'s policy.
    pub async fn create(prefix: &str, test: &str) -> Option<PgDatabase> {
        let admin = pg_admin_url(test)?;
        let name = db_name(prefix, test);
        let url = Store::create_postgres_database(&admin, &name)
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database through {PG_URL_VAR}: {e}"));
        Some(PgDatabase { admin, name, url })
    }

    /// Drops the database (closing connections still open to it).
    pub async fn drop_database(self) {
        Store::drop_postgres_database(&self.admin, &self.name)
            .await
            .unwrap_or_else(|e| panic!("cannot drop the test database {}: {e}", self.name));
    }
}

/// `prefix_<test, lowercased, at most 30 characters>_<12 random hex digits>`: a valid,
/// unique PostgreSQL database name.
fn db_name(prefix: &str, test: &str) -> String {
    let test: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    let prefix: String = prefix.chars().take(16).collect();
    format!(
        "{prefix}_{test}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A [`Store`] on a database of its own: a SQLite file in a temp dir or a fresh PostgreSQL
/// database. Call [`TestDb::finish`] at the end (it drops the PostgreSQL database).
pub struct TestDb {
    /// The store (its own pool).
    pub store: Store,
    /// The database URL.
    pub url: String,
    dir: Option<TempDir>,
    pg: Option<PgDatabase>,
}

impl TestDb {
    /// A SQLite database in a fresh temp dir.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = sqlite_url(dir.path());
        TestDb {
            store: Store::connect(&url).await.unwrap(),
            url,
            dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh PostgreSQL database for `test`, or `None` when PostgreSQL is skipped under
    /// [`pg_admin_url`]'s policy.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let pg = PgDatabase::create("rd", test).await?;
        Some(TestDb {
            store: Store::connect(&pg.url).await.unwrap(),
            url: pg.url.clone(),
            dir: None,
            pg: Some(pg),
        })
    }

    /// Another store (its own pool) on the same database, as a second process would have.
    pub async fn another(&self) -> Store {
        Store::connect(&self.url).await.unwrap()
    }

    /// Closes the store and drops the PostgreSQL database (SQLite: removes the temp dir).
    pub async fn finish(self) {
        self.store.close().await;
        if let Some(pg) = self.pg {
            pg.drop_database().await;
        }
        drop(self.dir);
    }
}

/// The SQLite URL of `db.sqlite` in `dir` (created on first connect).
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display())
}

// ---------------------------------------------------------------------------------------------
// A temp Core

/// Worker timings short enough for tests: a 5 s lease, 500 ms heartbeats, 50 ms polls and
/// retries, 5 attempts.
pub fn fast_worker_settings() -> WorkerSettings {
    WorkerSettings {
        lease: Duration::from_secs(5),
        heartbeat: Duration::from_millis(500),
        poll: Duration::from_millis(50),
        retry_schedule: vec![Duration::from_millis(50); 4],
        max_attempts: 5,
        ..Default::default()
    }
}

/// Builds a [`Core`] over a fresh temp dir: `db.sqlite` (or a given database URL), workspace
/// `ws/`, config dir (default `cfg/`) with `channels/`, an optional `channels/default.yaml`.
///
/// ```ignore
/// let app = TestCore::new().channel(yaml).worker_settings(fast_worker_settings()).open().await;
/// ```
#[derive(Default)]
pub struct TestCore {
    channel_yaml: Option<String>,
    worker_settings: Option<WorkerSettings>,
    config_dir: Option<String>,
    database_url: Option<String>,
    no_channels_dir: bool,
    dir: Option<TempDir>,
}

/// An open [`Core`] and the temp dir it lives in (removed on drop: keep it alive).
pub struct OpenCore {
    /// The core.
    pub core: Arc<Core>,
    /// The temp dir holding database, workspace and config.
    pub dir: TempDir,
}

impl OpenCore {
    /// The temp dir's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The workspace root.
    pub fn root(&self) -> PathBuf {
        self.core.workspace.root().to_path_buf()
    }
}

impl TestCore {
    /// A builder with no channel file and the core's default worker settings.
    pub fn new() -> TestCore {
        TestCore::default()
    }

    /// Writes `yaml` as `channels/default.yaml` in the config dir.
    pub fn channel(mut self, yaml: &str) -> TestCore {
        self.channel_yaml = Some(yaml.to_string());
        self
    }

    /// Worker settings (default: the core's defaults; see [`fast_worker_settings`]).
    pub fn worker_settings(mut self, settings: WorkerSettings) -> TestCore {
        self.worker_settings = Some(settings);
        self
    }

    /// The config dir's name inside the temp dir (default `cfg`).
    pub fn config_dir_name(mut self, name: &str) -> TestCore {
        self.config_dir = Some(name.to_string());
        self
    }

    /// Leaves the config dir without `channels/`, as on a fresh install (the core then runs
    /// with no channel files; a runtime's watcher has no channel folder to watch).
    pub fn without_channels_dir(mut self) -> TestCore {
        self.no_channels_dir = true;
        self
    }

    /// A database URL instead of `db.sqlite` in the temp dir (e.g. a [`TestDb`]'s).
    pub fn database_url(mut self, url: &str) -> TestCore {
        self.database_url = Some(url.to_string());
        self
    }

    /// Uses `dir` instead of a fresh temp dir (e.g. to open a second core on the same files).
    pub fn in_dir(mut self, dir: TempDir) -> TestCore {
        self.dir = Some(dir);
        self
    }

    /// The [`CoreOptions`] for a core in `dir`, creating the config dir and channel file.
    pub fn options(&self, dir: &Path) -> CoreOptions {
        let config = dir.join(self.config_dir.as_deref().unwrap_or("cfg"));
        if !self.no_channels_dir || self.channel_yaml.is_some() {
            std::fs::create_dir_all(config.join("channels")).unwrap();
        }
        if let Some(y) = &self.channel_yaml {
            std::fs::write(config.join("channels/default.yaml"), y).unwrap();
        }
        CoreOptions {
            database_url: Some(self.database_url.clone().unwrap_or_else(|| sqlite_url(dir))),
            workspace: Some(dir.join("ws")),
            config_dir: Some(config),
            worker_settings: self.worker_settings.clone(),
        }
    }

    /// Opens the core in `dir` (a dir the caller keeps alive).
    pub async fn open_in(&self, dir: &Path) -> Arc<Core> {
        Core::open(self.options(dir)).await.unwrap()
    }

    /// Opens the core in its temp dir.
    pub async fn open(mut self) -> OpenCore {
        let dir = match self.dir.take() {
            Some(d) => d,
            None => tempfile::tempdir().unwrap(),
        };
        let core = self.open_in(dir.path()).await;
        OpenCore { core, dir }
    }
}

// ---------------------------------------------------------------------------------------------
// A server

/// Serves `core` over HTTP on `addr` (no worker, no mirror) in a spawned task and returns its
/// base URL `http://127.0.0.1:<port>`.
#[cfg(feature = "server")]
pub async fn spawn_server_on(
    core: Arc<Core>,
    addr: &str,
    token: Option<&str>,
) -> Result<String, reviewdesk_server::ServeError> {
    let server = reviewdesk_server::bind_with_mirror(
        core,
        None,
        None,
        reviewdesk_server::ServerConfig {
            addr: addr.parse().unwrap(),
            token: token.map(str::to_string),
            ui_dir: None,
        },
    )
    .await?;
    let base = format!("http://127.0.0.1:{}", server.local_addr.port());
    tokio::spawn(server.run(std::future::pending()));
    Ok(base)
}

/// Serves `core` on `127.0.0.1:0` without a token and returns its base URL.
#[cfg(feature = "server")]
pub async fn spawn_server(core: Arc<Core>) -> String {
    spawn_server_on(core, "127.0.0.1:0", None).await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Waiting for a state

const POLL: Duration = Duration::from_millis(20);

/// Polls `cond` every 20 ms until it holds; panics naming `what` once `deadline` has passed.
pub async fn wait_until(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_until`] for a condition that is itself async (a store query).
pub async fn wait_until_async<F, Fut>(what: &str, deadline: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    while !cond().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_until`] for synchronous tests (blocks the thread between polls).
pub fn wait_until_blocking(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}
