//! The HTTP server: router, the gate every `/v1` request passes, and a hyper accept loop that
//! can drop a connection without answering (which axum::serve cannot express).

use std::num::NonZeroU32;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State as AxState};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use governor::clock::{Clock as _, DefaultClock};
use governor::{Quota, RateLimiter};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::error::ApiError;
use crate::faults::FaultKind;
use crate::{LoggedRequest, RateLimit, Shared, api, control};

/// Versions whose shapes the double serves (data sources); anything else is refused.
const VERSIONS: &[&str] = &["2025-09-03", "2026-03-11"];
/// Bodies up to 64 MiB: multi-part parts are at most 20 MiB, single-part sends 20 MB.
const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Logged bodies are cut here so a log of file sends stays small.
const LOG_BODY_LIMIT: usize = 64 * 1024;

/// Marks a response whose connection must be closed without sending it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

pub(crate) fn limiter(rate: &RateLimit) -> governor::DefaultDirectRateLimiter {
    let period = Duration::from_secs_f64(1.0 / rate.per_second.max(0.001));
    let quota = Quota::with_period(period)
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(rate.burst.max(1)).expect("non-zero"));
    RateLimiter::direct(quota)
}

pub(crate) fn router(shared: Shared) -> Router {
    let v1 = Router::new()
        .route("/v1/users/me", get(api::users_me))
        .route("/v1/users", get(api::users_list))
        .route("/v1/users/{id}", get(api::user_get))
        .route("/v1/databases", post(api::database_create))
        .route(
            "/v1/databases/{id}",
            get(api::database_get).patch(api::database_update),
        )
        .route(
            "/v1/data_sources/{id}",
            get(api::data_source_get).patch(api::data_source_update),
        )
        .route("/v1/data_sources/{id}/query", post(api::data_source_query))
        .route("/v1/search", post(api::search))
        .route("/v1/pages", post(api::page_create))
        .route("/v1/pages/{id}", get(api::page_get).patch(api::page_update))
        .route("/v1/pages/{id}/properties/{prop}", get(api::page_property))
        .route(
            "/v1/blocks/{id}/children",
            patch(api::block_children_append).get(api::block_children_list),
        )
        .route(
            "/v1/file_uploads",
            post(api::upload_create).get(api::upload_list),
        )
        .route("/v1/file_uploads/{id}", get(api::upload_get))
        .route("/v1/file_uploads/{id}/send", post(api::upload_send))
        .route("/v1/file_uploads/{id}/complete", post(api::upload_complete))
        .fallback(invalid_url)
        .method_not_allowed_fallback(invalid_url)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    Router::new()
        .route("/__files/{id}/{name}", get(api::hosted_file))
        .nest("/__control", control::router())
        .merge(v1)
        .with_state(shared)
}

async fn invalid_url() -> ApiError {
    ApiError::new(400, "invalid_request_url", "Invalid request URL.")
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, crate::state::State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every `/v1` request: latency, rendezvous, injected faults, rate limit, token, version; then the handler;
/// then the error body (with request id), the `x-notion-request-id` header and the log entry.
async fn gate(AxState(shared): AxState<Shared>, req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await;
    let is_multipart = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    let (latency, injected, started, meet) = {
        let mut st = lock(&shared);
        let meet = st
            .rendezvous
            .as_mut()
            .and_then(|r| r.arrive(&method, &path));
        (st.latency, st.faults.take(&method, &path), st.started, meet)
    };
    let logged_body = match &bytes {
        Ok(_) if is_multipart => format!(
            "<multipart/form-data, {} bytes>",
            bytes.as_ref().map_or(0, |b| b.len())
        ),
        Ok(b) => String::from_utf8_lossy(&b[..b.len().min(LOG_BODY_LIMIT)]).into_owned(),
        Err(_) => "<unreadable body>".into(),
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(hold) = meet {
        hold.wait().await;
    }
    let mut entry = LoggedRequest {
        method,
        path,
        query,
        body: logged_body,
        status: None,
        code: None,
        request_id: request_id.clone(),
        at_ms: started.elapsed().as_millis() as u64,
        injected: injected.is_some(),
    };
    let mut raw_retry_after: Option<String> = None;
    let mut resp = match (injected, bytes) {
        (Some(i), _) if i.kind == FaultKind::DropConnection => {
            lock(&shared).log.push(entry);
            let mut r = Response::new(Body::empty());
            r.extensions_mut().insert(DropConnection);
            return r;
        }
        (Some(i), _) => {
            let FaultKind::Status(status) = i.kind else {
                unreachable!()
            };
            let mut e = ApiError::for_status(status);
            if e.retry_after.is_some() {
                e.retry_after = Some(i.retry_after);
                raw_retry_after = i.retry_after_header;
            }
            e.into_response()
        }
        (None, Err(_)) => {
            ApiError::new(413, "validation_error", "Request body too large.").into_response()
        }
        (None, Ok(bytes)) => match admit(&shared, &parts.headers) {
            Err(e) => e.into_response(),
            Ok(()) => {
                next.run(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
        },
    };
    if let Some(err) = resp.extensions_mut().remove::<ApiError>() {
        let status = resp.status();
        let mut r = (status, axum::Json(err.body(&request_id))).into_response();
        let raw = raw_retry_after.and_then(|v| HeaderValue::from_str(&v).ok());
        match (err.retry_after, raw) {
            (Some(_), Some(raw)) => {
                r.headers_mut().insert("retry-after", raw);
            }
            (Some(secs), None) => {
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
            }
            _ => {}
        }
        entry.code = Some(err.code);
        resp = r;
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-notion-request-id", v);
    }
    entry.status = Some(resp.status().as_u16());
    lock(&shared).log.push(entry);
    resp
}

/// Rate limit, then the bearer token, then the version header.
fn admit(shared: &Shared, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let st = lock(shared);
    if let Some(l) = &st.limiter
        && let Err(not_until) = l.check()
    {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        return Err(ApiError::rate_limited(
            wait.as_secs_f64().ceil().max(1.0) as u64
        ));
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if st.token_revoked || auth != Some(format!("Bearer {}", st.token).as_str()) {
        return Err(ApiError::unauthorized());
    }
    match headers.get("notion-version").and_then(|v| v.to_str().ok()) {
        None => Err(ApiError::new(
            400,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        )),
        Some(v) if VERSIONS.contains(&v) => Ok(()),
        Some(v) => Err(ApiError::validation(format!(
            "Notion-Version header failed validation: the test double serves {} only, instead was `{v}`.",
            VERSIONS.join(" and ")
        ))),
    }
}

/// Renders `ApiError`s of the control routes (no gate, no log there).
pub(crate) async fn render_errors(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if let Some(err) = resp.extensions_mut().remove::<ApiError>() {
        return (
            StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST),
            axum::Json(err.body("control")),
        )
            .into_response();
    }
    resp
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
