//! Scenario tests of the Notion mirror against the Notion double: one test binary, one module per
//! area; the shared world (`Env`, `env_on`, `on_both!`) and helpers are here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notion_double::{
    DoubleConfig, FaultKind, FaultRule, NotionDouble, RandomFaults, RendezvousRule,
};
use reviewdesk_core::config::NotionIds;
use reviewdesk_core::{Core, NewTask, Source, Status, Task, TaskService, Worker};
use reviewdesk_notion::{
    ClientConfig, DataSourceId, DatabaseId, Filter, NotionClient, NotionToken, Page, PageId,
    PropertyValue, Query,
};
use reviewdesk_settings::{MemoryKeyring, SecretBackend, SecretStore};
use reviewdesk_sync::{Mirror, MirrorConfig, setup};
use reviewdesk_testkit::{
    PgDatabase, TestCore, fast_worker_settings, sqlite_url, wait_until_async,
};
use serde_json::json;

struct Env {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    double: NotionDouble,
    ids: NotionIds,
    core: Arc<Core>,
    mirror: Arc<Mirror>,
    /// The scenario's PostgreSQL database, when it runs on PostgreSQL.
    pg: Option<PgDatabase>,
}

impl Env {
    /// Closes the pool and, on PostgreSQL, drops the scenario's database.
    async fn finish(self) {
        let Env {
            core, mirror, pg, ..
        } = self;
        drop(mirror);
        core.store.close().await;
        if let Some(pg) = pg {
            pg.drop_database().await;
        }
    }
}

/// The database a scenario runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Db {
    Sqlite,
    Postgres,
}

fn client(double: &NotionDouble, fast: bool) -> NotionClient {
    let mut cfg = ClientConfig::default()
        .base_url(double.url())
        .backoff_base(Duration::from_millis(20))
        .timeout(Duration::from_secs(10));
    if fast {
        cfg = cfg.rate(500.0, 50);
    }
    NotionClient::with_config(NotionToken::new(double.token()), cfg).unwrap()
}

fn mirror_config() -> MirrorConfig {
    MirrorConfig {
        poll_interval: Duration::from_millis(200),
        out_interval: Duration::from_millis(100),
        backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        // Never the machine's real keyring: an empty one, then the process environment.
        secrets: SecretStore::new(Arc::new(MemoryKeyring::new())),
        webhook_event_retention: MirrorConfig::default().webhook_event_retention,
    }
}

/// A keyring holding `items` and an empty environment.
fn keyring_only(items: &[(&str, &str)]) -> (Arc<MemoryKeyring>, SecretStore) {
    let keyring = Arc::new(MemoryKeyring::new());
    for (k, v) in items {
        keyring.set(k, v).unwrap();
    }
    let store = SecretStore::new(keyring.clone()).with_env(|_| None);
    (keyring, store)
}

async fn open_core(dir: &std::path::Path) -> Arc<Core> {
    open_core_on(dir, sqlite_url(dir)).await
}

async fn open_core_on(dir: &std::path::Path, database_url: String) -> Arc<Core> {
    TestCore::new()
        .config_dir_name("config")
        .worker_settings(fast_worker_settings())
        .database_url(&database_url)
        .open_in(dir)
        .await
}

async fn env(double_cfg: DoubleConfig, fast: bool, storage: &str) -> Env {
    env_on(Db::Sqlite, "", double_cfg, fast, storage)
        .await
        .expect("SQLite always runs")
}

/// A scenario's world on the given database; `None` when PostgreSQL is not available.
async fn env_on(
    db: Db,
    test: &str,
    double_cfg: DoubleConfig,
    fast: bool,
    storage: &str,
) -> Option<Env> {
    env_with_channel(db, test, double_cfg, fast, storage, "").await
}

/// Like [`env_on`], with `channel_yaml` appended to the channel file.
async fn env_with_channel(
    db: Db,
    test: &str,
    double_cfg: DoubleConfig,
    fast: bool,
    storage: &str,
    channel_yaml: &str,
) -> Option<Env> {
    let pg = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(PgDatabase::create("rds_sync", test).await?),
    };
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let double = NotionDouble::start(double_cfg).await.unwrap();
    let parent = double.seed_page("Review Desk");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("config/channels")).unwrap();
    let yaml = dir.join("config/channels/default.yaml");
    std::fs::write(
        &yaml,
        format!(
            "channel_id: default\nchannel_name: Deep Sea\nstorage_strategy: {storage}\n{channel_yaml}"
        ),
    )
    .unwrap();
    let c = client(&double, true);
    let ids = setup::init(&c, &PageId::new(&parent), "Deep Sea")
        .await
        .unwrap();
    setup::write_channel_ids(&yaml, &ids).unwrap();
    let core = match &pg {
        Some(pg) => open_core_on(&dir, pg.url.clone()).await,
        None => open_core(&dir).await,
    };
    assert_eq!(
        core.store.backend() == reviewdesk_core::store::Backend::Postgres,
        db == Db::Postgres
    );
    let mirror = Mirror::new(core.clone(), client(&double, fast), mirror_config())
        .await
        .unwrap();
    Some(Env {
        _dir: tmp,
        dir,
        double,
        ids,
        core,
        mirror,
        pg,
    })
}

