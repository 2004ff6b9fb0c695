//! End-to-end scenarios of the core library: worker, review service, retries, watcher.

use image::GenericImageView;
use reviewdesk_core::review::local_reviewer;
use reviewdesk_core::store::TaskFilter;
use reviewdesk_core::{
    AssetName, Core, NewTask, ReviewInput, ReviewService, Source, Status, Step, TaskService, Worker,
};
use reviewdesk_testkit::{OpenCore, TestCore, fast_worker_settings, wait_until};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

struct TestApp {
    _dir: tempfile::TempDir,
    core: Arc<Core>,
    root: PathBuf,
}

async fn spawn_app(channel_yaml: Option<&str>) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    // Without ffmpeg: a task these scenarios approve stops, waiting, at the built-in video step
    // instead of encoding 18 clips they do not look at (whole_pipeline.rs runs the media steps).
    let mut settings = fast_worker_settings();
    settings.tools.ffmpeg = "/nonexistent/ffmpeg".into();
    settings.tools.ffprobe = "/nonexistent/ffprobe".into();
    let mut builder = TestCore::new()
        .config_dir_name("config")
        .worker_settings(settings);
    if let Some(y) = channel_yaml {
        builder = builder.channel(y);
    }
    let OpenCore { core, dir } = builder.open().await;
    let root = core.workspace.root().to_path_buf();
    TestApp {
        _dir: dir,
        core,
        root,
    }
}

async fn add_task(app: &TestApp, title: &str) -> reviewdesk_core::Task {
    TaskService::new(app.core.clone())
        .create(
            NewTask {
                title: title.into(),
                topic: "deep sea creatures".into(),
                story_direction: "curious and calm".into(),
                ..Default::default()
            },
            Source::Cli,
        )
        .await
        .unwrap()
}

fn review(source: Source) -> ReviewInput {
    ReviewInput::by(source, local_reviewer())
}

async fn run_worker(app: &TestApp) {
    tokio::time::timeout(
        Duration::from_secs(120),
        Worker::new(app.core.clone()).run_until_idle(),
    )
    .await
    .expect("worker finished in time")
    .unwrap();
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

/// A tiny real video clip made with ffmpeg (Debian package ffmpeg; scripts/setup.sh installs it).
fn fixture_clip(dir: &Path) -> PathBuf {
    let clip = dir.join("fixture.mp4");
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=navy:s=32x32:d=0.2",
        ])
        .args(["-c:v", "mpeg4", "-y"])
        .arg(&clip)
        .output()
        .expect("ffmpeg runs (install the Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    clip
}

/// A tiny real PNG, for step programs that make assets.
fn fixture_png(dir: &Path) -> PathBuf {
    let png = dir.join("fixture.png");
    image::RgbaImage::from_fn(24, 16, |x, y| {
        image::Rgba([x as u8 * 10, y as u8 * 15, 90, 255])
    })
    .save(&png)
    .unwrap();
    png
}

