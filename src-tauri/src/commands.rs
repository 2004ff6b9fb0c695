//! Tauri commands: one-line calls into the core services, the same ones `reviewdesk serve`'s HTTP
//! handlers call. Names and arguments match the UI's `Commands` (ui/src/lib/backend/transport.ts);
//! errors reach the UI as `{code, message}` like the server's.

use std::sync::Arc;

use reviewdesk_core::api::{
    ApiError, AppStatus, ApproveRequest, BulkRequest, CancelRequest, FlagRequest, RejectRequest,
};
use reviewdesk_core::store::TaskFilter;
use reviewdesk_core::task_service::TaskDetail;
use reviewdesk_core::{
    AssetName, CoreError, NewTask, ReviewInput, ReviewService, Source, Status, Task, TaskId,
    TaskService,
};
use reviewdesk_runtime::{AppRuntime, NotionCheckError, NotionCheckReport, RuntimeError};
use reviewdesk_settings::{SettingsError, SettingsService, SettingsUpdate, SettingsView};
use tauri::State;

use crate::Desktop;

/// An error as the UI sees it: the server's `ApiError` shape.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
pub struct CommandError(ApiError);

impl CommandError {
    /// An error with a code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CommandError(ApiError {
            code: code.into(),
            message: message.into(),
        })
    }
}

impl From<CoreError> for CommandError {
    fn from(e: CoreError) -> Self {
        if matches!(e, CoreError::Database(_) | CoreError::Io { .. }) {
            tracing::error!(error = %e, "command failed");
        }
        CommandError(ApiError::from(&e))
    }
}

impl From<RuntimeError> for CommandError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Core(e) => e.into(),
            e @ RuntimeError::NoWorker => CommandError::new("no_worker", e.to_string()),
        }
    }
}

impl From<NotionCheckError> for CommandError {
    fn from(e: NotionCheckError) -> Self {
        CommandError::new(e.code(), e.to_string())
    }
}

impl From<SettingsError> for CommandError {
    fn from(e: SettingsError) -> Self {
        CommandError::new(e.code(), e.to_string())
    }
}

type CmdResult<T> = Result<T, CommandError>;

impl Desktop {
    /// The runtime, or the reason it did not start (shown by every view).
    pub fn runtime(&self) -> CmdResult<&Arc<AppRuntime>> {
        self.runtime
            .as_ref()
            .map_err(|message| CommandError::new("startup_failed", message.clone()))
    }
}

fn settings(d: &Desktop) -> CmdResult<&SettingsService> {
    d.settings
        .as_ref()
        .map_err(|message| CommandError::new("settings_unreadable", message.clone()))
}

fn task_id(s: &str) -> CmdResult<TaskId> {
    s.parse::<TaskId>()
        .map_err(|e| CommandError::new("not_found", e.to_string()))
}

fn tasks(d: &Desktop) -> CmdResult<TaskService> {
    Ok(TaskService::new(d.runtime()?.core.clone()))
}

fn reviews(d: &Desktop) -> CmdResult<ReviewService> {
    Ok(ReviewService::new(d.runtime()?.core.clone()))
}

/// Tasks, filtered by status and channel.
#[tauri::command(rename_all = "snake_case")]
pub async fn list_tasks(
    d: State<'_, Desktop>,
    statuses: Vec<Status>,
    channel_id: Option<String>,
) -> CmdResult<Vec<Task>> {
    let filter = TaskFilter {
        statuses,
        channel_id,
        limit: None,
    };
    Ok(tasks(&d)?.list(&filter).await?)
}

/// One task with its assets.
#[tauri::command(rename_all = "snake_case")]
pub async fn get_task(d: State<'_, Desktop>, id: String) -> CmdResult<TaskDetail> {
    Ok(tasks(&d)?.detail(task_id(&id)?).await?)
}

/// A new task, queued for the worker.
#[tauri::command(rename_all = "snake_case")]
pub async fn create_task(d: State<'_, Desktop>, body: NewTask) -> CmdResult<Task> {
    Ok(tasks(&d)?.create(body, Source::Desktop).await?)
}

/// Approves the task at its gate.
#[tauri::command(rename_all = "snake_case")]
pub async fn approve(d: State<'_, Desktop>, id: String, body: ApproveRequest) -> CmdResult<Task> {
    Ok(reviews(&d)?
        .approve(
            task_id(&id)?,
            ReviewInput::local(Source::Desktop, body.note),
        )
        .await?)
}

/// Rejects the task with feedback; flagged assets (or the given ones) are regenerated.
#[tauri::command(rename_all = "snake_case")]
pub async fn reject(d: State<'_, Desktop>, id: String, body: RejectRequest) -> CmdResult<Task> {
    let flags = body.flag_names()?;
    Ok(reviews(&d)?
        .reject(
            task_id(&id)?,
            flags,
            ReviewInput::local(Source::Desktop, Some(body.feedback)),
        )
        .await?)
}

