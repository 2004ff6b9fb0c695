//! The `reviewdesk` binary end to end: real processes, a real SQLite file, a real workspace.

use assert_cmd::Command;
use reviewdesk_testkit::{sqlite_url, wait_until_blocking};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cfg/channels")).unwrap();
        Env { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn ws(&self) -> PathBuf {
        self.path().join("ws")
    }
    fn db(&self) -> String {
        sqlite_url(self.path())
    }
    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("reviewdesk").unwrap();
        c.env("REVIEWDESK_DATA_DIR", self.path().join("data"))
            .env("REVIEWDESK_CONFIG_DIR", self.path().join("cfg"))
            .env("REVIEWDESK_DATABASE_URL", self.db())
            .env("REVIEWDESK_WORKSPACE", self.ws())
            .env_remove("RUST_LOG")
            .timeout(Duration::from_secs(120));
        c
    }
    fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("reviewdesk"));
        c.env("REVIEWDESK_DATA_DIR", self.path().join("data"))
            .env("REVIEWDESK_CONFIG_DIR", self.path().join("cfg"))
            .env("REVIEWDESK_DATABASE_URL", self.db())
            .env("REVIEWDESK_WORKSPACE", self.ws())
            .env_remove("RUST_LOG");
        c
    }
    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().args(args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    /// Runs a command that must fail, returning its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            err.lines().filter(|l| l.starts_with("error")).count() == 1,
            "one clear error line: {err}"
        );
        err
    }
    fn channel(&self, yaml: &str) {
        std::fs::write(self.path().join("cfg/channels/default.yaml"), yaml).unwrap();
    }
    fn add(&self, title: &str) -> String {
        self.json(&["task", "add", "--title", title, "--topic", "volcanoes"])["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
    fn db_snapshot(&self) -> Value {
        self.json(&["task", "list"])
    }
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    p
}

#[test]
fn demo_then_approve_then_composites_then_a_clear_wait_for_ffmpeg_at_video() {
    let env = Env::new();
    let detail = env.json(&["demo"]);
    assert_eq!(detail["task"]["status"], "assets_ready");
    assert_eq!(detail["assets"].as_array().unwrap().len(), 22);
    let id = detail["task"]["id"].as_str().unwrap().to_string();
    let approved = env.json(&["review", "approve", &id, "--note", "looks great"]);
    assert_eq!(approved[0]["status"], "assets_approved");
    // Without ffmpeg the built-in video step cannot run: the task waits there, saying why.
    env.cmd()
        .args(["worker", "--until-idle"])
        .env("REVIEWDESK_FFMPEG", "/nonexistent/ffmpeg")
        .assert()
        .success();
    let shown = env.json(&["task", "show", &id]);
    assert_eq!(shown["task"]["status"], "generating_video");
    let log = shown["task"]["error_log"].as_str().unwrap();
    assert!(
        log.contains("Videos Generating: waiting: the built-in video step cannot run because ffmpeg is not installed"),
        "{log}"
    );
    let composites = env
        .ws()
        .join(format!("channels/default/projects/{id}/composites"));
    let n = std::fs::read_dir(&composites)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert_eq!(n, 18);
    assert_eq!(shown["audit"][0]["reason"], "looks great");
    assert_eq!(shown["audit"][0]["source"], "cli");
}

#[test]
fn bad_input_is_refused_with_one_clear_line_and_changes_nothing() {
    let env = Env::new();
    let id = env.add("Queued one");
    let before = env.db_snapshot();

    let err = env.fails(&["review", "approve", &id]);
    assert!(
        err.contains("Queued") && err.contains("not at a review gate"),
        "{err}"
    );
    let err = env.fails(&["retry", &id]);
    assert!(
        err.contains("cannot move a task from Queued to Queued"),
        "{err}"
    );
    let unknown = "01900000-0000-7000-8000-000000000000";
    assert!(
        env.fails(&["task", "show", unknown])
            .contains("does not exist")
    );
    assert!(
        env.fails(&["review", "approve", "not-an-id"])
            .contains("not a task id")
    );
    assert!(
        env.fails(&["review", "flag", &id, "../../etc/passwd"])
            .contains("asset name")
    );
    assert!(
        env.fails(&["review", "reject", &id, "--feedback", "  "])
            .contains("feedback")
    );
    assert!(
        env.fails(&["task", "add", "--title", "x", "--priority", "urgent"])
            .contains("priority")
    );
    assert!(
        env.fails(&["task", "add", "--title", "x", "--channel", "nope"])
            .contains("no channel \"nope\"")
    );

    // A corrupt plan file is refused before anything is stored.
    let plan = env.path().join("plan.yaml");
    std::fs::write(&plan, "characters: [ {name: a, prompt: }\n").unwrap();
    let err = env.fails(&[
        "task",
        "add",
        "--title",
        "Planned",
        "--plan-file",
        plan.to_str().unwrap(),
    ]);
    assert!(err.contains("plan.yaml"), "{err}");
    std::fs::write(
        &plan,
        "characters: [{name: ../a, prompt: p}]\nenvironments: []\nprops: []\n",
    )
    .unwrap();
    assert!(
        env.fails(&[
            "task",
            "add",
            "--title",
            "Planned",
            "--plan-file",
            plan.to_str().unwrap()
        ])
        .contains("plan.yaml")
    );

    // A channel file with a bad field names the file and the field.
    env.channel("channel_id: default\nchannel_name: D\nmax_concurrent: 0\n");
    assert!(env.fails(&["task", "list"]).contains("max_concurrent"));
    std::fs::remove_file(env.path().join("cfg/channels/default.yaml")).unwrap();

    // An unwritable workspace is named.
    let file = env.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = env.fails(&[
        "--workspace",
        file.join("ws").to_str().unwrap(),
        "task",
        "list",
    ]);
    assert!(err.contains("workspace"), "{err}");

    assert_eq!(env.db_snapshot(), before, "nothing changed in the store");
    assert!(
        env.json(&["task", "show", &id])["audit"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn reject_with_flags_then_retry_regenerates_exactly_those() {
    let env = Env::new();
    let id = env.json(&["demo"])["task"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = env
        .ws()
        .join(format!("channels/default/projects/{id}/assets"));
    let snapshot = |p: &Path| {
        (
            std::fs::read(p).unwrap(),
            std::fs::metadata(p).unwrap().modified().unwrap(),
        )
    };
    let all: Vec<PathBuf> = ["characters", "environments", "props"]
        .iter()
        .flat_map(|k| {
            std::fs::read_dir(dir.join(k))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
        })
        .collect();
    assert_eq!(all.len(), 22);
    let before: Vec<_> = all.iter().map(|p| snapshot(p)).collect();

    env.cmd()
        .args(["review", "flag", &id, "rival", "--note", "too cartoonish"])
        .assert()
        .success();
    let rejected = env.json(&[
        "review",
        "reject",
        &id,
        "--feedback",
        "Rival, desert and map need another go",
        "--flag",
        "rival",
        "--flag",
        "desert_camp",
        "--flag",
        "ancient_map",
    ]);
    assert_eq!(rejected[0]["status"], "asset_error");
    let shown = env.json(&["task", "show", &id]);
    assert!(
        shown["task"]["error_log"]
            .as_str()
            .unwrap()
            .contains("Asset Error: Rival, desert and map need another go")
    );
    let audit = &shown["audit"][0];
    assert_eq!(audit["decision"], "reject");
    assert_eq!(
        audit["flagged"],
        serde_json::json!(["rival", "desert_camp", "ancient_map"])
    );
    assert!(
        audit["correlation_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );

    env.cmd().args(["retry", &id]).assert().success();
    env.cmd()
        .args(["worker", "--until-idle"])
        .assert()
        .success();
    let shown = env.json(&["task", "show", &id]);
    assert_eq!(shown["task"]["status"], "assets_ready");
    let flagged = ["rival", "desert_camp", "ancient_map"];
    for a in shown["assets"].as_array().unwrap() {
        let name = a["name"].as_str().unwrap();
        let expected = if flagged.contains(&name) { 2 } else { 1 };
        assert_eq!(a["current_version"], expected, "{name}");
    }
    for (p, (bytes, mtime)) in all.iter().zip(before) {
        let name = p.file_stem().unwrap().to_str().unwrap();
        let (now_bytes, now_mtime) = snapshot(p);
        if flagged.contains(&name) {
            assert_ne!(now_bytes, bytes, "{name} regenerated");
        } else {
            assert_eq!((now_bytes, now_mtime), (bytes, mtime), "{name} untouched");
        }
    }
}

#[test]
fn a_worker_killed_mid_step_is_finished_by_another_after_its_lease_expires() {
    let env = Env::new();
    // Fixture images the slow "generator" copies, one per asset.
    let fixtures = env.path().join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    let plan = reviewdesk_core::asset::AssetPlan::derive("t", "", Default::default()).unwrap();
    for (i, a) in plan.assets.iter().enumerate() {
        let img = image::RgbaImage::from_pixel(64, 64, image::Rgba([i as u8 * 10, 100, 200, 255]));
        img.save(fixtures.join(format!("{}.png", a.name))).unwrap();
    }
    let block = env.path().join("block");
    let reached = env.path().join("reached");
    std::fs::write(&block, b"").unwrap();
    let generator = script(
        env.path(),
        "gen.sh",
        &format!(
            "if [ \"$3\" = 6 ] && [ -f {block} ]; then echo $$ > {reached}; exec sleep 600; fi\ncp {fx}/$2.png \"$1\"",
            block = block.display(),
            reached = reached.display(),
            fx = fixtures.display()
        ),
    );
    env.channel(&format!(
        "channel_id: default\nchannel_name: D\nsteps:\n  assets:\n    executor: command\n    program: {}\n    args: \"{{output}} {{item}} {{index}}\"\n",
        generator.display()
    ));
    let id = env.add("Crash");
    let mut first = env
        .std_cmd()
        .args(["worker"])
        .env("REVIEWDESK_LEASE_MS", "1500")
        .env("REVIEWDESK_HEARTBEAT_MS", "300")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until_blocking("item 6 to start", Duration::from_secs(60), || {
        reached.exists()
    });
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let orphan = std::fs::read_to_string(&reached).unwrap();
    let _ = std::process::Command::new("kill")
        .arg("-9")
        .arg(orphan.trim())
        .status();
    std::fs::remove_file(&block).unwrap();

    let mid = env.json(&["task", "show", &id]);
    assert_eq!(mid["task"]["status"], "generating_assets");
    let done_before = mid["assets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["current_version"] == 1)
        .count();
    assert_eq!(
        done_before, 5,
        "five items were checkpointed before the kill"
    );

    env.cmd()
        .args(["worker", "--until-idle"])
        .env("REVIEWDESK_LEASE_MS", "1500")
        .env("REVIEWDESK_HEARTBEAT_MS", "300")
        .assert()
        .success();
    let shown = env.json(&["task", "show", &id]);
    assert_eq!(shown["task"]["status"], "assets_ready");
    let assets = shown["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 22);
    for a in assets {
        assert_eq!(a["current_version"], 1, "{}", a["name"]);
        assert_eq!(
            a["versions"].as_array().unwrap().len(),
            1,
            "no duplicate version rows for {}",
            a["name"]
        );
    }
}

#[test]
fn secrets_in_a_failing_command_are_redacted() {
    let env = Env::new();
    // The program never sees the app's secrets in its environment; it reads this one from a file
    // (as a real script might from its own config), and the worker still redacts it.
    let secret_file = env.path().join("secret.txt");
    std::fs::write(&secret_file, "sk-very-secret-123").unwrap();
    let bad = script(
        env.path(),
        "bad.sh",
        &format!(
            "echo \"env: [$MY_API_TOKEN]\" >&2; echo \"auth failed with $(cat {})\" >&2; exit 78",
            secret_file.display()
        ),
    );
    env.channel(&format!(
        "channel_id: default\nchannel_name: D\nsteps:\n  assets:\n    executor: command\n    program: {}\n",
        bad.display()
    ));
    let id = env.add("Secret");
    let out = env
        .cmd()
        .args(["-vvv", "worker", "--until-idle"])
        .env("MY_API_TOKEN", "sk-very-secret-123")
        .output()
        .unwrap();
    assert!(out.status.success());
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(!logs.contains("sk-very-secret-123"), "secret in logs");
    let shown = env.json(&["task", "show", &id]);
    assert_eq!(
        shown["task"]["status"], "asset_error",
        "configuration errors stop at once"
    );
    let log = shown["task"]["error_log"].as_str().unwrap();
    assert!(
        log.contains("auth failed with [redacted]") && !log.contains("sk-very"),
        "{log}"
    );
    assert!(log.contains("fix the configuration"), "{log}");
    assert!(
        log.contains("env: []"),
        "the program inherited the secret: {log}"
    );
}

#[test]
fn audit_export_lists_every_decision_as_csv_and_json_by_day_and_channel() {
    let env = Env::new();
    let a = env.add("Approved one");
    let b = env.add("Rejected one");
    env.cmd()
        .args(["worker", "--until-idle"])
        .assert()
        .success();
    env.json(&["review", "approve", &a, "--note", "looks great"]);
    env.json(&[
        "review",
        "reject",
        &b,
        "--feedback",
        "the owl is too dark, \"redo\"",
        "--flag",
        "protagonist",
    ]);
    let out = |args: &[&str]| {
        let o = env
            .cmd()
            .args(["audit", "export"])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };

    // JSON: one entry per decision, the same as each task's own audit trail.
    let all: Value = serde_json::from_str(&out(&["--format", "json"])).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    for (entry, id) in all.iter().zip([&a, &b]) {
        let shown = env.json(&["task", "show", id]);
        let trail = &shown["audit"][0];
        assert_eq!(entry["task_id"], id.as_str());
        for field in [
            "decision",
            "gate",
            "resulting_status",
            "source",
            "reason",
            "correlation_id",
        ] {
            assert_eq!(entry[field], trail[field], "{field}");
        }
        assert_eq!(entry["flagged"], trail["flagged"]);
        assert_eq!(entry["reviewer_name"], trail["reviewer"]["name"]);
        assert_eq!(entry["channel_id"], "default");
    }
    assert_eq!(all[1]["flagged"], serde_json::json!(["protagonist"]));

    // CSV: a header and one row per decision; quotes and commas survive.
    let csv = out(&[]);
    let mut reader = csv_rows(&csv);
    assert_eq!(reader.remove(0)[0], "time");
    assert_eq!(reader.len(), 2, "{csv}");
    assert_eq!(reader[1][5], "reject");
    assert_eq!(reader[1][11], "the owl is too dark, \"redo\"");
    assert_eq!(reader[1][12], "protagonist");

    // Filters: another channel or a past range has no decision; today's range has both.
    assert_eq!(csv_rows(&out(&["--channel", "other"])).len(), 1);
    assert_eq!(csv_rows(&out(&["--to", "2000-01-01"])).len(), 1);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(csv_rows(&out(&["--from", &today, "--to", &today])).len(), 3);
    assert!(
        env.fails(&[
            "audit",
            "export",
            "--from",
            "2026-02-02",
            "--to",
            "2026-01-01"
        ])
        .contains("after")
    );
}

/// The rows of a CSV text, header included.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}
