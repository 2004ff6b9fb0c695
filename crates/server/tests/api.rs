//! The HTTP API against a real server on port 0 with a fresh database and workspace per test.

use reqwest::StatusCode;
use reviewdesk_core::config::WorkerSettings;
use reviewdesk_core::{Core, NewTask, Source, TaskService, Worker};
use reviewdesk_testkit::{OpenCore, TestCore, spawn_server_on};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

struct App {
    _dir: tempfile::TempDir,
    core: Arc<Core>,
    base: String,
    http: reqwest::Client,
}

async fn spawn_app(token: Option<&str>, addr: &str) -> Result<App, reviewdesk_server::ServeError> {
    let OpenCore { core, dir } = TestCore::new()
        .worker_settings(WorkerSettings {
            poll: Duration::from_millis(50),
            ..Default::default()
        })
        .open()
        .await;
    let base = spawn_server_on(core.clone(), addr, token).await?;
    Ok(App {
        _dir: dir,
        core,
        base,
        http: reqwest::Client::new(),
    })
}

/// Reads the stream until `done` holds for what arrived.
async fn read_until(events: &mut reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(&seen) {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("event in time")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

impl App {
    async fn task_at_gate(&self) -> String {
        let t = TaskService::new(self.core.clone())
            .create(
                NewTask {
                    title: "Http".into(),
                    topic: "owls".into(),
                    ..Default::default()
                },
                Source::Cli,
            )
            .await
            .unwrap();
        Worker::new(self.core.clone())
            .run_until_idle()
            .await
            .unwrap();
        t.id.to_string()
    }
    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }
}

/// Sends a request line exactly as written (no client-side path normalisation).
async fn raw_get(base: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_flow_over_http_with_events_and_files() {
    let app = spawn_app(None, "127.0.0.1:0").await.unwrap();
    let id = app.task_at_gate().await;

    let list: Value = app
        .get("/api/tasks?status=assets_ready")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let none: Value = app
        .get("/api/tasks?status=Asset%20Error")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none.as_array().unwrap().len(), 0);
    let detail: Value = app
        .get(&format!("/api/tasks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let assets = detail["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 22);
    assert!(assets.iter().all(|a| a["file_state"] == "ok"));

    // Thumbnails: immutable, ETag, 304 on revalidation.
    let thumb = assets[0]["versions"][0]["thumb_path"].as_str().unwrap();
    let r = app.get(&format!("/files/{thumb}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = r.headers()["etag"].clone();
    assert!(r.bytes().await.unwrap().len() > 1000);
    let r = app
        .http
        .get(format!("{}/files/{thumb}", app.base))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let full = assets[0]["file"].as_str().unwrap();
    let r = app.get(&format!("/files/{full}")).await;
    assert_eq!(
        (r.status(), r.headers()["content-type"].to_str().unwrap()),
        (StatusCode::OK, "image/png")
    );
    // Escaping the workspace is a 404, however it is spelled.
    // (A client may normalise `%2e%2e` away, in which case the request never reaches /files and
    // gets the UI page; either way no file outside the workspace is served.)
    for bad in [
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/..%2F..%2Fdb.sqlite",
        "/files/%2Fetc%2Fpasswd",
        "/files/ws/../db.sqlite",
    ] {
        let r = app.get(bad).await;
        let status = r.status();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = r.bytes().await.unwrap();
        assert!(
            status == StatusCode::NOT_FOUND || ct.starts_with("text/html"),
            "{bad}: {status} {ct}"
        );
        assert!(
            !body.windows(5).any(|w| w == b"root:") && !body.starts_with(b"SQLite"),
            "{bad} leaked a file"
        );
    }
    let raw = raw_get(&app.base, "/files/../../../../etc/passwd").await;
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");

    let mut events = app.get("/api/events").await;
    assert_eq!(events.headers()["content-type"], "text/event-stream");

    let r = app
        .http
        .put(format!("{}/api/tasks/{id}/assets/rival/flag", app.base))
        .json(&json!({"flagged": true, "note": "odd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .post(
            &format!("/api/tasks/{id}/reject"),
            json!({"flags": ["rival"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: Value = r.json().await.unwrap();
    assert!(e["message"].as_str().unwrap().contains("feedback"), "{e}");
    let r = app
        .post(
            &format!("/api/tasks/{id}/reject"),
            json!({"feedback": "  "}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post(&format!("/api/tasks/{id}/approve"), json!({"note": "fine"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["status"],
        "assets_approved"
    );
    let r = app
        .post(&format!("/api/tasks/{id}/approve"), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_at_gate");
    let unknown = "01900000-0000-7000-8000-000000000000";
    assert_eq!(
        app.post(&format!("/api/tasks/{unknown}/approve"), json!({}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/tasks/not-a-uuid").await.status(),
        StatusCode::NOT_FOUND
    );

    // The open event stream saw the flag and the decision.
    let seen = read_until(&mut events, |s| s.contains("decision_made")).await;
    assert!(
        seen.contains("event: domain") && seen.contains("asset_changed"),
        "{seen}"
    );

    let status: Value = app.get("/api/status").await.json().await.unwrap();
    assert_eq!(status["mirror"]["state"], "off");
    assert_eq!(status["waiting_for_review"], 0);
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["paths"]["/api/tasks/{id}/approve"]["post"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_and_foreign_hosts_are_refused() {
    let app = spawn_app(None, "127.0.0.1:0").await.unwrap();
    let id = app.task_at_gate().await;
    let url = format!("{}/api/tasks/{id}/approve", app.base);
    // A form post (not JSON) cannot change state.
    let r = app
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("note=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Another site's page.
    let r = app
        .http
        .post(&url)
        .header("origin", "http://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // DNS rebinding: the right IP, a foreign Host.
    let r = app
        .http
        .get(format!("{}/api/tasks", app.base))
        .header("host", "evil.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Nothing changed; the same-origin request works.
    assert_eq!(
        app.core
            .store
            .task(id.parse().unwrap())
            .await
            .unwrap()
            .status
            .as_str(),
        "assets_ready"
    );
    let r = app
        .http
        .post(&url)
        .header("origin", app.base.clone())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_answer_carries_a_strict_content_security_policy() {
    let app = spawn_app(None, "127.0.0.1:0").await.unwrap();
    for path in ["/", "/api/status", "/api/nope", "/files/nope.png"] {
        let r = app.get(path).await;
        let csp = r
            .headers()
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test]
async fn the_page_names_its_first_reads_to_preload_except_on_the_token_visit() {
    const TOKEN: &str = "s3cret-token-of-24-chars";
    let app = spawn_app(Some(TOKEN), "127.0.0.1:0").await.unwrap();
    let page = |path: &str| {
        app.http
            .get(format!("{}{path}", app.base))
            .bearer_auth(TOKEN)
            .send()
    };
    for path in ["/", "/some/client/route"] {
        let r = page(path).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let link = r.headers()["link"].to_str().unwrap().to_string();
        assert!(
            link.contains("</api/board?latest=50>; rel=preload; as=fetch; crossorigin"),
            "{path}: {link}"
        );
        assert!(
            link.contains("</api/status>; rel=preload; as=fetch; crossorigin"),
            "{path}: {link}"
        );
    }
    // The visit that hands over the token (and sets its cookie) preloads nothing; nor does the API.
    let r = app
        .http
        .get(format!("{}/?token={TOKEN}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("link").is_none());
    assert!(
        page("/api/status")
            .await
            .unwrap()
            .headers()
            .get("link")
            .is_none()
    );
}

#[tokio::test]
async fn binding_beyond_loopback_needs_a_token_and_the_token_is_checked() {
    let err = spawn_app(None, "0.0.0.0:0").await.err().expect("refused");
    assert!(err.to_string().contains("--token"), "{err}");
    let app = spawn_app(Some("s3cret-token-of-24-chars"), "0.0.0.0:0")
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/tasks").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .http
        .get(format!("{}/api/tasks", app.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .http
        .get(format!("{}/api/tasks", app.base))
        .bearer_auth("s3cret-token-of-24-chars")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_by_another_process_reach_the_event_stream() {
    let app = spawn_app(None, "127.0.0.1:0").await.unwrap();
    let id = app.task_at_gate().await;
    let mut events = app.get("/api/events").await;
    // A second core on the same database stands for another process (a CLI, a remote worker):
    // it shares nothing in memory with the server.
    let other = TestCore::new().open_in(app._dir.path()).await;
    reviewdesk_core::ReviewService::new(other)
        .approve(
            id.parse().unwrap(),
            reviewdesk_core::ReviewInput::by(Source::Cli, Default::default()),
        )
        .await
        .unwrap();
    let seen = read_until(&mut events, |s| s.contains("decision_made")).await;
    assert!(
        seen.contains(&id) && seen.contains("\"source\":\"cli\""),
        "{seen}"
    );
    assert_eq!(
        seen.matches("decision_made").count(),
        1,
        "shown once: {seen}"
    );
}

/// Opens the event stream; returns it with the position its first message names.
async fn open_stream(app: &App) -> (reqwest::Response, i64) {
    let mut events = app.get("/api/events").await;
    let first = read_until(&mut events, |s| s.contains("\n\n")).await;
    let data = first
        .strip_prefix("event: position\ndata: ")
        .and_then(|d| d.strip_suffix("\n\n"))
        .unwrap_or_else(|| panic!("the stream opens with its position: {first:?}"));
    let through = serde_json::from_str::<Value>(data).unwrap()["through"]
        .as_i64()
        .unwrap_or_else(|| panic!("{data}"));
    (events, through)
}

#[tokio::test]
async fn the_event_stream_opens_with_where_it_starts_and_a_board_read_says_what_it_reflects() {
    let app = spawn_app(None, "127.0.0.1:0").await.unwrap();
    let id = app.task_at_gate().await;
    let through = |board: &Value| board["events_through"].as_i64().expect("events_through");
    let board: Value = app.get("/api/board?latest=50").await.json().await.unwrap();
    let read_at = through(&board);
    assert!(read_at > 0, "the task's creation is in the log: {board}");

    // Nothing is logged after the read: once the feed has sent what was, a stream starts exactly
    // where the read left the log (a page holding that read has missed nothing). Never past it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut events = loop {
        let (events, from) = open_stream(&app).await;
        assert!(
            from <= read_at,
            "the stream starts past the log's end: {from} > {read_at}"
        );
        if from == read_at {
            break events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feed never caught up: {from}"
        );
        tokio::task::yield_now().await;
    };

    // A change after the stream opened is delivered by it, and the next read reflects it.
    let approved = app
        .post(&format!("/api/tasks/{id}/approve"), json!({}))
        .await;
    assert!(approved.status().is_success(), "{approved:?}");
    let seen = read_until(&mut events, |s| s.contains("decision_made")).await;
    assert!(seen.contains(&id), "{seen}");
    let board: Value = app.get("/api/board?latest=50").await.json().await.unwrap();
    assert!(through(&board) > read_at, "{board}");
    let (_, from) = open_stream(&app).await;
    assert!(from > read_at && from <= through(&board), "{from}");
}

#[tokio::test]
async fn tokens_shorter_than_16_characters_are_refused() {
    let err = spawn_app(Some("short-token"), "0.0.0.0:0")
        .await
        .err()
        .expect("a short token is refused");
    assert!(err.to_string().contains("at least 16"), "{err}");
}

#[tokio::test]
async fn a_plan_is_text_from_the_client_and_never_a_path_the_server_reads() {
    let app = spawn_app(None, "127.0.0.1:0").await.unwrap();
    let secret = app._dir.path().join("secret.txt");
    std::fs::write(&secret, "TOPSECRET-VALUE-1234\n").unwrap();
    // The retired `plan_file` field is refused as unknown; nothing is read (not even /dev/zero,
    // which used to hang the request while memory grew).
    for path in [secret.to_str().unwrap(), "/dev/zero", "/etc/passwd"] {
        let r = app
            .post("/api/tasks", json!({"title": "T", "plan_file": path}))
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains("plan_file"), "{body}");
        assert!(
            !body.contains("TOPSECRET") && !body.contains("root:"),
            "{body}"
        );
    }
    // A plan's text that is not a plan is refused without echoing it.
    let r = app
        .post(
            "/api/tasks",
            json!({"title": "T", "plan": "TOPSECRET-VALUE-1234"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(!body.contains("TOPSECRET"), "{body}");
    assert!(body.contains("plan"), "{body}");
    // Oversized plans are refused by size.
    let big = format!("characters: []\n#{}", "x".repeat(300 * 1024));
    let r = app
        .post("/api/tasks", json!({"title": "T", "plan": big}))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("larger than 256 KiB"));
    assert!(
        app.core
            .store
            .tasks(&Default::default())
            .await
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
    // A valid plan's text becomes the task's 18 assets.
    let entry = |n: String| format!("{{name: {n}, prompt: draw {n}}}");
    let list = |p: &str, n: usize| {
        (0..n)
            .map(|i| entry(format!("{p}{i}")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let plan = format!(
        "characters: [{}]\nenvironments: [{}]\nprops: [{}]\n",
        list("c", 6),
        list("e", 8),
        list("p", 4)
    );
    let r = app
        .post("/api/tasks", json!({"title": "Planned", "plan": plan}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id: String = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .into();
    Worker::new(app.core.clone())
        .run_until_idle()
        .await
        .unwrap();
    let detail: Value = app
        .get(&format!("/api/tasks/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["task"]["status"], "assets_ready", "{detail}");
    assert_eq!(detail["assets"].as_array().unwrap().len(), 18);
}

#[tokio::test]
async fn a_fifo_in_the_workspace_is_a_404_not_a_hung_request() {
    let app = spawn_app(None, "127.0.0.1:0").await.unwrap();
    let fifo = app.core.workspace.root().join("pipe.png");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // Twice: a hung first request would also have taken a blocking thread.
    for _ in 0..2 {
        let r = tokio::time::timeout(Duration::from_secs(10), app.get("/files/pipe.png"))
            .await
            .expect("the request for a FIFO must not hang");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn workspace_files_never_run_as_the_app() {
    let app = spawn_app(None, "127.0.0.1:0").await.unwrap();
    let ws = &app.core.workspace;
    ws.write_atomic("x.html", b"<script>fetch('/api/tasks')</script>")
        .unwrap();
    ws.write_atomic("x.js", b"fetch('/api/tasks')").unwrap();
    ws.write_atomic("x.svg", b"<svg onload=\"alert(1)\"/>")
        .unwrap();
    ws.write_atomic("x.png", b"\x89PNG").unwrap();
    ws.write_atomic("x.json", b"{}").unwrap();
    let csp = |r: &reqwest::Response| {
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string()
    };
    for active in ["x.html", "x.js", "x.svg"] {
        let r = app.get(&format!("/files/{active}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{active}");
        assert_eq!(
            r.headers()["content-type"],
            "application/octet-stream",
            "{active}"
        );
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment"),
            "{active}"
        );
        assert!(csp(&r).starts_with("sandbox"), "{active}: {}", csp(&r));
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
    for (inline, ty) in [("x.png", "image/png"), ("x.json", "application/json")] {
        let r = app.get(&format!("/files/{inline}")).await;
        assert_eq!(r.headers()["content-type"], ty, "{inline}");
        assert!(r.headers().get("content-disposition").is_none(), "{inline}");
        assert!(csp(&r).starts_with("sandbox"), "{inline}");
    }
    // The app itself keeps its own policy.
    assert!(csp(&app.get("/").await).starts_with("default-src 'self'"));
}
