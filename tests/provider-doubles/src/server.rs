//! What the three doubles share: the gate every API request passes (latency, injected faults,
//! the request log), the control routes, and a hyper accept loop that can drop a connection
//! without answering (which `axum::serve` cannot express).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::{FaultKind, FaultRule, LoggedRequest};

/// Bodies up to 64 MiB (Gemini takes 20 MB of images; a Kling image of 10 MB grows by a third
/// in base64).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// What each provider adds to the shared gate.
pub(crate) trait Api: Send + Sync + 'static {
    /// The provider's own error answer for an injected status (and optional provider code).
    fn fault(&self, status: u16, code: Option<&str>, retry_after: Option<Duration>) -> Response;
    /// A label naming the credential a request carries (never the secret itself).
    fn credential(&self, headers: &HeaderMap) -> String;
    /// Provider-specific control requests (`POST /__control/trigger`).
    fn trigger(&self, trigger: &str, word: &str) -> bool;
}

/// The log, the fault rules and the latency of one double.
#[derive(Debug)]
pub(crate) struct Common {
    pub started: Instant,
    pub log: Vec<LoggedRequest>,
    pub faults: Vec<FaultRule>,
    pub latency: Duration,
}

impl Common {
    fn take_fault(&mut self, method: &str, path: &str) -> Option<FaultRule> {
        let i = self.faults.iter().position(|r| {
            r.count > 0
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let rule = &mut self.faults[i];
        rule.count -= 1;
        let taken = rule.clone();
        self.faults.retain(|r| r.count > 0);
        Some(taken)
    }
}

/// A double's shared state: the common part and the provider's own.
pub(crate) struct Shared<A> {
    pub common: Mutex<Common>,
    pub api: A,
}

impl<A> Shared<A> {
    pub fn new(api: A) -> Self {
        Self {
            common: Mutex::new(Common {
                started: Instant::now(),
                log: Vec::new(),
                faults: Vec::new(),
                latency: Duration::ZERO,
            }),
            api,
        }
    }

    pub fn common(&self) -> MutexGuard<'_, Common> {
        self.common.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Marks a response whose connection must be closed without sending it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// The provider's error code of an error answer, for the log (`API_KEY_INVALID`, `1303`, …).
#[derive(Debug, Clone)]
pub(crate) struct LogCode(pub String);

#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

/// The API routes of a double behind the gate, plus the control routes.
pub(crate) fn router<A: Api>(api: Router<Arc<Shared<A>>>, shared: Arc<Shared<A>>) -> Router {
    let gated = api
        .layer(middleware::from_fn_with_state(shared.clone(), gate::<A>))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    let control = Router::new()
        .route(
            "/__control/requests",
            get(control_requests::<A>).delete(control_clear_requests::<A>),
        )
        .route(
            "/__control/faults",
            post(control_add_fault::<A>).delete(control_clear_faults::<A>),
        )
        .route("/__control/latency", put(control_latency::<A>))
        .route("/__control/trigger", post(control_trigger::<A>));
    control.merge(gated).with_state(shared)
}

/// Redacts `key=` (Gemini accepts its key as a query parameter too) so no secret is logged.
fn redact_query(q: &str) -> String {
    q.split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("key") || k.to_lowercase().contains("key") => {
                format!("{k}=***")
            }
            _ => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Every API request runs to its end and its log entry even when the client goes away (a
/// timeout, a closed connection), as a real server finishes what it started.
async fn gate<A: Api>(state: State<Arc<Shared<A>>>, req: Request, next: Next) -> Response {
    match tokio::spawn(gate_inner(state, req, next)).await {
        Ok(resp) => resp,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Latency, then an injected fault or the handler, then the log entry.
async fn gate_inner<A: Api>(
    State(shared): State<Arc<Shared<A>>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(redact_query);
    let credential = shared.api.credential(req.headers());
    let (latency, fault, started) = {
        let mut c = shared.common();
        (c.latency, c.take_fault(&method, &path), c.started)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut entry = LoggedRequest {
        method,
        path,
        query,
        status: None,
        code: None,
        credential,
        at_ms: started.elapsed().as_millis() as u64,
        injected: fault.as_ref().map(|f| f.kind.clone()),
    };
    let kind = fault.as_ref().map(|f| f.kind.clone());
    let mut resp = match kind {
        Some(FaultKind::DropConnection) => {
            shared.common().log.push(entry);
            return dropped();
        }
        Some(FaultKind::Status(status)) => {
            let f = fault.as_ref();
            shared.api.fault(
                status,
                f.and_then(|f| f.code.as_deref()),
                f.and_then(|f| f.retry_after_ms).map(Duration::from_millis),
            )
        }
        Some(FaultKind::DropAfterProcessing) => {
            let resp = next.run(req).await;
            // Read the whole answer (as if it were about to be sent), then lose it.
            let status = resp.status().as_u16();
            let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
            entry.code = Some(format!("processed {status}, connection dropped"));
            shared.common().log.push(entry);
            return dropped();
        }
        Some(FaultKind::DelayAnswer { millis }) => {
            let mut resp = next.run(req).await;
            finish_entry(&mut entry, &mut resp);
            shared.common().log.push(entry);
            tokio::time::sleep(Duration::from_millis(millis)).await;
            return resp;
        }
        None => next.run(req).await,
    };
    finish_entry(&mut entry, &mut resp);
    shared.common().log.push(entry);
    resp
}

fn dropped() -> Response {
    let mut r = Response::new(Body::empty());
    r.extensions_mut().insert(DropConnection);
    r
}

fn finish_entry(entry: &mut LoggedRequest, resp: &mut Response) {
    entry.status = Some(resp.status().as_u16());
    if let Some(LogCode(code)) = resp.extensions_mut().remove::<LogCode>() {
        entry.code = Some(code);
    }
}

async fn control_requests<A: Api>(State(s): State<Arc<Shared<A>>>) -> Response {
    axum::Json(s.common().log.clone()).into_response()
}

async fn control_clear_requests<A: Api>(State(s): State<Arc<Shared<A>>>) -> StatusCode {
    s.common().log.clear();
    StatusCode::NO_CONTENT
}

async fn control_add_fault<A: Api>(
    State(s): State<Arc<Shared<A>>>,
    axum::Json(rule): axum::Json<FaultRule>,
) -> StatusCode {
    s.common().faults.push(rule);
    StatusCode::NO_CONTENT
}

async fn control_clear_faults<A: Api>(State(s): State<Arc<Shared<A>>>) -> StatusCode {
    s.common().faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Latency {
    millis: u64,
}

async fn control_latency<A: Api>(
    State(s): State<Arc<Shared<A>>>,
    axum::Json(l): axum::Json<Latency>,
) -> StatusCode {
    s.common().latency = Duration::from_millis(l.millis);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Trigger {
    trigger: String,
    word: String,
}

async fn control_trigger<A: Api>(
    State(s): State<Arc<Shared<A>>>,
    axum::Json(t): axum::Json<Trigger>,
) -> Response {
    if s.api.trigger(&t.trigger, &t.word) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!("unknown trigger {:?} for this double", t.trigger),
        )
            .into_response()
    }
}

/// Bind `addr`, returning the listener and its base URL.
pub(crate) async fn bind(addr: std::net::SocketAddr) -> std::io::Result<(TcpListener, String)> {
    let listener = TcpListener::bind(addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

/// Accept connections until the task is aborted; dropping the JoinSet aborts every connection.
pub(crate) async fn serve(listener: TcpListener, app: Router) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let app = app.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let app = app.clone();
                        async move {
                            let resp = app.oneshot(req.map(Body::new)).await.unwrap_or_else(|e| match e {});
                            if resp.extensions().get::<DropConnection>().is_some() {
                                // hyper closes the connection without a response when the service fails.
                                Err(Dropped)
                            } else {
                                Ok(resp)
                            }
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// The handle every double wraps: the shared state, the URL and the server task.
pub(crate) struct Running<A> {
    pub shared: Arc<Shared<A>>,
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl<A> Drop for Running<A> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<A: Api> Running<A> {
    pub async fn start(
        bind_addr: std::net::SocketAddr,
        api: A,
        routes: Router<Arc<Shared<A>>>,
    ) -> std::io::Result<Self> {
        let (listener, url) = bind(bind_addr).await?;
        Ok(Self::start_on(listener, url, api, routes))
    }

    /// Serve on a listener already bound (when the API must know its URL first).
    pub fn start_on(
        listener: TcpListener,
        url: String,
        api: A,
        routes: Router<Arc<Shared<A>>>,
    ) -> Self {
        let shared = Arc::new(Shared::new(api));
        let app = router(routes, shared.clone());
        let task = tokio::spawn(serve(listener, app));
        Self { shared, url, task }
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.common().log.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.common().log.clear();
    }

    pub fn inject(&self, rule: FaultRule) {
        self.shared.common().faults.push(rule);
    }

    pub fn clear_faults(&self) {
        self.shared.common().faults.clear();
    }

    pub fn set_latency(&self, latency: Duration) {
        self.shared.common().latency = latency;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_queries_are_redacted() {
        assert_eq!(redact_query("key=AIzaSECRET&alt=json"), "key=***&alt=json");
        assert_eq!(
            redact_query("start_time=1&end_time=2"),
            "start_time=1&end_time=2"
        );
    }
}
