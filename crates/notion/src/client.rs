//! The client: one rate limiter and one shared pause per token, retries per the reference.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::config::{ClientConfig, NOTION_VERSION, NotionToken};
use crate::error::{ApiError, NotionError, Result};
use crate::model::*;
use crate::query::Query;

/// Files above this go multi-part (Notion's single-part limit is 20 MB).
pub const SINGLE_PART_MAX: usize = 20 * 1024 * 1024;
/// Part size used for multi-part uploads (Notion recommends 10 MiB; parts are 5–20 MiB).
pub const PART_SIZE: usize = 10 * 1024 * 1024;

/// Whether a write may be sent again after a 5xx, a timeout or a dropped connection.
///
/// Notion has no idempotency keys: a `POST /v1/pages` that timed out may have landed, and
/// sending it again makes a second page. Only the caller knows whether repeating a write is
/// harmless (setting Status to a value is; appending blocks is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeating it leaves the same state: retried like a GET.
    Idempotent,
    /// Repeating it could duplicate something: retried only on 429/529 (never processed).
    NotIdempotent,
}

/// How a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Safety {
    /// Reads (GET, and queries sent as POST): nothing changes, so any transient failure retries.
    Read,
    /// A write the caller marked.
    Write(Idempotency),
}

impl Safety {
    fn retry_transient(self) -> bool {
        !matches!(self, Safety::Write(Idempotency::NotIdempotent))
    }
}

enum Body {
    Empty,
    Json(Value),
    File {
        bytes: Bytes,
        filename: String,
        content_type: String,
        part_number: Option<u32>,
    },
}

struct Inner {
    http: reqwest::Client,
    auth: HeaderValue,
    config: ClientConfig,
    limiter: DefaultDirectRateLimiter,
    /// Set on 429/529: every caller of every clone waits until then.
    paused_until: Mutex<Option<Instant>>,
}

/// The clients handed out by [`NotionClient::shared`] that are still in use.
static SHARED: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

/// A typed Notion API client. Cheap to clone; clones share the token's rate limiter and the
/// pause after a 429, so build one client per token and hand out clones.
#[derive(Clone)]
pub struct NotionClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for NotionClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotionClient")
            .field("base_url", &self.inner.config.base_url)
            .field(
                "requests_per_second",
                &self.inner.config.requests_per_second,
            )
            .field("token", &"<redacted>")
            .finish()
    }
}

enum Retry {
    No,
    /// Server asked to wait (429/529): pause everyone.
    PauseAll(Duration),
    /// Transient failure: this caller backs off.
    Backoff,
}

impl NotionClient {
    /// A client with [`ClientConfig::from_env`] (base URL from `NOTION_BASE_URL`).
    pub fn new(token: NotionToken) -> Result<Self> {
        Self::with_config(token, ClientConfig::from_env())
    }

