//! Soak: worker processes are SIGKILLed 20 times at random points while the Notion double fails a
//! quarter of the mirror's requests (429, 503, dropped connections) and a reviewer approves and
//! rejects over the HTTP API, as the browser UI does. At the end every decision is applied exactly
//! once, locally and in Notion, no Notion page is duplicated and no file is lost.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notion_double::{DoubleConfig, FaultKind, NotionDouble, RandomFaults};
use rand::{Rng, SeedableRng};
use reviewdesk_core::config::WorkerSettings;
use reviewdesk_core::workspace::Workspace;
use reviewdesk_core::{AssetName, Status, TaskId};
use reviewdesk_notion::{
    ClientConfig, DataSourceId, DatabaseId, Filter, NotionClient, NotionToken, PageId,
    PropertyValue, Query,
};
use reviewdesk_sync::{Mirror, MirrorConfig, setup};
use reviewdesk_testkit::{TestCore, sqlite_url};
use serde_json::{Value, json};

const TASKS: usize = 4;
const KILLS: usize = 20;
/// Rejected tasks get these two assets flagged; only they are drawn again.
const FLAGGED: [&str; 2] = ["protagonist", "old_book"];

fn notion_client(double: &NotionDouble) -> NotionClient {
    let cfg = ClientConfig::default()
        .base_url(double.url())
        .backoff_base(Duration::from_millis(20))
        .timeout(Duration::from_secs(5))
        .rate(500.0, 50);
    NotionClient::with_config(NotionToken::new(double.token()), cfg).unwrap()
}

