//! The `r2` storage strategy: objects PUT to Cloudflare R2 (or any S3-compatible server) through
//! presigned SigV4 URLs (`rusty-s3`), then linked in Notion by their public URL.
//!
//! Credentials come from a [`SecretStore`]: the OS keyring first (entries
//! `<ref>-access-key-id` and `<ref>-secret-access-key` under the `reviewdesk` service, `r2-…` by
//! default), then the environment (`<PREFIX>_ACCESS_KEY_ID`, `<PREFIX>_SECRET_ACCESS_KEY`,
//! `R2_…` by default). They never appear in errors, logs or `Debug` output.

use std::time::Duration;

use bytes::Bytes;
use reviewdesk_core::config::R2Settings;
use reviewdesk_settings::{KEYRING_SERVICE, SecretId, SecretStore, TokenSource};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::error::{Result, SyncError};

/// Uploads objects of one channel's bucket.
#[derive(Clone)]
pub(crate) struct R2Uploader {
    bucket: Bucket,
    credentials: Credentials,
    /// Where the credentials came from (for `Debug`; the values are never shown).
    source: (TokenSource, TokenSource),
    public_base_url: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for R2Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("R2Uploader")
            .field("bucket", &self.bucket.name())
            .field("endpoint", &self.bucket.base_url().as_str())
            .field("credentials_from", &self.source)
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
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

/// The two secrets of a channel's R2 API token: keyring entries `<ref>-access-key-id` and
/// `<ref>-secret-access-key` (`r2-…` by default), environment `<PREFIX>_ACCESS_KEY_ID` and
/// `<PREFIX>_SECRET_ACCESS_KEY` (`R2_…` by default).
pub fn r2_secret_ids(s: &R2Settings) -> (SecretId, SecretId) {
    let prefix = env_prefix(s);
    let key = prefix.to_ascii_lowercase().replace('_', "-");
    (
        SecretId::new(
            format!("{key}-access-key-id"),
            format!("{prefix}_ACCESS_KEY_ID"),
        ),
        SecretId::new(
            format!("{key}-secret-access-key"),
            format!("{prefix}_SECRET_ACCESS_KEY"),
        ),
    )
}

/// Reads one credential; a missing one names both places it can come from.
fn credential(secrets: &SecretStore, id: &SecretId, what: &str) -> Result<(String, TokenSource)> {
    match secrets.get(id) {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(SyncError::Setup(format!(
            "the R2 {what} is missing: store it in Settings (OS keyring) or set {} — from an R2 API token with Object Read & Write (keyring entry {:?} of service {KEYRING_SERVICE:?})",
            id.env_var, id.key
        ))),
        // Keyring errors name the environment variable and never hold the secret.
        Err(e) => Err(SyncError::Setup(format!(
            "the R2 {what} cannot be read: {e}"
        ))),
    }
}

/// Where a channel's R2 credentials come from, in words (`reviewdesk notion check`), or the error
/// naming both places to put a missing one. Never shows a value. Blocks on the keyring.
pub fn describe_r2_credentials(s: &R2Settings, secrets: &SecretStore) -> Result<String> {
    let (key_id, secret_key) = r2_secret_ids(s);
    let from = |id: &SecretId, source: TokenSource| match source {
        TokenSource::Keyring => format!("the OS keyring ({})", id.key),
        TokenSource::Environment => id.env_var.clone(),
        TokenSource::None => "nowhere".into(),
    };
    let (_, a) = credential(secrets, &key_id, "access key id")?;
    let (_, b) = credential(secrets, &secret_key, "secret access key")?;
    Ok(format!(
        "R2 access key id from {}, secret access key from {}",
        from(&key_id, a),
        from(&secret_key, b)
    ))
}

impl R2Uploader {
    /// From the channel settings; credentials from `secrets` (keyring, then environment), never
    /// from the YAML file. Keyring calls block: call this on a blocking thread from async code
    /// (see [`R2Uploader::load`]).
    pub(crate) fn new(s: &R2Settings, secrets: &SecretStore) -> Result<Self> {
        let (key_id, secret_key) = r2_secret_ids(s);
        let (key, key_source) = credential(secrets, &key_id, "access key id")?;
        let (secret, secret_source) = credential(secrets, &secret_key, "secret access key")?;
        let credentials = Credentials::new(key, secret);
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
            source: (key_source, secret_source),
            public_base_url: s.public_base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// [`R2Uploader::new`] on a blocking thread (keyring calls are D-Bus round trips on Linux).
    pub(crate) async fn load(s: &R2Settings, secrets: &SecretStore) -> Result<Self> {
        let (s, secrets) = (s.clone(), secrets.clone());
        tokio::task::spawn_blocking(move || R2Uploader::new(&s, &secrets))
            .await
            .map_err(|e| SyncError::Setup(format!("reading the R2 credentials failed: {e}")))?
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
            .map_err(|e| {
                // Without the URL: it is presigned and carries the access key id.
                SyncError::Setup(format!("creating the bucket failed: {}", e.without_url()))
            })?;
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
/// setups; on R2 enable the bucket's r2.dev address or a custom domain instead). Credentials come
/// from `secrets` as for uploads.
pub async fn create_bucket(s: &R2Settings, secrets: &SecretStore) -> Result<()> {
    R2Uploader::load(s, secrets).await?.create_bucket().await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use reviewdesk_settings::{MemoryKeyring, SecretBackend as _};

    use super::*;

    fn settings(credentials_ref: Option<&str>) -> R2Settings {
        R2Settings {
            account_id: "acct".into(),
            bucket: "reviewdesk".into(),
            public_base_url: "https://pub.example/reviewdesk".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            credentials_ref: credentials_ref.map(str::to_owned),
        }
    }

    /// A keyring holding `keyring`, and an environment holding only `env`.
    fn store(keyring: &[(&str, &str)], env: &[(&str, &str)]) -> SecretStore {
        let backend = MemoryKeyring::new();
        for (k, v) in keyring {
            backend.set(k, v).unwrap();
        }
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SecretStore::new(Arc::new(backend)).with_env(move |name| env.get(name).cloned())
    }

    /// The access key id a presigned PUT is signed with.
    fn signing_key(up: &R2Uploader) -> String {
        let url = up
            .bucket
            .put_object(Some(&up.credentials), "k.png")
            .sign(Duration::from_secs(60));
        let credential = url
            .query_pairs()
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned())
            .expect("a presigned URL names its credential");
        credential.split('/').next().unwrap().to_string()
    }

    #[test]
    fn keyring_credentials_sign_uploads_with_an_empty_environment() {
        let secrets = store(
            &[
                ("r2-access-key-id", "KEYRINGKEYID"),
                ("r2-secret-access-key", "keyring-secret"),
            ],
            &[],
        );
        let up = R2Uploader::new(&settings(None), &secrets).unwrap();
        assert_eq!(signing_key(&up), "KEYRINGKEYID");
        assert_eq!(up.source, (TokenSource::Keyring, TokenSource::Keyring));
    }

    #[test]
    fn the_environment_variables_of_today_still_work() {
        let secrets = store(
            &[],
            &[
                ("R2_ACCESS_KEY_ID", "ENVKEYID"),
                ("R2_SECRET_ACCESS_KEY", "env-secret"),
            ],
        );
        let up = R2Uploader::new(&settings(None), &secrets).unwrap();
        assert_eq!(signing_key(&up), "ENVKEYID");
        assert_eq!(
            up.source,
            (TokenSource::Environment, TokenSource::Environment)
        );

        // A channel's credentials_ref names both the variables' prefix and the keyring entries.
        let s = settings(Some("r2-prod"));
        let (id, secret) = r2_secret_ids(&s);
        assert_eq!(
            (id.key.as_str(), id.env_var.as_str()),
            ("r2-prod-access-key-id", "R2_PROD_ACCESS_KEY_ID")
        );
        assert_eq!(
            (secret.key.as_str(), secret.env_var.as_str()),
            ("r2-prod-secret-access-key", "R2_PROD_SECRET_ACCESS_KEY")
        );
        let secrets = store(
            &[("r2-prod-secret-access-key", "prod-secret")],
            &[("R2_PROD_ACCESS_KEY_ID", "PRODKEYID")],
        );
        let up = R2Uploader::new(&s, &secrets).unwrap();
        assert_eq!(signing_key(&up), "PRODKEYID");
        assert_eq!(up.source, (TokenSource::Environment, TokenSource::Keyring));
    }

    #[test]
    fn the_keyring_wins_over_the_environment() {
        let secrets = store(
            &[
                ("r2-access-key-id", "KEYRINGKEYID"),
                ("r2-secret-access-key", "keyring-secret"),
            ],
            &[
                ("R2_ACCESS_KEY_ID", "ENVKEYID"),
                ("R2_SECRET_ACCESS_KEY", "env-secret"),
            ],
        );
        let up = R2Uploader::new(&settings(None), &secrets).unwrap();
        assert_eq!(signing_key(&up), "KEYRINGKEYID");
    }

    #[test]
    fn a_missing_credential_names_settings_and_the_variable() {
        let err = R2Uploader::new(&settings(None), &store(&[], &[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("access key id is missing: store it in Settings (OS keyring) or set R2_ACCESS_KEY_ID"),
            "{err}"
        );
        let err = R2Uploader::new(
            &settings(None),
            &store(&[("r2-access-key-id", "KEYRINGKEYID")], &[]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                "secret access key is missing: store it in Settings (OS keyring) or set R2_SECRET_ACCESS_KEY"
            ),
            "{err}"
        );
        assert!(!err.contains("KEYRINGKEYID"), "{err}");

        // Without any keyring (no Secret Service) the environment is read quietly; with neither,
        // the message still names the variable.
        let none = SecretStore::new(Arc::new(MemoryKeyring::unavailable())).with_env(|_| None);
        let err = R2Uploader::new(&settings(Some("media")), &none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("set MEDIA_ACCESS_KEY_ID"), "{err}");
    }

    #[test]
    fn debug_output_never_shows_the_credentials() {
        let secrets = store(
            &[
                ("r2-access-key-id", "KEYRINGKEYID"),
                ("r2-secret-access-key", "keyring-secret"),
            ],
            &[],
        );
        let up = R2Uploader::new(&settings(None), &secrets).unwrap();
        let debug = format!("{up:?} {secrets:?}");
        assert!(!debug.contains("KEYRINGKEYID"), "{debug}");
        assert!(!debug.contains("keyring-secret"), "{debug}");
        assert!(debug.contains("Keyring"), "{debug}");
        let said = describe_r2_credentials(&settings(None), &secrets).unwrap();
        assert_eq!(
            said,
            "R2 access key id from the OS keyring (r2-access-key-id), secret access key from the OS keyring (r2-secret-access-key)"
        );
    }
}
