//! The mirror's tables belong to the core's migrations. A database made before that (the core's
//! migrations up to 20261204200000, then the tables the mirror created itself at start-up, with
//! rows in them) keeps every row when the current code opens it, and the mirror's store reads
//! them; a fresh database gets the tables from `Store::connect` alone, and the mirror creates none.

use std::path::PathBuf;

use reviewdesk_core::{Source, Store, TaskId};
use reviewdesk_sync::{DiscardedEvent, RefusedPage, StuckEvent, SyncStore};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

/// The last core migration before the mirror's tables moved into the migrations.
const LAST_MIGRATION_BEFORE: i64 = 20261204200000;
/// The migration that took the mirror's tables over.
const SYNC_TABLES_MIGRATION: i64 = 20261205000000;

/// The statements the mirror ran at every start-up before its tables moved to the core's
/// migrations (a frozen copy: the schema of every database in use today).
const SYNC_SCHEMA_BEFORE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sync_cursor (name TEXT PRIMARY KEY, value BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_pages (asset_key TEXT PRIMARY KEY, task_id TEXT NOT NULL, page_id TEXT, created_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sync_pages_task ON sync_pages (task_id)",
    "CREATE TABLE IF NOT EXISTS sync_outbox_state (task_id TEXT PRIMARY KEY, pushed_status TEXT, pushed_at BIGINT, handled_status TEXT, handled_edit TEXT)",
    "CREATE TABLE IF NOT EXISTS sync_webhook_events (event_id TEXT PRIMARY KEY, received_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_outbox (event_id BIGINT PRIMARY KEY, task_id TEXT NOT NULL, created_at BIGINT NOT NULL, \
     state TEXT NOT NULL, attempts BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL, last_error TEXT, done_at BIGINT)",
    "CREATE INDEX IF NOT EXISTS sync_outbox_by_task ON sync_outbox (task_id, state, event_id)",
    "CREATE INDEX IF NOT EXISTS sync_outbox_by_state ON sync_outbox (state, event_id)",
    "CREATE TABLE IF NOT EXISTS sync_refused_pages (page_id TEXT PRIMARY KEY, title TEXT NOT NULL, notion_status TEXT NOT NULL, \
     reason TEXT NOT NULL, error_log_written BIGINT NOT NULL, fingerprint TEXT NOT NULL, refused_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_discarded (event_id BIGINT PRIMARY KEY, task_id TEXT NOT NULL, kind TEXT NOT NULL, \
     attempts BIGINT NOT NULL, last_error TEXT, reason TEXT NOT NULL, discarded_by TEXT NOT NULL, discarded_at BIGINT NOT NULL)",
];

const SYNC_TABLES: &[&str] = &[
    "sync_cursor",
    "sync_pages",
    "sync_outbox_state",
    "sync_webhook_events",
    "sync_settings",
    "sync_outbox",
    "sync_refused_pages",
    "sync_discarded",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test: a file, or a PostgreSQL database dropped at the end.
struct TestDb {
    url: String,
    backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("reviewdesk.db").display()
        );
        TestDb {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            pg: None,
        }
    }

    /// `None` when there is no PostgreSQL, by the testkit's one policy (in CI a failure, locally
    /// a skip with the reason printed).
    async fn postgres(test: &str) -> Option<TestDb> {
        let admin = reviewdesk_testkit::pg_admin_url(test)?;
        let name = format!("rds_upgrade_{}_{}", test, &TaskId::new().to_string()[..8])
            .to_ascii_lowercase()
            .replace('-', "_");
        let url = Store::create_postgres_database(&admin, &name)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot create a test database through REVIEWDESK_TEST_PG_URL: {e}")
            });
        Some(TestDb {
            url,
            backend: Backend::Postgres,
            _dir: None,
            pg: Some((admin, name)),
        })
    }

    async fn pool(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .unwrap()
    }

    fn migrations_dir(&self) -> PathBuf {
        let backend = match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(backend)
    }

    async fn finish(self) {
        if let Some((admin, name)) = &self.pg {
            Store::drop_postgres_database(admin, name).await.unwrap();
        }
    }
}

/// Ids and values of the rows written into the schema as it was.
struct Before {
    task: TaskId,
    /// task_events ids: discarded, failing head, waiting behind it.
    events: [i64; 3],
    event_created_at: [i64; 3],
}

