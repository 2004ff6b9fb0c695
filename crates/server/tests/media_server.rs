//! The desktop's media server: workspace files on loopback under a per-launch secret, refused
//! for any other Host, with the same rules as `/files`.

use std::sync::Arc;

use reqwest::StatusCode;
use reviewdesk_core::workspace::Workspace;
use reviewdesk_server::start_media_server;

fn workspace() -> (tempfile::TempDir, Arc<Workspace>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    std::fs::create_dir_all(root.join("p/video")).unwrap();
    std::fs::write(root.join("p/video/clip_01.mp4"), b"0123456789").unwrap();
    std::fs::write(root.join("p/page.html"), b"<script>alert(1)</script>").unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"outside").unwrap();
    let ws = Workspace::open(&root).unwrap();
    (dir, Arc::new(ws))
}

#[tokio::test]
async fn media_play_from_loopback_with_ranges_and_sandboxed() {
    let (_dir, ws) = workspace();
    let server = start_media_server(ws).await.unwrap();
    assert!(server.local_addr().ip().is_loopback());
    let base = server.base_url();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with('/'));
    let http = reqwest::Client::new();

    let whole = http
        .get(format!("{base}p%2Fvideo%2Fclip_01.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert!(
        whole.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert_eq!(whole.bytes().await.unwrap().as_ref(), b"0123456789");

    let part = http
        .get(format!("{base}p/video/clip_01.mp4"))
        .header("range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 2-4/10");
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"234");

    let page = http.get(format!("{base}p/page.html")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
        "never rendered"
    );
}

#[tokio::test]
async fn nothing_is_served_without_the_secret_outside_the_workspace_or_for_another_host() {
    let (_dir, ws) = workspace();
    let server = start_media_server(ws).await.unwrap();
    let base = server.base_url().to_string();
    let origin = format!("http://{}", server.local_addr());
    let http = reqwest::Client::new();
    let status = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().status() }
    };
    let wrong_secret = format!("{origin}/{}/p/video/clip_01.mp4", "0".repeat(64));
    assert_eq!(status(wrong_secret).await, StatusCode::NOT_FOUND);
    assert_eq!(
        status(format!("{origin}/p/video/clip_01.mp4")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(format!("{base}..%2Fsecret.txt")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(format!("{base}%2Fetc%2Fpasswd")).await,
        StatusCode::NOT_FOUND
    );
    // A page that rebinds its own name to 127.0.0.1 sends its own Host.
    let rebound = http
        .get(format!("{base}p/video/clip_01.mp4"))
        .header(
            "host",
            format!("attacker.example:{}", server.local_addr().port()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    // Only reading.
    let post = http
        .post(format!("{base}p/video/clip_01.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    drop(server);
    assert!(
        http.get(format!("{base}p/video/clip_01.mp4"))
            .send()
            .await
            .is_err(),
        "stopped when dropped"
    );
}
