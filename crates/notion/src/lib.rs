//! A typed client of the Notion REST API (Notion-Version 2025-09-03: databases hold data
//! sources). Knows nothing of tasks.
//!
//! - One [`NotionClient`] per token; its clones share one rate limiter (3 requests/s by
//!   default) and one pause: a 429 or 529 stops every caller for `Retry-After`.
//! - Retries: 429/529 for every request; 500/502/503/504, timeouts and dropped connections only
//!   for reads and for writes the caller marks [`Idempotency::Idempotent`]; exponential backoff
//!   with jitter, at most 5 attempts; 400/401/403/404 never.
//! - Errors are [`NotionError`]s whose messages say what to do. A success answer without a field
//!   Notion always sends (an id, a time) is a [`NotionError::Decode`] naming the field, never a
//!   default value.
//! - The token ([`NotionToken`]) never appears in Debug output, logs or errors.
//!
//! ```no_run
//! # async fn demo() -> reviewdesk_notion::Result<()> {
//! use reviewdesk_notion::*;
//! let client = NotionClient::new(NotionToken::new("ntn_…"))?; // NOTION_BASE_URL overrides the URL
//! let me = client.me().await?;
//! let ds = DataSourceId::new("…");
//! let edited = client
//!     .query_data_source(&ds, &Query { filter: Some(Filter::status_equals("Status", "Queued")), ..Query::default() })
//!     .await?;
//! # let _ = (me, edited); Ok(()) }
//! ```
#![warn(missing_docs)]

mod client;
mod config;
mod error;
mod model;
mod query;

pub use client::{Idempotency, NotionClient, PART_SIZE, RETRY_AFTER_MAX, SINGLE_PART_MAX};
pub use config::{BASE_URL_ENV, ClientConfig, DEFAULT_BASE_URL, NOTION_VERSION, NotionToken};
pub use error::{ApiError, ErrorKind, NotionError, Result};
pub use model::*;
pub use query::{DateCondition, Direction, Filter, Query, Sort, Timestamp};