/// Flags or unflags one asset.
#[tauri::command(rename_all = "snake_case")]
pub async fn flag_asset(
    d: State<'_, Desktop>,
    id: String,
    name: String,
    body: FlagRequest,
) -> CmdResult<()> {
    let name = AssetName::parse(name)?;
    Ok(reviews(&d)?
        .flag(
            task_id(&id)?,
            &name,
            body.flagged,
            body.note,
            Source::Desktop,
        )
        .await?)
}

/// Approves up to 100 tasks in one transaction.
#[tauri::command(rename_all = "snake_case")]
pub async fn bulk_approve(d: State<'_, Desktop>, body: BulkRequest) -> CmdResult<Vec<Task>> {
    Ok(reviews(&d)?
        .bulk_approve(
            &body.task_ids,
            ReviewInput::local(Source::Desktop, body.reason),
        )
        .await?)
}

/// Rejects up to 100 tasks in one transaction.
#[tauri::command(rename_all = "snake_case")]
pub async fn bulk_reject(d: State<'_, Desktop>, body: BulkRequest) -> CmdResult<Vec<Task>> {
    Ok(reviews(&d)?
        .bulk_reject(
            &body.task_ids,
            None,
            ReviewInput::local(Source::Desktop, body.reason),
        )
        .await?)
}

/// Retries a failed task.
#[tauri::command(rename_all = "snake_case")]
pub async fn retry(d: State<'_, Desktop>, id: String) -> CmdResult<Task> {
    Ok(reviews(&d)?
        .retry(task_id(&id)?, ReviewInput::local(Source::Desktop, None))
        .await?)
}

/// Cancels a task.
#[tauri::command(rename_all = "snake_case")]
pub async fn cancel(d: State<'_, Desktop>, id: String, body: CancelRequest) -> CmdResult<Task> {
    Ok(reviews(&d)?
        .cancel(
            task_id(&id)?,
            ReviewInput::local(Source::Desktop, body.reason),
        )
        .await?)
}

/// The status bar.
#[tauri::command(rename_all = "snake_case")]
pub async fn get_status(d: State<'_, Desktop>) -> CmdResult<AppStatus> {
    Ok(d.runtime()?.status().await?)
}

/// Pauses the worker after its current item.
#[tauri::command(rename_all = "snake_case")]
pub async fn pause_worker(app: tauri::AppHandle, d: State<'_, Desktop>) -> CmdResult<AppStatus> {
    let s = d.runtime()?.pause_worker().await?;
    crate::events::refresh_tray(&app).await;
    Ok(s)
}

/// Resumes the worker.
#[tauri::command(rename_all = "snake_case")]
pub async fn resume_worker(app: tauri::AppHandle, d: State<'_, Desktop>) -> CmdResult<AppStatus> {
    let s = d.runtime()?.resume_worker().await?;
    crate::events::refresh_tray(&app).await;
    Ok(s)
}

/// The Settings screen's state (never the token itself).
#[tauri::command(rename_all = "snake_case")]
pub async fn get_settings(d: State<'_, Desktop>) -> CmdResult<SettingsView> {
    Ok(settings(&d)?.view())
}

/// Saves folders and the poll interval (all or nothing); folders apply at the next start.
#[tauri::command(rename_all = "snake_case")]
pub async fn save_settings(d: State<'_, Desktop>, body: SettingsUpdate) -> CmdResult<SettingsView> {
    Ok(settings(&d)?.update(body)?)
}

/// Stores the Notion token in the OS keyring and, when no mirror runs yet, connects it now.
#[tauri::command(rename_all = "snake_case")]
pub async fn set_notion_token(d: State<'_, Desktop>, token: String) -> CmdResult<SettingsView> {
    let s = settings(&d)?;
    let view = s.set_notion_token(&token)?;
    if let Ok(rt) = d.runtime() {
        let mut config = reviewdesk_sync::MirrorConfig::from_env();
        config.poll_interval = std::time::Duration::from_secs(u64::from(s.settings().poll_secs()));
        rt.connect_notion(token.trim(), config).await;
    }
    Ok(view)
}

/// Removes the Notion token from the OS keyring; "Check connection" then uses the fallback
/// (`NOTION_TOKEN`), if any, like the next start would.
#[tauri::command(rename_all = "snake_case")]
pub async fn clear_notion_token(d: State<'_, Desktop>) -> CmdResult<SettingsView> {
    let s = settings(&d)?;
    let view = s.clear_notion_token()?;
    if let Ok(rt) = d.runtime() {
        let fallback = s.secrets().notion_token().ok().flatten();
        rt.set_notion_token(fallback.as_ref().map(|(token, _source)| token.as_str()));
    }
    Ok(view)
}

/// Settings → Check connection: the token and every channel's Notion databases.
#[tauri::command(rename_all = "snake_case")]
pub async fn check_notion(d: State<'_, Desktop>) -> CmdResult<NotionCheckReport> {
    Ok(d.runtime()?.check_notion().await?)
}

/// Settings → Add what is missing: the missing properties and options, then a new check.
#[tauri::command(rename_all = "snake_case")]
pub async fn add_missing_notion_properties(d: State<'_, Desktop>) -> CmdResult<NotionCheckReport> {
    Ok(d.runtime()?.add_missing_notion_properties().await?)
}
