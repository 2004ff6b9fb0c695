//! The whole pipeline on one machine with only the built-in executors: Queued → Upload Complete,
//! reviewed at all four gates, with real ffmpeg and espeak-ng output checked by ffprobe; a
//! rejection at the video and audio gates remakes only the flagged items; a missing program makes
//! the task wait, never fail.

use reviewdesk_core::config::WorkerSettings;
use reviewdesk_core::review::local_reviewer;
use reviewdesk_core::{
    AssetName, Core, NewTask, ReviewInput, ReviewService, Source, Status, Step, TaskService, Worker,
};
use reviewdesk_testkit::{OpenCore, TestCore, fast_worker_settings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

struct App {
    _dir: tempfile::TempDir,
    core: Arc<Core>,
    root: PathBuf,
    publish: PathBuf,
}

async fn app(settings: WorkerSettings, steps_yaml: &str) -> App {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let publish_dir = tempfile::tempdir().unwrap();
    let publish = publish_dir.path().join("out");
    let yaml = format!(
        "channel_id: default\nchannel_name: Default\npublish:\n  dir: {}\n  tags: [science, volcanoes]\n{steps_yaml}",
        publish.display()
    );
    let OpenCore { core, dir } = TestCore::new()
        .config_dir_name("config")
        .worker_settings(settings)
        .channel(&yaml)
        .open()
        .await;
    // The publish folder lives beside the test's own folder and goes with it.
    std::mem::forget(publish_dir);
    let root = core.workspace.root().to_path_buf();
    App {
        _dir: dir,
        core,
        root,
        publish,
    }
}

async fn add_task(app: &App) -> reviewdesk_core::Task {
    TaskService::new(app.core.clone())
        .create(
            NewTask {
                title: "How Volcanoes Work".into(),
                topic: "volcanoes".into(),
                story_direction: "curious and calm".into(),
                ..Default::default()
            },
            Source::Cli,
        )
        .await
        .unwrap()
}

async fn run_worker(app: &App) {
    tokio::time::timeout(
        Duration::from_secs(900),
        Worker::new(app.core.clone()).run_until_idle(),
    )
    .await
    .expect("worker finished in time")
    .unwrap();
}

async fn status(app: &App, id: reviewdesk_core::TaskId) -> reviewdesk_core::Task {
    TaskService::new(app.core.clone()).get(id).await.unwrap()
}

fn review() -> ReviewInput {
    ReviewInput::by(Source::Desktop, local_reviewer())
}

/// `(codec_type, codec_name, width, height)` of each stream and the duration, by ffprobe.
fn probe(file: &Path) -> (Vec<(String, String, u32, u32)>, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,width,height:format=duration",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe {}", file.display());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap_or("").to_string(),
                s["codec_name"].as_str().unwrap_or("").to_string(),
                s["width"].as_u64().unwrap_or(0) as u32,
                s["height"].as_u64().unwrap_or(0) as u32,
            )
        })
        .collect();
    let duration = v["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap();
    (streams, duration)
}

