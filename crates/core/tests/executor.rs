//! The command executor against real programs: verbose output, timeouts, leftovers of killed
//! attempts, media validation with ffprobe, stopping every running program at once, and what a
//! program may see of the environment.

use reviewdesk_core::TaskId;
use reviewdesk_core::executor::{
    CommandExecutor, ItemJob, StepExecutor, StepItem, kill_all_running_programs,
};
use reviewdesk_core::status::Step;
use reviewdesk_core::task::ErrorCategory;
use reviewdesk_core::workspace::Workspace;
use reviewdesk_testkit::wait_until;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Bench {
    dir: tempfile::TempDir,
    ws: Workspace,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws")).unwrap();
        Bench { dir, ws }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An executable shell script.
    fn script(&self, name: &str, body: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        p.display().to_string()
    }

    fn job(&self, output: &str) -> ItemJob {
        ItemJob {
            task_id: TaskId::new(),
            step: Step::Video,
            item: StepItem {
                key: "clip_01".into(),
                index: 1,
                kind: None,
                prompt: "Animate scene 1".into(),
                output_rel: PathBuf::from(output),
                width: 32,
                height: 32,
                inputs: vec![],
                version: 1,
                titles: vec![],
            },
            workspace: self.ws.clone(),
            attempt: 1,
            task_title: "Volcanoes".into(),
            task_topic: "volcanoes".into(),
            progress: Default::default(),
        }
    }

    fn out_dir(&self) -> PathBuf {
        self.ws.root().join("out")
    }
}

fn exec(program: &str, timeout: Duration) -> CommandExecutor {
    CommandExecutor::new(program, "{output} {item}", timeout)
}

/// Runs one item and returns the bytes it produced.
async fn produced(e: &CommandExecutor, job: &ItemJob) -> Result<Vec<u8>, (ErrorCategory, String)> {
    match e.run_item(job).await {
        Ok(mut out) => {
            let dest = job.workspace.resolve(&job.item.output_rel).unwrap();
            out.install(&dest).unwrap();
            Ok(std::fs::read(&dest).unwrap())
        }
        Err(f) => Err((f.category, f.message)),
    }
}

