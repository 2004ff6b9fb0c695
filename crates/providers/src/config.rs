//! The key type and the retry policy shared by the three clients.

use std::fmt;
use std::time::Duration;

/// A key or secret. Its `Debug` prints `***` and it has no `Display`, so it cannot end up in a
/// log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a key given by the caller (from the keyring or the environment); surrounding
    /// whitespace is dropped.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into().trim().to_owned())
    }

    /// The secret itself, for sending it or storing it back in the keyring. Never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (no key set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// How a client retries inside one call.
///
/// Reads (GETs) are retried on every transient failure. Requests that cost money are retried
/// only on a 429, which the provider never processed; after a 5xx, a timeout or a dropped
/// connection they come back to the caller (for Kling, `create_or_find` looks the task up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// First backoff delay; doubles per attempt, with jitter in [0.5, 1.5).
    pub backoff_base: Duration,
    /// Ceiling of a backoff delay.
    pub backoff_max: Duration,
    /// The longest wait a provider may ask for (`retryDelay`, `Retry-After`) that is still
    /// waited inside the call; a longer one returns the error (with its `retry_after`) at once.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(20),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Millisecond backoff for tests.
    pub fn fast() -> Self {
        Self {
            max_attempts: 3,
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(50),
            max_wait: Duration::from_secs(5),
        }
    }

    /// This many attempts.
    pub fn attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
}

/// The base URL from `env` when set and not blank, else `default`.
pub(crate) fn base_url_from_env(env: &str, default: &str) -> String {
    std::env::var(env)
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| default.to_owned())
}
