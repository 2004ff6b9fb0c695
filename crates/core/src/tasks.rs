//! Creating, listing and showing tasks.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::asset::AssetPlan;
use crate::config::DEFAULT_CHANNEL;
use crate::error::{CoreError, Result};
use crate::event::{DomainEvent, Source};
use crate::ids::{ChannelId, TaskId};
use crate::runtime::Core;
use crate::status::Status;
use crate::store::{AssetRecord, AssetVersion, AuditRow, TaskFilter};
use crate::task::{NewTask, Task};
use crate::workspace::Workspace;

/// A task with everything a review needs.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct TaskDetail {
    /// The task.
    pub task: Task,
    /// Its assets, with every version.
    pub assets: Vec<AssetDetail>,
    /// Its audit trail.
    pub audit: Vec<AuditRow>,
}

/// An asset with its versions and file paths (relative to the workspace).
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct AssetDetail {
    /// The asset.
    #[serde(flatten)]
    pub asset: AssetRecord,
    /// Current file, relative to the workspace.
    pub file: String,
    /// Whether the current file is on disk as recorded (checked with one `stat`, no decoding).
    pub file_state: FileState,
    /// Every version, oldest first, with its file.
    pub versions: Vec<VersionDetail>,
}

/// What a cheap check found of an asset's current file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Present with the recorded size.
    Ok,
    /// Not generated yet.
    Pending,
    /// Deleted or unreadable.
    Missing,
    /// Present but not the recorded size: truncated, corrupt, or being edited.
    Changed,
}

/// A version with its file.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct VersionDetail {
    /// The version.
    #[serde(flatten)]
    pub version: AssetVersion,
    /// File relative to the workspace.
    pub file: String,
    /// The small thumbnail for gallery tiles, when it exists.
    pub tile_path: Option<String>,
}

/// Task operations.
#[derive(Debug, Clone)]
pub struct TaskService {
    core: Arc<Core>,
}

impl TaskService {
    /// The service over a core.
    pub fn new(core: Arc<Core>) -> Self {
        TaskService { core }
    }

    /// Creates a task (queued, or draft), validating everything first so a refusal changes nothing.
    pub async fn create(&self, new: NewTask, source: Source) -> Result<Task> {
        let title = new.title.trim();
        if title.is_empty() {
            return Err(CoreError::invalid("title", "a task needs a title"));
        }
        if title.chars().count() > 200 {
            return Err(CoreError::invalid("title", "at most 200 characters"));
        }
        let channel_id = ChannelId::parse(new.channel_id.as_deref().unwrap_or(DEFAULT_CHANNEL))?;
        let channel = self.core.channel(&channel_id)?;
        if !channel.is_active {
            return Err(CoreError::Config {
                file: format!("channels/{channel_id}.yaml"),
                message: "is_active: the channel is inactive; set is_active: true to add tasks"
                    .into(),
            });
        }
        if let Some(plan) = &new.plan_file {
            // A corrupt plan file is refused now, not halfway through step 1.
            AssetPlan::from_file(std::path::Path::new(plan))?;
        }
        let now = Utc::now();
        let id = TaskId::new();
        let task = Task {
            id,
            channel_id,
            title: title.to_string(),
            topic: new.topic.trim().to_string(),
            story_direction: new.story_direction.trim().to_string(),
            priority: new.priority.unwrap_or(channel.priority),
            status: if new.draft {
                Status::Draft
            } else {
                Status::Queued
            },
            status_changed_at: now,
            created_at: now,
            updated_at: now,
            notion_page_id: new.notion_page_id,
            review_started_at: None,
            review_completed_at: None,
            error_log: String::new(),
            attempts: 0,
            next_retry_at: None,
            error_category: None,
            correlation_id: uuid::Uuid::new_v4().simple().to_string(),
            plan_file: new.plan_file.map(|p| {
                std::fs::canonicalize(&p)
                    .map(|c| c.display().to_string())
                    .unwrap_or(p)
            }),
        };
        self.core.store.insert_task(&task, source).await?;
        tracing::info!(task_id = %task.id, correlation_id = %task.correlation_id, "task created");
        self.core.events.emit(DomainEvent::TaskCreated {
            task_id: id,
            source,
        });
        self.core.work_available.notify_waiters();
        Ok(task)
    }

    /// Lists tasks.
    pub async fn list(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        self.core.store.tasks(filter).await
    }

    /// One task.
    pub async fn get(&self, id: TaskId) -> Result<Task> {
        self.core.store.task(id).await
    }

    /// A task with its assets, versions and audit trail.
    pub async fn detail(&self, id: TaskId) -> Result<TaskDetail> {
        let task = self.core.store.task(id).await?;
        let mut assets = Vec::new();
        // Two queries for the whole gallery, not one per asset: this is on the path of every open.
        let mut all_versions = self.core.store.all_asset_versions(id).await?;
        for a in self.core.store.assets(id).await? {
            let versions = all_versions.remove(a.name.as_str()).unwrap_or_default();
            let file = Workspace::asset_rel(&task.channel_id, id, a.kind, &a.name);
            let versions = versions
                .into_iter()
                .map(|v| VersionDetail {
                    tile_path: v
                        .thumb_path
                        .as_deref()
                        .map(crate::thumbs::tile_rel)
                        .filter(|t| self.core.workspace.root().join(t).is_file()),
                    file: Workspace::asset_version_rel(
                        &task.channel_id,
                        id,
                        a.kind,
                        &a.name,
                        v.version,
                    )
                    .to_string_lossy()
                    .into_owned(),
                    version: v,
                })
                .collect::<Vec<VersionDetail>>();
            let file_state = match (a.current_version, versions.last()) {
                (0, _) | (_, None) => FileState::Pending,
                (_, Some(v)) => match std::fs::metadata(self.core.workspace.root().join(&file)) {
                    Ok(m) if m.len() == v.version.bytes => FileState::Ok,
                    Ok(_) => FileState::Changed,
                    Err(_) => FileState::Missing,
                },
            };
            assets.push(AssetDetail {
                file: file.to_string_lossy().into_owned(),
                file_state,
                asset: a,
                versions,
            });
        }
        let audit = self.core.store.audit(id).await?;
        Ok(TaskDetail {
            task,
            assets,
            audit,
        })
    }
}
