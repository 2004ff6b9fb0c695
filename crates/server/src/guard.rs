//! Request guards: Host and Origin checks (DNS rebinding, CSRF), JSON-only writes, and the bearer
//! token when the server listens beyond loopback.

use axum::extract::{FromRequest, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::HttpError;

const TOKEN_COOKIE: &str = "reviewdesk_token";

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Compare hashes so the time does not depend on where the first difference is.
    blake3::hash(a) == blake3::hash(b)
}

/// Checks Host, Origin and (when configured) the token on every request.
pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    // A page on another site that resolves its own name to 127.0.0.1 (DNS rebinding) sends its
    // own name as Host: refuse anything that is not this server.
    if !state
        .allowed_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host))
        && !state.any_host
    {
        return HttpError::new(
            StatusCode::FORBIDDEN,
            "bad_host",
            format!("requests for host {host:?} are refused"),
        )
        .into_response();
    }
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let own = origin
            .strip_prefix("http://")
            .is_some_and(|o| o.eq_ignore_ascii_case(host));
        if !own {
            return HttpError::new(
                StatusCode::FORBIDDEN,
                "bad_origin",
                format!("requests from {origin} are refused"),
            )
            .into_response();
        }
    } else if writes
        && headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|s| s == "cross-site")
    {
        return HttpError::new(
            StatusCode::FORBIDDEN,
            "bad_origin",
            "cross-site requests are refused",
        )
        .into_response();
    }
    if let Some(token) = &state.token {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let cookie = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| {
                c.split(';')
                    .filter_map(|p| p.trim().strip_prefix(&format!("{TOKEN_COOKIE}=")))
                    .next()
            });
        let query = token_in_query(req.uri().query());
        let given = bearer.or(cookie).or(query);
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            return HttpError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid token is required (Authorization: Bearer …)",
            )
            .into_response();
        }
        if query.is_some() && bearer.is_none() {
            // Opening `/?token=…` once in a browser keeps it in a strict cookie from then on.
            let mut resp = next.run(req).await;
            if let Ok(v) =
                format!("{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/").parse()
            {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            return resp;
        }
    }
    next.run(req).await
}

/// A JSON body: requires `Content-Type: application/json` (so a plain HTML form cannot post) and
/// turns parse failures into 422 answers that name the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json")
        {
            return Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "json_required",
                "send a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| HttpError::new(StatusCode::BAD_REQUEST, "bad_body", e.to_string()))?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| {
            HttpError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("invalid body: {e}"),
            )
        })
    }
}

/// The page may load only its own scripts, styles, images and API: no inline script, no framing,
/// no plugins, no form posts elsewhere. Inline `style` attributes stay allowed (Svelte sets them).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Adds the security headers to every answer (the UI, the API and the files).
pub async fn security_headers(req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // A workspace file carries its own, stricter policy (a sandbox): keep it.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    res
}

/// The token handed over in a URL's query (`/?token=…`, the browser's first visit), if any.
pub(crate) fn token_in_query(query: Option<&str>) -> Option<&str> {
    query.and_then(|q| q.split('&').find_map(|p| p.strip_prefix("token=")))
}
