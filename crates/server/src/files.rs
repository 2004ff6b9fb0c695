//! Workspace files and the built UI, with caching headers. The UI is embedded in the binary at
//! build time (`serve` needs no source tree); `--ui-dir` serves it from a folder instead.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::AppState;
use crate::error::HttpError;
use reviewdesk_core::workspace::{
    ByteRange, content_type, is_immutable, open_regular, parse_range, served_type,
};

// Ranges are parsed here rather than by tower-http's `ServeFile`: that needs its `fs` feature (new
// crates), answers with `Last-Modified` instead of our size-mtime ETag, guesses types with
// mime_guess instead of `content_type`, and sets no Cache-Control, so wrapping it to keep our
// semantics would take more code than the one-range parser below.

/// Spans up to this size are read on the blocking thread in one go (thumbnails, images: the
/// gallery path stays one hop); larger ones (videos) are streamed so memory stays bounded.
const READ_AT_ONCE: u64 = 4 * 1024 * 1024;
/// Chunk size when streaming.
const CHUNK: u64 = 256 * 1024;

/// The built UI (`ui/dist`) as it was when this crate was compiled; empty when it was not built
/// (build.rs creates the folder, and makes cargo rebuild this crate whenever it changes).
#[derive(rust_embed::RustEmbed)]
#[folder = "../../ui/dist/"]
#[allow_missing = true]
struct EmbeddedUi;

/// The bytes to send.
enum Payload {
    /// Read already (small spans).
    Bytes(Vec<u8>),
    /// Embedded in the binary.
    Static(Bytes),
    /// An open file positioned at the span's start, and how many bytes to stream from it.
    Stream(std::fs::File, u64),
}

/// What a request for a file turned into.
enum Loaded {
    /// The client's copy is current.
    NotModified { etag: String },
    /// The range lies past the end of a file of this length.
    Unsatisfiable { etag: String, len: u64 },
    /// The whole file (`range: None`) or a part of it, with its bytes.
    Send {
        etag: String,
        len: u64,
        range: Option<(u64, u64)>,
        payload: Payload,
    },
}

/// The request headers `load` looks at.
struct Conditions {
    if_none_match: Option<String>,
    range: Option<String>,
    if_range: Option<String>,
}

/// Opens, stats and reads a file on one blocking thread (one hop instead of one per call: a
/// gallery open asks for 22 thumbnails at once). `None` when it is missing or not a file.
fn load(path: &std::path::Path, cond: &Conditions) -> Option<Loaded> {
    // Regular files only: a FIFO or device in the workspace is a 404, never a hung thread.
    let (mut file, meta) = open_regular(path)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let len = meta.len();
    let etag = format!("\"{len:x}-{mtime:x}\"");
    // Conditionals before the range, as RFC 9110 §13.2.2 orders them.
    if cond.if_none_match.as_deref() == Some(etag.as_str()) {
        return Some(Loaded::NotModified { etag });
    }
    // If-Range with another validator means the client's partial copy is stale: send it all.
    let range_applies = cond.if_range.as_deref().is_none_or(|v| v == etag);
    let range = match cond.range.as_deref().filter(|_| range_applies) {
        None => None,
        Some(v) => match parse_range(v, len) {
            ByteRange::Full => None,
            ByteRange::Unsatisfiable => return Some(Loaded::Unsatisfiable { etag, len }),
            ByteRange::Part { start, end } => Some((start, end)),
        },
    };
    let (start, span) = range.map_or((0, len), |(s, e)| (s, e - s + 1));
    if start > 0 {
        file.seek(SeekFrom::Start(start)).ok()?;
    }
    let payload = if span <= READ_AT_ONCE {
        let mut bytes = Vec::with_capacity(usize::try_from(span).unwrap_or(0));
        (&mut file).take(span).read_to_end(&mut bytes).ok()?;
        Payload::Bytes(bytes)
    } else {
        Payload::Stream(file, span)
    };
    Some(Loaded::Send {
        etag,
        len,
        range,
        payload,
    })
}

