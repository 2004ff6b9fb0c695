//! Faithful local doubles of the three paid generator APIs Review Desk calls: Gemini (images),
//! Kling (image-to-video) and ElevenLabs (speech and sound effects), each an axum server on
//! `127.0.0.1` (port 0 by default) that answers with the provider's real shapes, error bodies and
//! status codes as the providers document them (see crates/providers/README.md), and with real media: a PNG that
//! decodes, an MP4 and MP3s made by ffmpeg (`/usr/bin/ffmpeg`, cached on disk per shape).
//!
//! # In-process use
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use provider_doubles::*;
//! let gemini = GeminiDouble::start(GeminiConfig::default()).await?;
//! gemini.refuse_prompts_containing("forbidden");
//! gemini.inject(FaultRule::status(503).path("/v1beta/models"));
//! let kling = KlingDouble::start(KlingConfig::default().max_running(1)).await?;
//! let eleven = ElevenLabsDouble::start(ElevenLabsConfig::default()).await?;
//! # let _ = (gemini.url(), kling.url(), eleven.url()); Ok(()) }
//! ```
//!
//! # Shared by all three
//! - A request log ([`LoggedRequest`]): method, path, query (`key=` redacted), status answered,
//!   the provider's error code, milliseconds since start, and a label of the credential used
//!   (`"configured key"`, `"wrong key"`, `"jwt"`, …), never the secret.
//! - Fault injection ([`FaultRule`]): the next N requests whose path starts with a prefix answer a
//!   status with the provider's real error body, are dropped before or after being processed, or
//!   are processed and answered late (past a client's timeout).
//! - A latency knob delaying every request.
//!
//! # As a process
//! `cargo run -p provider-doubles -- --gemini-port 0 --kling-port 0 --elevenlabs-port 0` prints
//! `gemini <url>`, `kling <url>` and `elevenlabs <url>` on stdout and serves until killed. Each
//! double also answers control routes (no auth, not logged): `GET`/`DELETE /__control/requests`,
//! `POST /__control/faults` (a [`FaultRule`] as JSON, e.g.
//! `{"kind":{"status":503},"count":2,"path_prefix":"/v1"}`), `DELETE /__control/faults`,
//! `PUT /__control/latency` `{"millis":200}` and `POST /__control/trigger`
//! `{"trigger":"refuse_prompts","word":"forbidden"}` (the triggers of each double's docs).
#![warn(missing_docs)]
// Handlers validate in helpers that return the finished error answer (an axum `Response`) as
// their `Err`; boxing it would only add noise to a test double.
#![allow(clippy::result_large_err)]

mod elevenlabs;
mod gemini;
mod kling;
mod media;
mod server;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use elevenlabs::{ElevenLabsConfig, ElevenLabsDouble, HoldGuard};
pub use gemini::{GeminiConfig, GeminiDouble, SeenGeneration};
pub use kling::{KlingConfig, KlingDouble, REFUSAL_MESSAGE, TaskState, sign_jwt};
pub use media::{FFMPEG, mp3_duration_for_text};

/// One request as a double saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/v1/videos/image2video`.
    pub path: String,
    /// Query string, if any, with `key=` values redacted.
    pub query: Option<String>,
    /// Status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// The provider's error code of an error answer (`API_KEY_INVALID`, `1303`,
    /// `voice_not_found`), or what happened to a dropped answer.
    pub code: Option<String>,
    /// Which credential the request carried, as a label (never the secret).
    pub credential: String,
    /// Milliseconds since the double started when the request arrived.
    pub at_ms: u64,
    /// The injected fault that answered it, if any.
    pub injected: Option<FaultKind>,
}

/// How an injected fault fails a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer this HTTP status with the provider's matching error body, without processing.
    Status(u16),
    /// Close the TCP connection without processing or answering.
    DropConnection,
    /// Process the request (a task is created, a quota used), then close the connection without
    /// answering: the client cannot know whether it landed.
    DropAfterProcessing,
    /// Process the request, then hold the answer this long (past a client's timeout).
    DelayAnswer {
        /// How long the answer is held.
        millis: u64,
    },
}

/// The next `count` requests matching `method` / `path_prefix` fail with `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The failure.
    pub kind: FaultKind,
    /// How many matching requests fail (then the rule is spent).
    #[serde(default = "one")]
    pub count: u32,
    /// Only requests with this method (e.g. "POST"); any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path starts with this; any when absent.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// The provider's error code for a [`FaultKind::Status`] (Kling `"1102"`, ElevenLabs
    /// `"system_busy"`, Gemini `"FAILED_PRECONDITION"` or `"API_KEY_INVALID"` for a 400, and for
    /// a Gemini 429 the `quotaValue`, e.g. `"0"`); the usual one for the status when absent.
    #[serde(default)]
    pub code: Option<String>,
    /// For a 429: Gemini's `RetryInfo.retryDelay` (default 2 s) or a `Retry-After` header for the
    /// others (none by default, as the providers send none).
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

impl FaultRule {
    /// The next request (any method, any path) fails with `kind`.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            count: 1,
            method: None,
            path_prefix: None,
            code: None,
            retry_after_ms: None,
        }
    }

    /// The next request answers `status` with the provider's error body.
    pub fn status(status: u16) -> Self {
        Self::new(FaultKind::Status(status))
    }

    /// The next request's connection is closed before it is processed.
    pub fn drop_connection() -> Self {
        Self::new(FaultKind::DropConnection)
    }

    /// The next request is processed, then its connection is closed without an answer.
    pub fn drop_after_processing() -> Self {
        Self::new(FaultKind::DropAfterProcessing)
    }

    /// The next request is processed and answered `by` late.
    pub fn delay_answer(by: Duration) -> Self {
        Self::new(FaultKind::DelayAnswer {
            millis: by.as_millis() as u64,
        })
    }

    /// Apply to this many matching requests.
    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose path starts with `prefix`.
    pub fn path(mut self, prefix: &str) -> Self {
        self.path_prefix = Some(prefix.to_owned());
        self
    }

    /// The provider's error code to answer with.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The retry delay a 429 announces.
    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after_ms = Some(d.as_millis() as u64);
        self
    }
}

/// The control methods every double has (log, faults, latency).
macro_rules! common_controls {
    ($double:ty) => {
        impl $double {
            /// Base URL (`http://127.0.0.1:PORT`), without a path.
            pub fn url(&self) -> String {
                self.run.url.clone()
            }

            /// Every request received so far, in arrival order.
            pub fn requests(&self) -> Vec<$crate::LoggedRequest> {
                self.run.requests()
            }

            /// Forget the request log.
            pub fn clear_requests(&self) {
                self.run.clear_requests()
            }

            /// Fail the next matching requests.
            pub fn inject(&self, rule: $crate::FaultRule) {
                self.run.inject(rule)
            }

            /// Remove every fault rule.
            pub fn clear_faults(&self) {
                self.run.clear_faults()
            }

            /// Delay every request by this much before it is handled.
            pub fn set_latency(&self, latency: std::time::Duration) {
                self.run.set_latency(latency)
            }
        }
    };
}
pub(crate) use common_controls;
