//! The worker runs exactly the items the pipeline describes (`reviewdesk_core::pipeline`): every
//! step, from the assets to the upload, through a step program that logs what it was given.

use reviewdesk_core::asset::AssetKind;
use reviewdesk_core::executor::StepItem;
use reviewdesk_core::pipeline;
use reviewdesk_core::review::local_reviewer;
use reviewdesk_core::{
    Core, NewTask, ReviewInput, ReviewService, Source, Status, Step, TaskService, Worker,
};
use reviewdesk_testkit::{TestCore, fast_worker_settings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Runs ffmpeg (Debian package ffmpeg; scripts/setup.sh installs it) to make a tiny real file.
fn ffmpeg(input: &[&str], codec: &[&str], out: &Path) {
    let run = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .args(input)
        .args(codec)
        .arg("-y")
        .arg(out)
        .output()
        .expect("ffmpeg runs (install the Debian package ffmpeg)");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// A step program for every step: it appends `item|index|kind|width|height|input|prompt` to a
/// log named after the step and writes a real file of the output's type (outputs are checked).
fn logging_program(dir: &Path) -> PathBuf {
    let png = dir.join("fixture.png");
    image::RgbaImage::from_fn(24, 16, |x, y| {
        image::Rgba([x as u8 * 10, y as u8 * 15, 90, 255])
    })
    .save(&png)
    .unwrap();
    let clip = dir.join("fixture.mp4");
    ffmpeg(&["color=c=teal:s=32x32:d=0.2"], &["-c:v", "mpeg4"], &clip);
    let mp3 = dir.join("fixture.mp3");
    ffmpeg(&["sine=f=440:d=0.2"], &["-c:a", "libmp3lame"], &mp3);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let script = dir.join("step.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             printf '%s|%s|%s|%s|%s|%s|%s\\n' \"$2\" \"$3\" \"$4\" \"$5\" \"$6\" \"$8\" \"$9\" >> {logs}/\"$1\"\n\
             case \"$7\" in\n  \
               *.png) cp {png} \"$7\" ;;\n  \
               *.mp4) cp {clip} \"$7\" ;;\n  \
               *.mp3) cp {mp3} \"$7\" ;;\n  \
               *) echo done > \"$7\" ;;\n\
             esac\n",
            logs = dir.join("logs").display(),
            png = png.display(),
            clip = clip.display(),
            mp3 = mp3.display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// A channel whose every step runs `program`, with the step's name first.
fn channel_yaml(program: &Path) -> String {
    let mut yaml = String::from("channel_id: default\nchannel_name: Default\nsteps:\n");
    for step in Step::ALL {
        yaml.push_str(&format!(
            "  {step}:\n    executor: command\n    program: {}\n    args: \"{step} {{item}} {{index}} {{kind}} {{width}} {{height}} {{output}} {{input}} {{prompt}}\"\n    timeout_secs: 60\n",
            program.display(),
            step = step.as_str(),
        ));
    }
    yaml
}

/// What the program logs for an item, keyed by the item.
fn logged(items: &[StepItem]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|i| {
            let input = i
                .inputs
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let line = format!(
                "{}|{}|{}|{}|{}|{}|{}",
                i.key,
                i.index,
                i.kind.map(AssetKind::as_str).unwrap_or(""),
                i.width,
                i.height,
                input,
                i.prompt
            );
            (i.key.clone(), line)
        })
        .collect()
}

/// The program's log for a step, keyed by the item; an item run twice fails the test.
fn log_of(dir: &Path, step: Step) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join("logs").join(step.as_str())).unwrap_or_default();
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let key = line.split('|').next().unwrap().to_string();
        assert!(
            map.insert(key.clone(), line.to_string()).is_none(),
            "{step}: {key} ran twice"
        );
    }
    map
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_runs_exactly_the_items_the_pipeline_describes() {
    let dir = tempfile::tempdir().unwrap();
    let program = logging_program(dir.path());
    let core: Arc<Core> = TestCore::new()
        .config_dir_name("config")
        .channel(&channel_yaml(&program))
        .worker_settings(fast_worker_settings())
        .open_in(dir.path())
        .await;
    let task = TaskService::new(core.clone())
        .create(
            NewTask {
                title: "Volcanoes".into(),
                topic: "volcanoes".into(),
                story_direction: "a hopeful journey".into(),
                ..Default::default()
            },
            Source::Cli,
        )
        .await
        .unwrap();
    let run = || async {
        tokio::time::timeout(
            Duration::from_secs(120),
            Worker::new(core.clone()).run_until_idle(),
        )
        .await
        .expect("worker finished in time")
        .unwrap();
        core.store.task(task.id).await.unwrap()
    };
    // Through every gate to the end.
    for gate in [
        Status::AssetsReady,
        Status::VideoReady,
        Status::AudioReady,
        Status::FinalReview,
    ] {
        let t = run().await;
        assert_eq!(t.status, gate, "{}", t.error_log);
        ReviewService::new(core.clone())
            .approve(task.id, ReviewInput::by(Source::Cli, local_reviewer()))
            .await
            .unwrap();
    }
    let t = run().await;
    assert_eq!(t.status, Status::Published, "{}", t.error_log);

    let root = core.workspace.root();
    let assets = core.store.assets(task.id).await.unwrap();
    let composites = core
        .store
        .checkpoints(task.id, Step::Composites)
        .await
        .unwrap();
    let scenes = pipeline::scenes(&t, &assets, None, &[]).unwrap();
    let expected = [
        (
            Step::Assets,
            pipeline::asset_items(&t, &assets, &Default::default()),
        ),
        (
            Step::Composites,
            pipeline::composite_items(&t, root, &assets).unwrap(),
        ),
        (
            Step::Video,
            pipeline::clip_items(&t, root, &composites, &scenes),
        ),
        (Step::Audio, pipeline::narration_items(&t, &scenes)),
        (Step::Sfx, pipeline::sfx_items(&t, &scenes)),
        (Step::Assembly, pipeline::assembly_items(&t, root, &scenes)),
        (Step::Upload, pipeline::upload_items(&t, root)),
    ];
    for (step, items) in &expected {
        assert_eq!(log_of(dir.path(), *step), logged(items), "{step}");
        let mut outputs: Vec<(String, String)> = items
            .iter()
            .map(|i| (i.key.clone(), i.output_rel.to_string_lossy().into_owned()))
            .collect();
        outputs.sort();
        let mut recorded = core.store.checkpoints(task.id, *step).await.unwrap();
        recorded.sort();
        assert_eq!(recorded, outputs, "{step}: checkpointed outputs");
        for (_, out) in &recorded {
            assert!(root.join(out).is_file(), "{out} is in place");
        }
    }

    // A few of the rules, spelt out.
    let assets_log = log_of(dir.path(), Step::Assets);
    let sizes = |kind: &str| {
        let mut s: Vec<String> = assets_log
            .values()
            .map(|l| l.split('|').collect::<Vec<_>>())
            .filter(|f| f[2] == kind)
            .map(|f| format!("{}x{}", f[3], f[4]))
            .collect();
        s.dedup();
        s
    };
    assert_eq!(assets_log.len(), 22);
    assert_eq!(sizes("character"), ["768x1024"]);
    assert_eq!(sizes("environment"), ["1920x1080"]);
    assert_eq!(sizes("prop"), ["512x512"]);
    let comps = log_of(dir.path(), Step::Composites);
    assert_eq!(comps.len(), 18);
    assert!(
        comps["composite_18"].ends_with(&format!(
            "|Split screen: {} and {} in {}",
            assets[0].name, assets[1].name, assets[15].name
        )),
        "{}",
        comps["composite_18"]
    );
    for step in [Step::Video, Step::Audio, Step::Sfx] {
        assert_eq!(log_of(dir.path(), step).len(), 18, "{step}");
    }
}