fn chapters(file: &Path) -> Vec<(f64, String)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_chapters", "-of", "json"])
        .arg(file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["start_time"].as_str().unwrap().parse().unwrap(),
                c["tags"]["title"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// RMS level (dBFS) of each 100 ms window of `seconds` of a file's audio from `start`.
fn rms_windows(file: &Path, start: f64, seconds: f64) -> Vec<f64> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{start}"), "-t", &format!("{seconds}"), "-i"])
        .arg(file)
        .args([
            "-af",
            "aresample=44100,asetnsamples=4410,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level:file=-",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("lavfi.astats.Overall.RMS_level="))
        .map(|v| v.trim().parse::<f64>().unwrap_or(f64::NEG_INFINITY))
        .map(|v| if v.is_finite() { v } else { -120.0 })
        .collect()
}

/// Mean power of a list of dB levels, in dB.
fn mean_db(levels: &[f64]) -> f64 {
    let p: f64 = levels.iter().map(|l| 10f64.powf(l / 10.0)).sum::<f64>() / levels.len() as f64;
    10.0 * p.log10()
}

/// `(bytes, mtime)` of every output of a step, by item.
async fn outputs(
    app: &App,
    id: reviewdesk_core::TaskId,
    step: Step,
) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
    app.core
        .store
        .checkpoints(id, step)
        .await
        .unwrap()
        .into_iter()
        .map(|(item, out)| {
            let p = app.root.join(out);
            let bytes = std::fs::read(&p).unwrap();
            (
                item,
                (bytes, std::fs::metadata(&p).unwrap().modified().unwrap()),
            )
        })
        .collect()
}

async fn versions(app: &App, id: reviewdesk_core::TaskId) -> BTreeMap<String, u32> {
    TaskService::new(app.core.clone())
        .detail(id)
        .await
        .unwrap()
        .outputs
        .into_iter()
        .map(|o| (o.item, o.version))
        .collect()
}

/// Rejects at the current gate with these items flagged, retries, runs the worker, and checks
/// that exactly those items were made again (new version, earlier file kept) while every other
/// item kept its bytes and modification time.
async fn reject_and_remake(app: &App, id: reviewdesk_core::TaskId, step: Step, flagged: &[&str]) {
    let before = outputs(app, id, step).await;
    let reviews = ReviewService::new(app.core.clone());
    let flags: Vec<AssetName> = flagged
        .iter()
        .map(|f| AssetName::parse(*f).unwrap())
        .collect();
    let gate = status(app, id).await.status;
    let rejected = reviews
        .reject(
            id,
            Some(flags),
            review().with_reason("these do not fit the story"),
        )
        .await
        .unwrap();
    assert_eq!(Some(rejected.status), gate.rejected_status());
    reviews.retry(id, review()).await.unwrap();
    run_worker(app).await;
    assert_eq!(status(app, id).await.status, gate, "back at the same gate");
    let after = outputs(app, id, step).await;
    assert_eq!(after.len(), 18);
    let versions = versions(app, id).await;
    for (item, (bytes, mtime)) in &before {
        let (new_bytes, new_mtime) = &after[item];
        if flagged.contains(&item.as_str()) {
            assert_ne!(mtime, new_mtime, "{item} was made again");
            assert_eq!(versions[item], 2, "{item} is version 2");
            let file = app.root.join(
                app.core
                    .store
                    .checkpoints(id, step)
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|(i, _)| i == item)
                    .unwrap()
                    .1,
            );
            let ext = file.extension().unwrap().to_str().unwrap();
            let kept = file
                .parent()
                .unwrap()
                .join(format!("versions/{item}.v1.{ext}"));
            assert_eq!(&std::fs::read(&kept).unwrap(), bytes, "{item} v1 kept");
        } else {
            assert_eq!((bytes, mtime), (new_bytes, new_mtime), "{item} untouched");
            assert_eq!(versions[item], 1, "{item} still version 1");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_from_queued_to_upload_complete_with_built_ins_reviewed_at_every_gate() {
    let app = app(fast_worker_settings(), "").await;
    let task = add_task(&app).await;
    let reviews = ReviewService::new(app.core.clone());
    let project = app
        .root
        .join(format!("channels/default/projects/{}", task.id));

    // Gate 1: the 22 assets.
    run_worker(&app).await;
    assert_eq!(status(&app, task.id).await.status, Status::AssetsReady);
    let detail = TaskService::new(app.core.clone())
        .detail(task.id)
        .await
        .unwrap();
    assert_eq!(
        detail.scenes.len(),
        18,
        "the scene plan is on the task page"
    );
    reviews.approve(task.id, review()).await.unwrap();

    // Gate 2: 18 clips of 10 s, 1920x1080 H.264.
    run_worker(&app).await;
    let t = status(&app, task.id).await;
    assert_eq!(t.status, Status::VideoReady, "{}", t.error_log);
    for s in 1..=18 {
        let (streams, duration) = probe(&project.join(format!("video/clip_{s:02}.mp4")));
        assert_eq!(
            streams,
            vec![("video".into(), "h264".into(), 1920, 1080)],
            "clip {s}"
        );
        assert!((duration - 10.0).abs() < 0.1, "clip {s}: {duration} s");
    }
    reject_and_remake(&app, task.id, Step::Video, &["clip_03", "clip_07"]).await;
    reviews.approve(task.id, review()).await.unwrap();

    // Gate 3: 18 narrations, spoken from the scene plan's lines.
    run_worker(&app).await;
    let t = status(&app, task.id).await;
    assert_eq!(t.status, Status::AudioReady, "{}", t.error_log);
    let mut narration = Vec::new();
    for s in 1..=18 {
        let (streams, duration) = probe(&project.join(format!("audio/narration_{s:02}.mp3")));
        assert_eq!(streams.len(), 1);
        assert_eq!(
            (streams[0].0.as_str(), streams[0].1.as_str()),
            ("audio", "mp3")
        );
        assert!(
            (3.0..12.0).contains(&duration),
            "narration {s}: {duration} s"
        );
        narration.push(duration);
    }
    reject_and_remake(
        &app,
        task.id,
        Step::Audio,
        &["narration_02", "narration_05", "narration_09"],
    )
    .await;
    reviews.approve(task.id, review()).await.unwrap();

    // Gate 4: the assembled video, one chapter per scene, narration over the effects.
    run_worker(&app).await;
    let t = status(&app, task.id).await;
    assert_eq!(t.status, Status::FinalReview, "{}", t.error_log);
    for s in 1..=18 {
        let (streams, duration) = probe(&project.join(format!("sfx/sfx_{s:02}.mp3")));
        assert_eq!(streams[0].0, "audio");
        assert!((duration - 10.0).abs() < 0.2, "effect {s}: {duration} s");
    }
    let final_video = project.join(format!("final/{}_final.mp4", task.id));
    let (streams, duration) = probe(&final_video);
    // MP4 chapters travel in a text track of their own ("data"): not a picture or a sound.
    let streams: Vec<_> = streams.into_iter().filter(|s| s.0 != "data").collect();
    assert_eq!(
        streams,
        vec![
            ("video".into(), "h264".into(), 1920, 1080),
            ("audio".into(), "aac".into(), 0, 0)
        ]
    );
    let total: f64 = narration.iter().sum();
    assert!(
        (duration - total).abs() <= 1.0,
        "final {duration} s, narrations {total} s"
    );
    let marks = chapters(&final_video);
    assert_eq!(marks.len(), 18);
    assert_eq!(marks[0].0, 0.0);
    assert!(
        (marks[1].0 - narration[0]).abs() < 0.1,
        "chapter 2 starts after scene 1"
    );
    assert!(marks[0].1.starts_with("Scene 1: "), "{}", marks[0].1);
    // Scene 1 of the final video against its two sources.
    let speech = rms_windows(&project.join("audio/narration_01.mp3"), 0.0, narration[0]);
    let effect = rms_windows(&project.join("sfx/sfx_01.mp3"), 1.0, narration[0] - 2.0);
    let mixed = rms_windows(&final_video, 0.0, narration[0]);
    let (speech_db, effect_db, mixed_db) = (mean_db(&speech), mean_db(&effect), mean_db(&mixed));
    assert!(
        (mixed_db - speech_db).abs() < 2.0,
        "the narration plays at 0 dB: mixed {mixed_db:.1} dB, narration {speech_db:.1} dB"
    );
    assert!(
        mixed_db > effect_db - 20.0 + 10.0,
        "the narration is well above the effect at -20 dB: mixed {mixed_db:.1}, effect {effect_db:.1}"
    );
    // Where the narrator pauses, the effect is still heard: the quietest moments of the mix are
    // far louder than the narration's own silences.
    let quietest = |l: &[f64]| l.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        quietest(&mixed) > quietest(&speech) + 10.0,
        "effect under the pauses: mix {:.1} dB, narration {:.1} dB",
        quietest(&mixed),
        quietest(&speech)
    );

    // Approve → upload (publish to the channel's folder) → Upload Complete.
    reviews.approve(task.id, review()).await.unwrap();
    run_worker(&app).await;
    let t = status(&app, task.id).await;
    assert_eq!(t.status, Status::Published, "{}", t.error_log);
    let published: Vec<PathBuf> = std::fs::read_dir(&app.publish)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let video = published
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "mp4"))
        .expect("the video is published");
    assert!(
        video
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("how-volcanoes-work-")
    );
    assert_eq!(
        std::fs::read(video).unwrap(),
        std::fs::read(&final_video).unwrap()
    );
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(video.with_extension("json")).unwrap()).unwrap();
    assert_eq!(sidecar["title"], "How Volcanoes Work");
    assert_eq!(sidecar["tags"], serde_json::json!(["science", "volcanoes"]));
    assert_eq!(sidecar["chapters"].as_array().unwrap().len(), 18);
    assert!(
        sidecar["description"]
            .as_str()
            .unwrap()
            .contains("0:00 Scene 1: ")
    );
    assert_eq!(
        published.len(),
        2,
        "only the video and its sidecar: {published:?}"
    );
    let result = std::fs::read_to_string(project.join("upload/result.txt")).unwrap();
    assert!(result.contains(&video.display().to_string()), "{result}");
}

