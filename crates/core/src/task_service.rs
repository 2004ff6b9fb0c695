//! Creating, listing and showing tasks.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::asset::AssetPlan;
use crate::config::DEFAULT_CHANNEL;
use crate::context::Core;
use crate::error::{CoreError, Result};
use crate::event::{DomainEvent, Source};
use crate::ids::{ChannelId, TaskId};
use crate::status::{Status, Step};
use crate::store::{AssetRecord, AssetVersion, AuditRow, BoardTasks, TaskFilter};
use crate::task::{NewTask, Task};
use crate::workspace::Workspace;

/// A task with everything a review needs.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct TaskDetail {
    /// The task.
    pub task: Task,
    /// Its assets, with every version.
    pub assets: Vec<AssetDetail>,
    /// Its audit trail: every decision, with reviewer, source, reason and flags.
    pub audit: Vec<AuditRow>,
    /// Each status it has been in, oldest first, with when and who.
    pub history: Vec<crate::history::StatusSpan>,
    /// What the media steps produced (clips, narration, sound effects, the final video), for the
    /// reviews at the later gates; empty until the video step has finished an item.
    pub outputs: Vec<StepOutput>,
    /// The scene plan (what each scene shows, its camera move, narration line and sound);
    /// empty until the assets can make the composites.
    pub scenes: Vec<crate::scene::Scene>,
    /// What its paid generators cost so far, in US dollars (the sum of its cost ledger rows).
    pub spent_usd: f64,
    /// What approving at its gate would start that costs money (none when nothing paid).
    pub approve_cost: Option<crate::cost_report::CostEstimate>,
}

/// The steps whose outputs [`TaskDetail::outputs`] lists. Assets are the gallery's; composites
/// are left out because no gate reviews them (composites_ready passes straight on) and listing
/// them would add 18 file checks to every later detail for nothing on screen.
pub const MEDIA_STEPS: [Step; 4] = [Step::Video, Step::Audio, Step::Sfx, Step::Assembly];

/// One finished item of a media step and its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct StepOutput {
    /// The step that made it.
    pub step: Step,
    /// The item's key within the step (`clip_01`, `narration_01`, `sfx_01`, `final`).
    pub item: String,
    /// File relative to the workspace.
    pub file: String,
    /// Whether the file is on disk (one `stat`). Steps record no size, so an empty file counts as
    /// `changed` (executors refuse to finish an item with an empty output) and anything else as
    /// `ok`.
    pub file_state: FileState,
    /// Which version of the item this is: 1, one more for each regeneration; the earlier ones
    /// are kept in the step folder's `versions/`.
    pub version: u32,
    /// What the reviewer should know about the item (a narration longer than its clip).
    pub note: Option<String>,
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

