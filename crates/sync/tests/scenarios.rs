//! Scenario tests of the Notion mirror against the Notion double.

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
        format!("channel_id: default\nchannel_name: Deep Sea\nstorage_strategy: {storage}\n"),
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

// Check 1.
on_both!(
    publish_with_notion_storage_assets_before_status_within_request_budget,
    publish_with_notion_storage_on_postgres,
    publish_scenario,
    DoubleConfig::default(),
    false,
    "notion"
);

async fn publish_scenario(e: &Env) {
    let task = add_task(&e.core, "Ocean").await;
    push_until_done(&e.mirror, Duration::from_secs(30)).await;
    let page = e
        .core
        .store
        .task(task.id)
        .await
        .unwrap()
        .notion_page_id
        .unwrap();
    run_worker(&e.core).await;
    e.double.clear_requests();
    let start = Instant::now();
    e.mirror.push_once().await.unwrap();
    let took = start.elapsed();
    let log = e.double.requests();
    let bound = 22 * 3 + 5;
    println!(
        "publish: {} requests (bound {bound}) in {:.1}s; the 3 req/s limit allows it in {:.1}s",
        log.len(),
        took.as_secs_f64(),
        log.len() as f64 / 3.0
    );
    assert!(log.len() <= bound, "{} requests", log.len());
    assert!(
        log.iter().all(|r| r.status != Some(429)),
        "a 429 was answered"
    );
    let creates: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "POST" && r.path == "/v1/pages")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(creates.len(), 22);
    let status_at = log
        .iter()
        .position(|r| {
            r.method == "PATCH"
                && r.path.ends_with(&page.replace('-', "")) | r.path.ends_with(&page)
                && r.body.contains("Assets Ready")
        })
        .expect("status pushed");
    assert!(
        creates.iter().all(|&i| i < status_at),
        "assets published before the status"
    );
    let rows = asset_rows(e, &page).await;
    assert_eq!(rows.len(), 22);
    assert!(rows.iter().all(has_file), "every row has its file");
    assert_eq!(notion_status(e, &page).await, "Assets Ready");
}

// Check 3.
on_both!(
    approve_in_notion_resumes_task_with_person_in_audit,
    approve_in_notion_on_postgres,
    approve_scenario,
    DoubleConfig::default().without_rate_limit(),
    true,
    "none"
);

async fn approve_scenario(e: &Env) {
    let (task, page) = task_at_assets_ready(e).await;
    let ana = e.double.add_person("Ana Reviewer", Some("ana@example.com"));
    let runner = tokio::spawn(e.mirror.clone().run());
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Assets Approved"}}}}),
        )
        .unwrap();
    let edited = Instant::now();
    let core = e.core.clone();
    wait_until_async("the approval", Duration::from_secs(5), || {
        let core = core.clone();
        async move { core.store.task(task.id).await.unwrap().status != Status::AssetsReady }
    })
    .await;
    println!(
        "approved locally {:?} after the Notion edit (poll interval 200 ms)",
        edited.elapsed()
    );
    assert!(edited.elapsed() < Duration::from_millis(200) + Duration::from_secs(1));
    let audit = e.core.store.audit(task.id).await.unwrap();
    let row = audit
        .iter()
        .find(|a| a.decision == "approve")
        .expect("audit row");
    assert_eq!(row.source, "notion");
    assert_eq!(row.reviewer.id.as_deref(), Some(ana.as_str()));
    runner.abort();
}

// Check 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_in_notion_with_two_rows_regenerates_only_those() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "notion").await;
    let (task, page) = task_at_assets_ready(&e).await;
    let ana = e.double.add_person("Ana", None);
    let rows = asset_rows(&e, &page).await;
    let mut rejected = Vec::new();
    for r in rows.iter().take(2) {
        e.double
            .edit_page_as(
                r.id.as_str(),
                &ana,
                &json!({"properties":{"Status":{"select":{"name":"rejected"}}}}),
            )
            .unwrap();
        rejected.push(
            r.get("Asset Key")
                .and_then(PropertyValue::plain_text)
                .unwrap(),
        );
    }
    let log = format!(
        "{}\nmake the fish bluer",
        e.core.store.task(task.id).await.unwrap().error_log
    );
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{
                "Status":{"select":{"name":"Asset Error"}},
                "Error Log":{"rich_text":[{"type":"text","text":{"content":log}}]}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    let t = e.core.store.task(task.id).await.unwrap();
    assert_eq!(t.status, Status::AssetError);
    let audit = e.core.store.audit(task.id).await.unwrap();
    let rej = audit.iter().rev().find(|a| a.decision == "reject").unwrap();
    assert_eq!(rej.reason.as_deref(), Some("make the fish bluer"));
    assert_eq!(rej.flagged.len(), 2);
    // Retry (from Notion too), regenerate, publish.
    push_until_done(&e.mirror, Duration::from_secs(30)).await;
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Queued"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::Queued
    );
    run_worker(&e.core).await;
    push_until_done(&e.mirror, Duration::from_secs(60)).await;
    let assets = e.core.store.assets(task.id).await.unwrap();
    let v2: Vec<_> = assets.iter().filter(|a| a.current_version == 2).collect();
    assert_eq!(v2.len(), 2, "only the 2 flagged assets were regenerated");
    let rows = asset_rows(&e, &page).await;
    assert_eq!(rows.len(), 24);
    for a in v2 {
        let key = reviewdesk_sync::asset_key(task.id, &a.name, 2);
        assert!(
            rows.iter()
                .any(|r| r.get("Asset Key").and_then(PropertyValue::plain_text)
                    == Some(key.clone())
                    && has_file(r))
        );
        assert!(rejected.contains(&reviewdesk_sync::asset_key(task.id, &a.name, 1)));
    }
    assert_eq!(notion_status(&e, &page).await, "Assets Ready");
}

// Check 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_drag_is_reverted_with_reason() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let (task, page) = task_at_assets_ready(&e).await;
    let ana = e.double.add_person("Ana", None);
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Upload Complete"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::AssetsReady
    );
    assert_eq!(notion_status(&e, &page).await, "Assets Ready");
    let c = client(&e.double, true);
    let log = c
        .retrieve_page(&PageId::new(&page))
        .await
        .unwrap()
        .get("Error Log")
        .and_then(PropertyValue::plain_text)
        .unwrap();
    assert!(
        log.contains("Upload Complete") && log.contains("not a move the pipeline allows"),
        "{log}"
    );
    // A second poll changes nothing more.
    e.mirror.pull_once().await.unwrap();
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::AssetsReady
    );
}