/// A program path that does not exist yet; the test links the real one there to "install" it.
fn not_yet_installed(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_makes_the_task_wait_with_the_package_named_and_resume_once_installed() {
    let bin = tempfile::tempdir().unwrap();
    let mut settings = fast_worker_settings();
    settings.tools.espeak_ng = not_yet_installed(bin.path(), "espeak-ng")
        .display()
        .to_string();
    // A quick clip step (a command copying one small clip) brings the task to the narration.
    let fixture = bin.path().join("fixture.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=64x36:d=1",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&fixture)
        .status()
        .unwrap();
    assert!(made.success());
    let app = app(
        settings,
        &format!(
            "steps:\n  video:\n    executor: command\n    program: cp\n    args: \"{} {{output}}\"\n",
            fixture.display()
        ),
    )
    .await;
    let task = add_task(&app).await;
    let reviews = ReviewService::new(app.core.clone());
    run_worker(&app).await;
    reviews.approve(task.id, review()).await.unwrap();
    run_worker(&app).await;
    assert_eq!(status(&app, task.id).await.status, Status::VideoReady);
    let clips = outputs(&app, task.id, Step::Video).await;
    reviews.approve(task.id, review()).await.unwrap();
    run_worker(&app).await;

    let t = status(&app, task.id).await;
    assert_eq!(
        t.status,
        Status::GeneratingAudio,
        "the task waits in its step, not in an error"
    );
    assert_eq!(t.attempts, 0, "nothing was tried, so no attempt is counted");
    assert!(
        t.error_log
            .contains("espeak-ng is not installed: install with `sudo apt-get install espeak-ng`"),
        "{}",
        t.error_log
    );
    assert!(t.next_retry_at.is_some(), "it looks again by itself");
    assert_eq!(
        outputs(&app, task.id, Step::Video).await,
        clips,
        "the clips are kept"
    );
    // Looking again while it is still missing says nothing new.
    retry_due(&app, task.id).await;
    run_worker(&app).await;
    let again = status(&app, task.id).await;
    assert_eq!(
        again
            .error_log
            .matches("espeak-ng is not installed")
            .count(),
        1
    );

    // Installed: the waiting task goes on by itself.
    std::os::unix::fs::symlink(
        which("espeak-ng"),
        not_yet_installed(bin.path(), "espeak-ng"),
    )
    .unwrap();
    retry_due(&app, task.id).await;
    run_worker(&app).await;
    let t = status(&app, task.id).await;
    assert_eq!(t.status, Status::AudioReady, "{}", t.error_log);
    assert_eq!(outputs(&app, task.id, Step::Audio).await.len(), 18);
}

/// Waits (polling the clock, at most 5 s) until the task's time to look again has come.
async fn retry_due(app: &App, id: reviewdesk_core::TaskId) {
    let at = status(app, id)
        .await
        .next_retry_at
        .expect("a time to look again");
    reviewdesk_testkit::wait_until("the time to look again", Duration::from_secs(5), || {
        chrono::Utc::now() > at
    })
    .await;
}

fn which(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is installed (scripts/setup.sh)"))
}

#[tokio::test]
async fn a_waveform_is_computed_once_per_content_and_only_for_workspace_audio() {
    use reviewdesk_core::CoreError;
    use reviewdesk_core::peaks::{BUCKETS, peaks};
    let OpenCore { core, dir: _dir } = TestCore::new().open().await;
    let ws = &core.workspace;
    // One second of silence, then one second of a loud tone.
    let rel = "channels/default/projects/t/audio/narration_01.mp3";
    let file = ws.root().join(rel);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "aevalsrc=exprs='if(lt(t,1),0,0.8*sin(2*PI*440*t))':s=44100:d=2",
            "-c:a",
            "libmp3lame",
        ])
        .arg(&file)
        .status()
        .unwrap();
    assert!(made.success());
    let p = peaks(ws, rel, "ffmpeg").await.unwrap();
    assert_eq!(p.peaks.len(), BUCKETS);
    assert!(
        (p.duration_ms as i64 - 2000).abs() < 150,
        "{} ms",
        p.duration_ms
    );
    let quiet = p.peaks[..BUCKETS / 2 - 10].iter().copied().max().unwrap();
    let loud = p.peaks[BUCKETS / 2 + 10..].iter().copied().min().unwrap();
    assert!(quiet < 5 && loud > 150, "quiet {quiet}, loud {loud}");
    // Computed once: the second answer comes from the cache, without ffmpeg.
    assert_eq!(peaks(ws, rel, "/nonexistent/ffmpeg").await.unwrap(), p);
    // Only files of the workspace, and only what ffmpeg can hear.
    for bad in ["../outside.mp3", "/etc/passwd", "channels/none.mp3"] {
        let e = peaks(ws, bad, "ffmpeg").await.unwrap_err();
        assert!(
            matches!(e, CoreError::NotFound { .. } | CoreError::PathEscape(_)),
            "{bad}: {e}"
        );
    }
    std::fs::write(ws.root().join("notes.txt"), "not audio").unwrap();
    let e = peaks(ws, "notes.txt", "ffmpeg").await.unwrap_err();
    assert!(matches!(e, CoreError::Invalid { .. }), "{e}");
}

