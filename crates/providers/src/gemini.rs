//! Gemini image generation: `POST /v1beta/models/{model}:generateContent` (see the crate README,
//! "Gemini").

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use bytes::Bytes;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use crate::Provider;
use crate::config::{RetryPolicy, Secret, base_url_from_env};
use crate::error::{ApiError, ErrorKind, ProviderError, Result};
use crate::http::{Answer, Safety, Transport, retry_after_header, snippet};

/// Google's production endpoint.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
/// Environment variable overriding the base URL (end-to-end runs point it at the double).
pub const BASE_URL_ENV: &str = "GEMINI_BASE_URL";
/// The model used when nothing else is chosen ($0.039 per image).
pub const DEFAULT_MODEL: &str = "gemini-2.5-flash-image";

const P: Provider = Provider::Gemini;

/// How the client talks to Gemini.
#[derive(Debug, Clone)]
pub struct GeminiConfig {
    /// Base URL without `/v1beta` (may carry a path prefix).
    pub base_url: String,
    /// The API key, sent as `x-goog-api-key`.
    pub api_key: Secret,
    /// Timeout of one attempt (images take seconds up to about a minute).
    pub timeout: Duration,
    /// Requests per minute this client sends at most (the project's RPM), evenly paced.
    pub requests_per_minute: Option<u32>,
    /// Retries inside a call.
    pub retry: RetryPolicy,
}

impl GeminiConfig {
    /// Defaults: Google's URL, a 120 s timeout, no pacing.
    pub fn new(api_key: Secret) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key,
            timeout: Duration::from_secs(120),
            requests_per_minute: None,
            retry: RetryPolicy::default(),
        }
    }

    /// Defaults, with the base URL from `GEMINI_BASE_URL` when set.
    pub fn from_env(api_key: Secret) -> Self {
        Self {
            base_url: base_url_from_env(BASE_URL_ENV, DEFAULT_BASE_URL),
            ..Self::new(api_key)
        }
    }
}

/// `imageConfig.aspectRatio`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AspectRatio {
    /// 1:1 (1024x1024 at 1K).
    Square,
    /// 2:3.
    R2x3,
    /// 3:2.
    R3x2,
    /// 3:4.
    R3x4,
    /// 4:3.
    R4x3,
    /// 4:5.
    R4x5,
    /// 5:4.
    R5x4,
    /// 9:16 (portrait video).
    R9x16,
    /// 16:9 (landscape video).
    R16x9,
    /// 21:9.
    R21x9,
}

impl AspectRatio {
    /// Every ratio Gemini takes.
    pub const ALL: [AspectRatio; 10] = [
        Self::Square,
        Self::R2x3,
        Self::R3x2,
        Self::R3x4,
        Self::R4x3,
        Self::R4x5,
        Self::R5x4,
        Self::R9x16,
        Self::R16x9,
        Self::R21x9,
    ];

    /// As sent: `"16:9"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Square => "1:1",
            Self::R2x3 => "2:3",
            Self::R3x2 => "3:2",
            Self::R3x4 => "3:4",
            Self::R4x3 => "4:3",
            Self::R4x5 => "4:5",
            Self::R5x4 => "5:4",
            Self::R9x16 => "9:16",
            Self::R16x9 => "16:9",
            Self::R21x9 => "21:9",
        }
    }

    /// From `"16:9"`; `None` for a ratio Gemini does not take.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }
}

/// `imageConfig.imageSize` (2K and 4K: 3 Pro only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageSize {
    /// About 1024 px.
    K1,
    /// About 2048 px.
    K2,
    /// About 4096 px.
    K4,
}

impl ImageSize {
    /// As sent: `"2K"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::K1 => "1K",
            Self::K2 => "2K",
            Self::K4 => "4K",
        }
    }
}

/// A reference image sent with the prompt (png, jpeg or webp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputImage {
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub mime: String,
    /// The file's bytes.
    pub bytes: Bytes,
}

/// One picture to make.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRequest {
    /// E.g. [`DEFAULT_MODEL`] or `gemini-3-pro-image-preview`.
    pub model: String,
    /// The prompt.
    pub prompt: String,
    /// Reference images (≤3 work best on 2.5 Flash Image, up to 14 on 3 Pro).
    pub reference_images: Vec<InputImage>,
    /// The aspect ratio; the model's default (1:1) when `None`.
    pub aspect_ratio: Option<AspectRatio>,
    /// The size; the model's default when `None`.
    pub image_size: Option<ImageSize>,
}

