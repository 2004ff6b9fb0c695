//! The `reviewdesk://` URI scheme: workspace files (thumbnails first, full size on demand) for the
//! webview, confined to the workspace like the server's `/files`. A custom scheme instead of the
//! asset protocol keeps the scope exactly "this workspace", decided by the same
//! `Workspace::resolve` the server uses.

use std::sync::Arc;

use reviewdesk_core::workspace::{
    ByteRange, Workspace, is_immutable, open_regular, parse_range, served_type,
};
use tauri::http::{Request, Response, StatusCode, header};

/// The scheme name; the UI builds URLs with `convertFileSrc(rel, SCHEME)`.
pub const SCHEME: &str = "reviewdesk";

/// Answers one request for `reviewdesk://localhost/<percent-encoded relative path>`.
pub fn respond(workspace: &Workspace, request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
    let raw = request.uri().path().trim_start_matches('/');
    let rel = match percent_encoding::percent_decode_str(raw).decode_utf8() {
        Ok(rel) => rel.into_owned(),
        Err(_) => return error(StatusCode::BAD_REQUEST, "the file path is not valid UTF-8"),
    };
    // Anything that would leave the workspace (.., absolute, symlinks out) is simply not there.
    let Ok(path) = workspace.resolve(&rel) else {
        return error(StatusCode::NOT_FOUND, "no such file in the workspace");
    };
    let cache = if is_immutable(&rel) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    // Regular files only: a FIFO or device dropped into the workspace is "not there", never a
    // blocked thread.
    let Some((file, meta)) = open_regular(&path) else {
        return error(StatusCode::NOT_FOUND, "no such file in the workspace");
    };
    let (content_type, inline) = served_type(&path);
    let response = match range.map(|r| parse_range(r, meta.len())) {
        None | Some(ByteRange::Full) => whole(file),
        Some(ByteRange::Part { start, end }) => partial(file, meta.len(), start, end),
        Some(ByteRange::Unsatisfiable) => {
            let mut r = error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "the range is past the end",
            );
            if let Ok(v) = header::HeaderValue::from_str(&format!("bytes */{}", meta.len())) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    let Some(mut response) = response else {
        return error(StatusCode::NOT_FOUND, "no such file in the workspace");
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache),
    );
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    // Workspace files never run as the app: no scripts, an opaque origin, and anything but media
    // and JSON is a download (the same rules as the server's /files).
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src 'self'; media-src 'self'",
        ),
    );
    if !inline {
        h.insert(
            header::CONTENT_DISPOSITION,
            header::HeaderValue::from_static("attachment"),
        );
    }
    response
}

/// The whole file, 200.
fn whole(mut file: std::fs::File) -> Option<Response<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(Response::new(bytes))
}

/// The most one range answer carries. A scheme handler's body is one buffer, so an open-ended
/// `bytes=0-` on a long final video must not read it all; players ask again from where the
/// answer's Content-Range ended (Tauri's own asset protocol caps its ranges the same way).
const MAX_RANGE: u64 = 4 * 1024 * 1024;

/// Answers a `Range` request (what WebKit's `<video>`/`<audio>` send to play and seek): 206 with
/// just those bytes, capped at [`MAX_RANGE`].
fn partial(mut file: std::fs::File, len: u64, start: u64, end: u64) -> Option<Response<Vec<u8>>> {
    use std::io::{Read, Seek, SeekFrom};
    let end = end.min(start + MAX_RANGE - 1);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(start)).ok()?;
    (&mut file)
        .take(end - start + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    // Shrunk underneath us: nothing sensible to answer.
    let end = (start + bytes.len() as u64).checked_sub(1)?;
    let mut r = Response::new(bytes);
    *r.status_mut() = StatusCode::PARTIAL_CONTENT;
    r.headers_mut().insert(
        header::CONTENT_RANGE,
        header::HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")).ok()?,
    );
    Some(r)
}

