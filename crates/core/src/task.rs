//! Tasks: one video to produce for one channel.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::ids::{ChannelId, TaskId};
use crate::status::{Status, Step};

/// Scheduling priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Claimed before everything else.
    High,
    /// The default.
    #[default]
    Normal,
    /// Claimed last.
    Low,
}

impl Priority {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// Sort rank: lower is claimed first.
    pub fn rank(self) -> i64 {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }

    /// Parses [`Priority::as_str`] (case-insensitive, so Notion's "High" works too).
    pub fn parse(s: &str) -> Result<Priority> {
        match s.to_ascii_lowercase().as_str() {
            "high" => Ok(Priority::High),
            "normal" => Ok(Priority::Normal),
            "low" => Ok(Priority::Low),
            _ => Err(CoreError::invalid(
                "priority",
                format!("{s:?} is not high, normal or low"),
            )),
        }
    }
}

/// How a failure is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCategory {
    /// Retried on the schedule (timeouts, 429, 5xx, connection errors).
    Transient,
    /// Stops at once (bad request, not found).
    Permanent,
    /// Stops at once: settings must change (401, 403, missing executor).
    Configuration,
    /// Retried on the schedule: a quota ran out.
    Quota,
    /// Unknown: retried like a transient error.
    Unknown,
}

impl ErrorCategory {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCategory::Transient => "transient",
            ErrorCategory::Permanent => "permanent",
            ErrorCategory::Configuration => "configuration",
            ErrorCategory::Quota => "quota",
            ErrorCategory::Unknown => "unknown",
        }
    }

    /// Parses [`ErrorCategory::as_str`].
    pub fn parse(s: &str) -> Option<ErrorCategory> {
        [
            Self::Transient,
            Self::Permanent,
            Self::Configuration,
            Self::Quota,
            Self::Unknown,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// Whether the worker tries again on the retry schedule.
    pub fn retries(self) -> bool {
        matches!(
            self,
            ErrorCategory::Transient | ErrorCategory::Quota | ErrorCategory::Unknown
        )
    }
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Task {
    /// Id (UUID v7).
    pub id: TaskId,
    /// Channel.
    pub channel_id: ChannelId,
    /// Video title.
    pub title: String,
    /// Topic.
    pub topic: String,
    /// Story direction.
    pub story_direction: String,
    /// Priority.
    pub priority: Priority,
    /// Current status.
    pub status: Status,
    /// When the status last changed.
    pub status_changed_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change of any field.
    pub updated_at: DateTime<Utc>,
    /// The Notion page mirroring this task.
    pub notion_page_id: Option<String>,
    /// Set on entering a review gate.
    pub review_started_at: Option<DateTime<Utc>>,
    /// Set by the decision.
    pub review_completed_at: Option<DateTime<Utc>>,
    /// Append-only log: `[<RFC 3339 UTC>] <Status Name>: <message>` per line.
    pub error_log: String,
    /// Failed attempts of the current step.
    pub attempts: u32,
    /// When the next automatic retry may run.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Category of the last failure.
    pub error_category: Option<ErrorCategory>,
    /// Correlation id carried through logs and audit rows.
    pub correlation_id: String,
    /// The path of a plan file given at creation by tasks made before plans were stored as text
    /// (new tasks keep their plan's text in the database and leave this empty).
    pub plan_file: Option<String>,
    /// What the task's paid calls have cost so far, in dollars (the sum of its cost-ledger rows).
    #[serde(default)]
    pub spent_usd: f64,
}

impl Task {
    /// A task as it starts out, created at `at`: a fresh id and correlation id, normal priority,
    /// no topic, Notion page, review times, errors or retries yet. Callers set the rest with
    /// struct update syntax.
    pub fn new(
        channel_id: ChannelId,
        title: impl Into<String>,
        status: Status,
        at: DateTime<Utc>,
    ) -> Task {
        Task {
            id: TaskId::new(),
            channel_id,
            title: title.into(),
            topic: String::new(),
            story_direction: String::new(),
            priority: Priority::Normal,
            status,
            status_changed_at: at,
            created_at: at,
            updated_at: at,
            notion_page_id: None,
            review_started_at: None,
            review_completed_at: None,
            error_log: String::new(),
            attempts: 0,
            next_retry_at: None,
            error_category: None,
            correlation_id: uuid::Uuid::new_v4().simple().to_string(),
            plan_file: None,
            spent_usd: 0.0,
        }
    }

    /// Seconds a review took, derived from the two timestamps (never stored).
    pub fn review_duration_secs(&self) -> Option<i64> {
        Some((self.review_completed_at? - self.review_started_at?).num_seconds())
    }

    /// The newest error_log line, if any.
    pub fn last_error_line(&self) -> Option<&str> {
        self.error_log.lines().rev().find(|l| !l.trim().is_empty())
    }

    /// The step the task is in or failed at.
    pub fn step(&self) -> Option<Step> {
        self.status.step()
    }
}

/// What is needed to create a task. Unknown fields are refused (a misspelt or retired field such
/// as `plan_file` must not be silently ignored).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, deny_unknown_fields)]
pub struct NewTask {
    /// Channel id; the default channel when absent.
    pub channel_id: Option<String>,
    /// Title (required).
    pub title: String,
    /// Topic.
    pub topic: String,
    /// Story direction.
    pub story_direction: String,
    /// Priority; the channel's default when absent.
    pub priority: Option<Priority>,
    /// Start as draft rather than queued.
    pub draft: bool,
    /// The asset plan for step 1, as text (YAML or JSON, at most 256 KiB; see
    /// `AssetPlan::parse`). A plan is data sent by the client, never a path the server reads.
    pub plan: Option<String>,
    /// The Notion page that created it.
    pub notion_page_id: Option<String>,
}

/// Formats one error_log line.
pub fn error_log_line(at: DateTime<Utc>, status: Status, message: &str) -> String {
    // One entry per line: newlines inside a message would forge entries.
    let flat = message.replace(['\r', '\n'], " ");
    format!(
        "[{}] {}: {}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        status.board_name(),
        flat.trim()
    )
}
