//! Kling image-to-video: create a task, poll it, download the MP4 (see the crate README,
//! "Kling").
//!
//! A create costs money and Kling has no idempotency key besides `external_task_id`: after a
//! create whose answer was lost (timeout, 5xx, dropped connection), [`KlingClient::create_or_find`]
//! looks the task up by that id before anything else, so a clip is never paid twice.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use rand::Rng;
use reqwest::header::HeaderValue;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, warn};

use crate::Provider;
use crate::config::{RetryPolicy, Secret, base_url_from_env};
use crate::error::{ApiError, ErrorKind, ProviderError, Result};
use crate::http::{Answer, Safety, Transport, retry_after_header, snippet};

/// Kling's endpoint outside China.
pub const DEFAULT_BASE_URL: &str = "https://api-singapore.klingai.com";
/// Environment variable overriding the base URL (end-to-end runs point it at the double).
pub const BASE_URL_ENV: &str = "KLING_BASE_URL";
/// JWT lifetime Kling's docs use.
pub const JWT_LIFETIME: Duration = Duration::from_secs(1800);
/// A cached JWT is replaced when less than this is left of it.
pub const JWT_RENEW_BEFORE: Duration = Duration::from_secs(300);

const P: Provider = Provider::Kling;

/// How the client proves who it is.
#[derive(Clone)]
pub enum KlingCredentials {
    /// An access key and secret key: the client signs short-lived HS256 JWTs.
    AccessSecret {
        /// The access key (the JWT's `iss`).
        access: Secret,
        /// The secret key (signs the JWT).
        secret: Secret,
    },
    /// A console API key sent as the bearer token.
    ApiKey(Secret),
}

impl std::fmt::Debug for KlingCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AccessSecret { .. } => f.write_str("AccessSecret { access: ***, secret: *** }"),
            Self::ApiKey(_) => f.write_str("ApiKey(***)"),
        }
    }
}

/// How the client talks to Kling.
#[derive(Debug, Clone)]
pub struct KlingConfig {
    /// Base URL (may carry a path prefix).
    pub base_url: String,
    /// Keys.
    pub credentials: KlingCredentials,
    /// Timeout of one API attempt.
    pub timeout: Duration,
    /// Timeout of one video download.
    pub download_timeout: Duration,
    /// Jobs this client runs at once (from create until the job ends); Kling counts them per
    /// account and resource pack, and answers 1303 past the pack's limit.
    pub max_concurrent_jobs: usize,
    /// Retries inside a call.
    pub retry: RetryPolicy,
}

impl KlingConfig {
    /// Defaults: the Singapore URL, a 60 s timeout, 3 jobs at once.
    pub fn new(credentials: KlingCredentials) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            credentials,
            timeout: Duration::from_secs(60),
            download_timeout: Duration::from_secs(600),
            max_concurrent_jobs: 3,
            retry: RetryPolicy::default(),
        }
    }

    /// Defaults, with the base URL from `KLING_BASE_URL` when set.
    pub fn from_env(credentials: KlingCredentials) -> Self {
        Self {
            base_url: base_url_from_env(BASE_URL_ENV, DEFAULT_BASE_URL),
            ..Self::new(credentials)
        }
    }
}

/// `mode`: 720p or 1080p.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KlingMode {
    /// Standard (720p).
    #[default]
    Std,
    /// Professional (1080p), dearer.
    Pro,
}

impl KlingMode {
    /// As sent: `std` / `pro`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Std => "std",
            Self::Pro => "pro",
        }
    }
}

/// One clip to make from a picture.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoRequest {
    /// `model_name`, e.g. `kling-v2-5-turbo`.
    pub model: String,
    /// The picture (jpg/png, ≥300 px, ≤10 MB); sent as base64 without a `data:` prefix.
    pub image: Bytes,
    /// The prompt (≤2500 characters).
    pub prompt: String,
    /// What to avoid (≤2500 characters).
    pub negative_prompt: Option<String>,
    /// std or pro.
    pub mode: KlingMode,
    /// 5 or 10.
    pub duration_secs: u32,
    /// The caller's unique id for this job; [`KlingClient::create_or_find`] finds a task again
    /// by it (make it deterministic, e.g. from the job's id and attempt).
    pub external_task_id: Option<String>,
}

