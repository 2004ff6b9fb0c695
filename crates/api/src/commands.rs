//! The app functions: each is its arguments (a struct, one JSON object over every door) and an
//! `impl Command` naming it, its doors and result, and the core service it calls.

use reviewdesk_core::api::{
    AppStatus, ApproveRequest, BulkRequest, CancelRequest, ChannelSummary, FlagRequest, PromptEdit,
    RejectRequest, SceneEdit,
};
use reviewdesk_core::audit_export::{AuditExport, AuditFormat, AuditQuery};
use reviewdesk_core::channel_file::ChannelForm;
use reviewdesk_core::peaks::Peaks;
use reviewdesk_core::provider_steps::ProviderCheck;
use reviewdesk_core::publish::Chapter;
use reviewdesk_core::scene::{PlannedScene, Scene};
use reviewdesk_core::store::AssetRecord;
use reviewdesk_core::store::{BoardTasks, PageCursor, TaskFilter, TaskOrder};
use reviewdesk_core::task_service::TaskDetail;
use reviewdesk_core::{AssetName, CoreError, NewTask, ReviewInput, Source, Status, Task, TaskId};
use reviewdesk_runtime::{NotionCheckReport, NotionPageChoice};
use reviewdesk_settings::{SettingsUpdate, SettingsView};
use serde::{Deserialize, Deserializer};
use ts_rs::TS;

use crate::app::{App, task_id};
use crate::{Body, Command, CommandError, Doors, Http};

/// Statuses by internal value (`assets_ready`) or board name (`Assets Ready`), as a query string
/// or a list.
fn statuses<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Status>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| s.parse::<Status>().map_err(serde::de::Error::custom))
        .collect()
}

/// Tasks filtered by status, channel and title: most urgent first, or newest first page by page.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ListTasks {
    /// Only these statuses (none: all).
    #[serde(default, alias = "status", deserialize_with = "statuses")]
    pub statuses: Vec<Status>,
    /// Only this channel.
    #[serde(default, alias = "channel")]
    pub channel_id: Option<String>,
    /// At most this many (1–500; default 500).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u16>,
    /// Only titles containing this text (letters A–Z in any case).
    #[serde(default)]
    #[ts(optional)]
    pub q: Option<String>,
    /// `urgent` (default: priority, then the oldest) or `recent` (latest status change first).
    #[serde(default)]
    #[ts(optional)]
    pub order: Option<TaskOrder>,
    /// With `recent`: the page after this cursor (a finished column's "show more").
    #[serde(default)]
    #[ts(optional)]
    pub before: Option<PageCursor>,
}

impl Command for ListTasks {
    const NAME: &'static str = "list_tasks";
    const SUMMARY: &'static str = "List tasks (repeat ?statuses= with an internal or board name, optional ?channel_id=, ?q= title search, ?order=urgent|recent, ?before= page cursor and ?limit=)";
    const DOORS: Doors = Doors::both(Http::get("/tasks").validates());
    type Output = Vec<Task>;
    async fn run(self, app: &App, _: Source) -> Result<Vec<Task>, CommandError> {
        if self.limit.is_some_and(|l| !(1..=500).contains(&l)) {
            return Err(CommandError::new(
                crate::ErrorKind::Invalid,
                "invalid",
                "limit must be between 1 and 500",
            ));
        }
        let order = self.order.unwrap_or_default();
        if self.before.is_some() && order != TaskOrder::Recent {
            return Err(CommandError::new(
                crate::ErrorKind::Invalid,
                "invalid",
                "before pages a newest-first list: give it with order=recent",
            ));
        }
        let filter = TaskFilter {
            statuses: self.statuses,
            channel_id: self.channel_id,
            limit: self.limit.map(i64::from),
            title: self.q,
            order,
            before: self.before,
        };
        Ok(app.tasks()?.list(&filter).await?)
    }
}

/// The board of a desk with years of work: every task still in the pipeline, the latest of each
/// finished status with where the next page starts, and exact counts per status and channel.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GetBoard {
    /// Only titles containing this text (letters A–Z in any case).
    #[serde(default)]
    #[ts(optional)]
    pub q: Option<String>,
    /// How many of each finished status (1–500; default 50).
    #[serde(default)]
    #[ts(optional)]
    pub latest: Option<u16>,
}

impl Command for GetBoard {
    const NAME: &'static str = "get_board";
    const SUMMARY: &'static str = "The board: every unfinished task, the latest finished ones (?latest=, default 50) and exact counts, optionally only titles containing ?q=";
    const DOORS: Doors = Doors::both(Http::get("/board").validates());
    type Output = BoardTasks;
    async fn run(self, app: &App, _: Source) -> Result<BoardTasks, CommandError> {
        let latest = self.latest.unwrap_or(50);
        if !(1..=500).contains(&latest) {
            return Err(CommandError::new(
                crate::ErrorKind::Invalid,
                "invalid",
                "latest must be between 1 and 500",
            ));
        }
        Ok(app.tasks()?.board(self.q.as_deref(), latest.into()).await?)
    }
}

