//! Workspace files and the built UI, with caching headers.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;

use crate::AppState;
use crate::error::HttpError;
use reviewdesk_core::workspace::{content_type, is_immutable};

async fn send_file(
    path: PathBuf,
    headers: &HeaderMap,
    immutable: bool,
) -> Result<Response, HttpError> {
    let not_found = || HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such file");
    let meta = tokio::fs::metadata(&path).await.map_err(|_| not_found())?;
    if !meta.is_file() {
        return Err(not_found());
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let etag = format!("\"{:x}-{:x}\"", meta.len(), mtime);
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
        )
            .into_response());
    }
    let bytes = tokio::fs::read(&path).await.map_err(|_| not_found())?;
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
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
