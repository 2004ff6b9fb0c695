//! The Gemini double: `POST /v1beta/models/{model}:generateContent` and `GET /v1beta/models/{model}`.
//!
//! It answers like the real API (providers.md §1): a real PNG as base64 `inlineData` with a text
//! part, `finishReason: STOP` and `usageMetadata`; errors as `{"error":{code,message,status,details}}`
//! (403 without a key, 400 `API_KEY_INVALID` for a wrong one, 404 for an unknown model, 429
//! `RESOURCE_EXHAUSTED` with `QuotaFailure` and `RetryInfo` and no `Retry-After`); refusals as
//! HTTP 200 (`promptFeedback.blockReason`, `finishReason: IMAGE_SAFETY`, a text-only answer,
//! `NO_IMAGE`), triggered by words the test configures.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::media::{hex_colour, paint_busy_png, paint_png};
use crate::server::{Api, LogCode, Running, Shared};

type St = State<std::sync::Arc<Shared<GeminiApi>>>;

/// The image models the double knows by default.
pub const MODELS: &[&str] = &[
    "gemini-2.5-flash-image",
    "gemini-3-pro-image-preview",
    "gemini-3.1-flash-image-preview",
];
const ASPECT_RATIOS: &[(&str, u32, u32)] = &[
    ("1:1", 1024, 1024),
    ("2:3", 832, 1248),
    ("3:2", 1248, 832),
    ("3:4", 864, 1184),
    ("4:3", 1184, 864),
    ("4:5", 896, 1152),
    ("5:4", 1152, 896),
    ("9:16", 768, 1344),
    ("16:9", 1344, 768),
    ("21:9", 1536, 672),
];
/// Models that take `imageSize` 2K and 4K (providers.md: "3 Pro only").
const SIZED_MODELS: &[&str] = &["gemini-3-pro-image-preview"];
const PAYLOAD_LIMIT: usize = 20 * 1024 * 1024;
const KEY_INVALID: &str = "API key not valid. Please pass a valid API key.";
const TROUBLESHOOTING: &str = "https://developers.generativeai.google/guide/troubleshooting";

/// How to start a Gemini double.
#[derive(Clone)]
pub struct GeminiConfig {
    /// The API key the double accepts in `x-goog-api-key` (or `?key=`).
    pub api_key: String,
    /// Known model ids; others answer 404.
    pub models: Vec<String>,
    /// Generate requests allowed per rolling minute; past it, 429 `RESOURCE_EXHAUSTED`.
    pub requests_per_minute: Option<u32>,
    /// Address to bind (default `127.0.0.1:0`).
    pub bind: SocketAddr,
}

impl std::fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("api_key", &"***")
            .field("models", &self.models)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("bind", &self.bind)
            .finish()
    }
}

