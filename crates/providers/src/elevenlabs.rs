//! ElevenLabs speech (`POST /v1/text-to-speech/{voice_id}`) and sound effects
//! (`POST /v1/sound-generation`); see the crate README, "ElevenLabs".

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderValue;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use crate::Provider;
use crate::config::{RetryPolicy, Secret, base_url_from_env};
use crate::error::{ApiError, ErrorKind, ProviderError, Result};
use crate::http::{Answer, Safety, Transport, retry_after_header, snippet};

/// ElevenLabs' production endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
/// Environment variable overriding the base URL (end-to-end runs point it at the double).
pub const BASE_URL_ENV: &str = "ELEVENLABS_BASE_URL";
/// The speech model (10 000 characters per request, 1 credit per character).
pub const DEFAULT_SPEECH_MODEL: &str = "eleven_multilingual_v2";
/// The sound-effects model.
pub const DEFAULT_SOUND_MODEL: &str = "eleven_text_to_sound_v2";
/// MP3, 44.1 kHz, 128 kbit/s (every plan).
pub const DEFAULT_OUTPUT_FORMAT: &str = "mp3_44100_128";

const P: Provider = Provider::ElevenLabs;

/// How the client talks to ElevenLabs.
#[derive(Debug, Clone)]
pub struct ElevenLabsConfig {
    /// Base URL (may carry a path prefix).
    pub base_url: String,
    /// The key, sent as `xi-api-key`.
    pub api_key: Secret,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Requests generating at once (the plan's limit: Free 2, Starter 3, Creator 5, Pro 10).
    pub max_concurrent: usize,
    /// Retries inside a call.
    pub retry: RetryPolicy,
}

impl ElevenLabsConfig {
    /// Defaults: the production URL, a 120 s timeout, 2 at once (Free plan).
    pub fn new(api_key: Secret) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key,
            timeout: Duration::from_secs(120),
            max_concurrent: 2,
            retry: RetryPolicy::default(),
        }
    }

    /// Defaults, with the base URL from `ELEVENLABS_BASE_URL` when set.
    pub fn from_env(api_key: Secret) -> Self {
        Self {
            base_url: base_url_from_env(BASE_URL_ENV, DEFAULT_BASE_URL),
            ..Self::new(api_key)
        }
    }
}

/// Speech to make.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechRequest {
    /// The voice.
    pub voice_id: String,
    /// What to say (≤10 000 characters on multilingual v2).
    pub text: String,
    /// The model ([`DEFAULT_SPEECH_MODEL`]).
    pub model_id: String,
    /// `output_format` ([`DEFAULT_OUTPUT_FORMAT`]).
    pub output_format: String,
    /// 0–1.
    pub stability: Option<f32>,
    /// 0–1.
    pub similarity_boost: Option<f32>,
    /// 0–1.
    pub style: Option<f32>,
    /// 0.7–1.2.
    pub speed: Option<f32>,
}

impl SpeechRequest {
    /// The default model and format, the voice's own settings.
    pub fn new(voice_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            voice_id: voice_id.into(),
            text: text.into(),
            model_id: DEFAULT_SPEECH_MODEL.into(),
            output_format: DEFAULT_OUTPUT_FORMAT.into(),
            stability: None,
            similarity_boost: None,
            style: None,
            speed: None,
        }
    }
}

/// A sound effect to make.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundRequest {
    /// What it sounds like.
    pub text: String,
    /// 0.5–30 s; the model chooses when `None`.
    pub duration_secs: Option<f32>,
    /// 0–1 (ElevenLabs' default 0.3 when `None`).
    pub prompt_influence: Option<f32>,
    /// The model ([`DEFAULT_SOUND_MODEL`]).
    pub model_id: String,
}

impl SoundRequest {
    /// The default model; duration and influence chosen by ElevenLabs.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            duration_secs: None,
            prompt_influence: None,
            model_id: DEFAULT_SOUND_MODEL.into(),
        }
    }
}

/// Audio ElevenLabs made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// The file (MP3 for `mp3_*` formats).
    pub bytes: Bytes,
    /// `Content-Type` (`audio/mpeg`).
    pub mime: String,
    /// Credits charged (`character-cost`).
    pub character_cost: Option<u64>,
    /// `request-id`, to quote to support.
    pub request_id: Option<String>,
}

/// An ElevenLabs client. One per key; its concurrency limit is the plan's.
pub struct ElevenLabsClient {
    t: Transport,
    key: HeaderValue,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for ElevenLabsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabsClient")
            .field("base_url", &self.t.base_url)
            .field("api_key", &"***")
            .field("free_slots", &self.slots.available_permits())
            .finish()
    }
}

impl ElevenLabsClient {
    /// A client; fails only on a key that cannot be sent in a header.
    pub fn new(config: ElevenLabsConfig) -> Result<Self> {
        let mut key = HeaderValue::from_str(config.api_key.expose_secret()).map_err(|_| {
            ProviderError::InvalidInput {
                provider: P,
                detail: "the ElevenLabs key contains characters that cannot be sent in a header"
                    .into(),
            }
        })?;
        key.set_sensitive(true);
        let t = Transport::new(P, &config.base_url, config.timeout, None, config.retry)?;
        Ok(Self {
            t,
            key,
            slots: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
        })
    }

    /// Requests that may start now without waiting for another to finish.
    pub fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    fn missing_key(&self) -> Option<ProviderError> {
        self.key.is_empty().then(|| {
            ProviderError::Api(
                ApiError::new(P, 0, "no_key", "", ErrorKind::Configuration)
                    .say("no ElevenLabs key is set", P.key_hint()),
            )
        })
    }