/// One task with its assets, versions, step outputs and audit trail.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GetTask {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
}

impl Command for GetTask {
    const NAME: &'static str = "get_task";
    const SUMMARY: &'static str = "A task with its assets, versions, outputs and audit trail";
    const DOORS: Doors = Doors::both(Http::get("/tasks/{id}").names_task());
    type Output = TaskDetail;
    async fn run(self, app: &App, _: Source) -> Result<TaskDetail, CommandError> {
        Ok(app.tasks()?.detail(task_id(&self.id)?).await?)
    }
}

/// A new task, queued for the worker (or a draft).
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// The task; a custom asset plan comes as text.
    pub body: NewTask,
}

impl Command for CreateTask {
    const NAME: &'static str = "create_task";
    const SUMMARY: &'static str = "Create a task (201); a custom asset plan is sent as text";
    const DOORS: Doors = Doors::both(
        Http::post("/tasks", Body::Json("NewTask"))
            .created()
            .validates(),
    );
    type Output = Task;
    async fn run(self, app: &App, source: Source) -> Result<Task, CommandError> {
        Ok(app.tasks()?.create(self.body, source).await?)
    }
}

/// Approves the task at its gate; the pipeline goes on.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
    /// An optional note.
    pub body: ApproveRequest,
}

impl Command for Approve {
    const NAME: &'static str = "approve";
    const SUMMARY: &'static str = "Approve the task at its gate";
    const DOORS: Doors = Doors::both(
        Http::post("/tasks/{id}/approve", Body::Json("ApproveRequest"))
            .names_task()
            .decides(),
    );
    type Output = Task;
    async fn run(self, app: &App, source: Source) -> Result<Task, CommandError> {
        let input = ReviewInput::local(source, self.body.note);
        Ok(app.reviews()?.approve(task_id(&self.id)?, input).await?)
    }
}

/// Rejects the task at its gate with feedback; the flagged assets (or the named ones) are made
/// again.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Reject {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
    /// Feedback and flags.
    pub body: RejectRequest,
}

impl Command for Reject {
    const NAME: &'static str = "reject";
    const SUMMARY: &'static str = "Reject the task at its gate with feedback and flags";
    const DOORS: Doors = Doors::both(
        Http::post("/tasks/{id}/reject", Body::Json("RejectRequest"))
            .names_task()
            .decides(),
    );
    type Output = Task;
    async fn run(self, app: &App, source: Source) -> Result<Task, CommandError> {
        let flags = self.body.flag_names()?;
        let input = ReviewInput::local(source, Some(self.body.feedback));
        Ok(app
            .reviews()?
            .reject(task_id(&self.id)?, flags, input)
            .await?)
    }
}

/// Flags or unflags one asset (at Assets Ready or Asset Error).
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct FlagAsset {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
    /// The asset's name.
    pub name: String,
    /// Flag or unflag, with a note.
    pub body: FlagRequest,
}

impl Command for FlagAsset {
    const NAME: &'static str = "flag_asset";
    const SUMMARY: &'static str = "Flag or unflag an asset (Assets Ready or Asset Error)";
    const DOORS: Doors = Doors::both(
        Http::put("/tasks/{id}/assets/{name}/flag", Body::Json("FlagRequest"))
            .no_content()
            .names_task()
            .decides()
            .validates(),
    );
    type Output = ();
    async fn run(self, app: &App, source: Source) -> Result<(), CommandError> {
        let name = AssetName::parse(self.name)?;
        let (flagged, note) = (self.body.flagged, self.body.note);
        Ok(app
            .reviews()?
            .flag(task_id(&self.id)?, &name, flagged, note, source)
            .await?)
    }
}

/// Changes what an asset is drawn from (at Assets Ready or Asset Error); the next version uses it.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EditAssetPrompt {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
    /// The asset's name.
    pub name: String,
    /// The new prompt.
    pub body: PromptEdit,
}

impl Command for EditAssetPrompt {
    const NAME: &'static str = "edit_asset_prompt";
    const SUMMARY: &'static str =
        "Change the prompt an asset is drawn from (Assets Ready or Asset Error)";
    const DOORS: Doors = Doors::both(
        Http::put("/tasks/{id}/assets/{name}/prompt", Body::Json("PromptEdit"))
            .names_task()
            .validates(),
    );
    type Output = AssetRecord;
    async fn run(self, app: &App, source: Source) -> Result<AssetRecord, CommandError> {
        let name = AssetName::parse(self.name)?;
        Ok(app
            .tasks()?
            .edit_asset_prompt(task_id(&self.id)?, &name, &self.body.prompt, source)
            .await?)
    }
}

