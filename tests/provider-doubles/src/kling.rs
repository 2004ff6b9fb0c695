//! The Kling double: `POST /v1/videos/image2video`, `GET /v1/videos/image2video/{id}`,
//! `GET /account/costs`, and the result videos under `/__files/videos/`.
//!
//! As in providers.md §2: `Authorization: Bearer <JWT>` (HS256, `iss` = access key, `exp`/`nbf`
//! checked against the double's clock) or a console API key; the envelope
//! `{"code","message","request_id","data"}`; 401 1000–1004, 400 1200/1201, 404 1203, 400 1301,
//! 429 1303 past K unfinished tasks. A task answers `submitted`, then `processing`, for
//! configurable numbers of polls, then `succeed` with a URL that serves a real MP4 (or `failed`
//! with `task_status_msg` when its prompt holds a configured word). A task holds its slot until a
//! poll has returned its end state.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::media::{image_dimensions, mp4};
use crate::server::{Api, LogCode, Running, Shared};

type St = State<Arc<Shared<KlingApi>>>;

/// The models the double knows by default.
pub const MODELS: &[&str] = &[
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
];
const IMAGE_LIMIT: usize = 10 * 1024 * 1024;
const TEXT_LIMIT: usize = 2500;
/// What a task refused after acceptance says.
pub const REFUSAL_MESSAGE: &str =
    "Failure to pass the risk control system: the generated video may contain sensitive content";

/// How to start a Kling double.
#[derive(Clone)]
pub struct KlingConfig {
    /// The access key (`iss` of the JWT).
    pub access_key: String,
    /// The secret key the JWT is signed with.
    pub secret_key: String,
    /// A console API key also accepted as the bearer token.
    pub api_key: Option<String>,
    /// Known `model_name`s; others answer 404 1203.
    pub models: Vec<String>,
    /// K: unfinished tasks allowed at once; one more answers 429 1303.
    pub max_running: usize,
    /// Polls answering `submitted` before `processing`.
    pub polls_submitted: u32,
    /// Polls answering `processing` before the end state.
    pub polls_processing: u32,
    /// Address to bind (default `127.0.0.1:0`).
    pub bind: SocketAddr,
}

impl std::fmt::Debug for KlingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KlingConfig")
            .field("access_key", &"***")
            .field("secret_key", &"***")
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("models", &self.models)
            .field("max_running", &self.max_running)
            .field("polls_submitted", &self.polls_submitted)
            .field("polls_processing", &self.polls_processing)
            .field("bind", &self.bind)
            .finish()
    }
}

