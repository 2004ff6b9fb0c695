//! The one function both doors call to bring Review Desk up in-process: `reviewdesk serve` (the
//! headless twin) and the desktop app start the same [`AppRuntime`] — core, pipeline worker,
//! workspace watcher, Notion mirror and the domain-event feed — and read the same status from it.
#![warn(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reviewdesk_core::api::AppStatus;
use reviewdesk_core::api::MirrorState;
use reviewdesk_core::feed::EventFeed;
use reviewdesk_core::store::TaskFilter;
use reviewdesk_core::worker::Worker;
use reviewdesk_core::{Core, CoreError, DomainEvent, Status, WorkerState};
use reviewdesk_notion::{ClientConfig, NotionClient, NotionToken};
use reviewdesk_sync::{Mirror, MirrorConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod notion_check;
mod notion_setup;
#[cfg(test)]
mod test_support;

pub use notion_check::{
    NotionChannelCheck, NotionCheckError, NotionCheckReport, NotionDatabaseCheck, NotionFinding,
};
pub use notion_setup::NotionPageChoice;

/// What to run besides the core.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Run the pipeline worker in this process.
    pub run_worker: bool,
    /// Watch the workspace and channel files for edits made outside the app.
    pub watch_files: bool,
    /// The Notion integration token; the mirror starts when it is set and a channel has database ids.
    pub notion_token: Option<String>,
    /// Mirror timings (poll interval, …).
    pub mirror: MirrorConfig,
    /// How the mirror and "Check connection" reach Notion (`NOTION_BASE_URL` by default; tests
    /// point it at the Notion double).
    pub notion_client: ClientConfig,
    /// How late a change made by another process (CLI, another machine) reaches the windows.
    pub feed_poll: Duration,
    /// Which door this runtime serves, for the status bar's hints.
    pub door: Door,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            run_worker: true,
            watch_files: true,
            notion_token: None,
            mirror: MirrorConfig::from_env(),
            notion_client: ClientConfig::from_env(),
            feed_poll: Duration::from_millis(250),
            door: Door::Server,
        }
    }
}

/// The process hosting the runtime; decides how the status bar tells the creator to connect Notion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `reviewdesk serve`: configured through the environment.
    Server,
    /// The desktop app: configured in Settings.
    Desktop,
}

/// Errors starting the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The core could not start (database, workspace, channel files).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Pause or resume asked of a runtime that runs no worker.
    #[error(
        "this Review Desk runs no worker (started with --no-worker), so there is nothing to pause or resume"
    )]
    NoWorker,
}

/// A running Review Desk: hold it for as long as the app runs; [`AppRuntime::shutdown`] stops it.
pub struct AppRuntime {
    /// The core context.
    pub core: Arc<Core>,
    /// The in-process worker, if any.
    pub worker: Option<Worker>,
    /// The Notion mirror, if connected (set later by [`AppRuntime::connect_notion`]).
    mirror: std::sync::RwLock<Option<Arc<Mirror>>>,
    /// Domain events read back from the log, so changes made by any process reach the windows.
    pub feed: EventFeed,
    door: Door,
    /// The Notion token last saved (at start or from Settings); "Check connection" uses it.
    /// Never printed: `AppRuntime`'s `Debug` leaves it out.
    notion_token: std::sync::RwLock<Option<String>>,
    /// How Notion is reached.
    notion_client: ClientConfig,
    worker_state: Arc<Mutex<WorkerState>>,
    stop: watch::Sender<bool>,
    worker_task: Mutex<Option<JoinHandle<Result<(), CoreError>>>>,
    /// In a mutex only to be `Sync` (the debouncer inside is `Send` only); never locked.
    _watcher: Mutex<Option<reviewdesk_core::watcher::WatchHandle>>,
}

impl std::fmt::Debug for AppRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRuntime")
            .field("worker", &self.worker.as_ref().map(Worker::id))
            .field("mirror", &self.mirror().is_some())
            .field("door", &self.door)
            .finish_non_exhaustive()
    }
}

