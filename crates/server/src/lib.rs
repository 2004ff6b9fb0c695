//! Review Desk's HTTP server: a JSON API over the core services, server-sent events carrying the
//! domain events, workspace files (thumbnails and full size), the built UI, and an OpenAPI document.
//! Handlers are thin: parse, call the service, map the error.

mod error;
mod files;
mod guard;
mod openapi;
mod routes;
mod webhook;

use axum::Router;
use reviewdesk_core::Core;
use reviewdesk_core::worker::Worker;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use error::HttpError;

/// What the server needs to run.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind; loopback unless the creator says otherwise.
    pub addr: SocketAddr,
    /// Required bearer token when binding anything but loopback.
    pub token: Option<String>,
    /// Folder with the built UI (index.html); `None` serves a short page saying how to build it.
    pub ui_dir: Option<PathBuf>,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The core.
    pub core: Arc<Core>,
    /// The in-process worker, if this server runs one.
    pub worker: Option<Worker>,
    /// Domain events read back from the log (changes made by any process).
    pub feed: reviewdesk_core::feed::EventFeed,
    /// The latest worker state seen on the event bus.
    pub worker_state: Arc<std::sync::Mutex<reviewdesk_core::WorkerState>>,
    /// The Notion mirror, when this server runs one.
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
    /// The event log could not be read.
    #[error("cannot read the event log: {0}")]
    Feed(String),
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

/// A bound server, ready to run.
pub struct BoundServer {
    listener: tokio::net::TcpListener,
    router: Router,
    /// The actual address (port 0 resolved).
    pub local_addr: SocketAddr,
}

/// Binds the listener and builds the router.
pub async fn bind(
    core: Arc<Core>,
    worker: Option<Worker>,
    config: ServerConfig,
) -> Result<BoundServer, ServeError> {
    bind_with_mirror(core, worker, None, config).await
}

/// [`bind`], with a running Notion mirror to report and to feed webhook deliveries to.
pub async fn bind_with_mirror(
    core: Arc<Core>,
    worker: Option<Worker>,
    mirror: Option<Arc<reviewdesk_sync::Mirror>>,
    config: ServerConfig,
) -> Result<BoundServer, ServeError> {
    if !config.addr.ip().is_loopback() && config.token.as_deref().is_none_or(str::is_empty) {
        return Err(ServeError::TokenRequired(config.addr));
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
    let port = local_addr.port();
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    if !config.addr.ip().is_loopback() && !config.addr.ip().is_unspecified() {
        hosts.push(format!("{}:{port}", config.addr.ip()));
    }
    let feed = reviewdesk_core::feed::EventFeed::spawn(
        core.clone(),
        std::time::Duration::from_millis(250),
    )
    .await
    .map_err(|e| ServeError::Feed(e.to_string()))?;
    let state = AppState {
        feed,
        worker_state: Arc::new(std::sync::Mutex::new(if worker.is_some() {
            reviewdesk_core::WorkerState::Idle
        } else {
            reviewdesk_core::WorkerState::Stopped
        })),
        core,
        worker,
        mirror,
        token: config.token.filter(|t| !t.is_empty()).map(Arc::from),
        allowed_hosts: Arc::new(hosts),
        any_host: config.addr.ip().is_unspecified(),
    };
    // Track the worker's state for the status bar.
    {
        let mut rx = state.core.events.subscribe();
        let ws = state.worker_state.clone();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(reviewdesk_core::DomainEvent::Worker { state }) => {
                        *ws.lock().unwrap_or_else(|e| e.into_inner()) = state
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        });
    }
    let router = routes::router(state, config.ui_dir);
    Ok(BoundServer {
        listener,
        router,
        local_addr,
    })
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