impl Default for GeminiConfig {
    fn default() -> Self {
        Self {
            api_key: "gemini-double-key".into(),
            models: MODELS.iter().map(|m| m.to_string()).collect(),
            requests_per_minute: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl GeminiConfig {
    /// Accept this key.
    pub fn api_key(mut self, key: &str) -> Self {
        self.api_key = key.to_owned();
        self
    }

    /// Limit generate requests per rolling minute.
    pub fn requests_per_minute(mut self, rpm: u32) -> Self {
        self.requests_per_minute = Some(rpm);
        self
    }

    /// Bind this address.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }
}

/// One generate request the double answered with a picture or a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenGeneration {
    /// The model in the path.
    pub model: String,
    /// All text parts, joined by newlines.
    pub prompt: String,
    /// How many `inlineData` images came with it.
    pub reference_images: usize,
    /// `imageConfig.aspectRatio`, if sent.
    pub aspect_ratio: Option<String>,
    /// `imageConfig.imageSize`, if sent.
    pub image_size: Option<String>,
}

#[derive(Debug, Default)]
struct Triggers {
    refuse_prompts: Vec<String>,
    refuse_images: Vec<String>,
    text_only: Vec<String>,
    no_image: Vec<String>,
    busy_background: Vec<String>,
}

fn hit(words: &[String], prompt: &str) -> bool {
    let p = prompt.to_lowercase();
    words.iter().any(|w| p.contains(&w.to_lowercase()))
}

#[derive(Debug)]
struct GeminiState {
    api_key: String,
    models: Vec<String>,
    rpm: Option<u32>,
    window: VecDeque<Instant>,
    triggers: Triggers,
    seen: Vec<SeenGeneration>,
}

/// The Gemini part of the shared state.
pub(crate) struct GeminiApi {
    state: Mutex<GeminiState>,
}

impl GeminiApi {
    fn lock(&self) -> MutexGuard<'_, GeminiState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Google's JSON form of a duration: `"2s"`, `"0.050s"`.
fn google_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    }
}

fn error(code: u16, status: &str, message: &str, details: Vec<Value>, log: &str) -> Response {
    let mut error = json!({"code": code, "message": message, "status": status});
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    let mut r = (
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(json!({ "error": error })),
    )
        .into_response();
    r.extensions_mut().insert(LogCode(log.to_owned()));
    r
}

fn invalid(message: &str) -> Response {
    error(400, "INVALID_ARGUMENT", message, vec![], "INVALID_ARGUMENT")
}

fn key_invalid() -> Response {
    error(
        400,
        "INVALID_ARGUMENT",
        KEY_INVALID,
        vec![
            json!({"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID",
                "domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}),
            json!({"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":KEY_INVALID}),
        ],
        "API_KEY_INVALID",
    )
}

fn no_key() -> Response {
    error(
        403,
        "PERMISSION_DENIED",
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        vec![],
        "PERMISSION_DENIED",
    )
}

fn model_not_found(model: &str) -> Response {
    error(
        404,
        "NOT_FOUND",
        &format!(
            "models/{model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."
        ),
        vec![],
        "NOT_FOUND",
    )
}

fn quota_exceeded(model: &str, retry: Duration, limit: u32) -> Response {
    error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        vec![
            json!({"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{
                "quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                "quotaDimensions":{"location":"global","model":model},
                "quotaValue":limit.to_string()}]}),
            json!({"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}),
            json!({"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":google_duration(retry)}),
        ],
        "RESOURCE_EXHAUSTED",
    )
}

impl Api for GeminiApi {
    fn fault(&self, status: u16, code: Option<&str>, retry_after: Option<Duration>) -> Response {
        match (status, code) {
            (400, Some("API_KEY_INVALID")) => key_invalid(),
            (400, Some("FAILED_PRECONDITION")) => error(
                400,
                "FAILED_PRECONDITION",
                "User location is not supported for the API use.",
                vec![],
                "FAILED_PRECONDITION",
            ),
            (400, _) => invalid("Request contains an invalid argument."),
            (401, _) => error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials.",
                vec![],
                "UNAUTHENTICATED",
            ),
            (403, _) => no_key(),
            (404, _) => model_not_found("unknown"),
            (429, code) => quota_exceeded(
                "gemini-2.5-flash-image",
                retry_after.unwrap_or(Duration::from_secs(2)),
                code.and_then(|c| c.parse().ok()).unwrap_or(10),
            ),
            (500, _) => error(
                500,
                "INTERNAL",
                &format!(
                    "An internal error has occurred. Please retry or report in {TROUBLESHOOTING}"
                ),
                vec![],
                "INTERNAL",
            ),
            (503, _) => error(
                503,
                "UNAVAILABLE",
                "The model is overloaded. Please try again later.",
                vec![],
                "UNAVAILABLE",
            ),
            (504, _) => error(
                504,
                "DEADLINE_EXCEEDED",
                "Deadline expired before operation could complete.",
                vec![],
                "DEADLINE_EXCEEDED",
            ),
            (s, _) => error(s, "UNKNOWN", "Injected error.", vec![], "UNKNOWN"),
        }
    }

    fn credential(&self, headers: &HeaderMap) -> String {
        let key = headers.get("x-goog-api-key").and_then(|v| v.to_str().ok());
        match key {
            None => "no key".into(),
            Some(k) if k == self.lock().api_key => "configured key".into(),
            Some(_) => "wrong key".into(),
        }
    }

    fn trigger(&self, trigger: &str, word: &str) -> bool {
        let mut st = self.lock();
        let list = match trigger {
            "refuse_prompts" => &mut st.triggers.refuse_prompts,
            "refuse_images" => &mut st.triggers.refuse_images,
            "text_only" => &mut st.triggers.text_only,
            "no_image" => &mut st.triggers.no_image,
            "busy_background" => &mut st.triggers.busy_background,
            _ => return false,
        };
        list.push(word.to_owned());
        true
    }
}

/// The key from the header or the `key` query parameter: Ok, or the answer to give.
fn check_key(
    api: &GeminiApi,
    headers: &HeaderMap,
    query: &Map<String, Value>,
) -> Result<(), Response> {
    let key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.get("key").and_then(Value::as_str).map(str::to_owned));
    match key {
        None => Err(no_key()),
        Some(k) if k.trim().is_empty() => Err(no_key()),
        Some(k) if k == api.lock().api_key => Ok(()),
        Some(_) => Err(key_invalid()),
    }
}