/// Kling's id of a task.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct KlingTaskId(pub String);

impl KlingTaskId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KlingTaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a task is.
#[derive(Debug, Clone, PartialEq)]
pub enum KlingStatus {
    /// Accepted, waiting.
    Submitted,
    /// Being made.
    Processing,
    /// Done: the MP4 (deleted by Kling after 30 days).
    Succeeded {
        /// Where the MP4 is.
        video_url: String,
        /// Its length.
        duration_secs: f64,
    },
    /// Ended without a clip (usually refused after acceptance).
    Failed {
        /// `task_status_msg`.
        message: String,
    },
}

/// A task as Kling reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct KlingTask {
    /// Kling's id.
    pub id: KlingTaskId,
    /// The caller's id, if it gave one.
    pub external_task_id: Option<String>,
    /// Where it is.
    pub status: KlingStatus,
}

/// A finished clip.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedVideo {
    /// Kling's id.
    pub task_id: KlingTaskId,
    /// Where the MP4 is.
    pub video_url: String,
    /// Its length.
    pub duration_secs: f64,
}

/// How [`KlingClient::wait`] polls: exponential from `start` to `max`, with jitter, giving up
/// (with a transient [`ProviderError::StillRunning`]) after `give_up_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub start: Duration,
    /// Longest delay.
    pub max: Duration,
    /// How long to wait in all.
    pub give_up_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            start: Duration::from_secs(5),
            max: Duration::from_secs(20),
            give_up_after: Duration::from_secs(30 * 60),
        }
    }
}

impl Backoff {
    /// The delay before poll `n` (1-based): start · 2^(n-1), capped, times jitter in [0.8, 1.2).
    pub fn delay(&self, n: u32) -> Duration {
        let exp = self
            .start
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.max);
        exp.mul_f64(rand::rng().random_range(0.8..1.2))
    }
}

/// One of the client's job places, held from create until the job ends. Dropping it frees the
/// place. Hold it across a resume (after a restart, acquire one before waiting on a task).
#[derive(Debug)]
pub struct JobSlot {
    pool: Arc<Semaphore>,
    _permit: OwnedSemaphorePermit,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    exp: i64,
    nbf: i64,
}

struct CachedJwt {
    header: HeaderValue,
    exp: i64,
}

/// A Kling API client. Share one per account (its job slots are the account's concurrency).
pub struct KlingClient {
    t: Transport,
    credentials: KlingCredentials,
    jwt: Mutex<Option<CachedJwt>>,
    slots: Arc<Semaphore>,
    download_timeout: Duration,
}

impl std::fmt::Debug for KlingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KlingClient")
            .field("base_url", &self.t.base_url)
            .field("credentials", &self.credentials)
            .field("free_job_slots", &self.slots.available_permits())
            .finish()
    }
}