/// Edits one scene's narration line, motion prompt or sound description, until the step that
/// uses it runs.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EditScene {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
    /// The scene, 1–18.
    pub scene: String,
    /// The texts to change.
    pub body: SceneEdit,
}

impl Command for EditScene {
    const NAME: &'static str = "edit_scene";
    const SUMMARY: &'static str =
        "Edit a scene's narration line, motion prompt or sound, until the step that uses it runs";
    const DOORS: Doors = Doors::both(
        Http::put("/tasks/{id}/scenes/{scene}", Body::Json("SceneEdit"))
            .names_task()
            .validates(),
    );
    type Output = Scene;
    async fn run(self, app: &App, source: Source) -> Result<Scene, CommandError> {
        let scene: u32 = self.scene.trim().parse().map_err(|_| {
            CoreError::invalid(
                "scene",
                format!("{:?} is not a scene number (1–18)", self.scene),
            )
        })?;
        let edit = PlannedScene {
            narration: self.body.narration,
            motion: self.body.motion,
            sfx: self.body.sfx,
        };
        Ok(app
            .tasks()?
            .edit_scene(task_id(&self.id)?, scene, edit, source)
            .await?)
    }
}

/// The waveform of a narration or effect in the workspace (peaks of 200 slices).
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct MediaPeaks {
    /// The file, relative to the workspace (a step output's `file`).
    pub file: String,
}

impl Command for MediaPeaks {
    const NAME: &'static str = "media_peaks";
    const SUMMARY: &'static str = "The waveform of an audio file in the workspace (200 peaks)";
    const DOORS: Doors = Doors::both(Http::get("/media/peaks").names_task().validates());
    type Output = Peaks;
    async fn run(self, app: &App, _source: Source) -> Result<Peaks, CommandError> {
        let core = &app.runtime()?.core;
        Ok(reviewdesk_core::peaks::peaks(
            &core.workspace,
            &self.file,
            &core.worker_settings.tools.ffmpeg,
        )
        .await?)
    }
}

/// The chapters of a video in the workspace (the final video's chapter marks).
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct MediaChapters {
    /// The file, relative to the workspace (the assembly output's `file`).
    pub file: String,
}

impl Command for MediaChapters {
    const NAME: &'static str = "media_chapters";
    const SUMMARY: &'static str = "The chapters of a video in the workspace (start and title)";
    const DOORS: Doors = Doors::both(Http::get("/media/chapters").names_task().validates());
    type Output = Vec<Chapter>;
    async fn run(self, app: &App, _source: Source) -> Result<Vec<Chapter>, CommandError> {
        let core = &app.runtime()?.core;
        Ok(reviewdesk_core::publish::chapters_of(
            &core.workspace,
            &self.file,
            &core.worker_settings.tools.ffprobe,
        )
        .await?)
    }
}

/// Approves up to 100 tasks, all or nothing.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct BulkApprove {
    /// The tasks and a note.
    pub body: BulkRequest,
}

impl Command for BulkApprove {
    const NAME: &'static str = "bulk_approve";
    const SUMMARY: &'static str = "Approve up to 100 tasks, all or nothing";
    const DOORS: Doors = Doors::both(
        Http::post("/bulk/approve", Body::Json("BulkRequest"))
            .names_task()
            .decides(),
    );
    type Output = Vec<Task>;
    async fn run(self, app: &App, source: Source) -> Result<Vec<Task>, CommandError> {
        let input = ReviewInput::local(source, self.body.reason);
        Ok(app
            .reviews()?
            .bulk_approve(&self.body.task_ids, input)
            .await?)
    }
}

/// Rejects up to 100 tasks, all or nothing; `reason` is the feedback.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct BulkReject {
    /// The tasks and the feedback.
    pub body: BulkRequest,
}

impl Command for BulkReject {
    const NAME: &'static str = "bulk_reject";
    const SUMMARY: &'static str =
        "Reject up to 100 tasks, all or nothing (`reason` is the feedback)";
    const DOORS: Doors = Doors::both(
        Http::post("/bulk/reject", Body::Json("BulkRejectRequest"))
            .names_task()
            .decides(),
    );
    type Output = Vec<Task>;
    async fn run(self, app: &App, source: Source) -> Result<Vec<Task>, CommandError> {
        let input = ReviewInput::local(source, self.body.reason);
        Ok(app
            .reviews()?
            .bulk_reject(&self.body.task_ids, None, input)
            .await?)
    }
}

/// Sends an errored, published or cancelled task back to the queue.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
}

impl Command for Retry {
    const NAME: &'static str = "retry";
    const SUMMARY: &'static str = "Send an errored, published or cancelled task back to the queue";
    const DOORS: Doors = Doors::both(
        Http::post("/tasks/{id}/retry", Body::Empty)
            .names_task()
            .decides(),
    );
    type Output = Task;
    async fn run(self, app: &App, source: Source) -> Result<Task, CommandError> {
        let input = ReviewInput::local(source, None);
        Ok(app.reviews()?.retry(task_id(&self.id)?, input).await?)
    }
}