// Check 8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_approval_while_notion_down_arrives_later() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let (task, page) = task_at_assets_ready(&e).await;
    e.double
        .inject_fault(FaultRule::next(1000, FaultKind::Status(503)));
    reviewdesk_core::ReviewService::new(e.core.clone())
        .approve(
            task.id,
            reviewdesk_core::ReviewInput::by(
                Source::Desktop,
                reviewdesk_core::review::local_reviewer(),
            ),
        )
        .await
        .unwrap();
    assert!(e.mirror.push_once().await.is_err());
    match e.mirror.state().await {
        reviewdesk_core::api::MirrorState::Connected { waiting, .. }
        | reviewdesk_core::api::MirrorState::Error { waiting, .. } => assert!(waiting >= 1),
        other => panic!("{other:?}"),
    }
    e.double.clear_faults();
    push_until_done(&e.mirror, Duration::from_secs(30)).await;
    assert_eq!(notion_status(&e, &page).await, "Assets Approved");
}

// Check 6, child side: run by `publish_killed_midway_resumes_without_duplicates` in a separate
// process (this test binary re-executed), which it SIGKILLs half way through the publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by publish_killed_midway_resumes_without_duplicates"]
async fn child_mirror_process() {
    let (Ok(dir), Ok(url), Ok(token)) = (
        std::env::var("SYNC_CHILD_DIR"),
        std::env::var("SYNC_CHILD_NOTION_URL"),
        std::env::var("SYNC_CHILD_NOTION_TOKEN"),
    ) else {
        return;
    };
    let core = open_core(std::path::Path::new(&dir)).await;
    let cfg = ClientConfig::default()
        .base_url(url)
        .rate(20.0, 1)
        .backoff_base(Duration::from_millis(20));
    let c = NotionClient::with_config(NotionToken::new(token), cfg).unwrap();
    let m = Mirror::new(core, c, mirror_config()).await.unwrap();
    push_until_done(&m, Duration::from_secs(120)).await;
}

// Check 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_killed_midway_resumes_without_duplicates() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "notion").await;
    let task = add_task(&e.core, "Ocean").await;
    push_until_done(&e.mirror, Duration::from_secs(30)).await;
    let page = e
        .core
        .store
        .task(task.id)
        .await
        .unwrap()
        .notion_page_id
        .unwrap();
    run_worker(&e.core).await;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_mirror_process",
            "--ignored",
            "--nocapture",
        ])
        .env("SYNC_CHILD_DIR", &e.dir)
        .env("SYNC_CHILD_NOTION_URL", e.double.url())
        .env("SYNC_CHILD_NOTION_TOKEN", e.double.token())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let d = &e.double;
    let creates = || {
        d.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/pages")
            .count()
    };
    wait_until_async("half the asset pages", Duration::from_secs(60), || async {
        creates() >= 12
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = creates();
    assert!(
        before < 23,
        "killed before the publish finished ({before} creates)"
    );
    // Restart: a fresh mirror over the same database.
    let core = open_core(&e.dir).await;
    let again = Mirror::new(core, client(&e.double, true), mirror_config())
        .await
        .unwrap();
    push_until_done(&again, Duration::from_secs(60)).await;
    let rows = asset_rows(&e, &page).await;
    let mut keys: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get("Asset Key").and_then(PropertyValue::plain_text))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(rows.len(), 22, "no duplicate pages");
    assert_eq!(keys.len(), 22);
    assert!(rows.iter().all(has_file));
    assert_eq!(notion_status(&e, &page).await, "Assets Ready");
}

// Check 7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_faults_reach_the_same_end_state() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "notion").await;
    let task = add_task(&e.core, "Ocean").await;
    push_until_done(&e.mirror, Duration::from_secs(30)).await;
    let page = e
        .core
        .store
        .task(task.id)
        .await
        .unwrap()
        .notion_page_id
        .unwrap();
    run_worker(&e.core).await;
    e.double.inject_random_faults(RandomFaults {
        ratio: 0.2,
        seed: 7,
        kinds: vec![
            FaultKind::Status(503),
            FaultKind::Status(429),
            FaultKind::DropConnection,
        ],
        methods: vec![],
        path_prefix: None,
        retry_after: Some(1),
    });
    push_until_done(&e.mirror, Duration::from_secs(120)).await;
    e.double.clear_faults();
    let rows = asset_rows(&e, &page).await;
    assert_eq!(rows.len(), 22);
    assert!(rows.iter().all(has_file));
    assert_eq!(notion_status(&e, &page).await, "Assets Ready");
}

