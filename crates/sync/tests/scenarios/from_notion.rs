//! What comes from Notion: a queued page becomes a task, refused pages, the check after init.

use super::*;

// Queued on an unknown page creates a local task; Cancelled cancels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_page_in_notion_becomes_a_local_task_and_cancel_cancels() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let ana = e.double.add_person("Ana", None);
    let p = new_task_page(&e, "Whales").await;
    e.double
        .edit_page_as(
            &p,
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
        .task_by_notion_page(&p)
        .await
        .unwrap()
        .expect("created");
    assert_eq!(t.topic, "whale songs");
    e.mirror.pull_once().await.unwrap();
    e.double
        .edit_page_as(
            &p,
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
    let ana = e.double.add_person("Ana", None);
    let bad = new_task_page(e, "draft").await;
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