/// Which call an error answer belongs to (a 1203 is an unknown model on create, an unknown task
/// on a query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Create,
    Query,
    Account,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl KlingClient {
    /// A client; fails on keys that cannot be used.
    pub fn new(config: KlingConfig) -> Result<Self> {
        let empty = match &config.credentials {
            KlingCredentials::AccessSecret { access, secret } => {
                access.is_empty() || secret.is_empty()
            }
            KlingCredentials::ApiKey(k) => k.is_empty(),
        };
        if empty {
            return Err(ProviderError::Api(
                ApiError::new(P, 0, "NO_KEY", "", ErrorKind::Configuration)
                    .say("no Kling keys are set", P.key_hint()),
            ));
        }
        let t = Transport::new(P, &config.base_url, config.timeout, None, config.retry)?;
        Ok(Self {
            t,
            credentials: config.credentials,
            jwt: Mutex::new(None),
            slots: Arc::new(Semaphore::new(config.max_concurrent_jobs.max(1))),
            download_timeout: config.download_timeout,
        })
    }

    /// Wait for one of the client's job places.
    pub async fn acquire_job_slot(&self) -> JobSlot {
        let pool = self.slots.clone();
        // The semaphore is never closed, so acquiring cannot fail; a closed one would mean no
        // limit rather than a panic.
        loop {
            if let Ok(permit) = pool.clone().acquire_owned().await {
                return JobSlot {
                    pool,
                    _permit: permit,
                };
            }
            tokio::task::yield_now().await;
        }
    }

    /// A job place if one is free now.
    pub fn try_acquire_job_slot(&self) -> Option<JobSlot> {
        let pool = self.slots.clone();
        pool.clone().try_acquire_owned().ok().map(|permit| JobSlot {
            pool,
            _permit: permit,
        })
    }

    /// Job places free now.
    pub fn free_job_slots(&self) -> usize {
        self.slots.available_permits()
    }

    fn own_slot(&self, slot: &JobSlot) -> Result<()> {
        if Arc::ptr_eq(&slot.pool, &self.slots) {
            Ok(())
        } else {
            Err(ProviderError::InvalidInput {
                provider: P,
                detail: "the job slot belongs to another Kling client".into(),
            })
        }
    }

    /// The `Authorization` value: the API key, or a JWT cached until 5 minutes before expiry.
    fn bearer(&self) -> Result<HeaderValue> {
        self.bearer_at(now_secs())
    }

    fn bearer_at(&self, now: i64) -> Result<HeaderValue> {
        let (access, secret) = match &self.credentials {
            KlingCredentials::ApiKey(k) => {
                return sensitive(&format!("Bearer {}", k.expose_secret()));
            }
            KlingCredentials::AccessSecret { access, secret } => (access, secret),
        };
        let mut cache = self.jwt.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.as_ref()
            && c.exp - now > JWT_RENEW_BEFORE.as_secs() as i64
        {
            return Ok(c.header.clone());
        }
        let exp = now + JWT_LIFETIME.as_secs() as i64;
        let claims = Claims {
            iss: access.expose_secret(),
            exp,
            nbf: now - 5,
        };
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.expose_secret().as_bytes()),
        )
        .map_err(|e| ProviderError::InvalidInput {
            provider: P,
            detail: format!("cannot sign the Kling token ({:?})", e.kind()),
        })?;
        let header = sensitive(&format!("Bearer {token}"))?;
        debug!(exp, "signed a new Kling JWT");
        *cache = Some(CachedJwt {
            header: header.clone(),
            exp,
        });
        Ok(header)
    }

    /// Send a JSON API call and read Kling's envelope; returns `data`.
    async fn call(
        &self,
        what: &str,
        call: Call,
        safety: Safety,
        build: impl Fn(&reqwest::Client, HeaderValue) -> reqwest::RequestBuilder,
    ) -> Result<Value> {
        let auth = self.bearer()?;
        let a = self
            .t
            .send(
                what,
                safety,
                |http| build(http, auth.clone()),
                |a| classify(a, call),
            )
            .await?;
        let Some(v) = a.json() else {
            return Err(ProviderError::Unexpected {
                provider: P,
                status: a.status,
                detail: format!("the body is not JSON: {}", snippet(&a.body, 80)),
            });
        };
        // Kling's envelope can carry an error code in a 200.
        match v.get("code").and_then(Value::as_i64) {
            Some(0) => Ok(v.get("data").cloned().unwrap_or(Value::Null)),
            Some(_) => Err(classify(a, call)),
            None => Err(ProviderError::Unexpected {
                provider: P,
                status: a.status,
                detail: "`code` is missing from the answer".into(),
            }),
        }
    }

    /// `POST /v1/videos/image2video`. Needs one of this client's job slots. Retried inside only
    /// on a 429 (never processed): after a 5xx, a timeout or a dropped connection the task may
    /// exist, so use [`KlingClient::create_or_find`] unless you know better.
    pub async fn create(&self, slot: &JobSlot, req: &VideoRequest) -> Result<KlingTaskId> {
        self.own_slot(slot)?;
        let body = create_body(req)?;
        let url = self.t.url("/v1/videos/image2video");
        let data = self
            .call(
                "image2video.create",
                Call::Create,
                Safety::Paid,
                |http, auth| http.post(&url).header("authorization", auth).json(&body),
            )
            .await?;
        let id = data
            .get("task_id")
            .and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            })
            .ok_or_else(|| ProviderError::Unexpected {
                provider: P,
                status: 200,
                detail: "`data.task_id` is missing".into(),
            })?;
        info!(task_id = %id, external_task_id = ?req.external_task_id, "Kling task created");
        Ok(KlingTaskId(id))
    }

    /// Create the task unless it exists already, never paying twice: when the request carries an
    /// `external_task_id` the task is looked up first (a resume after a crash), and when the create
    /// fails in a way that may have landed (timeout, 5xx, dropped connection) it is looked up
    /// again before anything else. Only when the lookup proves it did not land is it sent once
    /// more. Without an `external_task_id` one is made up for this call.
    pub async fn create_or_find(&self, slot: &JobSlot, req: &VideoRequest) -> Result<KlingTaskId> {
        self.own_slot(slot)?;
        let mut req = req.clone();
        let external = match &req.external_task_id {
            Some(e) => {
                if let Some(task) = self.find(e).await? {
                    info!(task_id = %task.id, external_task_id = e, "Kling task already exists");
                    return Ok(task.id);
                }
                e.clone()
            }
            None => {
                let e = format!("reviewdesk-{}", uuid::Uuid::new_v4().simple());
                req.external_task_id = Some(e.clone());
                e
            }
        };
        let mut sent = 0;
        loop {
            sent += 1;
            let err = match self.create(slot, &req).await {
                Ok(id) => return Ok(id),
                Err(e) if e.may_have_landed() => e,
                Err(e) => return Err(e),
            };
            warn!(external_task_id = external, error = %err, "Kling create may have landed; looking it up");
            match self.find(&external).await {
                Ok(Some(task)) => {
                    info!(task_id = %task.id, external_task_id = external, "found the Kling task the lost answer created");
                    return Ok(task.id);
                }
                // Proven not there: one more send is safe (once).
                Ok(None) if sent < 2 => continue,
                Ok(None) => return Err(err),
                // Cannot tell: sending again could pay twice.
                Err(lookup) => {
                    warn!(error = %lookup, "Kling lookup failed; not sending the create again");
                    return Err(err);
                }
            }
        }
    }

    /// `GET /v1/videos/image2video/{id}` by task id or external id.
    pub async fn status(&self, id: &str) -> Result<KlingTask> {
        let id = path_segment(id)?;
        let url = self.t.url(&format!("/v1/videos/image2video/{id}"));
        let data = self
            .call(
                "image2video.query",
                Call::Query,
                Safety::Read,
                |http, auth| http.get(&url).header("authorization", auth),
            )
            .await?;
        decode_task(&data)
    }

    /// Like [`KlingClient::status`], but `None` when Kling has no such task (a 400 or 404).
    pub async fn find(&self, id: &str) -> Result<Option<KlingTask>> {
        match self.status(id).await {
            Ok(t) => Ok(Some(t)),
            Err(ProviderError::Api(e)) if e.status == 404 || e.status == 400 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Poll until the task ends. `Succeeded` → the clip; `Failed` → [`ErrorKind::Refused`] with
    /// Kling's message. Transient poll failures are waited out; after `backoff.give_up_after`,
    /// [`ProviderError::StillRunning`].
    pub async fn wait(&self, id: &str, backoff: &Backoff) -> Result<FinishedVideo> {
        let started = Instant::now();
        let mut n = 0;
        loop {
            n += 1;
            match self.status(id).await {
                Ok(KlingTask {
                    id: task_id,
                    status:
                        KlingStatus::Succeeded {
                            video_url,
                            duration_secs,
                        },
                    ..
                }) => {
                    return Ok(FinishedVideo {
                        task_id,
                        video_url,
                        duration_secs,
                    });
                }
                Ok(KlingTask {
                    status: KlingStatus::Failed { message },
                    ..
                }) => {
                    return Err(ProviderError::Refused {
                        provider: P,
                        what: "the clip after accepting it".into(),
                        reason: message,
                    });
                }
                Ok(t) => {
                    debug!(task_id = %t.id, status = ?t.status, poll = n, "Kling task not done")
                }
                Err(e) if e.is_transient() => {
                    warn!(error = %e, poll = n, "Kling poll failed; waiting")
                }
                Err(e) => return Err(e),
            }
            let delay = backoff.delay(n);
            if started.elapsed() + delay > backoff.give_up_after {
                return Err(ProviderError::StillRunning {
                    provider: P,
                    task_id: id.to_owned(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// Acquire a slot, create (or find) the task, wait for it, and free the slot.
    pub async fn generate(&self, req: &VideoRequest, backoff: &Backoff) -> Result<FinishedVideo> {
        let slot = self.acquire_job_slot().await;
        let id = self.create_or_find(&slot, req).await?;
        let done = self.wait(id.as_str(), backoff).await;
        drop(slot);
        done
    }

    /// Download a finished clip. No credentials are sent (the URL is a CDN's); retried on
    /// transient failures.
    pub async fn download(&self, url: &str) -> Result<Bytes> {
        let parsed = reqwest::Url::parse(url).map_err(|_| ProviderError::InvalidInput {
            provider: P,
            detail: "the video URL is not a URL".into(),
        })?;
        let timeout = self.download_timeout;
        let a = self
            .t
            .send(
                &format!("download {}", parsed.path()),
                Safety::Read,
                |http| http.get(parsed.clone()).timeout(timeout),
                |a| {
                    let kind = if a.status == 429 || a.status >= 500 {
                        ErrorKind::Transient {
                            retry_after: retry_after_header(&a),
                        }
                    } else {
                        ErrorKind::Permanent
                    };
                    ProviderError::Api(
                        ApiError::new(
                            P,
                            a.status,
                            a.status.to_string(),
                            snippet(&a.body, 80),
                            kind,
                        )
                        .say(
                            "the Kling video could not be downloaded",
                            if a.status == 404 || a.status == 403 || a.status == 410 {
                                "Kling deletes clips 30 days after making them; make the clip again"
                            } else {
                                ""
                            },
                        ),
                    )
                },
            )
            .await?;
        if a.body.len() < 8 || &a.body[4..8] != b"ftyp" {
            return Err(ProviderError::Unexpected {
                provider: P,
                status: a.status,
                detail: format!("the video is not an MP4 ({} bytes)", a.body.len()),
            });
        }
        Ok(a.body)
    }

    /// The connection check: `GET /account/costs` over the last day (free). Ok when the keys work.
    pub async fn check(&self) -> Result<()> {
        let end = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let start = end - 24 * 3600 * 1000;
        let url = self
            .t
            .url(&format!("/account/costs?start_time={start}&end_time={end}"));
        self.call(
            "account.costs",
            Call::Account,
            Safety::Read,
            |http, auth| http.get(&url).header("authorization", auth),
        )
        .await?;
        Ok(())
    }
}

fn sensitive(v: &str) -> Result<HeaderValue> {
    let mut h = HeaderValue::from_str(v).map_err(|_| ProviderError::InvalidInput {
        provider: P,
        detail: "the Kling key contains characters that cannot be sent in a header".into(),
    })?;
    h.set_sensitive(true);
    Ok(h)
}

fn path_segment(id: &str) -> Result<&str> {
    let id = id.trim();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ProviderError::InvalidInput {
            provider: P,
            detail: format!("{id:?} is not a Kling task id"),
        });
    }
    Ok(id)
}

fn create_body(req: &VideoRequest) -> Result<Value> {
    let invalid = |detail: String| ProviderError::InvalidInput {
        provider: P,
        detail,
    };
    if req.duration_secs != 5 && req.duration_secs != 10 {
        return Err(invalid(format!(
            "a clip lasts 5 or 10 seconds, not {}",
            req.duration_secs
        )));
    }
    if req.image.is_empty() {
        return Err(invalid("the picture is empty".into()));
    }
    let mut body = json!({
        "model_name": req.model,
        "image": STANDARD.encode(&req.image),
        "prompt": req.prompt,
        "mode": req.mode.as_str(),
        "duration": req.duration_secs.to_string(),
    });
    if let Some(n) = &req.negative_prompt {
        body["negative_prompt"] = json!(n);
    }
    if let Some(e) = &req.external_task_id {
        body["external_task_id"] = json!(e);
    }
    Ok(body)
}

fn decode_task(data: &Value) -> Result<KlingTask> {
    let missing = |field: &str| ProviderError::Unexpected {
        provider: P,
        status: 200,
        detail: format!("`data.{field}` is missing"),
    };
    let id = data
        .get("task_id")
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
        .ok_or_else(|| missing("task_id"))?;
    let external_task_id = data
        .pointer("/task_info/external_task_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let status = match data.get("task_status").and_then(Value::as_str) {
        Some("submitted") => KlingStatus::Submitted,
        Some("processing") => KlingStatus::Processing,
        Some("succeed") => {
            let video = data
                .pointer("/task_result/videos/0")
                .ok_or_else(|| missing("task_result.videos[0]"))?;
            let video_url = video
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("task_result.videos[0].url"))?
                .to_owned();
            let duration_secs = match video.get("duration") {
                Some(Value::String(s)) => s.trim().parse().ok(),
                Some(v) => v.as_f64(),
                None => None,
            }
            .ok_or_else(|| missing("task_result.videos[0].duration"))?;
            KlingStatus::Succeeded {
                video_url,
                duration_secs,
            }
        }
        Some("failed") => KlingStatus::Failed {
            message: data
                .get("task_status_msg")
                .and_then(Value::as_str)
                .filter(|m| !m.trim().is_empty())
                .unwrap_or("no reason given")
                .to_owned(),
        },
        Some(other) => {
            return Err(ProviderError::Unexpected {
                provider: P,
                status: 200,
                detail: format!("unknown task_status {other:?}"),
            });
        }
        None => return Err(missing("task_status")),
    };
    Ok(KlingTask {
        id: KlingTaskId(id),
        external_task_id,
        status,
    })
}

/// An error answer in Kling's envelope `{"code","message","request_id","data"}`.
fn classify(a: Answer, call: Call) -> ProviderError {
    let v = a.json();
    let code = v
        .as_ref()
        .and_then(|v| v.get("code"))
        .and_then(Value::as_i64);
    let Some(code) = code else {
        return ProviderError::Unexpected {
            provider: P,
            status: a.status,
            detail: format!("not a Kling error envelope: {}", snippet(&a.body, 120)),
        };
    };
    let message = v
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let request_id = v
        .as_ref()
        .and_then(|v| v.get("request_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if code == 1301 {
        return ProviderError::Refused {
            provider: P,
            what: "the image".into(),
            reason: message,
        };
    }
    let transient = ErrorKind::Transient {
        retry_after: retry_after_header(&a),
    };
    let e = |kind| {
        ApiError::new(P, a.status, code.to_string(), message.clone(), kind)
            .request_id(request_id.clone())
    };
    let api = match code {
        1003 | 1004 => e(ErrorKind::Configuration).say(
            "the Kling token was refused as not valid at this time",
            "check that this computer's clock is right",
        ),
        1000..=1099 => e(ErrorKind::Configuration).say("the Kling keys were refused", P.key_hint()),
        1100..=1102 => e(ErrorKind::Configuration).say(
            "the Kling account cannot start clips",
            "top up or renew the resource pack in the Kling console",
        ),
        1103 => e(ErrorKind::Configuration).say(
            "the Kling keys have no access to this API or model",
            "enable it in the Kling console or choose another model in Settings → Providers",
        ),
        1203 if call == Call::Create => e(ErrorKind::Configuration).say(
            "Kling does not know this model",
            "choose another video model in Settings → Providers",
        ),
        1203 => e(ErrorKind::Permanent).say("Kling has no such task", ""),
        1302 => e(transient).say("Kling asked us to slow down", "it is tried again later"),
        1303 => e(transient).say(
            "Kling is already running as many clips as the resource pack allows",
            "the clip starts when another one finishes",
        ),
        5000..=5999 => e(transient).say("Kling is having trouble", "it is tried again later"),
        _ => match a.status {
            401 | 403 => {
                e(ErrorKind::Configuration).say("the Kling keys were refused", P.key_hint())
            }
            429 => e(transient).say("Kling asked us to slow down", "it is tried again later"),
            s if s >= 500 => e(transient).say("Kling is having trouble", "it is tried again later"),
            _ => e(ErrorKind::Permanent).say("Kling rejected the request", ""),
        },
    };
    ProviderError::Api(api)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> KlingClient {
        KlingClient::new(KlingConfig::new(KlingCredentials::AccessSecret {
            access: Secret::new("ak"),
            secret: Secret::new("sk"),
        }))
        .unwrap()
    }

    #[test]
    fn the_jwt_is_cached_and_renewed_five_minutes_before_it_expires() {
        let c = client();
        let t0 = 1_800_000_000;
        let first = c.bearer_at(t0).unwrap();
        assert!(first.is_sensitive());
        assert_eq!(
            c.bearer_at(t0 + 1000).unwrap(),
            first,
            "still fresh: cached"
        );
        let renewed = c.bearer_at(t0 + 1501).unwrap();
        assert_ne!(renewed, first, "less than 300 s left: a new token");

        let token = renewed
            .to_str()
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap()
            .to_owned();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"sk"),
            &v,
        )
        .unwrap();
        assert_eq!(data.header.typ.as_deref(), Some("JWT"));
        assert_eq!(data.claims["iss"], "ak");
        assert_eq!(data.claims["exp"], t0 + 1501 + 1800);
        assert_eq!(data.claims["nbf"], t0 + 1501 - 5);
    }

    #[test]
    fn poll_backoff_grows_from_start_to_max_with_jitter() {
        let b = Backoff {
            start: Duration::from_millis(100),
            max: Duration::from_millis(400),
            give_up_after: Duration::from_secs(1),
        };
        for (n, base) in [(1, 100.0), (2, 200.0), (3, 400.0), (9, 400.0)] {
            let ms = b.delay(n).as_secs_f64() * 1000.0;
            assert!(ms >= base * 0.8 && ms < base * 1.2, "{n}: {ms}");
        }
    }

    #[test]
    fn durations_other_than_5_or_10_are_refused_before_sending() {
        let req = VideoRequest {
            model: "kling-v2-5-turbo".into(),
            image: Bytes::from_static(b"x"),
            prompt: String::new(),
            negative_prompt: None,
            mode: KlingMode::Std,
            duration_secs: 7,
            external_task_id: None,
        };
        assert!(matches!(
            create_body(&req),
            Err(ProviderError::InvalidInput { .. })
        ));
        let ok = create_body(&VideoRequest {
            duration_secs: 10,
            ..req
        })
        .unwrap();
        assert_eq!(ok["duration"], "10");
        assert_eq!(ok["image"], "eA==");
    }
}