// Queued on an unknown page creates a local task; Cancelled cancels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_page_in_notion_becomes_a_local_task_and_cancel_cancels() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let c = client(&e.double, true);
    let tasks_ds = ds(&c, &e.ids.tasks_database_id).await;
    let ana = e.double.add_person("Ana", None);
    let p = c
        .create_page(&reviewdesk_notion::NewPage {
            parent: reviewdesk_notion::PageParent::DataSource(tasks_ds),
            properties: vec![("Title".into(), PropertyValue::title("Whales"))],
            children: vec![],
        })
        .await
        .unwrap();
    e.double
        .edit_page_as(
            p.id.as_str(),
            &ana,
            &json!({"properties":{
            "Status":{"select":{"name":"Queued"}},
            "Topic":{"rich_text":[{"type":"text","text":{"content":"whale songs"}}]},
            "Channel":{"select":{"name":"default"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    let t = e
        .core
        .store
        .task_by_notion_page(p.id.as_str())
        .await
        .unwrap()
        .expect("created");
    assert_eq!(t.topic, "whale songs");
    e.mirror.pull_once().await.unwrap();
    e.double
        .edit_page_as(
            p.id.as_str(),
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Cancelled"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    assert_eq!(
        e.core.store.task(t.id).await.unwrap().status,
        Status::Cancelled
    );
}

// One page that cannot be applied does not stop the poll: the decision on another page, edited
// after it, still arrives; the refused page's Error Log says why, and the refusal is kept
// locally until the creator fixes the page.
on_both!(
    a_page_that_cannot_be_applied_is_recorded_and_the_poll_goes_on,
    a_page_that_cannot_be_applied_on_postgres,
    refused_page_scenario,
    DoubleConfig::default().without_rate_limit(),
    true,
    "none"
);

async fn refused_page_scenario(e: &Env) {
    use reviewdesk_core::api::MirrorState;
    let (task, page) = task_at_assets_ready(e).await;
    let c = client(&e.double, true);
    let tasks_ds = ds(&c, &e.ids.tasks_database_id).await;
    let ana = e.double.add_person("Ana", None);
    let bad = c
        .create_page(&reviewdesk_notion::NewPage {
            parent: reviewdesk_notion::PageParent::DataSource(tasks_ds),
            properties: vec![("Title".into(), PropertyValue::title("draft"))],
            children: vec![],
        })
        .await
        .unwrap();
    let bad = bad.id.to_string();
    // A new task whose title is one character too long (the core allows 200)…
    e.double
        .edit_page_as(
            &bad,
            &ana,
            &json!({"properties":{
                "Title":{"title":[{"type":"text","text":{"content":"w".repeat(201)}}]},
                "Status":{"select":{"name":"Queued"}}}}),
        )
        .unwrap();
    // …then, strictly later, a decision on another page.
    e.double.advance_clock(Duration::from_secs(61));
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Assets Approved"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    assert_ne!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::AssetsReady,
        "the later decision was applied"
    );
    assert!(
        e.core
            .store
            .task_by_notion_page(&bad)
            .await
            .unwrap()
            .is_none()
    );
    let error_log = |c: NotionClient, id: String| async move {
        c.retrieve_page(&PageId::new(id))
            .await
            .unwrap()
            .get("Error Log")
            .and_then(PropertyValue::plain_text)
            .unwrap_or_default()
    };
    let log = error_log(c.clone(), bad.clone()).await;
    assert!(
        log.contains("Queued: Review Desk did not apply this change")
            && log.contains("invalid title: at most 200 characters")
            && log.contains("set its Status again"),
        "{log}"
    );
    let refused = e.mirror.store().refused_pages().await.unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].page_id, bad);
    assert_eq!(refused[0].notion_status, "Queued");
    assert!(refused[0].error_log_written);
    assert!(refused[0].reason.contains("at most 200 characters"));
    match e.mirror.state().await {
        MirrorState::Error { message, .. } => assert!(
            message.contains("was not applied") && message.contains("at most 200 characters"),
            "{message}"
        ),
        other => panic!("expected the refused page in the status: {other:?}"),
    }
    // The next poll reads the page again (poll margin) but writes nothing twice.
    e.mirror.pull_once().await.unwrap();
    let again = error_log(c.clone(), bad.clone()).await;
    assert_eq!(again.matches("did not apply").count(), 1, "{again}");

    // The creator shortens the title: the page is applied and the refusal forgotten.
    e.double
        .edit_page_as(
            &bad,
            &ana,
            &json!({"properties":{"Title":{"title":[{"type":"text","text":{"content":"Whales"}}]}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    let created = e
        .core
        .store
        .task_by_notion_page(&bad)
        .await
        .unwrap()
        .expect("created once the title fits");
    assert_eq!(created.title, "Whales");
    assert!(e.mirror.store().refused_pages().await.unwrap().is_empty());
    assert!(matches!(
        e.mirror.state().await,
        MirrorState::Connected { .. }
    ));
}

// `check` finds nothing wrong after `init`, and names a missing property.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_after_init_is_clean_and_names_fixes() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let c = client(&e.double, true);
    let found = setup::check(&c, &e.ids).await.unwrap();
    assert!(found.is_empty(), "{found:?}");
    let tasks_ds = ds(&c, &e.ids.tasks_database_id).await;
    c.update_data_source(
        &tasks_ds,
        &reviewdesk_notion::DataSourceUpdate {
            title: None,
            properties: vec![(
                "Retry Status".into(),
                reviewdesk_notion::SchemaChange::Remove,
            )],
        },
        reviewdesk_notion::Idempotency::Idempotent,
    )
    .await
    .unwrap();
    let found = setup::check(&c, &e.ids).await.unwrap();
    assert!(
        found
            .iter()
            .any(|f| f.message.contains("\"Retry Status\" is missing")),
        "{found:?}"
    );
}

// Check 9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhook_pulls_the_page_at_once_and_forgery_is_refused() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let (task, page) = task_at_assets_ready(&e).await;
    let server = reviewdesk_server::bind_with_mirror(
        e.core.clone(),
        None,
        Some(e.mirror.clone()),
        reviewdesk_server::ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: None,
            ui_dir: None,
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.local_addr);
    let url = format!("{base}/api/notion/webhook");
    tokio::spawn(server.run(std::future::pending()));
    let http = reqwest::Client::new();
    // The handshake (unsigned), through a public tunnel's Host name.
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("host", "desk.example.ngrok.app")
        .body(r#"{"verification_token":"secret_hook"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The creator pastes it into Notion and confirms it here.
    reviewdesk_sync::webhook::confirm_pending(e.mirror.store(), "secret_hook")
        .await
        .unwrap();
    let ana = e.double.add_person("Ana", None);
    let event = |id: &str| {
        json!({"id": id, "timestamp": "2026-01-01T00:00:00.000Z", "type": "page.properties_updated",
            "authors": [{"id": ana, "type": "person"}], "attempt_number": 1, "api_version": "2025-09-03",
            "entity": {"id": page, "type": "page"}, "data": {"updated_properties": ["Status"]}})
        .to_string()
    };
    // A forged delivery changes nothing.
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Cancelled"}}}}),
        )
        .unwrap();
    let body = event("evt-forged");
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header(
            "x-notion-signature",
            notion_double::sign_webhook(body.as_bytes(), "secret_wrong"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::AssetsReady
    );
    // A signed one pulls the page at once (no poller runs here).
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Assets Approved"}}}}),
        )
        .unwrap();
    let body = event("evt-1");
    let sig = notion_double::sign_webhook(body.as_bytes(), "secret_hook");
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("x-notion-signature", &sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::AssetsReady
    );
    // A redelivery of the same event is acknowledged and ignored.
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("x-notion-signature", &sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The status bar reports the mirror.
    let status: serde_json::Value = http
        .get(format!("{base}/api/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["mirror"]["state"], "connected", "{status}");
    let approvals = e
        .core
        .store
        .audit(task.id)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.decision == "approve")
        .count();
    assert_eq!(approvals, 1);
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// Check 2, child side: runs with the R2 credentials in its environment (set by the parent, as
// this crate forbids the unsafe `set_var`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by r2_storage_puts_objects_and_links_public_urls"]
async fn child_r2_scenario() {
    let Ok(s3) = std::env::var("SYNC_CHILD_S3_URL") else {
        return;
    };
    // An empty keyring: the credentials can only come from R2_ACCESS_KEY_ID / R2_SECRET_ACCESS_KEY.
    r2_scenario(&s3, mirror_config().secrets).await;
}

/// A channel on `r2` storage at `s3`: the task's 22 assets are PUT there and linked by their
/// public URL, with credentials from `secrets`.
async fn r2_scenario(s3: &str, secrets: SecretStore) {
    let double = NotionDouble::start(DoubleConfig::default().without_rate_limit())
        .await
        .unwrap();
    let parent = double.seed_page("Review Desk");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("config/channels")).unwrap();
    let yaml = dir.join("config/channels/default.yaml");
    std::fs::write(
        &yaml,
        format!(
            "channel_id: default\nchannel_name: Deep Sea\nstorage_strategy: r2\nr2:\n  account_id: test\n  bucket: reviewdesk\n  public_base_url: {s3}/reviewdesk\n  endpoint: {s3}\n"
        ),
    )
    .unwrap();
    let c = client(&double, true);
    let ids = setup::init(&c, &PageId::new(&parent), "Deep Sea")
        .await
        .unwrap();
    setup::write_channel_ids(&yaml, &ids).unwrap();
    let core = open_core(dir).await;
    let channel = core.channels().remove(0);
    reviewdesk_sync::create_bucket(channel.r2.as_ref().unwrap(), &secrets)
        .await
        .unwrap();
    let config = MirrorConfig {
        secrets,
        ..mirror_config()
    };
    let mirror = Mirror::new(core.clone(), client(&double, true), config)
        .await
        .unwrap();
    let task = add_task(&core, "Ocean").await;
    push_until_done(&mirror, Duration::from_secs(30)).await;
    run_worker(&core).await;
    double.clear_requests();
    push_until_done(&mirror, Duration::from_secs(60)).await;
    let notion_requests = double.requests().len();
    assert!(
        notion_requests <= 22 + 5,
        "{notion_requests} Notion requests"
    );
    let task = core.store.task(task.id).await.unwrap();
    let page = task.notion_page_id.clone().unwrap();
    let assets_ds = ds(&c, &ids.assets_database_id).await;
    let rows = c
        .query_data_source(
            &assets_ds,
            &Query {
                filter: Some(Filter::relation_contains("Task", &PageId::new(&page))),
                ..Query::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 22);
    let http = reqwest::Client::new();
    for a in core.store.assets(task.id).await.unwrap() {
        let key = format!(
            "default/{}/assets/{}/versions/{}.v1.png",
            task.id,
            a.kind.folder(),
            a.name
        );
        let url = format!("{s3}/reviewdesk/{key}");
        let row = rows
            .iter()
            .find(|r| {
                r.get("Asset Key").and_then(PropertyValue::plain_text)
                    == Some(reviewdesk_sync::asset_key(task.id, &a.name, 1))
            })
            .expect("row");
        match row.get("File") {
            Some(PropertyValue::Files(f)) => assert_eq!(
                f[0].source,
                reviewdesk_notion::FileSource::External { url: url.clone() }
            ),
            other => panic!("{other:?}"),
        }
        let body = http.get(&url).send().await.unwrap();
        assert_eq!(body.status(), 200, "{url}");
        assert!(body.bytes().await.unwrap().starts_with(b"\x89PNG"));
    }
    println!("r2 publish: {notion_requests} Notion requests for 22 assets");
}

/// A moto_server (`pip install 'moto[server]'`) on a free port, killed on drop; and its URL.
async fn start_moto() -> (KillOnDrop, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let moto = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moto_server runs (pip install 'moto[server]')");
    let moto = KillOnDrop(moto);
    wait_until_async("moto_server", Duration::from_secs(30), || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    (moto, format!("http://127.0.0.1:{port}"))
}

// Check 2: `r2` storage against a real S3-compatible server (moto_server), credentials from
// the environment variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_storage_puts_objects_and_links_public_urls() {
    let (_moto, s3) = start_moto().await;
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_r2_scenario", "--ignored", "--nocapture"])
        .env("SYNC_CHILD_S3_URL", &s3)
        .env("R2_ACCESS_KEY_ID", "test-key")
        .env("R2_SECRET_ACCESS_KEY", "test-secret")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(text.contains("1 passed"), "the child scenario ran");
}

// Issue #6: the same with the credentials in the OS keyring (a MemoryKeyring here) and nothing in
// the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_storage_with_credentials_from_the_keyring_and_an_empty_environment() {
    let (_moto, s3) = start_moto().await;
    let (_keyring, secrets) = keyring_only(&[
        ("r2-access-key-id", "keyring-key"),
        ("r2-secret-access-key", "keyring-secret"),
    ]);
    r2_scenario(&s3, secrets).await;
}

// Issue #6: without R2 credentials the mirror says where to put them (and never what they are);
// once stored in the keyring, the next round goes through without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_without_credentials_names_settings_and_the_variables_until_they_are_stored() {
    let double = NotionDouble::start(DoubleConfig::default().without_rate_limit())
        .await
        .unwrap();
    let parent = double.seed_page("Review Desk");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("config/channels")).unwrap();
    let yaml = dir.join("config/channels/default.yaml");
    std::fs::write(
        &yaml,
        "channel_id: default\nchannel_name: Deep Sea\nstorage_strategy: r2\nr2:\n  account_id: test\n  bucket: reviewdesk\n  public_base_url: http://127.0.0.1:9/reviewdesk\n  endpoint: http://127.0.0.1:9\n  credentials_ref: media\n",
    )
    .unwrap();
    let c = client(&double, true);
    let ids = setup::init(&c, &PageId::new(&parent), "Deep Sea")
        .await
        .unwrap();
    setup::write_channel_ids(&yaml, &ids).unwrap();
    let core = open_core(dir).await;
    let (keyring, secrets) = keyring_only(&[]);
    let config = MirrorConfig {
        secrets,
        ..mirror_config()
    };
    let mirror = Mirror::new(core.clone(), client(&double, true), config)
        .await
        .unwrap();
    let task = add_task(&core, "Ocean").await;

    let err = mirror.push_once().await.unwrap_err().to_string();
    assert!(
        err.contains("store it in Settings (OS keyring) or set MEDIA_ACCESS_KEY_ID"),
        "{err}"
    );
    let state = serde_json::to_value(mirror.state().await).unwrap();
    assert!(
        state.to_string().contains("or set MEDIA_ACCESS_KEY_ID"),
        "{state}"
    );

    keyring.set("media-access-key-id", "MEDIAKEYID").unwrap();
    let err = mirror.push_once().await.unwrap_err().to_string();
    assert!(
        err.contains("store it in Settings (OS keyring) or set MEDIA_SECRET_ACCESS_KEY"),
        "{err}"
    );
    assert!(!err.contains("MEDIAKEYID"), "{err}");

    keyring
        .set("media-secret-access-key", "media-secret")
        .unwrap();
    assert!(
        mirror.push_once().await.unwrap() >= 1,
        "the created event went"
    );
    let task = core.store.task(task.id).await.unwrap();
    assert!(task.notion_page_id.is_some(), "the task page was created");
    let debug = format!("{mirror:?}");
    assert!(
        !debug.contains("MEDIAKEYID") && !debug.contains("S3CRETVALUE"),
        "{debug}"
    );
    drop(mirror);
    core.store.close().await;
}

// Issue #6: tasks are mirrored concurrently (each task's events in order): the double holds the
// task-page creations until two are in flight together, which a one-task-at-a-time mirror never
// achieves (the rendezvous would break after its timeout instead).
on_both!(
    different_tasks_are_pushed_concurrently,
    different_tasks_are_pushed_concurrently_on_postgres,
    concurrent_tasks_scenario,
    DoubleConfig::default().without_rate_limit(),
    true,
    "none"
);

async fn concurrent_tasks_scenario(e: &Env) {
    let a = add_task(&e.core, "Ocean").await;
    let b = add_task(&e.core, "Reef").await;
    e.double.rendezvous(
        RendezvousRule::of(2)
            .method("POST")
            .path_prefix("/v1/pages")
            .timeout(Duration::from_secs(8)),
    );
    e.mirror.push_once().await.unwrap();
    let met = e.double.rendezvous_state().unwrap();
    assert!(
        met.met && !met.broken,
        "two tasks' page creations were in flight together: {met:?}"
    );
    for t in [a.id, b.id] {
        assert!(
            e.core.store.task(t).await.unwrap().notion_page_id.is_some(),
            "task {t} has its page"
        );
    }

    // At most PUSH_TASKS (3) at once: four tasks' creations never overlap all together.
    let more = [
        add_task(&e.core, "Kelp").await,
        add_task(&e.core, "Trench").await,
        add_task(&e.core, "Vent").await,
        add_task(&e.core, "Abyss").await,
    ];
    e.double.rendezvous(
        RendezvousRule::of(4)
            .method("POST")
            .path_prefix("/v1/pages")
            .timeout(Duration::from_millis(300)),
    );
    e.mirror.push_once().await.unwrap();
    let state = e.double.rendezvous_state().unwrap();
    assert!(
        state.broken && !state.met && state.arrived == 3,
        "three held, the fourth never came while they waited: {state:?}"
    );

    // Each task's events went in order: its Notion status is its status now.
    run_worker(&e.core).await;
    push_until_done(&e.mirror, Duration::from_secs(120)).await;
    for t in [a.id, b.id].into_iter().chain(more.iter().map(|t| t.id)) {
        let task = e.core.store.task(t).await.unwrap();
        let page = task.notion_page_id.clone().expect("page");
        assert_eq!(notion_status(e, &page).await, task.status.board_name());
    }
}

// Deliverable 7: the mirror's state reaches windows as a domain event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_state_changes_are_announced_as_domain_events() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let (task, _page) = task_at_assets_ready(&e).await;
    let mut events = e.core.events.subscribe();
    e.double
        .inject_fault(FaultRule::next(1000, FaultKind::Status(503)));
    let running = tokio::spawn(e.mirror.clone().run());
    reviewdesk_core::ReviewService::new(e.core.clone())
        .approve(
            task.id,
            reviewdesk_core::ReviewInput::by(
                Source::Desktop,
                reviewdesk_core::review::local_reviewer(),
            ),
        )
        .await
        .unwrap();
    // Whatever it said before, it must come to announce the failure and what waits.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let state = tokio::time::timeout_at(deadline, next_mirror_state(&mut events))
            .await
            .expect("an error state");
        if let reviewdesk_core::api::MirrorState::Error { message, waiting } = &state {
            assert!(message.contains("503") && *waiting >= 1, "{state:?}");
            break;
        }
    }
    e.double.clear_faults();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let state = tokio::time::timeout_at(deadline, next_mirror_state(&mut events))
            .await
            .expect("connected again");
        if matches!(
            state,
            reviewdesk_core::api::MirrorState::Connected { waiting: 0, .. }
        ) {
            break;
        }
    }
    running.abort();
}

async fn next_mirror_state(
    events: &mut tokio::sync::broadcast::Receiver<reviewdesk_core::DomainEvent>,
) -> reviewdesk_core::api::MirrorState {
    loop {
        if let Ok(reviewdesk_core::DomainEvent::Mirror { state }) = events.recv().await {
            return state;
        }
    }
}

// Deliverable 4: a file above the workspace's upload limit goes as a JPEG rendition, and Notes say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_above_the_upload_limit_are_sent_as_jpeg_renditions_with_a_note() {
    let limit: u64 = 40_000;
    let e = env(
        DoubleConfig::default()
            .without_rate_limit()
            .upload_limit(limit),
        true,
        "notion",
    )
    .await;
    let (task, page) = task_at_assets_ready(&e).await;
    let rows = asset_rows(&e, &page).await;
    assert_eq!(rows.len(), 22);
    assert!(rows.iter().all(has_file), "every row has a file");
    let detail = reviewdesk_core::TaskService::new(e.core.clone())
        .detail(task.id)
        .await
        .unwrap();
    let big: Vec<String> = detail
        .assets
        .iter()
        .filter(|a| a.versions.last().unwrap().version.bytes > limit)
        .map(|a| a.asset.name.to_string())
        .collect();
    assert!(
        !big.is_empty(),
        "the test needs some assets above the limit"
    );
    let text = |p: &Page, prop: &str| p.get(prop).and_then(|v| v.plain_text()).unwrap_or_default();
    for row in &rows {
        let name = text(row, "Name");
        let asset = name.split(' ').next().unwrap().to_string();
        let notes = text(row, "Notes");
        let file_name = match row.get("File") {
            Some(PropertyValue::Files(f)) => f[0].name.clone(),
            _ => unreachable!(),
        };
        if big.contains(&asset) {
            assert!(
                notes.contains("JPEG rendition") && notes.contains("upload limit"),
                "{asset}: {notes}"
            );
            assert!(file_name.ends_with(".jpg"), "{file_name}");
        } else {
            assert!(notes.is_empty(), "{asset}: {notes}");
            assert!(file_name.ends_with(".png"), "{file_name}");
        }
    }
}