fn partials(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial."))
        .collect()
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

fn ffmpeg(args: &[&str], out: &Path) {
    let res = std::process::Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(args)
        .arg("-y")
        .arg(out)
        .output()
        .expect("ffmpeg runs (install the Debian package ffmpeg)");
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
}

#[tokio::test]
async fn a_verbose_program_is_read_to_the_end_and_succeeds() {
    let b = Bench::new();
    // ~600 KiB of ffmpeg/tqdm-style progress on stderr (redrawn with \r), far over any pipe
    // buffer; printf is a shell builtin, so a closed pipe would kill the script itself.
    let program = b.script(
        "verbose.sh",
        "i=0\nwhile [ $i -lt 20000 ]; do printf 'frame=%6d fps=30 q=28.0 size=  1024kB\\r' $i >&2; i=$((i+1)); done\nprintf 'the clip' > \"$1\"",
    );
    let got = produced(
        &exec(&program, Duration::from_secs(120)),
        &b.job("out/clip_01.bin"),
    )
    .await;
    assert_eq!(got, Ok(b"the clip".to_vec()));
}

#[tokio::test]
async fn a_failing_verbose_program_reports_the_end_of_its_stderr() {
    let b = Bench::new();
    let program = b.script(
        "fails.sh",
        "i=0\nwhile [ $i -lt 10000 ]; do echo \"early noise line $i\" >&2; i=$((i+1)); done\necho 'error: the upstream service refused the prompt' >&2\nexit 1",
    );
    let (category, message) = produced(
        &exec(&program, Duration::from_secs(120)),
        &b.job("out/x.bin"),
    )
    .await
    .unwrap_err();
    assert_eq!(category, ErrorCategory::Unknown, "{message}");
    assert!(message.contains("exited with 1 on clip_01"), "{message}");
    assert!(
        message.contains("the upstream service refused the prompt"),
        "the last lines are kept: {message}"
    );
    assert!(
        !message.contains("noise line 1 "),
        "not the first ones: {message}"
    );
    assert!(message.len() < 4000, "bounded: {} bytes", message.len());
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group_and_removes_the_partial_output() {
    let b = Bench::new();
    let (pid, child) = (b.path("program.pid"), b.path("child.pid"));
    let program = b.script(
        "hangs.sh",
        &format!(
            "printf half > \"$1\"\nsleep 300 & echo $! > {c}\necho $$ > {p}\nwait",
            c = child.display(),
            p = pid.display()
        ),
    );
    let job = b.job("out/clip_01.mp4");
    let started = std::time::Instant::now();
    let (category, message) = produced(&exec(&program, Duration::from_millis(800)), &job)
        .await
        .unwrap_err();
    assert_eq!(category, ErrorCategory::Transient);
    assert!(message.contains("timed out after"), "{message}");
    assert!(
        message.contains("timeout_secs"),
        "says what to change: {message}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let read = |p: &Path| -> u32 { std::fs::read_to_string(p).unwrap().trim().parse().unwrap() };
    let (pid, child) = (read(&pid), read(&child));
    wait_until(
        "the program and its child to die",
        Duration::from_secs(10),
        || !alive(pid) && !alive(child),
    )
    .await;
    assert_eq!(partials(&b.out_dir()), Vec::<String>::new());
    assert!(!b.out_dir().join("clip_01.mp4").exists());
}

#[tokio::test]
async fn a_partial_output_left_by_a_killed_attempt_is_never_taken_for_the_next_one() {
    let b = Bench::new();
    let dir = b.out_dir();
    std::fs::create_dir_all(&dir).unwrap();
    // What a worker killed mid-item leaves: partial files under any attempt's name.
    for leftover in [
        ".clip_01.bin.partial.bin",
        ".clip_01.bin.0123456789ab.partial.bin",
    ] {
        std::fs::write(dir.join(leftover), b"half a clip").unwrap();
    }
    let lazy = b.script("lazy.sh", "exit 0");
    let (category, message) = produced(
        &exec(&lazy, Duration::from_secs(30)),
        &b.job("out/clip_01.bin"),
    )
    .await
    .unwrap_err();
    assert_eq!(category, ErrorCategory::Permanent);
    assert!(message.contains("wrote nothing"), "{message}");
    assert!(!dir.join("clip_01.bin").exists());
    assert_eq!(
        partials(&dir),
        Vec::<String>::new(),
        "leftovers are removed"
    );
}

#[tokio::test]
async fn video_and_audio_outputs_count_only_when_ffprobe_reads_them() {
    let b = Bench::new();
    let (clip, sound) = (b.path("real.mp4"), b.path("real.wav"));
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=navy:s=32x32:d=0.2",
            "-c:v",
            "mpeg4",
        ],
        &clip,
    );
    ffmpeg(
        &["-f", "lavfi", "-i", "sine=frequency=440:duration=0.2"],
        &sound,
    );
    let copy = |from: &Path| format!("cp {} \"$1\"", from.display());

    let fake = b.script("fake.sh", "printf 'not a video at all' > \"$1\"");
    let (category, message) = produced(
        &exec(&fake, Duration::from_secs(60)),
        &b.job("out/clip_01.mp4"),
    )
    .await
    .unwrap_err();
    assert_eq!(category, ErrorCategory::Permanent, "{message}");
    assert!(message.contains("not a valid video file"), "{message}");
    assert!(message.contains("clip_01"), "{message}");
    assert!(
        !b.out_dir().join("clip_01.mp4").exists(),
        "an invalid file never counts"
    );
    assert_eq!(partials(&b.out_dir()), Vec::<String>::new());

    // A real clip passes; a real clip is not narration.
    let real = b.script("real.sh", &copy(&clip));
    let got = produced(
        &exec(&real, Duration::from_secs(60)),
        &b.job("out/clip_01.mp4"),
    )
    .await;
    assert_eq!(got, Ok(std::fs::read(&clip).unwrap()));
    let (category, message) = produced(
        &exec(&real, Duration::from_secs(60)),
        &b.job("out/narration_01.mp3"),
    )
    .await
    .unwrap_err();
    assert_eq!(category, ErrorCategory::Permanent);
    assert!(message.contains("no audio stream"), "{message}");

    let tone = b.script("tone.sh", &copy(&sound));
    let got = produced(
        &exec(&tone, Duration::from_secs(60)),
        &b.job("out/sfx_01.wav"),
    )
    .await;
    assert_eq!(got, Ok(std::fs::read(&sound).unwrap()));
    let fake_audio = b.script("fake_audio.sh", "printf 'ID3 but nothing else' > \"$1\"");
    let (category, message) = produced(
        &exec(&fake_audio, Duration::from_secs(60)),
        &b.job("out/narration_01.mp3"),
    )
    .await
    .unwrap_err();
    assert_eq!(category, ErrorCategory::Permanent);
    assert!(message.contains("not a valid audio file"), "{message}");
    // Other outputs are not probed.
    let got = produced(
        &exec(&fake, Duration::from_secs(60)),
        &b.job("out/result.txt"),
    )
    .await;
    assert!(got.is_ok(), "{got:?}");
}

#[tokio::test]
async fn identical_media_is_probed_once_and_new_content_again() {
    let b = Bench::new();
    let clip = b.path("same.mp4");
    // Parameters of its own: no other test makes these bytes (the cache is process-wide).
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=maroon:s=48x24:d=0.3",
            "-c:v",
            "mpeg4",
        ],
        &clip,
    );
    let count = b.path("probes.log");
    let counting = b.script(
        "counting-ffprobe.sh",
        &format!("echo probe >> {}\nexec ffprobe \"$@\"", count.display()),
    );
    let copy = b.script("copy.sh", &format!("cp {} \"$1\"", clip.display()));
    let mut e = exec(&copy, Duration::from_secs(60));
    e.ffprobe = counting;
    let probes = || {
        std::fs::read_to_string(&count)
            .unwrap_or_default()
            .lines()
            .count()
    };
    for i in 1..=5 {
        let got = produced(&e, &b.job(&format!("out/clip_0{i}.mp4"))).await;
        assert!(got.is_ok(), "{got:?}");
    }
    assert_eq!(probes(), 1, "five copies of one clip are probed once");
    // Other bytes are probed, and broken bytes are still refused.
    let broken = b.script("broken.sh", "printf 'still not a video' > \"$1\"");
    let mut e2 = exec(&broken, Duration::from_secs(60));
    e2.ffprobe = e.ffprobe.clone();
    assert!(produced(&e2, &b.job("out/clip_09.mp4")).await.is_err());
    assert_eq!(probes(), 2);
}