/// The schema of a database in use today: the core's migrations of that time, then the tables
/// the mirror created at start-up, with rows of every kind in them.
async fn make_database_as_it_was(db: &TestDb) -> Before {
    let pool = db.pool().await;
    let migrator = sqlx::migrate::Migrator::new(db.migrations_dir())
        .await
        .unwrap();
    assert!(migrator.version_exists(LAST_MIGRATION_BEFORE));
    migrator.run_to(LAST_MIGRATION_BEFORE, &pool).await.unwrap();
    for sql in SYNC_SCHEMA_BEFORE {
        sqlx::query(*sql).execute(&pool).await.unwrap();
    }

    // A task with three events in the core's log (the columns of that time).
    let task = TaskId::new();
    sqlx::query(
        "INSERT INTO tasks (id, channel_id, title, topic, story_direction, priority, priority_rank, status, \
         status_changed_at, created_at, updated_at, notion_page_id, error_log, correlation_id) \
         VALUES ($1, 'default', 'Volcanoes', 'volcanoes', 'hopeful', 'normal', 1, 'assets_ready', 1000, 1000, 1000, 'page-task', '', 'corr-1')",
    )
    .bind(task.to_string())
    .execute(&pool)
    .await
    .unwrap();
    let mut events = [0; 3];
    let event_created_at = [1_000, 2_000, 3_000];
    for (i, (kind, at)) in ["created", "status_changed", "status_changed"]
        .into_iter()
        .zip(event_created_at)
        .enumerate()
    {
        events[i] = sqlx::query(
            "INSERT INTO task_events (task_id, kind, from_status, to_status, source, payload, correlation_id, created_at) \
             VALUES ($1, $2, NULL, 'assets_ready', 'worker', '{}', 'corr-1', $3) RETURNING id",
        )
        .bind(task.to_string())
        .bind(kind)
        .bind(at)
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get::<i64, _>("id")
        .unwrap();
    }
    let [discarded, head, behind] = events;

    let statements: Vec<(&str, Vec<Value>)> = vec![
        (
            "INSERT INTO sync_cursor (name, value, updated_at) VALUES ($1, $2, $3)",
            vec![
                Value::s("out:task_events"),
                Value::i(behind),
                Value::i(4_000),
            ],
        ),
        (
            "INSERT INTO sync_cursor (name, value, updated_at) VALUES ($1, $2, $3)",
            vec![Value::s("out:floor"), Value::i(0), Value::i(500)],
        ),
        (
            "INSERT INTO sync_cursor (name, value, updated_at) VALUES ($1, $2, $3)",
            vec![
                Value::s("in:science_daily"),
                Value::i(1_234),
                Value::i(4_000),
            ],
        ),
        (
            "INSERT INTO sync_pages (asset_key, task_id, page_id, created_at) VALUES ($1, $2, $3, $4)",
            vec![
                Value::S(format!("task:{task}")),
                Value::S(task.to_string()),
                Value::s("page-task"),
                Value::i(1_100),
            ],
        ),
        (
            "INSERT INTO sync_pages (asset_key, task_id, page_id, created_at) VALUES ($1, $2, NULL, $3)",
            vec![
                Value::S(format!("{task}/hero")),
                Value::S(task.to_string()),
                Value::i(1_200),
            ],
        ),
        (
            "INSERT INTO sync_outbox_state (task_id, pushed_status, pushed_at, handled_status, handled_edit) VALUES ($1, $2, $3, $4, $5)",
            vec![
                Value::S(task.to_string()),
                Value::s("Assets Ready"),
                Value::i(2_500),
                Value::s("Approved"),
                Value::s("2026-12-04T10:00:00.000Z"),
            ],
        ),
        (
            "INSERT INTO sync_webhook_events (event_id, received_at) VALUES ($1, $2)",
            vec![Value::s("evt-a"), Value::i(1_000)],
        ),
        (
            "INSERT INTO sync_webhook_events (event_id, received_at) VALUES ($1, $2)",
            vec![Value::s("evt-b"), Value::i(2_000)],
        ),
        (
            "INSERT INTO sync_settings (name, value) VALUES ($1, $2)",
            vec![Value::s("webhook_token"), Value::s("secret_trusted")],
        ),
        (
            "INSERT INTO sync_outbox (event_id, task_id, created_at, state, attempts, next_attempt_at, last_error, done_at) \
             VALUES ($1, $2, $3, 'discarded', 5, 0, 'Notion refused the page', 3500)",
            vec![
                Value::i(discarded),
                Value::S(task.to_string()),
                Value::i(event_created_at[0]),
            ],
        ),
        (
            "INSERT INTO sync_outbox (event_id, task_id, created_at, state, attempts, next_attempt_at, last_error) \
             VALUES ($1, $2, $3, 'pending', 3, 9000, 'Notion is unreachable')",
            vec![
                Value::i(head),
                Value::S(task.to_string()),
                Value::i(event_created_at[1]),
            ],
        ),
        (
            "INSERT INTO sync_outbox (event_id, task_id, created_at, state, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, 'pending', 0, 0)",
            vec![
                Value::i(behind),
                Value::S(task.to_string()),
                Value::i(event_created_at[2]),
            ],
        ),
        (
            "INSERT INTO sync_discarded (event_id, task_id, kind, attempts, last_error, reason, discarded_by, discarded_at) \
             VALUES ($1, $2, 'created', 5, 'Notion refused the page', 'page deleted by hand', 'ana', 3500)",
            vec![Value::i(discarded), Value::S(task.to_string())],
        ),
        (
            "INSERT INTO sync_refused_pages (page_id, title, notion_status, reason, error_log_written, fingerprint, refused_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $6)",
            vec![
                Value::s("page-refused"),
                Value::s("A title far too long"),
                Value::s("Queued"),
                Value::s("the title is longer than 200 characters"),
                Value::s("edit-1|Queued"),
                Value::i(3_700),
            ],
        ),
    ];
    for (sql, values) in statements {
        let mut q = sqlx::query(sql);
        for v in values {
            q = match v {
                Value::S(s) => q.bind(s),
                Value::I(i) => q.bind(i),
            };
        }
        q.execute(&pool).await.unwrap();
    }
    pool.close().await;
    Before {
        task,
        events,
        event_created_at,
    }
}

