//! A faithful, in-memory, stateful Notion API (Notion-Version 2025-09-03, data sources) for tests
//! and scripts, served by axum on `127.0.0.1` (port 0 by default).
//!
//! It follows `shared/reference/notion-api.md`: bearer token (401 `unauthorized`), required
//! `Notion-Version` (400 `missing_version`), error bodies `{object:"error", status, code, message,
//! request_id}` plus the `x-notion-request-id` header, Notion's validation messages
//! ("body failed validation: body.properties.Foo.rich_text[0].text.content.length should be ≤ 2000,
//! instead was 2301."), 404 `object_not_found` for unknown or unshared ids, `last_edited_time`
//! rounded down to the minute, relations cut at 25 in page objects, file uploads that expire an
//! hour after creation, and the 3 requests/s rate limit (429 `rate_limited` + `Retry-After`).
//!
//! # In-process use
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use notion_double::{DoubleConfig, NotionDouble};
//! let double = NotionDouble::start(DoubleConfig::default().without_rate_limit()).await?;
//! let parent = double.seed_page("Review Desk");          // shared with the integration
//! let url = double.url();                                // point NOTION_BASE_URL here
//! let token = double.token();                            // send as `Authorization: Bearer …`
//! # let _ = (parent, url, token); Ok(()) }
//! ```
//!
//! # As a process
//! `cargo run -p notion-double -- --port 0` prints its base URL on the first line of stdout and
//! serves until killed (`--help` lists the token, rate limit and upload limit options).
//!
//! # Control routes (no auth, not logged, not rate limited)
//! | Route | Body | Effect |
//! |---|---|---|
//! | `GET /__control/info` | | url, token, bot id, clock |
//! | `GET`/`DELETE /__control/requests` | | the request log / clear it |
//! | `POST /__control/clock/advance` | `{"seconds":3600}` | move the clock forward |
//! | `POST /__control/faults` | `{"kind":{"status":503},"count":2,"method":"GET","path_prefix":"/v1/pages","retry_after":1}` | next N matching requests fail (`"kind":"drop_connection"` closes the TCP connection; `"retry_after_header":"inf"` sends that `Retry-After` verbatim) |
//! | `POST /__control/faults/random` | `{"ratio":0.3,"seed":7,"kinds":[{"status":429},"drop_connection"],"methods":["GET"],"path_prefix":null}` | a seeded random share fails |
//! | `DELETE /__control/faults` | | remove all fault rules |
//! | `PUT /__control/latency` | `{"millis":200}` | delay every request |
//! | `POST /__control/rendezvous` | `{"parties":2,"method":"POST","path_prefix":"/v1/pages","timeout_ms":5000}` | hold the next N matching requests until all N are in flight together; one waiting `timeout_ms` in vain breaks it (all go on) |
//! | `GET`/`DELETE /__control/rendezvous` | | `{"arrived":2,"met":true,"broken":false}` / remove it |
//! | `PUT /__control/rate_limit` | `{"per_second":3,"burst":3}` or `null` | set or switch off the limit |
//! | `PUT /__control/upload_limit` | `{"bytes":5368709120}` | per-file cap reported by users/me |
//! | `POST /__control/users` | `{"name":"Ana","email":"ana@x"}` | add a person → `{"id"}` |
//! | `PUT /__control/user_info` | `{"user_info":"with_email"}` (`without_email`, `none`) | the user-information capability |
//! | `POST /__control/pages` | `{"title":"Parent","shared":true}` | seed a workspace page → `{"id"}` |
//! | `POST /__control/pages/{id}/edit` | `{"user_id":"…","properties":{…}}` | edit as that person |
//! | `POST /__control/share/{id}`, `/__control/unshare/{id}` | | share / unshare an object |
//! | `POST /__control/token/revoke`; `PUT /__control/token` | `{"token":"…"}` | revoke / set a new token |
#![warn(missing_docs)]

mod api;
mod control;
mod error;
mod faults;
mod filter;
mod props;
mod rendezvous;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub use api::{FREE_UPLOAD_LIMIT, SINGLE_PART_LIMIT};
pub use error::ApiError;
pub use faults::{FaultKind, FaultRule, RandomFaults};
pub use rendezvous::{RendezvousRule, RendezvousState};

