//! The routes: each handler parses, calls one core service, and maps the error.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use reviewdesk_core::api::{
    AppStatus, ApproveRequest, BulkRequest, CancelRequest, FlagRequest, RejectRequest,
};
use reviewdesk_core::store::TaskFilter;
use reviewdesk_core::task_service::TaskDetail;
use reviewdesk_core::{
    AssetName, NewTask, ReviewInput, ReviewService, Source, Status, Task, TaskId, TaskService,
};
use std::path::PathBuf;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::AppState;
use crate::error::HttpError;
use crate::guard::ApiJson;

type ApiResult<T> = Result<T, HttpError>;

/// Builds the router.
pub fn router(state: AppState, ui_dir: Option<PathBuf>) -> Router {
    let api = Router::new()
        .route("/tasks", get(list_tasks).post(create_task))
        .route("/tasks/{id}", get(task_detail))
        .route("/tasks/{id}/approve", post(approve))
        .route("/tasks/{id}/reject", post(reject))
        .route("/tasks/{id}/retry", post(retry))
        .route("/tasks/{id}/cancel", post(cancel))
        .route("/tasks/{id}/queue", post(queue))
        .route("/tasks/{id}/assets/{name}/flag", put(flag))
        .route("/bulk/approve", post(bulk_approve))
        .route("/bulk/reject", post(bulk_reject))
        .route("/status", get(status))
        .route("/worker/pause", post(pause))
        .route("/worker/resume", post(resume))
        .route("/events", get(events))
        .route(
            "/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .fallback(|| async {
            HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
        });
    let ui = ui_dir.clone();
    Router::new()
        .nest("/api", api)
        .route("/files/{*path}", get(crate::files::workspace_file))
        .fallback(move |uri: Uri, headers: HeaderMap| {
            let ui = ui.clone();
            async move { crate::files::ui_file(ui, uri.path().to_string(), headers).await }
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::guard::check,
        ))
        // After the guard layer: authenticated by its signature, not by Host/Origin/token.
        .route("/api/notion/webhook", post(crate::webhook::handle))
        .layer(axum::middleware::from_fn(crate::guard::security_headers))
        .with_state(state)
}

fn task_id(s: &str) -> ApiResult<TaskId> {
    s.parse::<TaskId>()
        .map_err(|e| HttpError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()))
}

async fn list_tasks(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Vec<Task>>> {
    let mut filter = TaskFilter::default();
    for pair in q
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = v.replace('+', " ").replace("%20", " ");
        match k {
            "status" => filter.statuses.push(v.parse::<Status>()?),
            "channel" => filter.channel_id = Some(v),
            "limit" => filter.limit = v.parse().ok(),
            other => {
                return Err(HttpError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    format!("unknown query parameter {other:?}"),
                ));
            }
        }
    }
    Ok(Json(TaskService::new(s.core.clone()).list(&filter).await?))
}

async fn create_task(
    State(s): State<AppState>,
    ApiJson(new): ApiJson<NewTask>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let t = TaskService::new(s.core.clone())
        .create(new, Source::Browser)
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn task_detail(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskDetail>> {
    Ok(Json(
        TaskService::new(s.core.clone())
            .detail(task_id(&id)?)
            .await?,
    ))
}

async fn approve(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ApproveRequest>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        ReviewService::new(s.core.clone())
            .approve(task_id(&id)?, ReviewInput::local(Source::Browser, b.note))
            .await?,
    ))
}

async fn reject(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RejectRequest>,
) -> ApiResult<Json<Task>> {
    let flags = b.flag_names()?;
    Ok(Json(
        ReviewService::new(s.core.clone())
            .reject(
                task_id(&id)?,
                flags,
                ReviewInput::local(Source::Browser, Some(b.feedback)),
            )
            .await?,
    ))
}

async fn retry(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(_): ApiJson<serde_json::Value>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        ReviewService::new(s.core.clone())
            .retry(task_id(&id)?, ReviewInput::local(Source::Browser, None))
            .await?,
    ))
}

async fn queue(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(_): ApiJson<serde_json::Value>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        ReviewService::new(s.core.clone())
            .queue(task_id(&id)?, Source::Browser)
            .await?,
    ))
}

async fn cancel(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CancelRequest>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        ReviewService::new(s.core.clone())
            .cancel(task_id(&id)?, ReviewInput::local(Source::Browser, b.reason))
            .await?,
    ))
}

async fn flag(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    ApiJson(b): ApiJson<FlagRequest>,
) -> ApiResult<StatusCode> {
    let name = AssetName::parse(name)?;
    ReviewService::new(s.core.clone())
        .flag(task_id(&id)?, &name, b.flagged, b.note, Source::Browser)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn bulk_approve(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<BulkRequest>,
) -> ApiResult<Json<Vec<Task>>> {
    Ok(Json(
        ReviewService::new(s.core.clone())
            .bulk_approve(&b.task_ids, ReviewInput::local(Source::Browser, b.reason))
            .await?,
    ))
}

async fn bulk_reject(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<BulkRequest>,
) -> ApiResult<Json<Vec<Task>>> {
    Ok(Json(
        ReviewService::new(s.core.clone())
            .bulk_reject(
                &b.task_ids,
                None,
                ReviewInput::local(Source::Browser, b.reason),
            )
            .await?,
    ))
}

async fn status(State(s): State<AppState>) -> ApiResult<Json<AppStatus>> {
    Ok(Json(s.runtime.status().await?))
}

async fn pause(
    State(s): State<AppState>,
    ApiJson(_): ApiJson<serde_json::Value>,
) -> ApiResult<Json<AppStatus>> {
    Ok(Json(s.runtime.pause_worker().await?))
}

async fn resume(
    State(s): State<AppState>,
    ApiJson(_): ApiJson<serde_json::Value>,
) -> ApiResult<Json<AppStatus>> {
    Ok(Json(s.runtime.resume_worker().await?))
}

async fn events(State(s): State<AppState>) -> Response {
    let stream = BroadcastStream::new(s.feed.subscribe()).filter_map(|ev| {
        // A lagging client skips what it missed; the next event makes it refetch.
        let ev = ev.ok()?;
        Event::default()
            .event("domain")
            .json_data(&ev)
            .ok()
            .map(Ok::<_, std::convert::Infallible>)
    });
    // The stream ends when the runtime stops, so a browser left open never holds shutdown up.
    Sse::new(futures::StreamExt::take_until(stream, s.runtime.stopped()))
        .keep_alive(KeepAlive::default())
        .into_response()
}
