//! The later gates in Notion: Videos and Audio rows published before their gate's status, a
//! clip too large for the workspace sent as a rendition, and flags set on those rows acting
//! like the desktop's.

use reviewdesk_core::Step;

use super::*;

/// Every media step made by a short ffmpeg command, so the later gates come in seconds. The
/// clips are lossless, so they are larger than the workspace's upload limit below.
const QUICK_MEDIA: &str = r#"steps:
  video:
    executor: command
    program: ffmpeg
    args: "-nostdin -y -loglevel error -f lavfi -i testsrc=duration=1:size=640x360:rate=30 -c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p -movflags +faststart {output}"
    timeout_secs: 60
  audio:
    executor: command
    program: ffmpeg
    args: "-nostdin -y -loglevel error -f lavfi -i sine=frequency=440:duration=1 -c:a libmp3lame {output}"
    timeout_secs: 60
  sfx:
    executor: command
    program: ffmpeg
    args: "-nostdin -y -loglevel error -f lavfi -i anoisesrc=duration=1 -c:a libmp3lame {output}"
    timeout_secs: 60
  assembly:
    executor: command
    program: ffmpeg
    args: "-nostdin -y -loglevel error -f lavfi -i testsrc=duration=1:size=320x180:rate=10 -c:v libx264 -preset ultrafast -pix_fmt yuv420p {output}"
    timeout_secs: 60
"#;

/// Below the lossless clips (~160 KB), above the narrations (~9 KB).
const UPLOAD_LIMIT: u64 = 100_000;

fn desk() -> reviewdesk_core::ReviewInput {
    reviewdesk_core::ReviewInput::by(Source::Desktop, reviewdesk_core::review::local_reviewer())
}

async fn rows_of(e: &Env, db: &Option<String>, task_page: &str) -> Vec<Page> {
    let c = client(&e.double, true);
    let ds = ds(&c, db).await;
    c.query_data_source(
        &ds,
        &Query {
            filter: Some(Filter::relation_contains("Task", &PageId::new(task_page))),
            ..Query::default()
        },
    )
    .await
    .unwrap()
}

fn number(p: &Page, name: &str) -> Option<f64> {
    match p.get(name) {
        Some(PropertyValue::Number(n)) => *n,
        _ => None,
    }
}

fn text(p: &Page, name: &str) -> String {
    p.get(name)
        .and_then(PropertyValue::plain_text)
        .unwrap_or_default()
}

