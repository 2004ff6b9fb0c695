//! Typed errors with messages a creator can act on, and the coarse kind a caller branches on.

use std::fmt;
use std::time::Duration;

/// The paid generators this crate talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Google's Gemini API (images).
    Gemini,
    /// Kling AI (image-to-video clips).
    Kling,
    /// ElevenLabs (speech and sound effects).
    ElevenLabs,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Gemini => "Gemini",
            Provider::Kling => "Kling",
            Provider::ElevenLabs => "ElevenLabs",
        })
    }
}

impl Provider {
    /// Where the creator puts this provider's key.
    pub fn key_hint(self) -> &'static str {
        match self {
            Provider::Gemini => "set GEMINI_API_KEY or save a key in Settings → Providers",
            Provider::Kling => {
                "set KLING_ACCESS_KEY and KLING_SECRET_KEY (or KLING_API_KEY) or save the keys in Settings → Providers"
            }
            Provider::ElevenLabs => "set ELEVENLABS_API_KEY or save a key in Settings → Providers",
        }
    }
}

/// What a failure means for the job that met it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Try again later (rate limits, a full concurrency pack, 5xx, timeouts, dropped
    /// connections); `retry_after` is the wait the provider asked for, when it said one.
    Transient {
        /// The provider's requested wait (Gemini's `RetryInfo.retryDelay`, a `Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Nothing will work until a person changes a setting: a missing or refused key, an unknown
    /// model or voice, an account without credits.
    Configuration,
    /// The provider's safety system refused this prompt or picture; change the input.
    Refused,
    /// This request cannot succeed as it is (invalid input, no image in the answer).
    Permanent,
}

/// An error answered by a provider's API, already classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Who answered.
    pub provider: Provider,
    /// HTTP status.
    pub status: u16,
    /// The provider's code: Gemini's reason or status (`API_KEY_INVALID`, `RESOURCE_EXHAUSTED`),
    /// Kling's number (`1303`), ElevenLabs' `detail.status` (`quota_exceeded`) or
    /// `validation_error` for a 422.
    pub code: String,
    /// The provider's own message.
    pub message: String,
    /// The request id to quote to the provider's support, when it sent one.
    pub request_id: Option<String>,
    /// What it means.
    pub kind: ErrorKind,
    /// The whole sentence shown to the creator (what happened and what to do).
    pub text: String,
}

impl ApiError {
    pub(crate) fn new(
        provider: Provider,
        status: u16,
        code: impl Into<String>,
        message: impl Into<String>,
        kind: ErrorKind,
    ) -> Self {
        Self {
            provider,
            status,
            code: code.into(),
            message: message.into(),
            request_id: None,
            kind,
            text: String::new(),
        }
    }

    /// Set the creator-facing sentence: `"{headline} ({status} {code}: {message}){advice}"`.
    pub(crate) fn say(mut self, headline: &str, advice: &str) -> Self {
        if self.status == 0 {
            // Found before sending anything: nothing of the provider's to quote.
            self.text = format!("{headline}: {advice}");
            return self;
        }
        let detail = if self.message.is_empty() {
            format!("{} {}", self.status, self.code)
        } else {
            format!("{} {}: {}", self.status, self.code, self.message)
        };
        self.text = if advice.is_empty() {
            format!("{headline} ({detail})")
        } else {
            format!("{headline} ({detail}): {advice}")
        };
        self
    }

