//! Typed clients of the paid generators Review Desk calls: Gemini (pictures), Kling
//! (image-to-video clips) and ElevenLabs (speech and sound effects). They know nothing of tasks.
//! The API facts they rely on are in this crate's `README.md`.
//!
//! - Every failure is a [`ProviderError`] whose [`kind`](ProviderError::kind) says what to do:
//!   [`ErrorKind::Transient`] (wait, with the provider's `retry_after` when it gave one),
//!   [`ErrorKind::Configuration`] (a person must fix a key, model, voice or account),
//!   [`ErrorKind::Refused`] (the provider's safety system refused; change the input) or
//!   [`ErrorKind::Permanent`]. Its message says it in words a creator can act on.
//! - Retries inside a call: reads on any transient failure; requests that cost money only on a
//!   429 (never processed). A 5xx, a timeout or a dropped connection of a paid request comes
//!   back as `Transient`: it may have been billed. [`kling::KlingClient::create_or_find`] looks
//!   such a Kling task up by its `external_task_id` instead of paying twice.
//! - Keys are [`Secret`]s: `***` in Debug output, sent in headers marked sensitive, never in an
//!   error or a log line.
//!
//! ```no_run
//! # async fn demo() -> reviewdesk_providers::Result<()> {
//! use reviewdesk_providers::{Secret, gemini::*};
//! let client = GeminiClient::new(GeminiConfig::from_env(Secret::new("AIza…")))?;
//! let picture = client
//!     .generate_image(&ImageRequest {
//!         model: DEFAULT_MODEL.into(),
//!         prompt: "a lighthouse at dusk".into(),
//!         reference_images: vec![],
//!         aspect_ratio: Some(AspectRatio::R16x9),
//!         image_size: None,
//!     })
//!     .await?;
//! # let _ = picture; Ok(()) }
//! ```
#![warn(missing_docs)]

mod config;
mod error;
mod http;

pub mod elevenlabs;
pub mod gemini;
pub mod kling;
pub mod machine;

pub use config::{KEY_NAMES, Keys, RetryPolicy, Secret, resolve_base_url};
pub use error::{ApiError, ErrorKind, Provider, ProviderError, Result};