#[tokio::test]
async fn a_videos_chapters_are_read_for_the_final_gate_and_only_from_the_workspace() {
    use reviewdesk_core::CoreError;
    use reviewdesk_core::publish::chapters_of;
    let OpenCore { core, dir: _dir } = TestCore::new().open().await;
    let ws = &core.workspace;
    let rel = "channels/default/projects/t/final/t_final.mp4";
    let file = ws.root().join(rel);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let meta = ws.root().join("chapters.txt");
    std::fs::write(
        &meta,
        ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\ntitle=The surface\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1500\nEND=3000\ntitle=Into the dark\n",
    )
    .unwrap();
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=3:size=160x90:rate=10",
            "-i",
        ])
        .arg(&meta)
        .args([
            "-map_chapters",
            "1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ])
        .arg(&file)
        .status()
        .unwrap();
    assert!(made.success());
    let chapters = chapters_of(ws, rel, "ffprobe").await.unwrap();
    let got: Vec<(f64, &str)> = chapters
        .iter()
        .map(|c| (c.start_seconds, c.title.as_str()))
        .collect();
    assert_eq!(got, [(0.0, "The surface"), (1.5, "Into the dark")]);
    for bad in ["../outside.mp4", "/etc/passwd", "channels/none.mp4"] {
        let e = chapters_of(ws, bad, "ffprobe").await.unwrap_err();
        assert!(
            matches!(e, CoreError::NotFound { .. } | CoreError::PathEscape(_)),
            "{bad}: {e}"
        );
    }
    // Not a video: no chapters, and never a server error.
    std::fs::write(ws.root().join("notes.txt"), "not a video").unwrap();
    match chapters_of(ws, "notes.txt", "ffprobe").await {
        Ok(c) => assert!(c.is_empty()),
        Err(e) => assert!(matches!(e, CoreError::Invalid { .. }), "{e}"),
    }
}