impl Default for KlingConfig {
    fn default() -> Self {
        Self {
            access_key: "kling-double-access".into(),
            secret_key: "kling-double-secret".into(),
            api_key: None,
            models: MODELS.iter().map(|m| m.to_string()).collect(),
            max_running: 3,
            polls_submitted: 1,
            polls_processing: 2,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl KlingConfig {
    /// Accept JWTs issued by `access` and signed with `secret`.
    pub fn keys(mut self, access: &str, secret: &str) -> Self {
        self.access_key = access.to_owned();
        self.secret_key = secret.to_owned();
        self
    }

    /// Also accept this console API key as the bearer token.
    pub fn api_key(mut self, key: &str) -> Self {
        self.api_key = Some(key.to_owned());
        self
    }

    /// Allow K unfinished tasks at once.
    pub fn max_running(mut self, k: usize) -> Self {
        self.max_running = k;
        self
    }

    /// Polls answering `submitted`, then `processing`, before the end state.
    pub fn polls(mut self, submitted: u32, processing: u32) -> Self {
        self.polls_submitted = submitted;
        self.polls_processing = processing;
        self
    }

    /// Bind this address.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }
}

/// A task as the double holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// Kling's task id.
    pub task_id: String,
    /// The caller's `external_task_id`, if given.
    pub external_task_id: Option<String>,
    /// `model_name`.
    pub model: String,
    /// `std` or `pro`.
    pub mode: String,
    /// 5 or 10.
    pub duration: u32,
    /// The prompt.
    pub prompt: String,
    /// Polls answered so far.
    pub polls: u32,
    /// The status the last poll answered (`submitted` before any).
    pub status: String,
    /// Whether a poll has returned its end state (its slot is free again).
    pub finished: bool,
}

#[derive(Debug)]
struct Task {
    state: TaskState,
    fail: bool,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug)]
struct KlingState {
    access_key: String,
    secret_key: String,
    api_key: Option<String>,
    models: Vec<String>,
    max_running: usize,
    polls_submitted: u32,
    polls_processing: u32,
    clock_offset: Duration,
    refuse_prompts: Vec<String>,
    fail_prompts: Vec<String>,
    tasks: Vec<Task>,
    /// The `external_task_id` of every create request that reached validation.
    create_requests: Vec<Option<String>>,
}

impl KlingState {
    fn now_secs(&self) -> i64 {
        let t = SystemTime::now() + self.clock_offset;
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn now_ms(&self) -> i64 {
        let t = SystemTime::now() + self.clock_offset;
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    fn running(&self) -> usize {
        self.tasks.iter().filter(|t| !t.state.finished).count()
    }

    fn find(&mut self, id: &str) -> Option<&mut Task> {
        self.tasks
            .iter_mut()
            .find(|t| t.state.task_id == id || t.state.external_task_id.as_deref() == Some(id))
    }
}

/// The Kling part of the shared state.
pub(crate) struct KlingApi {
    state: Mutex<KlingState>,
    url: String,
}

impl KlingApi {
    fn lock(&self) -> MutexGuard<'_, KlingState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Kling's wording of each code (its error-code table).
fn code_message(code: u32) -> &'static str {
    match code {
        1000 => "Authentication failed",
        1001 => "Authorization is empty",
        1002 => "Authorization is invalid",
        1003 => "Authorization is not yet valid",
        1004 => "Authorization has expired",
        1100 => "Account exception",
        1101 => "Account in arrears (postpaid scenario)",
        1102 => "Resource pack depleted or expired (prepaid scenario)",
        1103 => "Unauthorized access to requested resource, such as API/model",
        1200 => "Invalid request parameters",
        1201 => "Invalid parameters, such as incorrect key or illegal value",
        1203 => "The requested resource does not exist, such as model",
        1301 => "Failure to pass the risk control system",
        1302 => "The API request is too fast, exceeding the platform's rate limit",
        1303 => "parallel task over resource pack limit",
        5000 => "Server internal error",
        5001 => "Server temporarily unavailable, usually due to maintenance",
        5002 => "Server internal timeout, usually due to a backlog",
        _ => "Unknown error",
    }
}

fn http_for(code: u32) -> u16 {
    match code {
        1000..=1004 => 401,
        1100..=1102 | 1302 | 1303 => 429,
        1103 => 403,
        1203 => 404,
        5000 => 500,
        5001 => 503,
        5002 => 504,
        _ => 400,
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn kerr(code: u32, message: impl Into<String>) -> Response {
    let http = http_for(code);
    let body =
        json!({"code": code, "message": message.into(), "request_id": request_id(), "data": null});
    let mut r = (
        StatusCode::from_u16(http).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(body),
    )
        .into_response();
    r.extensions_mut().insert(LogCode(code.to_string()));
    r
}

fn kerr_std(code: u32) -> Response {
    kerr(code, code_message(code))
}

fn ok(data: Value) -> Response {
    axum::Json(json!({"code": 0, "message": "SUCCEED", "request_id": request_id(), "data": data}))
        .into_response()
}

/// A JWT as Kling expects it: HS256 over `{"iss","exp","nbf"}`. For tests that need a token of
/// their own (an expired one, one signed with the wrong secret).
pub fn sign_jwt(access_key: &str, secret_key: &str, exp: i64, nbf: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload =
        URL_SAFE_NO_PAD.encode(json!({"iss": access_key, "exp": exp, "nbf": nbf}).to_string());
    let signing = format!("{header}.{payload}");
    let sig = hmac_sha256(secret_key.as_bytes(), signing.as_bytes());
    format!("{signing}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// The bearer token's verdict: the credential label, or the Kling code to answer.
fn verify(st: &KlingState, headers: &HeaderMap) -> Result<&'static str, u32> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if auth.is_empty() {
        return Err(1001);
    }
    let Some(token) = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
    else {
        return Err(1002);
    };
    if token.is_empty() {
        return Err(1001);
    }
    if st.api_key.as_deref() == Some(token) {
        return Ok("api key");
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(1002);
    };
    let header: Value = b64url(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(1002u32)?;
    let payload: Value = b64url(p)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(1002u32)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(1002);
    }
    if payload.get("iss").and_then(Value::as_str) != Some(st.access_key.as_str()) {
        return Err(1000);
    }
    let expected = hmac_sha256(st.secret_key.as_bytes(), format!("{h}.{p}").as_bytes());
    let given = b64url(s).unwrap_or_default();
    if given.len() != expected.len()
        || given
            .iter()
            .zip(&expected)
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            != 0
    {
        return Err(1000);
    }
    let now = st.now_secs();
    let (Some(exp), nbf) = (
        payload.get("exp").and_then(Value::as_i64),
        payload.get("nbf").and_then(Value::as_i64),
    ) else {
        return Err(1002);
    };
    if nbf.is_some_and(|nbf| nbf > now) {
        return Err(1003);
    }
    if exp <= now {
        return Err(1004);
    }
    Ok("jwt")
}

fn authorize(api: &KlingApi, headers: &HeaderMap) -> Result<(), Response> {
    verify(&api.lock(), headers).map(|_| ()).map_err(kerr_std)
}

impl Api for KlingApi {
    fn fault(&self, status: u16, code: Option<&str>, retry_after: Option<Duration>) -> Response {
        let code = code
            .and_then(|c| c.parse::<u32>().ok())
            .unwrap_or(match status {
                401 => 1000,
                403 => 1103,
                404 => 1203,
                429 => 1302,
                500 => 5000,
                503 => 5001,
                504 => 5002,
                _ => 1200,
            });
        let mut r = kerr_std(code);
        *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        if let Some(d) = retry_after {
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(d.as_secs().max(1)));
        }
        r
    }

    fn credential(&self, headers: &HeaderMap) -> String {
        match verify(&self.lock(), headers) {
            Ok(label) => label.into(),
            Err(1001) => "none".into(),
            Err(1003 | 1004) => "jwt (out of its validity)".into(),
            Err(_) => "unknown bearer".into(),
        }
    }

    fn trigger(&self, trigger: &str, word: &str) -> bool {
        let mut st = self.lock();
        match trigger {
            "refuse_prompts" => st.refuse_prompts.push(word.to_owned()),
            "fail_tasks" => st.fail_prompts.push(word.to_owned()),
            _ => return false,
        }
        true
    }
}

fn hit(words: &[String], text: &str) -> bool {
    let t = text.to_lowercase();
    words.iter().any(|w| t.contains(&w.to_lowercase()))
}

fn bad(message: impl Into<String>) -> Response {
    kerr(1201, message)
}

struct Create {
    model: String,
    mode: String,
    duration: u32,
    prompt: String,
    negative: String,
    external: Option<String>,
}

fn validate(st: &KlingState, v: &Value) -> Result<Create, Response> {
    let Some(obj) = v.as_object() else {
        return Err(kerr(
            1200,
            "Invalid request parameters: the body must be a JSON object",
        ));
    };
    let text = |name: &str| -> Result<Option<String>, Response> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("{name} must be a string"))),
        }
    };
    let model = text("model_name")?.unwrap_or_else(|| "kling-v1".into());
    if !st.models.contains(&model) {
        return Err(kerr(
            1203,
            format!("model_name {model} does not exist or is not supported"),
        ));
    }
    let Some(image) = text("image")? else {
        return Err(kerr(1200, "Invalid request parameters: image is required"));
    };
    if image.starts_with("data:") {
        return Err(bad(
            "image must be a URL or Base64 without the data: prefix (e.g. data:image/png;base64,)",
        ));
    }
    if image.starts_with("http://") || image.starts_with("https://") {
        return Err(bad("image URLs are not fetched by the double: send Base64"));
    }
    let Ok(bytes) = STANDARD.decode(image.trim()) else {
        return Err(bad("image is not valid Base64"));
    };
    if bytes.len() > IMAGE_LIMIT {
        return Err(bad("image must be at most 10MB"));
    }
    let Some((_, w, h)) = image_dimensions(&bytes) else {
        return Err(bad("image must be a JPG or PNG"));
    };
    if w.min(h) < 300 {
        return Err(bad(format!(
            "image must be at least 300px wide and high, got {w}x{h}"
        )));
    }
    let ratio = w as f64 / h as f64;
    if !(1.0 / 2.5..=2.5).contains(&ratio) {
        return Err(bad(format!(
            "image aspect ratio must be between 1:2.5 and 2.5:1, got {w}x{h}"
        )));
    }
    let prompt = text("prompt")?.unwrap_or_default();
    let negative = text("negative_prompt")?.unwrap_or_default();
    for (name, t) in [("prompt", &prompt), ("negative_prompt", &negative)] {
        if t.chars().count() > TEXT_LIMIT {
            return Err(bad(format!(
                "{name} must be at most {TEXT_LIMIT} characters, got {}",
                t.chars().count()
            )));
        }
    }
    if let Some(c) = obj.get("cfg_scale").filter(|c| !c.is_null())
        && !c.as_f64().is_some_and(|c| (0.0..=1.0).contains(&c))
    {
        return Err(bad("cfg_scale must be a number between 0 and 1"));
    }
    let mode = text("mode")?.unwrap_or_else(|| "std".into());
    if mode != "std" && mode != "pro" {
        return Err(bad(format!("mode must be std or pro, got {mode}")));
    }
    let duration = match obj.get("duration") {
        None | Some(Value::Null) => 5,
        Some(Value::String(d)) if d == "5" => 5,
        Some(Value::String(d)) if d == "10" => 10,
        Some(d) => {
            return Err(bad(format!(
                "duration must be the string \"5\" or \"10\", got {d}"
            )));
        }
    };
    let external = text("external_task_id")?;
    if let Some(e) = &external
        && st
            .tasks
            .iter()
            .any(|t| t.state.external_task_id.as_ref() == Some(e))
    {
        return Err(bad(format!("external_task_id {e} already exists")));
    }
    Ok(Create {
        model,
        mode,
        duration,
        prompt,
        negative,
        external,
    })
}