    /// A client with an explicit configuration.
    pub fn with_config(token: NotionToken, config: ClientConfig) -> Result<Self> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| {
                NotionError::InvalidInput(
                    "the Notion token contains characters that cannot be sent in a header".into(),
                )
            })?;
        // Sensitive header values print as "Sensitive" in any Debug output (reqwest, hyper).
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("reviewdesk-notion/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotionError::InvalidInput(format!("HTTP client setup failed: {e}")))?;
        let period = Duration::from_secs_f64(1.0 / config.requests_per_second.max(0.001));
        let quota = Quota::with_period(period)
            .ok_or_else(|| NotionError::InvalidInput("rate must be positive".into()))?
            .allow_burst(NonZeroU32::new(config.burst.max(1)).expect("at least 1"));
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                auth,
                limiter: RateLimiter::direct(quota),
                paused_until: Mutex::new(None),
                config,
            }),
        })
    }

    /// The process's client for this token and base URL: the one already in use if there is one
    /// (its configuration stays), else a new one with `config`. Notion's limit is per token, so
    /// two limiters for one token would together send twice the allowed rate.
    pub fn shared(token: NotionToken, config: ClientConfig) -> Result<Self> {
        let mut registry = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        registry.retain(|w| w.strong_count() > 0);
        let found = registry.iter().filter_map(Weak::upgrade).find(|inner| {
            inner.config.base_url == config.base_url && auth_matches(&inner.auth, &token)
        });
        if let Some(inner) = found {
            return Ok(Self { inner });
        }
        let client = Self::with_config(token, config)?;
        registry.push(Arc::downgrade(&client.inner));
        Ok(client)
    }

    /// Whether this client sends `token` (compared in constant time; the token is not kept
    /// anywhere else).
    pub fn uses_token(&self, token: &NotionToken) -> bool {
        auth_matches(&self.inner.auth, token)
    }

    /// Whether both are clones of one client: one rate limiter, one pause after a 429.
    pub fn shares_limiter_with(&self, other: &NotionClient) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.inner.config.base_url.trim_end_matches('/'),
            path
        )
    }

    /// Wait for any shared pause, then for a slot of the rate limiter.
    async fn wait_turn(&self) {
        loop {
            let until = *self
                .inner
                .paused_until
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(t) = until
                && t > Instant::now()
            {
                tokio::time::sleep_until(t).await;
                continue;
            }
            self.inner.limiter.until_ready().await;
            // A 429 may have arrived while we waited for the slot: honour it first.
            let until = *self
                .inner
                .paused_until
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if until.is_none_or(|t| t <= Instant::now()) {
                return;
            }
        }
    }

    fn pause_all(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut p = self
            .inner
            .paused_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if p.is_none_or(|cur| cur < until) {
            *p = Some(until);
        }
    }

    /// base · 2^(attempt-1) · jitter in [0.5, 1.5), capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let c = &self.inner.config;
        let exp = c.backoff_base.saturating_mul(1u32 << (attempt - 1).min(16));
        let jitter = rand::rng().random_range(0.5..1.5);
        exp.mul_f64(jitter).min(c.backoff_max)
    }

    fn classify(&self, e: &NotionError, safety: Safety, attempt: u32) -> Retry {
        let max = self.inner.config.backoff_max;
        let status = match e {
            NotionError::Api(a) => Some((a.status, a.retry_after)),
            NotionError::Unexpected { status, .. } => Some((*status, None)),
            NotionError::Timeout { .. } | NotionError::Network { .. } => None,
            NotionError::InvalidInput(_) | NotionError::Decode { .. } => return Retry::No,
        };
        match status {
            Some((429 | 529, after)) => {
                Retry::PauseAll(after.map_or_else(|| self.backoff(attempt), |d| d.min(max)))
            }
            Some((500 | 502 | 503 | 504, _)) | None if safety.retry_transient() => Retry::Backoff,
            _ => Retry::No,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Body, safety: Safety) -> Result<Value> {
        let max = self.inner.config.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_turn().await;
            let started = std::time::Instant::now();
            let result = self.send_once(&method, path, &body).await;
            let err = match result {
                Ok(v) => {
                    debug!(%method, path, attempt, elapsed_ms = started.elapsed().as_millis() as u64, "notion call ok");
                    return Ok(v);
                }
                Err(e) => e,
            };
            let retry = self.classify(&err, safety, attempt);
            if matches!(retry, Retry::No) || attempt >= max {
                if let Retry::PauseAll(d) = retry {
                    // Out of attempts, but Notion still asked everyone to wait: the other callers
                    // of this token must not keep hitting the limit meanwhile.
                    warn!(%method, path, attempt, wait_ms = d.as_millis() as u64, "notion still rate limited after the last attempt; pausing all callers");
                    self.pause_all(d);
                }
                debug!(%method, path, attempt, error = %err, "notion call failed");
                return Err(err);
            }
            match retry {
                Retry::PauseAll(d) => {
                    warn!(%method, path, attempt, wait_ms = d.as_millis() as u64, "notion asked to slow down; pausing all callers");
                    self.pause_all(d);
                }
                _ => {
                    let d = self.backoff(attempt);
                    debug!(%method, path, attempt, wait_ms = d.as_millis() as u64, error = %err, "retrying notion call");
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    async fn send_once(&self, method: &Method, path: &str, body: &Body) -> Result<Value> {
        let mut req = self
            .inner
            .http
            .request(method.clone(), self.url(path))
            .header(AUTHORIZATION, self.inner.auth.clone())
            .header("Notion-Version", NOTION_VERSION);
        req = match body {
            Body::Empty => req,
            Body::Json(v) => req.json(v),
            Body::File {
                bytes,
                filename,
                content_type,
                part_number,
            } => {
                let part = reqwest::multipart::Part::stream(reqwest::Body::from(bytes.clone()))
                    .file_name(filename.clone())
                    .mime_str(content_type)
                    .map_err(|_| {
                        NotionError::InvalidInput(format!("invalid content type {content_type:?}"))
                    })?;
                let mut form = reqwest::multipart::Form::new().part("file", part);
                if let Some(n) = part_number {
                    form = form.text("part_number", n.to_string());
                }
                req.multipart(form)
            }
        };
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        let header_id = resp
            .headers()
            .get("x-notion-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            return parsed.ok_or_else(|| NotionError::Unexpected {
                status,
                detail: "the body is not JSON".into(),
                request_id: header_id,
            });
        }
        match parsed {
            Some(v) if v.get("object") == Some(&json!("error")) => {
                Err(NotionError::Api(ApiError {
                    status,
                    code: v
                        .get("code")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown")
                        .to_owned(),
                    message: v
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    request_id: v
                        .get("request_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .or(header_id),
                    retry_after,
                }))
            }
            // 429/529 without Notion's body (e.g. from the edge) still mean "wait".
            _ if status == 429 || status == 529 => Err(NotionError::Api(ApiError {
                status,
                code: if status == 429 {
                    "rate_limited"
                } else {
                    "service_overload"
                }
                .into(),
                message: "slow down".into(),
                request_id: header_id,
                retry_after,
            })),
            _ => Err(NotionError::Unexpected {
                status,
                detail: "not a Notion error object (an HTML page from the edge or a proxy?)".into(),
                request_id: header_id,
            }),
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> NotionError {
        if e.is_timeout() {
            return NotionError::Timeout {
                timeout: self.inner.config.timeout,
            };
        }
        // The cause chain says what happened (connection reset, closed…); it never holds headers.
        let mut detail = String::new();
        let mut src: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = src {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&err.to_string());
            src = err.source();
        }
        NotionError::Network { detail }
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, Body::Empty, Safety::Read)
            .await
    }

    // ---------- endpoints ----------

    /// `GET /v1/users/me`: the bot id (to recognise our own edits) and the upload limit.
    pub async fn me(&self) -> Result<BotUser> {
        BotUser::from_response(&self.get("/v1/users/me").await?)
    }

    /// `GET /v1/users/{id}`: a person (with `person.email` only when the integration may read
    /// email addresses) or a bot. Without any user-information capability Notion answers 403
    /// ([`ErrorKind::Forbidden`](crate::ErrorKind::Forbidden)).
    pub async fn retrieve_user(&self, id: &UserId) -> Result<User> {
        User::from_response(&self.get(&format!("/v1/users/{id}")).await?)
    }

    /// `GET /v1/databases/{id}`: the container and its data sources.
    pub async fn retrieve_database(&self, id: &DatabaseId) -> Result<Database> {
        Database::from_response(&self.get(&format!("/v1/databases/{id}")).await?)
    }

    /// The data sources of a database (cache the id you use).
    pub async fn data_source_ids(&self, id: &DatabaseId) -> Result<Vec<DataSourceRef>> {
        Ok(self.retrieve_database(id).await?.data_sources)
    }

    /// `GET /v1/data_sources/{id}`: the schema.
    pub async fn retrieve_data_source(&self, id: &DataSourceId) -> Result<DataSource> {
        DataSource::from_response(&self.get(&format!("/v1/data_sources/{id}")).await?)
    }

    /// One page of `POST /v1/data_sources/{id}/query` (a read: retried like a GET).
    pub async fn query_data_source_page(
        &self,
        id: &DataSourceId,
        query: &Query,
        start_cursor: Option<&str>,
    ) -> Result<ListPage<Page>> {
        let v = self
            .call(
                Method::POST,
                &format!("/v1/data_sources/{id}/query"),
                Body::Json(query.to_json(start_cursor)),
                Safety::Read,
            )
            .await?;
        ListPage::decode(&v, "page", Page::decode)
    }

    /// Every page matching the query, following `next_cursor` to the end.
    pub async fn query_data_source(&self, id: &DataSourceId, query: &Query) -> Result<Vec<Page>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .query_data_source_page(id, query, cursor.as_deref())
                .await?;
            out.extend(page.results);
            match (page.has_more, page.next_cursor) {
                (true, Some(c)) => cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }

    /// The pages the integration can reach whose title contains `query` (empty: all of them),
    /// most recently edited first: `POST /v1/search` with the page filter, every page of results
    /// (a read: retried like a GET). Search is eventually consistent: a page shared a moment ago
    /// may be missing, one shared directly with the integration is always found.
    pub async fn search_pages(&self, query: &str) -> Result<Vec<Page>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut body = serde_json::json!({
                "filter": {"property": "object", "value": "page"},
                "sort": {"timestamp": "last_edited_time", "direction": "descending"},
                "page_size": 100,
            });
            if !query.is_empty() {
                body["query"] = serde_json::json!(query);
            }
            if let Some(c) = &cursor {
                body["start_cursor"] = serde_json::json!(c);
            }
            let v = self
                .call(Method::POST, "/v1/search", Body::Json(body), Safety::Read)
                .await?;
            let page = ListPage::decode(&v, "page", Page::decode)?;
            out.extend(page.results);
            match (page.has_more, page.next_cursor) {
                (true, Some(c)) => cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }

    /// `POST /v1/pages`. Never resent after a 5xx or a lost answer (it would duplicate the
    /// page): find-or-create by a unique property instead.
    pub async fn create_page(&self, page: &NewPage) -> Result<Page> {
        let v = self
            .call(
                Method::POST,
                "/v1/pages",
                Body::Json(page.to_json()),
                Safety::Write(Idempotency::NotIdempotent),
            )
            .await?;
        Page::from_response(&v)
    }

    /// `GET /v1/pages/{id}` (relations cut at 25; see [`PropertyValue::Relation`]).
    pub async fn retrieve_page(&self, id: &PageId) -> Result<Page> {
        Page::from_response(&self.get(&format!("/v1/pages/{id}")).await?)
    }

    /// `PATCH /v1/pages/{id}`: only the properties sent change.
    pub async fn update_page(
        &self,
        id: &PageId,
        update: &PageUpdate,
        idem: Idempotency,
    ) -> Result<Page> {
        let v = self
            .call(
                Method::PATCH,
                &format!("/v1/pages/{id}"),
                Body::Json(update.to_json()),
                Safety::Write(idem),
            )
            .await?;
        Page::from_response(&v)
    }

    /// `POST /v1/databases` with `initial_data_source.properties` (for `init`). Not idempotent.
    pub async fn create_database(&self, db: &NewDatabase) -> Result<Database> {
        let v = self
            .call(
                Method::POST,
                "/v1/databases",
                Body::Json(db.to_json()),
                Safety::Write(Idempotency::NotIdempotent),
            )
            .await?;
        Database::from_response(&v)
    }

    /// `PATCH /v1/data_sources/{id}`: add missing properties, rename, remove.
    pub async fn update_data_source(
        &self,
        id: &DataSourceId,
        update: &DataSourceUpdate,
        idem: Idempotency,
    ) -> Result<DataSource> {
        let v = self
            .call(
                Method::PATCH,
                &format!("/v1/data_sources/{id}"),
                Body::Json(update.to_json()),
                Safety::Write(idem),
            )
            .await?;
        DataSource::from_response(&v)
    }

    /// `POST /v1/file_uploads`. A duplicate upload is harmless (unattached ones expire), so
    /// callers usually pass `Idempotent`.
    pub async fn create_file_upload(
        &self,
        new: &NewFileUpload,
        idem: Idempotency,
    ) -> Result<FileUpload> {
        let v = self
            .call(
                Method::POST,
                "/v1/file_uploads",
                Body::Json(new.to_json()),
                Safety::Write(idem),
            )
            .await?;
        FileUpload::from_response(&v)
    }

    /// `POST /v1/file_uploads/{id}/send` (multipart `file`, plus `part_number` for multi-part).
    pub async fn send_file_upload(
        &self,
        id: &FileUploadId,
        bytes: Bytes,
        filename: &str,
        content_type: &str,
        part_number: Option<u32>,
        idem: Idempotency,
    ) -> Result<FileUpload> {
        let v = self
            .call(
                Method::POST,
                &format!("/v1/file_uploads/{id}/send"),
                Body::File {
                    bytes,
                    filename: filename.to_owned(),
                    content_type: content_type.to_owned(),
                    part_number,
                },
                Safety::Write(idem),
            )
            .await?;
        FileUpload::from_response(&v)
    }

    /// `POST /v1/file_uploads/{id}/complete` (multi-part, after every part).
    pub async fn complete_file_upload(
        &self,
        id: &FileUploadId,
        idem: Idempotency,
    ) -> Result<FileUpload> {
        let v = self
            .call(
                Method::POST,
                &format!("/v1/file_uploads/{id}/complete"),
                Body::Empty,
                Safety::Write(idem),
            )
            .await?;
        FileUpload::from_response(&v)
    }

    /// `GET /v1/file_uploads/{id}`.
    pub async fn retrieve_file_upload(&self, id: &FileUploadId) -> Result<FileUpload> {
        FileUpload::from_response(&self.get(&format!("/v1/file_uploads/{id}")).await?)
    }

    /// Upload a whole file: single part up to 20 MB, multi-part (10 MiB parts) above.
    /// Checks the workspace limit from users/me first so an oversize file fails before any send.
    /// Returns the upload in `uploaded` state, ready to attach.
    pub async fn upload_file(
        &self,
        filename: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<FileUpload> {
        if bytes.is_empty() {
            return Err(NotionError::InvalidInput(format!("{filename} is empty")));
        }
        if let Some(limit) = self.me().await?.max_file_upload_size
            && bytes.len() as u64 > limit
        {
            return Err(NotionError::InvalidInput(format!(
                "{filename} is {} bytes; this Notion workspace accepts files up to {limit} bytes (use the r2 storage strategy or a paid workspace)",
                bytes.len()
            )));
        }
        let new = |mode| NewFileUpload {
            mode,
            filename: Some(filename.to_owned()),
            content_type: Some(content_type.to_owned()),
        };
        if bytes.len() <= SINGLE_PART_MAX {
            let up = self
                .create_file_upload(&new(UploadMode::SinglePart), Idempotency::Idempotent)
                .await?;
            // A resent single-part send that had landed would be refused (no longer pending).
            return self
                .send_file_upload(
                    &up.id,
                    bytes,
                    filename,
                    content_type,
                    None,
                    Idempotency::NotIdempotent,
                )
                .await;
        }
        let parts = bytes.len().div_ceil(PART_SIZE) as u32;
        let up = self
            .create_file_upload(
                &new(UploadMode::MultiPart {
                    number_of_parts: parts,
                }),
                Idempotency::Idempotent,
            )
            .await?;
        for n in 0..parts as usize {
            let chunk = bytes.slice(n * PART_SIZE..((n + 1) * PART_SIZE).min(bytes.len()));
            // Resending a part replaces it: idempotent.
            self.send_file_upload(
                &up.id,
                chunk,
                filename,
                content_type,
                Some(n as u32 + 1),
                Idempotency::Idempotent,
            )
            .await?;
        }
        self.complete_file_upload(&up.id, Idempotency::NotIdempotent)
            .await
    }

    /// `PATCH /v1/blocks/{id}/children` (≤ 100 blocks; a page id is a block id). Appending
    /// twice duplicates blocks, so mark it `Idempotent` only if you check first.
    pub async fn append_block_children(
        &self,
        parent: &BlockId,
        children: &[BlockContent],
        idem: Idempotency,
    ) -> Result<Vec<Block>> {
        let body =
            json!({"children": children.iter().map(BlockContent::to_json).collect::<Vec<_>>()});
        let v = self
            .call(
                Method::PATCH,
                &format!("/v1/blocks/{parent}/children"),
                Body::Json(body),
                Safety::Write(idem),
            )
            .await?;
        Ok(ListPage::decode(&v, "block", Block::decode)?.results)
    }
}

fn auth_matches(auth: &HeaderValue, token: &NotionToken) -> bool {
    let want = format!("Bearer {}", token.expose_secret());
    let (a, b) = (auth.as_bytes(), want.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The longest `Retry-After` this client believes. Notion's per-workspace limit can ask for more
/// than a minute, but a header saying hours (or `inf`) is a broken proxy, not a plan; the wait
/// honoured is further capped by [`ClientConfig::backoff_max`].
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(60 * 60);

/// `Retry-After` as delta-seconds or an HTTP-date, clamped to [`RETRY_AFTER_MAX`]. Anything
/// else (negative, NaN, garbage) is ignored, so the caller falls back to its own backoff.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        // `inf`, `1e400` (parses as inf) and huge finite values would make
        // `Duration::from_secs_f64` panic: clamp before converting.
        if secs.is_nan() || secs < 0.0 {
            return None;
        }
        return Some(Duration::from_secs_f64(
            secs.min(RETRY_AFTER_MAX.as_secs_f64()),
        ));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let d = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(d.to_std().unwrap_or(Duration::ZERO).min(RETRY_AFTER_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(RETRY_AFTER_MAX)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn retry_after_out_of_range_is_clamped_or_ignored_never_a_panic() {
        for huge in [
            "inf",
            "+inf",
            "infinity",
            "1e400",
            "1e300",
            "18446744073709551616",
        ] {
            assert_eq!(parse_retry_after(huge), Some(RETRY_AFTER_MAX), "{huge}");
        }
        for bad in ["-1", "-inf", "NaN", "-0.5", "", "12s", "\u{0}"] {
            assert_eq!(parse_retry_after(bad), None, "{bad:?}");
        }
        assert_eq!(parse_retry_after("-0"), Some(Duration::ZERO));
    }

    #[test]
    fn shared_hands_out_one_client_per_token_and_base_url() {
        let cfg = |url: &str| ClientConfig::default().base_url(url);
        let a = NotionClient::shared(NotionToken::new("ntn_shared_a"), cfg("http://a")).unwrap();
        let again =
            NotionClient::shared(NotionToken::new("ntn_shared_a"), cfg("http://a")).unwrap();
        assert!(a.shares_limiter_with(&again));
        let other_token =
            NotionClient::shared(NotionToken::new("ntn_shared_b"), cfg("http://a")).unwrap();
        assert!(!a.shares_limiter_with(&other_token));
        let other_url =
            NotionClient::shared(NotionToken::new("ntn_shared_a"), cfg("http://b")).unwrap();
        assert!(!a.shares_limiter_with(&other_url));
        assert!(a.uses_token(&NotionToken::new("ntn_shared_a")));
        assert!(!a.uses_token(&NotionToken::new("ntn_shared_b")));
        // Once every clone is gone, the next one starts afresh.
        drop((a, again));
        let fresh =
            NotionClient::shared(NotionToken::new("ntn_shared_a"), cfg("http://a")).unwrap();
        assert!(fresh.uses_token(&NotionToken::new("ntn_shared_a")));
    }

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let c = NotionClient::with_config(
            NotionToken::new("t"),
            ClientConfig::default().backoff_base(Duration::from_millis(100)),
        )
        .unwrap();
        for attempt in 1..=4 {
            let d = c.backoff(attempt);
            let base = 100.0 * 2f64.powi(attempt as i32 - 1);
            assert!(
                d.as_secs_f64() * 1000.0 >= base * 0.5 && d.as_secs_f64() * 1000.0 < base * 1.5
            );
        }
        assert!(c.backoff(30) <= Duration::from_secs(60));
    }
}