/// The row of scene `n` at `version`.
fn row(rows: &[Page], n: u32, version: u32) -> &Page {
    rows.iter()
        .find(|r| {
            number(r, "Clip Number") == Some(f64::from(n))
                && number(r, "Version") == Some(f64::from(version))
        })
        .unwrap_or_else(|| panic!("a row for scene {n} v{version}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_gates_publish_their_clips_and_take_flags_and_decisions_from_notion() {
    let e = env_with_channel(
        Db::Sqlite,
        "",
        DoubleConfig::default()
            .without_rate_limit()
            .upload_limit(UPLOAD_LIMIT),
        true,
        "notion",
        QUICK_MEDIA,
    )
    .await
    .unwrap();
    let (task, page) = task_at_assets_ready(&e).await;
    let review = reviewdesk_core::ReviewService::new(e.core.clone());
    review.approve(task.id, desk()).await.unwrap();
    run_worker(&e.core).await;
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::VideoReady
    );
    e.double.clear_requests();
    push_until_done(&e.mirror, Duration::from_secs(120)).await;

    // 18 scene rows, each with a file small enough for the workspace and a note saying so,
    // all created before the task's status says Videos Ready.
    let videos = rows_of(&e, &e.ids.videos_database_id, &page).await;
    assert_eq!(videos.len(), 18);
    for n in 1..=18 {
        let r = row(&videos, n, 1);
        assert_eq!(text(r, "Type"), "scene");
        assert_eq!(text(r, "Status"), "generated");
        assert_eq!(text(r, "Name"), format!("Clip {n:02} v1"));
        let d = number(r, "Duration").expect("a duration");
        assert!((d - 1.0).abs() < 0.2, "scene {n} lasts {d} s");
        assert!(has_file(r), "scene {n} has its file");
        let notes = text(r, "Notes");
        assert!(
            notes.contains("upload limit") && notes.contains("rendition"),
            "{notes}"
        );
    }
    let uploads: Vec<_> = e
        .double
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/send"))
        .collect();
    assert_eq!(uploads.len(), 18, "one upload per clip");
    let log = e.double.requests();
    let status_push = log
        .iter()
        .position(|r| {
            r.method == "PATCH" && r.path.ends_with(&page) && r.body.contains("Videos Ready")
        })
        .expect("the status was pushed");
    let last_row = log
        .iter()
        .rposition(|r| r.method == "POST" && r.path == "/v1/pages")
        .unwrap();
    assert!(last_row < status_push, "rows before the status");
    assert_eq!(notion_status(&e, &page).await, "Videos Ready");

    // In Notion: clips 2 and 5 marked rejected, then Video Error with what to change.
    let ana = e.double.add_person("Ana", None);
    for n in [2, 5] {
        e.double
            .edit_page_as(
                row(&videos, n, 1).id.as_str(),
                &ana,
                &json!({"properties":{"Status":{"select":{"name":"rejected"}}}}),
            )
            .unwrap();
    }
    let log = format!(
        "{}\nclips 2 and 5 shake",
        e.core.store.task(task.id).await.unwrap().error_log
    );
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{
                "Status":{"select":{"name":"Video Error"}},
                "Error Log":{"rich_text":[{"type":"text","text":{"content":log}}]}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::VideoError
    );
    let audit = e.core.store.audit(task.id).await.unwrap();
    let rej = audit.iter().rev().find(|a| a.decision == "reject").unwrap();
    assert_eq!(rej.reason.as_deref(), Some("clips 2 and 5 shake"));
    assert_eq!(rej.flagged, ["clip_02", "clip_05"]);
    assert_eq!(rej.source, "notion");

    // Retried: exactly those two are new versions, published as new rows.
    push_until_done(&e.mirror, Duration::from_secs(30)).await;
    review.retry(task.id, desk()).await.unwrap();
    run_worker(&e.core).await;
    push_until_done(&e.mirror, Duration::from_secs(60)).await;
    let videos = rows_of(&e, &e.ids.videos_database_id, &page).await;
    assert_eq!(videos.len(), 20);
    for n in [2, 5] {
        assert_eq!(text(row(&videos, n, 1), "Status"), "rejected");
        assert_eq!(text(row(&videos, n, 2), "Status"), "generated");
        assert!(has_file(row(&videos, n, 2)));
    }
    assert_eq!(notion_status(&e, &page).await, "Videos Ready");

    // Approved in Notion: the current rows become approved, the old versions stay rejected.
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Videos Approved"}}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    assert_ne!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::VideoReady
    );
    push_until_done(&e.mirror, Duration::from_secs(60)).await;
    let videos = rows_of(&e, &e.ids.videos_database_id, &page).await;
    for n in 1..=18 {
        let v = if n == 2 || n == 5 { 2 } else { 1 };
        assert_eq!(text(row(&videos, n, v), "Status"), "approved", "scene {n}");
    }
    assert_eq!(text(row(&videos, 2, 1), "Status"), "rejected");

    // Audio Ready: 18 narration rows in the Audio database; a narration flagged there is the
    // rejection's one flag.
    run_worker(&e.core).await;
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::AudioReady
    );
    push_until_done(&e.mirror, Duration::from_secs(60)).await;
    let audio = rows_of(&e, &e.ids.audio_database_id, &page).await;
    assert_eq!(audio.len(), 18);
    for n in 1..=18 {
        let r = row(&audio, n, 1);
        assert_eq!(text(r, "Type"), "narration");
        assert_eq!(text(r, "Name"), format!("Narration {n:02} v1"));
        assert!(has_file(r) && text(r, "Notes").is_empty(), "sent as it is");
    }
    e.double
        .edit_page_as(
            row(&audio, 7, 1).id.as_str(),
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"rejected"}}}}),
        )
        .unwrap();
    let log = format!(
        "{}\nslower on line 7",
        e.core.store.task(task.id).await.unwrap().error_log
    );
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{
                "Status":{"select":{"name":"Audio Error"}},
                "Error Log":{"rich_text":[{"type":"text","text":{"content":log}}]}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::AudioError
    );
    let audit = e.core.store.audit(task.id).await.unwrap();
    let rej = audit.iter().rev().find(|a| a.decision == "reject").unwrap();
    assert_eq!(rej.flagged, ["narration_07"]);

    // Retried and approved from the desk: the effects come with Ready for Review.
    review.retry(task.id, desk()).await.unwrap();
    run_worker(&e.core).await;
    review.approve(task.id, desk()).await.unwrap();
    run_worker(&e.core).await;
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::FinalReview
    );
    push_until_done(&e.mirror, Duration::from_secs(60)).await;
    let audio = rows_of(&e, &e.ids.audio_database_id, &page).await;
    assert_eq!(
        audio.len(),
        18 + 1 + 18,
        "narrations, the new line 7, effects"
    );
    assert_eq!(text(row(&audio, 7, 2), "Status"), "approved");
    let effects: Vec<_> = audio.iter().filter(|r| text(r, "Type") == "sfx").collect();
    assert_eq!(effects.len(), 18);
    assert!(effects.iter().all(|r| has_file(r)));
    assert_eq!(notion_status(&e, &page).await, "Ready for Review");

    // Effects have no gate of their own: one flagged at Ready for Review is remade, then the
    // final video, and the task comes back to Ready for Review without stopping at a gate.
    let effect_4 = effects
        .iter()
        .find(|r| number(r, "Clip Number") == Some(4.0))
        .unwrap();
    e.double
        .edit_page_as(
            effect_4.id.as_str(),
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"rejected"}}}}),
        )
        .unwrap();
    let log = format!(
        "{}\nthe rain in scene 4 is too harsh",
        e.core.store.task(task.id).await.unwrap().error_log
    );
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{
                "Status":{"select":{"name":"Video Error"}},
                "Error Log":{"rich_text":[{"type":"text","text":{"content":log}}]}}}),
        )
        .unwrap();
    e.mirror.pull_once().await.unwrap();
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::VideoError
    );
    let audit = e.core.store.audit(task.id).await.unwrap();
    let rej = audit.iter().rev().find(|a| a.decision == "reject").unwrap();
    assert_eq!(rej.flagged, ["sfx_04"]);
    review.retry(task.id, desk()).await.unwrap();
    run_worker(&e.core).await;
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::FinalReview
    );
    let versions: std::collections::BTreeMap<String, u32> = e
        .core
        .store
        .checkpoints_of_steps(task.id, &[Step::Sfx, Step::Assembly])
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.item, c.version))
        .collect();
    assert_eq!(versions["sfx_04"], 2);
    assert_eq!(versions["final"], 2, "the video is made again");
    assert_eq!(
        versions.values().filter(|v| **v == 1).count(),
        17,
        "the other effects are kept"
    );
    push_until_done(&e.mirror, Duration::from_secs(60)).await;
    let audio = rows_of(&e, &e.ids.audio_database_id, &page).await;
    let effect_rows = |n: u32| {
        audio
            .iter()
            .filter(|r| text(r, "Type") == "sfx" && number(r, "Clip Number") == Some(f64::from(n)))
            .count()
    };
    assert_eq!(effect_rows(4), 2, "v1 and v2");
    assert_eq!(effect_rows(5), 1);
    e.finish().await;
}