/// Queues a draft. Over HTTP only: the window creates tasks queued or keeps them as drafts.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
}

impl Command for Queue {
    const NAME: &'static str = "queue";
    const SUMMARY: &'static str = "Queue a draft";
    const DOORS: Doors = Doors::http_only(
        Http::post("/tasks/{id}/queue", Body::Empty)
            .names_task()
            .decides(),
    );
    type Output = Task;
    async fn run(self, app: &App, source: Source) -> Result<Task, CommandError> {
        Ok(app.reviews()?.queue(task_id(&self.id)?, source).await?)
    }
}

/// Cancels a task.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
    /// Why.
    pub body: CancelRequest,
}

impl Command for Cancel {
    const NAME: &'static str = "cancel";
    const SUMMARY: &'static str = "Cancel a task";
    const DOORS: Doors = Doors::both(
        Http::post("/tasks/{id}/cancel", Body::Json("CancelRequest"))
            .names_task()
            .decides(),
    );
    type Output = Task;
    async fn run(self, app: &App, source: Source) -> Result<Task, CommandError> {
        let input = ReviewInput::local(source, self.body.reason);
        Ok(app.reviews()?.cancel(task_id(&self.id)?, input).await?)
    }
}

/// The status bar: worker, Notion mirror, tasks waiting for review.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GetStatus {}

impl Command for GetStatus {
    const NAME: &'static str = "get_status";
    const SUMMARY: &'static str = "Worker and mirror state";
    const DOORS: Doors = Doors::both(Http::get("/status"));
    type Output = AppStatus;
    async fn run(self, app: &App, _: Source) -> Result<AppStatus, CommandError> {
        Ok(app.runtime()?.status().await?)
    }
}

/// The desktop window's counterpart of the event stream's first message (`event: position` over
/// HTTP): asked once the window's listener for domain events is registered, it answers the last
/// event-log entry whose events the window may have missed. A board read reflecting it or later
/// (`BoardTasks::events_through`) has missed nothing, so start-up reads the board once.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GetEventsPosition {}

/// Where a window's domain events start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, TS)]
pub struct EventsPosition {
    /// The window receives the events of every event-log entry after this one.
    #[ts(type = "number")]
    pub through: i64,
}

impl Command for GetEventsPosition {
    const NAME: &'static str = "get_events_position";
    const SUMMARY: &'static str =
        "Where the window's domain events start: the last event-log entry it may have missed";
    const DOORS: Doors = Doors::desktop_only();
    type Output = EventsPosition;
    async fn run(self, app: &App, _: Source) -> Result<EventsPosition, CommandError> {
        // Correct only because the desktop's event forwarder subscribes to the feed before any
        // command runs (src-tauri's start-up): every entry after this position reaches a listener
        // registered before this call.
        Ok(EventsPosition {
            through: app.runtime()?.feed.position(),
        })
    }
}

/// Help → Copy diagnostics: a report for a bug report, without secrets.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GetDiagnostics {}

impl Command for GetDiagnostics {
    const NAME: &'static str = "get_diagnostics";
    const SUMMARY: &'static str = "A report for bug reports: version, folders, channels, media programs, worker and mirror state, the last 200 log lines; no secrets";
    const DOORS: Doors = Doors::both(Http::get("/diagnostics"));
    type Output = crate::Diagnostics;
    async fn run(self, app: &App, _: Source) -> Result<crate::Diagnostics, CommandError> {
        let logs = reviewdesk_core::context::default_data_dir().join("logs");
        Ok(crate::diagnostics(app, &logs).await)
    }
}

/// The channel editor's form of one channel.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GetChannel {
    /// The channel's id.
    pub channel: String,
}

impl Command for GetChannel {
    const NAME: &'static str = "get_channel";
    const SUMMARY: &'static str = "A channel's settings as the channel editor shows them";
    const DOORS: Doors = Doors::both(Http::get("/channels/{channel}").validates());
    type Output = ChannelForm;
    async fn run(self, app: &App, _: Source) -> Result<ChannelForm, CommandError> {
        Ok(reviewdesk_core::channel_file::channel_form(
            &app.runtime()?.core,
            &self.channel,
        )?)
    }
}

/// The channel editor's Save: a new channel, or changes to one, written into its YAML file
/// (comments and other keys kept) after the same validation as at start-up.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SaveChannel {
    /// The form.
    pub body: ChannelForm,
}

impl Command for SaveChannel {
    const NAME: &'static str = "save_channel";
    const SUMMARY: &'static str = "Add or change a channel (its YAML file is written and reloaded)";
    const DOORS: Doors =
        Doors::both(Http::post("/channels", Body::Json("ChannelForm")).validates());
    type Output = ChannelForm;
    async fn run(self, app: &App, _: Source) -> Result<ChannelForm, CommandError> {
        Ok(reviewdesk_core::channel_file::save_channel(&app.runtime()?.core, self.body).await?)
    }
}

