//! The built-in media steps on this machine: the wall time of steps 3–6 (clips, narration,
//! effects, assembly) for one task, run by the worker, against the same ffmpeg and espeak-ng
//! command lines run by a plain shell script with the same two lanes, in the same run (goal: the
//! worker within 1.1x of the shell, so the orchestration costs nothing); and the whole time from
//! the asset approval to Ready for Review (goal: at most 4 minutes on 2 cores).
//!
//! `make bench-media` (`cargo bench --workspace --bench media_steps --profile dev`).

use reviewdesk_core::review::local_reviewer;
use reviewdesk_core::{
    Core, NewTask, ReviewInput, ReviewService, Source, Status, TaskService, Worker,
};
use reviewdesk_media::{AssemblyScene, ClipSpec, Motion, Sound};
use reviewdesk_testkit::{OpenCore, TestCore, fast_worker_settings};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn run_worker(core: &Arc<Core>) -> Duration {
    let start = Instant::now();
    Worker::new(core.clone())
        .run_until_idle()
        .await
        .expect("worker");
    start.elapsed()
}

async fn approve(core: &Arc<Core>, id: reviewdesk_core::TaskId, at: Status) {
    let t = TaskService::new(core.clone()).get(id).await.unwrap();
    assert_eq!(t.status, at, "{}", t.error_log);
    ReviewService::new(core.clone())
        .approve(id, ReviewInput::by(Source::Cli, local_reviewer()))
        .await
        .unwrap();
}

/// One shell word: single-quoted, with `'` written as `'\''`.
fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

