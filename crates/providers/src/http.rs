//! The transport the three clients share: one reqwest client, an optional governor rate limit,
//! and the retry loop (reads on any transient failure; paid requests only on a 429).

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::header::HeaderMap;
use tracing::{debug, warn};

use crate::Provider;
use crate::config::RetryPolicy;
use crate::error::{ProviderError, Result};

/// How a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    /// Nothing is bought: retried on every transient failure.
    Read,
    /// Costs money: retried only when the provider certainly did not process it (a 429).
    Paid,
}

/// A 2xx answer, or the raw parts of an error answer for the provider's classifier.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

pub(crate) struct Transport {
    pub provider: Provider,
    pub http: reqwest::Client,
    pub base_url: String,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl Transport {
    pub fn new(
        provider: Provider,
        base_url: &str,
        timeout: Duration,
        requests_per_minute: Option<u32>,
        retry: RetryPolicy,
    ) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("reviewdesk-providers/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::InvalidInput {
                provider,
                detail: format!("HTTP client setup failed: {e}"),
            })?;
        // An even pace (burst 1): a rolling per-minute quota is never exceeded.
        let limiter = requests_per_minute
            .and_then(NonZeroU32::new)
            .map(|rpm| RateLimiter::direct(Quota::per_minute(rpm).allow_burst(NonZeroU32::MIN)));
        Ok(Self {
            provider,
            http,
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
            retry,
            timeout,
            limiter,
        })
    }

    /// The base URL (which may carry a path prefix) joined with an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// base · 2^(attempt-1) · jitter in [0.5, 1.5), capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .backoff_base
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
        let jitter = rand::rng().random_range(0.5..1.5);
        exp.mul_f64(jitter).min(self.retry.backoff_max)
    }

    /// Send the request `build` makes (once per attempt), retrying per `safety`. A 2xx answer is
    /// returned; an error answer goes through `classify`.
    pub async fn send(
        &self,
        what: &str,
        safety: Safety,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        classify: impl Fn(Answer) -> ProviderError,
    ) -> Result<Answer> {
        let max = self.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(l) = &self.limiter {
                l.until_ready().await;
            }
            let started = Instant::now();
            let err = match self.send_once(build(&self.http)).await {
                Ok(a) if (200..300).contains(&a.status) => {
                    debug!(provider = %self.provider, what, attempt, status = a.status,
                        elapsed_ms = started.elapsed().as_millis() as u64, "provider call ok");
                    return Ok(a);
                }
                Ok(a) => classify(a),
                Err(e) => e,
            };
            let retryable = err.is_transient()
                && match safety {
                    Safety::Read => true,
                    Safety::Paid => err.status() == Some(429),
                };
            let wait = match err.retry_after() {
                Some(d) if d > self.retry.max_wait => None,
                Some(d) => Some(d),
                None => Some(self.backoff(attempt)),
            };
            match wait {
                Some(wait) if retryable && attempt < max => {
                    warn!(provider = %self.provider, what, attempt, wait_ms = wait.as_millis() as u64,
                        error = %err, "provider call failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    debug!(provider = %self.provider, what, attempt, error = %err, "provider call failed");
                    return Err(err);
                }
            }
        }
    }

    async fn send_once(&self, req: reqwest::RequestBuilder) -> Result<Answer> {
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    pub fn transport_error(&self, e: reqwest::Error) -> ProviderError {
        if e.is_timeout() {
            return ProviderError::Timeout {
                provider: self.provider,
                timeout: self.timeout,
            };
        }
        // The cause chain says what happened (connection reset, closed…); without the URL (a
        // download URL may carry a signature) it never holds anything secret.
        let e = e.without_url();
        let mut detail = String::new();
        let mut src: Option<&dyn std::error::Error> = Some(&e);
        while let Some(err) = src {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&err.to_string());
            src = err.source();
        }
        ProviderError::Network {
            provider: self.provider,
            detail,
        }
    }
}

/// The longest wait believed from a provider (hours or `inf` are a broken proxy, not a plan).
pub(crate) const RETRY_AFTER_MAX: Duration = Duration::from_secs(60 * 60);

/// `Retry-After` as delta-seconds or an HTTP-date, clamped; anything else is ignored.
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
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

/// The `Retry-After` header of an answer, if it has a usable one.
pub(crate) fn retry_after_header(a: &Answer) -> Option<Duration> {
    a.header("retry-after").and_then(parse_retry_after)
}

/// Up to `n` characters of a body, for a message about an answer that could not be read.
pub(crate) fn snippet(body: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(body);
    let s: String = s.chars().take(n).collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms_are_clamped_or_ignored() {
        assert_eq!(parse_retry_after("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("inf"), Some(RETRY_AFTER_MAX));
        assert_eq!(parse_retry_after("1e400"), Some(RETRY_AFTER_MAX));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        for bad in ["-1", "NaN", "soon", ""] {
            assert_eq!(parse_retry_after(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let t = Transport::new(
            Provider::Gemini,
            "http://x/",
            Duration::from_secs(1),
            None,
            RetryPolicy {
                backoff_base: Duration::from_millis(100),
                backoff_max: Duration::from_secs(2),
                ..RetryPolicy::default()
            },
        )
        .unwrap();
        for attempt in 1..=4 {
            let ms = t.backoff(attempt).as_secs_f64() * 1000.0;
            let base = 100.0 * 2f64.powi(attempt as i32 - 1);
            assert!(ms >= base * 0.5 && ms < base * 1.5, "{attempt}: {ms}");
        }
        assert!(t.backoff(30) <= Duration::from_secs(2));
        assert_eq!(t.url("/v1/x"), "http://x/v1/x");
        let behind_proxy = Transport::new(
            Provider::Kling,
            " https://proxy.example/kling/ ",
            Duration::from_secs(1),
            None,
            RetryPolicy::default(),
        )
        .unwrap();
        assert_eq!(
            behind_proxy.url("/v1/videos/image2video"),
            "https://proxy.example/kling/v1/videos/image2video",
            "a base URL keeps its path prefix"
        );
    }
}
