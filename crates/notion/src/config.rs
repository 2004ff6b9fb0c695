//! Client configuration and the token type.

use std::fmt;
use std::time::Duration;

/// Notion's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.notion.com";
/// The API version this client speaks (databases contain data sources).
pub const NOTION_VERSION: &str = "2025-09-03";
/// Environment variable overriding the base URL (tests point it at the double).
pub const BASE_URL_ENV: &str = "NOTION_BASE_URL";

/// An integration token. Its `Debug` never shows the secret, and it has no `Display`, so it
/// cannot end up in a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct NotionToken(String);

impl NotionToken {
    /// Wrap a token given by the caller (e.g. read from the keyring).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().trim().to_owned())
    }

    /// The secret itself, for storing it back in the keyring. Never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NotionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NotionToken(<redacted>)")
    }
}

/// How the client talks to Notion.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Base URL without `/v1` (default [`DEFAULT_BASE_URL`], or `NOTION_BASE_URL`).
    pub base_url: String,
    /// Average requests per second shared by every clone of a client (Notion: 3).
    pub requests_per_second: f64,
    /// Requests that may leave back to back (1 keeps an even pace under Notion's burst allowance).
    pub burst: u32,
    /// Attempts per call, the first included (default 5).
    pub max_attempts: u32,
    /// First backoff delay; doubles per attempt, with jitter in [0.5, 1.5).
    pub backoff_base: Duration,
    /// Ceiling of a backoff delay and of an honoured `Retry-After`.
    pub backoff_max: Duration,
    /// Timeout of one attempt.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            requests_per_second: 3.0,
            burst: 1,
            max_attempts: 5,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
        }
    }
}

impl ClientConfig {
    /// Defaults, with the base URL from `NOTION_BASE_URL` when set.
    pub fn from_env() -> Self {
        let mut c = Self::default();
        if let Ok(url) = std::env::var(BASE_URL_ENV)
            && !url.trim().is_empty()
        {
            c.base_url = url.trim().to_owned();
        }
        c
    }

    /// Use this base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Use this average rate and burst.
    pub fn rate(mut self, requests_per_second: f64, burst: u32) -> Self {
        self.requests_per_second = requests_per_second;
        self.burst = burst;
        self
    }

    /// Use this backoff base (tests use milliseconds).
    pub fn backoff_base(mut self, base: Duration) -> Self {
        self.backoff_base = base;
        self
    }

    /// Use this number of attempts per call.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Use this per-attempt timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
