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
    resolve_base_url(env, None, default)
}

/// A provider's base URL: the environment variable `env` when set and not blank (a proxy or a
/// test double for every channel), else the `configured` one (a channel's), else `default`.
pub fn resolve_base_url(env: &str, configured: Option<&str>, default: &str) -> String {
    std::env::var(env)
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .or_else(|| configured.map(str::to_owned))
        .unwrap_or_else(|| default.to_owned())
}

/// The three providers' keys, each from where the caller looks (the OS keyring, then the
/// conventional environment variable). `Debug` never shows a key.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// `GEMINI_API_KEY`.
    pub gemini: Option<Secret>,
    /// `KLING_ACCESS_KEY` + `KLING_SECRET_KEY`, or a console key in `KLING_API_KEY`.
    pub kling: Option<crate::kling::KlingCredentials>,
    /// `ELEVENLABS_API_KEY`.
    pub elevenlabs: Option<Secret>,
}

/// Each key's name in the OS keyring and its environment variable.
pub const KEY_NAMES: [(&str, &str); 5] = [
    ("gemini-api-key", "GEMINI_API_KEY"),
    ("kling-access-key", "KLING_ACCESS_KEY"),
    ("kling-secret-key", "KLING_SECRET_KEY"),
    ("kling-api-key", "KLING_API_KEY"),
    ("elevenlabs-api-key", "ELEVENLABS_API_KEY"),
];

impl Keys {
    /// The keys `lookup(keyring name, environment variable)` finds (blank values count as none).
    pub fn from_lookup(lookup: impl Fn(&str, &str) -> Option<String>) -> Keys {
        let get = |i: usize| {
            let (name, env) = KEY_NAMES[i];
            lookup(name, env)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let kling = match (get(1), get(2)) {
            (Some(access), Some(secret)) => Some(crate::kling::KlingCredentials::AccessSecret {
                access: Secret::new(access),
                secret: Secret::new(secret),
            }),
            _ => get(3).map(|k| crate::kling::KlingCredentials::ApiKey(Secret::new(k))),
        };
        Keys {
            gemini: get(0).map(Secret::new),
            kling,
            elevenlabs: get(4).map(Secret::new),
        }
    }

    /// The keys in the process environment.
    pub fn from_env() -> Keys {
        Keys::from_lookup(|_, env| std::env::var(env).ok())
    }
}

#[cfg(test)]
mod keys_tests {
    use super::*;

    #[test]
    fn keys_come_from_the_lookup_and_kling_needs_both_halves_or_a_console_key() {
        let k = Keys::from_lookup(|name, _| match name {
            "gemini-api-key" => Some(" g ".into()),
            "kling-access-key" => Some("a".into()),
            "kling-api-key" => Some("console".into()),
            "elevenlabs-api-key" => Some("".into()),
            _ => None,
        });
        assert_eq!(k.gemini.unwrap().expose_secret(), "g");
        assert!(matches!(
            k.kling,
            Some(crate::kling::KlingCredentials::ApiKey(_))
        ));
        assert!(k.elevenlabs.is_none());
        let both = Keys::from_lookup(|name, _| {
            matches!(name, "kling-access-key" | "kling-secret-key").then(|| "x".to_string())
        });
        assert!(matches!(
            both.kling,
            Some(crate::kling::KlingCredentials::AccessSecret { .. })
        ));
        assert!(!format!("{both:?}").contains('x'));
    }
}
