//! The Notion mirror (`reviewdesk-sync`): keeps a channel's Notion board true and lets the
//! creator act on it, without ever depending on it.
//!
//! - **Out** ([`Mirror::push_once`], [`Mirror::push_due`]): takes the core's append-only
//!   `task_events` log from a stored cursor into an outbox (`sync_outbox`, in the same transaction
//!   as the cursor) and turns each task's events, in order, into Notion writes: a Tasks page per
//!   task (find-or-create), Status / Updated / Error Log / Retry Status on every status change,
//!   and at "Assets Ready" the assets published first (upload per the channel's storage
//!   strategy, then an Assets row found or created by its Asset Key). Tasks are independent: up
//!   to 3 are mirrored at once, each one's events in order, and a task whose event fails waits
//!   with backoff while the others go on. An event leaves the outbox only once fully handled,
//!   so nothing is lost in a crash, and find-or-create keeps a replay from duplicating pages.
//!   [`Mirror::discard`] drops an event that can never succeed, with an audit trail.
//!   With the `r2` storage strategy, credentials come from [`MirrorConfig::secrets`]: the OS
//!   keyring first, then the `R2_…` environment variables (see [`r2_secret_ids`]).
//! - **In** ([`Mirror::pull_once`], [`Mirror::pull_page`]): polls the Tasks data source by
//!   `last_edited_time` and turns a creator's status change into a call to the same
//!   [`reviewdesk_core::ReviewService`] the desktop uses; a refused change is reverted in Notion
//!   with the reason in the Error Log. A page that cannot be applied at all (a title too long, an
//!   inactive channel) gets the reason in its Error Log and in [`SyncStore::refused_pages`], and
//!   the poll goes on.
//! - [`rows`]: every Notion property name, once, and the typed rows ([`rows::TaskRow`],
//!   [`rows::AssetRow`]) the mirror writes and reads; [`setup`] builds the schemas from them.
//! - [`setup`]: `reviewdesk notion init` / `check`.
//! - [`webhook`]: signature check of Notion webhook deliveries, and the handshake token that
//!   stays pending until the creator confirms it.
//!
//! The mirror keeps its own tables (`sync_*`) in the core's database; the core's migrations create
//! them (one schema owner) and [`SyncStore::open`] checks they are there.
#![warn(missing_docs)]

mod db;
mod error;
mod mirror;
mod r2;
pub mod rows;
pub mod setup;
pub mod webhook;

pub use db::{DiscardedEvent, RefusedPage, StuckEvent, SyncStore};
pub use error::{Result, SyncError};
pub use mirror::{Mirror, MirrorConfig, asset_key, clip_key, error_log_value};
pub use r2::{create_bucket, describe_r2_credentials, r2_secret_ids};