async fn model_get(
    State(s): St,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Map<String, Value>>,
) -> Response {
    if let Err(r) = check_key(&s.api, &headers, &query) {
        return r;
    }
    if !s.api.lock().models.contains(&name) {
        return model_not_found(&name);
    }
    axum::Json(json!({
        "name": format!("models/{name}"),
        "version": "2.0",
        "displayName": format!("{name} (double)"),
        "description": "Image generation model served by the provider double.",
        "inputTokenLimit": 32768,
        "outputTokenLimit": 32768,
        "supportedGenerationMethods": ["generateContent", "countTokens", "batchGenerateContent"],
        "temperature": 1.0,
        "topP": 0.95,
        "maxTemperature": 2.0
    }))
    .into_response()
}

/// A field under its camelCase or snake_case name.
fn field<'a>(obj: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel).or_else(|| obj.get(snake))
}

struct Parsed {
    prompt: String,
    images: usize,
    want_image: bool,
    want_text: bool,
    aspect_ratio: Option<String>,
    image_size: Option<String>,
}

fn magic_matches(mime: &str, b: &[u8]) -> bool {
    match mime {
        "image/png" => b.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => b.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/webp" => b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP",
        _ => false,
    }
}

fn parse_request(model: &str, body: &Value) -> Result<Parsed, Response> {
    let Some(obj) = body.as_object() else {
        return Err(invalid(
            "Invalid JSON payload received. Expected an object at the top level.",
        ));
    };
    for k in obj.keys() {
        if ![
            "contents",
            "generationConfig",
            "generation_config",
            "safetySettings",
            "safety_settings",
            "systemInstruction",
            "system_instruction",
            "tools",
            "toolConfig",
            "tool_config",
        ]
        .contains(&k.as_str())
        {
            return Err(invalid(&format!(
                "Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."
            )));
        }
    }
    let contents = obj.get("contents").and_then(Value::as_array);
    let Some(contents) = contents.filter(|c| !c.is_empty()) else {
        return Err(invalid(
            "* GenerateContentRequest.contents: contents is not specified\n",
        ));
    };
    let mut texts = Vec::new();
    let mut images = 0;
    for (i, content) in contents.iter().enumerate() {
        let parts = content
            .get("parts")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty());
        let Some(parts) = parts else {
            return Err(invalid(&format!(
                "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
            )));
        };
        for (j, part) in parts.iter().enumerate() {
            let Some(p) = part.as_object() else {
                return Err(invalid(&format!(
                    "Invalid JSON payload received. Expected an object at 'contents[{i}].parts[{j}]'."
                )));
            };
            for k in p.keys() {
                if ![
                    "text",
                    "inlineData",
                    "inline_data",
                    "thought",
                    "thoughtSignature",
                    "thought_signature",
                ]
                .contains(&k.as_str())
                {
                    return Err(invalid(&format!(
                        "Invalid JSON payload received. Unknown name \"{k}\" at 'contents[{i}].parts[{j}]': Cannot find field."
                    )));
                }
            }
            if let Some(t) = p.get("text") {
                match t.as_str() {
                    Some(t) => texts.push(t.to_owned()),
                    None => {
                        return Err(invalid(&format!(
                            "Invalid value at 'contents[{i}].parts[{j}].text' (TYPE_STRING), {t}"
                        )));
                    }
                }
            }
            if let Some(data) = field(p, "inlineData", "inline_data") {
                let at = format!("contents[{i}].parts[{j}].inline_data");
                let mime = data
                    .as_object()
                    .and_then(|d| field(d, "mimeType", "mime_type"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !["image/png", "image/jpeg", "image/webp"].contains(&mime) {
                    return Err(invalid(&format!("Unsupported MIME type: {mime}")));
                }
                let b64 = data.get("data").and_then(Value::as_str).unwrap_or_default();
                let Ok(bytes) = STANDARD.decode(b64) else {
                    let head: String = b64.chars().take(20).collect();
                    return Err(invalid(&format!(
                        "Invalid value at '{at}.data' (TYPE_BYTES), Base64 decoding failed for \"{head}\""
                    )));
                };
                if !magic_matches(mime, &bytes) {
                    return Err(invalid(&format!(
                        "Unable to process input image. Please retry or report in {TROUBLESHOOTING}"
                    )));
                }
                images += 1;
            }
        }
    }
    let config = obj
        .get("generationConfig")
        .or_else(|| obj.get("generation_config"))
        .and_then(Value::as_object);
    let (mut want_text, mut want_image) = (true, true);
    let (mut aspect_ratio, mut image_size) = (None, None);
    if let Some(config) = config {
        if let Some(m) = field(config, "responseModalities", "response_modalities") {
            let list = m.as_array().cloned().unwrap_or_default();
            want_text = false;
            want_image = false;
            for (k, v) in list.iter().enumerate() {
                match v.as_str().map(str::to_ascii_uppercase).as_deref() {
                    Some("TEXT") => want_text = true,
                    Some("IMAGE") => want_image = true,
                    _ => {
                        return Err(invalid(&format!(
                            "Invalid value at 'generation_config.response_modalities[{k}]' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality), {v}"
                        )));
                    }
                }
            }
        }
        if let Some(ic) = field(config, "imageConfig", "image_config").and_then(Value::as_object) {
            if let Some(ar) = field(ic, "aspectRatio", "aspect_ratio") {
                let ar = ar.as_str().unwrap_or_default();
                if !ASPECT_RATIOS.iter().any(|(a, _, _)| *a == ar) {
                    return Err(invalid(&format!(
                        "Unsupported aspect ratio: {ar}. Supported values are {}.",
                        ASPECT_RATIOS
                            .iter()
                            .map(|(a, _, _)| *a)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                aspect_ratio = Some(ar.to_owned());
            }
            if let Some(sz) = field(ic, "imageSize", "image_size") {
                let sz = sz.as_str().unwrap_or_default();
                if !["1K", "2K", "4K"].contains(&sz) {
                    return Err(invalid(&format!(
                        "Unsupported image size: {sz}. Supported values are 1K, 2K, 4K."
                    )));
                }
                if sz != "1K" && !SIZED_MODELS.contains(&model) {
                    return Err(invalid(&format!(
                        "Image size {sz} is not supported by {model}."
                    )));
                }
                image_size = Some(sz.to_owned());
            }
        }
    }
    Ok(Parsed {
        prompt: texts.join("\n"),
        images,
        want_image,
        want_text,
        aspect_ratio,
        image_size,
    })
}

fn dimensions(aspect: Option<&str>, size: Option<&str>) -> (u32, u32) {
    let (_, w, h) = ASPECT_RATIOS
        .iter()
        .find(|(a, _, _)| Some(*a) == aspect)
        .copied()
        .unwrap_or(ASPECT_RATIOS[0]);
    let scale = match size {
        Some("2K") => 2,
        Some("4K") => 4,
        _ => 1,
    };
    (w * scale, h * scale)
}

/// Output image tokens per image (the price unit): 1290 for 2.5 Flash Image; 3 Pro bills 1120
/// per 1K/2K image and 2000 per 4K one.
fn image_tokens(model: &str, size: Option<&str>) -> u64 {
    match (model.contains("pro"), size) {
        (true, Some("4K")) => 2000,
        (true, _) => 1120,
        _ => 1290,
    }
}

fn envelope(model: &str, prompt_tokens: u64, out: Value) -> Value {
    let mut v = out;
    if let Some(o) = v.as_object_mut() {
        o.insert("modelVersion".into(), json!(model));
        o.insert(
            "responseId".into(),
            json!(uuid::Uuid::new_v4().simple().to_string()),
        );
        o.entry("usageMetadata").or_insert_with(|| {
            json!({"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}]})
        });
    }
    v
}

async fn model_post(
    State(s): St,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Map<String, Value>>,
    body: Bytes,
) -> Response {
    let Some(model) = name.strip_suffix(":generateContent") else {
        return error(
            404,
            "NOT_FOUND",
            &format!("Method not found: models/{name}"),
            vec![],
            "NOT_FOUND",
        );
    };
    if let Err(r) = check_key(&s.api, &headers, &query) {
        return r;
    }
    {
        let mut st = s.api.lock();
        if !st.models.iter().any(|m| m == model) {
            return model_not_found(model);
        }
        if let Some(rpm) = st.rpm {
            let now = Instant::now();
            while st
                .window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
            {
                st.window.pop_front();
            }
            if st.window.len() as u32 >= rpm {
                let oldest = st.window.front().copied().unwrap_or(now);
                let left = Duration::from_secs(60).saturating_sub(now.duration_since(oldest));
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                return quota_exceeded(model, Duration::from_secs(secs.max(1)), rpm);
            }
            st.window.push_back(now);
        }
    }
    if body.len() > PAYLOAD_LIMIT {
        return invalid(&format!(
            "Request payload size exceeds the limit: {PAYLOAD_LIMIT} bytes."
        ));
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return invalid(&format!("Invalid JSON payload received. {e}"));
        }
    };
    let req = match parse_request(model, &value) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let prompt_tokens =
        (req.prompt.split_whitespace().count() as u64 + 1) + 258 * req.images as u64;
    let triggers = {
        let mut st = s.api.lock();
        st.seen.push(SeenGeneration {
            model: model.to_owned(),
            prompt: req.prompt.clone(),
            reference_images: req.images,
            aspect_ratio: req.aspect_ratio.clone(),
            image_size: req.image_size.clone(),
        });
        let t = &st.triggers;
        (
            hit(&t.refuse_prompts, &req.prompt),
            hit(&t.refuse_images, &req.prompt),
            hit(&t.text_only, &req.prompt),
            hit(&t.no_image, &req.prompt),
        )
    };
    let busy = hit(&s.api.lock().triggers.busy_background, &req.prompt);
    let answer = match triggers {
        (true, ..) => json!({
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]}
        }),
        (_, true, ..) => json!({"candidates": [{
            "finishReason": "IMAGE_SAFETY",
            "finishMessage": "Unable to show the generated image. The image was filtered out because it violated Google's Generative AI Prohibited Use policy. You will not be charged for blocked images. Try rephrasing the prompt.",
            "index": 0
        }]}),
        (_, _, true, _) => json!({"candidates": [{
            "content": {"role": "model", "parts": [{"text": "I can describe the scene, but I will not draw it: the request names a real person."}]},
            "finishReason": "STOP",
            "index": 0
        }]}),
        (_, _, _, true) => json!({"candidates": [{"finishReason": "NO_IMAGE", "index": 0}]}),
        _ if !req.want_image => json!({"candidates": [{
            "content": {"role": "model", "parts": [{"text": "Here is a description of the picture."}]},
            "finishReason": "STOP", "index": 0
        }]}),
        _ => {
            let (w, h) = dimensions(req.aspect_ratio.as_deref(), req.image_size.as_deref());
            let background = hex_colour(&req.prompt).unwrap_or([255, 255, 255]);
            let sized = req.image_size.clone();
            let is_pro = model.contains("pro");
            let pictures = tokio::task::spawn_blocking(move || {
                // 3 Pro "thinks" first: an interim image (grey background) marked as a thought.
                let interim = is_pro.then(|| paint_png(w / 4, h / 4, [128, 128, 128]));
                let png = if busy {
                    paint_busy_png(w, h)
                } else {
                    paint_png(w, h, background)
                };
                (png, interim)
            })
            .await;
            let Ok((png, interim)) = pictures else {
                return error(500, "INTERNAL", "image encoding failed", vec![], "INTERNAL");
            };
            let mut parts = Vec::new();
            if let Some(interim) = interim {
                parts.push(json!({"text": "Planning the composition.", "thought": true}));
                parts.push(json!({"inlineData": {"mimeType": "image/png", "data": STANDARD.encode(interim)}, "thought": true}));
            }
            if req.want_text {
                parts.push(json!({"text": "Here is the picture you asked for."}));
            }
            parts.push(
                json!({"inlineData": {"mimeType": "image/png", "data": STANDARD.encode(png)}}),
            );
            let tokens = image_tokens(model, sized.as_deref());
            json!({
                "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {
                    "promptTokenCount": prompt_tokens,
                    "candidatesTokenCount": tokens,
                    "totalTokenCount": prompt_tokens + tokens,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
                    "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": tokens}]
                }
            })
        }
    };
    axum::Json(envelope(model, prompt_tokens, answer)).into_response()
}

/// A running Gemini double; dropping it stops the server.
pub struct GeminiDouble {
    run: Running<GeminiApi>,
}

impl std::fmt::Debug for GeminiDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiDouble")
            .field("url", &self.run.url)
            .finish_non_exhaustive()
    }
}