/// A picture Gemini made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    /// The image file (the last image part that is not a thought).
    pub bytes: Bytes,
    /// Its MIME type (`image/png`).
    pub mime: String,
    /// The text parts that came with it, joined.
    pub text: Option<String>,
    /// Output image tokens billed (1290 per 2.5 Flash image), from `usageMetadata`.
    pub image_tokens: Option<u64>,
}

/// A Gemini API client. Cheap to share behind an `Arc`; one per key.
pub struct GeminiClient {
    t: Transport,
    key: HeaderValue,
}

impl std::fmt::Debug for GeminiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiClient")
            .field("base_url", &self.t.base_url)
            .field("api_key", &"***")
            .finish()
    }
}

/// Finish reasons that mean the output was blocked (providers.md §1, "Output blocked").
const BLOCKED_FINISH: &[&str] = &[
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
];

impl GeminiClient {
    /// A client; fails only on a key that cannot be sent in a header.
    pub fn new(config: GeminiConfig) -> Result<Self> {
        let mut key = HeaderValue::from_str(config.api_key.expose_secret()).map_err(|_| {
            ProviderError::InvalidInput {
                provider: P,
                detail: "the Gemini key contains characters that cannot be sent in a header".into(),
            }
        })?;
        // Sensitive header values print as "Sensitive" in any Debug output (reqwest, hyper).
        key.set_sensitive(true);
        let t = Transport::new(
            P,
            &config.base_url,
            config.timeout,
            config.requests_per_minute,
            config.retry,
        )?;
        Ok(Self { t, key })
    }

    fn missing_key(&self) -> Option<ProviderError> {
        self.key.is_empty().then(|| {
            ProviderError::Api(
                ApiError::new(P, 0, "NO_KEY", "", ErrorKind::Configuration)
                    .say("no Gemini key is set", P.key_hint()),
            )
        })
    }

    /// Make one picture. Retried inside only on a 429 (never processed); a 5xx or a timeout
    /// comes back as [`ErrorKind::Transient`] (it may have been billed).
    pub async fn generate_image(&self, req: &ImageRequest) -> Result<GeneratedImage> {
        if let Some(e) = self.missing_key() {
            return Err(e);
        }
        let model = valid_model(&req.model)?;
        let mut parts = vec![json!({"text": req.prompt})];
        for img in &req.reference_images {
            parts.push(
                json!({"inlineData": {"mimeType": img.mime, "data": STANDARD.encode(&img.bytes)}}),
            );
        }
        let mut image_config = serde_json::Map::new();
        if let Some(r) = req.aspect_ratio {
            image_config.insert("aspectRatio".into(), json!(r.as_str()));
        }
        if let Some(s) = req.image_size {
            image_config.insert("imageSize".into(), json!(s.as_str()));
        }
        let body = json!({
            "contents": [{"role": "user", "parts": parts}],
            "generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": image_config},
        });
        let url = self
            .t
            .url(&format!("/v1beta/models/{model}:generateContent"));
        let answer = self
            .t
            .send(
                "generateContent",
                Safety::Paid,
                |http| {
                    http.post(&url)
                        .header("x-goog-api-key", self.key.clone())
                        .json(&body)
                },
                classify,
            )
            .await?;
        let v = answer.json().ok_or_else(|| ProviderError::Unexpected {
            provider: P,
            status: answer.status,
            detail: format!("the body is not JSON: {}", snippet(&answer.body, 80)),
        })?;
        decode_image(&v)
    }

    /// The connection check: `GET /v1beta/models/{model}` (free). Ok when the key works and the
    /// model exists.
    pub async fn check(&self, model: &str) -> Result<()> {
        if let Some(e) = self.missing_key() {
            return Err(e);
        }
        let model = valid_model(model)?;
        let url = self.t.url(&format!("/v1beta/models/{model}"));
        self.t
            .send(
                "getModel",
                Safety::Read,
                |http| http.get(&url).header("x-goog-api-key", self.key.clone()),
                classify,
            )
            .await?;
        Ok(())
    }
}

fn valid_model(model: &str) -> Result<&str> {
    let m = model.trim().trim_start_matches("models/");
    if m.is_empty()
        || !m
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        return Err(ProviderError::InvalidInput {
            provider: P,
            detail: format!("{model:?} is not a Gemini model id"),
        });
    }
    Ok(m)
}

