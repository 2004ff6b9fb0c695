//! Contract tests of the client against the Notion double, plus rate, fault and secrecy runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use notion_double::{DoubleConfig, FaultKind, FaultRule, NotionDouble, RandomFaults};
use reviewdesk_notion::*;
use serde_json::json;

/// A fast client: no pacing worth noticing, millisecond backoff.
fn fast(d: &NotionDouble) -> NotionClient {
    client_with(d, &d.token())
}

fn client_with(d: &NotionDouble, token: &str) -> NotionClient {
    let cfg = ClientConfig::default()
        .base_url(d.url())
        .rate(1000.0, 100)
        .backoff_base(Duration::from_millis(5))
        .timeout(Duration::from_secs(10));
    NotionClient::with_config(NotionToken::new(token), cfg).unwrap()
}

async fn double() -> NotionDouble {
    NotionDouble::start(DoubleConfig::default().without_rate_limit())
        .await
        .unwrap()
}

fn tasks_schema() -> Vec<(String, PropertyConfig)> {
    vec![
        ("Title".into(), PropertyConfig::Title),
        ("Topic".into(), PropertyConfig::RichText),
        ("Error Log".into(), PropertyConfig::RichText),
        (
            "Status".into(),
            PropertyConfig::Select(vec![
                ("New".into(), "gray".into()),
                ("Done".into(), "green".into()),
            ]),
        ),
        ("Stage".into(), PropertyConfig::Status(vec![])),
        ("Tags".into(), PropertyConfig::MultiSelect(vec![])),
        ("Updated".into(), PropertyConfig::Date),
        ("Version".into(), PropertyConfig::Number("number".into())),
        ("YouTube URL".into(), PropertyConfig::Url),
        ("Flag".into(), PropertyConfig::Checkbox),
        ("File".into(), PropertyConfig::Files),
        ("Owner".into(), PropertyConfig::People),
        ("Created".into(), PropertyConfig::CreatedTime),
        ("Edited".into(), PropertyConfig::LastEditedTime),
        ("Editor".into(), PropertyConfig::LastEditedBy),
    ]
}

/// A Tasks database under a seeded page; returns its data source id.
async fn tasks(d: &NotionDouble, c: &NotionClient) -> DataSourceId {
    let parent = PageId::new(d.seed_page("Review Desk"));
    let db = c
        .create_database(&NewDatabase {
            parent_page: parent,
            title: "Tasks".into(),
            properties: tasks_schema(),
            is_inline: false,
        })
        .await
        .unwrap();
    db.data_sources[0].id.clone()
}

fn new_task(ds: &DataSourceId, title: &str) -> NewPage {
    NewPage {
        parent: PageParent::DataSource(ds.clone()),
        properties: vec![("Title".into(), PropertyValue::title(title))],
        children: vec![],
    }
}

fn api_code(e: &NotionError) -> (u16, String) {
    (e.status().unwrap_or(0), e.code().unwrap_or("").to_owned())
}

#[tokio::test]
async fn me_reports_bot_and_upload_limit_and_bad_token_is_actionable() {
    let d = double().await;
    let c = fast(&d);
    let me = c.me().await.unwrap();
    assert_eq!(me.id.as_str(), d.bot_id());
    assert_eq!(me.max_file_upload_size, Some(5 * 1024 * 1024));

    d.revoke_token();
    let err = c.me().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(api_code(&err), (401, "unauthorized".into()));
    assert!(err.request_id().is_some());
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "Notion token rejected (401 unauthorized): paste a new token in Settings → Notion"
        ),
        "{msg}"
    );
    assert_eq!(d.requests().len(), 2, "401 is never retried");
}