enum Value {
    S(String),
    I(i64),
}

impl Value {
    fn s(s: &str) -> Value {
        Value::S(s.to_string())
    }
    fn i(i: i64) -> Value {
        Value::I(i)
    }
}

async fn applied_versions(store: &Store) -> Vec<i64> {
    sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<i64, _>("version").unwrap())
        .collect()
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM {table}"
    )))
    .fetch_one(store.pool())
    .await
    .unwrap()
    .try_get("n")
    .unwrap()
}

async fn upgrade_keeps_the_mirrors_rows(db: TestDb) {
    let before = make_database_as_it_was(&db).await;
    let Before {
        task,
        events: [discarded, head, behind],
        event_created_at,
    } = before;

    // The current code opens it: the core's migrations run (the mirror's one included) ...
    let store = Store::connect(&db.url).await.unwrap();
    assert!(
        applied_versions(&store)
            .await
            .contains(&SYNC_TABLES_MIGRATION)
    );
    // ... and change no row.
    for (table, n) in [
        ("sync_cursor", 3),
        ("sync_pages", 2),
        ("sync_outbox_state", 1),
        ("sync_webhook_events", 2),
        ("sync_settings", 1),
        ("sync_outbox", 3),
        ("sync_discarded", 1),
        ("sync_refused_pages", 1),
    ] {
        assert_eq!(count(&store, table).await, n, "{table}");
    }

    // The mirror's store reads every row.
    let sync = SyncStore::open(store.pool()).await.unwrap();
    assert_eq!(sync.cursor("out:task_events").await.unwrap(), behind);
    assert_eq!(sync.cursor("out:floor").await.unwrap(), 0);
    assert_eq!(sync.cursor("in:science_daily").await.unwrap(), 1_234);
    let mut pages = sync.pages(task).await.unwrap();
    pages.sort();
    let mut expected = vec![
        (format!("task:{task}"), Some("page-task".to_string())),
        (format!("{task}/hero"), None),
    ];
    expected.sort();
    assert_eq!(pages, expected);
    assert_eq!(
        sync.page(&format!("task:{task}")).await.unwrap(),
        Some(Some("page-task".to_string()))
    );
    let state = sync.outbox(task).await.unwrap();
    assert_eq!(state.pushed_status.as_deref(), Some("Assets Ready"));
    assert_eq!(state.handled_status.as_deref(), Some("Approved"));
    assert_eq!(
        state.handled_edit.as_deref(),
        Some("2026-12-04T10:00:00.000Z")
    );
    assert_eq!(
        sync.webhook_event_ids().await.unwrap(),
        vec!["evt-a".to_string(), "evt-b".to_string()]
    );
    assert!(!sync.first_delivery("evt-a").await.unwrap());
    assert_eq!(
        sync.setting("webhook_token").await.unwrap().as_deref(),
        Some("secret_trusted")
    );
    let refused = RefusedPage {
        page_id: "page-refused".into(),
        title: "A title far too long".into(),
        notion_status: "Queued".into(),
        reason: "the title is longer than 200 characters".into(),
        error_log_written: true,
        fingerprint: "edit-1|Queued".into(),
        refused_at: 3_700,
    };
    assert_eq!(sync.refused_pages().await.unwrap(), vec![refused.clone()]);
    assert_eq!(
        sync.refused_page("page-refused").await.unwrap(),
        Some(refused)
    );
    assert_eq!(
        sync.discarded().await.unwrap(),
        vec![DiscardedEvent {
            event_id: discarded,
            task_id: task.to_string(),
            kind: "created".into(),
            attempts: 5,
            last_error: Some("Notion refused the page".into()),
            reason: "page deleted by hand".into(),
            discarded_by: "ana".into(),
            discarded_at: 3_500,
        }]
    );
    assert_eq!(
        sync.stuck().await.unwrap(),
        vec![StuckEvent {
            event_id: head,
            task_id: task.to_string(),
            attempts: 3,
            next_attempt_at: 9_000,
            last_error: Some("Notion is unreachable".into()),
            waiting: 2,
        }]
    );
    assert_eq!(
        sync.heads().await.unwrap(),
        vec![(task.to_string(), head, 9_000)]
    );
    assert_eq!(
        sync.pending_of(&task.to_string()).await.unwrap(),
        vec![(head, 3), (behind, 0)]
    );
    assert_eq!(
        sync.waiting().await.unwrap(),
        (2, Some(event_created_at[1]))
    );

    // The outbox goes on from its cursor: a rescan takes nothing twice (nor the discarded
    // event), and a new event of the log is taken in behind the waiting ones.
    assert_eq!(sync.intake(10).await.unwrap(), 0);
    store
        .append_log(task, "a line after the upgrade", Source::Worker)
        .await
        .unwrap();
    assert_eq!(sync.intake(0).await.unwrap(), 1);
    let pending = sync.pending_of(&task.to_string()).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert_eq!(&pending[..2], &[(head, 3), (behind, 0)]);
    assert!(pending[2].0 > behind);
    assert_eq!(sync.cursor("out:task_events").await.unwrap(), pending[2].0);
    store.close().await;

    // Opening it again changes nothing (the migration ran once).
    let store = Store::connect(&db.url).await.unwrap();
    let sync = SyncStore::open(store.pool()).await.unwrap();
    assert_eq!(sync.pending_of(&task.to_string()).await.unwrap(), pending);
    assert_eq!(count(&store, "sync_pages").await, 2);
    store.close().await;
    db.finish().await;
}