fn task_json(base: &str, t: &Task) -> Value {
    let s = &t.state;
    let mut data = json!({
        "task_id": s.task_id,
        "task_status": s.status,
        "task_status_msg": if s.status == "failed" { REFUSAL_MESSAGE } else { "" },
        "task_info": {"external_task_id": s.external_task_id},
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    });
    if s.status == "succeed" {
        data["task_result"] = json!({"videos": [{
            "id": format!("{}-video", s.task_id),
            "url": format!("{base}/__files/videos/{}.mp4", s.task_id),
            "duration": s.duration.to_string(),
        }]});
    }
    data
}

async fn create(State(s): St, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorize(&s.api, &headers) {
        return r;
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return kerr(1200, format!("Invalid request parameters: {e}")),
    };
    let mut st = s.api.lock();
    st.create_requests.push(
        v.get("external_task_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    );
    let c = match validate(&st, &v) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if hit(&st.refuse_prompts, &c.prompt) || hit(&st.refuse_prompts, &c.negative) {
        return kerr_std(1301);
    }
    if st.running() >= st.max_running {
        return kerr_std(1303);
    }
    let now = st.now_ms();
    let fail = hit(&st.fail_prompts, &c.prompt);
    let task = Task {
        state: TaskState {
            task_id: format!(
                "{}",
                700_000_000_000_000_000u64
                    + rand::random::<u32>() as u64 * 1000
                    + st.tasks.len() as u64
            ),
            external_task_id: c.external,
            model: c.model,
            mode: c.mode,
            duration: c.duration,
            prompt: c.prompt,
            polls: 0,
            status: "submitted".into(),
            finished: false,
        },
        fail,
        created_at: now,
        updated_at: now,
    };
    let data = json!({
        "task_id": task.state.task_id,
        "task_status": "submitted",
        "task_info": {"external_task_id": task.state.external_task_id},
        "created_at": now,
        "updated_at": now,
    });
    st.tasks.push(task);
    ok(data)
}

async fn query(State(s): St, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s.api, &headers) {
        return r;
    }
    let mut st = s.api.lock();
    let (submitted, processing, now) = (st.polls_submitted, st.polls_processing, st.now_ms());
    let Some(t) = st.find(&id) else {
        return kerr(1203, format!("task {id} does not exist"));
    };
    if !t.state.finished {
        t.state.polls += 1;
        let n = t.state.polls;
        let status = if n <= submitted {
            "submitted"
        } else if n <= submitted + processing {
            "processing"
        } else {
            t.state.finished = true;
            if t.fail { "failed" } else { "succeed" }
        };
        if t.state.status != status {
            t.updated_at = now;
        }
        t.state.status = status.into();
    } else {
        t.state.polls += 1;
    }
    ok(task_json(&s.api.url, t))
}

async fn costs(
    State(s): St,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorize(&s.api, &headers) {
        return r;
    }
    let ms = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let (Some(start), Some(end)) = (ms("start_time"), ms("end_time")) else {
        return bad("start_time and end_time are required, in milliseconds");
    };
    if start > end {
        return bad("start_time must not be after end_time");
    }
    let st = s.api.lock();
    let used = st.tasks.len() as f64;
    ok(json!({
        "code": 0,
        "msg": "",
        "resource_pack_subscribe_infos": [{
            "resource_pack_name": "Video Generation - 100 units",
            "resource_pack_id": "double-pack",
            "resource_pack_type": "decreasing_total",
            "total_quantity": 100.0,
            "remaining_quantity": (100.0 - used).max(0.0),
            "purchase_time": start,
            "effective_time": start,
            "invalid_time": end + 30 * 24 * 3600 * 1000,
            "status": "online"
        }]
    }))
}

async fn video(State(s): St, Path(file): Path<String>) -> Response {
    let found = {
        let mut st = s.api.lock();
        file.strip_suffix(".mp4")
            .and_then(|id| st.find(id))
            .filter(|t| t.state.status == "succeed")
            .map(|t| (t.state.duration, t.state.mode.clone()))
    };
    let Some((secs, mode)) = found else {
        return (
            StatusCode::NOT_FOUND,
            "NoSuchKey: The specified key does not exist.",
        )
            .into_response();
    };
    let (w, h) = if mode == "pro" {
        (1280, 720)
    } else {
        (640, 360)
    };
    match mp4(secs, w, h).await {
        Ok(bytes) => ([("content-type", "video/mp4")], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

/// A running Kling double; dropping it stops the server.
pub struct KlingDouble {
    run: Running<KlingApi>,
}

impl std::fmt::Debug for KlingDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KlingDouble")
            .field("url", &self.run.url)
            .finish_non_exhaustive()
    }
}

crate::common_controls!(KlingDouble);

impl KlingDouble {
    /// Bind and serve on the current tokio runtime.
    pub async fn start(config: KlingConfig) -> std::io::Result<Self> {
        let (listener, url) = crate::server::bind(config.bind).await?;
        let api = KlingApi {
            state: Mutex::new(KlingState {
                access_key: config.access_key,
                secret_key: config.secret_key,
                api_key: config.api_key,
                models: config.models,
                max_running: config.max_running,
                polls_submitted: config.polls_submitted,
                polls_processing: config.polls_processing,
                clock_offset: Duration::ZERO,
                refuse_prompts: Vec::new(),
                fail_prompts: Vec::new(),
                tasks: Vec::new(),
                create_requests: Vec::new(),
            }),
            url: url.clone(),
        };
        let routes = Router::new()
            .route("/v1/videos/image2video", post(create))
            .route("/v1/videos/image2video/{id}", get(query))
            .route("/account/costs", get(costs))
            .route("/__files/videos/{file}", get(video));
        Ok(Self {
            run: Running::start_on(listener, url, api, routes),
        })
    }

    fn lock(&self) -> MutexGuard<'_, KlingState> {
        self.run.shared.api.lock()
    }

    /// The access key JWTs must name as `iss`.
    pub fn access_key(&self) -> String {
        self.lock().access_key.clone()
    }

    /// The secret JWTs must be signed with.
    pub fn secret_key(&self) -> String {
        self.lock().secret_key.clone()
    }

    /// Accept this console API key as the bearer token (`None`: none).
    pub fn set_api_key(&self, key: Option<&str>) {
        self.lock().api_key = key.map(str::to_owned);
    }

    /// Move the double's clock forward (JWT `exp`/`nbf` are checked against it).
    pub fn advance_clock(&self, by: Duration) {
        self.lock().clock_offset += by;
    }

    /// Prompts (or negative prompts) containing `word` are refused at create: 400 code 1301.
    pub fn refuse_prompts_containing(&self, word: &str) {
        self.lock().refuse_prompts.push(word.to_owned());
    }

    /// Tasks whose prompt contains `word` are accepted, then end `failed` with
    /// [`REFUSAL_MESSAGE`] as `task_status_msg` (a refusal after acceptance).
    pub fn fail_tasks_containing(&self, word: &str) {
        self.lock().fail_prompts.push(word.to_owned());
    }

    /// Allow K unfinished tasks at once.
    pub fn set_max_running(&self, k: usize) {
        self.lock().max_running = k;
    }

    /// Polls answering `submitted`, then `processing`, before the end state (new polls only).
    pub fn set_polls(&self, submitted: u32, processing: u32) {
        let mut st = self.lock();
        st.polls_submitted = submitted;
        st.polls_processing = processing;
    }

    /// Tasks created (accepted, and so paid for).
    pub fn creates(&self) -> usize {
        self.lock().tasks.len()
    }

    /// Create requests that reached the double's validation carrying this `external_task_id`,
    /// whatever their outcome (a duplicate refused with 1201 counts too).
    pub fn creates_for_external(&self, external_task_id: &str) -> usize {
        self.lock()
            .create_requests
            .iter()
            .filter(|e| e.as_deref() == Some(external_task_id))
            .count()
    }

    /// Polls answered for a task (by task id or external id); 0 for an unknown one.
    pub fn polls_for(&self, id: &str) -> u32 {
        self.lock().find(id).map_or(0, |t| t.state.polls)
    }

    /// Tasks not yet polled to their end state (each holds a slot).
    pub fn running(&self) -> usize {
        self.lock().running()
    }

    /// Every task, in creation order.
    pub fn tasks(&self) -> Vec<TaskState> {
        self.lock().tasks.iter().map(|t| t.state.clone()).collect()
    }
}