/// Runs a scenario `async fn name(e: &Env)` on SQLite (`name`) and on PostgreSQL
/// (`name_on_postgres`, skipped without `REVIEWDESK_TEST_PG_URL`).
macro_rules! on_both {
    ($name:ident, $pg_name:ident, $scenario:ident, $cfg:expr, $fast:expr, $storage:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let e = env_on(Db::Sqlite, "", $cfg, $fast, $storage).await.unwrap();
            $scenario(&e).await;
            e.finish().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $pg_name() {
            let Some(e) = env_on(Db::Postgres, stringify!($scenario), $cfg, $fast, $storage).await
            else {
                return;
            };
            $scenario(&e).await;
            e.finish().await;
        }
    };
}

async fn add_task(core: &Arc<Core>, title: &str) -> Task {
    TaskService::new(core.clone())
        .create(
            NewTask {
                title: title.into(),
                topic: "deep sea creatures".into(),
                story_direction: "curious and calm".into(),
                ..Default::default()
            },
            Source::Cli,
        )
        .await
        .unwrap()
}

async fn run_worker(core: &Arc<Core>) {
    tokio::time::timeout(
        Duration::from_secs(120),
        Worker::new(core.clone()).run_until_idle(),
    )
    .await
    .expect("worker finished in time")
    .unwrap();
}

async fn ds(c: &NotionClient, db: &Option<String>) -> DataSourceId {
    c.data_source_ids(&DatabaseId::new(db.as_ref().unwrap()))
        .await
        .unwrap()
        .remove(0)
        .id
}

/// A new page titled `title` in the channel's Tasks database, created through the API as the
/// integration would; a test then edits it as a person, the way a creator does in Notion.
async fn new_task_page(e: &Env, title: &str) -> String {
    let c = client(&e.double, true);
    let tasks = ds(&c, &e.ids.tasks_database_id).await;
    c.create_page(&reviewdesk_notion::NewPage {
        parent: reviewdesk_notion::PageParent::DataSource(tasks),
        properties: vec![("Title".into(), PropertyValue::title(title))],
        children: vec![],
    })
    .await
    .unwrap()
    .id
    .to_string()
}

async fn asset_rows(e: &Env, task_page: &str) -> Vec<Page> {
    let c = client(&e.double, true);
    let assets = ds(&c, &e.ids.assets_database_id).await;
    c.query_data_source(
        &assets,
        &Query {
            filter: Some(Filter::relation_contains("Task", &PageId::new(task_page))),
            ..Query::default()
        },
    )
    .await
    .unwrap()
}

async fn notion_status(e: &Env, page: &str) -> String {
    let c = client(&e.double, true);
    c.retrieve_page(&PageId::new(page))
        .await
        .unwrap()
        .get("Status")
        .and_then(PropertyValue::plain_text)
        .unwrap_or_default()
}

async fn push_until_done(m: &Mirror, deadline: Duration) {
    let start = Instant::now();
    loop {
        match m.push_once().await {
            Ok(_) => return,
            Err(e) => {
                assert!(start.elapsed() < deadline, "push did not finish: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Creates a task, mirrors its creation, runs it to Assets Ready and publishes.
async fn task_at_assets_ready(e: &Env) -> (Task, String) {
    let task = add_task(&e.core, "Ocean").await;
    push_until_done(&e.mirror, Duration::from_secs(30)).await;
    run_worker(&e.core).await;
    push_until_done(&e.mirror, Duration::from_secs(120)).await;
    let task = e.core.store.task(task.id).await.unwrap();
    assert_eq!(task.status, Status::AssetsReady);
    let page = task.notion_page_id.clone().expect("task page recorded");
    (task, page)
}

fn has_file(p: &Page) -> bool {
    matches!(p.get("File"), Some(PropertyValue::Files(f)) if !f.is_empty())
}

mod clips;
mod from_notion;
mod lifecycle;
mod mirror_state;
mod publish;
mod r2;
mod webhook;