fn executable(script: &Path, text: &str) {
    std::fs::write(script, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Whether a process is running (a zombie waiting for its parent counts as stopped).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn pid_in(file: &Path) -> u32 {
    std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Files in the task's asset folders whose name says they are partial outputs.
fn partial_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.to_string_lossy().contains(".partial.") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

/// A channel whose assets step runs `script` with `{output} {item} {index}`.
fn assets_by(script: &Path) -> String {
    format!(
        "channel_id: default\nchannel_name: Default\nsteps:\n  assets:\n    executor: command\n    program: {}\n    args: \"{{output}} {{item}} {{index}}\"\n",
        script.display()
    )
}

/// A step program whose first call for item 1 starts a grandchild and waits for ever (writing
/// its own and the grandchild's pid); every other call copies a PNG to its output and logs
/// `<index> <output> <pid>`.
fn hanging_first_item(dir: &Path) -> PathBuf {
    let png = fixture_png(dir);
    let script = dir.join("gen.sh");
    let p = |n: &str| dir.join(n).display().to_string();
    executable(
        &script,
        &format!(
            "#!/bin/sh\necho \"$3 $1 $$\" >> {log}\n\
             if [ \"$3\" = 1 ] && [ ! -f {hung} ]; then\n  \
               touch {hung}; printf partial > \"$1\"\n  \
               sleep 300 & echo $! > {child}\n  echo $$ > {pid}; touch {started}\n  wait; exit 0\n\
             fi\ncp {png} \"$1\"\n",
            log = p("log"),
            hung = p("hung"),
            child = p("child.pid"),
            pid = p("program.pid"),
            started = p("started"),
            png = png.display(),
        ),
    );
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_runs_to_assets_ready_then_composites_then_waits_for_a_missing_ffmpeg() {
    let app = spawn_app(None).await;
    let task = add_task(&app, "Ocean").await;
    let mut events = app.core.events.subscribe();
    run_worker(&app).await;

    let tasks = TaskService::new(app.core.clone());
    let detail = tasks.detail(task.id).await.unwrap();
    assert_eq!(detail.task.status, Status::AssetsReady);
    assert!(detail.task.review_started_at.is_some());
    assert_eq!(detail.assets.len(), 22);
    let mut hashes = HashSet::new();
    let mut thumbs = HashSet::new();
    for a in &detail.assets {
        let path = app.root.join(&a.file);
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", a.file);
        assert!(
            hashes.insert(blake3::hash(&bytes)),
            "{} is distinct",
            a.file
        );
        let img = image::load_from_memory(&bytes).unwrap();
        let rgba = img.to_rgba8();
        let transparent = rgba.pixels().any(|p| p.0[3] == 0);
        match a.asset.kind {
            reviewdesk_core::asset::AssetKind::Environment => {
                assert_eq!(img.dimensions(), (1920, 1080));
                assert!(!transparent, "environment {} is opaque", a.file);
            }
            _ => assert!(
                transparent && rgba.pixels().any(|p| p.0[3] == 255),
                "{} has real transparency",
                a.file
            ),
        }
        assert_eq!(a.asset.current_version, 1);
        let v = &a.versions[0];
        let thumb = v.version.thumb_path.clone().expect("thumbnail");
        assert!(app.root.join(&thumb).is_file(), "thumbnail {thumb} exists");
        thumbs.insert(thumb);
        assert_eq!(
            std::fs::read(app.root.join(&v.file)).unwrap(),
            bytes,
            "kept version copy"
        );
    }
    assert_eq!(thumbs.len(), 22);
    let kinds: Vec<_> = detail
        .assets
        .iter()
        .map(|a| a.asset.kind.as_str())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "character").count(), 8);
    assert_eq!(kinds.iter().filter(|k| **k == "environment").count(), 8);
    assert_eq!(kinds.iter().filter(|k| **k == "prop").count(), 6);

    // The gate was announced, with the thumbnails already on disk.
    let mut saw_ready = false;
    while let Ok(ev) = events.try_recv() {
        if let reviewdesk_core::DomainEvent::ReviewReady {
            gate, items, title, ..
        } = ev
        {
            assert_eq!(
                (gate, items, title.as_str()),
                (Status::AssetsReady, 22, "Ocean")
            );
            saw_ready = true;
        }
    }
    assert!(saw_ready);

    let after = ReviewService::new(app.core.clone())
        .approve(task.id, review(Source::Desktop))
        .await
        .unwrap();
    assert_eq!(after.status, Status::AssetsApproved);
    assert!(after.review_completed_at.is_some());
    run_worker(&app).await;

    let t = tasks.get(task.id).await.unwrap();
    assert_eq!(t.status, Status::GeneratingVideo, "{}", t.error_log);
    assert!(
        t.error_log.contains(
            "the built-in video step cannot run because ffmpeg and ffprobe are not installed: install with `sudo apt-get install ffmpeg`"
        ),
        "{}",
        t.error_log
    );
    assert_eq!(t.attempts, 0);
    let comps = app
        .core
        .store
        .checkpoints(task.id, Step::Composites)
        .await
        .unwrap();
    assert_eq!(comps.len(), 18);
    let mut comp_hashes = HashSet::new();
    for (_, out) in comps {
        let bytes = std::fs::read(app.root.join(&out)).unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!(img.dimensions(), (1920, 1080), "{out}");
        comp_hashes.insert(blake3::hash(&bytes));
    }
    assert_eq!(comp_hashes.len(), 18, "composites differ");
    let audit = app.core.store.audit(task.id).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].decision.as_str(), audit[0].source.as_str()),
        ("approve", "desktop")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_regenerates_only_the_flagged_assets() {
    let app = spawn_app(None).await;
    let task = add_task(&app, "Flags").await;
    run_worker(&app).await;
    let tasks = TaskService::new(app.core.clone());
    let before = tasks.detail(task.id).await.unwrap();
    let flagged: Vec<AssetName> = ["mentor", "forest_path", "lantern"]
        .iter()
        .map(|n| AssetName::parse(*n).unwrap())
        .collect();
    let files: Vec<(String, Vec<u8>, std::time::SystemTime)> = before
        .assets
        .iter()
        .map(|a| {
            let p = app.root.join(&a.file);
            (
                a.asset.name.to_string(),
                std::fs::read(&p).unwrap(),
                mtime(&p),
            )
        })
        .collect();

    let reviews = ReviewService::new(app.core.clone());
    for n in &flagged[..2] {
        reviews
            .flag(task.id, n, true, Some("too dark".into()), Source::Browser)
            .await
            .unwrap();
    }
    // Feedback is required.
    let err = reviews
        .reject(task.id, None, review(Source::Browser))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid");
    assert_eq!(
        tasks.get(task.id).await.unwrap().status,
        Status::AssetsReady
    );

    let t = reviews
        .reject(
            task.id,
            Some(flagged.clone()),
            review(Source::Browser)
                .with_reason("Make the mentor older; forest too dark; lantern is wrong"),
        )
        .await
        .unwrap();
    assert_eq!(t.status, Status::AssetError);
    assert!(
        t.error_log
            .lines()
            .last()
            .unwrap()
            .contains("Asset Error: Make the mentor older"),
        "{}",
        t.error_log
    );
    let audit = app.core.store.audit(task.id).await.unwrap();
    assert_eq!(audit.last().unwrap().decision, "reject");
    assert_eq!(
        audit.last().unwrap().flagged,
        vec!["mentor", "forest_path", "lantern"]
    );
    let rejected: Vec<_> = app
        .core
        .store
        .assets(task.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.review_state.as_str() == "rejected")
        .collect();
    assert_eq!(rejected.len(), 3);

    reviews.retry(task.id, review(Source::Cli)).await.unwrap();
    run_worker(&app).await;
    let after = tasks.detail(task.id).await.unwrap();
    assert_eq!(after.task.status, Status::AssetsReady);
    for a in &after.assets {
        let (_, old_bytes, old_mtime) = files
            .iter()
            .find(|(n, _, _)| n == a.asset.name.as_str())
            .unwrap();
        let p = app.root.join(&a.file);
        if flagged.contains(&a.asset.name) {
            assert_eq!(a.asset.current_version, 2, "{} regenerated", a.asset.name);
            assert_eq!(a.versions.len(), 2);
            assert_ne!(&std::fs::read(&p).unwrap(), old_bytes);
            assert_eq!(
                &std::fs::read(app.root.join(&a.versions[0].file)).unwrap(),
                old_bytes,
                "v1 kept"
            );
            assert!(!a.asset.flagged);
        } else {
            assert_eq!(a.asset.current_version, 1, "{} untouched", a.asset.name);
            assert_eq!(&std::fs::read(&p).unwrap(), old_bytes);
            assert_eq!(mtime(&p), *old_mtime, "{} mtime kept", a.asset.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_executor_carries_the_task_on_and_transient_failures_retry() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("make.sh");
    let counter = dir.path().join("count");
    let clip = fixture_clip(dir.path());
    let prompts = dir.path().join("prompts");
    std::fs::create_dir_all(&prompts).unwrap();
    // Fails with EX_TEMPFAIL on its 2nd call, then works: exercises the retry schedule. Clips
    // are real video (outputs are checked with ffprobe); the prompt goes to a side file.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nn=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}\nif [ $n -eq 2 ]; then echo 'service busy' >&2; exit 75; fi\nprintf 'clip %s %s' \"$1\" \"$3\" > {p}/\"$3\"\ncp {clip} \"$2\"\n",
            c = counter.display(),
            p = prompts.display(),
            clip = clip.display(),
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let yaml = format!(
        "channel_id: default\nchannel_name: Default\nsteps:\n  video:\n    executor: command\n    program: {}\n    args: \"{{prompt}} {{output}} {{item}}\"\n    timeout_secs: 30\n",
        script.display()
    );
    let app = spawn_app(Some(&yaml)).await;
    let task = add_task(&app, "Clips").await;
    run_worker(&app).await;
    ReviewService::new(app.core.clone())
        .approve(task.id, review(Source::Cli))
        .await
        .unwrap();
    run_worker(&app).await;
    let t = app.core.store.task(task.id).await.unwrap();
    assert_eq!(t.status, Status::VideoReady, "{}", t.error_log);
    assert!(
        t.error_log.contains("attempt 1/5 failed (transient)")
            && t.error_log.contains("service busy"),
        "{}",
        t.error_log
    );
    assert_eq!(t.attempts, 0, "a gate clears the retry state");
    let clips = app
        .core
        .store
        .checkpoints(task.id, Step::Video)
        .await
        .unwrap();
    assert_eq!(clips.len(), 18);
    assert_eq!(
        std::fs::read(app.root.join(&clips[0].1)).unwrap(),
        std::fs::read(&clip).unwrap()
    );
    let text = std::fs::read_to_string(prompts.join(&clips[0].0)).unwrap();
    // The program gets the scene's motion prompt from the scene plan.
    assert!(
        text.starts_with("clip slow zoom in on the protagonist in the city street"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().trim(),
        "19",
        "18 clips + 1 failed call, none run twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_transitions_and_unknown_ids_change_nothing() {
    let app = spawn_app(None).await;
    let task = add_task(&app, "Refusals").await;
    let reviews = ReviewService::new(app.core.clone());
    let e = reviews
        .approve(task.id, review(Source::Cli))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_at_gate");
    assert!(e.to_string().contains("Queued"), "{e}");
    let e = reviews
        .retry(task.id, review(Source::Cli))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Queued"), "{e}");
    let unknown = reviewdesk_core::TaskId::new();
    assert_eq!(
        reviews
            .approve(unknown, review(Source::Cli))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    // Bulk: one task not at a gate → nothing changes for the other.
    run_worker(&app).await;
    let other = add_task(&app, "Not yet").await;
    let e = reviews
        .bulk_approve(&[task.id, other.id], review(Source::Cli))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_at_gate");
    assert_eq!(
        app.core.store.task(task.id).await.unwrap().status,
        Status::AssetsReady
    );
    assert!(app.core.store.audit(task.id).await.unwrap().is_empty());
    let many: Vec<_> = (0..101).map(|_| reviewdesk_core::TaskId::new()).collect();
    assert!(
        reviews
            .bulk_approve(&many, review(Source::Cli))
            .await
            .unwrap_err()
            .to_string()
            .contains("at most 100")
    );
    // The log tables are append-only at the database level.
    let e = sqlx::query("DELETE FROM task_events")
        .execute(app.core.store.pool())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = sqlx::query("UPDATE review_audit SET reason = 'x'")
        .execute(app.core.store.pool())
        .await;
    assert!(e.is_ok() || e.unwrap_err().to_string().contains("append-only"));
    let listed = app.core.store.tasks(&TaskFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asset_edited_on_disk_becomes_a_new_version() {
    let app = spawn_app(None).await;
    let task = add_task(&app, "Retouch").await;
    run_worker(&app).await;
    let _watch = reviewdesk_core::watcher::watch(app.core.clone()).unwrap();
    let mut events = app.core.events.subscribe();
    let detail = TaskService::new(app.core.clone())
        .detail(task.id)
        .await
        .unwrap();
    let hero = detail
        .assets
        .iter()
        .find(|a| a.asset.name.as_str() == "protagonist")
        .unwrap();
    let img = image::RgbaImage::from_pixel(768, 1024, image::Rgba([10, 200, 30, 255]));
    img.save(app.root.join(&hero.file)).unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(reviewdesk_core::DomainEvent::AssetVersionAdded {
                name,
                version,
                source,
                ..
            }) = events.recv().await
            {
                return (name, version, source);
            }
        }
    })
    .await
    .expect("a version event");
    assert_eq!(ev, ("protagonist".to_string(), 2, Source::Watcher));
    let versions = app
        .core
        .store
        .asset_versions(task.id, &hero.asset.name)
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert!(
        app.root
            .join(versions[1].thumb_path.as_ref().unwrap())
            .is_file()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_stop_after_five_attempts_with_a_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("busy.sh");
    std::fs::write(&script, "#!/bin/sh\necho 'quota: try later' >&2\nexit 75\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let yaml = format!(
        "channel_id: default\nchannel_name: Default\nsteps:\n  assets:\n    executor: command\n    program: {}\n",
        script.display()
    );
    let app = spawn_app(Some(&yaml)).await;
    let task = add_task(&app, "Busy").await;
    run_worker(&app).await;
    let t = app.core.store.task(task.id).await.unwrap();
    assert_eq!(t.status, Status::AssetError, "{}", t.error_log);
    let lines: Vec<_> = t.error_log.lines().collect();
    assert_eq!(lines.len(), 5, "{}", t.error_log);
    for (i, l) in lines[..4].iter().enumerate() {
        assert!(
            l.contains(&format!("attempt {}/5 failed (transient)", i + 1))
                && l.contains("retrying at"),
            "{l}"
        );
    }
    assert!(
        lines[4].contains("Asset Error: assets step failed") && lines[4].contains("gave up"),
        "{}",
        lines[4]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_channel_file_is_reloaded() {
    let app = spawn_app(Some(
        "channel_id: default\nchannel_name: Default\nmax_concurrent: 2\n",
    ))
    .await;
    let _watch = reviewdesk_core::watcher::watch(app.core.clone()).unwrap();
    let file = app.core.config_dir.join("channels/default.yaml");
    std::fs::write(
        &file,
        "channel_id: default\nchannel_name: Renamed\nmax_concurrent: 5\n",
    )
    .unwrap();
    let id = reviewdesk_core::ChannelId::parse("default").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.core.channel(&id).unwrap().max_concurrent != 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "channel file not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.core.channel(&id).unwrap().channel_name, "Renamed");
    // A broken edit keeps the previous settings in force.
    std::fs::write(&file, "channel_id: default\nmax_concurrent: 99\n").unwrap();
    std::fs::write(
        app.core.config_dir.join("channels/zz.yaml"),
        "channel_id: zz\nchannel_name: Z\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.core.channel(&id).unwrap().max_concurrent, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_task_stops_the_worker_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    let started = dir.path().join("started");
    let script = dir.path().join("slow.sh");
    // The first item waits until the test has cancelled the task.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch {s}\nwhile [ ! -f {g} ]; do sleep 0.05; done\nprintf x > \"$1\"\n",
            s = started.display(),
            g = gate.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let yaml = format!(
        "channel_id: default\nchannel_name: Default\nsteps:\n  assets:\n    executor: command\n    program: {}\n    args: \"{{output}}\"\n",
        script.display()
    );
    let app = spawn_app(Some(&yaml)).await;
    let task = add_task(&app, "Cancel me").await;
    let worker = Worker::new(app.core.clone());
    let running = tokio::spawn({
        let w = worker.clone();
        async move { w.process_one().await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !started.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the step never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ReviewService::new(app.core.clone())
        .cancel(task.id, review(Source::Desktop).with_reason("wrong topic"))
        .await
        .unwrap();
    std::fs::write(&gate, b"").unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("worker stopped")
        .unwrap();
    assert!(
        outcome.is_ok(),
        "a cancellation is not a worker failure: {outcome:?}"
    );
    let t = app.core.store.task(task.id).await.unwrap();
    assert_eq!(t.status, Status::Cancelled);
    assert!(
        t.error_log.contains("Cancelled: wrong topic"),
        "{}",
        t.error_log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_kills_the_running_program_and_everything_it_started_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let script = hanging_first_item(dir.path());
    let app = spawn_app(Some(&assets_by(&script))).await;
    let task = add_task(&app, "Cancel a hung program").await;
    let worker = Worker::new(app.core.clone());
    let running = tokio::spawn({
        let w = worker.clone();
        async move { w.process_one().await }
    });
    let started = dir.path().join("started");
    wait_until("the program to start", Duration::from_secs(30), || {
        started.exists()
    })
    .await;
    let (program, child) = (
        pid_in(&dir.path().join("program.pid")),
        pid_in(&dir.path().join("child.pid")),
    );
    assert!(alive(program) && alive(child));

    // The program never finishes by itself: only the cancel can stop it.
    ReviewService::new(app.core.clone())
        .cancel(task.id, review(Source::Desktop).with_reason("wrong topic"))
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the worker stopped the hung program after the cancel")
        .unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    wait_until("the process group to die", Duration::from_secs(10), || {
        !alive(program) && !alive(child)
    })
    .await;
    let t = app.core.store.task(task.id).await.unwrap();
    assert_eq!(t.status, Status::Cancelled);
    assert!(
        t.error_log.contains("Cancelled: wrong topic"),
        "{}",
        t.error_log
    );
    assert!(
        partial_files(&app.root).is_empty(),
        "the killed attempt's partial output is removed: {:?}",
        partial_files(&app.root)
    );
    assert!(
        app.core
            .store
            .checkpoints(task.id, Step::Assets)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_after_cancel_and_retry_never_shares_the_stale_run_s_temp_file_or_output() {
    let dir = tempfile::tempdir().unwrap();
    let script = hanging_first_item(dir.path());
    let app = spawn_app(Some(&assets_by(&script))).await;
    let task = add_task(&app, "Cancel, retry, re-claim").await;
    // Two slots: the second may claim the retried task while the first still runs it.
    let worker = Worker::new(app.core.clone()).with_slots(2);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let w = worker.clone();
        async move { w.run(rx).await }
    });
    let started = dir.path().join("started");
    wait_until("the first run to start", Duration::from_secs(30), || {
        started.exists()
    })
    .await;
    let stale = pid_in(&dir.path().join("program.pid"));
    let reviews = ReviewService::new(app.core.clone());
    reviews
        .cancel(task.id, review(Source::Desktop))
        .await
        .unwrap();
    reviews
        .retry(task.id, review(Source::Desktop))
        .await
        .unwrap();
    let store = app.core.store.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let t = store.task(task.id).await.unwrap();
        if t.status == Status::AssetsReady {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the re-run never finished: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the worker stopped")
        .unwrap()
        .unwrap();

    // Item 1 ran twice, each attempt with its own temp file; the stale one was killed.
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let firsts: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("1 "))
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(firsts.len(), 2, "{log}");
    assert_ne!(
        firsts[0], firsts[1],
        "two runs of one item wrote the same temp file"
    );
    assert!(!alive(stale), "the stale run's program was stopped");
    // Only the re-run's output counts: one version per asset, all 22 checkpointed once.
    let detail = TaskService::new(app.core.clone())
        .detail(task.id)
        .await
        .unwrap();
    assert_eq!(detail.assets.len(), 22);
    let png = std::fs::read(dir.path().join("fixture.png")).unwrap();
    for a in &detail.assets {
        assert_eq!(a.asset.current_version, 1, "{}", a.asset.name);
        assert_eq!(std::fs::read(app.root.join(&a.file)).unwrap(), png);
    }
    assert!(
        partial_files(&app.root).is_empty(),
        "{:?}",
        partial_files(&app.root)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_kills_running_programs_and_gives_the_lease_back_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let script = hanging_first_item(dir.path());
    let app = spawn_app(Some(&assets_by(&script))).await;
    let task = add_task(&app, "Shut down mid-step").await;
    let worker = Worker::new(app.core.clone()).with_slots(1);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let w = worker.clone();
        async move { w.run(rx).await }
    });
    let started = dir.path().join("started");
    wait_until("the program to start", Duration::from_secs(30), || {
        started.exists()
    })
    .await;
    let (program, child) = (
        pid_in(&dir.path().join("program.pid")),
        pid_in(&dir.path().join("child.pid")),
    );

    // What AppRuntime::shutdown does: the worker must not wait for the program.
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("shutdown did not wait for the running program")
        .unwrap()
        .unwrap();
    assert!(worker.is_shut_down());
    wait_until("the process group to die", Duration::from_secs(10), || {
        !alive(program) && !alive(child)
    })
    .await;
    let t = app.core.store.task(task.id).await.unwrap();
    assert_eq!(
        t.status,
        Status::GeneratingAssets,
        "the task keeps its step"
    );
    let (owner,): (Option<String>,) = sqlx::query_as("SELECT lease_owner FROM tasks WHERE id = $1")
        .bind(task.id.to_string())
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    assert_eq!(owner, None, "the lease was given back, not left to expire");
    assert!(
        partial_files(&app.root).is_empty(),
        "{:?}",
        partial_files(&app.root)
    );

    // The next start resumes it at once (no lease to wait for) and finishes the step.
    tokio::time::timeout(
        Duration::from_secs(60),
        Worker::new(app.core.clone()).run_until_idle(),
    )
    .await
    .expect("resumed in time")
    .unwrap();
    assert_eq!(
        app.core.store.task(task.id).await.unwrap().status,
        Status::AssetsReady
    );
}
