//! Concurrent tasks, the mirror's state as domain events, files above the upload limit.

use super::*;

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
