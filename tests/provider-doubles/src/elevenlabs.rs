//! The ElevenLabs double: `POST /v1/text-to-speech/{voice_id}`, `POST /v1/sound-generation`,
//! `GET /v1/user`.
//!
//! As in providers.md §3: header `xi-api-key`; raw MP3 bytes (`audio/mpeg`, made by ffmpeg: a
//! tone 0.07 s per character for speech, pink noise for sound effects) with `request-id`,
//! `character-cost`, `current-concurrent-requests` and `maximum-concurrent-requests`; errors
//! `{"detail":{"status","message"}}` (401 `invalid_api_key` / `quota_exceeded` /
//! `missing_permissions`, 404 `voice_not_found`, 429 `too_many_concurrent_requests`) and 422
//! `{"detail":[{"type","loc","msg","input"}]}` for an invalid body.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::media::{AudioFormat, audio, mp3_duration_for_text};
use crate::server::{Api, LogCode, Running, Shared};

type St = State<Arc<Shared<ElevenLabsApi>>>;

/// Voices the double knows by default (ElevenLabs' premade Rachel and George).
pub const VOICES: &[&str] = &["21m00Tcm4TlvDq8ikWAM", "JBFqnCBsd6RMkjVDRZzb"];
/// The text limit of `eleven_multilingual_v2`.
pub const TEXT_LIMIT: usize = 10_000;

/// How to start an ElevenLabs double.
#[derive(Clone)]
pub struct ElevenLabsConfig {
    /// The key accepted in `xi-api-key`.
    pub api_key: String,
    /// Known voice ids; others answer 404 `voice_not_found`.
    pub voices: Vec<String>,
    /// Requests generating at once; one more answers 429 (Free plan: 2).
    pub max_concurrent: usize,
    /// Address to bind (default `127.0.0.1:0`).
    pub bind: SocketAddr,
}

impl std::fmt::Debug for ElevenLabsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabsConfig")
            .field("api_key", &"***")
            .field("voices", &self.voices)
            .field("max_concurrent", &self.max_concurrent)
            .field("bind", &self.bind)
            .finish()
    }
}

impl Default for ElevenLabsConfig {
    fn default() -> Self {
        Self {
            api_key: "elevenlabs-double-key".into(),
            voices: VOICES.iter().map(|v| v.to_string()).collect(),
            max_concurrent: 2,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl ElevenLabsConfig {
    /// Accept this key.
    pub fn api_key(mut self, key: &str) -> Self {
        self.api_key = key.to_owned();
        self
    }

    /// Allow this many requests generating at once.
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n;
        self
    }

    /// Bind this address.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }
}

#[derive(Debug)]
struct ElevenState {
    api_key: String,
    voices: Vec<String>,
    max_concurrent: usize,
    quota_exceeded: bool,
    missing_permissions: bool,
    in_flight: usize,
    characters: u64,
    speeches: Vec<String>,
    sounds: Vec<(String, Option<f64>)>,
}

/// The ElevenLabs part of the shared state.
pub(crate) struct ElevenLabsApi {
    state: Mutex<ElevenState>,
    hold: Arc<watch::Sender<bool>>,
}

impl ElevenLabsApi {
    fn lock(&self) -> MutexGuard<'_, ElevenState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn detail(http: u16, status: &str, message: &str) -> Response {
    let mut r = (
        StatusCode::from_u16(http).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(json!({"detail": {"status": status, "message": message}})),
    )
        .into_response();
    r.extensions_mut().insert(LogCode(status.to_owned()));
    r
}

fn unprocessable(errors: Vec<Value>) -> Response {
    let mut r = (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({"detail": errors})),
    )
        .into_response();
    r.extensions_mut()
        .insert(LogCode("validation_error".into()));
    r
}

fn invalid_key() -> Response {
    detail(401, "invalid_api_key", "Invalid API key")
}

fn quota_exceeded(needed: u64) -> Response {
    detail(
        401,
        "quota_exceeded",
        &format!(
            "This request exceeds your quota of 10000. You have 0 credits remaining, while {needed} credits are required for this request."
        ),
    )
}

fn too_many(max: usize) -> Response {
    detail(
        429,
        "too_many_concurrent_requests",
        &format!(
            "Too many concurrent requests. Your current subscription is associated with a maximum of {max} concurrent requests running in parallel. Please upgrade or wait for requests to finish."
        ),
    )
}

impl Api for ElevenLabsApi {
    fn fault(&self, status: u16, code: Option<&str>, retry_after: Option<Duration>) -> Response {
        let mut r = match (status, code) {
            (401, Some("quota_exceeded")) => quota_exceeded(100),
            (401, Some(c)) => detail(401, c, "Injected authorization error."),
            (401, None) => invalid_key(),
            (404, _) => detail(
                404,
                "voice_not_found",
                "A voice with the voice_id was not found.",
            ),
            (422, _) => unprocessable(vec![
                json!({"type": "missing", "loc": ["body", "text"], "msg": "Field required", "input": {}}),
            ]),
            (429, Some("system_busy")) => detail(
                429,
                "system_busy",
                "Our services are experiencing high levels of traffic and your request could not be processed.",
            ),
            (429, _) => too_many(self.lock().max_concurrent),
            (s, c) if s >= 500 => detail(
                s,
                c.unwrap_or("internal_server_error"),
                "An internal server error occurred.",
            ),
            (s, c) => detail(s, c.unwrap_or("invalid_request"), "Injected error."),
        };
        if let Some(d) = retry_after {
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(d.as_secs().max(1)));
        }
        r
    }