/// Google's JSON duration (`"29s"`, `"1.500s"`), clamped to an hour.
pub(crate) fn parse_google_duration(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs.min(3600.0)))
}

/// An error answer: `{"error":{code,message,status,details}}`.
fn classify(a: Answer) -> ProviderError {
    let Some(err) = a.json().and_then(|v| v.get("error").cloned()) else {
        return ProviderError::Unexpected {
            provider: P,
            status: a.status,
            detail: format!("not a Gemini error object: {}", snippet(&a.body, 120)),
        };
    };
    let status_name = err
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("UNKNOWN")
        .to_owned();
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let details: Vec<Value> = err
        .get("details")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let of_type = |t: &'static str| {
        details.iter().filter(move |d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|x| x.ends_with(t))
        })
    };
    let reason = of_type("google.rpc.ErrorInfo")
        .find_map(|d| d.get("reason").and_then(Value::as_str))
        .map(str::to_owned);
    let retry_delay = of_type("google.rpc.RetryInfo")
        .find_map(|d| d.get("retryDelay").and_then(Value::as_str))
        .and_then(parse_google_duration)
        .or_else(|| retry_after_header(&a));
    let violations: Vec<&Value> = of_type("google.rpc.QuotaFailure")
        .filter_map(|d| d.get("violations").and_then(Value::as_array))
        .flatten()
        .collect();
    let quota_ids: Vec<&str> = violations
        .iter()
        .filter_map(|v| v.get("quotaId").and_then(Value::as_str))
        .collect();
    let zero_quota = violations
        .iter()
        .any(|v| v.get("quotaValue").and_then(Value::as_str) == Some("0"));
    let code = reason.clone().unwrap_or_else(|| status_name.clone());
    let e = |kind| ApiError::new(P, a.status, code.clone(), message.clone(), kind);
    let api = match (a.status, reason.as_deref(), status_name.as_str()) {
        (400, Some("API_KEY_INVALID"), _) | (401, ..) | (403, ..) => e(ErrorKind::Configuration)
            .say("the Gemini key was refused", P.key_hint()),
        (400, _, "FAILED_PRECONDITION") => e(ErrorKind::Configuration).say(
            "Gemini is not available to this key's project",
            "enable billing on the Google Cloud project (the free tier is not offered in this region)",
        ),
        (404, ..) => e(ErrorKind::Configuration).say(
            "Gemini does not know this model",
            "choose another image model in Settings → Providers",
        ),
        (429, ..) if zero_quota => e(ErrorKind::Configuration).say(
            "the Gemini project has no quota for this model",
            "enable billing on the Google Cloud project or choose another model",
        ),
        (429, ..) => {
            let quota = if quota_ids.is_empty() {
                String::new()
            } else {
                format!(" (quota {})", quota_ids.join(", "))
            };
            let when = retry_delay.map_or_else(
                || "it is tried again later".to_owned(),
                |d| format!("it is tried again after {}s", d.as_secs_f64().ceil()),
            );
            e(ErrorKind::Transient {
                retry_after: retry_delay,
            })
            .say(&format!("Gemini is limiting our requests{quota}"), &when)
        }
        (s, ..) if s >= 500 => e(ErrorKind::Transient {
            retry_after: retry_after_header(&a),
        })
        .say("Gemini is having trouble", "it is tried again later"),
        _ => e(ErrorKind::Permanent).say("Gemini rejected the request", ""),
    };
    ProviderError::Api(api)
}