    async fn audio(&self, what: &str, url: String, body: Value) -> Result<Audio> {
        if let Some(e) = self.missing_key() {
            return Err(e);
        }
        // Never more at once than the plan allows; a 429 past it would only be retried.
        let _slot = self.slots.acquire().await.ok();
        let a = self
            .t
            .send(
                what,
                Safety::Paid,
                |http| {
                    http.post(&url)
                        .header("xi-api-key", self.key.clone())
                        .json(&body)
                },
                classify,
            )
            .await?;
        if a.body.is_empty() {
            return Err(ProviderError::Unexpected {
                provider: P,
                status: a.status,
                detail: "the audio is empty".into(),
            });
        }
        Ok(Audio {
            mime: a.header("content-type").unwrap_or("audio/mpeg").to_owned(),
            character_cost: a
                .header("character-cost")
                .and_then(|c| c.trim().parse().ok()),
            request_id: a.header("request-id").map(str::to_owned),
            bytes: a.body,
        })
    }

    /// Text to speech. Retried inside only on a 429.
    pub async fn speech(&self, req: &SpeechRequest) -> Result<Audio> {
        let voice = segment(&req.voice_id, "voice id")?;
        let format = segment(&req.output_format, "output format")?;
        let mut settings = Map::new();
        for (k, v) in [
            ("stability", req.stability),
            ("similarity_boost", req.similarity_boost),
            ("style", req.style),
            ("speed", req.speed),
        ] {
            if let Some(v) = v {
                settings.insert(k.into(), json!(v));
            }
        }
        let mut body = json!({"text": req.text, "model_id": req.model_id});
        if !settings.is_empty() {
            body["voice_settings"] = Value::Object(settings);
        }
        let url = self.t.url(&format!(
            "/v1/text-to-speech/{voice}?output_format={format}"
        ));
        self.audio("text-to-speech", url, body).await
    }

    /// A sound effect. Retried inside only on a 429.
    pub async fn sound_effect(&self, req: &SoundRequest) -> Result<Audio> {
        let mut body = json!({
            "text": req.text,
            "model_id": req.model_id,
            "duration_seconds": req.duration_secs,
        });
        if let Some(p) = req.prompt_influence {
            body["prompt_influence"] = json!(p);
        }
        let url = self.t.url("/v1/sound-generation");
        self.audio("sound-generation", url, body).await
    }

    /// The key check: `GET /v1/user`. A 401 `missing_permissions` (a key without `user_read`)
    /// still means the key itself is valid.
    pub async fn check(&self) -> Result<()> {
        if let Some(e) = self.missing_key() {
            return Err(e);
        }
        let url = self.t.url("/v1/user");
        match self
            .t
            .send(
                "user",
                Safety::Read,
                |http| http.get(&url).header("xi-api-key", self.key.clone()),
                classify,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("missing_permissions") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn segment<'a>(s: &'a str, what: &str) -> Result<&'a str> {
    let s = s.trim();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        return Err(ProviderError::InvalidInput {
            provider: P,
            detail: format!("{s:?} is not an ElevenLabs {what}"),
        });
    }
    Ok(s)
}

/// `loc` of a 422 entry as a dotted path: `body.voice_settings.stability`.
fn loc(v: &Value) -> String {
    v.get("loc")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_default()
}

/// An error answer: `{"detail":{"status","message"}}`, or a 422's `{"detail":[{loc,msg,type}]}`.
fn classify(a: Answer) -> ProviderError {
    let v = a.json();
    let detail = v.as_ref().and_then(|v| v.get("detail"));
    let request_id = a.header("request-id").map(str::to_owned);
    let (code, message) = match detail {
        Some(Value::Array(items)) => (
            "validation_error".to_owned(),
            items
                .iter()
                .map(|i| {
                    format!(
                        "{}: {}",
                        loc(i),
                        i.get("msg").and_then(Value::as_str).unwrap_or("invalid")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Some(Value::Object(d)) => (
            d.get("status")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            d.get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ),
        Some(Value::String(s)) => ("unknown".to_owned(), s.clone()),
        _ => {
            return ProviderError::Unexpected {
                provider: P,
                status: a.status,
                detail: format!("not an ElevenLabs error: {}", snippet(&a.body, 120)),
            };
        }
    };
    let transient = ErrorKind::Transient {
        retry_after: retry_after_header(&a),
    };
    let e = |kind| {
        ApiError::new(P, a.status, code.clone(), message.clone(), kind)
            .request_id(request_id.clone())
    };
    let api = match (a.status, code.as_str()) {
        (401, "quota_exceeded") => e(ErrorKind::Configuration).say(
            "the ElevenLabs credits are used up",
            "upgrade the plan or wait for the monthly reset",
        ),
        (401, "missing_permissions") => e(ErrorKind::Configuration).say(
            "the ElevenLabs key lacks a permission",
            "allow text to speech and sound effects for the key in the ElevenLabs settings",
        ),
        (401 | 403, _) => {
            e(ErrorKind::Configuration).say("the ElevenLabs key was refused", P.key_hint())
        }
        (404, "voice_not_found") => e(ErrorKind::Configuration).say(
            "ElevenLabs has no such voice",
            "choose another voice in Settings → Providers",
        ),
        (404, _) => e(ErrorKind::Configuration).say(
            "ElevenLabs does not know this model or voice",
            "check the voice and model in Settings → Providers",
        ),
        (429, _) => e(transient).say(
            "ElevenLabs is busy or at the plan's concurrency limit",
            "it is tried again later",
        ),
        (s, _) if s >= 500 => {
            e(transient).say("ElevenLabs is having trouble", "it is tried again later")
        }
        _ => e(ErrorKind::Permanent).say("ElevenLabs rejected the request", ""),
    };
    ProviderError::Api(api)
}
