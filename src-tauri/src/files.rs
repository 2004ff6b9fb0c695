//! The `reviewdesk://` URI scheme: workspace files (thumbnails first, full size on demand) for the
//! webview, confined to the workspace like the server's `/files`. A custom scheme instead of the
//! asset protocol keeps the scope exactly "this workspace", decided by the same
//! `Workspace::resolve` the server uses.

use std::sync::Arc;

use reviewdesk_core::workspace::{Workspace, content_type, is_immutable};
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
    match std::fs::read(&path) {
        Ok(bytes) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type(&path))
            .header(
                header::CACHE_CONTROL,
                if is_immutable(&rel) {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                },
            )
            .header("x-content-type-options", "nosniff")
            .body(bytes)
            .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "bad response")),
        Err(_) => error(StatusCode::NOT_FOUND, "no such file in the workspace"),
    }
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