/// [`load`]'s answer for a file embedded in the binary, whose ETag is its content hash.
fn load_embedded(file: rust_embed::EmbeddedFile, cond: &Conditions) -> Loaded {
    let etag = format!(
        "\"{}\"",
        file.metadata.sha256_hash()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    if cond.if_none_match.as_deref() == Some(etag.as_str()) {
        return Loaded::NotModified { etag };
    }
    let bytes = match file.data {
        std::borrow::Cow::Borrowed(b) => Bytes::from_static(b),
        std::borrow::Cow::Owned(v) => Bytes::from(v),
    };
    let len = bytes.len() as u64;
    let range_applies = cond.if_range.as_deref().is_none_or(|v| v == etag);
    let range = match cond.range.as_deref().filter(|_| range_applies) {
        None => None,
        Some(v) => match parse_range(v, len) {
            ByteRange::Full => None,
            ByteRange::Unsatisfiable => return Loaded::Unsatisfiable { etag, len },
            ByteRange::Part { start, end } => Some((start, end)),
        },
    };
    let payload = match range {
        // Within `len`, which came from a slice: the casts are lossless.
        Some((start, end)) => Payload::Static(bytes.slice(start as usize..=end as usize)),
        None => Payload::Static(bytes),
    };
    Loaded::Send {
        etag,
        len,
        range,
        payload,
    }
}

/// A body that reads `left` bytes from `file` in chunks, each on a blocking thread.
fn stream_body(file: std::fs::File, left: u64) -> Body {
    // The state is `None` once the stream has failed: it ends after reporting the error.
    let chunks = futures::stream::unfold((Some(file), left), |(file, left)| async move {
        let mut file = file?;
        if left == 0 {
            return None;
        }
        let want = left.min(CHUNK);
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
            let r = (&mut file).take(want).read_to_end(&mut buf);
            (file, r.map(|_| buf))
        })
        .await;
        match read {
            Ok((file, Ok(buf))) if !buf.is_empty() => {
                let n = buf.len() as u64;
                Some((Ok(Bytes::from(buf)), (Some(file), left - n)))
            }
            // Truncated underneath us: end the body with an error rather than a silent short one.
            Ok((_, Ok(_))) => Some((
                Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
                (None, 0),
            )),
            Ok((_, Err(e))) => Some((Err(e), (None, 0))),
            Err(e) => Some((Err(std::io::Error::other(e)), (None, 0))),
        }
    });
    Body::from_stream(chunks)
}

/// How a file is presented to the browser.
struct Presentation {
    content_type: &'static str,
    /// Sent as a download (`Content-Disposition: attachment`), never rendered.
    attachment: bool,
    /// Workspace content: `Content-Security-Policy: sandbox`, so even a file a browser renders
    /// runs in an opaque origin without scripts or the API's cookies.
    sandboxed: bool,
}

/// The request headers [`load`] looks at.
fn conditions(headers: &HeaderMap) -> Conditions {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    Conditions {
        if_none_match: header_text(header::IF_NONE_MATCH),
        range: header_text(header::RANGE),
        if_range: header_text(header::IF_RANGE),
    }
}

/// A file on disk; a 404 when it is missing or not a regular file.
async fn send_file(
    path: PathBuf,
    headers: &HeaderMap,
    immutable: bool,
    presentation: Presentation,
) -> Result<Response, HttpError> {
    let not_found = || HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such file");
    let cond = conditions(headers);
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file")
        .replace(
            |c: char| !c.is_ascii_alphanumeric() && !matches!(c, '.' | '_' | '-'),
            "_",
        );
    let loaded = tokio::task::spawn_blocking(move || load(&path, &cond))
        .await
        .map_err(|_| not_found())?
        .ok_or_else(not_found)?;
    Ok(respond(loaded, &file_name, immutable, presentation))
}

/// The response for a loaded file: status, body and headers.
fn respond(
    loaded: Loaded,
    file_name: &str,
    immutable: bool,
    presentation: Presentation,
) -> Response {
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let (etag, status, len, range, payload) = match loaded {
        Loaded::NotModified { etag } => {
            return (
                StatusCode::NOT_MODIFIED,
                [
                    (header::ETAG, etag),
                    (header::CACHE_CONTROL, cache.to_string()),
                ],
            )
                .into_response();
        }
        Loaded::Unsatisfiable { etag, len } => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [
                    (header::CONTENT_RANGE, format!("bytes */{len}")),
                    (header::ACCEPT_RANGES, "bytes".to_string()),
                    (header::ETAG, etag),
                ],
            )
                .into_response();
        }
        Loaded::Send {
            etag,
            len,
            range: None,
            payload,
        } => (etag, StatusCode::OK, len, None, payload),
        Loaded::Send {
            etag,
            len,
            range: Some(r),
            payload,
        } => (etag, StatusCode::PARTIAL_CONTENT, len, Some(r), payload),
    };
    let span = range.map_or(len, |(s, e)| e - s + 1);
    let mut resp = match payload {
        Payload::Bytes(bytes) => Response::new(Body::from(bytes)),
        Payload::Static(bytes) => Response::new(Body::from(bytes)),
        Payload::Stream(file, left) => {
            let mut r = Response::new(stream_body(file, left));
            // A stream has no size hint; say it so the player knows the length up front.
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(span));
            r
        }
    };
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(presentation.content_type),
    );
    if presentation.attachment
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if presentation.sandboxed {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "sandbox; default-src 'none'; img-src 'self'; media-src 'self'",
            ),
        );
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Tells media players they may seek with ranges.
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((start, end)) = range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `GET /files/{*path}`: a file inside the workspace; anything that would leave it is a 404.
pub async fn workspace_file(
    State(state): State<AppState>,
    Path(rel): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    send_workspace_file(&state.core.workspace, &rel, &headers).await
}