use state::{Clock, State, UserRec};

pub(crate) type Shared = Arc<Mutex<State>>;

/// The rate limit the double enforces: an average rate with a small burst.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Average requests per second (Notion: 3).
    pub per_second: f64,
    /// Requests that may arrive back to back before the average applies.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 3.0,
            burst: 3,
        }
    }
}

/// The integration's user-information capability (Notion's integration settings → Capabilities).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserInfo {
    /// "No user information": `GET /v1/users/{id}` and `GET /v1/users` answer 403
    /// `restricted_resource`, and users inside objects are partial (`{object, id}`).
    None,
    /// "Read user information without email addresses": persons come with `person: {}`.
    WithoutEmail,
    /// "Read user information including email addresses": persons carry `person.email`.
    #[default]
    WithEmail,
}

/// How to start a double.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    /// The integration token the double accepts.
    pub token: String,
    /// The enforced rate limit; `None` switches it off.
    pub rate_limit: Option<RateLimit>,
    /// `bot.workspace_limits.max_file_upload_size_in_bytes` (default 5 MiB, a free workspace).
    pub upload_limit: u64,
    /// Freeze the clock at this instant (only `advance_clock` moves it); real time when `None`.
    pub frozen_clock: Option<DateTime<Utc>>,
    /// The workspace name users/me reports.
    pub workspace_name: String,
    /// Address to bind (default `127.0.0.1:0`).
    pub bind: SocketAddr,
    /// The user-information capability (default: including email addresses).
    pub user_info: UserInfo,
}

impl Default for DoubleConfig {
    fn default() -> Self {
        Self {
            token: "ntn_double_test_token".into(),
            rate_limit: Some(RateLimit::default()),
            upload_limit: api::FREE_UPLOAD_LIMIT,
            frozen_clock: None,
            workspace_name: "Double Workspace".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            user_info: UserInfo::default(),
        }
    }
}

impl DoubleConfig {
    /// Switch the rate limit off (most contract tests).
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// Use this token.
    pub fn token(mut self, token: &str) -> Self {
        self.token = token.to_owned();
        self
    }

    /// Freeze the clock at `at`.
    pub fn frozen_clock(mut self, at: DateTime<Utc>) -> Self {
        self.frozen_clock = Some(at);
        self
    }

    /// Set the per-file upload limit.
    pub fn upload_limit(mut self, bytes: u64) -> Self {
        self.upload_limit = bytes;
        self
    }

    /// Set the user-information capability.
    pub fn user_info(mut self, user_info: UserInfo) -> Self {
        self.user_info = user_info;
        self
    }
}

/// One request as the double saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/v1/pages`.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Body as text (multipart bodies summarised, long bodies cut at 64 KiB).
    pub body: String,
    /// Status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// Notion error code of an error answer.
    pub code: Option<String>,
    /// The `x-notion-request-id` sent back.
    pub request_id: String,
    /// Milliseconds since the double started (real time) when the request arrived.
    pub at_ms: u64,
    /// Whether an injected fault answered it.
    pub injected: bool,
}

