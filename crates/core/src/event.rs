//! Domain events: what happened, for windows, the mirror and logs.

use serde::{Deserialize, Serialize};

use crate::ids::TaskId;
use crate::status::Status;

/// Where a change came from, so a window can drop its own echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The pipeline worker.
    Worker,
    /// The desktop window.
    Desktop,
    /// A browser on `reviewdesk serve`.
    Browser,
    /// The command line.
    Cli,
    /// A change made in Notion.
    Notion,
    /// The workspace watcher (a file changed on disk).
    Watcher,
}

impl Source {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Worker => "worker",
            Source::Desktop => "desktop",
            Source::Browser => "browser",
            Source::Cli => "cli",
            Source::Notion => "notion",
            Source::Watcher => "watcher",
        }
    }

    /// Parses [`Source::as_str`].
    pub fn parse(s: &str) -> Option<Source> {
        [
            Self::Worker,
            Self::Desktop,
            Self::Browser,
            Self::Cli,
            Self::Notion,
            Self::Watcher,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// What the worker is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WorkerState {
    /// Waiting for work.
    Idle,
    /// Running a step of a task.
    Working {
        /// Task.
        task_id: TaskId,
        /// Human description ("Assets Generating: 5/22").
        doing: String,
    },
    /// Paused by the creator.
    Paused,
    /// Stopped.
    Stopped,
}

/// A domain event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    /// A task was created.
    TaskCreated {
        /// Task.
        task_id: TaskId,
        /// Origin.
        source: Source,
    },
    /// A task's status changed.
    StatusChanged {
        /// Task.
        task_id: TaskId,
        /// Before.
        from: Status,
        /// After.
        to: Status,
        /// Origin.
        source: Source,
    },
    /// A task reached a review gate (thumbnails are already made).
    ReviewReady {
        /// Task.
        task_id: TaskId,
        /// The gate.
        gate: Status,
        /// Title, for the notification.
        title: String,
        /// How many items wait for review.
        items: u32,
    },
    /// A person decided at a gate.
    DecisionMade {
        /// Task.
        task_id: TaskId,
        /// The gate.
        gate: Status,
        /// approve or reject.
        decision: String,
        /// Resulting status.
        status: Status,
        /// Origin.
        source: Source,
    },
    /// An asset's flag or review state changed.
    AssetChanged {
        /// Task.
        task_id: TaskId,
        /// Asset name.
        name: String,
        /// Origin.
        source: Source,
    },
    /// A new version of an asset exists (regenerated or edited on disk).
    AssetVersionAdded {
        /// Task.
        task_id: TaskId,
        /// Asset name.
        name: String,
        /// New version number.
        version: u32,
        /// Origin.
        source: Source,
    },
    /// Something else about a task changed (error log line, retry scheduled).
    TaskUpdated {
        /// Task.
        task_id: TaskId,
        /// Origin.
        source: Source,
    },
    /// The worker's state changed.
    Worker {
        /// New state.
        state: WorkerState,
    },
    /// The Notion mirror's state changed (connected, N waiting, or an error and its fix).
    Mirror {
        /// New state.
        state: crate::api::MirrorState,
    },
}

impl DomainEvent {
    /// The task concerned, if any.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            DomainEvent::TaskCreated { task_id, .. }
            | DomainEvent::StatusChanged { task_id, .. }
            | DomainEvent::ReviewReady { task_id, .. }
            | DomainEvent::DecisionMade { task_id, .. }
            | DomainEvent::AssetChanged { task_id, .. }
            | DomainEvent::AssetVersionAdded { task_id, .. }
            | DomainEvent::TaskUpdated { task_id, .. } => Some(*task_id),
            DomainEvent::Worker { .. } | DomainEvent::Mirror { .. } => None,
        }
    }
}

/// A cloneable broadcast of domain events; slow subscribers lose old events, never block the core.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: tokio::sync::broadcast::Sender<DomainEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus keeping the last 1024 events for slow subscribers.
    pub fn new() -> Self {
        EventBus {
            tx: tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// Sends an event (no-op without subscribers).
    pub fn emit(&self, event: DomainEvent) {
        tracing::debug!(?event, "domain event");
        let _ = self.tx.send(event);
    }

    /// Subscribes to future events.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<DomainEvent> {
        self.tx.subscribe()
    }
}