fn desk() -> reviewdesk_core::ReviewInput {
    reviewdesk_core::ReviewInput::by(Source::Desktop, reviewdesk_core::review::local_reviewer())
}

/// Every PATCH of these pages is refused by Notion's validation (400) until the faults clear.
fn refuse_writes_to(double: &NotionDouble, pages: &[String]) {
    for id in pages {
        double.inject_fault(
            FaultRule::next(1_000, FaultKind::Status(400))
                .method("PATCH")
                .path_prefix(&format!("/v1/pages/{id}")),
        );
    }
}

fn patches_to(log: &[notion_double::LoggedRequest], page: &str) -> Vec<usize> {
    log.iter()
        .enumerate()
        .filter(|(_, r)| r.method == "PATCH" && r.path == format!("/v1/pages/{page}"))
        .map(|(i, _)| i)
        .collect()
}

// Issue #6 (a): a task whose pushes keep failing holds up neither the other tasks nor itself
// once the cause is gone, and its events then go in their order.
on_both!(
    a_failing_task_does_not_block_other_tasks_and_catches_up_in_order,
    a_failing_task_does_not_block_other_tasks_on_postgres,
    failing_task_scenario,
    DoubleConfig::default().without_rate_limit(),
    true,
    "none"
);

async fn failing_task_scenario(e: &Env) {
    // A long backoff, so the loop's round (`push_due`) demonstrably leaves the failing task alone.
    let m = Mirror::new(
        e.core.clone(),
        client(&e.double, true),
        MirrorConfig {
            backoff: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(3600),
            ..mirror_config()
        },
    )
    .await
    .unwrap();
    let (a, a_page) = task_at_assets_ready(e).await;
    let a_rows: Vec<String> = asset_rows(e, &a_page)
        .await
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(a_rows.len(), 22);
    let mut a_pages = a_rows.clone();
    a_pages.push(a_page.clone());
    refuse_writes_to(&e.double, &a_pages);
    e.double.clear_requests();
    // Task A: rejected with two flags (rows to mark "rejected"), then retried (Status Queued).
    let flags: Vec<_> = e
        .core
        .store
        .assets(a.id)
        .await
        .unwrap()
        .into_iter()
        .take(2)
        .map(|x| x.name)
        .collect();
    let review = reviewdesk_core::ReviewService::new(e.core.clone());
    review
        .reject(a.id, Some(flags), desk().with_reason("bluer"))
        .await
        .unwrap();
    review.retry(a.id, desk()).await.unwrap();
    // Task B: created and cancelled meanwhile.
    let b = add_task(&e.core, "Whales").await;
    review.cancel(b.id, desk()).await.unwrap();

    let err = m.push_once().await.expect_err("task A's pushes fail");
    assert!(err.to_string().contains("validation"), "{err}");
    let b_page = e
        .core
        .store
        .task(b.id)
        .await
        .unwrap()
        .notion_page_id
        .expect("B reached Notion");
    assert_eq!(notion_status(e, &b_page).await, "Cancelled");
    assert_eq!(notion_status(e, &a_page).await, "Assets Ready");
    let stuck = m.stuck().await.unwrap();
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!(stuck[0].task_id, a.id.to_string());
    assert_eq!(stuck[0].attempts, 1);
    assert!(stuck[0].waiting >= 2, "{stuck:?}");
    // A's later event (Status Queued) was not sent ahead of the failing one.
    let log = e.double.requests();
    assert!(patches_to(&log, &a_page).is_empty(), "{log:?}");
    match m.state().await {
        reviewdesk_core::api::MirrorState::Error { message, waiting } => {
            assert!(waiting >= 2);
            assert!(
                message.contains(&a.id.to_string())
                    && message
                        .contains(&format!("reviewdesk notion discard {}", stuck[0].event_id)),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }

    // While A waits out its backoff, another task's changes keep flowing.
    e.double.clear_requests();
    let c = add_task(&e.core, "Squid").await;
    review.cancel(c.id, desk()).await.unwrap();
    m.push_due().await.unwrap();
    let c_page = e
        .core
        .store
        .task(c.id)
        .await
        .unwrap()
        .notion_page_id
        .unwrap();
    assert_eq!(notion_status(e, &c_page).await, "Cancelled");
    let log = e.double.requests();
    assert!(
        a_pages.iter().all(|p| patches_to(&log, p).is_empty()),
        "A was left alone during its backoff"
    );
    assert_eq!(m.stuck().await.unwrap()[0].attempts, 1);

    // The cause is gone: A catches up, its rows marked before its Status moves on.
    e.double.clear_faults();
    e.double.clear_requests();
    m.push_once().await.unwrap();
    let log = e.double.requests();
    let status_at = *patches_to(&log, &a_page).last().expect("A's status pushed");
    assert!(
        log[status_at].body.contains("Queued"),
        "{}",
        log[status_at].body
    );
    let marked: Vec<usize> = a_rows
        .iter()
        .flat_map(|p| patches_to(&log, p))
        .filter(|&i| log[i].body.contains("rejected"))
        .collect();
    assert_eq!(marked.len(), 2);
    assert!(marked.iter().all(|&i| i < status_at), "rows before status");
    assert_eq!(notion_status(e, &a_page).await, "Queued");
    assert!(m.stuck().await.unwrap().is_empty());
    assert!(matches!(
        m.state().await,
        reviewdesk_core::api::MirrorState::Connected { waiting: 0, .. }
    ));
}

// Issue #6 (a): an event that can never be sent can be discarded, with an audit trail; the
// task's later events go on.
on_both!(
    discarding_a_stuck_event_lets_the_task_go_on_and_is_recorded,
    discarding_a_stuck_event_on_postgres,
    discard_scenario,
    DoubleConfig::default().without_rate_limit(),
    true,
    "none"
);

async fn discard_scenario(e: &Env) {
    let a = add_task(&e.core, "Ocean").await;
    e.mirror.push_once().await.unwrap();
    let page = e
        .core
        .store
        .task(a.id)
        .await
        .unwrap()
        .notion_page_id
        .unwrap();
    refuse_writes_to(&e.double, std::slice::from_ref(&page));
    reviewdesk_core::ReviewService::new(e.core.clone())
        .cancel(a.id, desk())
        .await
        .unwrap();
    assert!(e.mirror.push_once().await.is_err());
    let stuck = e.mirror.stuck().await.unwrap();
    assert_eq!(stuck.len(), 1);
    let event = stuck[0].event_id;

    let d = e
        .mirror
        .discard(
            event,
            "Notion refuses it; the creator cancelled in Notion too",
            Source::Cli,
        )
        .await
        .unwrap();
    assert_eq!(d.task_id, a.id.to_string());
    assert!(d.kind.contains("Cancelled"), "{}", d.kind);
    assert!(d.last_error.as_deref().unwrap_or("").contains("validation"));
    let trail = e.mirror.store().discarded().await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].event_id, event);
    assert!(trail[0].reason.contains("creator cancelled"));
    let log_line = e.core.store.task(a.id).await.unwrap().error_log;
    assert!(
        log_line.contains(&format!("event {event}")) && log_line.contains("discarded"),
        "{log_line}"
    );
    // Once only.
    let again = e
        .mirror
        .discard(event, "twice", Source::Cli)
        .await
        .unwrap_err();
    assert!(
        matches!(again, reviewdesk_sync::SyncError::NotWaiting { .. }),
        "{again}"
    );

    // The task's next event (the Error Log line about the discard) goes; the dropped Status
    // never does, not even on a later round.
    e.double.clear_faults();
    e.double.clear_requests();
    e.mirror.push_once().await.unwrap();
    e.mirror.push_once().await.unwrap();
    let log = e.double.requests();
    let sent = patches_to(&log, &page);
    assert_eq!(sent.len(), 1, "{log:?}");
    assert!(log[sent[0]].body.contains("discarded"));
    assert!(!log[sent[0]].body.contains("\"Cancelled\""));
    assert_eq!(notion_status(e, &page).await, "Queued");
    assert!(e.mirror.stuck().await.unwrap().is_empty());
}