fn text_of(parts: &[Value]) -> Option<String> {
    let texts: Vec<&str> = parts
        .iter()
        .filter(|p| !is_thought(p))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .filter(|t| !t.trim().is_empty())
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

fn is_thought(p: &Value) -> bool {
    p.get("thought").and_then(Value::as_bool) == Some(true)
}

/// A 200 answer: the picture, or the refusal / missing image it reports.
fn decode_image(v: &Value) -> Result<GeneratedImage> {
    let candidates = v
        .get("candidates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(cand) = candidates.first() else {
        let feedback = v.get("promptFeedback");
        if let Some(block) = feedback
            .and_then(|f| f.get("blockReason"))
            .and_then(Value::as_str)
        {
            let msg = feedback
                .and_then(|f| f.get("blockReasonMessage"))
                .and_then(Value::as_str);
            return Err(ProviderError::Refused {
                provider: P,
                what: "the prompt".into(),
                reason: match msg {
                    Some(m) => format!("{m} ({block})"),
                    None => format!("blocked for {block}"),
                },
            });
        }
        return Err(ProviderError::NoOutput {
            provider: P,
            what: "an image",
            detail: "the answer has no candidates".into(),
        });
    };
    let finish = cand
        .get("finishReason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if BLOCKED_FINISH.contains(&finish) {
        let msg = cand.get("finishMessage").and_then(Value::as_str);
        return Err(ProviderError::Refused {
            provider: P,
            what: "the image".into(),
            reason: match msg {
                Some(m) => format!("{m} ({finish})"),
                None => format!("blocked for {finish}"),
            },
        });
    }
    let parts: Vec<Value> = cand
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let image = parts
        .iter()
        .filter(|p| !is_thought(p))
        .filter_map(|p| p.get("inlineData").or_else(|| p.get("inline_data")))
        .rfind(|d| {
            d.get("mimeType")
                .or_else(|| d.get("mime_type"))
                .and_then(Value::as_str)
                .is_some_and(|m| m.starts_with("image/"))
        });
    let text = text_of(&parts);
    let Some(image) = image else {
        let detail = match (finish, &text) {
            ("" | "STOP", Some(t)) => format!("it answered with text only: {t}"),
            (f, Some(t)) => format!("finishReason {f}: {t}"),
            ("", None) => "the answer has no parts".into(),
            (f, None) => format!("finishReason {f}"),
        };
        return Err(ProviderError::NoOutput {
            provider: P,
            what: "an image",
            detail,
        });
    };
    let mime = image
        .get("mimeType")
        .or_else(|| image.get("mime_type"))
        .and_then(Value::as_str)
        .unwrap_or("image/png")
        .to_owned();
    let data = image
        .get("data")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let bytes = STANDARD
        .decode(data)
        .or_else(|_| URL_SAFE.decode(data))
        .map_err(|_| ProviderError::Unexpected {
            provider: P,
            status: 200,
            detail: "`candidates[0].content.parts[].inlineData.data` is not base64".into(),
        })?;
    if bytes.is_empty() {
        return Err(ProviderError::NoOutput {
            provider: P,
            what: "an image",
            detail: "the image part is empty".into(),
        });
    }
    let image_tokens = v
        .pointer("/usageMetadata/candidatesTokensDetails")
        .and_then(Value::as_array)
        .and_then(|d| {
            d.iter()
                .find(|x| x.get("modality").and_then(Value::as_str) == Some("IMAGE"))
        })
        .and_then(|x| x.get("tokenCount").and_then(Value::as_u64));
    Ok(GeneratedImage {
        bytes: Bytes::from(bytes),
        mime,
        text,
        image_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_durations() {
        assert_eq!(parse_google_duration("29s"), Some(Duration::from_secs(29)));
        assert_eq!(
            parse_google_duration("0.050s"),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            parse_google_duration("1e9s"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(parse_google_duration("-1s"), None);
        assert_eq!(parse_google_duration("29"), None);
    }

    #[test]
    fn the_last_image_part_that_is_not_a_thought_is_taken() {
        let png = |b: &[u8]| STANDARD.encode(b);
        let v = json!({"candidates": [{"content": {"parts": [
            {"inlineData": {"mimeType": "image/png", "data": png(b"interim")}, "thought": true},
            {"text": "draft", "thought": true},
            {"inline_data": {"mime_type": "image/png", "data": png(b"first")}},
            {"text": "Here it is."},
            {"inlineData": {"mimeType": "image/png", "data": png(b"final")}},
            {"inlineData": {"mimeType": "image/png", "data": png(b"late thought")}, "thought": true}
        ]}, "finishReason": "STOP"}],
        "usageMetadata": {"candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}]}});
        let img = decode_image(&v).unwrap();
        assert_eq!(&img.bytes[..], b"final");
        assert_eq!(img.text.as_deref(), Some("Here it is."));
        assert_eq!(img.image_tokens, Some(1290));
    }

    #[test]
    fn aspect_ratios_round_trip() {
        for r in AspectRatio::ALL {
            assert_eq!(AspectRatio::parse(r.as_str()), Some(r));
        }
        assert_eq!(AspectRatio::parse("7:3"), None);
    }
}
