//! Claims per second with 1, 2 and 4 concurrent workers, on PostgreSQL and SQLite.
//!
//! Each worker has its own pool (as separate processes would). One claim = `Store::claim_and_start`:
//! the lease (`FOR UPDATE SKIP LOCKED` and the max_concurrent check on PostgreSQL) and the
//! queued → claimed transition with its event row, in one transaction, i.e. what a worker does
//! before running a step. Every task sits in its own channel, so max_concurrent never stops a
//! claim. Leases are never given back, so the last claims run beside thousands of held leases.
//! Double claims are counted from the workers' results and from the event log, and printed.
//!
//! `cargo bench -p reviewdesk-core --bench claims`; PostgreSQL needs `REVIEWDESK_TEST_PG_URL`
//! (`export REVIEWDESK_TEST_PG_URL=$(scripts/start-postgres.sh)`); this bench starts nothing.

use reviewdesk_core::store::ClaimRequest;
use reviewdesk_core::{ChannelId, Source, Status, Store, Task, TaskId};
use reviewdesk_testkit::PgDatabase;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORKERS: [usize; 3] = [1, 2, 4];

struct Row {
    backend: &'static str,
    workers: usize,
    tasks: usize,
    secs: f64,
    doubles: usize,
    lost: usize,
}

fn task(i: usize) -> Task {
    Task::new(
        ChannelId::parse(format!("bench_{i}")).expect("valid id"),
        format!("bench {i}"),
        Status::Queued,
        chrono::Utc::now(),
    )
}

async fn fill(store: &Store, n: usize) -> HashSet<TaskId> {
    let mut ids = HashSet::new();
    let mut batch = Vec::new();
    for i in 0..n {
        batch.push(task(i));
        if batch.len() == 50 || i + 1 == n {
            let inserts = batch.iter().map(|t| store.insert_task(t, Source::Cli));
            for r in futures::future::join_all(inserts).await {
                r.expect("insert");
            }
            ids.extend(batch.drain(..).map(|t| t.id));
        }
    }
    ids
}

async fn run(backend: &'static str, url: &str, workers: usize, n: usize) -> Row {
    let setup = Store::connect(url).await.expect("connect");
    let all = fill(&setup, n).await;
    let mut stores = Vec::new();
    for _ in 0..workers {
        stores.push(Store::connect(url).await.expect("connect"));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(workers + 1));
    let mut handles = Vec::new();
    for (w, store) in stores.into_iter().enumerate() {
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            let me = format!("bench-worker-{w}");
            barrier.wait().await;
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .claim_and_start(ClaimRequest {
                        worker_id: &me,
                        lease: Duration::from_secs(600),
                    })
                    .await
                    .expect("claim");
                let Some(c) = claimed else { break };
                assert_eq!((c.from, c.task.status), (Status::Queued, Status::Claimed));
                mine.push(c.task.id);
            }
            store.close().await;
            mine
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut claimed = Vec::new();
    for h in handles {
        claimed.extend(h.await.expect("worker"));
    }
    let secs = start.elapsed().as_secs_f64();
    let unique: HashSet<TaskId> = claimed.iter().copied().collect();
    // The event log tells the same story independently of the workers' own lists.
    let mut into_claimed = 0;
    let mut cursor = 0;
    loop {
        let page = setup
            .events_after(cursor, None, 5000)
            .await
            .expect("events");
        let Some(last) = page.last() else { break };
        cursor = last.id;
        into_claimed += page
            .iter()
            .filter(|e| e.kind == "status_changed" && e.to_status.as_deref() == Some("claimed"))
            .count();
    }
    assert_eq!(
        into_claimed,
        claimed.len(),
        "event log and workers disagree"
    );
    setup.close().await;
    Row {
        backend,
        workers,
        tasks: n,
        secs,
        doubles: claimed.len() - unique.len(),
        lost: all.difference(&unique).count(),
    }
}

/// Server version and durability settings (on a bench database: connecting migrates it).
async fn pg_settings(url: &str) -> String {
    let store = Store::connect(url).await.expect("connect");
    let mut out = Vec::new();
    for name in ["server_version", "fsync", "synchronous_commit"] {
        let v: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!("SHOW {name}")))
            .fetch_optional(store.pool())
            .await
            .ok()
            .flatten();
        out.push(format!("{name}={}", v.map(|v| v.0).unwrap_or_default()));
    }
    store.close().await;
    out.join(" ")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let n: usize = std::env::var("REVIEWDESK_BENCH_CLAIMS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000);
        let mut rows = Vec::new();
        // Without REVIEWDESK_TEST_PG_URL the testkit prints why PostgreSQL is skipped.
        for (i, w) in WORKERS.into_iter().enumerate() {
            let Some(pg) = PgDatabase::create("rd_bench", "claims").await else {
                break;
            };
            if i == 0 {
                println!("PostgreSQL: {}", pg_settings(&pg.url).await);
            }
            rows.push(run("postgres", &pg.url, w, n).await);
            pg.drop_database().await;
        }
        for w in WORKERS {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            );
            rows.push(run("sqlite", &url, w, n).await);
        }
        println!(
            "\nclaims (claim + queued→claimed transition with its event row; one pool per worker)"
        );
        println!(
            "{:<9} {:>7} {:>6} {:>8} {:>10} {:>13} {:>5}",
            "backend", "workers", "tasks", "seconds", "claims/s", "double claims", "lost"
        );
        let mut bad = false;
        for r in &rows {
            println!(
                "{:<9} {:>7} {:>6} {:>8.2} {:>10.0} {:>13} {:>5}",
                r.backend,
                r.workers,
                r.tasks,
                r.secs,
                r.tasks as f64 / r.secs,
                r.doubles,
                r.lost
            );
            bad |= r.doubles > 0 || r.lost > 0;
        }
        if let Some(r) = rows
            .iter()
            .find(|r| r.backend == "postgres" && r.workers == 4)
        {
            let rate = r.tasks as f64 / r.secs;
            println!(
                "\ngoal ≥ 1000 claims/s with 4 workers on PostgreSQL: {} ({rate:.0}/s)",
                if rate >= 1000.0 { "met" } else { "NOT met" }
            );
        }
        assert!(!bad, "double or lost claims");
    });
}
