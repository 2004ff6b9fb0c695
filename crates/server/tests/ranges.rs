//! `/files` answers `Range` requests (what `<video>` and `<audio>` send to play and seek) against a
//! real server, keeping its confinement, ETag and caching behaviour.

use reqwest::StatusCode;
use reviewdesk_core::Core;
use reviewdesk_testkit::{OpenCore, TestCore, spawn_server};
use std::sync::Arc;

struct App {
    _dir: tempfile::TempDir,
    core: Arc<Core>,
    base: String,
    http: reqwest::Client,
}

async fn spawn_app() -> App {
    let OpenCore { core, dir } = TestCore::new().open().await;
    let base = spawn_server(core.clone()).await;
    App {
        _dir: dir,
        core,
        base,
        http: reqwest::Client::new(),
    }
}

impl App {
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Bytes that differ at every offset mod 251, so a wrong slice cannot pass by accident.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

const CLIP: &str = "channels/default/projects/t/video/clip_01.mp4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_request_gets_206_with_exactly_those_bytes() {
    let app = spawn_app().await;
    let data = pattern(1000);
    app.core.workspace.write_atomic(CLIP, &data).unwrap();
    let path = format!("/files/{CLIP}");

    let whole = app.get(&path, &[]).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(header(&whole, "accept-ranges"), "bytes");
    assert_eq!(header(&whole, "content-type"), "video/mp4");
    assert_eq!(header(&whole, "cache-control"), "no-cache");
    let etag = header(&whole, "etag");
    assert!(!etag.is_empty());
    assert_eq!(whole.bytes().await.unwrap().as_ref(), &data[..]);

    for (range, start, end) in [
        ("bytes=0-99", 0usize, 99usize),
        ("bytes=100-", 100, 999),
        ("bytes=-10", 990, 999),
        ("bytes=500-5000", 500, 999),
    ] {
        let r = app.get(&path, &[("range", range)]).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {start}-{end}/1000"),
            "{range}"
        );
        assert_eq!(header(&r, "content-length"), (end - start + 1).to_string());
        assert_eq!(header(&r, "content-type"), "video/mp4");
        assert_eq!(header(&r, "etag"), etag);
        assert_eq!(
            r.bytes().await.unwrap().as_ref(),
            &data[start..=end],
            "{range}"
        );
    }

    // If-Range with a stale validator: the whole (changed) file, not a part of it.
    let r = app
        .get(&path, &[("range", "bytes=0-9"), ("if-range", "\"old\"")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().len(), 1000);
    let r = app
        .get(&path, &[("range", "bytes=0-9"), ("if-range", &etag)])
        .await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    // A current copy is still a 304, range or not.
    let r = app
        .get(&path, &[("range", "bytes=0-9"), ("if-none-match", &etag)])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // Several ranges: the whole file (allowed, and no player asks for them).
    let r = app.get(&path, &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_past_the_end_is_416_and_escapes_stay_404() {
    let app = spawn_app().await;
    app.core
        .workspace
        .write_atomic(CLIP, &pattern(1000))
        .unwrap();
    let path = format!("/files/{CLIP}");
    for range in ["bytes=1000-", "bytes=5000-6000", "bytes=-0"] {
        let r = app.get(&path, &[("range", range)]).await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(header(&r, "content-range"), "bytes */1000", "{range}");
    }
    // Ranges change nothing about what may be read.
    std::fs::write(app._dir.path().join("secret.txt"), b"secret").unwrap();
    for bad in [
        "/files/..%2Fsecret.txt",
        "/files/%2Fetc%2Fpasswd",
        "/files/missing.mp4",
    ] {
        let r = app.get(bad, &[("range", "bytes=0-3")]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        assert!(!r.bytes().await.unwrap().starts_with(b"secr"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_files_stream_in_chunks_with_the_right_bytes() {
    let app = spawn_app().await;
    // Larger than what is read at once, so both the 200 and the 206 stream.
    let data = pattern(9 * 1024 * 1024 + 7);
    let rel = "channels/default/projects/t/final/video.mp4";
    app.core.workspace.write_atomic(rel, &data).unwrap();
    let path = format!("/files/{rel}");
    let whole = app.get(&path, &[]).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(header(&whole, "content-length"), data.len().to_string());
    assert!(whole.bytes().await.unwrap().as_ref() == &data[..]);
    let r = app.get(&path, &[("range", "bytes=12345-")]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&r, "content-range"),
        format!("bytes 12345-{}/{}", data.len() - 1, data.len())
    );
    assert!(r.bytes().await.unwrap().as_ref() == &data[12345..]);
}