/// A `reviewdesk worker` process on the shared database, with short leases so that a killed
/// worker's task is taken over quickly.
fn spawn_worker(dir: &Path) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("reviewdesk"))
        .env("REVIEWDESK_DATA_DIR", dir.join("data"))
        .env("REVIEWDESK_CONFIG_DIR", dir.join("config"))
        .env("REVIEWDESK_DATABASE_URL", database_url(dir))
        .env("REVIEWDESK_WORKSPACE", dir.join("ws"))
        .env("REVIEWDESK_LEASE_MS", "1500")
        .env("REVIEWDESK_HEARTBEAT_MS", "300")
        .env("REVIEWDESK_POLL_MS", "100")
        .env("REVIEWDESK_RETRY_SCHEDULE_MS", "100,100,100,100")
        // No ffmpeg: after the review every task waits at the video step, which is where this
        // scenario ends (the media steps have their own scenario in crates/core/tests).
        .env("REVIEWDESK_FFMPEG", "/nonexistent/ffmpeg")
        .env_remove("RUST_LOG")
        .env_remove("NOTION_TOKEN")
        .args(["worker", "--slots", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn database_url(dir: &Path) -> String {
    sqlite_url(dir)
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// What the reviewer has done to one task.
#[derive(Default, Debug)]
struct Decisions {
    rejected: bool,
    retried: bool,
    approved: bool,
}

/// Decides every task waiting at Assets Ready: odd tasks are first rejected with two flags (then
/// retried), and every task is approved once it comes back clean.
async fn review_round(api: &Api, reject: &HashSet<String>, done: &mut HashMap<String, Decisions>) {
    let (_, waiting) = api
        .call(reqwest::Method::GET, "/api/tasks?status=assets_ready", None)
        .await;
    for t in waiting.as_array().into_iter().flatten() {
        let id = t["id"].as_str().unwrap().to_string();
        let d = done.entry(id.clone()).or_default();
        if reject.contains(&id) && !d.rejected {
            let (status, body) = api
                .call(
                    reqwest::Method::POST,
                    &format!("/api/tasks/{id}/reject"),
                    Some(json!({"feedback": "redraw these two", "flags": FLAGGED})),
                )
                .await;
            assert_eq!(status, 200, "reject {id}: {body}");
            d.rejected = true;
        } else if !d.approved {
            let (status, body) = api
                .call(
                    reqwest::Method::POST,
                    &format!("/api/tasks/{id}/approve"),
                    Some(json!({"note": "fine"})),
                )
                .await;
            assert_eq!(status, 200, "approve {id}: {body}");
            d.approved = true;
        }
    }
    let (_, errored) = api
        .call(reqwest::Method::GET, "/api/tasks?status=asset_error", None)
        .await;
    for t in errored.as_array().into_iter().flatten() {
        let id = t["id"].as_str().unwrap().to_string();
        let d = done.entry(id.clone()).or_default();
        if d.rejected && !d.retried {
            let (status, body) = api
                .call(
                    reqwest::Method::POST,
                    &format!("/api/tasks/{id}/retry"),
                    Some(json!({})),
                )
                .await;
            assert_eq!(status, 200, "retry {id}: {body}");
            d.retried = true;
        }
    }
}

async fn data_source(c: &NotionClient, db: &Option<String>) -> DataSourceId {
    c.data_source_ids(&DatabaseId::new(db.as_ref().unwrap()))
        .await
        .unwrap()
        .remove(0)
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_worker_kills_and_notion_faults_lose_no_decision_page_or_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("config/channels")).unwrap();

    // Notion: the double, databases made by the real setup, the channel file naming them.
    let double = NotionDouble::start(DoubleConfig::default().without_rate_limit())
        .await
        .unwrap();
    let parent = double.seed_page("Review Desk");
    let yaml = dir.join("config/channels/default.yaml");
    std::fs::write(
        &yaml,
        "channel_id: default\nchannel_name: Soak\nstorage_strategy: notion\nmax_concurrent: 4\n",
    )
    .unwrap();
    let ids = setup::init(&notion_client(&double), &PageId::new(&parent), "Soak")
        .await
        .unwrap();
    setup::write_channel_ids(&yaml, &ids).unwrap();

    // The review machine: core, the Notion mirror and the HTTP API in this process; no worker.
    let core = TestCore::new()
        .config_dir_name("config")
        .worker_settings(WorkerSettings::default())
        .open_in(&dir)
        .await;
    let mirror = Mirror::new(
        core.clone(),
        notion_client(&double),
        MirrorConfig {
            poll_interval: Duration::from_millis(200),
            out_interval: Duration::from_millis(100),
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(400),
            secrets: reviewdesk_settings::SecretStore::new(Arc::new(
                reviewdesk_settings::MemoryKeyring::new(),
            )),
            ..MirrorConfig::default()
        },
    )
    .await
    .unwrap();
    let server = reviewdesk_server::bind_with_mirror(
        core.clone(),
        None,
        Some(mirror.clone()),
        reviewdesk_server::ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: None,
            ui_dir: None,
        },
    )
    .await
    .unwrap();
    let api = Api {
        base: format!("http://{}", server.local_addr),
        http: reqwest::Client::new(),
    };
    tokio::spawn(server.run(std::future::pending()));
    let mirror_loops = tokio::spawn(mirror.clone().run());

    // A quarter of every Notion request fails from here on.
    double.inject_random_faults(RandomFaults {
        ratio: 0.25,
        seed: 20261204,
        kinds: vec![
            FaultKind::Status(429),
            FaultKind::Status(503),
            FaultKind::DropConnection,
        ],
        methods: vec![],
        path_prefix: None,
        retry_after: Some(1),
    });

    let mut reject = HashSet::new();
    let mut task_ids = Vec::new();
    for i in 0..TASKS {
        let (status, t) = api
            .call(
                reqwest::Method::POST,
                "/api/tasks",
                Some(json!({"title": format!("Soak {i}"), "topic": "tides"})),
            )
            .await;
        assert_eq!(status, 201, "{t}");
        let id = t["id"].as_str().unwrap().to_string();
        if i % 2 == 1 {
            reject.insert(id.clone());
        }
        task_ids.push(id);
    }

    // Chaos: 20 workers, each SIGKILLed after a random while, the reviewer deciding meanwhile.
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut done: HashMap<String, Decisions> = HashMap::new();
    for _ in 0..KILLS {
        let mut worker = spawn_worker(&dir);
        let until = Instant::now() + Duration::from_millis(rng.random_range(200..1500));
        while Instant::now() < until {
            review_round(&api, &reject, &mut done).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            worker.try_wait().unwrap().is_none(),
            "the worker must be alive when it is killed"
        );
        worker.kill().unwrap(); // SIGKILL
        worker.wait().unwrap();
    }

    // Then one worker that is left alone, until every task has passed its review and stopped at
    // the video step (waiting there: ffmpeg is not installed for these workers).
    let mut last = spawn_worker(&dir);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        review_round(&api, &reject, &mut done).await;
        let (_, finished) = api
            .call(
                reqwest::Method::GET,
                "/api/tasks?status=generating_video",
                None,
            )
            .await;
        if finished.as_array().map_or(0, Vec::len) == TASKS {
            break;
        }
        assert!(Instant::now() < deadline, "tasks did not finish: {done:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last.kill().unwrap();
    last.wait().unwrap();

    // Locally: each decision exactly once, only the flagged assets drawn again, every file whole.
    let ws = Workspace::open(dir.join("ws")).unwrap();
    for id in &task_ids {
        let tid: TaskId = id.parse().unwrap();
        let audit = core.store.audit(tid).await.unwrap();
        let count = |d: &str| audit.iter().filter(|a| a.decision == d).count();
        let rejected = reject.contains(id);
        assert_eq!(count("approve"), 1, "{id}: {audit:?}");
        assert_eq!(count("reject"), usize::from(rejected), "{id}");
        assert_eq!(count("retry"), usize::from(rejected), "{id}");
        let task = core.store.task(tid).await.unwrap();
        for a in core.store.assets(tid).await.unwrap() {
            let expected = if rejected && FLAGGED.contains(&a.name.as_str()) {
                2
            } else {
                1
            };
            assert_eq!(a.current_version, expected, "{id}/{}", a.name);
            let versions = core.store.asset_versions(tid, &a.name).await.unwrap();
            assert_eq!(versions.len() as u32, expected, "{id}/{}", a.name);
            for v in versions {
                let rel = Workspace::asset_version_rel(
                    &task.channel_id,
                    tid,
                    a.kind,
                    &AssetName::parse(a.name.as_str()).unwrap(),
                    v.version,
                );
                let bytes = std::fs::read(ws.root().join(&rel))
                    .unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
                assert_eq!(
                    reviewdesk_core::thumbs::content_hash(&bytes),
                    v.content_hash,
                    "{} is whole",
                    rel.display()
                );
            }
        }
    }

    let log = double.requests();
    let failed = |f: fn(&Option<u16>) -> bool| log.iter().filter(|r| f(&r.status)).count();
    assert!(
        failed(|s| *s == Some(429)) > 0
            && failed(|s| *s == Some(503)) > 0
            && failed(|s| s.is_none()) > 0,
        "the double injected every kind of fault"
    );

    // In Notion, once the faults stop and the mirror has caught up: one page per task showing
    // its status, and one row per asset.
    double.clear_faults();
    let c = notion_client(&double);
    let tasks_ds = data_source(&c, &ids.tasks_database_id).await;
    let assets_ds = data_source(&c, &ids.assets_database_id).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pages = c
            .query_data_source(&tasks_ds, &Query::default())
            .await
            .unwrap();
        let statuses: Vec<String> = pages
            .iter()
            .filter_map(|p| p.get("Status").and_then(PropertyValue::plain_text))
            .collect();
        if statuses.len() == TASKS
            && statuses
                .iter()
                .all(|s| s == Status::GeneratingVideo.board_name())
        {
            assert_eq!(pages.len(), TASKS, "no duplicate task pages");
            break;
        }
        assert!(
            pages.len() <= TASKS,
            "duplicate task pages: {}",
            pages.len()
        );
        assert!(
            Instant::now() < deadline,
            "Notion did not catch up: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in &task_ids {
        let tid: TaskId = id.parse().unwrap();
        let page = core
            .store
            .task(tid)
            .await
            .unwrap()
            .notion_page_id
            .expect("the task has its page");
        // A row for every current version; an older version has one only if the mirror reached
        // it before the reviewer had it redrawn.
        let mut current = HashSet::new();
        let mut any_version = HashSet::new();
        for a in core.store.assets(tid).await.unwrap() {
            current.insert(format!("{id}/{}/v{}", a.name, a.current_version));
            for v in 1..=a.current_version {
                any_version.insert(format!("{id}/{}/v{v}", a.name));
            }
        }
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
        let keys: HashSet<String> = rows
            .iter()
            .filter_map(|p| p.get("Asset Key").and_then(PropertyValue::plain_text))
            .collect();
        assert_eq!(rows.len(), keys.len(), "{id}: no duplicate asset rows");
        assert!(
            keys.is_superset(&current),
            "{id}: a current version has no row"
        );
        assert!(keys.is_subset(&any_version), "{id}: a row for no version");
    }
    mirror_loops.abort();
}
