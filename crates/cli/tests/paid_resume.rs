//! A worker killed (SIGKILL) while it polls Kling for clips: the next worker waits for the same
//! jobs, so Kling is asked for each clip once and each is paid for once.

use assert_cmd::Command;
use provider_doubles::{KlingConfig, KlingDouble};
use reviewdesk_testkit::{sqlite_url, wait_until_blocking};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn cmd(dir: &Path, kling: &KlingDouble) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("reviewdesk"));
    c.env("REVIEWDESK_DATA_DIR", dir.join("data"))
        .env("REVIEWDESK_CONFIG_DIR", dir.join("cfg"))
        .env("REVIEWDESK_DATABASE_URL", sqlite_url(dir))
        .env("REVIEWDESK_WORKSPACE", dir.join("ws"))
        .env("KLING_ACCESS_KEY", kling.access_key())
        .env("KLING_SECRET_KEY", kling.secret_key())
        // A killed worker's lease runs out in 3 s, and the jobs are polled every 20 ms.
        .env("REVIEWDESK_LEASE_MS", "3000")
        .env("REVIEWDESK_HEARTBEAT_MS", "500")
        .env("REVIEWDESK_PROVIDER_POLL_MS", "20")
        .env_remove("RUST_LOG");
    c
}

fn json(dir: &Path, kling: &KlingDouble, args: &[&str]) -> Value {
    let out = Command::from_std(cmd(dir, kling))
        .args(args)
        .arg("--json")
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run_until_idle(dir: &Path, kling: &KlingDouble) {
    let out = Command::from_std(cmd(dir, kling))
        .args(["worker", "--until-idle"])
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_polling_kling_resumes_the_same_jobs_and_pays_once() {
    // The clips stay in `processing` until the test lets them finish.
    let kling = KlingDouble::start(KlingConfig::default().polls(1, 1_000_000))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    std::fs::create_dir_all(d.join("cfg/channels")).unwrap();
    std::fs::write(
        d.join("cfg/channels/default.yaml"),
        format!(
            "channel_id: default\nchannel_name: Default\nsteps:\n  video:\n    executor: kling\n    base_url: {}\n    duration: 5\n",
            kling.url()
        ),
    )
    .unwrap();
    let id = tokio::task::block_in_place(|| {
        let id = json(
            &d,
            &kling,
            &[
                "task",
                "add",
                "--title",
                "Volcanoes",
                "--topic",
                "volcanoes",
            ],
        )["id"]
            .as_str()
            .unwrap()
            .to_string();
        run_until_idle(&d, &kling);
        json(&d, &kling, &["review", "approve", &id]);
        id
    });

    // A worker starts three jobs (the most Kling runs at once) and polls them; it is killed.
    let mut worker = cmd(&d, &kling).arg("worker").spawn().unwrap();
    wait_until_blocking(
        "three clips are being polled",
        Duration::from_secs(120),
        || kling.creates() == 3 && kling.tasks().iter().all(|t| t.polls >= 2),
    );
    nix_kill(worker.id());
    worker.wait().unwrap();
    assert_eq!(kling.creates(), 3);

    // The next worker finds the three jobs it was waiting for, and makes the other fifteen.
    kling.set_polls(1, 2);
    // At TRACE level, and in every file the app wrote, the keys never show.
    let out = tokio::task::block_in_place(|| {
        Command::from_std(cmd(&d, &kling))
            .env("RUST_LOG", "trace")
            .args(["worker", "--until-idle"])
            .timeout(Duration::from_secs(300))
            .output()
            .unwrap()
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.lines().count() > 50, "a trace-level run logs");
    for key in [kling.access_key(), kling.secret_key()] {
        assert!(!logs.contains(&key), "a key in the log");
        for file in files_under(&d) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "a key in {}",
                file.display()
            );
        }
    }
    let task = tokio::task::block_in_place(|| json(&d, &kling, &["task", "show", &id]));
    assert_eq!(task["task"]["status"], "video_ready", "{task}");
    assert_eq!(kling.creates(), 18, "one create per clip, none twice");
    let mut externals: Vec<String> = kling
        .tasks()
        .into_iter()
        .filter_map(|t| t.external_task_id)
        .collect();
    externals.sort();
    externals.dedup();
    assert_eq!(externals.len(), 18);
    for e in &externals {
        assert_eq!(kling.creates_for_external(e), 1, "{e}");
    }
    let ledger: f64 = task["spent_usd"].as_f64().unwrap();
    assert!(
        (ledger - 18.0 * 0.21).abs() < 1e-9,
        "18 clips of 5 s: {ledger}"
    );

    // `reviewdesk costs`: per day, channel and step, and today against the budget.
    let costs = tokio::task::block_in_place(|| json(&d, &kling, &["costs"]));
    let lines = costs["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{costs}");
    assert_eq!(lines[0]["channel_id"], "default");
    assert_eq!(lines[0]["step"], "video");
    assert_eq!(lines[0]["calls"], 18);
    assert_eq!(
        lines[0]["day"],
        chrono::Utc::now().format("%Y-%m-%d").to_string()
    );
    assert!((costs["total_usd"].as_f64().unwrap() - 3.78).abs() < 1e-9);
    let text = tokio::task::block_in_place(|| {
        let out = cmd(&d, &kling).arg("costs").output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    });
    assert!(
        text.contains("video") && text.contains("18 calls  $3.78"),
        "{text}"
    );
    assert!(text.contains("today default: $3.78 (no budget)"), "{text}");
    let show = tokio::task::block_in_place(|| {
        let out = cmd(&d, &kling)
            .args(["task", "show", &id])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    });
    assert!(show.contains("spent so far: $3.78"), "{show}");
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// SIGKILL: no chance to give the lease back or say goodbye to Kling.
fn nix_kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
