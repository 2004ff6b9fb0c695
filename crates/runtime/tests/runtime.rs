//! The shared start: worker, feed and status as both doors see them.

use std::time::Duration;

use reviewdesk_core::config::WorkerSettings;
use reviewdesk_core::{Core, DomainEvent, NewTask, Source, Status, TaskService, WorkerState};
use reviewdesk_runtime::{AppRuntime, Door, NotionCheckError, RuntimeError, RuntimeOptions};
use reviewdesk_testkit::TestCore;

async fn core(dir: &tempfile::TempDir) -> std::sync::Arc<Core> {
    TestCore::new()
        .worker_settings(WorkerSettings {
            poll: Duration::from_millis(50),
            ..Default::default()
        })
        .open_in(dir.path())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_started_worker_takes_a_task_to_the_gate_and_the_status_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(&dir).await;
    let rt = AppRuntime::start(
        core.clone(),
        RuntimeOptions {
            watch_files: false,
            door: Door::Desktop,
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    let mut events = rt.feed.subscribe();
    let task = TaskService::new(core.clone())
        .create(
            NewTask {
                title: "Tides".into(),
                ..Default::default()
            },
            Source::Desktop,
        )
        .await
        .unwrap();
    // The feed announces the gate with the title and item count (what the notification shows).
    let ready = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            if let Ok(DomainEvent::ReviewReady {
                task_id,
                gate,
                title,
                items,
                ..
            }) = events.recv().await
                && task_id == task.id
            {
                return (gate, title, items);
            }
        }
    })
    .await
    .expect("the task reached its gate");
    assert_eq!(ready, (Status::AssetsReady, "Tides".to_string(), 22));

    let status = rt.status().await.unwrap();
    assert_eq!(status.waiting_for_review, 1);
    let waiting = rt.waiting_for_review().await.unwrap();
    assert_eq!(waiting.iter().map(|t| t.id).collect::<Vec<_>>(), [task.id]);
    // The desktop's hint points at Settings, not at environment variables.
    let json = serde_json::to_string(&status.mirror).unwrap();
    assert!(json.contains("Settings"), "{json}");

    assert_eq!(rt.pause_worker().await.unwrap().worker, WorkerState::Paused);
    assert_ne!(
        rt.resume_worker().await.unwrap().worker,
        WorkerState::Paused
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_a_worker_pause_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let rt = AppRuntime::start(
        core(&dir).await,
        RuntimeOptions {
            run_worker: false,
            watch_files: false,
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    let e = rt.pause_worker().await.unwrap_err();
    assert!(matches!(e, RuntimeError::NoWorker));
    assert!(e.to_string().contains("--no-worker"), "{e}");
    let status = rt.status().await.unwrap();
    assert_eq!(status.worker, WorkerState::Stopped);
    // `reviewdesk serve` has no Settings screen: its hint names the environment variable.
    let hint = serde_json::to_string(&status.mirror).unwrap();
    assert!(
        hint.contains("NOTION_TOKEN") && !hint.contains("Settings"),
        "{hint}"
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_saved_after_start_connects_the_mirror_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("cfg/channels")).unwrap();
    std::fs::write(
        dir.path().join("cfg/channels/news.yaml"),
        "channel_id: news\nchannel_name: News\nnotion:\n  tasks_database_id: 0b3f6c1a-6f4e-4b8e-9a51-0c8a7d2f4e11\n  assets_database_id: 5d2e8f70-1c3b-4a9d-8e6f-2b7c9d0e1f22\n",
    )
    .unwrap();
    let rt = AppRuntime::start(
        core(&dir).await,
        RuntimeOptions {
            run_worker: false,
            watch_files: false,
            door: Door::Desktop,
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    let before = serde_json::to_string(&rt.status().await.unwrap().mirror).unwrap();
    assert!(rt.mirror().is_none());
    assert!(before.contains("mirror is not running"), "{before}");
    assert!(before.contains("Settings"), "{before}");

    assert!(
        rt.connect_notion("ntn_test_token_0123456789", Default::default())
            .await
    );
    assert!(rt.mirror().is_some());
    let after = serde_json::to_string(&rt.status().await.unwrap().mirror).unwrap();
    assert!(!after.contains("mirror is not running"), "{after}");
    rt.shutdown().await.unwrap();
}

/// A channel whose Notion databases were created in the double, and a runtime reaching it.
async fn runtime_with_notion(
    dir: &tempfile::TempDir,
) -> (
    notion_double::NotionDouble,
    reviewdesk_notion::NotionClient,
    reviewdesk_core::config::NotionIds,
    std::sync::Arc<AppRuntime>,
) {
    use reviewdesk_notion::{ClientConfig, NotionClient, NotionToken, PageId};
    let double = notion_double::NotionDouble::start(
        notion_double::DoubleConfig::default().without_rate_limit(),
    )
    .await
    .unwrap();
    let config = ClientConfig::default()
        .base_url(double.url())
        .rate(500.0, 50);
    let client =
        NotionClient::with_config(NotionToken::new(double.token()), config.clone()).unwrap();
    let parent = double.seed_page("Review Desk");
    let ids = reviewdesk_sync::setup::init(&client, &PageId::new(&parent), "News")
        .await
        .unwrap();
    std::fs::create_dir_all(dir.path().join("cfg/channels")).unwrap();
    let yaml = dir.path().join("cfg/channels/news.yaml");
    std::fs::write(&yaml, "channel_id: news\nchannel_name: News\n").unwrap();
    reviewdesk_sync::setup::write_channel_ids(&yaml, &ids).unwrap();
    let rt = AppRuntime::start(
        core(dir).await,
        RuntimeOptions {
            run_worker: false,
            watch_files: false,
            door: Door::Desktop,
            notion_client: config,
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    (double, client, ids, rt)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_connection_names_what_is_missing_and_adds_it_with_the_saved_token() {
    let dir = tempfile::tempdir().unwrap();
    let (double, client, ids, rt) = runtime_with_notion(&dir).await;
    // No token yet: the check says what to do first.
    let e = rt.check_notion().await.unwrap_err();
    assert!(matches!(e, NotionCheckError::Off), "{e}");
    assert_eq!(e.code(), "notion_off");
    assert!(e.to_string().contains("save a token first"), "{e}");

    rt.set_notion_token(Some(&double.token()));
    let clean = rt.check_notion().await.unwrap();
    assert!(clean.ok && !clean.fixable, "{clean:?}");
    assert_eq!(clean.channels.len(), 1);
    assert_eq!(clean.channels[0].channel_id, "news");
    let names: Vec<&str> = clean.channels[0]
        .databases
        .iter()
        .map(|d| d.database.as_str())
        .collect();
    assert_eq!(names, ["Tasks", "Assets", "Videos", "Audio"]);

    let tasks = client
        .data_source_ids(&reviewdesk_notion::DatabaseId::new(
            ids.tasks_database_id.as_ref().unwrap(),
        ))
        .await
        .unwrap()
        .remove(0)
        .id;
    client
        .update_data_source(
            &tasks,
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
    let broken = rt.check_notion().await.unwrap();
    assert!(!broken.ok && broken.fixable, "{broken:?}");
    let tasks_check = &broken.channels[0].databases[0];
    assert_eq!(tasks_check.findings.len(), 1, "{tasks_check:?}");
    assert!(tasks_check.findings[0].message.contains("\"Retry Status\""));
    assert!(tasks_check.findings[0].message.contains("type rich_text"));
    assert!(tasks_check.findings[0].fixable);

    let fixed = rt.add_missing_notion_properties().await.unwrap();
    assert!(fixed.ok && !fixed.fixable, "{fixed:?}");
    assert_eq!(
        fixed.channels[0].databases[0].added,
        ["added property \"Retry Status\" (type rich_text)"]
    );
    // The report is what the UI receives.
    let json = serde_json::to_value(&fixed).unwrap();
    assert_eq!(json["channels"][0]["databases"][0]["database"], "Tasks");

    // A removed token turns the check off again.
    rt.set_notion_token(None);
    assert!(matches!(
        rt.check_notion().await.unwrap_err(),
        NotionCheckError::Off
    ));
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn check_connection_without_database_ids_says_to_run_init() {
    let dir = tempfile::tempdir().unwrap();
    let rt = AppRuntime::start(
        core(&dir).await,
        RuntimeOptions {
            run_worker: false,
            watch_files: false,
            notion_token: Some("ntn_test_token_0123456789".into()),
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    let e = rt.check_notion().await.unwrap_err();
    assert!(matches!(e, NotionCheckError::NotSetUp), "{e}");
    assert!(e.to_string().contains("reviewdesk notion init"), "{e}");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_names_missing_programs_their_package_and_the_steps_they_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = WorkerSettings::default();
    settings.tools.ffmpeg = "/nonexistent/ffmpeg".into();
    let lacking = TestCore::new()
        .worker_settings(settings)
        .open_in(dir.path())
        .await;
    let rt = AppRuntime::start(
        lacking.clone(),
        RuntimeOptions {
            watch_files: false,
            run_worker: false,
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    let said = rt
        .status()
        .await
        .unwrap()
        .missing_programs
        .expect("ffmpeg is missing");
    assert!(
        said.starts_with("ffmpeg is not installed: install with `sudo apt-get install ffmpeg`"),
        "{said}"
    );
    assert!(
        said.contains("the built-in video, audio, sfx, assembly steps cannot run"),
        "{said}"
    );
    rt.shutdown().await.unwrap();

    // Every program there: nothing to say.
    let dir = tempfile::tempdir().unwrap();
    let rt = AppRuntime::start(
        core(&dir).await,
        RuntimeOptions {
            watch_files: false,
            run_worker: false,
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(rt.status().await.unwrap().missing_programs, None);
    rt.shutdown().await.unwrap();
}

/// An idle app sleeps: no poll for an hour here. A task added by another process (a second core
/// on the same database file, sharing nothing in memory) still reaches the window's feed and is
/// taken by the worker at once, woken by the database file's change (db_watch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_s_task_wakes_the_idle_worker_and_feed_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    let hour = Duration::from_secs(3600);
    let core = TestCore::new()
        .worker_settings(WorkerSettings {
            poll: hour,
            ..Default::default()
        })
        .open_in(dir.path())
        .await;
    assert!(core.db_changes.is_active(), "an SQLite file is watched");
    let rt = AppRuntime::start(
        core.clone(),
        RuntimeOptions {
            watch_files: false,
            door: Door::Desktop,
            feed_poll: hour,
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    let mut events = rt.feed.subscribe();
    // Each loop's first look, at start, finds nothing: then they sleep for the hour.
    let other = TestCore::new().open_in(dir.path()).await;
    let task = TaskService::new(other)
        .create(
            NewTask {
                title: "From the CLI".into(),
                ..Default::default()
            },
            Source::Cli,
        )
        .await
        .unwrap();
    let (created, ready) = tokio::time::timeout(Duration::from_secs(120), async {
        let (mut created, mut ready) = (false, false);
        while !(created && ready) {
            match events.recv().await {
                Ok(DomainEvent::TaskCreated { task_id, source }) if task_id == task.id => {
                    assert_eq!(source, Source::Cli);
                    created = true;
                }
                Ok(DomainEvent::ReviewReady { task_id, gate, .. }) if task_id == task.id => {
                    assert_eq!(gate, Status::AssetsReady);
                    ready = true;
                }
                _ => {}
            }
        }
        (created, ready)
    })
    .await
    .expect("the feed and the worker woke without their hour-long poll");
    assert!(created && ready);
    rt.shutdown().await.unwrap();
}
