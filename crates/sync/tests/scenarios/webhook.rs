//! Notion webhooks: signed events pull a page at once, forgeries and browser requests are refused,
//! the handshake and the event-id retention.

use super::*;

// Check 9.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhook_pulls_the_page_at_once_and_forgery_is_refused() {
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let (task, page) = task_at_assets_ready(&e).await;
    let server = reviewdesk_server::bind_with_mirror(
        e.core.clone(),
        None,
        Some(e.mirror.clone()),
        reviewdesk_server::ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: None,
            ui_dir: None,
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.local_addr);
    let url = format!("{base}/api/notion/webhook");
    tokio::spawn(server.run(std::future::pending()));
    let http = reqwest::Client::new();
    // The handshake (unsigned), through a public tunnel's Host name.
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("host", "desk.example.ngrok.app")
        .body(r#"{"verification_token":"secret_hook"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The creator pastes it into Notion and confirms it here.
    reviewdesk_sync::webhook::confirm_pending(e.mirror.store(), "secret_hook")
        .await
        .unwrap();
    let ana = e.double.add_person("Ana", None);
    let event = |id: &str| {
        json!({"id": id, "timestamp": "2026-01-01T00:00:00.000Z", "type": "page.properties_updated",
            "authors": [{"id": ana, "type": "person"}], "attempt_number": 1, "api_version": "2025-09-03",
            "entity": {"id": page, "type": "page"}, "data": {"updated_properties": ["Status"]}})
        .to_string()
    };
    // A forged delivery changes nothing.
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Cancelled"}}}}),
        )
        .unwrap();
    let body = event("evt-forged");
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header(
            "x-notion-signature",
            notion_double::sign_webhook(body.as_bytes(), "secret_wrong"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::AssetsReady
    );
    // A signed one pulls the page at once (no poller runs here).
    e.double
        .edit_page_as(
            &page,
            &ana,
            &json!({"properties":{"Status":{"select":{"name":"Assets Approved"}}}}),
        )
        .unwrap();
    let body = event("evt-1");
    let sig = notion_double::sign_webhook(body.as_bytes(), "secret_hook");
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("x-notion-signature", &sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(
        e.core.store.task(task.id).await.unwrap().status,
        Status::AssetsReady
    );
    // A redelivery of the same event is acknowledged and ignored.
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("x-notion-signature", &sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The status bar reports the mirror.
    let status: serde_json::Value = http
        .get(format!("{base}/api/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["mirror"]["state"], "connected", "{status}");
    let approvals = e
        .core
        .store
        .audit(task.id)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.decision == "approve")
        .count();
    assert_eq!(approvals, 1);
}

/// A server in front of the scenario's mirror (no poller runs); returns the webhook URL.
async fn webhook_server(e: &Env, mirror: Arc<Mirror>) -> String {
    let server = reviewdesk_server::bind_with_mirror(
        e.core.clone(),
        None,
        Some(mirror),
        reviewdesk_server::ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: None,
            ui_dir: None,
        },
    )
    .await
    .unwrap();
    let url = format!("http://{}/api/notion/webhook", server.local_addr);
    tokio::spawn(server.run(std::future::pending()));
    url
}

async fn post_json(url: &str, body: &str, signed_with: Option<&str>) -> reqwest::Response {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(token) = signed_with {
        r = r.header(
            "x-notion-signature",
            notion_double::sign_webhook(body.as_bytes(), token),
        );
    }
    r.send().await.unwrap()
}

fn handshake(token: &str) -> String {
    json!({ "verification_token": token }).to_string()
}

fn page_event(id: &str) -> String {
    json!({"id": id, "type": "page.properties_updated",
        "entity": {"id": "00000000-0000-4000-8000-000000000000", "type": "page"}})
    .to_string()
}

// A web page cannot plant the webhook key: what a browser sends (Origin, Sec-Fetch-Site, a
// no-cors body that is not JSON) is refused with the reason, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_refuses_browser_requests_and_bodies_that_are_not_json() {
    use reviewdesk_sync::webhook;
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let url = webhook_server(&e, e.mirror.clone()).await;
    let http = reqwest::Client::new();
    let evil = r#"{"verification_token":"evil"}"#;
    // fetch(url, {method: 'POST', mode: 'no-cors', body: '{"verification_token":"evil"}'}).
    let r = http
        .post(&url)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "no-cors")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(evil)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "browser_request", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("web page"),
        "{body}"
    );
    // Either header alone gives the browser away, whatever the content type.
    for (name, value) in [("origin", "null"), ("sec-fetch-site", "same-origin")] {
        let r = http
            .post(&url)
            .header(name, value)
            .header("content-type", "application/json")
            .body(evil)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}");
    }
    // Without browser headers, a body not declared as JSON is refused too.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut r = http.post(&url).body(evil);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 415, "{content_type:?}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "unsupported_media_type", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{body}"
        );
    }
    assert_eq!(
        webhook::status(e.mirror.store()).await.unwrap(),
        webhook::WebhookStatus::default(),
        "nothing stored"
    );
    // Notion's own delivery (JSON, no browser headers) still gets through.
    let r = http
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .body(handshake("secret_notion"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// A handshake's token is only pending until the creator confirms it; a later handshake replaces
// a pending token (never a 409), and only a confirmed token checks signatures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_handshake_is_pending_until_the_creator_confirms_it() {
    use reviewdesk_core::api::MirrorState;
    use reviewdesk_sync::webhook::{self, Handshake, HandshakeError};
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    let url = webhook_server(&e, e.mirror.clone()).await;

    // Someone who reached the URL first plants a token: it is only pending.
    assert_eq!(
        post_json(&url, &handshake("secret_planted"), None)
            .await
            .status(),
        200
    );
    let ev = page_event("evt-1");
    let r = post_json(&url, &ev, Some("secret_planted")).await;
    assert_eq!(r.status(), 401, "a pending token verifies nothing");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("reviewdesk notion webhook confirm"),
        "{body}"
    );
    // Notion's real handshake afterwards is not refused: it replaces the pending token.
    assert_eq!(
        post_json(&url, &handshake("secret_notion"), None)
            .await
            .status(),
        200
    );
    let w = webhook::status(e.mirror.store()).await.unwrap();
    assert_eq!(w.pending_token.as_deref(), Some("secret_notion"));
    assert!(w.pending_since_ms.is_some());
    assert!(!w.confirmed);
    // The status bar shows the token to paste and confirm.
    match e.mirror.state().await {
        MirrorState::Error { message, .. } => assert!(
            message.contains("secret_notion")
                && message.contains("reviewdesk notion webhook confirm secret_notion"),
            "{message}"
        ),
        other => panic!("expected the pending handshake in the status: {other:?}"),
    }
    // Confirming anything but the pending token is refused with the way out.
    let err = webhook::confirm_pending(e.mirror.store(), "secret_planted")
        .await
        .unwrap_err();
    assert!(matches!(err, HandshakeError::NotThePendingToken), "{err}");
    assert!(err.to_string().contains("reviewdesk notion webhook status"));
    webhook::confirm_pending(e.mirror.store(), "secret_notion")
        .await
        .unwrap();
    assert!(matches!(
        e.mirror.state().await,
        MirrorState::Connected { .. }
    ));
    assert_eq!(
        webhook::confirm_pending(e.mirror.store(), "secret_notion")
            .await
            .unwrap_err()
            .to_string(),
        HandshakeError::NothingPending.to_string()
    );
    assert_eq!(
        post_json(&url, &ev, Some("secret_planted")).await.status(),
        401
    );
    assert_eq!(
        post_json(&url, &ev, Some("secret_notion")).await.status(),
        200
    );

    // A redelivered handshake of the confirmed token changes nothing; another token waits as
    // pending beside it and does not take over signing.
    assert_eq!(
        webhook::accept_handshake(e.mirror.store(), "secret_notion", None)
            .await
            .unwrap(),
        Handshake::AlreadyTrusted
    );
    assert_eq!(
        post_json(&url, &handshake("secret_other"), None)
            .await
            .status(),
        200
    );
    let ev2 = page_event("evt-2");
    assert_eq!(
        post_json(&url, &ev2, Some("secret_other")).await.status(),
        401
    );
    assert_eq!(
        post_json(&url, &ev2, Some("secret_notion")).await.status(),
        200
    );
    assert_eq!(
        webhook::accept_handshake(e.mirror.store(), "secret_third", None)
            .await
            .unwrap(),
        Handshake::Pending { replaced: true }
    );

    // A reset forgets both; events are refused until a new handshake is confirmed.
    assert!(
        webhook::reset_trusted_token(e.mirror.store())
            .await
            .unwrap()
    );
    assert_eq!(
        webhook::status(e.mirror.store()).await.unwrap(),
        webhook::WebhookStatus::default()
    );
    let ev3 = page_event("evt-3");
    assert_eq!(
        post_json(&url, &ev3, Some("secret_notion")).await.status(),
        401
    );

    // With NOTION_WEBHOOK_SECRET set, handshakes are acknowledged and nothing is stored.
    assert_eq!(
        webhook::accept_handshake(e.mirror.store(), "secret_x", Some("secret_env"))
            .await
            .unwrap(),
        Handshake::SecretConfigured
    );
    assert_eq!(
        webhook::status(e.mirror.store()).await.unwrap(),
        webhook::WebhookStatus::default()
    );
}