    pub(crate) fn request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

/// Every failure of a provider call. No variant ever holds a key.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered with an error.
    #[error("{0}")]
    Api(ApiError),
    /// The provider's safety system refused the prompt, the picture or the result.
    #[error("{provider} refused {what}: {reason}")]
    Refused {
        /// Who refused.
        provider: Provider,
        /// What was refused ("the prompt", "the image", "the clip after accepting it").
        what: String,
        /// The provider's reason, in its words.
        reason: String,
    },
    /// A success answer that holds no result (Gemini's text-only or `NO_IMAGE` answers).
    #[error("{provider} answered without {what}: {detail}; try another prompt or model")]
    NoOutput {
        /// Who answered.
        provider: Provider,
        /// What is missing ("an image").
        what: &'static str,
        /// What came instead.
        detail: String,
    },
    /// No answer within the client timeout; a paid request may or may not have been processed.
    #[error("{provider} did not answer within {}s: it may be busy or the connection slow; try again later (the request may still have been processed)", .timeout.as_secs_f64().ceil())]
    Timeout {
        /// Who did not answer.
        provider: Provider,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The connection failed or was closed before an answer.
    #[error("could not reach {provider} ({detail}): check the network connection")]
    Network {
        /// Who could not be reached.
        provider: Provider,
        /// What the HTTP library reported (never a header, never a URL).
        detail: String,
    },
    /// An answer this client cannot read (an HTML page from a proxy, a field of another shape).
    #[error("unexpected answer from {provider} (HTTP {status}): {detail}")]
    Unexpected {
        /// Who answered.
        provider: Provider,
        /// HTTP status.
        status: u16,
        /// What is wrong with it.
        detail: String,
    },
    /// A job that has not finished within the time the caller allowed; it is still running at
    /// the provider and can be waited for again.
    #[error("{provider} has not finished task {task_id} after {}s; it will be checked again", .waited.as_secs())]
    StillRunning {
        /// Who is running it.
        provider: Provider,
        /// The task.
        task_id: String,
        /// How long this client waited.
        waited: Duration,
    },
    /// Input this crate refuses before sending anything.
    #[error("invalid {provider} request: {detail}")]
    InvalidInput {
        /// The provider it was meant for.
        provider: Provider,
        /// What is wrong.
        detail: String,
    },
}

impl ProviderError {
    /// What the failure means: wait and retry, fix a setting, change the input, or give up.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProviderError::Api(e) => e.kind,
            ProviderError::Refused { .. } => ErrorKind::Refused,
            ProviderError::NoOutput { .. } | ProviderError::InvalidInput { .. } => {
                ErrorKind::Permanent
            }
            ProviderError::Timeout { .. }
            | ProviderError::Network { .. }
            | ProviderError::StillRunning { .. } => ErrorKind::Transient { retry_after: None },
            ProviderError::Unexpected { status, .. } if *status == 429 || *status >= 500 => {
                ErrorKind::Transient { retry_after: None }
            }
            ProviderError::Unexpected { .. } => ErrorKind::Permanent,
        }
    }

    /// Whether trying again later can help.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind(), ErrorKind::Transient { .. })
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind() {
            ErrorKind::Transient { retry_after } => retry_after,
            _ => None,
        }
    }

    /// Who failed.
    pub fn provider(&self) -> Provider {
        match self {
            ProviderError::Api(e) => e.provider,
            ProviderError::Refused { provider, .. }
            | ProviderError::NoOutput { provider, .. }
            | ProviderError::Timeout { provider, .. }
            | ProviderError::Network { provider, .. }
            | ProviderError::Unexpected { provider, .. }
            | ProviderError::StillRunning { provider, .. }
            | ProviderError::InvalidInput { provider, .. } => *provider,
        }
    }

    /// HTTP status, when the provider answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::Api(e) => Some(e.status),
            ProviderError::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The provider's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ProviderError::Api(e) => Some(&e.code),
            _ => None,
        }
    }

    /// Whether a paid request that failed this way may still have been processed (and billed):
    /// no answer, or a server error. A 4xx answer, a 429 included, means it was not.
    pub fn may_have_landed(&self) -> bool {
        match self {
            ProviderError::Timeout { .. } | ProviderError::Network { .. } => true,
            ProviderError::Api(e) => e.status >= 500,
            ProviderError::Unexpected { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Result of a provider call.
pub type Result<T, E = ProviderError> = std::result::Result<T, E>;