    fn credential(&self, headers: &HeaderMap) -> String {
        match headers.get("xi-api-key").and_then(|v| v.to_str().ok()) {
            None => "no key".into(),
            Some(k) if k == self.lock().api_key => "configured key".into(),
            Some(_) => "wrong key".into(),
        }
    }

    fn trigger(&self, trigger: &str, word: &str) -> bool {
        let on = word != "off" && word != "false";
        let mut st = self.lock();
        match trigger {
            "quota_exceeded" => st.quota_exceeded = on,
            "missing_permissions" => st.missing_permissions = on,
            _ => return false,
        }
        true
    }
}

fn check_key(api: &ElevenLabsApi, headers: &HeaderMap) -> Result<(), Response> {
    match headers.get("xi-api-key").and_then(|v| v.to_str().ok()) {
        None => Err(detail(
            401,
            "needs_authorization",
            "Neither authorization header nor xi-api-key received, please provide one.",
        )),
        Some(k) if k == api.lock().api_key => Ok(()),
        Some(_) => Err(invalid_key()),
    }
}

/// Holds a place among the requests in flight until dropped.
struct InFlight(Arc<Shared<ElevenLabsApi>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut st = self.0.api.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
    }
}

fn admit(s: &Arc<Shared<ElevenLabsApi>>) -> Result<(InFlight, usize, usize), Response> {
    let mut st = s.api.lock();
    if st.in_flight >= st.max_concurrent {
        return Err(too_many(st.max_concurrent));
    }
    st.in_flight += 1;
    Ok((InFlight(s.clone()), st.in_flight, st.max_concurrent))
}

async fn wait_hold(api: &ElevenLabsApi) {
    let mut rx = api.hold.subscribe();
    let _ = rx.wait_for(|held| !held).await;
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(other) => Err(unprocessable(vec![json!({
            "type": "model_attributes_type", "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from", "input": other})])),
        Err(e) => Err(unprocessable(vec![json!({
            "type": "json_invalid", "loc": ["body", e.column()],
            "msg": "JSON decode error", "input": {}, "ctx": {"error": e.to_string()}})])),
    }
}

/// A number in `[lo, hi]` at `loc`, or the pydantic error for it.
fn ranged(
    obj: &Map<String, Value>,
    key: &str,
    loc: &[&str],
    lo: f64,
    hi: f64,
    errors: &mut Vec<Value>,
) -> Option<f64> {
    let v = obj.get(key).filter(|v| !v.is_null())?;
    let mut path: Vec<Value> = loc.iter().map(|l| json!(l)).collect();
    path.push(json!(key));
    let Some(n) = v.as_f64() else {
        errors.push(json!({"type": "float_parsing", "loc": path, "msg": "Input should be a valid number, unable to parse string as a number", "input": v}));
        return None;
    };
    if n < lo {
        errors.push(json!({"type": "greater_than_equal", "loc": path,
            "msg": format!("Input should be greater than or equal to {lo}"), "input": v, "ctx": {"ge": lo}}));
    } else if n > hi {
        errors.push(json!({"type": "less_than_equal", "loc": path,
            "msg": format!("Input should be less than or equal to {hi}"), "input": v, "ctx": {"le": hi}}));
    }
    Some(n)
}

