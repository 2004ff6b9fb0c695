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
        /// The notification's first line, built here once for every door:
        /// "Assets ready — <title> (22 images)".
        headline: String,
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
    /// A task entered a review gate, with the notification's headline.
    pub fn review_ready(task_id: TaskId, gate: Status, title: String, items: u32) -> Self {
        let headline = review_ready_headline(gate, &title, items);
        DomainEvent::ReviewReady {
            task_id,
            gate,
            title,
            items,
            headline,
        }
    }

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

/// The first line of the "ready for review" notification: what is ready, for which task, and how
/// many items wait ("Video ready — Deep sea (18 clips)").
pub fn review_ready_headline(gate: Status, title: &str, items: u32) -> String {
    let (what, unit) = match gate {
        Status::AssetsReady => ("Assets ready", "images"),
        Status::VideoReady => ("Video ready", "clips"),
        Status::AudioReady => ("Audio ready", "tracks"),
        _ => ("Final review", "files"),
    };
    let unit = if items == 1 {
        unit.trim_end_matches('s')
    } else {
        unit
    };
    format!("{what} — {title} ({items} {unit})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_review_ready_headline_names_the_gate_the_task_and_the_count() {
        let id = TaskId::new();
        let ev = DomainEvent::review_ready(id, Status::AssetsReady, "Deep sea".into(), 22);
        let json = serde_json::to_value(&ev).unwrap();
        // Every door shows this line: the desktop natively, the browser through its API.
        assert_eq!(json["headline"], "Assets ready — Deep sea (22 images)");
        assert_eq!(
            review_ready_headline(Status::VideoReady, "X", 1),
            "Video ready — X (1 clip)"
        );
        assert_eq!(
            review_ready_headline(Status::AudioReady, "X", 18),
            "Audio ready — X (18 tracks)"
        );
        assert_eq!(
            review_ready_headline(Status::FinalReview, "X", 1),
            "Final review — X (1 file)"
        );
    }
}
