//! The desktop's media server: workspace files over plain HTTP on 127.0.0.1, for the window's
//! `<video>` and `<audio>`.
//!
//! WebKitGTK hands a media element's URL to GStreamer, which fetches only http(s) and a few
//! built-in schemes; it refuses the app's own `reviewdesk:` scheme ("isProtocolAllowed:
//! reviewdesk (allowed: no)"), so clips, narrations and the final video could not play in the
//! window. Images keep the scheme; media come from here.
//!
//! What it serves is what `/files` serves (confined to the workspace, regular files only,
//! sandboxed, one byte range), and nothing else: no API, no UI. It listens on loopback only,
//! under a path holding a secret made at each launch (another local user cannot guess a URL),
//! and answers only requests whose Host names this address (a web page that rebinds a DNS name
//! to 127.0.0.1 gets 403).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reviewdesk_core::workspace::Workspace;

use crate::error::HttpError;

#[derive(Clone)]
struct MediaState {
    workspace: Arc<Workspace>,
    secret: Arc<str>,
    host: Arc<str>,
}

/// A running media server; it stops when dropped.
#[derive(Debug)]
pub struct MediaServer {
    base_url: String,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MediaServer {
    /// `http://127.0.0.1:<port>/<secret>/`: a workspace file's URL is this followed by its
    /// percent-encoded relative path.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MediaServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the media server for `workspace` on a free loopback port (on the current Tokio
/// runtime).
pub async fn start_media_server(workspace: Arc<Workspace>) -> std::io::Result<MediaServer> {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    // 244 random bits: two v4 UUIDs.
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let state = MediaState {
        workspace,
        secret: Arc::from(secret.as_str()),
        host: Arc::from(addr.to_string().as_str()),
    };
    let router = Router::new()
        .route("/{secret}/{*path}", get(media_file))
        .layer(middleware::from_fn_with_state(state.clone(), own_host_only))
        .with_state(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!("the media server stopped: {e}");
        }
    });
    Ok(MediaServer {
        base_url: format!("http://{addr}/{secret}/"),
        addr,
        task,
    })
}

/// Refuses a request whose Host is not this server's own address.
async fn own_host_only(State(state): State<MediaState>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if host != Some(&*state.host) {
        return HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "this server answers only its own address",
        )
        .into_response();
    }
    next.run(request).await
}

async fn media_file(
    State(state): State<MediaState>,
    Path((secret, rel)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    if !same_secret(secret.as_bytes(), state.secret.as_bytes()) {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such file",
        ));
    }
    crate::files::send_workspace_file(&state.workspace, &rel, &headers).await
}

/// Compares in time that depends only on the length (the secret's length is public).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}