fn required_text(obj: &Map<String, Value>, errors: &mut Vec<Value>) -> Option<String> {
    match obj.get("text") {
        None | Some(Value::Null) => {
            errors.push(json!({"type": "missing", "loc": ["body", "text"], "msg": "Field required", "input": Value::Object(obj.clone())}));
            None
        }
        Some(Value::String(t)) if t.chars().count() > TEXT_LIMIT => {
            errors.push(json!({"type": "string_too_long", "loc": ["body", "text"],
                "msg": format!("String should have at most {TEXT_LIMIT} characters"),
                "input": t.chars().take(50).collect::<String>(), "ctx": {"max_length": TEXT_LIMIT}}));
            None
        }
        Some(Value::String(t)) if t.trim().is_empty() => {
            errors.push(json!({"type": "string_too_short", "loc": ["body", "text"],
                "msg": "String should have at least 1 character", "input": t, "ctx": {"min_length": 1}}));
            None
        }
        Some(Value::String(t)) => Some(t.clone()),
        Some(v) => {
            errors.push(json!({"type": "string_type", "loc": ["body", "text"], "msg": "Input should be a valid string", "input": v}));
            None
        }
    }
}

fn output_format(q: &HashMap<String, String>) -> Result<AudioFormat, Response> {
    let name = q
        .get("output_format")
        .map_or("mp3_44100_128", String::as_str);
    AudioFormat::parse(name).ok_or_else(|| {
        unprocessable(vec![json!({"type": "enum", "loc": ["query", "output_format"],
            "msg": format!("Input should be {}", AudioFormat::NAMES.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")),
            "input": name})])
    })
}

fn audio_response(
    bytes: Bytes,
    format: AudioFormat,
    cost: u64,
    current: usize,
    max: usize,
) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(format.mime()));
    let id = uuid::Uuid::new_v4().simple().to_string();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("request-id", v.clone());
        h.insert("history-item-id", v);
    }
    h.insert("character-cost", HeaderValue::from(cost));
    h.insert("current-concurrent-requests", HeaderValue::from(current));
    h.insert("maximum-concurrent-requests", HeaderValue::from(max));
    r
}