impl LoggedRequest {
    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A running double; dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct NotionDouble {
    shared: Shared,
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NotionDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NotionDouble {
    /// Bind and serve on the current tokio runtime.
    pub async fn start(config: DoubleConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let bot_id = Uuid::new_v4();
        let state = State {
            base_url: url.clone(),
            token: config.token,
            token_revoked: false,
            clock: Clock::new(config.frozen_clock),
            started: std::time::Instant::now(),
            bot_id,
            workspace_name: config.workspace_name,
            upload_limit: config.upload_limit,
            users: vec![UserRec {
                id: bot_id,
                name: "Review Desk".into(),
                email: None,
                bot: true,
            }],
            pages: Default::default(),
            databases: Default::default(),
            data_sources: Default::default(),
            blocks: Default::default(),
            uploads: Default::default(),
            shared: Default::default(),
            unshared: Default::default(),
            seq: 0,
            log: Vec::new(),
            faults: Default::default(),
            latency: Duration::ZERO,
            rendezvous: None,
            user_info: config.user_info,
            limiter: config.rate_limit.as_ref().map(server::limiter),
            rate: config.rate_limit,
        };
        let shared = Arc::new(Mutex::new(state));
        let app = server::router(shared.clone());
        let task = tokio::spawn(server::serve(listener, app));
        Ok(Self { shared, url, task })
    }

    /// Base URL (`http://127.0.0.1:PORT`), to use as `NOTION_BASE_URL`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The token the double accepts.
    pub fn token(&self) -> String {
        self.lock().token.clone()
    }

    /// The integration's bot user id (what users/me returns).
    pub fn bot_id(&self) -> String {
        self.lock().bot_id.to_string()
    }

    /// The double's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        control::requests(&self.shared)
    }

    /// Forget the request log.
    pub fn clear_requests(&self) {
        control::clear_requests(&self.shared)
    }

    /// Move the clock forward (upload expiry, minute rounding).
    pub fn advance_clock(&self, by: Duration) {
        control::advance_clock(&self.shared, by)
    }

    /// Fail the next matching requests.
    pub fn inject_fault(&self, rule: FaultRule) {
        self.lock().faults.add(rule);
    }

    /// Fail a seeded random share of matching requests.
    pub fn inject_random_faults(&self, spec: RandomFaults) {
        self.lock().faults.add_random(spec);
    }

    /// Remove every fault rule.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Delay every `/v1` request by this much.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Hold the next `rule.parties` matching requests until all of them are in flight together;
    /// when one waits `rule.timeout_ms` in vain, all go on and the rendezvous is broken.
    /// Replaces any earlier rendezvous.
    pub fn rendezvous(&self, rule: RendezvousRule) {
        self.lock().rendezvous = Some(rendezvous::Rendezvous::new(rule));
    }

    /// How far the current rendezvous got (`None` when there is none).
    pub fn rendezvous_state(&self) -> Option<RendezvousState> {
        self.lock().rendezvous.as_ref().map(|r| r.state())
    }

    /// Set the rate limit, or switch it off with `None`.
    pub fn set_rate_limit(&self, rate: Option<RateLimit>) {
        control::set_rate_limit(&self.shared, rate)
    }

    /// Set the per-file upload limit users/me reports and sends enforce.
    pub fn set_upload_limit(&self, bytes: u64) {
        self.lock().upload_limit = bytes;
    }

    /// Change the user-information capability (as a workspace admin would in the settings).
    pub fn set_user_info(&self, user_info: UserInfo) {
        self.lock().user_info = user_info;
    }

    /// Add a person to the workspace; returns their user id.
    pub fn add_person(&self, name: &str, email: Option<&str>) -> String {
        control::add_person(&self.shared, name, email).to_string()
    }

    /// Seed a workspace page shared with the integration (a parent for `init`); returns its id.
    pub fn seed_page(&self, title: &str) -> String {
        control::seed_page(&self.shared, title, true).to_string()
    }

    /// Seed a workspace page the integration cannot reach; returns its id.
    pub fn seed_unshared_page(&self, title: &str) -> String {
        control::seed_page(&self.shared, title, false).to_string()
    }

    /// Share an object (and its descendants) with the integration.
    pub fn share(&self, id: &str) -> Result<(), ApiError> {
        control::share(&self.shared, id, true)
    }

    /// Remove an object (and its descendants) from the integration's reach.
    pub fn unshare(&self, id: &str) -> Result<(), ApiError> {
        control::share(&self.shared, id, false)
    }

    /// Revoke the token: every request answers 401 until `set_token`.
    pub fn revoke_token(&self) {
        self.lock().token_revoked = true;
    }

    /// Accept a new token (and lift a revocation).
    pub fn set_token(&self, token: &str) {
        let mut st = self.lock();
        st.token = token.to_owned();
        st.token_revoked = false;
    }

    /// Edit a page as a person (`last_edited_by` = that user, `last_edited_time` = now), the way a
    /// creator changes Status or Error Log in Notion. `body` is a page update body, e.g.
    /// `{"properties":{"Status":{"select":{"name":"Assets Approved"}}}}`. Returns the page object.
    pub fn edit_page_as(
        &self,
        page_id: &str,
        user_id: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        control::edit_page_as(&self.shared, page_id, user_id, body)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `X-Notion-Signature` of a webhook delivery: `sha256=` + hex HMAC-SHA256 of the exact body
/// bytes, keyed with the subscription's verification token.
pub fn sign_webhook(body: &[u8], token: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
