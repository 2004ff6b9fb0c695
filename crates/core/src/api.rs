//! Request and response types shared by every door (HTTP API, Tauri commands). The UI's
//! TypeScript types are generated from these (see tests/bindings.rs).

use serde::{Deserialize, Serialize};

use crate::event::WorkerState;
use crate::ids::TaskId;

/// Body of an approval.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Optional note.
    #[serde(default)]
    pub note: Option<String>,
}

/// Body of a rejection.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// What to change (required, not blank).
    pub feedback: String,
    /// Assets to regenerate; when absent, the assets already flagged.
    #[serde(default)]
    pub flags: Option<Vec<String>>,
}

impl RejectRequest {
    /// The named flags as asset names (an invalid name is refused), or `None` for "the flagged ones".
    pub fn flag_names(&self) -> crate::Result<Option<Vec<crate::AssetName>>> {
        self.flags
            .as_ref()
            .map(|f| f.iter().map(crate::AssetName::parse).collect())
            .transpose()
    }
}

/// Body of a flag change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct FlagRequest {
    /// Flag (true) or unflag (false).
    pub flagged: bool,
    /// Optional note.
    #[serde(default)]
    pub note: Option<String>,
}

/// Body of a scene edit: the texts to change (at least one); the others stay.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct SceneEdit {
    /// The line the narrator speaks.
    #[serde(default)]
    pub narration: Option<String>,
    /// The camera move, in words.
    #[serde(default)]
    pub motion: Option<String>,
    /// The sound under the scene.
    #[serde(default)]
    pub sfx: Option<String>,
}

/// Body of an asset prompt edit: what to draw the next time the asset is made.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct PromptEdit {
    /// The new prompt (1–4000 characters).
    pub prompt: String,
}

/// Body of a bulk decision (at most 100 tasks, all or nothing).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Tasks.
    pub task_ids: Vec<TaskId>,
    /// Note (approve) or feedback (reject, required).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Body of a cancellation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// State of the Notion mirror as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MirrorState {
    /// Not configured: the app works locally.
    Off {
        /// How to connect.
        hint: String,
    },
    /// Connected; `waiting` operations not sent yet.
    Connected {
        /// Operations waiting.
        waiting: u32,
        /// Age in seconds of the oldest waiting operation.
        oldest_age_secs: Option<u64>,
    },
    /// Failing: what happened and the fix.
    Error {
        /// The error and what to do.
        message: String,
        /// Operations waiting.
        waiting: u32,
    },
}

/// What the status bar shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct AppStatus {
    /// The worker.
    pub worker: WorkerState,
    /// The Notion mirror.
    pub mirror: MirrorState,
    /// Tasks waiting at a review gate.
    pub waiting_for_review: u32,
    /// Programs the built-in steps need and this machine lacks: what to install, and which steps
    /// cannot run until then. `None` when every built-in step can run.
    pub missing_programs: Option<String>,
    /// Each channel that has a budget or spent something today: spent, held for items under
    /// way, and its budget (the status bar's "$3.78 of $25.00 today").
    pub spend_today: Vec<crate::cost_report::ChannelToday>,
}

/// An error as the UI receives it: a stable code and a message a creator can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ApiError {
    /// Machine code (`not_found`, `refused_transition`, `invalid`, …).
    pub code: String,
    /// Human message.
    pub message: String,
}

impl From<&crate::error::CoreError> for ApiError {
    fn from(e: &crate::error::CoreError) -> Self {
        ApiError {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// A channel as the New task form lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ChannelSummary {
    /// Its id (`channel_id` of a new task).
    pub channel_id: String,
    /// Its display name.
    pub channel_name: String,
    /// The priority new tasks get unless they say otherwise.
    pub priority: crate::Priority,
    /// Inactive channels get no new work.
    pub is_active: bool,
}

impl ChannelSummary {
    /// The summary of a channel file.
    pub fn of(c: &crate::config::ChannelConfig) -> ChannelSummary {
        ChannelSummary {
            channel_id: c.channel_id.to_string(),
            channel_name: c.channel_name.clone(),
            priority: c.priority,
            is_active: c.is_active,
        }
    }
}
