//! Publishing and decisions between the desk and Notion: pushes, approvals and rejections from
//! either side, an illegal drag, Notion down, a mirror killed half way, random faults.

use super::*;

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
            "publish::child_mirror_process",
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