#[tokio::test]
async fn a_missing_ffprobe_is_reported_with_the_package_to_install() {
    let b = Bench::new();
    let fake = b.script("fake.sh", "printf 'a clip' > \"$1\"");
    let mut e = exec(&fake, Duration::from_secs(60));
    e.ffprobe = b.path("no-such-ffprobe").display().to_string();
    let (category, message) = produced(&e, &b.job("out/clip_01.mp4")).await.unwrap_err();
    assert_eq!(category, ErrorCategory::Configuration);
    assert!(message.contains("was not found"), "{message}");
    assert!(message.contains("Debian package ffmpeg"), "{message}");
    assert!(!b.out_dir().join("clip_01.mp4").exists());
}

/// Secret-bearing variables set in the parent, and a plain one that must stay.
const SECRETS: &[(&str, &str)] = &[
    ("NOTION_TOKEN", "ntn_secret_notion_value"),
    ("REVIEWDESK_SERVER_TOKEN", "server-token-value-123"),
    ("NOTION_WEBHOOK_SECRET", "webhook-secret-value-123"),
    ("R2_ACCESS_KEY_ID", "r2-access-key-id-value"),
    ("R2_SECRET_ACCESS_KEY", "r2-secret-access-key-value"),
    ("R2_PROD_SECRET_ACCESS_KEY", "r2-prod-secret-value"),
    ("AWS_ACCESS_KEY_ID", "aws-access-key-id-value"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key-value"),
    (
        "REVIEWDESK_DATABASE_URL",
        "postgres://rd:db-password-value@db.example/rd",
    ),
    ("PGPASSWORD", "pg-password-value-123"),
    (
        "REVIEWDESK_TEST_PG_URL",
        "postgres://postgres@127.0.0.1:1/test-url-value",
    ),
    ("GEMINI_API_KEY", "gemini-api-key-value"),
    ("KLING_ACCESS_KEY", "kling-access-key-value"),
    ("KLING_SECRET_KEY", "kling-secret-key-value"),
    ("ELEVENLABS_API_KEY", "elevenlabs-api-key-value"),
    ("MY_STORAGE_SECRET", "some-other-secret-value"),
    (
        "BACKUP_URL",
        "https://backup:url-password-value@backup.example/",
    ),
];
const PLAIN: (&str, &str) = ("REVIEWDESK_PLAIN_SETTING", "plain-value-kept");

const CHILD: &str = "REVIEWDESK_EXECUTOR_ENV_CHILD";

/// Runs one `#[ignore]`d test of this binary in a child process, with `env` set.
fn run_in_child(test: &str, env: &[(&str, &str)]) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        test,
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child test ran: {text}");
}