/// History → Export: the record of human review (every decision with reviewer, source, time,
/// reason and flags) for a range of UTC days and a channel, as CSV or JSON.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExportAudit {
    /// First day (YYYY-MM-DD); from the beginning when absent.
    #[serde(default)]
    #[ts(optional)]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD), included; up to now when absent.
    #[serde(default)]
    #[ts(optional)]
    pub to: Option<String>,
    /// Only this channel's tasks.
    #[serde(default)]
    #[ts(optional)]
    pub channel_id: Option<String>,
    /// `csv` (default) or `json`.
    #[serde(default)]
    #[ts(optional)]
    pub format: Option<AuditFormat>,
}

impl Command for ExportAudit {
    const NAME: &'static str = "export_audit";
    const SUMMARY: &'static str = "The record of human review for a range of days and a channel, as CSV or JSON (?from=&to=YYYY-MM-DD, ?channel_id=, ?format=csv|json)";
    const DOORS: Doors = Doors::both(Http::get("/audit/export").validates());
    type Output = AuditExport;
    async fn run(self, app: &App, _: Source) -> Result<AuditExport, CommandError> {
        let day = |field: &str, v: Option<String>| -> Result<_, CommandError> {
            match v.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(d) => Ok(Some(reviewdesk_core::audit_export::parse_day(field, d)?)),
            }
        };
        let query = AuditQuery {
            from: day("from", self.from)?,
            to: day("to", self.to)?,
            channel: self.channel_id.filter(|c| !c.trim().is_empty()),
        };
        let core = &app.runtime()?.core;
        Ok(
            reviewdesk_core::audit_export::export(core, &query, self.format.unwrap_or_default())
                .await?,
        )
    }
}

/// History → Export in the desktop: saves an export into the user's Downloads folder (the browser
/// saves it itself) and answers where it went.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SaveExport {
    /// The export's file name, as `export_audit` gave it.
    pub filename: String,
    /// The export's text.
    pub text: String,
}

impl Command for SaveExport {
    const NAME: &'static str = "save_export";
    const SUMMARY: &'static str = "Save an audit export into the Downloads folder";
    const DOORS: Doors = Doors::desktop_only();
    type Output = String;
    async fn run(self, app: &App, _: Source) -> Result<String, CommandError> {
        app.runtime()?;
        let dir = directories::UserDirs::new()
            .and_then(|u| u.download_dir().map(|d| d.to_path_buf()))
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()))
            .ok_or_else(|| {
                CommandError::new(
                    crate::ErrorKind::Unavailable,
                    "no_folder",
                    "no Downloads or home folder to save into (set HOME)",
                )
            })?;
        Ok(crate::save_export(&dir, &self.filename, &self.text)?
            .display()
            .to_string())
    }
}

/// Pauses the worker after its current item.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct PauseWorker {}

impl Command for PauseWorker {
    const NAME: &'static str = "pause_worker";
    const SUMMARY: &'static str = "Pause the worker";
    const DOORS: Doors = Doors::both(Http::post("/worker/pause", Body::Empty).decides());
    type Output = AppStatus;
    async fn run(self, app: &App, _: Source) -> Result<AppStatus, CommandError> {
        Ok(app.runtime()?.pause_worker().await?)
    }
}

/// Resumes the worker.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ResumeWorker {}

impl Command for ResumeWorker {
    const NAME: &'static str = "resume_worker";
    const SUMMARY: &'static str = "Resume the worker";
    const DOORS: Doors = Doors::both(Http::post("/worker/resume", Body::Empty).decides());
    type Output = AppStatus;
    async fn run(self, app: &App, _: Source) -> Result<AppStatus, CommandError> {
        Ok(app.runtime()?.resume_worker().await?)
    }
}

/// The channels a new task can go to, for the New task form.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ListChannels {}

impl Command for ListChannels {
    const NAME: &'static str = "list_channels";
    const SUMMARY: &'static str =
        "The channels, for the New task form (id, name, default priority, active)";
    const DOORS: Doors = Doors::both(Http::get("/channels"));
    type Output = Vec<ChannelSummary>;
    async fn run(self, app: &App, _: Source) -> Result<Vec<ChannelSummary>, CommandError> {
        Ok(app
            .runtime()?
            .core
            .channels()
            .iter()
            .map(ChannelSummary::of)
            .collect())
    }
}

/// The Settings screen's state (never the token itself).
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GetSettings {}

impl Command for GetSettings {
    const NAME: &'static str = "get_settings";
    const SUMMARY: &'static str = "The desktop app's settings";
    const DOORS: Doors = Doors::desktop_only();
    type Output = SettingsView;
    async fn run(self, app: &App, _: Source) -> Result<SettingsView, CommandError> {
        Ok(app.settings()?.view())
    }
}

