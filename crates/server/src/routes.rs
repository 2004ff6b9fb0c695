//! The routes: one per command of the API declaration (`reviewdesk_api::visit_all`), each turning
//! the request into the command's arguments and its answer into JSON; plus the event stream, the
//! OpenAPI document, workspace files and the UI.

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use axum::{Json, Router};
use reviewdesk_api::{Body, Command, Method, Visit};
use reviewdesk_core::Source;
use serde_json::Value;
use std::path::PathBuf;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::AppState;
use crate::error::HttpError;
use crate::guard::ApiJson;

/// The code of an answer for a path no route serves.
pub const NO_ROUTE: &str = "no_route";

/// A route for every command the declaration offers over HTTP.
struct CommandRoutes(Router<AppState>);

impl Visit for CommandRoutes {
    fn command<C: Command>(&mut self) {
        let Some(http) = C::DOORS.http else {
            return;
        };
        let route: MethodRouter<AppState> = match http.method {
            Method::Get => get(handle::<C>),
            Method::Post => post(handle::<C>),
            Method::Put => put(handle::<C>),
        };
        // Two commands on one path (GET and POST /tasks) merge into one method router.
        self.0 = std::mem::take(&mut self.0).route(http.path, route);
    }
}

/// Builds the router.
pub fn router(state: AppState, ui_dir: Option<PathBuf>) -> Router {
    let mut commands = CommandRoutes(Router::new());
    reviewdesk_api::visit_all(&mut commands);
    let api = commands
        .0
        .route("/events", get(events))
        .route(
            "/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .fallback(|| async {
            HttpError::new(StatusCode::NOT_FOUND, NO_ROUTE, "no such API route")
        });
    let ui = ui_dir.clone();
    Router::new()
        .nest("/api", api)
        .route("/files/{*path}", get(crate::files::workspace_file))
        .fallback(move |uri: Uri, headers: HeaderMap| {
            let ui = ui.clone();
            async move {
                crate::files::ui_file(
                    ui,
                    uri.path().to_string(),
                    uri.query(),
                    headers,
                )
                .await
            }
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

/// One command over HTTP: its arguments from the path placeholders plus the query string (a GET)
/// or the JSON body (a write: the `body` argument, or nothing when the command takes none); its
/// answer as JSON with the declared success status.
async fn handle<C: Command>(
    State(s): State<AppState>,
    req: Request,
) -> Result<Response, HttpError> {
    let Some(http) = C::DOORS.http else {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            NO_ROUTE,
            "no such API route",
        ));
    };
    let (mut parts, body) = req.into_parts();
    let params: Vec<(String, String)> = RawPathParams::from_request_parts(&mut parts, &s)
        .await
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let answer = match http.body {
        Body::None => {
            // Typed from the query string (repeated keys make a list), path values added.
            let query = parts.uri.query().unwrap_or("");
            // The serializer is not Send: it must not live across the await below.
            let form = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form_urlencoded::parse(query.as_bytes()))
                .extend_pairs(&params)
                .finish();
            let typed: C = serde_html_form::from_str(&form).map_err(|e| {
                HttpError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    format!("invalid query: {e}"),
                )
            })?;
            reviewdesk_api::answer(s.app.clone(), typed, Source::Browser).await
        }
        Body::Empty | Body::Json(_) => {
            let req = Request::from_parts(parts, body);
            let ApiJson(json) = ApiJson::<Value>::from_request(req, &s).await?;
            let mut args = serde_json::Map::new();
            for (k, v) in params {
                args.insert(k, Value::String(v));
            }
            if matches!(http.body, Body::Json(_)) {
                args.insert("body".into(), json);
            }
            reviewdesk_api::run_json::<C>(s.app.clone(), Value::Object(args), Source::Browser).await
        }
    }?;
    let status = StatusCode::from_u16(http.ok).unwrap_or(StatusCode::OK);
    Ok(if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        let json: Box<str> = answer.into();
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            String::from(json),
        )
            .into_response()
    })
}

async fn events(State(s): State<AppState>) -> Response {
    // Subscribed first, then the position: the stream opens with where it starts, so a page
    // whose board read already reflects that point need not read the board again.
    let events = s.feed.subscribe();
    let start = Event::default()
        .event("position")
        .data(format!("{{\"through\":{}}}", s.feed.position()));
    let stream = BroadcastStream::new(events).filter_map(|ev| {
        // A lagging client skips what it missed; the next event makes it refetch.
        let ev = ev.ok()?;
        Event::default()
            .event("domain")
            .json_data(&ev)
            .ok()
            .map(Ok::<_, std::convert::Infallible>)
    });
    // The stream ends when the runtime stops, so a browser left open never holds shutdown up.
    let stream = tokio_stream::once(Ok(start)).chain(stream);
    Sse::new(futures::StreamExt::take_until(stream, s.runtime.stopped()))
        .keep_alive(KeepAlive::default())
        .into_response()
}
