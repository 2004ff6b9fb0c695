//! A failing task, discards and reviewers as the mirror carries them.

use super::*;

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
    let p = new_task_page(e, "Whales").await;
    e.double
        .edit_page_as(
            &p,
            &cy,
            &json!({"properties":{"Status":{"select":{"name":"Queued"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    let t = e
        .core
        .store
        .task_by_notion_page(&p)
        .await
        .unwrap()
        .expect("created from Notion");
    e.double
        .edit_page_as(
            &p,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_page_shows_what_the_task_has_cost() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let task = add_task(&e.core, "Ocean").await;
    // One paid clip, recorded as a paid executor records it.
    let quote = reviewdesk_core::costs::PriceTable::defaults()
        .quote(
            "kling",
            "kling-v2-5-turbo std",
            "kling/kling-v2-5-turbo/std",
            10,
        )
        .unwrap();
    e.core
        .store
        .record_cost(&reviewdesk_core::store::LedgerRow {
            id: "clip-1".into(),
            at_ms: reviewdesk_core::store::now_ms(),
            item: reviewdesk_core::store::PaidItem {
                channel_id: task.channel_id.clone(),
                task_id: task.id,
                step: reviewdesk_core::Step::Video,
                item: "clip_01".into(),
            },
            attempt: 1,
            usd: quote.total(),
            quote,
            correlation_id: None,
        })
        .await
        .unwrap();
    push_until_done(&e.mirror, Duration::from_secs(30)).await;
    run_worker(&e.core).await;
    push_until_done(&e.mirror, Duration::from_secs(120)).await;
    let page = e
        .core
        .store
        .task(task.id)
        .await
        .unwrap()
        .notion_page_id
        .expect("task page recorded");
    let page = client(&e.double, true)
        .retrieve_page(&PageId::new(&page))
        .await
        .unwrap();
    assert_eq!(page.get("Cost"), Some(&PropertyValue::Number(Some(0.42))));
    e.finish().await;
}
