//! Workspace files and the built UI, with caching headers.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;

use crate::AppState;
use crate::error::HttpError;
use reviewdesk_core::workspace::{content_type, is_immutable};

/// A file's validator and, unless the client's copy is current, its bytes.
struct Loaded {
    etag: String,
    bytes: Option<Vec<u8>>,
}

/// Opens, stats and reads a file on one blocking thread (one hop instead of one per call: a
/// gallery open asks for 22 thumbnails at once). `None` when it is missing or not a file.
fn load(path: &std::path::Path, if_none_match: Option<&str>) -> Option<Loaded> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let etag = format!("\"{:x}-{:x}\"", meta.len(), mtime);
    if if_none_match == Some(etag.as_str()) {
        return Some(Loaded { etag, bytes: None });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes).ok()?;
    Some(Loaded {
        etag,
        bytes: Some(bytes),
    })
}

async fn send_file(
    path: PathBuf,
    headers: &HeaderMap,
    immutable: bool,
) -> Result<Response, HttpError> {
    let not_found = || HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such file");
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let content_type = content_type(&path);
    let loaded = tokio::task::spawn_blocking(move || load(&path, if_none_match.as_deref()))
        .await
        .map_err(|_| not_found())?
        .ok_or_else(not_found)?;
    let Some(bytes) = loaded.bytes else {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, loaded.etag),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
        )
            .into_response());
    };
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&loaded.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}

/// `GET /files/{*path}`: a file inside the workspace; anything that would leave it is a 404.
pub async fn workspace_file(
    State(state): State<AppState>,
    Path(rel): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let path = state
        .core
        .workspace
        .resolve(&rel)
        .map_err(|_| HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such file"))?;
    send_file(path, &headers, is_immutable(&rel)).await
}

/// The built UI: a file from `ui_dir`, or `index.html` for client-side routes.
pub async fn ui_file(ui_dir: Option<PathBuf>, rel: String, headers: HeaderMap) -> Response {
    let Some(dir) = ui_dir.filter(|d| d.join("index.html").is_file()) else {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><title>Review Desk</title><p>The web UI is not built yet: run <code>make run</code> (or <code>npm --prefix ui ci && npm --prefix ui run build</code>). The API is at <a href=\"/api/tasks\">/api/tasks</a>.</p>",
        )
            .into_response();
    };
    let rel = rel.trim_start_matches('/');
    let safe = !rel.split('/').any(|p| p == ".." || p.starts_with('.'));
    let candidate = dir.join(rel);
    let path = if safe && !rel.is_empty() && candidate.is_file() {
        candidate
    } else {
        dir.join("index.html")
    };
    let immutable = rel.starts_with("assets/");
    let mut resp = match send_file(path, &headers, immutable).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    // A strict CSP: only this origin's scripts, styles, images and event stream.
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"),
    );
    resp
}