async fn speech(
    State(s): St,
    Path(voice): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_key(&s.api, &headers) {
        return r;
    }
    if !s.api.lock().voices.contains(&voice) {
        return detail(
            404,
            "voice_not_found",
            &format!("A voice with the voice_id {voice} was not found."),
        );
    }
    let format = match output_format(&q) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let obj = match body_object(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut errors = Vec::new();
    let text = required_text(&obj, &mut errors);
    if let Some(m) = obj
        .get("model_id")
        .filter(|m| !m.is_null() && !m.is_string())
    {
        errors.push(json!({"type": "string_type", "loc": ["body", "model_id"], "msg": "Input should be a valid string", "input": m}));
    }
    match obj.get("voice_settings") {
        None | Some(Value::Null) => {}
        Some(Value::Object(vs)) => {
            let loc = ["body", "voice_settings"];
            ranged(vs, "stability", &loc, 0.0, 1.0, &mut errors);
            ranged(vs, "similarity_boost", &loc, 0.0, 1.0, &mut errors);
            ranged(vs, "style", &loc, 0.0, 1.0, &mut errors);
            ranged(vs, "speed", &loc, 0.7, 1.2, &mut errors);
            if let Some(b) = vs.get("use_speaker_boost").filter(|b| !b.is_null() && !b.is_boolean()) {
                errors.push(json!({"type": "bool_type", "loc": ["body", "voice_settings", "use_speaker_boost"], "msg": "Input should be a valid boolean", "input": b}));
            }
        }
        Some(v) => errors.push(json!({"type": "model_type", "loc": ["body", "voice_settings"], "msg": "Input should be a valid dictionary or instance of VoiceSettingsResponseModel", "input": v})),
    }
    let Some(text) = text.filter(|_| errors.is_empty()) else {
        return unprocessable(errors);
    };
    let cost = text.chars().count() as u64;
    if s.api.lock().quota_exceeded {
        return quota_exceeded(cost);
    }
    let (_slot, current, max) = match admit(&s) {
        Ok(a) => a,
        Err(r) => return r,
    };
    wait_hold(&s.api).await;
    let bytes = match audio(mp3_duration_for_text(&text), format, false).await {
        Ok(b) => b,
        Err(e) => return detail(500, "internal_server_error", &e),
    };
    {
        let mut st = s.api.lock();
        st.characters += cost;
        st.speeches.push(text);
    }
    audio_response(bytes, format, cost, current, max)
}

async fn sound(
    State(s): St,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_key(&s.api, &headers) {
        return r;
    }
    let format = match output_format(&q) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let obj = match body_object(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut errors = Vec::new();
    let text = required_text(&obj, &mut errors);
    let duration = ranged(&obj, "duration_seconds", &["body"], 0.5, 30.0, &mut errors);
    ranged(&obj, "prompt_influence", &["body"], 0.0, 1.0, &mut errors);
    let Some(text) = text.filter(|_| errors.is_empty()) else {
        return unprocessable(errors);
    };
    let cost = duration.map_or(100, |d| (d * 20.0).ceil() as u64);
    if s.api.lock().quota_exceeded {
        return quota_exceeded(cost);
    }
    let (_slot, current, max) = match admit(&s) {
        Ok(a) => a,
        Err(r) => return r,
    };
    wait_hold(&s.api).await;
    let bytes = match audio(duration.unwrap_or(5.0), format, true).await {
        Ok(b) => b,
        Err(e) => return detail(500, "internal_server_error", &e),
    };
    {
        let mut st = s.api.lock();
        st.characters += cost;
        st.sounds.push((text, duration));
    }
    audio_response(bytes, format, cost, current, max)
}

async fn user(State(s): St, headers: HeaderMap) -> Response {
    if let Err(r) = check_key(&s.api, &headers) {
        return r;
    }
    let st = s.api.lock();
    if st.missing_permissions {
        return detail(
            401,
            "missing_permissions",
            "The API key you used is missing the permission user_read to execute this operation.",
        );
    }
    axum::Json(json!({
        "user_id": "double-user",
        "first_name": "Double",
        "is_new_user": false,
        "subscription": {
            "tier": "free",
            "character_count": st.characters,
            "character_limit": 10000,
            "can_extend_character_limit": false,
            "status": "active",
            "max_concurrent_requests": st.max_concurrent
        }
    }))
    .into_response()
}

/// Keeps admitted speech and sound requests waiting (while they count as in flight) until
/// dropped; from [`ElevenLabsDouble::hold`].
#[derive(Debug)]
pub struct HoldGuard(Arc<watch::Sender<bool>>);

impl Drop for HoldGuard {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

/// A running ElevenLabs double; dropping it stops the server.
pub struct ElevenLabsDouble {
    run: Running<ElevenLabsApi>,
}

impl std::fmt::Debug for ElevenLabsDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabsDouble")
            .field("url", &self.run.url)
            .finish_non_exhaustive()
    }
}

crate::common_controls!(ElevenLabsDouble);

impl ElevenLabsDouble {
    /// Bind and serve on the current tokio runtime.
    pub async fn start(config: ElevenLabsConfig) -> std::io::Result<Self> {
        let (hold, _) = watch::channel(false);
        let api = ElevenLabsApi {
            state: Mutex::new(ElevenState {
                api_key: config.api_key,
                voices: config.voices,
                max_concurrent: config.max_concurrent,
                quota_exceeded: false,
                missing_permissions: false,
                in_flight: 0,
                characters: 0,
                speeches: Vec::new(),
                sounds: Vec::new(),
            }),
            hold: Arc::new(hold),
        };
        let routes = Router::new()
            .route("/v1/text-to-speech/{voice_id}", post(speech))
            .route("/v1/sound-generation", post(sound))
            .route("/v1/user", get(user));
        Ok(Self {
            run: Running::start(config.bind, api, routes).await?,
        })
    }

    fn lock(&self) -> MutexGuard<'_, ElevenState> {
        self.run.shared.api.lock()
    }

    /// The key the double accepts.
    pub fn api_key(&self) -> String {
        self.lock().api_key.clone()
    }

    /// Answer 401 `quota_exceeded` to speech and sound requests (the credits are used up).
    pub fn set_quota_exceeded(&self, on: bool) {
        self.lock().quota_exceeded = on;
    }

    /// Answer 401 `missing_permissions` to `GET /v1/user` (a key without `user_read`).
    pub fn set_missing_permissions(&self, on: bool) {
        self.lock().missing_permissions = on;
    }

    /// Allow this many requests generating at once.
    pub fn set_max_concurrent(&self, n: usize) {
        self.lock().max_concurrent = n;
    }

    /// Hold admitted requests until the guard is dropped (to have several in flight at once).
    pub fn hold(&self) -> HoldGuard {
        let tx = self.run.shared.api.hold.clone();
        tx.send_replace(true);
        HoldGuard(tx)
    }

    /// Requests generating right now.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Credits used so far (characters for speech).
    pub fn characters_used(&self) -> u64 {
        self.lock().characters
    }

    /// Texts spoken so far, in order.
    pub fn speeches(&self) -> Vec<String> {
        self.lock().speeches.clone()
    }

    /// Sound effects made so far: text and `duration_seconds`.
    pub fn sounds(&self) -> Vec<(String, Option<f64>)> {
        self.lock().sounds.clone()
    }
}