/// The longest asset prompt accepted (a provider's own limit is larger; a prompt this long is a
/// paste gone wrong).
pub const MAX_PROMPT_CHARS: usize = 4000;

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
        if let Some(plan) = &new.plan {
            // A corrupt plan is refused now, not halfway through step 1.
            AssetPlan::parse(plan, "plan")?;
        }
        let now = Utc::now();
        let id = TaskId::new();
        let status = if new.draft {
            Status::Draft
        } else {
            Status::Queued
        };
        let task = Task {
            id,
            topic: new.topic.trim().to_string(),
            story_direction: new.story_direction.trim().to_string(),
            priority: new.priority.unwrap_or(channel.priority),
            notion_page_id: new.notion_page_id,
            ..Task::new(channel_id, title, status, now)
        };
        self.core
            .store
            .insert_task_with_plan(&task, new.plan.as_deref(), source)
            .await?;
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

    /// The board: every unfinished task, the `latest` most recent of each finished status and
    /// exact counts, optionally only titles containing `title`.
    pub async fn board(&self, title: Option<&str>, latest: i64) -> Result<BoardTasks> {
        self.core.store.board_tasks(title, latest).await
    }

    /// One task.
    pub async fn get(&self, id: TaskId) -> Result<Task> {
        self.core.store.task(id).await
    }

    /// Edits one scene of the task's plan (1–18): the texts given replace the current ones. A
    /// text can change only until the step that uses it runs: the motion prompt (video) at Draft
    /// or Assets Ready, the narration line (audio) also at Videos Ready, the sound description
    /// (effects) also at Audio Ready. Returns the scene as it now stands.
    pub async fn edit_scene(
        &self,
        id: TaskId,
        scene: u32,
        edit: crate::scene::PlannedScene,
        source: Source,
    ) -> Result<crate::scene::Scene> {
        let task = self.core.store.task(id).await?;
        if !(1..=crate::pipeline::SCENES as u32).contains(&scene) {
            return Err(CoreError::invalid(
                "scene",
                format!("{scene} is not a scene: a video has scenes 1 to 18"),
            ));
        }
        let fields = [
            (
                "motion",
                &edit.motion,
                &[Status::Draft, Status::AssetsReady][..],
            ),
            (
                "narration",
                &edit.narration,
                &[Status::Draft, Status::AssetsReady, Status::VideoReady][..],
            ),
            (
                "sfx",
                &edit.sfx,
                &[
                    Status::Draft,
                    Status::AssetsReady,
                    Status::VideoReady,
                    Status::AudioReady,
                ][..],
            ),
        ];
        if fields.iter().all(|(_, v, _)| v.is_none()) {
            return Err(CoreError::invalid(
                "scene",
                "give a narration, motion or sfx text to change",
            ));
        }
        let mut clean = crate::scene::PlannedScene::default();
        for (field, value, editable) in fields {
            let Some(text) = value else { continue };
            let text = text.trim();
            if text.is_empty() {
                return Err(CoreError::invalid(field, "the text is empty"));
            }
            if text.chars().count() > crate::scene::MAX_NARRATION_CHARS {
                return Err(CoreError::invalid(
                    field,
                    format!(
                        "longer than {} characters",
                        crate::scene::MAX_NARRATION_CHARS
                    ),
                ));
            }
            if !editable.contains(&task.status) {
                let names: Vec<&str> = editable.iter().map(|s| s.board_name()).collect();
                return Err(CoreError::invalid(
                    field,
                    format!(
                        "the {field} of a scene can be changed at {} only, before the step that uses it (the task is in {})",
                        names.join(", "),
                        task.status.board_name()
                    ),
                ));
            }
            let slot = match field {
                "motion" => &mut clean.motion,
                "narration" => &mut clean.narration,
                _ => &mut clean.sfx,
            };
            *slot = Some(text.to_string());
        }
        let records = self.core.store.assets(id).await?;
        if self.scenes(&task, &records).await?.is_empty() {
            return Err(CoreError::invalid(
                "scene",
                "this task's plan cannot make scenes (it needs at least two characters and one environment)",
            ));
        }
        self.core.store.edit_scene(id, scene, &clean).await?;
        self.core.events.emit(DomainEvent::TaskUpdated {
            task_id: id,
            source,
        });
        self.scenes(&task, &records)
            .await?
            .into_iter()
            .find(|s| s.number == scene)
            .ok_or_else(|| CoreError::invalid("scene", "the scene was not found after the edit"))
    }

    /// Changes the prompt an asset is drawn from, at Assets Ready (flag it and reject to have it
    /// made again) or Asset Error (a refused prompt reworded, then Retry makes only it).
    pub async fn edit_asset_prompt(
        &self,
        id: TaskId,
        name: &crate::ids::AssetName,
        prompt: &str,
        source: Source,
    ) -> Result<AssetRecord> {
        let task = self.core.store.task(id).await?;
        let prompt = prompt.trim();
        if prompt.is_empty() {
            return Err(CoreError::invalid("prompt", "the prompt is empty"));
        }
        if prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(CoreError::invalid(
                "prompt",
                format!("longer than {MAX_PROMPT_CHARS} characters"),
            ));
        }
        if !matches!(task.status, Status::AssetsReady | Status::AssetError) {
            return Err(CoreError::invalid(
                "prompt",
                format!(
                    "an asset's prompt can be changed at Assets Ready or Asset Error only (the task is in {})",
                    task.status.board_name()
                ),
            ));
        }
        self.core.store.set_asset_prompt(id, name, prompt).await?;
        self.core.events.emit(DomainEvent::TaskUpdated {
            task_id: id,
            source,
        });
        self.core.store.asset(id, name).await
    }

    /// The task's scene plan: over its drawn assets once there are some, before that over the
    /// names its asset plan will draw (so a draft shows, and can edit, its scenes); empty when
    /// neither can make the composites.
    async fn scenes(
        &self,
        task: &Task,
        records: &[AssetRecord],
    ) -> Result<Vec<crate::scene::Scene>> {
        let store = &self.core.store;
        let plan = store.task_plan(task.id).await?;
        let edits = store.scene_edits(task.id).await?;
        if let Ok(s) = crate::pipeline::scenes(task, records, plan.as_deref(), &edits) {
            return Ok(s);
        }
        let planned = match (&plan, &task.plan_file) {
            (Some(text), _) => AssetPlan::parse(text, "the task's plan"),
            (None, Some(p)) => AssetPlan::from_file(std::path::Path::new(p)),
            (None, None) => self
                .core
                .channel(&task.channel_id)
                .and_then(|c| c.counts())
                .and_then(|counts| AssetPlan::derive(&task.topic, &task.story_direction, counts)),
        };
        let Ok(planned) = planned else {
            return Ok(Vec::new());
        };
        let names = |k: crate::asset::AssetKind| -> Vec<&str> {
            planned
                .assets
                .iter()
                .filter(|a| a.kind == k)
                .map(|a| a.name.as_str())
                .collect()
        };
        Ok(crate::pipeline::scenes_of(
            task,
            &names(crate::asset::AssetKind::Character),
            &names(crate::asset::AssetKind::Environment),
            plan.as_deref(),
            &edits,
        )
        .unwrap_or_default())
    }

    /// A task with its assets, versions, audit trail and status history.
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
        let history = self.core.store.status_history(id).await?;
        // One query for every media step (the gallery-open budget allows one more, not four).
        let outputs = self
            .core
            .store
            .checkpoints_of_steps(id, &MEDIA_STEPS)
            .await?
            .into_iter()
            .map(|c| StepOutput {
                file_state: match std::fs::metadata(self.core.workspace.root().join(&c.output)) {
                    Ok(m) if m.is_file() && m.len() > 0 => FileState::Ok,
                    Ok(m) if m.is_file() => FileState::Changed,
                    _ => FileState::Missing,
                },
                step: c.step,
                item: c.item,
                file: c.output,
                version: c.version,
                note: c.note,
            })
            .collect();
        let records: Vec<_> = assets.iter().map(|a| a.asset.clone()).collect();
        let scenes = self.scenes(&task, &records).await?;
        // The task row's running total of its ledger: no sum over the ledger on the gallery path.
        let spent_usd = task.spent_usd;
        // A price missing from the table is the worker's error to report; the page just shows
        // no estimate.
        let approve_cost =
            crate::cost_report::approve_estimate(&self.core, &task, &scenes).unwrap_or(None);
        Ok(TaskDetail {
            task,
            assets,
            audit,
            history,
            outputs,
            scenes,
            spent_usd,
            approve_cost,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::CoreOptions;

    async fn core(dir: &std::path::Path, database_url: Option<String>) -> Arc<Core> {
        std::fs::create_dir_all(dir.join("config/channels")).unwrap();
        Core::open(CoreOptions {
            database_url: Some(database_url.unwrap_or_else(|| {
                format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display())
            })),
            workspace: Some(dir.join("ws")),
            config_dir: Some(dir.join("config")),
            worker_settings: None,
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn detail_lists_media_outputs_in_pipeline_order_with_file_states() {
        media_outputs_on(None).await;
    }

    /// The same on PostgreSQL (`scripts/start-postgres.sh`), under the testkit's one policy:
    /// without `REVIEWDESK_TEST_PG_URL` it fails in CI and is skipped with a reason locally.
    #[tokio::test]
    async fn detail_lists_media_outputs_on_postgres_too() {
        let Some(pg) =
            reviewdesk_testkit::PgDatabase::create("rd_media", "detail_lists_media_outputs").await
        else {
            return;
        };
        let core = media_outputs_on(Some(pg.url.clone())).await;
        core.store.close().await;
        pg.drop_database().await;
    }

    #[tokio::test]
    async fn a_scene_s_texts_can_be_edited_until_the_step_that_uses_them() {
        let dir = tempfile::tempdir().unwrap();
        scene_edits_on(core(dir.path(), None).await).await;
    }

    #[tokio::test]
    async fn scene_edits_are_kept_on_postgres_too() {
        let Some(pg) = reviewdesk_testkit::PgDatabase::create("rd_scenes", "scene_edits").await
        else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path(), Some(pg.url.clone())).await;
        scene_edits_on(core.clone()).await;
        core.store.close().await;
        pg.drop_database().await;
    }

    async fn scene_edits_on(core: Arc<Core>) {
        use crate::scene::PlannedScene;
        let tasks = TaskService::new(core.clone());
        let new = |draft| NewTask {
            title: "Volcanoes".into(),
            topic: "volcanoes".into(),
            draft,
            ..Default::default()
        };
        let draft = tasks.create(new(true), Source::Cli).await.unwrap();
        // A draft shows the scenes its plan will make, and every text of them can change.
        let before = tasks.detail(draft.id).await.unwrap().scenes;
        assert_eq!(before.len(), 18);
        let edit = |narration: Option<&str>, motion: Option<&str>| PlannedScene {
            narration: narration.map(String::from),
            motion: motion.map(String::from),
            sfx: None,
        };
        let s3 = tasks
            .edit_scene(
                draft.id,
                3,
                edit(Some(" Lava is molten rock. "), None),
                Source::Desktop,
            )
            .await
            .unwrap();
        assert_eq!(s3.narration, "Lava is molten rock.");
        assert_eq!(s3.motion, before[2].motion, "only the text given changes");
        tasks
            .edit_scene(
                draft.id,
                3,
                edit(None, Some("slow pan left")),
                Source::Desktop,
            )
            .await
            .unwrap();
        let after = tasks.detail(draft.id).await.unwrap().scenes;
        assert_eq!(
            (after[2].narration.as_str(), after[2].motion.as_str()),
            ("Lava is molten rock.", "slow pan left"),
            "a later edit keeps the earlier one's other text"
        );
        assert_eq!(after[3], before[3]);
        for (scene, e, field) in [
            (19, edit(Some("x"), None), "scene"),
            (0, edit(Some("x"), None), "scene"),
            (2, edit(Some("   "), None), "narration"),
            (2, edit(None, None), "scene"),
            (2, edit(Some(&"w ".repeat(300)), None), "narration"),
        ] {
            let err = tasks
                .edit_scene(draft.id, scene, e, Source::Desktop)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, CoreError::Invalid { field: f, .. } if f == field),
                "{scene}: {err}"
            );
        }
        // Once the pipeline has the task, the step that uses a text may run: it stays.
        let queued = tasks.create(new(false), Source::Cli).await.unwrap();
        let err = tasks
            .edit_scene(queued.id, 1, edit(Some("Too late."), None), Source::Desktop)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Draft, Assets Ready, Videos Ready only") && err.contains("Queued"),
            "{err}"
        );
        assert_ne!(
            tasks.detail(queued.id).await.unwrap().scenes[0].narration,
            "Too late."
        );
    }

    async fn media_outputs_on(database_url: Option<String>) -> Arc<Core> {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path(), database_url).await;
        let tasks = TaskService::new(core.clone());
        let task = tasks
            .create(
                NewTask {
                    title: "Media".into(),
                    ..Default::default()
                },
                Source::Cli,
            )
            .await
            .unwrap();
        let project = Workspace::project_rel(&task.channel_id, task.id);
        let rel = |p: &str| project.join(p).to_string_lossy().into_owned();
        // Recorded out of order on purpose: the detail sorts by pipeline step, then item.
        let recorded = [
            (
                Step::Assembly,
                "final",
                "final/video.mp4",
                Some(&b"mp4"[..]),
            ),
            (
                Step::Audio,
                "narration_01",
                "audio/narration_01.mp3",
                Some(b"mp3"),
            ),
            (Step::Video, "clip_02", "video/clip_02.mp4", None),
            (Step::Video, "clip_01", "video/clip_01.mp4", Some(b"mp4")),
            (Step::Sfx, "sfx_01", "sfx/sfx_01.mp3", Some(b"")),
            (
                Step::Composites,
                "composite_01",
                "composites/composite_01.png",
                Some(b"png"),
            ),
        ];
        for (step, item, file, bytes) in recorded {
            if let Some(b) = bytes {
                core.workspace.write_atomic(rel(file), b).unwrap();
            }
            core.store
                .checkpoint(task.id, step, item, &rel(file))
                .await
                .unwrap();
        }

        let d = tasks.detail(task.id).await.unwrap();
        let got: Vec<(Step, &str, FileState)> = d
            .outputs
            .iter()
            .map(|o| (o.step, o.item.as_str(), o.file_state))
            .collect();
        assert_eq!(
            got,
            vec![
                (Step::Video, "clip_01", FileState::Ok),
                (Step::Video, "clip_02", FileState::Missing),
                (Step::Audio, "narration_01", FileState::Ok),
                (Step::Sfx, "sfx_01", FileState::Changed),
                (Step::Assembly, "final", FileState::Ok),
            ],
            "composites are not listed; a deleted clip is missing; an empty file is changed"
        );
        assert_eq!(d.outputs[0].file, rel("video/clip_01.mp4"));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["outputs"][0]["step"], "video");
        assert_eq!(json["outputs"][0]["file_state"], "ok");
        core
    }
}