fn error(status: StatusCode, message: &str) -> Response<Vec<u8>> {
    let mut r = Response::new(message.as_bytes().to_vec());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Tells the UI where media play from: `window.__REVIEWDESK_MEDIA__`, the base URL of the
/// media server (`reviewdesk_server::start_media_server`), read-only. WebKitGTK's players fetch
/// only http(s), so `<video>` and `<audio>` cannot use this scheme; images still do.
pub fn media_plugin<R: tauri::Runtime>(base_url: Option<&str>) -> tauri::plugin::TauriPlugin<R> {
    tauri::plugin::Builder::new("media")
        .js_init_script(media_init_script(base_url))
        .build()
}

fn media_init_script(base_url: Option<&str>) -> String {
    // JSON is a JavaScript literal: the URL cannot break out of the string.
    let value = serde_json::to_string(&base_url).unwrap_or_else(|_| "null".into());
    format!(
        "Object.defineProperty(window, '__REVIEWDESK_MEDIA__', {{ value: {value}, writable: false, configurable: false }});"
    )
}

/// Serves requests off the UI thread (file reads block).
pub fn serve_async(
    workspace: Option<Arc<Workspace>>,
    request: Request<Vec<u8>>,
    responder: tauri::UriSchemeResponder,
) {
    tauri::async_runtime::spawn_blocking(move || {
        let response = match &workspace {
            Some(ws) => respond(ws, &request),
            None => error(StatusCode::SERVICE_UNAVAILABLE, "Review Desk did not start"),
        };
        responder.respond(response);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_base_reaches_the_ui_as_a_quoted_literal() {
        assert_eq!(
            media_init_script(Some("http://127.0.0.1:4000/abc/")),
            "Object.defineProperty(window, '__REVIEWDESK_MEDIA__', { value: \"http://127.0.0.1:4000/abc/\", writable: false, configurable: false });"
        );
        assert!(media_init_script(None).contains("value: null"));
        assert!(
            media_init_script(Some("x\"); alert(1); \""))
                .contains(r#"value: "x\"); alert(1); \"""#)
        );
    }

    fn get(ws: &Workspace, uri: &str) -> Response<Vec<u8>> {
        respond(ws, &Request::get(uri).body(Vec::new()).unwrap())
    }

    #[test]
    fn serves_workspace_files_and_refuses_everything_outside() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws")).unwrap();
        ws.write_atomic("channels/demo/projects/t/assets/props/a b.png", b"png!")
            .unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"secret").unwrap();

        let ok = get(
            &ws,
            "reviewdesk://localhost/channels%2Fdemo%2Fprojects%2Ft%2Fassets%2Fprops%2Fa%20b.png",
        );
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.body(), b"png!");
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "image/png");

        for escape in [
            "reviewdesk://localhost/..%2Fsecret.txt",
            "reviewdesk://localhost/%2Fetc%2Fpasswd",
            "reviewdesk://localhost/channels%2F..%2F..%2Fsecret.txt",
            "reviewdesk://localhost/missing.png",
        ] {
            let r = get(&ws, escape);
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{escape}");
            assert!(!r.body().starts_with(b"secret"));
        }
    }

    fn get_range(ws: &Workspace, uri: &str, range: &str) -> Response<Vec<u8>> {
        respond(
            ws,
            &Request::get(uri)
                .header(header::RANGE, range)
                .body(Vec::new())
                .unwrap(),
        )
    }

    #[test]
    fn media_ranges_get_206_with_those_bytes_and_416_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws")).unwrap();
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        ws.write_atomic("p/video/clip_01.mp4", &data).unwrap();
        let uri = "reviewdesk://localhost/p%2Fvideo%2Fclip_01.mp4";
        for (range, start, end) in [
            ("bytes=0-99", 0usize, 99usize),
            ("bytes=900-", 900, 999),
            ("bytes=-10", 990, 999),
            ("bytes=990-5000", 990, 999),
        ] {
            let r = get_range(&ws, uri, range);
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{range}");
            assert_eq!(
                r.headers()[header::CONTENT_RANGE],
                format!("bytes {start}-{end}/1000").as_str()
            );
            assert_eq!(r.headers()[header::CONTENT_TYPE], "video/mp4");
            assert_eq!(r.body().as_slice(), &data[start..=end], "{range}");
        }
        for range in ["bytes=1000-", "bytes=-0"] {
            let r = get_range(&ws, uri, range);
            assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
            assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */1000");
        }
        for range in ["bytes=5-1", "bytes=0-1,4-5", "lines=1-2"] {
            let r = get_range(&ws, uri, range);
            assert_eq!(r.status(), StatusCode::OK, "{range}");
            assert_eq!(r.body().len(), 1000);
        }
        // A range changes nothing about what may be read.
        std::fs::write(dir.path().join("secret.txt"), b"secret").unwrap();
        let r = get_range(&ws, "reviewdesk://localhost/..%2Fsecret.txt", "bytes=0-2");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn fifos_are_not_served_and_active_content_is_a_sandboxed_download() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws")).unwrap();
        let fifo = ws.root().join("pipe.png");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Without the regular-file rule this read blocks forever (no writer on the FIFO).
        let r = get(&ws, "reviewdesk://localhost/pipe.png");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        ws.write_atomic("x.html", b"<script>alert(1)</script>")
            .unwrap();
        ws.write_atomic("x.svg", b"<svg onload=alert(1)/>").unwrap();
        for uri in [
            "reviewdesk://localhost/x.html",
            "reviewdesk://localhost/x.svg",
        ] {
            let r = get(&ws, uri);
            assert_eq!(r.status(), StatusCode::OK, "{uri}");
            assert_eq!(
                r.headers()[header::CONTENT_TYPE],
                "application/octet-stream"
            );
            assert_eq!(r.headers()[header::CONTENT_DISPOSITION], "attachment");
            assert!(
                r.headers()[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .unwrap()
                    .starts_with("sandbox")
            );
        }
        ws.write_atomic("p/clip.mp4", b"mp4").unwrap();
        let r = get(&ws, "reviewdesk://localhost/p%2Fclip.mp4");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "video/mp4");
        assert!(r.headers().get(header::CONTENT_DISPOSITION).is_none());
    }

    #[test]
    fn thumbnails_are_cached_forever_and_assets_revalidated() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path()).unwrap();
        ws.write_atomic(".reviewdesk/thumbs/ab.tile.jpg", b"j")
            .unwrap();
        ws.write_atomic("x.png", b"p").unwrap();
        let t = get(
            &ws,
            "reviewdesk://localhost/.reviewdesk%2Fthumbs%2Fab.tile.jpg",
        );
        assert!(
            t.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(t.headers()[header::CONTENT_TYPE], "image/jpeg");
        let a = get(&ws, "reviewdesk://localhost/x.png");
        assert_eq!(a.headers()[header::CACHE_CONTROL], "no-cache");
    }
}