/// The executor runs in a child process of this test with the secrets set in its environment
/// (this crate forbids `unsafe`, so `std::env::set_var` is not available to set them here).
#[test]
fn step_programs_never_see_the_app_s_secrets() {
    let mut env = SECRETS.to_vec();
    env.push(PLAIN);
    run_in_child("env_dump_in_a_child_process", &env);
}

/// In a process of its own: killing every running program must not hit other tests' programs.
#[test]
fn kill_all_running_programs_stops_every_step_program_of_the_process() {
    run_in_child("kill_all_in_a_child_process", &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by kill_all_running_programs_stops_every_step_program_of_the_process"]
async fn kill_all_in_a_child_process() {
    if std::env::var(CHILD).as_deref() != Ok("1") {
        return; // only meaningful when the parent test runs it (`--include-ignored` alone)
    }
    let b = Bench::new();
    let (pid, child) = (b.path("program.pid"), b.path("child.pid"));
    let program = b.script(
        "hangs.sh",
        &format!(
            "sleep 300 & echo $! > {c}\necho $$ > {p}\nwait",
            c = child.display(),
            p = pid.display()
        ),
    );
    let e = exec(&program, Duration::from_secs(600));
    let job = b.job("out/clip_01.bin");
    let running = tokio::spawn(async move { produced(&e, &job).await });
    wait_until("the program to start", Duration::from_secs(30), || {
        pid.exists() && std::fs::metadata(&pid).is_ok_and(|m| m.len() > 0)
    })
    .await;
    kill_all_running_programs();
    let (category, message) = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the item ended when its program was killed")
        .unwrap()
        .unwrap_err();
    assert_eq!(category, ErrorCategory::Transient, "{message}");
    let read = |p: &Path| -> u32 { std::fs::read_to_string(p).unwrap().trim().parse().unwrap() };
    let (pid, child) = (read(&pid), read(&child));
    wait_until(
        "the program and its child to die",
        Duration::from_secs(10),
        || !alive(pid) && !alive(child),
    )
    .await;
}

#[tokio::test]
#[ignore = "run by step_programs_never_see_the_app_s_secrets, with the secrets set"]
async fn env_dump_in_a_child_process() {
    if std::env::var(CHILD).as_deref() != Ok("1") {
        return; // only meaningful when the parent test runs it (`--include-ignored` alone)
    }
    for (k, v) in SECRETS {
        assert_eq!(
            std::env::var(k).as_deref(),
            Ok(*v),
            "{k} is set in the parent"
        );
    }
    let b = Bench::new();
    let dump = b.script("dump.sh", "env > \"$1\"");
    let env = produced(&exec(&dump, Duration::from_secs(30)), &b.job("out/env.txt"))
        .await
        .unwrap();
    let env = String::from_utf8(env).unwrap();
    for (k, v) in SECRETS {
        assert!(!env.contains(v), "{k}'s value reached the program:\n{env}");
        assert!(
            !env.lines().any(|l| l.starts_with(&format!("{k}="))),
            "{k} reached the program"
        );
    }
    assert!(
        env.contains(&format!("{}={}", PLAIN.0, PLAIN.1)),
        "other variables are kept:\n{env}"
    );
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
}