#[tokio::test]
async fn databases_data_sources_and_schema_updates() {
    let d = double().await;
    let c = fast(&d);
    let ds = tasks(&d, &c).await;
    let schema = c.retrieve_data_source(&ds).await.unwrap();
    assert_eq!(schema.title, "Tasks");
    assert_eq!(schema.properties.len(), tasks_schema().len());
    assert_eq!(schema.properties["Status"].kind, "select");
    assert_eq!(
        schema.properties["Status"]
            .options
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>(),
        ["New", "Done"]
    );
    assert_eq!(schema.properties["Stage"].kind, "status");
    let db_id = schema.database_id.clone().unwrap();
    let db = c.retrieve_database(&db_id).await.unwrap();
    assert_eq!(db.title, "Tasks");
    assert_eq!(c.data_source_ids(&db_id).await.unwrap()[0].id, ds);

    // Assets with a two-way relation to Tasks: the synced property appears on Tasks.
    let parent = PageId::new(d.seed_page("Assets home"));
    let assets = c
        .create_database(&NewDatabase {
            parent_page: parent,
            title: "Assets".into(),
            properties: vec![
                ("Name".into(), PropertyConfig::Title),
                (
                    "Task".into(),
                    PropertyConfig::Relation {
                        data_source_id: ds.clone(),
                        dual: true,
                    },
                ),
            ],
            is_inline: false,
        })
        .await
        .unwrap();
    let assets_ds = assets.data_sources[0].id.clone();
    let a = c.retrieve_data_source(&assets_ds).await.unwrap();
    let rel = a.properties["Task"].relation.clone().unwrap();
    assert!(rel.dual);
    assert_eq!(rel.data_source_id, ds);
    let synced = rel.synced_property_name.unwrap();

    // Add a missing property and rename the synced one.
    let updated = c
        .update_data_source(
            &ds,
            &DataSourceUpdate {
                title: None,
                properties: vec![
                    (
                        "Retry Status".into(),
                        SchemaChange::Set(PropertyConfig::RichText),
                    ),
                    (synced, SchemaChange::Rename("Assets".into())),
                ],
            },
            Idempotency::Idempotent,
        )
        .await
        .unwrap();
    assert_eq!(updated.properties["Retry Status"].kind, "rich_text");
    assert_eq!(updated.properties["Assets"].kind, "relation");

    // Errors: unshared parent → 404 with the sharing hint; no title → 400.
    let hidden = PageId::new(d.seed_unshared_page("Hidden"));
    let err = c
        .create_database(&NewDatabase {
            parent_page: hidden.clone(),
            title: "X".into(),
            properties: tasks_schema(),
            is_inline: false,
        })
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (404, "object_not_found".into()));
    assert!(
        err.to_string()
            .contains("share the page or database with the integration"),
        "{err}"
    );
    let err = c
        .create_database(&NewDatabase {
            parent_page: PageId::new(d.seed_page("P")),
            title: "X".into(),
            properties: vec![("Topic".into(), PropertyConfig::RichText)],
            is_inline: false,
        })
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "validation_error".into()));
    let err = c
        .retrieve_data_source(&DataSourceId::new(uuid()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = c
        .update_data_source(
            &ds,
            &DataSourceUpdate {
                title: None,
                properties: vec![("Topic".into(), SchemaChange::Rename("Title".into()))],
            },
            Idempotency::Idempotent,
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "validation_error".into()));
}

fn uuid() -> String {
    format!("{:032x}", rand_u128())
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(1u8) as u128;
    let b = RandomState::new().hash_one(2u8) as u128;
    (a << 64) | b
}