/// Saves folders and the poll interval (all or nothing); folders apply at the next start.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SaveSettings {
    /// The new values.
    pub body: SettingsUpdate,
}

impl Command for SaveSettings {
    const NAME: &'static str = "save_settings";
    const SUMMARY: &'static str = "Save the desktop app's settings";
    const DOORS: Doors = Doors::desktop_only();
    type Output = SettingsView;
    async fn run(self, app: &App, _: Source) -> Result<SettingsView, CommandError> {
        Ok(app.settings()?.update(self.body)?)
    }
}

/// Stores the Notion token in the OS keyring and, when no mirror runs yet, connects it now.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SetNotionToken {
    /// The integration token.
    pub token: String,
}

impl Command for SetNotionToken {
    const NAME: &'static str = "set_notion_token";
    const SUMMARY: &'static str = "Store the Notion token and connect the mirror";
    const DOORS: Doors = Doors::desktop_only();
    type Output = SettingsView;
    async fn run(self, app: &App, _: Source) -> Result<SettingsView, CommandError> {
        let settings = app.settings()?;
        let view = match settings.set_notion_token(&self.token) {
            Ok(view) => view,
            // Without a keyring the token still connects this session (the first run goes on);
            // the creator is told it is not kept and how to keep it.
            Err(
                e @ (reviewdesk_settings::SettingsError::KeyringUnavailable { .. }
                | reviewdesk_settings::SettingsError::KeyringLocked { .. }),
            ) => {
                let token = reviewdesk_settings::validate_notion_token(&self.token)?;
                if let Ok(runtime) = app.runtime() {
                    runtime.set_notion_token(Some(&token));
                }
                return Err(CommandError::new(
                    crate::ErrorKind::Unavailable,
                    "token_not_saved",
                    format!("{e}. The token is used until Review Desk quits."),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if let Ok(runtime) = app.runtime() {
            let mut config = reviewdesk_sync::MirrorConfig::from_env();
            config.poll_interval =
                std::time::Duration::from_secs(u64::from(settings.settings().poll_secs()));
            runtime.connect_notion(self.token.trim(), config).await;
        }
        Ok(view)
    }
}

/// Removes the Notion token from the OS keyring; "Check connection" then uses the fallback
/// (`NOTION_TOKEN`), if any, like the next start would.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ClearNotionToken {}

impl Command for ClearNotionToken {
    const NAME: &'static str = "clear_notion_token";
    const SUMMARY: &'static str = "Remove the Notion token from the keyring";
    const DOORS: Doors = Doors::desktop_only();
    type Output = SettingsView;
    async fn run(self, app: &App, _: Source) -> Result<SettingsView, CommandError> {
        let settings = app.settings()?;
        let view = settings.clear_notion_token()?;
        if let Ok(runtime) = app.runtime() {
            let fallback = settings.secrets().notion_token().ok().flatten();
            runtime.set_notion_token(fallback.as_ref().map(|(token, _source)| token.as_str()));
        }
        Ok(view)
    }
}

/// First run → Notion: the pages shared with the integration that the databases can go under.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct FindNotionPages {
    /// Words of the title (empty: every page).
    #[serde(default)]
    pub query: String,
}

impl Command for FindNotionPages {
    const NAME: &'static str = "find_notion_pages";
    const SUMMARY: &'static str = "The Notion pages shared with the integration, by title";
    const DOORS: Doors = Doors::desktop_only();
    type Output = Vec<NotionPageChoice>;
    async fn run(self, app: &App, _: Source) -> Result<Vec<NotionPageChoice>, CommandError> {
        Ok(app.runtime()?.notion_pages(&self.query).await?)
    }
}

/// First run → Notion → Create databases: the Tasks, Assets, Videos and Audio databases under the
/// picked page, their ids in the channel's file, and the mirror started (as `notion init`).
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CreateNotionDatabases {
    /// The page they go under.
    pub page_id: String,
    /// The channel they serve.
    pub channel_id: String,
}

impl Command for CreateNotionDatabases {
    const NAME: &'static str = "create_notion_databases";
    const SUMMARY: &'static str =
        "Create a channel's Notion databases under a page and start the mirror";
    const DOORS: Doors = Doors::desktop_only();
    type Output = ChannelForm;
    async fn run(self, app: &App, _: Source) -> Result<ChannelForm, CommandError> {
        Ok(app
            .runtime()?
            .create_notion_databases(&self.page_id, &self.channel_id)
            .await?)
    }
}

/// Settings → Check connection: the token and every channel's Notion databases.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CheckNotion {}

impl Command for CheckNotion {
    const NAME: &'static str = "check_notion";
    const SUMMARY: &'static str = "Check the Notion token and every channel's databases";
    const DOORS: Doors = Doors::desktop_only();
    type Output = NotionCheckReport;
    async fn run(self, app: &App, _: Source) -> Result<NotionCheckReport, CommandError> {
        Ok(app.runtime()?.check_notion().await?)
    }
}

/// Settings → Add what is missing: the missing properties and options, then a new check.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct AddMissingNotionProperties {}

impl Command for AddMissingNotionProperties {
    const NAME: &'static str = "add_missing_notion_properties";
    const SUMMARY: &'static str = "Add the missing Notion properties and options";
    const DOORS: Doors = Doors::desktop_only();
    type Output = NotionCheckReport;
    async fn run(self, app: &App, _: Source) -> Result<NotionCheckReport, CommandError> {
        Ok(app.runtime()?.add_missing_notion_properties().await?)
    }
}

/// Settings → Providers: stores a provider key in the OS keyring; the next paid item uses it.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SetProviderKey {
    /// The key's keyring name (`gemini-api-key`, `kling-access-key`, `kling-secret-key`,
    /// `kling-api-key`, `elevenlabs-api-key`).
    pub name: String,
    /// The key.
    pub value: String,
}

impl Command for SetProviderKey {
    const NAME: &'static str = "set_provider_key";
    const SUMMARY: &'static str = "Store a provider key in the OS keyring";
    const DOORS: Doors = Doors::desktop_only();
    type Output = SettingsView;
    async fn run(self, app: &App, _: Source) -> Result<SettingsView, CommandError> {
        let settings = app.settings()?;
        let view = settings.set_provider_key(&self.name, &self.value)?;
        use_saved_provider_keys(app, settings);
        Ok(view)
    }
}

/// Settings → Providers: removes a provider key from the OS keyring (its environment variable,
/// if set, applies again).
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ClearProviderKey {
    /// The key's keyring name.
    pub name: String,
}

impl Command for ClearProviderKey {
    const NAME: &'static str = "clear_provider_key";
    const SUMMARY: &'static str = "Remove a provider key from the OS keyring";
    const DOORS: Doors = Doors::desktop_only();
    type Output = SettingsView;
    async fn run(self, app: &App, _: Source) -> Result<SettingsView, CommandError> {
        let settings = app.settings()?;
        let view = settings.clear_provider_key(&self.name)?;
        use_saved_provider_keys(app, settings);
        Ok(view)
    }
}

/// The running worker signs its next paid calls with the keys as they now are.
fn use_saved_provider_keys(app: &App, settings: &reviewdesk_settings::SettingsService) {
    if let Ok(runtime) = app.runtime() {
        runtime
            .core
            .providers
            .set_keys(settings.secrets().provider_keys());
    }
}

/// Settings → Providers → Check connection: one free authenticated call per host in use.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CheckProvider {
    /// `gemini`, `kling` or `elevenlabs`.
    pub provider: String,
}

impl Command for CheckProvider {
    const NAME: &'static str = "check_provider";
    const SUMMARY: &'static str = "Check a provider's key against the hosts the channels use";
    const DOORS: Doors = Doors::desktop_only();
    type Output = ProviderCheck;
    async fn run(self, app: &App, _: Source) -> Result<ProviderCheck, CommandError> {
        let core = &app.runtime()?.core;
        Ok(reviewdesk_core::provider_steps::check_provider(core, &self.provider).await?)
    }
}

/// Settings → Start at login: writes or removes the app's autostart entry.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SetAutostart {
    /// Start at login.
    pub on: bool,
}