fn line(program: &str, args: &[String]) -> String {
    std::iter::once(quote(program))
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs shell command lines in two lanes (the worker's concurrency for encodes), waiting for both.
fn two_lanes(lines: &[String]) -> String {
    let (a, b): (Vec<_>, Vec<_>) = lines.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let lane = |l: Vec<(usize, &String)>| {
        l.into_iter()
            .map(|(_, c)| c.clone())
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!("(\n{}\n) &\n(\n{}\n) &\nwait\n", lane(a), lane(b))
}

fn duration(file: &Path) -> f64 {
    let out = std::process::Command::new("ffprobe")
        .args(reviewdesk_media::duration_args(file))
        .output()
        .expect("ffprobe");
    reviewdesk_media::parse_duration(&String::from_utf8_lossy(&out.stdout), "bench").unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let OpenCore { core, dir } = TestCore::new()
        .worker_settings(fast_worker_settings())
        .open()
        .await;
    let task = TaskService::new(core.clone())
        .create(
            NewTask {
                title: "Benchmark".into(),
                topic: "volcanoes".into(),
                story_direction: "curious".into(),
                ..Default::default()
            },
            Source::Cli,
        )
        .await
        .unwrap();
    run_worker(&core).await;
    approve(&core, task.id, Status::AssetsReady).await;
    let to_videos = run_worker(&core).await;
    approve(&core, task.id, Status::VideoReady).await;
    let to_audio = run_worker(&core).await;
    approve(&core, task.id, Status::AudioReady).await;
    let to_final = run_worker(&core).await;
    let detail = TaskService::new(core.clone())
        .detail(task.id)
        .await
        .unwrap();
    assert_eq!(
        detail.task.status,
        Status::FinalReview,
        "{}",
        detail.task.error_log
    );

    // Steps 3–6 as the worker ran them: from entering each step's status to leaving it.
    let spans = &detail.history;
    let step_secs = |running: Status| -> f64 {
        spans
            .iter()
            .filter(|s| s.status == running)
            .map(|s| {
                (s.left_at.unwrap_or_else(chrono::Utc::now) - s.entered_at).num_milliseconds()
                    as f64
                    / 1000.0
            })
            .sum()
    };
    let worker_steps: Vec<(&str, f64)> = [
        ("video (18 clips)", Status::GeneratingVideo),
        ("narration (18)", Status::GeneratingAudio),
        ("effects (18)", Status::GeneratingSfx),
        ("assembly", Status::Assembling),
    ]
    .into_iter()
    .map(|(n, s)| (n, step_secs(s)))
    .collect();
    let worker_total: f64 = worker_steps.iter().map(|(_, s)| s).sum();

    // The same command lines, by a shell script, into a scratch folder.
    let root = core.workspace.root().to_path_buf();
    let project = root.join(format!("channels/default/projects/{}", task.id));
    let out = dir.path().join("shell");
    std::fs::create_dir_all(&out).unwrap();
    let scenes = &detail.scenes;
    let o = |name: String| -> PathBuf { out.join(name) };
    let composite = |s: usize| project.join(format!("composites/composite_{s:02}.png"));
    let clips: Vec<String> = (1..=18)
        .map(|s| {
            line(
                "ffmpeg",
                &reviewdesk_media::clip_args(
                    &composite(s),
                    &o(format!("clip_{s:02}.mp4")),
                    Motion::from_prompt(&scenes[s - 1].motion),
                    &ClipSpec::SCENE,
                ),
            )
        })
        .collect();
    let narrations: Vec<String> = (1..=18)
        .map(|s| {
            let wav = o(format!("narration_{s:02}.wav"));
            format!(
                "printf '%s' {} | {} && {} && ffprobe -v error -show_entries format=duration {} >/dev/null",
                quote(&scenes[s - 1].narration),
                line("espeak-ng", &reviewdesk_media::speech_args("en-us", 165, &wav)),
                line(
                    "ffmpeg",
                    &reviewdesk_media::encode_speech_args(&wav, &o(format!("narration_{s:02}.mp3")))
                ),
                quote(&o(format!("narration_{s:02}.mp3")).display().to_string()),
            )
        })
        .collect();
    let effects: Vec<String> = (1..=18)
        .map(|s| {
            line(
                "ffmpeg",
                &reviewdesk_media::effect_args(
                    Sound::from_description(&scenes[s - 1].sfx),
                    10,
                    &o(format!("sfx_{s:02}.mp3")),
                ),
            )
        })
        .collect();
    let script = |body: String| -> f64 {
        let start = Instant::now();
        let status = std::process::Command::new("bash")
            .arg("-ec")
            .arg(body)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("bash");
        assert!(status.success(), "the shell baseline failed");
        start.elapsed().as_secs_f64()
    };
    let shell_clips = script(two_lanes(&clips));
    let shell_narration = script(two_lanes(&narrations));
    let shell_effects = script(two_lanes(&effects));
    // Assembly: the durations are read by ffprobe in both runs.
    let start = Instant::now();
    let files: Vec<[PathBuf; 3]> = (1..=18)
        .map(|s| {
            [
                o(format!("clip_{s:02}.mp4")),
                o(format!("narration_{s:02}.mp3")),
                o(format!("sfx_{s:02}.mp3")),
            ]
        })
        .collect();
    let parts: Vec<AssemblyScene<'_>> = files
        .iter()
        .enumerate()
        .map(|(i, f)| AssemblyScene {
            clip: &f[0],
            narration: &f[1],
            effect: &f[2],
            seconds: duration(&f[1]),
            title: format!("Scene {}", i + 1),
        })
        .collect();
    let meta = o("chapters.txt".into());
    std::fs::write(
        &meta,
        reviewdesk_media::chapters_metadata("Benchmark", &parts),
    )
    .unwrap();
    let probe_secs = start.elapsed().as_secs_f64();
    let shell_assembly = probe_secs
        + script(line(
            "ffmpeg",
            &reviewdesk_media::assembly_args(&parts, &meta, &o("final.mp4".into()), (1920, 1080)),
        ));
    let shell = [shell_clips, shell_narration, shell_effects, shell_assembly];
    let shell_total: f64 = shell.iter().sum();

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "Built-in media steps, one task, {cores} cores (worker vs the same commands in a shell script, two lanes)"
    );
    println!(
        "{:<20} {:>10} {:>10} {:>7}",
        "step", "worker s", "shell s", "ratio"
    );
    for ((name, w), s) in worker_steps.iter().zip(shell) {
        println!("{name:<20} {w:>10.1} {s:>10.1} {:>6.2}x", w / s);
    }
    println!(
        "{:<20} {worker_total:>10.1} {shell_total:>10.1} {:>6.2}x   (goal <= 1.10x)",
        "steps 3-6",
        worker_total / shell_total
    );
    let whole = (to_videos + to_audio + to_final).as_secs_f64();
    println!(
        "approval to Ready for Review (composites, steps 3-6, the worker's gates): {whole:.1} s = {:.2} min   (goal <= 4 min on 2 cores)",
        whole / 60.0
    );
}