// Issue #6 (b): a decision made in Notion names the person in the audit trail (name, and email
// where the integration may read it), with GET /v1/users/{id} asked once per user.
on_both!(
    decisions_from_notion_name_the_person_and_users_are_read_once,
    decisions_from_notion_name_the_person_on_postgres,
    reviewer_scenario,
    DoubleConfig::default().without_rate_limit(),
    true,
    "none"
);

async fn reviewer_scenario(e: &Env) {
    let (task, page) = task_at_assets_ready(e).await;
    let ana = e.double.add_person("Ana Reviewer", Some("ana@example.com"));
    e.double.clear_requests();
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{
                "Status":{"select":{"name":"Asset Error"}},
                "Error Log":{"rich_text":[{"type":"text","text":{"content":"make it bluer"}}]}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Queued"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::Queued
    );
    let audit = e.core.store.audit(task.id).await.unwrap();
    for decision in ["reject", "retry"] {
        let row = audit
            .iter()
            .find(|a| a.decision == decision)
            .unwrap_or_else(|| panic!("{decision} row in {audit:?}"));
        assert_eq!(row.source, "notion");
        assert_eq!(row.reviewer.id.as_deref(), Some(ana.as_str()));
        assert_eq!(row.reviewer.name.as_deref(), Some("Ana Reviewer"));
        assert_eq!(row.reviewer.email.as_deref(), Some("ana@example.com"));
    }
    let lookups = e
        .double
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == format!("/v1/users/{ana}"))
        .count();
    assert_eq!(lookups, 1, "cached per user id");

    // Without the email capability the person is named without an email; without any
    // user-information capability (403), by the Notion user id alone.
    e.double
        .set_user_info(notion_double::UserInfo::WithoutEmail);
    let bo = e.double.add_person("Bo", Some("bo@example.com"));
    e.double
        .edit_page_as(
            &page,
            &bo,
            &json!({"properties":{"Status":{"select":{"name":"Cancelled"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    let audit = e.core.store.audit(task.id).await.unwrap();
    let row = audit
        .iter()
        .find(|a| a.decision == "cancel")
        .expect("cancel row");
    assert_eq!(row.reviewer.id.as_deref(), Some(bo.as_str()));
    assert_eq!(row.reviewer.name.as_deref(), Some("Bo"));
    assert_eq!(row.reviewer.email, None);

    e.double.set_user_info(notion_double::UserInfo::None);
    let cy = e.double.add_person("Cy", Some("cy@example.com"));
    let c = client(&e.double, true);
    let tasks_ds = ds(&c, &e.ids.tasks_database_id).await;
    let p = c
        .create_page(&reviewdesk_notion::NewPage {
            parent: reviewdesk_notion::PageParent::DataSource(tasks_ds),
            properties: vec![("Title".into(), PropertyValue::title("Whales"))],
            children: vec![],
        })
        .await
        .unwrap();
    e.double
        .edit_page_as(
            p.id.as_str(),
            &cy,
            &json!({"properties":{"Status":{"select":{"name":"Queued"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    let t = e
        .core
        .store
        .task_by_notion_page(p.id.as_str())
        .await
        .unwrap()
        .expect("created from Notion");
    e.double
        .edit_page_as(
            p.id.as_str(),
            &cy,
            &json!({"properties":{"Status":{"select":{"name":"Cancelled"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    let audit = e.core.store.audit(t.id).await.unwrap();
    let row = audit
        .iter()
        .find(|a| a.decision == "cancel")
        .expect("cancel row");
    assert_eq!(row.reviewer.id.as_deref(), Some(cy.as_str()));
    assert_eq!(row.reviewer.email, None);
}

/// A server in front of the scenario's mirror (no poller runs); returns the webhook URL.
async fn webhook_server(e: &Env, mirror: Arc<Mirror>) -> String {
    let server = reviewdesk_server::bind_with_mirror(
        e.core.clone(),
        None,
        Some(mirror),
        reviewdesk_server::ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: None,
            ui_dir: None,
        },
    )
    .await
    .unwrap();
    let url = format!("http://{}/api/notion/webhook", server.local_addr);
    tokio::spawn(server.run(std::future::pending()));
    url
}

async fn post_json(url: &str, body: &str, signed_with: Option<&str>) -> reqwest::Response {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = signed_with {
        r = r.header(
            "x-notion-signature",
            notion_double::sign_webhook(body.as_bytes(), token),
        );
    }
    r.send().await.unwrap()
}

fn handshake(token: &str) -> String {
    json!({ "verification_token": token }).to_string()
}

fn page_event(id: &str) -> String {
    json!({"id": id, "type": "page.properties_updated",
        "entity": {"id": "00000000-0000-4000-8000-000000000000", "type": "page"}})
    .to_string()
}

// A web page cannot plant the webhook key: what a browser sends (Origin, Sec-Fetch-Site, a
// no-cors body that is not JSON) is refused with the reason, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_refuses_browser_requests_and_bodies_that_are_not_json() {
    use reviewdesk_sync::webhook;
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let url = webhook_server(&e, e.mirror.clone()).await;
    let http = reqwest::Client::new();
    let evil = r#"{"verification_token":"evil"}"#;
    // fetch(url, {method: 'POST', mode: 'no-cors', body: '{"verification_token":"evil"}'}).
    let r = http
        .post(&url)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "no-cors")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(evil)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "browser_request", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("web page"),
        "{body}"
    );
    // Either header alone gives the browser away, whatever the content type.
    for (name, value) in [("origin", "null"), ("sec-fetch-site", "same-origin")] {
        let r = http
            .post(&url)
            .header(name, value)
            .header("content-type", "application/json")
            .body(evil)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}");
    }
    // Without browser headers, a body not declared as JSON is refused too.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut r = http.post(&url).body(evil);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 415, "{content_type:?}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "unsupported_media_type", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{body}"
        );
    }
    assert_eq!(
        webhook::status(e.mirror.store()).await.unwrap(),
        webhook::WebhookStatus::default(),
        "nothing stored"
    );
    // Notion's own delivery (JSON, no browser headers) still gets through.
    let r = http
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .body(handshake("secret_notion"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// A handshake's token is only pending until the creator confirms it; a later handshake replaces
// a pending token (never a 409), and only a confirmed token checks signatures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_handshake_is_pending_until_the_creator_confirms_it() {
    use reviewdesk_core::api::MirrorState;
    use reviewdesk_sync::webhook::{self, Handshake, HandshakeError};
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let url = webhook_server(&e, e.mirror.clone()).await;

    // Someone who reached the URL first plants a token: it is only pending.
    assert_eq!(
        post_json(&url, &handshake("secret_planted"), None)
            .await
            .status(),
        200
    );
    let ev = page_event("evt-1");
    let r = post_json(&url, &ev, Some("secret_planted")).await;
    assert_eq!(r.status(), 401, "a pending token verifies nothing");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("reviewdesk notion webhook confirm"),
        "{body}"
    );
    // Notion's real handshake afterwards is not refused: it replaces the pending token.
    assert_eq!(
        post_json(&url, &handshake("secret_notion"), None)
            .await
            .status(),
        200
    );
    let w = webhook::status(e.mirror.store()).await.unwrap();
    assert_eq!(w.pending_token.as_deref(), Some("secret_notion"));
    assert!(w.pending_since_ms.is_some());
    assert!(!w.confirmed);
    // The status bar shows the token to paste and confirm.
    match e.mirror.state().await {
        MirrorState::Error { message, .. } => assert!(
            message.contains("secret_notion")
                && message.contains("reviewdesk notion webhook confirm secret_notion"),
            "{message}"
        ),
        other => panic!("expected the pending handshake in the status: {other:?}"),
    }
    // Confirming anything but the pending token is refused with the way out.
    let err = webhook::confirm_pending(e.mirror.store(), "secret_planted")
        .await
        .unwrap_err();
    assert!(matches!(err, HandshakeError::NotThePendingToken), "{err}");
    assert!(err.to_string().contains("reviewdesk notion webhook status"));
    webhook::confirm_pending(e.mirror.store(), "secret_notion")
        .await
        .unwrap();
    assert!(matches!(
        e.mirror.state().await,
        MirrorState::Connected { .. }
    ));
    assert_eq!(
        webhook::confirm_pending(e.mirror.store(), "secret_notion")
            .await
            .unwrap_err()
            .to_string(),
        HandshakeError::NothingPending.to_string()
    );
    assert_eq!(
        post_json(&url, &ev, Some("secret_planted")).await.status(),
        401
    );
    assert_eq!(
        post_json(&url, &ev, Some("secret_notion")).await.status(),
        200
    );

    // A redelivered handshake of the confirmed token changes nothing; another token waits as
    // pending beside it and does not take over signing.
    assert_eq!(
        webhook::accept_handshake(e.mirror.store(), "secret_notion", None)
            .await
            .unwrap(),
        Handshake::AlreadyTrusted
    );
    assert_eq!(
        post_json(&url, &handshake("secret_other"), None)
            .await
            .status(),
        200
    );
    let ev2 = page_event("evt-2");
    assert_eq!(
        post_json(&url, &ev2, Some("secret_other")).await.status(),
        401
    );
    assert_eq!(
        post_json(&url, &ev2, Some("secret_notion")).await.status(),
        200
    );
    assert_eq!(
        webhook::accept_handshake(e.mirror.store(), "secret_third", None)
            .await
            .unwrap(),
        Handshake::Pending { replaced: true }
    );

    // A reset forgets both; events are refused until a new handshake is confirmed.
    assert!(
        webhook::reset_trusted_token(e.mirror.store())
            .await
            .unwrap()
    );
    assert_eq!(
        webhook::status(e.mirror.store()).await.unwrap(),
        webhook::WebhookStatus::default()
    );
    let ev3 = page_event("evt-3");
    assert_eq!(
        post_json(&url, &ev3, Some("secret_notion")).await.status(),
        401
    );

    // With NOTION_WEBHOOK_SECRET set, handshakes are acknowledged and nothing is stored.
    assert_eq!(
        webhook::accept_handshake(e.mirror.store(), "secret_x", Some("secret_env"))
            .await
            .unwrap(),
        Handshake::SecretConfigured
    );
    assert_eq!(
        webhook::status(e.mirror.store()).await.unwrap(),
        webhook::WebhookStatus::default()
    );
}

// Webhook event ids are kept only to drop Notion's redeliveries: after the retention window they
// are forgotten, so the table does not grow forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_event_ids_are_forgotten_after_the_retention_window() {
    use reviewdesk_sync::webhook;
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    webhook::accept_handshake(e.mirror.store(), "secret_hook", None)
        .await
        .unwrap();
    webhook::confirm_pending(e.mirror.store(), "secret_hook")
        .await
        .unwrap();
    // The default window (7 days) keeps every id, so a redelivery is recognised.
    let url = webhook_server(&e, e.mirror.clone()).await;
    for id in ["evt-a", "evt-b", "evt-a"] {
        assert_eq!(
            post_json(&url, &page_event(id), Some("secret_hook"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        e.mirror.store().webhook_event_ids().await.unwrap(),
        ["evt-a", "evt-b"]
    );
    assert!(!e.mirror.record_webhook_event("evt-b").await.unwrap());
    // A mirror whose window has passed for every stored id forgets them at the next delivery.
    let short = Mirror::new(
        e.core.clone(),
        client(&e.double, true),
        MirrorConfig {
            webhook_event_retention: Duration::ZERO,
            ..mirror_config()
        },
    )
    .await
    .unwrap();
    let url = webhook_server(&e, short.clone()).await;
    assert_eq!(
        post_json(&url, &page_event("evt-c"), Some("secret_hook"))
            .await
            .status(),
        200
    );
    assert_eq!(short.store().webhook_event_ids().await.unwrap(), ["evt-c"]);
}
