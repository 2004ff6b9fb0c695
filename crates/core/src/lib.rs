//! Review Desk core: the domain (statuses, tasks, assets, decisions), the store, the pipeline
//! worker and its steps, the review service, thumbnails, workspace rules, configuration and
//! domain events. No window, no HTTP: the desktop app, the server and the CLI host these.
#![warn(missing_docs)]

pub mod api;
pub mod asset;
pub mod audit_export;
pub mod channel_file;
pub mod config;
pub mod context;
pub mod cost_report;
pub mod costs;
pub mod db_watch;
pub mod error;
pub mod event;
pub mod executor;
pub mod feed;
pub mod history;
pub mod ids;
pub mod media_steps;
pub mod peaks;
pub mod pipeline;
mod program;
pub mod provider_steps;
pub mod publish;
pub mod renditions;
pub mod review;
pub mod scene;
pub mod status;
pub mod store;
pub mod task;
pub mod task_service;
pub mod telemetry;
pub mod thumbs;
pub mod watcher;
pub mod worker;
pub mod workspace;

pub use context::{Core, CoreOptions};
pub use error::{CoreError, Result};
pub use event::{DomainEvent, EventBus, Source, WorkerState};
pub use ids::{AssetName, ChannelId, TaskId};
pub use review::{ReviewInput, ReviewService};
pub use status::{Status, StatusKind, Step};
pub use store::{Reviewer, Store};
pub use task::{NewTask, Priority, Task};
pub use task_service::TaskService;
pub use worker::Worker;