impl AppRuntime {
    /// Starts everything the options ask for on an opened core.
    pub async fn start(
        core: Arc<Core>,
        options: RuntimeOptions,
    ) -> Result<Arc<AppRuntime>, RuntimeError> {
        let mirror = match options.notion_token.as_deref() {
            Some(token) => {
                start_mirror(
                    &core,
                    token,
                    options.notion_client.clone(),
                    options.mirror.clone(),
                )
                .await
            }
            None => None,
        };
        let worker = options.run_worker.then(|| Worker::new(core.clone()));
        let watcher = if options.watch_files {
            Some(reviewdesk_core::watcher::watch(core.clone())?)
        } else {
            None
        };
        let rt = Self::assemble(
            core,
            worker,
            mirror,
            options.feed_poll,
            options.door,
            watcher,
            options.notion_client,
        )
        .await?;
        rt.set_notion_token(options.notion_token.as_deref());
        if let Some(w) = rt.worker.clone() {
            let rx = rt.stop.subscribe();
            let handle = tokio::spawn(async move { w.run(rx).await });
            *rt.worker_task.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        }
        Ok(rt)
    }

    /// Wraps parts the caller already runs (tests drive the worker themselves).
    pub async fn from_parts(
        core: Arc<Core>,
        worker: Option<Worker>,
        mirror: Option<Arc<Mirror>>,
    ) -> Result<Arc<AppRuntime>, RuntimeError> {
        Self::assemble(
            core,
            worker,
            mirror,
            Duration::from_millis(250),
            Door::Server,
            None,
            ClientConfig::from_env(),
        )
        .await
    }

