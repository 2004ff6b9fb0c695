//! The desktop window's event position (`get_events_position`): with the forwarder subscribed to
//! the feed first (as the desktop's start-up does), a board read reflecting the position has missed
//! nothing, and every change after it reaches the subscriber.

use std::time::Duration;

use reviewdesk_api::{App, Command, CreateTask, GetBoard, GetEventsPosition};
use reviewdesk_core::{DomainEvent, NewTask, Source};
use reviewdesk_runtime::{AppRuntime, RuntimeOptions};
use reviewdesk_testkit::TestCore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_read_at_the_position_has_missed_nothing_and_later_changes_reach_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let core = TestCore::new().open_in(dir.path()).await;
    let rt = AppRuntime::start(
        core,
        RuntimeOptions {
            run_worker: false,
            watch_files: false,
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    let app = App::desktop(Ok(rt.clone()), Err("no settings in this test".into()));
    let create = |title: &str| CreateTask {
        body: NewTask {
            title: title.into(),
            draft: true,
            ..NewTask::default()
        },
    };
    let board = || GetBoard {
        q: None,
        latest: None,
    };
    // Logged before the window exists.
    create("Before the window")
        .run(&app, Source::Desktop)
        .await
        .unwrap();

    // The forwarder's subscription, made before any command runs.
    let mut forwarded = rt.feed.subscribe();
    let read = board().run(&app, Source::Desktop).await.unwrap();
    assert!(read.events_through > 0, "the creation is in the log");
    // Once the feed has sent what was logged, the position is exactly where the read left the
    // log: the window's first read is then enough. Never past the log's end.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let at = GetEventsPosition {}
            .run(&app, Source::Desktop)
            .await
            .unwrap()
            .through;
        assert!(at <= read.events_through, "{at} > {}", read.events_through);
        if at == read.events_through {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feed never caught up: {at}"
        );
        tokio::task::yield_now().await;
    }

    // A change after the position reaches the subscriber, and moves the position past the read.
    let made = create("After the window")
        .run(&app, Source::Desktop)
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match forwarded.recv().await.unwrap() {
                DomainEvent::TaskCreated { task_id, .. } if task_id == made.id => break,
                _ => {}
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "the new task never reached the window");
    let at = GetEventsPosition {}
        .run(&app, Source::Desktop)
        .await
        .unwrap()
        .through;
    assert!(at > read.events_through, "{at}");
    rt.shutdown().await.unwrap();
}
