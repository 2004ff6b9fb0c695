//! Several `reviewdesk worker --until-idle` processes sharing one PostgreSQL database: every step
//! of every task runs exactly once, nothing is lost, and a SIGKILLed worker's tasks are finished
//! by the others once its lease expires.
//!
//! Needs `REVIEWDESK_TEST_PG_URL` (`export REVIEWDESK_TEST_PG_URL=$(scripts/start-postgres.sh)`);
//! without it these tests fail in CI (env `CI` set) and are skipped with a printed reason locally
//! (`reviewdesk_testkit::pg_admin_url`). Each test creates its own database.

use reviewdesk_core::store::{TaskEventRow, TaskFilter};
use reviewdesk_core::{Core, NewTask, Source, Status, Step, Store, TaskService};
use reviewdesk_testkit::{PgDatabase, TestCore};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 4;
/// Items per task with the channel below: 6+8+4 assets, 18 composites, clips, narrations and
/// effects, one assembly, one upload.
const ASSETS: usize = 18;
const ITEMS_PER_TASK: usize = ASSETS + 18 * 4 + 2;

struct PgEnv {
    dir: tempfile::TempDir,
    pg: PgDatabase,
    url: String,
    rt: tokio::runtime::Runtime,
}

impl PgEnv {
    /// A fresh database and folders, or `None` when PostgreSQL is skipped (the testkit's policy).
    fn new(test: &str) -> Option<PgEnv> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let pg = rt.block_on(PgDatabase::create("rd_cli", test))?;
        let url = pg.url.clone();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cfg/channels")).unwrap();
        Some(PgEnv { dir, pg, url, rt })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> PathBuf {
        self.path().join("invocations.log")
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_reviewdesk"));
        c.env("REVIEWDESK_DATA_DIR", self.path().join("data"))
            .env("REVIEWDESK_CONFIG_DIR", self.path().join("cfg"))
            .env("REVIEWDESK_DATABASE_URL", &self.url)
            .env("REVIEWDESK_WORKSPACE", self.path().join("ws"))
            .env("REVIEWDESK_LEASE_MS", "2000")
            // No ffmpeg: an approved task stops, waiting, at the video step.
            .env("REVIEWDESK_FFMPEG", "/nonexistent/ffmpeg")
            .env("REVIEWDESK_HEARTBEAT_MS", "400")
            // Wakeups come from LISTEN/NOTIFY; the poll is only a fallback.
            .env("REVIEWDESK_POLL_MS", "1000")
            .env_remove("RUST_LOG");
        c
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().args(args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}",
            &args[..args.len().min(3)],
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A generator script: logs `task step item worker-pid`, then writes its output (a copy of a
    /// real PNG for assets). With `block`, the worker whose pid is in `victim` hangs on its
    /// first item after `block` appears, so it can be killed mid-step. A script started just as
    /// the victim is killed begins reparented (`$PPID` is 1): it was the victim's, and is logged
    /// and held as such.
    fn setup_channel(&self, steps: &[Step]) {
        let fixture = self.path().join("fixture.png");
        image::RgbaImage::from_fn(24, 16, |x, y| {
            image::Rgba([x as u8 * 10, y as u8 * 15, 90, 255])
        })
        .save(&fixture)
        .unwrap();
        // Video and audio outputs count only when ffprobe reads them: real media, made once.
        let clip = self.path().join("fixture.mp4");
        let sound = self.path().join("fixture.mp3");
        for (out, args) in [
            (
                &clip,
                "-f lavfi -i color=c=navy:s=64x36:d=0.2 -pix_fmt yuv420p",
            ),
            (&sound, "-f lavfi -i anullsrc=r=22050:cl=mono -t 0.2"),
        ] {
            let made = std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-y"])
                .args(args.split(' '))
                .arg(out)
                .status()
                .expect("ffmpeg (Debian package ffmpeg) makes the media fixtures");
            assert!(made.success());
        }
        let p = |name: &str| self.path().join(name).display().to_string();
        let script = self.path().join("gen.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n\
                 victim=$(cat {victim} 2>/dev/null)\n\
                 if [ -f {block} ] && [ -n \"$victim\" ] && {{ [ \"$PPID\" = \"$victim\" ] || [ \"$PPID\" = 1 ]; }}; then\n  \
                   echo \"$2 $4 $3 $victim\" >> {log}; echo $$ > {reached}; exec sleep 600\n\
                 fi\n\
                 echo \"$2 $4 $3 $PPID\" >> {log}\n\
                 case \"$1\" in\n  \
                   *.png) cp {fixture} \"$1\" ;;\n  \
                   *.mp4|*.mov|*.webm|*.mkv) cp {clip} \"$1\" ;;\n  \
                   *.mp3|*.wav|*.ogg|*.opus|*.m4a|*.aac) cp {sound} \"$1\" ;;\n  \
                   *) echo \"$4 $3\" > \"$1\" ;;\n\
                 esac\n",
                block = p("block"),
                victim = p("victim"),
                log = self.log().display(),
                reached = p("reached"),
                fixture = fixture.display(),
                clip = clip.display(),
                sound = sound.display(),
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut yaml = String::from(
            "channel_id: default\nchannel_name: Shared\nmax_concurrent: 10\n\
             asset_counts: {characters: 6, environments: 8, props: 4}\nsteps:\n",
        );
        for step in steps {
            yaml.push_str(&format!(
                "  {s}:\n    executor: command\n    program: {prog}\n    args: \"{{output}} {{task_id}} {{item}} {s}\"\n",
                s = step.as_str(),
                prog = script.display()
            ));
        }
        std::fs::write(self.path().join("cfg/channels/default.yaml"), yaml).unwrap();
    }

    fn core(&self) -> std::sync::Arc<Core> {
        self.rt
            .block_on(TestCore::new().database_url(&self.url).open_in(self.path()))
    }

    fn add_tasks(&self, core: &std::sync::Arc<Core>, n: usize) -> Vec<String> {
        let svc = TaskService::new(core.clone());
        self.rt.block_on(async {
            let mut ids = Vec::new();
            for i in 0..n {
                let t = svc
                    .create(
                        NewTask {
                            title: format!("Video {i}"),
                            topic: "volcanoes".into(),
                            ..Default::default()
                        },
                        Source::Cli,
                    )
                    .await
                    .unwrap();
                ids.push(t.id.to_string());
            }
            ids
        })
    }

    fn spawn_worker(&self) -> Child {
        self.cmd()
            .args(["worker", "--until-idle", "--slots", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn statuses(&self, core: &Core) -> HashMap<String, Status> {
        self.rt
            .block_on(core.store.tasks(&TaskFilter {
                limit: Some(10_000),
                ..Default::default()
            }))
            .unwrap()
            .into_iter()
            .map(|t| (t.id.to_string(), t.status))
            .collect()
    }

    fn events(&self, core: &Core) -> Vec<TaskEventRow> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map(|e: &TaskEventRow| e.id).unwrap_or(0);
            let page = self
                .rt
                .block_on(core.store.events_after(after, None, 10_000))
                .unwrap();
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }

    /// (task, step, item) → the worker pids that ran it, in order.
    fn invocations(&self) -> BTreeMap<(String, String, String), Vec<u32>> {
        let mut out: BTreeMap<_, Vec<u32>> = BTreeMap::new();
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 4, "malformed log line {line:?}");
            out.entry((f[0].into(), f[1].into(), f[2].into()))
                .or_default()
                .push(f[3].parse().unwrap());
        }
        out
    }

    fn approve_all(&self, ids: &[String], gate: Status) {
        for chunk in ids.chunks(100) {
            let mut args = vec!["review", "approve"];
            args.extend(chunk.iter().map(String::as_str));
            let done = self.json(&args);
            let done = done.as_array().unwrap();
            assert_eq!(done.len(), chunk.len());
            let want = gate.approved_status().unwrap();
            assert!(done.iter().all(|t| t["status"] == want.as_str()));
        }
    }
}

impl Drop for PgEnv {
    fn drop(&mut self) {
        let _ = self
            .rt
            .block_on(Store::drop_postgres_database(&self.pg.admin, &self.pg.name));
    }
}

/// Waits for every worker to exit (successfully) before the deadline.
fn wait_all(workers: &mut [Child], deadline: Instant) {
    for w in workers.iter_mut() {
        loop {
            if let Some(status) = w.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = w.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                assert!(status.success(), "worker failed: {err}");
                break;
            }
            if Instant::now() > deadline {
                for w in workers.iter_mut() {
                    let _ = w.kill();
                }
                panic!("workers did not finish in time");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn wait_for(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const RUNNING: [Status; 7] = [
    Status::GeneratingAssets,
    Status::GeneratingComposites,
    Status::GeneratingVideo,
    Status::GeneratingAudio,
    Status::GeneratingSfx,
    Status::Assembling,
    Status::Uploading,
];

#[test]
fn four_workers_on_one_postgres_run_every_step_of_200_tasks_exactly_once() {
    let Some(env) = PgEnv::new("four") else {
        return;
    };
    let started = Instant::now();
    env.setup_channel(&Step::ALL);
    let core = env.core();
    let ids = env.add_tasks(&core, 200);
    let gates = [
        Status::AssetsReady,
        Status::VideoReady,
        Status::AudioReady,
        Status::FinalReview,
    ];
    let mut pids = HashSet::new();
    for round in 0..=gates.len() {
        let mut workers: Vec<Child> = (0..WORKERS).map(|_| env.spawn_worker()).collect();
        pids.extend(workers.iter().map(|w| w.id()));
        wait_all(&mut workers, Instant::now() + Duration::from_secs(150));
        let want = gates.get(round).copied().unwrap_or(Status::Published);
        let statuses = env.statuses(&core);
        let off: Vec<_> = ids.iter().filter(|id| statuses[*id] != want).collect();
        assert!(
            off.is_empty(),
            "round {round}: {} tasks not at {want}: e.g. {} is {}",
            off.len(),
            off[0],
            statuses[off[0]]
        );
        if round < gates.len() {
            env.approve_all(&ids, want);
        }
    }
    eprintln!("200 tasks published in {:?}", started.elapsed());

    // The event log: exactly one move into each running status per task, none elsewhere.
    let events = env.events(&core);
    let mut into: HashMap<(String, String), usize> = HashMap::new();
    for e in events.iter().filter(|e| e.kind == "status_changed") {
        *into
            .entry((e.task_id.clone(), e.to_status.clone().unwrap()))
            .or_default() += 1;
    }
    for id in &ids {
        for s in RUNNING {
            assert_eq!(
                into.get(&(id.clone(), s.as_str().to_string())),
                Some(&1),
                "task {id}: moves into {s}"
            );
        }
        assert_eq!(into.get(&(id.clone(), "claimed".to_string())), Some(&1));
        assert_eq!(into.get(&(id.clone(), "published".to_string())), Some(&1));
    }
    assert!(
        events
            .iter()
            .all(|e| e.kind != "retry_scheduled" && e.to_status.as_deref() != Some("asset_error")),
        "no failures, no retries"
    );

    // The generator's own log: each (task, step, item) exactly once, and all of them.
    let runs = env.invocations();
    let twice: Vec<_> = runs.iter().filter(|(_, p)| p.len() != 1).collect();
    assert!(twice.is_empty(), "items run more than once: {twice:?}");
    assert_eq!(runs.len(), ids.len() * ITEMS_PER_TASK);
    let mut per: HashMap<(&str, &str), usize> = HashMap::new();
    for (task, step, _) in runs.keys() {
        *per.entry((task.as_str(), step.as_str())).or_default() += 1;
    }
    for id in &ids {
        for (step, n) in [
            ("assets", ASSETS),
            ("composites", 18),
            ("video", 18),
            ("audio", 18),
            ("sfx", 18),
            ("assembly", 1),
            ("upload", 1),
        ] {
            assert_eq!(per.get(&(id.as_str(), step)), Some(&n), "{id} {step}");
        }
    }
    // The work really was shared between processes.
    let workers_used: HashSet<u32> = runs.values().flatten().copied().collect();
    assert!(workers_used.is_subset(&pids));
    assert!(
        workers_used.len() >= 2 * (gates.len() + 1),
        "every round used several workers: {} of {} processes did work",
        workers_used.len(),
        pids.len()
    );
}

#[test]
fn a_sigkilled_worker_s_tasks_are_finished_by_the_others_after_its_lease_expires() {
    let Some(env) = PgEnv::new("kill") else {
        return;
    };
    env.setup_channel(&[Step::Assets]);
    let core = env.core();
    let ids = env.add_tasks(&core, 40);
    std::fs::write(env.path().join("block"), b"").unwrap();
    let mut victim = env.spawn_worker();
    std::fs::write(env.path().join("victim"), victim.id().to_string()).unwrap();
    let mut others: Vec<Child> = (1..WORKERS).map(|_| env.spawn_worker()).collect();
    wait_for(
        "the victim to start an item",
        Duration::from_secs(60),
        || env.path().join("reached").exists(),
    );
    // The victim holds a lease mid-step; kill it without any chance to clean up.
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    let held_by_victim: Vec<String> = {
        let tasks = env
            .rt
            .block_on(core.store.tasks(&TaskFilter {
                statuses: vec![Status::Claimed, Status::GeneratingAssets],
                limit: Some(1000),
                ..Default::default()
            }))
            .unwrap();
        let runs = env.invocations();
        let vpid = victim.id();
        tasks
            .into_iter()
            .map(|t| t.id.to_string())
            .filter(|id| {
                runs.iter()
                    .any(|((t, _, _), p)| t == id && p.contains(&vpid))
            })
            .collect()
    };
    assert!(!held_by_victim.is_empty(), "the victim was killed mid-step");
    let orphan = std::fs::read_to_string(env.path().join("reached")).unwrap();
    let _ = Command::new("kill").arg("-9").arg(orphan.trim()).status();

    wait_all(&mut others, Instant::now() + Duration::from_secs(120));
    let statuses = env.statuses(&core);
    for id in &ids {
        assert_eq!(statuses[id], Status::AssetsReady, "task {id}");
    }
    let runs = env.invocations();
    let vpid = victim.id();
    for id in &held_by_victim {
        let mine: Vec<_> = runs.iter().filter(|((t, _, _), _)| t == id).collect();
        assert_eq!(mine.len(), ASSETS, "{id}: every asset ran");
        assert!(
            mine.iter().any(|(_, p)| p.iter().any(|pid| *pid != vpid)),
            "{id} was finished by another worker"
        );
    }
    // Only items the victim had started ran twice, and only once more.
    for (key, pids) in &runs {
        assert!(
            pids.len() == 1 || (pids.len() == 2 && pids[0] == vpid && pids[1] != vpid),
            "{key:?} ran by {pids:?}"
        );
    }
    assert_eq!(runs.len(), ids.len() * ASSETS, "no item lost");
    // No task moved into generating_assets twice: the survivor resumed it where it was.
    let events = env.events(&core);
    for id in &ids {
        let n = events
            .iter()
            .filter(|e| {
                &e.task_id == id
                    && e.kind == "status_changed"
                    && e.to_status.as_deref() == Some("generating_assets")
            })
            .count();
        assert_eq!(n, 1, "{id}");
    }
    // Every asset has exactly one version (no duplicate rows from the takeover).
    for id in &held_by_victim {
        let assets = env
            .rt
            .block_on(core.store.assets(id.parse().unwrap()))
            .unwrap();
        assert_eq!(assets.len(), ASSETS);
        assert!(assets.iter().all(|a| a.current_version == 1), "{id}");
    }
}

/// One HTTP/1.1 exchange over a plain socket (the server's Host check wants its own address).
fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    let extra = if method == "GET" {
        String::new()
    } else {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n{body}"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, payload) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

#[test]
fn serve_and_a_worker_on_another_machine_share_one_postgres_database() {
    let Some(env) = PgEnv::new("serve") else {
        return;
    };
    let detail = env.json(&["demo"]);
    let id = detail["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(detail["task"]["status"], "assets_ready");

    // The review machine: `serve` without a worker, on the same database.
    let mut serve = env
        .cmd()
        .args(["serve", "--addr", "127.0.0.1:0", "--no-worker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();

    let (status, waiting) = http(&addr, "GET", "/api/tasks?status=assets_ready", None);
    assert_eq!(status, 200);
    assert_eq!(waiting[0]["id"], id.as_str());
    let (status, approved) = http(
        &addr,
        "POST",
        &format!("/api/tasks/{id}/approve"),
        Some(r#"{"note":"from the review machine"}"#),
    );
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "assets_approved");

    // A worker elsewhere picks the approval up from the shared database and runs composites.
    let out = env.cmd().args(["worker", "--until-idle"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, shown) = http(&addr, "GET", &format!("/api/tasks/{id}"), None);
    assert_eq!(shown["task"]["status"], "generating_video", "{shown}");
    assert!(
        shown["task"]["error_log"]
            .as_str()
            .unwrap()
            .contains("ffmpeg is not installed"),
        "{shown}"
    );
    assert_eq!(shown["audit"][0]["reason"], "from the review machine");
    let _ = serve.kill();
    let _ = serve.wait();
}