    async fn assemble(
        core: Arc<Core>,
        worker: Option<Worker>,
        mirror: Option<Arc<Mirror>>,
        feed_poll: Duration,
        door: Door,
        watcher: Option<reviewdesk_core::watcher::WatchHandle>,
        notion_client: ClientConfig,
    ) -> Result<Arc<AppRuntime>, RuntimeError> {
        let feed = EventFeed::spawn(core.clone(), feed_poll).await?;
        let worker_state = Arc::new(Mutex::new(if worker.is_some() {
            WorkerState::Idle
        } else {
            WorkerState::Stopped
        }));
        // Track the worker's state for the status bar.
        {
            let mut rx = core.events.subscribe();
            let ws = worker_state.clone();
            tokio::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                loop {
                    match rx.recv().await {
                        Ok(DomainEvent::Worker { state }) => {
                            *ws.lock().unwrap_or_else(|e| e.into_inner()) = state
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return,
                    }
                }
            });
        }
        let (stop, _) = watch::channel(false);
        Ok(Arc::new(AppRuntime {
            core,
            worker,
            mirror: std::sync::RwLock::new(mirror),
            feed,
            door,
            notion_token: std::sync::RwLock::new(None),
            notion_client,
            worker_state,
            stop,
            worker_task: Mutex::new(None),
            _watcher: Mutex::new(watcher),
        }))
    }

    /// The running Notion mirror, if any.
    pub fn mirror(&self) -> Option<Arc<Mirror>> {
        self.mirror
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts the mirror with a token saved after start-up (Settings), when none runs yet; returns
    /// whether a mirror runs now. A running mirror keeps its token until the app restarts, but
    /// "Check connection" uses the new one at once.
    pub async fn connect_notion(&self, token: &str, config: MirrorConfig) -> bool {
        self.set_notion_token(Some(token));
        if self.mirror().is_some() {
            return true;
        }
        let Some(m) = start_mirror(&self.core, token, self.notion_client.clone(), config).await
        else {
            return false;
        };
        let mut slot = self.mirror.write().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(m);
        true
    }

    /// Records the token Settings now holds (`None` after it was removed) for "Check connection";
    /// the running mirror is not touched.
    pub fn set_notion_token(&self, token: Option<&str>) {
        let token = token.map(str::trim).filter(|t| !t.is_empty());
        *self.notion_token.write().unwrap_or_else(|e| e.into_inner()) = token.map(str::to_owned);
    }

    pub(crate) fn notion_token(&self) -> Option<String> {
        self.notion_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The status bar: worker, Notion mirror, and how many tasks wait at a review gate.
    pub async fn status(&self) -> Result<AppStatus, CoreError> {
        let waiting = self.waiting_for_review().await?.len();
        let mut worker = self
            .worker_state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // The worker's own flag wins over the state tracked from its events, which runs behind:
        // right after a resume the tracker may still hold the pause's event.
        match self.worker.as_ref().map(Worker::is_paused) {
            Some(true) => worker = WorkerState::Paused,
            Some(false) if worker == WorkerState::Paused => worker = WorkerState::Idle,
            _ => {}
        }
        let (fix, off) = match self.door {
            Door::Server => (
                "set NOTION_TOKEN to the integration's token and restart `reviewdesk serve`",
                "Notion is not connected: set NOTION_TOKEN and add database ids with `reviewdesk notion init`",
            ),
            Door::Desktop => (
                "add the integration's token in Settings → Notion and restart Review Desk",
                "Notion is not connected: add a token and database ids in Settings → Notion",
            ),
        };
        Ok(AppStatus {
            worker,
            mirror: match &self.mirror() {
                Some(m) => m.state().await,
                None if Mirror::configured(&self.core) => MirrorState::Error {
                    message: format!(
                        "a channel has Notion databases but the mirror is not running: {fix}"
                    ),
                    waiting: 0,
                },
                None => MirrorState::Off { hint: off.into() },
            },
            waiting_for_review: waiting as u32,
            missing_programs: reviewdesk_core::media_steps::missing_programs(
                &self.core.channels(),
                &self.core.worker_settings.tools,
            ),
            spend_today: reviewdesk_core::cost_report::spend_today(&self.core, None)
                .await?
                .into_iter()
                .filter(|c| c.budget_usd.is_some() || c.spent_usd > 0.0 || c.held_usd > 0.0)
                .collect(),
        })
    }

    /// Tasks waiting at a review gate, oldest first (the tray lists them).
    pub async fn waiting_for_review(&self) -> Result<Vec<reviewdesk_core::Task>, CoreError> {
        let mut tasks = self
            .core
            .store
            .tasks(&TaskFilter {
                statuses: REVIEW_GATES.to_vec(),
                channel_id: None,
                limit: Some(10_000),
                ..Default::default()
            })
            .await?;
        tasks.sort_by_key(|t| t.status_changed_at);
        Ok(tasks)
    }

    /// Pauses the worker after its current item.
    pub async fn pause_worker(&self) -> Result<AppStatus, RuntimeError> {
        self.worker.as_ref().ok_or(RuntimeError::NoWorker)?.pause();
        Ok(self.status().await?)
    }

    /// Resumes a paused worker.
    pub async fn resume_worker(&self) -> Result<AppStatus, RuntimeError> {
        self.worker.as_ref().ok_or(RuntimeError::NoWorker)?.resume();
        Ok(self.status().await?)
    }

    /// A future that resolves when [`AppRuntime::shutdown`] is called (for a server's graceful stop).
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }

    /// Stops the worker at its next safe point and waits for it; the lease of an unfinished item
    /// is released so another worker (or the next start) continues it.
    pub async fn shutdown(&self) -> Result<(), CoreError> {
        let _ = self.stop.send(true);
        let task = self
            .worker_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(t) = task {
            match t.await {
                Ok(r) => r?,
                Err(e) => tracing::error!(error = %e, "the worker task ended abnormally"),
            }
        }
        Ok(())
    }
}

/// The statuses where the pipeline waits for a person.
pub const REVIEW_GATES: [Status; 4] = [
    Status::AssetsReady,
    Status::VideoReady,
    Status::AudioReady,
    Status::FinalReview,
];

/// Starts the mirror in the background when a channel has Notion ids; logs why when it cannot.
pub async fn start_mirror(
    core: &Arc<Core>,
    token: &str,
    client: ClientConfig,
    config: MirrorConfig,
) -> Option<Arc<Mirror>> {
    if !Mirror::configured(core) || token.trim().is_empty() {
        return None;
    }
    let client = match NotionClient::with_config(NotionToken::new(token.trim()), client) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("Notion mirror not started: {e}");
            return None;
        }
    };
    match Mirror::new(core.clone(), client, config).await {
        Ok(m) => {
            tokio::spawn(m.clone().run());
            Some(m)
        }
        Err(e) => {
            tracing::warn!("Notion mirror not started: {e}");
            None
        }
    }
}
