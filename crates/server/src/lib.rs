//! Review Desk's HTTP server: a JSON API over the core services, server-sent events carrying the
//! domain events, workspace files (thumbnails and full size), the built UI (embedded in the binary),
//! and an OpenAPI document.
//! Handlers are thin: parse, call the service, map the error.
// The OpenAPI document is one `json!` literal, deeper than the default limit of 128.
#![recursion_limit = "256"]
#![warn(missing_docs)]

mod error;
mod files;
mod guard;
mod media;
mod openapi;
mod routes;
mod webhook;

use axum::Router;
use reviewdesk_core::Core;
use reviewdesk_core::worker::Worker;
use reviewdesk_runtime::AppRuntime;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use error::HttpError;
pub use media::{MediaServer, start_media_server};

/// What the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind; loopback unless the creator says otherwise.
    pub addr: SocketAddr,
    /// Required bearer token when binding anything but loopback.
    pub token: Option<String>,
    /// Folder with the built UI (index.html), read on every request (for UI work); `None` serves
    /// the UI embedded in the binary at build time. Either way, without an index.html a short page
    /// says how to build it.
    pub ui_dir: Option<PathBuf>,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The app functions this server is a door to.
    pub app: Arc<reviewdesk_api::App>,
    /// The runtime this server is a door to.
    pub runtime: Arc<AppRuntime>,
    /// The core (the runtime's).
    pub core: Arc<Core>,
    /// Domain events read back from the log (changes made by any process).
    pub feed: reviewdesk_core::feed::EventFeed,
    /// The Notion mirror, when the runtime runs one.
    pub mirror: Option<Arc<reviewdesk_sync::Mirror>>,
    pub(crate) token: Option<Arc<str>>,
    pub(crate) allowed_hosts: Arc<Vec<String>>,
    /// Bound to every interface (token required): the Host can be any of the machine's names.
    pub(crate) any_host: bool,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding a non-loopback address without a token.
    #[error(
        "refusing to listen on {0} without a token: pass --token (or REVIEWDESK_SERVER_TOKEN), or bind 127.0.0.1"
    )]
    TokenRequired(SocketAddr),
    /// The runtime could not start (event log, database).
    #[error("cannot start Review Desk: {0}")]
    Runtime(#[from] reviewdesk_runtime::RuntimeError),
    /// A token too short to resist guessing.
    #[error(
        "the server token is too short ({0} characters): use at least {MIN_TOKEN_CHARS}, e.g. `openssl rand -hex 16`"
    )]
    WeakToken(usize),
    /// The port is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The shortest server token accepted: anyone who can reach the port may try tokens.
pub const MIN_TOKEN_CHARS: usize = 16;

/// A bound server, ready to run.
pub struct BoundServer {
    listener: tokio::net::TcpListener,
    router: Router,
    /// The actual address (port 0 resolved).
    pub local_addr: SocketAddr,
}

/// Binds the listener and builds the router over a running [`AppRuntime`].
pub async fn bind(
    runtime: Arc<AppRuntime>,
    config: ServerConfig,
) -> Result<BoundServer, ServeError> {
    if !config.addr.ip().is_loopback() && config.token.as_deref().is_none_or(str::is_empty) {
        return Err(ServeError::TokenRequired(config.addr));
    }
    if let Some(t) = config.token.as_deref().filter(|t| !t.is_empty())
        && t.chars().count() < MIN_TOKEN_CHARS
    {
        return Err(ServeError::WeakToken(t.chars().count()));
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.addr,
        source,
    })?;
    let hosts = allowed_hosts(config.addr, local_addr.port());
    let state = AppState {
        app: Arc::new(reviewdesk_api::App::server(runtime.clone())),
        core: runtime.core.clone(),
        feed: runtime.feed.clone(),
        mirror: runtime.mirror(),
        runtime,
        token: config.token.filter(|t| !t.is_empty()).map(Arc::from),
        allowed_hosts: Arc::new(hosts),
        any_host: config.addr.ip().is_unspecified(),
    };
    let router = routes::router(state, config.ui_dir);
    Ok(BoundServer {
        listener,
        router,
        local_addr,
    })
}

/// The Host headers that name this server: its loopback names, and the bound address itself.
fn allowed_hosts(addr: SocketAddr, port: u16) -> Vec<String> {
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
        // SocketAddr's form brackets IPv6 (`[fd00::1]:7777`), as a Host header does.
        hosts.push(SocketAddr::new(addr.ip(), port).to_string());
    }
    hosts
}

/// [`bind`] over parts the caller runs itself (tests drive their own worker and mirror).
pub async fn bind_with_mirror(
    core: Arc<Core>,
    worker: Option<Worker>,
    mirror: Option<Arc<reviewdesk_sync::Mirror>>,
    config: ServerConfig,
) -> Result<BoundServer, ServeError> {
    bind(AppRuntime::from_parts(core, worker, mirror).await?, config).await
}

impl BoundServer {
    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_loopback_ipv6_address_is_its_own_host_in_brackets() {
        let hosts = allowed_hosts("[fd00::2]:7777".parse().unwrap(), 7777);
        assert!(hosts.contains(&"[fd00::2]:7777".to_string()), "{hosts:?}");
        let v4 = allowed_hosts("192.0.2.7:80".parse().unwrap(), 80);
        assert!(v4.contains(&"192.0.2.7:80".to_string()), "{v4:?}");
    }
}