#[tokio::test]
async fn pages_round_trip_every_property_type() {
    let d = double().await;
    let c = fast(&d);
    let ds = tasks(&d, &c).await;
    let person = d.add_person("Ana Reviewer", Some("ana@example.com"));
    let upload = c
        .upload_file("a.png", "image/png", Bytes::from(vec![7u8; 1000]))
        .await
        .unwrap();
    let long = "é".repeat(2500) + &"x".repeat(1700);
    let page = c
        .create_page(&NewPage {
            parent: PageParent::DataSource(ds.clone()),
            properties: vec![
                ("Title".into(), PropertyValue::title("Order 42")),
                ("Error Log".into(), PropertyValue::text(&long)),
                ("Status".into(), PropertyValue::select("New")),
                ("Stage".into(), PropertyValue::status("In progress")),
                (
                    "Tags".into(),
                    PropertyValue::MultiSelect(vec![
                        SelectOption::named("a"),
                        SelectOption::named("b"),
                    ]),
                ),
                (
                    "Updated".into(),
                    PropertyValue::Date(Some(DateValue::date(
                        chrono::NaiveDate::from_ymd_opt(2025, 5, 1).unwrap(),
                    ))),
                ),
                ("Version".into(), PropertyValue::Number(Some(3.0))),
                (
                    "YouTube URL".into(),
                    PropertyValue::Url(Some("https://youtu.be/x".into())),
                ),
                ("Flag".into(), PropertyValue::Checkbox(true)),
                (
                    "File".into(),
                    PropertyValue::Files(vec![
                        FileValue {
                            name: "ext.png".into(),
                            source: FileSource::External {
                                url: "https://example.com/a.png".into(),
                            },
                        },
                        FileValue {
                            name: "a.png".into(),
                            source: FileSource::Upload {
                                id: upload.id.clone(),
                            },
                        },
                    ]),
                ),
                (
                    "Owner".into(),
                    PropertyValue::People(vec![UserRef::id(person.as_str())]),
                ),
            ],
            children: vec![BlockContent::image_url("https://example.com/a.png")],
        })
        .await
        .unwrap();
    // The long text went as several ≤ 2000-unit objects.
    let sent = d
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1/pages")
        .unwrap()
        .json()
        .unwrap();
    let parts = sent["properties"]["Error Log"]["rich_text"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(parts, 3);

    let p = c.retrieve_page(&page.id).await.unwrap();
    assert_eq!(p.title(), "Order 42");
    assert_eq!(p.get("Error Log").unwrap().plain_text().unwrap(), long);
    assert_eq!(
        p.get("Status").unwrap().plain_text().as_deref(),
        Some("New")
    );
    assert_eq!(
        p.get("Stage").unwrap().plain_text().as_deref(),
        Some("In progress")
    );
    assert!(matches!(p.get("Tags"), Some(PropertyValue::MultiSelect(v)) if v.len() == 2));
    assert!(
        matches!(p.get("Updated"), Some(PropertyValue::Date(Some(dv))) if dv.start == "2025-05-01")
    );
    assert_eq!(p.get("Version"), Some(&PropertyValue::Number(Some(3.0))));
    assert_eq!(
        p.get("YouTube URL").unwrap().plain_text().as_deref(),
        Some("https://youtu.be/x")
    );
    assert_eq!(p.get("Flag"), Some(&PropertyValue::Checkbox(true)));
    let Some(PropertyValue::Files(files)) = p.get("File") else {
        panic!("files")
    };
    assert!(
        matches!(&files[0].source, FileSource::External { url } if url == "https://example.com/a.png")
    );
    assert!(matches!(
        &files[1].source,
        FileSource::Hosted {
            expiry_time: Some(_),
            ..
        }
    ));
    let Some(PropertyValue::People(people)) = p.get("Owner") else {
        panic!("people")
    };
    assert_eq!(people[0].name.as_deref(), Some("Ana Reviewer"));
    assert!(matches!(
        p.get("Created"),
        Some(PropertyValue::CreatedTime(_))
    ));
    let Some(PropertyValue::LastEditedTime(t)) = p.get("Edited") else {
        panic!("edited")
    };
    assert_eq!(chrono::Timelike::second(t), 0, "rounded to the minute");
    let Some(PropertyValue::LastEditedBy(by)) = p.get("Editor") else {
        panic!("editor")
    };
    assert_eq!(by.id.as_str(), d.bot_id());
    assert_eq!(p.last_edited_by.id.as_str(), d.bot_id());
    assert!(
        matches!(&p.parent, Parent::DataSource { data_source_id, .. } if *data_source_id == ds)
    );

    // Update one property; the rest stays. Then the creator edits it in Notion.
    let upd = c
        .update_page(
            &page.id,
            &PageUpdate {
                properties: vec![("Status".into(), PropertyValue::select("Done"))],
                in_trash: None,
            },
            Idempotency::Idempotent,
        )
        .await
        .unwrap();
    assert_eq!(
        upd.get("Status").unwrap().plain_text().as_deref(),
        Some("Done")
    );
    assert_eq!(upd.get("Version"), Some(&PropertyValue::Number(Some(3.0))));
    d.edit_page_as(
        page.id.as_str(),
        &person,
        &json!({"properties":{"Error Log":{"rich_text":[{"text":{"content":"bad hands"}}]}}}),
    )
    .unwrap();
    let p = c.retrieve_page(&page.id).await.unwrap();
    assert_eq!(p.last_edited_by.id.as_str(), person);
    assert_eq!(
        p.get("Error Log").unwrap().plain_text().as_deref(),
        Some("bad hands")
    );

    // Errors.
    let mut bad = new_task(&ds, "x");
    bad.properties
        .push(("Nope".into(), PropertyValue::text("x")));
    let err = c.create_page(&bad).await.unwrap_err();
    assert_eq!(api_code(&err), (400, "validation_error".into()));
    assert!(
        err.to_string()
            .contains("Nope is not a property that exists."),
        "{err}"
    );
    let mut bad = new_task(&ds, "x");
    bad.properties
        .push(("Stage".into(), PropertyValue::status("Unknown stage")));
    assert_eq!(
        api_code(&c.create_page(&bad).await.unwrap_err()),
        (400, "validation_error".into())
    );
    let err = c.retrieve_page(&PageId::new(uuid())).await.unwrap_err();
    assert_eq!(api_code(&err), (404, "object_not_found".into()));
    d.unshare(page.id.as_str()).unwrap();
    let err = c
        .update_page(&page.id, &PageUpdate::default(), Idempotency::Idempotent)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn relations_read_with_has_more_beyond_25() {
    let d = double().await;
    let c = fast(&d);
    let ds = tasks(&d, &c).await;
    let parent = PageId::new(d.seed_page("Assets home"));
    let assets = c
        .create_database(&NewDatabase {
            parent_page: parent,
            title: "Assets".into(),
            properties: vec![
                ("Name".into(), PropertyConfig::Title),
                (
                    "Tasks".into(),
                    PropertyConfig::Relation {
                        data_source_id: ds.clone(),
                        dual: false,
                    },
                ),
            ],
            is_inline: false,
        })
        .await
        .unwrap()
        .data_sources[0]
        .id
        .clone();
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            c.create_page(&new_task(&ds, &format!("t{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let page = c
        .create_page(&NewPage {
            parent: PageParent::DataSource(assets.clone()),
            properties: vec![
                ("Name".into(), PropertyValue::title("a")),
                ("Tasks".into(), PropertyValue::relation(ids.clone())),
            ],
            children: vec![],
        })
        .await
        .unwrap();
    let Some(PropertyValue::Relation { ids: got, has_more }) = page.get("Tasks") else {
        panic!()
    };
    assert_eq!((got.len(), *has_more), (25, true));
    assert_eq!(got[..], ids[..25]);
    let found = c
        .query_data_source(
            &assets,
            &Query {
                filter: Some(Filter::relation_contains("Tasks", &ids[29])),
                ..Query::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn query_follows_cursors_filters_and_sorts() {
    let d = double().await;
    let c = fast(&d);
    let ds = tasks(&d, &c).await;
    for i in 0..7 {
        let mut p = new_task(&ds, &format!("t{i}"));
        p.properties
            .push(("Version".into(), PropertyValue::Number(Some(i as f64))));
        p.properties.push((
            "Status".into(),
            PropertyValue::select(if i % 2 == 0 { "New" } else { "Done" }),
        ));
        p.properties
            .push(("Topic".into(), PropertyValue::text(&format!("topic {i}"))));
        c.create_page(&p).await.unwrap();
    }
    d.clear_requests();
    let q = Query {
        page_size: Some(2),
        sorts: vec![Sort::Property("Version".into(), Direction::Descending)],
        ..Query::default()
    };
    let all = c.query_data_source(&ds, &q).await.unwrap();
    assert_eq!(
        all.iter().map(Page::title).collect::<Vec<_>>(),
        ["t6", "t5", "t4", "t3", "t2", "t1", "t0"]
    );
    let bodies: Vec<_> = d.requests().iter().map(|r| r.json().unwrap()).collect();
    assert_eq!(bodies.len(), 4);
    assert!(
        bodies[0].get("start_cursor").is_none(),
        "no start_cursor on the first call"
    );
    assert!(bodies[1..].iter().all(|b| b["start_cursor"].is_string()));

    let filtered = c
        .query_data_source(
            &ds,
            &Query {
                filter: Some(Filter::And(vec![
                    Filter::select_equals("Status", "New"),
                    Filter::Or(vec![
                        Filter::rich_text_contains("Topic", "2"),
                        Filter::number_equals("Version", 6.0),
                    ]),
                    Filter::last_edited_on_or_after(
                        chrono::Utc::now() - chrono::TimeDelta::minutes(5),
                    ),
                ])),
                sorts: vec![Sort::Timestamp(
                    Timestamp::CreatedTime,
                    Direction::Ascending,
                )],
                page_size: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        filtered.iter().map(Page::title).collect::<Vec<_>>(),
        ["t2", "t6"]
    );
    let err = c
        .query_data_source(
            &ds,
            &Query {
                filter: Some(Filter::status_equals("Status", "New")),
                ..Query::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        api_code(&err),
        (400, "validation_error".into()),
        "Status is a select, not a status"
    );
    let err = c
        .query_data_source(
            &ds,
            &Query {
                page_size: Some(101),
                ..Query::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("page_size should be ≤ 100"),
        "{err}"
    );
}

#[tokio::test]
async fn file_uploads_single_multi_expiry_and_image_blocks() {
    let d = NotionDouble::start(DoubleConfig::default().without_rate_limit())
        .await
        .unwrap();
    let c = fast(&d);
    // Single part, then attach as an image block.
    let up = c
        .upload_file("a.png", "image/png", Bytes::from(vec![1u8; 2048]))
        .await
        .unwrap();
    assert_eq!(up.status, FileUploadStatus::Uploaded);
    assert_eq!(up.content_length, Some(2048));
    let page = PageId::new(d.seed_page("Gallery"));
    let blocks = c
        .append_block_children(
            &(&page).into(),
            &[
                BlockContent::image_upload(up.id.clone()),
                BlockContent::Paragraph("caption".into()),
            ],
            Idempotency::NotIdempotent,
        )
        .await
        .unwrap();
    assert_eq!(blocks.len(), 2);
    assert!(matches!(&blocks[0].image, Some(FileSource::Hosted { .. })));
    assert!(
        c.retrieve_file_upload(&up.id)
            .await
            .unwrap()
            .expiry_time
            .is_none(),
        "attached"
    );

    // Over the free workspace limit: refused before any byte is sent, and by the API itself.
    let err = c
        .upload_file(
            "big.png",
            "image/png",
            Bytes::from(vec![0u8; 6 * 1024 * 1024]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, NotionError::InvalidInput(ref m) if m.contains("5242880")),
        "{err}"
    );
    let pending = c
        .create_file_upload(
            &NewFileUpload {
                mode: UploadMode::SinglePart,
                filename: Some("big.png".into()),
                content_type: Some("image/png".into()),
            },
            Idempotency::Idempotent,
        )
        .await
        .unwrap();
    let err = c
        .send_file_upload(
            &pending.id,
            Bytes::from(vec![0u8; 6 * 1024 * 1024]),
            "big.png",
            "image/png",
            None,
            Idempotency::NotIdempotent,
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "validation_error".into()));

    // Expiry: an unattached upload is unusable after an hour.
    d.advance_clock(Duration::from_secs(61 * 60));
    assert_eq!(
        c.retrieve_file_upload(&pending.id).await.unwrap().status,
        FileUploadStatus::Expired
    );
    let err = c
        .append_block_children(
            &(&page).into(),
            &[BlockContent::image_upload(pending.id.clone())],
            Idempotency::NotIdempotent,
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "validation_error".into()));
    let err = c
        .retrieve_file_upload(&FileUploadId::new(uuid()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // Multi part above 20 MB on a paid workspace: 3 parts then complete.
    d.set_upload_limit(5 * 1024 * 1024 * 1024);
    d.clear_requests();
    let data: Vec<u8> = (0..25 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let up = c
        .upload_file("big.mp4", "video/mp4", Bytes::from(data))
        .await
        .unwrap();
    assert_eq!(up.status, FileUploadStatus::Uploaded);
    assert_eq!(up.content_length, Some(25 * 1024 * 1024));
    let paths: Vec<_> = d
        .requests()
        .iter()
        .map(|r| r.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        ["me", "file_uploads", "send", "send", "send", "complete"]
    );
    // Completing twice is refused.
    let err = c
        .complete_file_upload(&up.id, Idempotency::NotIdempotent)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), (400, "validation_error".into()));

    // More than 100 children.
    let many: Vec<_> = (0..101)
        .map(|i| BlockContent::Paragraph(i.to_string()))
        .collect();
    let err = c
        .append_block_children(&(&page).into(), &many, Idempotency::NotIdempotent)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("body.children.length should be ≤ 100, instead was 101"),
        "{err}"
    );
}

#[tokio::test]
async fn retry_policy_per_status_and_method() {
    let d = double().await;
    let c = fast(&d);
    let ds = tasks(&d, &c).await;
    let count = |d: &NotionDouble, method: &str, prefix: &str| {
        d.requests()
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .count()
    };

    // GET: 503 and a dropped connection are retried.
    d.clear_requests();
    d.inject_fault(FaultRule::next(1, FaultKind::Status(503)).method("GET"));
    d.inject_fault(FaultRule::next(1, FaultKind::DropConnection).method("GET"));
    c.me().await.unwrap();
    assert_eq!(count(&d, "GET", "/v1/users/me"), 3);

    // Non-idempotent write: 503 and a dropped connection are NOT retried.
    d.clear_requests();
    d.inject_fault(
        FaultRule::next(1, FaultKind::Status(503))
            .method("POST")
            .path_prefix("/v1/pages"),
    );
    let err = c.create_page(&new_task(&ds, "a")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(err.to_string().contains("503 service_unavailable"), "{err}");
    d.inject_fault(
        FaultRule::next(1, FaultKind::DropConnection)
            .method("POST")
            .path_prefix("/v1/pages"),
    );
    let err = c.create_page(&new_task(&ds, "b")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert_eq!(count(&d, "POST", "/v1/pages"), 2);

    // ...but 429 is (the server did not process it), after its Retry-After.
    d.clear_requests();
    d.inject_fault(
        FaultRule::next(1, FaultKind::Status(429))
            .method("POST")
            .path_prefix("/v1/pages")
            .retry_after(1),
    );
    let t = Instant::now();
    c.create_page(&new_task(&ds, "c")).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "waited for Retry-After"
    );
    assert_eq!(count(&d, "POST", "/v1/pages"), 2);

    // Idempotent write: 502/504 retried.
    let page = c.create_page(&new_task(&ds, "d")).await.unwrap();
    d.clear_requests();
    d.inject_fault(FaultRule::next(1, FaultKind::Status(502)).method("PATCH"));
    d.inject_fault(FaultRule::next(1, FaultKind::Status(504)).method("PATCH"));
    c.update_page(
        &page.id,
        &PageUpdate {
            properties: vec![("Status".into(), PropertyValue::select("Done"))],
            in_trash: None,
        },
        Idempotency::Idempotent,
    )
    .await
    .unwrap();
    assert_eq!(count(&d, "PATCH", "/v1/pages"), 3);

    // At most 5 attempts.
    d.clear_requests();
    d.inject_fault(FaultRule::next(10, FaultKind::Status(500)).method("GET"));
    let err = c.me().await.unwrap_err();
    assert_eq!(api_code(&err), (500, "internal_server_error".into()));
    assert_eq!(d.requests().len(), 5);
    d.clear_faults();

    // 400/403/404 never retried.
    for status in [400, 403, 404] {
        d.clear_requests();
        d.inject_fault(FaultRule::next(1, FaultKind::Status(status)).method("GET"));
        let err = c.me().await.unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_eq!(d.requests().len(), 1, "{status} is not retried");
    }
    let err = c.me().await;
    assert!(err.is_ok());
}

#[tokio::test]
async fn a_429_pauses_every_clone() {
    let d = double().await;
    let cfg = ClientConfig::default()
        .base_url(d.url())
        .rate(3.0, 1)
        .backoff_base(Duration::from_millis(5));
    let c = NotionClient::with_config(NotionToken::new(d.token()), cfg).unwrap();
    d.inject_fault(FaultRule::next(1, FaultKind::Status(429)).retry_after(1));
    let calls = (0..3).map(|_| {
        let c = c.clone();
        async move { c.me().await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    let log = d.requests();
    assert_eq!(log.len(), 4);
    let limited = log.iter().find(|r| r.status == Some(429)).unwrap().at_ms;
    for r in log.iter().filter(|r| r.status == Some(200)) {
        assert!(
            r.at_ms >= limited + 950,
            "request at {} ms went out during the pause that began at {limited} ms",
            r.at_ms
        );
    }
}

#[tokio::test]
async fn a_429_after_the_last_attempt_still_pauses_every_caller() {
    let d = double().await;
    let cfg = ClientConfig::default()
        .base_url(d.url())
        .rate(1000.0, 100)
        .backoff_base(Duration::from_millis(5))
        .max_attempts(1);
    let c = NotionClient::with_config(NotionToken::new(d.token()), cfg).unwrap();
    d.inject_fault(FaultRule::next(1, FaultKind::Status(429)).retry_after(1));
    let err = c.me().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    // Another caller of the same token must not hit the limit again meanwhile.
    c.clone().me().await.unwrap();
    let log = d.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, Some(429));
    assert!(
        log[1].at_ms >= log[0].at_ms + 950,
        "the next request went out {} ms after the final 429 (Retry-After: 1)",
        log[1].at_ms - log[0].at_ms
    );
}

#[tokio::test]
async fn retry_after_that_is_infinite_negative_or_garbage_is_clamped_or_ignored() {
    let d = double().await;
    let mut cfg = ClientConfig::default()
        .base_url(d.url())
        .rate(1000.0, 100)
        .backoff_base(Duration::from_millis(5));
    // The honoured wait is capped by backoff_max: keep the test fast.
    cfg.backoff_max = Duration::from_millis(50);
    let once = NotionClient::with_config(NotionToken::new(d.token()), cfg.clone().max_attempts(1))
        .unwrap();
    let retrying = NotionClient::with_config(NotionToken::new(d.token()), cfg).unwrap();
    let cases = [
        ("inf", Some(RETRY_AFTER_MAX)),
        ("1e400", Some(RETRY_AFTER_MAX)),
        ("1e300", Some(RETRY_AFTER_MAX)),
        ("99999999999999999999999", Some(RETRY_AFTER_MAX)),
        ("-5", None),
        ("-inf", None),
        ("NaN", None),
        ("soon", None),
        ("2", Some(Duration::from_secs(2))),
    ];
    for (raw, expected) in cases {
        d.inject_fault(FaultRule::next(1, FaultKind::Status(429)).retry_after_header(raw));
        let err = once.me().await.unwrap_err();
        let NotionError::Api(api) = &err else {
            panic!("{raw}: not an API error: {err}");
        };
        assert_eq!(api.retry_after, expected, "Retry-After: {raw}");
        assert!(err.to_string().contains("429 rate_limited"), "{err}");
        // A retrying caller waits (at most backoff_max) and gets through.
        d.inject_fault(FaultRule::next(1, FaultKind::Status(529)).retry_after_header(raw));
        retrying.me().await.unwrap();
    }
}

#[tokio::test]
async fn sixty_requests_at_three_per_second_never_hit_429() {
    let d = NotionDouble::start(DoubleConfig::default()).await.unwrap(); // enforces 3/s, small burst
    let cfg = ClientConfig::default().base_url(d.url()); // 3/s default pacing
    let c = NotionClient::with_config(NotionToken::new(d.token()), cfg).unwrap();
    let t = Instant::now();
    let calls = (0..60).map(|_| {
        let c = c.clone();
        async move { c.me().await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    let elapsed = t.elapsed();
    println!(
        "60 requests at 3/s took {:.2} s (ideal 20 s)",
        elapsed.as_secs_f64()
    );
    let limited = d
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count();
    assert_eq!(limited, 0);
    assert_eq!(d.requests().len(), 60);
    assert!(
        elapsed > Duration::from_secs(15) && elapsed < Duration::from_secs(30),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn thirty_percent_faults_every_call_succeeds_and_no_write_is_sent_twice() {
    let d = double().await;
    let c = fast(&d);
    let ds = tasks(&d, &c).await;
    let transient = vec![
        FaultKind::Status(429),
        FaultKind::Status(503),
        FaultKind::DropConnection,
    ];
    let spec = |seed, kinds: Vec<FaultKind>, methods: &[&str], prefix: Option<&str>| RandomFaults {
        ratio: 0.3,
        seed,
        kinds,
        methods: methods.iter().map(|m| m.to_string()).collect(),
        path_prefix: prefix.map(str::to_owned),
        retry_after: Some(1),
    };
    // Reads and idempotent writes: any transient failure. Page creation: 429 only (a 503 or a
    // dropped connection there is a real failure, covered in retry_policy_per_status_and_method).
    d.inject_random_faults(spec(11, transient.clone(), &["GET", "PATCH"], None));
    d.inject_random_faults(spec(12, transient, &["POST"], Some("/v1/data_sources")));
    d.inject_random_faults(spec(
        13,
        vec![FaultKind::Status(429)],
        &["POST"],
        Some("/v1/pages"),
    ));
    d.clear_requests();

    let mut pages = Vec::new();
    for i in 0..8 {
        pages.push(
            c.create_page(&new_task(&ds, &format!("task {i}")))
                .await
                .unwrap()
                .id,
        );
    }
    for (i, id) in pages.iter().enumerate() {
        c.retrieve_page(id).await.unwrap();
        let upd = PageUpdate {
            properties: vec![("Topic".into(), PropertyValue::text(&format!("t{i}")))],
            in_trash: None,
        };
        c.update_page(id, &upd, Idempotency::Idempotent)
            .await
            .unwrap();
    }
    let all = c
        .query_data_source(
            &ds,
            &Query {
                page_size: Some(3),
                ..Query::default()
            },
        )
        .await
        .unwrap();
    c.me().await.unwrap();
    assert_eq!(all.len(), 8, "exactly one page per create call");

    let log = d.requests();
    let injected = log.iter().filter(|r| r.injected).count();
    println!("{} requests, {injected} injected faults", log.len());
    assert!(injected >= 5, "the faults were really injected");
    // Every create body reached the handler exactly once; its other sends were refused with 429.
    let creates: Vec<_> = log
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/pages")
        .collect();
    for i in 0..8 {
        let title = format!("task {i}");
        let sends: Vec<_> = creates
            .iter()
            .filter(|r| r.body.contains(&format!("\"{title}\"")))
            .collect();
        assert_eq!(
            sends.iter().filter(|r| r.status != Some(429)).count(),
            1,
            "{title} processed once"
        );
        assert!(
            sends
                .iter()
                .all(|r| r.status == Some(200) || r.status == Some(429))
        );
    }

    // Non-idempotent writes under 503s and dropped connections: a failed create is reported,
    // never resent (it may have landed); only 429s, which Notion did not process, are resent.
    d.clear_faults();
    let kinds = vec![
        FaultKind::Status(429),
        FaultKind::Status(503),
        FaultKind::DropConnection,
    ];
    d.inject_random_faults(spec(14, kinds, &["POST"], Some("/v1/pages")));
    d.clear_requests();
    let mut failed = 0;
    for i in 0..12 {
        if c.create_page(&new_task(&ds, &format!("extra {i}")))
            .await
            .is_err()
        {
            failed += 1;
        }
    }
    let log = d.requests();
    let mut unrecoverable = 0;
    for i in 0..12 {
        let title = format!("\"extra {i}\"");
        let sends: Vec<_> = log.iter().filter(|r| r.body.contains(&title)).collect();
        let processed_or_lost = sends.iter().filter(|r| r.status != Some(429)).count();
        assert_eq!(
            processed_or_lost, 1,
            "{title}: sent once past the rate limit, never resent after a 503 or a lost answer"
        );
        if sends
            .iter()
            .any(|r| r.status == Some(503) || r.status.is_none())
        {
            unrecoverable += 1;
        }
    }
    assert!(
        unrecoverable > 0,
        "the run injected 503s or drops on creates"
    );
    assert_eq!(failed, unrecoverable, "exactly those creates failed");
}

/// Collects everything tracing writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_token_never_appears_in_trace_logs_debug_or_errors() {
    const SECRET: &str = "ntn_SUPERSECRET_0123456789abcdef";
    const WRONG: &str = "ntn_WRONGSECRET_fedcba9876543210";
    // `log` records (reqwest, hyper) go through tracing too; harmless if already installed.
    let _ = tracing_log::LogTracer::init();
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let d = NotionDouble::start(DoubleConfig::default().without_rate_limit().token(SECRET))
        .await
        .unwrap();
    let c = client_with(&d, SECRET);
    let ds = tasks(&d, &c).await;
    let page = c.create_page(&new_task(&ds, "x")).await.unwrap();
    c.retrieve_page(&page.id).await.unwrap();
    d.inject_fault(FaultRule::next(1, FaultKind::Status(503)).method("GET"));
    d.inject_fault(FaultRule::next(1, FaultKind::DropConnection).method("GET"));
    c.me().await.unwrap();
    let wrong = client_with(&d, WRONG);
    let err = wrong.me().await.unwrap_err();
    tracing::info!(error = %err, debug = ?err, client = ?c, config = ?c.config(), token = ?NotionToken::new(SECRET), "dump");
    d.inject_fault(FaultRule::next(1, FaultKind::DropConnection).method("POST"));
    let err2 = c.create_page(&new_task(&ds, "y")).await.unwrap_err();
    tracing::info!(error = %err2, debug = ?err2, "dump");

    let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    if std::env::var_os("SHOW_TRACE").is_some() {
        println!("{out}");
    }
    assert!(
        out.contains("notion call ok"),
        "the client logged at debug level"
    );
    assert!(out.len() > 1000, "the run was traced");
    assert!(!out.contains(SECRET), "token leaked into logs");
    assert!(!out.contains(WRONG), "rejected token leaked into logs");
    assert!(!out.contains("SUPERSECRET") && !out.contains("WRONGSECRET"));
    assert!(!format!("{err:?} {err} {err2:?} {err2} {c:?}").contains("SECRET"));
    assert!(d.requests().iter().all(|r| !r.body.contains("SECRET")));
}

// GET /v1/users/{id}: persons carry an email only with the email capability, bots their bot
// object, and without any user-information capability Notion answers 403.
#[tokio::test]
async fn retrieve_user_follows_the_user_information_capability() {
    let d = double().await;
    let c = fast(&d);
    let ana = d.add_person("Ana", Some("ana@example.com"));
    let u = c.retrieve_user(&UserId::new(&ana)).await.unwrap();
    assert_eq!(u.id, UserId::new(&ana));
    assert_eq!(u.name.as_deref(), Some("Ana"));
    assert_eq!(u.email(), Some("ana@example.com"));
    assert!(matches!(u.kind, UserKind::Person { .. }));
    // Ids are accepted without dashes too.
    let plain = c
        .retrieve_user(&UserId::new(ana.replace('-', "")))
        .await
        .unwrap();
    assert_eq!(plain.id, u.id);

    let bot = c.retrieve_user(&UserId::new(d.bot_id())).await.unwrap();
    assert!(matches!(bot.kind, UserKind::Bot { .. }), "{bot:?}");
    assert_eq!(bot.email(), None);

    d.set_user_info(notion_double::UserInfo::WithoutEmail);
    let u = c.retrieve_user(&UserId::new(&ana)).await.unwrap();
    assert_eq!(u.name.as_deref(), Some("Ana"));
    assert_eq!(u.email(), None);
    assert_eq!(u.kind, UserKind::Person { email: None });

    d.set_user_info(notion_double::UserInfo::None);
    let err = c.retrieve_user(&UserId::new(&ana)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    assert!(err.to_string().contains("403"), "{err}");

    d.set_user_info(notion_double::UserInfo::WithEmail);
    let err = c
        .retrieve_user(&UserId::new("00000000-0000-4000-8000-000000000000"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn search_finds_the_pages_shared_with_the_integration_by_title() {
    let d = double().await;
    let c = fast(&d);
    let shared = d.seed_page("Video Production");
    let other = d.seed_page("Team wiki");
    d.seed_unshared_page("Private notes");
    let all = c.search_pages("").await.unwrap();
    let titles: Vec<String> = all.iter().map(|p| p.title()).collect();
    assert!(
        titles.contains(&"Video Production".to_string()),
        "{titles:?}"
    );
    assert!(titles.contains(&"Team wiki".to_string()), "{titles:?}");
    assert!(
        !titles.contains(&"Private notes".to_string()),
        "a page not shared with the integration is not found"
    );
    let found = c.search_pages("video").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, PageId::new(shared));
    assert!(
        found[0]
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://www.notion.so/"))
    );
    assert_ne!(found[0].id, PageId::new(other));
}