impl Command for SetAutostart {
    const NAME: &'static str = "set_autostart";
    const SUMMARY: &'static str = "Start Review Desk at login, or stop doing so";
    const DOORS: Doors = Doors::desktop_only();
    type Output = SettingsView;
    async fn run(self, app: &App, _: Source) -> Result<SettingsView, CommandError> {
        Ok(app.settings()?.set_autostart(self.on)?)
    }
}

/// Help → Open logs folder: the desktop's file manager on the app's log folder.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct OpenLogsFolder {}

impl Command for OpenLogsFolder {
    const NAME: &'static str = "open_logs_folder";
    const SUMMARY: &'static str = "Open the log folder in the file manager";
    const DOORS: Doors = Doors::desktop_only();
    type Output = String;
    async fn run(self, app: &App, _: Source) -> Result<String, CommandError> {
        // Only from a started app: one that could not start says where its logs are in Copy
        // diagnostics, and nothing is opened on the desktop by a half-built app.
        app.runtime()?;
        let logs = reviewdesk_core::context::default_data_dir().join("logs");
        std::fs::create_dir_all(&logs)
            .map_err(|e| CoreError::io("cannot create the log folder", &logs, e))?;
        open_with_desktop(&logs.display().to_string())?;
        Ok(logs.display().to_string())
    }
}