/// A file inside `workspace` (regular files only, media and JSON inline, anything else as a
/// download, always sandboxed); anything that would leave it is a 404.
pub(crate) async fn send_workspace_file(
    workspace: &reviewdesk_core::workspace::Workspace,
    rel: &str,
    headers: &HeaderMap,
) -> Result<Response, HttpError> {
    let path = workspace
        .resolve(rel)
        .map_err(|_| HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such file"))?;
    let (content_type, inline) = served_type(&path);
    let presentation = Presentation {
        content_type,
        attachment: !inline,
        sandboxed: true,
    };
    send_file(path, headers, is_immutable(rel), presentation).await
}

/// The page served when there is no built UI (not embedded at build time, or no index.html in
/// `--ui-dir`).
fn ui_not_built() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><title>Review Desk</title><p>The web UI is not built yet: run <code>make run</code> (or <code>npm --prefix ui ci && npm --prefix ui run build</code>, then build <code>reviewdesk</code> again). The API is at <a href=\"/api/tasks\">/api/tasks</a>.</p>",
    )
        .into_response()
}

/// What the page reads first (`reload` in ui/src/lib/store.svelte.ts: the board with the latest 50
/// of each finished status, `LATEST` in ui/src/lib/board.ts, and the status), announced with the
/// page itself: the browser fetches both while it parses the page and loads the script, and the
/// script's own requests (the same URLs) take those answers instead of starting after it ran.
/// A browser test checks that the board's first read is this preload.
const FIRST_READS: &str = "</api/board?latest=50>; rel=preload; as=fetch; crossorigin, \
                           </api/status>; rel=preload; as=fetch; crossorigin";

/// The built UI: a file from `ui_dir` (`None`: the UI embedded in the binary), or `index.html`
/// for client-side routes. Hashed files under `assets/` are immutable; everything else, the
/// `index.html` fallback included, is revalidated (`no-cache` with an ETag). The page comes with
/// its first reads to preload ([`FIRST_READS`]).
pub async fn ui_file(
    ui_dir: Option<PathBuf>,
    rel: String,
    query: Option<&str>,
    headers: HeaderMap,
) -> Response {
    let mut response = ui_file_response(ui_dir, &rel, &headers).await;
    let page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    // Not on the `/?token=…` visit that sets the token's cookie: the preloads could leave before
    // the browser holds it.
    if page && crate::guard::token_in_query(query).is_none() {
        response
            .headers_mut()
            .insert(header::LINK, HeaderValue::from_static(FIRST_READS));
    }
    response
}

async fn ui_file_response(ui_dir: Option<PathBuf>, rel: &str, headers: &HeaderMap) -> Response {
    let rel = rel.trim_start_matches('/');
    let safe = !rel.is_empty() && !rel.split('/').any(|p| p == ".." || p.starts_with('.'));
    let presentation = |name: &std::path::Path| Presentation {
        content_type: content_type(name),
        attachment: false,
        sandboxed: false,
    };
    let Some(dir) = ui_dir else {
        let found = safe.then(|| EmbeddedUi::get(rel)).flatten();
        let immutable = found.is_some() && rel.starts_with("assets/");
        let (name, file) = match found {
            Some(file) => (rel, file),
            None => match EmbeddedUi::get("index.html") {
                Some(file) => ("index.html", file),
                None => return ui_not_built(),
            },
        };
        let name = std::path::Path::new(name);
        let file_name = name.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let loaded = load_embedded(file, &conditions(headers));
        return respond(loaded, file_name, immutable, presentation(name));
    };
    if !dir.join("index.html").is_file() {
        return ui_not_built();
    }
    let candidate = dir.join(rel);
    let (path, immutable) = if safe && candidate.is_file() {
        (candidate, rel.starts_with("assets/"))
    } else {
        (dir.join("index.html"), false)
    };
    let presentation = presentation(&path);
    match send_file(path, headers, immutable, presentation).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}