/// A database the mirror never opened gets the mirror's tables from the core's migrations.
async fn fresh_database_gets_the_mirrors_tables(db: TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    for table in SYNC_TABLES {
        assert_eq!(count(&store, table).await, 0, "{table}");
    }
    let sync = SyncStore::open(store.pool()).await.unwrap();
    assert!(sync.set_setting_if_absent("k", "v").await.unwrap());
    assert_eq!(sync.waiting().await.unwrap(), (0, None));
    store.close().await;
    db.finish().await;
}

/// The mirror creates no table: on a database the core's migrations never ran on, opening the
/// mirror's store fails and leaves the database as it was.
async fn mirror_creates_no_table(db: TestDb) {
    let pool = db.pool().await;
    assert!(SyncStore::open(&pool).await.is_err());
    let exists = match db.backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name LIKE 'sync%'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name LIKE 'sync%'"
        }
    };
    let n: i64 = sqlx::query(exists)
        .fetch_one(&pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(n, 0);
    pool.close().await;
    db.finish().await;
}

#[tokio::test]
async fn upgrade_keeps_the_mirrors_rows_on_sqlite() {
    upgrade_keeps_the_mirrors_rows(TestDb::sqlite()).await;
}

#[tokio::test]
async fn upgrade_keeps_the_mirrors_rows_on_postgres() {
    if let Some(db) = TestDb::postgres("keeps_rows").await {
        upgrade_keeps_the_mirrors_rows(db).await;
    }
}

#[tokio::test]
async fn fresh_database_gets_the_mirrors_tables_on_sqlite() {
    fresh_database_gets_the_mirrors_tables(TestDb::sqlite()).await;
}

#[tokio::test]
async fn fresh_database_gets_the_mirrors_tables_on_postgres() {
    if let Some(db) = TestDb::postgres("fresh").await {
        fresh_database_gets_the_mirrors_tables(db).await;
    }
}

#[tokio::test]
async fn mirror_creates_no_table_on_sqlite() {
    mirror_creates_no_table(TestDb::sqlite()).await;
}

#[tokio::test]
async fn mirror_creates_no_table_on_postgres() {
    if let Some(db) = TestDb::postgres("no_table").await {
        mirror_creates_no_table(db).await;
    }
}
