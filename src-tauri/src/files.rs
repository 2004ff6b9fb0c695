//! The `reviewdesk://` URI scheme: workspace files (thumbnails first, full size on demand) for the
//! webview, confined to the workspace like the server's `/files`. A custom scheme instead of the
//! asset protocol keeps the scope exactly "this workspace", decided by the same
//! `Workspace::resolve` the server uses.

use std::sync::Arc;

use reviewdesk_core::workspace::{ByteRange, Workspace, content_type, is_immutable, parse_range};
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
    let Some(range) = range else {
        return match std::fs::read(&path) {
            Ok(bytes) => Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, content_type(&path))
                .header(header::CACHE_CONTROL, cache)
                .header(header::ACCEPT_RANGES, "bytes")
                .header("x-content-type-options", "nosniff")
                .body(bytes)
                .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "bad response")),
            Err(_) => error(StatusCode::NOT_FOUND, "no such file in the workspace"),
        };
    };
    partial(&path, range, cache)
}

/// The most one range answer carries. A scheme handler's body is one buffer, so an open-ended
/// `bytes=0-` on a long final video must not read it all; players ask again from where the
/// answer's Content-Range ended (Tauri's own asset protocol caps its ranges the same way).
const MAX_RANGE: u64 = 4 * 1024 * 1024;

/// Answers a `Range` request (what WebKit's `<video>`/`<audio>` send to play and seek): 206 with
/// just those bytes, 416 past the end, the whole file for anything else (allowed, and what the
/// server does too, with the same parser from core).
fn partial(path: &std::path::Path, range: &str, cache: &str) -> Response<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return error(StatusCode::NOT_FOUND, "no such file in the workspace");
    };
    let Some(len) = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
    else {
        return error(StatusCode::NOT_FOUND, "no such file in the workspace");
    };
    let (start, end) = match parse_range(range, len) {
        ByteRange::Part { start, end } => (start, end),
        ByteRange::Full => {
            let mut bytes = Vec::new();
            return match file.read_to_end(&mut bytes) {
                Ok(_) => Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, content_type(path))
                    .header(header::CACHE_CONTROL, cache)
                    .header(header::ACCEPT_RANGES, "bytes")
                    .header("x-content-type-options", "nosniff")
                    .body(bytes)
                    .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "bad response")),
                Err(_) => error(StatusCode::NOT_FOUND, "no such file in the workspace"),
            };
        }
        ByteRange::Unsatisfiable => {
            let mut r = error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "the range is past the end",
            );
            if let Ok(v) = header::HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    // One buffer per answer: cap a range as Tauri's own asset protocol does.
    let end = end.min(start + MAX_RANGE - 1);
    let mut bytes = Vec::new();
    let read = file
        .seek(SeekFrom::Start(start))
        .and_then(|_| (&mut file).take(end - start + 1).read_to_end(&mut bytes));
    if read.is_err() {
        return error(StatusCode::NOT_FOUND, "no such file in the workspace");
    }
    let end = start + bytes.len() as u64 - 1;
    Response::builder()
        .status(StatusCode::PARTIAL_CONTENT)
        .header(header::CONTENT_TYPE, content_type(path))
        .header(header::CACHE_CONTROL, cache)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
        .header("x-content-type-options", "nosniff")
        .body(bytes)
        .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "bad response"))
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
