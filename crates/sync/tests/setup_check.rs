//! `setup::check` says which findings the app can fix, and `setup::add_missing` fixes exactly
//! those (against the Notion double), once.

use std::time::Duration;

use notion_double::{DoubleConfig, NotionDouble};
use reviewdesk_core::config::NotionIds;
use reviewdesk_notion::{
    ClientConfig, DataSourceId, DataSourceUpdate, DatabaseId, Idempotency, NotionClient,
    NotionToken, PageId, PropertyConfig, SchemaChange,
};
use reviewdesk_sync::setup;

async fn start() -> (NotionDouble, NotionClient, NotionIds) {
    let double = NotionDouble::start(DoubleConfig::default().without_rate_limit())
        .await
        .unwrap();
    let cfg = ClientConfig::default()
        .base_url(double.url())
        .backoff_base(Duration::from_millis(20))
        .rate(500.0, 50);
    let client = NotionClient::with_config(NotionToken::new(double.token()), cfg).unwrap();
    let parent = double.seed_page("Review Desk");
    let ids = setup::init(&client, &PageId::new(&parent), "Deep Sea")
        .await
        .unwrap();
    (double, client, ids)
}

async fn ds(c: &NotionClient, db: &Option<String>) -> DataSourceId {
    c.data_source_ids(&DatabaseId::new(db.as_ref().unwrap()))
        .await
        .unwrap()
        .remove(0)
        .id
}

async fn change(c: &NotionClient, ds: &DataSourceId, props: Vec<(&str, SchemaChange)>) {
    c.update_data_source(
        ds,
        &DataSourceUpdate {
            title: None,
            properties: props
                .into_iter()
                .map(|(n, ch)| (n.to_string(), ch))
                .collect(),
        },
        Idempotency::Idempotent,
    )
    .await
    .unwrap();
}

fn patches(double: &NotionDouble) -> usize {
    double
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.starts_with("/v1/data_sources/"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_properties_and_options_are_named_fixable_and_added_once_a_retype_is_not() {
    let (double, c, ids) = start().await;
    assert!(setup::check(&c, &ids).await.unwrap().is_empty());
    let tasks = ds(&c, &ids.tasks_database_id).await;
    let assets = ds(&c, &ids.assets_database_id).await;
    // Delete a property, remove a Status option, delete a relation, retype a property.
    let all = setup::status_options();
    let removed = *all.last().unwrap();
    let kept: Vec<(String, String)> = all[..all.len() - 1]
        .iter()
        .map(|n| (n.to_string(), "default".to_string()))
        .collect();
    change(
        &c,
        &tasks,
        vec![
            ("Retry Status", SchemaChange::Remove),
            ("Status", SchemaChange::Set(PropertyConfig::Select(kept))),
        ],
    )
    .await;
    change(
        &c,
        &assets,
        vec![
            ("Task", SchemaChange::Remove),
            (
                "Notes",
                SchemaChange::Set(PropertyConfig::Number("number".into())),
            ),
        ],
    )
    .await;

    let found = setup::check(&c, &ids).await.unwrap();
    let find = |needle: &str| {
        found
            .iter()
            .find(|f| f.message.contains(needle))
            .unwrap_or_else(|| panic!("no finding with {needle:?} in {found:?}"))
    };
    let retry = find("\"Retry Status\" is missing");
    assert_eq!(retry.database, "Tasks");
    assert!(retry.message.contains("type rich_text"), "{retry:?}");
    assert!(retry.fixable);
    let option = find(&format!("lacks the option \"{removed}\""));
    assert!(option.message.contains("\"Status\" (select)"), "{option:?}");
    assert!(option.fixable);
    let relation = find("\"Task\" is missing");
    assert_eq!(relation.database, "Assets");
    assert!(relation.message.contains("type relation"), "{relation:?}");
    assert!(relation.fixable);
    let retyped = find("\"Notes\" is of type number but must be rich_text");
    assert!(!retyped.fixable);
    assert_eq!(found.len(), 4, "{found:?}");

    let added = setup::add_missing(&c, &ids).await.unwrap();
    let said: Vec<String> = added
        .iter()
        .map(|a| format!("{}: {}", a.database, a.message))
        .collect();
    assert_eq!(
        said,
        [
            format!("Tasks: added the option \"{removed}\" to \"Status\""),
            "Tasks: added property \"Retry Status\" (type rich_text)".to_string(),
            "Assets: added property \"Task\" (type relation)".to_string(),
        ]
    );
    // Only the retype is left, and the property keeps the creator's type.
    let found = setup::check(&c, &ids).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].message.contains("\"Notes\""), "{found:?}");
    let schema = c.retrieve_data_source(&assets).await.unwrap();
    assert_eq!(schema.properties["Notes"].kind, "number");
    // The existing options are all still there, with the restored one.
    let status = &c.retrieve_data_source(&tasks).await.unwrap().properties["Status"];
    assert_eq!(status.options.len(), all.len());

    // Idempotent: nothing more to add, and no write is sent.
    double.clear_requests();
    assert!(setup::add_missing(&c, &ids).await.unwrap().is_empty());
    assert_eq!(patches(&double), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_property_missing_options_and_a_renamed_title_are_not_fixable() {
    let (double, c, ids) = start().await;
    let tasks = ds(&c, &ids.tasks_database_id).await;
    // A Notion "status" Status (allowed) with its default options lacks the board's names; the
    // API cannot edit a status property's options. A renamed title cannot be re-created either.
    change(
        &c,
        &tasks,
        vec![
            ("Status", SchemaChange::Set(PropertyConfig::Status(vec![]))),
            ("Title", SchemaChange::Rename("Name".into())),
        ],
    )
    .await;
    let found = setup::check(&c, &ids).await.unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().all(|f| !f.fixable), "{found:?}");
    assert!(
        found
            .iter()
            .any(|f| f.message.contains("\"Status\" (status) lacks the option")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.message.contains("rename the database's title property")),
        "{found:?}"
    );
    double.clear_requests();
    assert!(setup::add_missing(&c, &ids).await.unwrap().is_empty());
    assert_eq!(patches(&double), 0);
}