crate::common_controls!(GeminiDouble);

impl GeminiDouble {
    /// Bind and serve on the current tokio runtime.
    pub async fn start(config: GeminiConfig) -> std::io::Result<Self> {
        let api = GeminiApi {
            state: Mutex::new(GeminiState {
                api_key: config.api_key,
                models: config.models,
                rpm: config.requests_per_minute,
                window: VecDeque::new(),
                triggers: Triggers::default(),
                seen: Vec::new(),
            }),
        };
        let routes = Router::new().route("/v1beta/models/{name}", get(model_get).post(model_post));
        Ok(Self {
            run: Running::start(config.bind, api, routes).await?,
        })
    }

    fn lock(&self) -> MutexGuard<'_, GeminiState> {
        self.run.shared.api.lock()
    }

    /// The key the double accepts (to hand to a client under test).
    pub fn api_key(&self) -> String {
        self.lock().api_key.clone()
    }

    /// Accept another key from now on (the old one becomes a wrong key).
    pub fn set_api_key(&self, key: &str) {
        self.lock().api_key = key.to_owned();
    }

    /// Prompts containing `word` (any case) are blocked: HTTP 200, no candidates,
    /// `promptFeedback.blockReason: "SAFETY"`.
    pub fn refuse_prompts_containing(&self, word: &str) {
        self.lock().triggers.refuse_prompts.push(word.to_owned());
    }

    /// Prompts containing `word` get their output blocked: HTTP 200, `finishReason:
    /// "IMAGE_SAFETY"` with a `finishMessage` and no content.
    pub fn refuse_images_containing(&self, word: &str) {
        self.lock().triggers.refuse_images.push(word.to_owned());
    }

    /// Prompts containing `word` get only a text part back (finishReason `STOP`).
    pub fn text_only_containing(&self, word: &str) {
        self.lock().triggers.text_only.push(word.to_owned());
    }

    /// Prompts containing `word` get `finishReason: "NO_IMAGE"` and no content.
    pub fn no_image_containing(&self, word: &str) {
        self.lock().triggers.no_image.push(word.to_owned());
    }

    /// Prompts containing `word` get a picture whose background is a gradient, not the plain
    /// colour asked for (the model does not always obey): it cannot be keyed out.
    pub fn busy_background_containing(&self, word: &str) {
        self.lock().triggers.busy_background.push(word.to_owned());
    }

    /// Limit generate requests per rolling minute (`None`: no limit).
    pub fn set_requests_per_minute(&self, rpm: Option<u32>) {
        let mut st = self.lock();
        st.rpm = rpm;
        st.window.clear();
    }

    /// Every well-formed generate request that reached the model, in order.
    pub fn generations(&self) -> Vec<SeenGeneration> {
        self.lock().seen.clone()
    }

    /// The number of reference images of each generate request, in order.
    pub fn reference_image_counts(&self) -> Vec<usize> {
        self.lock()
            .seen
            .iter()
            .map(|g| g.reference_images)
            .collect()
    }
}
