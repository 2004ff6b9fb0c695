//! The `r2` storage strategy: objects PUT to Cloudflare R2 (or any S3-compatible server) through
//! presigned SigV4 URLs (`rusty-s3`), then linked in Notion by their public URL.

use std::time::Duration;

use bytes::Bytes;
use reviewdesk_core::config::R2Settings;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::error::{Result, SyncError};

/// Uploads objects of one channel's bucket.
#[derive(Debug, Clone)]
pub(crate) struct R2Uploader {
    bucket: Bucket,
    credentials: Credentials,
    public_base_url: String,
    http: reqwest::Client,
}

/// The environment variable prefix holding a channel's R2 credentials (`R2` by default, or the
/// channel's `credentials_ref` upper-cased): `<PREFIX>_ACCESS_KEY_ID`, `<PREFIX>_SECRET_ACCESS_KEY`.
pub(crate) fn env_prefix(s: &R2Settings) -> String {
    s.credentials_ref
        .as_deref()
        .unwrap_or("R2")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl R2Uploader {
    /// From the channel settings; credentials from the environment, never from the YAML file.
    pub(crate) fn new(s: &R2Settings) -> Result<Self> {
        let prefix = env_prefix(s);
        let var = |name: &str| {
            std::env::var(format!("{prefix}_{name}"))
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    SyncError::Setup(format!(
                        "R2 credentials missing: set {prefix}_ACCESS_KEY_ID and {prefix}_SECRET_ACCESS_KEY (an R2 API token with Object Read & Write)"
                    ))
                })
        };
        let credentials = Credentials::new(var("ACCESS_KEY_ID")?, var("SECRET_ACCESS_KEY")?);
        let endpoint = s
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://{}.r2.cloudflarestorage.com", s.account_id));
        let url = endpoint
            .parse()
            .map_err(|e| SyncError::Setup(format!("r2.endpoint {endpoint:?} is not a URL: {e}")))?;
        let bucket = Bucket::new(url, UrlStyle::Path, s.bucket.clone(), "auto")
            .map_err(|e| SyncError::Setup(format!("r2 bucket settings: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| SyncError::Setup(format!("HTTP client setup failed: {e}")))?;
        Ok(R2Uploader {
            bucket,
            credentials,
            public_base_url: s.public_base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// PUTs the object (idempotent: the same key is overwritten) and returns its public URL.
    pub(crate) async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<String> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(Duration::from_secs(900));
        let fail = |detail: String| {
            SyncError::Setup(format!(
                "uploading {key} to R2 failed ({detail}): check the r2 settings and credentials; it is retried"
            ))
        };
        let resp = self
            .http
            .put(url)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {}", resp.status())));
        }
        Ok(format!("{}/{key}", self.public_base_url))
    }

    /// Creates the bucket, publicly readable (tests and first setup against a plain S3 server).
    pub(crate) async fn create_bucket(&self) -> Result<()> {
        let url = self
            .bucket
            .create_bucket(&self.credentials)
            .sign(Duration::from_secs(900));
        let resp = self
            .http
            .put(url)
            .header("content-length", "0")
            // Objects are read through the public URL. R2 ignores ACL headers (public access is a
            // bucket setting there); plain S3 servers make the bucket world-readable.
            .header("x-amz-acl", "public-read")
            .body(Vec::<u8>::new())
            .send()
            .await
            .map_err(|e| SyncError::Setup(format!("creating the bucket failed: {e}")))?;
        if !resp.status().is_success() && resp.status().as_u16() != 409 {
            return Err(SyncError::Setup(format!(
                "creating the bucket failed: HTTP {}",
                resp.status()
            )));
        }
        Ok(())
    }
}

/// Creates the channel's bucket, publicly readable, on an S3-compatible server (tests, local
/// setups; on R2 enable the bucket's r2.dev address or a custom domain instead).
pub async fn create_bucket(s: &R2Settings) -> Result<()> {
    R2Uploader::new(s)?.create_bucket().await
}