/// Open in Notion: the task's page (or one asset's row) in the browser, when the mirror made it.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct OpenInNotion {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
    /// One of its assets, for the asset's row in the Assets database.
    #[serde(default)]
    #[ts(optional)]
    pub asset: Option<String>,
}

/// Where a task or an asset is in Notion (`url` is null until the mirror made its page).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize, TS)]
pub struct NotionLink {
    /// `https://www.notion.so/<page id>`.
    pub url: Option<String>,
}

/// The Notion page of a task or of one of its assets.
async fn notion_link(app: &App, id: &str, asset: Option<&str>) -> Result<NotionLink, CommandError> {
    let id = task_id(id)?;
    let page = match asset {
        None => app.tasks()?.get(id).await?.notion_page_id,
        Some(name) => {
            let name = AssetName::parse(name)?;
            app.runtime()?
                .core
                .store
                .asset_notion_page(id, &name)
                .await?
        }
    };
    Ok(NotionLink {
        url: page.as_deref().and_then(notion_page_url),
    })
}

/// The address of a task's (or an asset's) Notion page, for a link.
#[derive(Debug, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GetNotionLink {
    /// The task.
    #[ts(as = "TaskId")]
    pub id: String,
    /// One of its assets.
    #[serde(default)]
    #[ts(optional)]
    pub asset: Option<String>,
}

impl Command for GetNotionLink {
    const NAME: &'static str = "get_notion_link";
    const SUMMARY: &'static str =
        "Where a task (or ?asset=) is in Notion; url is null until the mirror made the page";
    const DOORS: Doors = Doors::both(Http::get("/tasks/{id}/notion").names_task().validates());
    type Output = NotionLink;
    async fn run(self, app: &App, _: Source) -> Result<NotionLink, CommandError> {
        notion_link(app, &self.id, self.asset.as_deref()).await
    }
}

impl Command for OpenInNotion {
    const NAME: &'static str = "open_in_notion";
    const SUMMARY: &'static str = "Open the task's Notion page in the browser";
    const DOORS: Doors = Doors::desktop_only();
    type Output = String;
    async fn run(self, app: &App, _: Source) -> Result<String, CommandError> {
        let url = notion_link(app, &self.id, self.asset.as_deref())
            .await?
            .url
            .ok_or_else(|| {
                CoreError::invalid(
                    "notion_page_id",
                    "no Notion page yet: connect Notion in Settings; the mirror makes one",
                )
            })?;
        open_with_desktop(&url)?;
        Ok(url)
    }
}

/// The web address of a Notion page from its id (32 hex digits, with or without dashes).
pub fn notion_page_url(page_id: &str) -> Option<String> {
    let hex: String = page_id.chars().filter(|c| *c != '-').collect();
    (hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("https://www.notion.so/{}", hex.to_ascii_lowercase()))
}

/// Hands a URL or folder to the desktop's opener, without waiting for it.
fn open_with_desktop(what: &str) -> Result<(), CommandError> {
    open::that_detached(what).map_err(|e| {
        CommandError::new(
            crate::ErrorKind::Unavailable,
            "no_opener",
            format!("cannot open {what} ({e}): install xdg-utils, or open it by hand"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::notion_page_url;

    #[test]
    fn a_notion_page_id_becomes_its_web_address_and_nothing_else_does() {
        let url = "https://www.notion.so/1a2b3c4d5e6f708192a3b4c5d6e7f809";
        assert_eq!(
            notion_page_url("1A2B3C4D-5E6F-7081-92A3-B4C5D6E7F809").as_deref(),
            Some(url)
        );
        assert_eq!(
            notion_page_url("1a2b3c4d5e6f708192a3b4c5d6e7f809").as_deref(),
            Some(url)
        );
        for bad in [
            "",
            "abc",
            "1a2b3c4d5e6f708192a3b4c5d6e7f80g",
            "https://evil.example/x",
        ] {
            assert_eq!(notion_page_url(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod export_tests {
    #[test]
    fn an_export_is_saved_beside_earlier_ones_and_only_under_its_own_kind_of_name() {
        let dir = tempfile::tempdir().unwrap();
        let name = "reviewdesk-audit-main-2026-12-01-to-2026-12-05.csv";
        let first = crate::save_export(dir.path(), name, "a,b\n").unwrap();
        let second = crate::save_export(dir.path(), name, "c,d\n").unwrap();
        assert_eq!(first, dir.path().join(name));
        assert_eq!(
            second,
            dir.path()
                .join("reviewdesk-audit-main-2026-12-01-to-2026-12-05 (2).csv")
        );
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "a,b\n");
        for bad in [
            "../reviewdesk-audit.csv",
            "reviewdesk-audit.sh",
            ".bashrc",
            "reviewdesk-audit/x.csv",
            "notes.csv",
        ] {
            assert!(crate::save_export(dir.path(), bad, "x").is_err(), "{bad}");
        }
    }
}