// Webhook event ids are kept only to drop Notion's redeliveries: after the retention window they
// are forgotten, so the table does not grow forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_event_ids_are_forgotten_after_the_retention_window() {
    use reviewdesk_sync::webhook;
    let e = env(DoubleConfig::default().without_rate_limit(), true, "none").await;
    webhook::accept_handshake(e.mirror.store(), "secret_hook", None)
        .await
        .unwrap();
    webhook::confirm_pending(e.mirror.store(), "secret_hook")
        .await
        .unwrap();
    // The default window (7 days) keeps every id, so a redelivery is recognised.
    let url = webhook_server(&e, e.mirror.clone()).await;
    for id in ["evt-a", "evt-b", "evt-a"] {
        assert_eq!(
            post_json(&url, &page_event(id), Some("secret_hook"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        e.mirror.store().webhook_event_ids().await.unwrap(),
        ["evt-a", "evt-b"]
    );
    assert!(!e.mirror.record_webhook_event("evt-b").await.unwrap());
    // A mirror whose window has passed for every stored id forgets them at the next delivery.
    let short = Mirror::new(
        e.core.clone(),
        client(&e.double, true),
        MirrorConfig {
            webhook_event_retention: Duration::ZERO,
            ..mirror_config()
        },
    )
    .await
    .unwrap();
    let url = webhook_server(&e, short.clone()).await;
    assert_eq!(
        post_json(&url, &page_event("evt-c"), Some("secret_hook"))
            .await
            .status(),
        200
    );
    assert_eq!(short.store().webhook_event_ids().await.unwrap(), ["evt-c"]);
}
