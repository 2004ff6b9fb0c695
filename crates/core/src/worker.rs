//! The pipeline worker: claims tasks under a lease, runs the next incomplete step item by item with
//! checkpoints, stops at every review gate, and retries transient failures on a schedule.

use chrono::Utc;
use futures::StreamExt;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;
use tracing::Instrument;

use crate::asset::{AssetKind, AssetPlan};
use crate::config::ChannelConfig;
use crate::error::{CoreError, Result};
use crate::event::{DomainEvent, Source, WorkerState};
use crate::executor::{ItemJob, ItemOutput, StepFailure, StepItem, executor_for};
use crate::runtime::Core;
use crate::status::{Status, StatusKind, Step};
use crate::store::{ClaimRequest, Claimed, Transition};
use crate::task::{ErrorCategory, Task, error_log_line};
use crate::thumbs;
use crate::workspace::Workspace;

/// Number of composites, clips, narration and effect items per video.
pub const SCENES: usize = 18;

/// A worker: one per process is usual; several may share a database.
#[derive(Debug, Clone)]
pub struct Worker {
    core: Arc<Core>,
    id: String,
    slots: usize,
    paused: watch::Sender<bool>,
}

enum Outcome {
    /// The task reached a gate, an error, or the end; the lease is released.
    Stopped,
    /// Another worker owns the task now.
    LeaseLost,
}

impl Worker {
    /// A worker with a fresh id running up to 2 tasks at once.
    pub fn new(core: Arc<Core>) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        Worker {
            core,
            id: format!(
                "{host}:{}:{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            slots: 2,
            paused: watch::channel(false).0,
        }
    }

    /// Sets how many tasks this worker runs at once (at least 1).
    pub fn with_slots(mut self, slots: usize) -> Self {
        self.slots = slots.max(1);
        self
    }

    /// This worker's id (lease owner).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops claiming new work (running steps finish their current task).
    pub fn pause(&self) {
        self.paused.send_replace(true);
        self.core.events.emit(DomainEvent::Worker {
            state: WorkerState::Paused,
        });
    }

    /// Claims work again.
    pub fn resume(&self) {
        self.paused.send_replace(false);
        self.core.events.emit(DomainEvent::Worker {
            state: WorkerState::Idle,
        });
        self.core.work_available.notify_waiters();
    }

    /// Whether the worker is paused.
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Runs until no task needs a worker any more (all at gates, errors or finished).
    pub async fn run_until_idle(&self) -> Result<()> {
        let (_tx, rx) = watch::channel(false);
        self.run_inner(rx, true).await
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) -> Result<()> {
        self.run_inner(shutdown, false).await
    }

    async fn run_inner(&self, shutdown: watch::Receiver<bool>, until_idle: bool) -> Result<()> {
        // On PostgreSQL, work made claimable by any machine (a new task, a decision, a released
        // lease) is announced with NOTIFY; wake this process's idle slots at once.
        let listener = {
            let core = self.core.clone();
            self.core
                .store
                .spawn_work_listener(move || core.work_available.notify_waiters(), None)
        };
        let mut loops = Vec::new();
        for _ in 0..self.slots {
            let me = self.clone();
            let mut sd = shutdown.clone();
            loops.push(tokio::spawn(async move {
                me.slot_loop(&mut sd, until_idle).await
            }));
        }
        let mut first_err = None;
        for l in loops {
            match l.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(e) => {
                    first_err = first_err.or(Some(CoreError::invalid(
                        "worker",
                        format!("a worker loop crashed: {e}"),
                    )))
                }
            }
        }
        if let Some(l) = listener {
            l.abort();
        }
        self.core.events.emit(DomainEvent::Worker {
            state: WorkerState::Stopped,
        });
        first_err.map_or(Ok(()), Err)
    }

    async fn slot_loop(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        until_idle: bool,
    ) -> Result<()> {
        let mut paused = self.paused.subscribe();
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let notified = self.core.work_available.notified();
            if !*paused.borrow() {
                match self.process_one().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => {
                        // A database hiccup must not kill the worker; log and back off.
                        tracing::error!(error = %e, "worker could not claim or run a task");
                    }
                }
                if until_idle && self.core.store.pending_work().await? == 0 {
                    return Ok(());
                }
            }
            let mut wait = self.core.worker_settings.poll;
            if let Ok(Some(at)) = self.core.store.next_wakeup().await {
                let until = (at - Utc::now()).to_std().unwrap_or_default();
                wait = wait.min(until.max(std::time::Duration::from_millis(10)));
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
                _ = paused.changed() => {}
            }
        }
    }

    /// Claims one task and runs it until it stops (gate, error, retry wait, end).
    /// Returns `false` when nothing was claimable.
    pub async fn process_one(&self) -> Result<bool> {
        let settings = &self.core.worker_settings;
        // A queued task moves to claimed in the same commit as its lease.
        let Some(Claimed { task, from }) = self
            .core
            .store
            .claim_and_start(ClaimRequest {
                worker_id: &self.id,
                lease: settings.lease,
            })
            .await?
        else {
            return Ok(false);
        };
        if from != task.status {
            self.core.events.emit(DomainEvent::StatusChanged {
                task_id: task.id,
                from,
                to: task.status,
                source: Source::Worker,
            });
        }
        let span =
            tracing::info_span!("task", task_id = %task.id, correlation_id = %task.correlation_id);
        let lost = Arc::new(AtomicBool::new(false));
        let beat = {
            let store = self.core.store.clone();
            let (id, worker, lease, every, lost) = (
                task.id,
                self.id.clone(),
                settings.lease,
                settings.heartbeat,
                lost.clone(),
            );
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match store.heartbeat(id, &worker, lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed; will try again"),
                    }
                }
            })
        };
        let result = self.drive(task.clone(), &lost).instrument(span).await;
        beat.abort();
        self.core.events.emit(DomainEvent::Worker {
            state: WorkerState::Idle,
        });
        match result {
            Ok(Outcome::Stopped) => {}
            Ok(Outcome::LeaseLost) => {
                tracing::warn!(task_id = %task.id, "lease lost; another worker took the task over")
            }
            // The creator cancelled (or another door moved) the task while it ran: not a failure.
            Err(CoreError::Conflict(_) | CoreError::RefusedTransition { .. }) => {
                tracing::info!(task_id = %task.id, "task changed while running (cancelled?); stopping");
                let _ = self.core.store.release(task.id, &self.id).await;
            }
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "task run failed");
                let _ = self.core.store.release(task.id, &self.id).await;
                return Err(e);
            }
        }
        Ok(true)
    }

    async fn move_to(
        &self,
        task: &Task,
        to: Status,
        log: Option<String>,
        release: bool,
    ) -> Result<Task> {
        let mut t = Transition::new(task.status, to, Source::Worker);
        t.lease_owner = Some(&self.id);
        t.log_line = log;
        t.release_lease = release;
        if to.kind() == StatusKind::Gate || to.kind() == StatusKind::Terminal {
            t.clear_retry = true;
        }
        let after = self.core.store.transition(task.id, &t).await?;
        self.core.events.emit(DomainEvent::StatusChanged {
            task_id: task.id,
            from: task.status,
            to,
            source: Source::Worker,
        });
        Ok(after)
    }

    /// Which step to run for a claimed task.
    async fn next_step(&self, task: &Task) -> Result<Option<Step>> {
        Ok(match task.status.kind() {
            StatusKind::Step if task.status != Status::Claimed => task.status.step(),
            StatusKind::PassThrough => task.status.step().and_then(Step::next),
            StatusKind::Decision => task.status.reviewed_step().and_then(Step::next),
            _ => {
                let done = self.core.store.completed_steps(task.id).await?;
                Step::ALL.into_iter().find(|s| !done.contains(s))
            }
        })
    }

    async fn drive(&self, mut task: Task, lost: &AtomicBool) -> Result<Outcome> {
        if task.status == Status::Queued {
            task = self.move_to(&task, Status::Claimed, None, false).await?;
        }
        loop {
            if lost.load(Ordering::SeqCst) {
                return Ok(Outcome::LeaseLost);
            }
            if task.status == Status::AssemblyReady {
                // The assembled video waits at the final review (a gate), never straight for the
                // upload; also where a worker that died right after assembling left it.
                task = self.move_to(&task, Status::FinalReview, None, true).await?;
                self.core.events.emit(DomainEvent::ReviewReady {
                    task_id: task.id,
                    gate: Status::FinalReview,
                    title: task.title.clone(),
                    items: 1,
                });
                return Ok(Outcome::Stopped);
            }
            let Some(step) = self.next_step(&task).await? else {
                // Nothing left (a re-queued finished task): publish state is the truth.
                let _ = self.core.store.release(task.id, &self.id).await;
                return Ok(Outcome::Stopped);
            };
            if task.status != step.running_status() {
                task = self
                    .move_to(&task, step.running_status(), None, false)
                    .await?;
            }
            tracing::info!(step = %step, "running step");
            match self.run_step(&task, step, lost).await {
                Ok(()) if lost.load(Ordering::SeqCst) => return Ok(Outcome::LeaseLost),
                Ok(()) => {
                    self.core.store.complete_step(task.id, step).await?;
                    let done = step.done_status();
                    let stop = done.is_gate() || done.is_terminal();
                    task = self.move_to(&task, done, None, stop).await?;
                    if done.is_gate() {
                        let items = match step {
                            Step::Assets => self.core.store.assets(task.id).await?.len(),
                            _ => self.core.store.checkpoints(task.id, step).await?.len(),
                        };
                        self.core.events.emit(DomainEvent::ReviewReady {
                            task_id: task.id,
                            gate: done,
                            title: task.title.clone(),
                            items: items as u32,
                        });
                    }
                    if stop {
                        return Ok(Outcome::Stopped);
                    }
                }
                Err(failure) => {
                    if lost.load(Ordering::SeqCst) {
                        return Ok(Outcome::LeaseLost);
                    }
                    self.fail(&task, step, failure).await?;
                    return Ok(Outcome::Stopped);
                }
            }
        }
    }

    async fn fail(&self, task: &Task, step: Step, failure: StepFailure) -> Result<()> {
        let settings = &self.core.worker_settings;
        let attempts = task.attempts + 1;
        let now = Utc::now();
        tracing::warn!(step = %step, category = failure.category.as_str(), attempts, "step failed: {}", failure.message);
        if failure.category.retries() && attempts < settings.max_attempts {
            let next = now
                + chrono::Duration::from_std(settings.retry_delay(attempts)).unwrap_or_default();
            let line = error_log_line(
                now,
                task.status,
                &format!(
                    "attempt {attempts}/{} failed ({}): {}; retrying at {} UTC",
                    settings.max_attempts,
                    failure.category.as_str(),
                    failure.message,
                    next.format("%H:%M:%S")
                ),
            );
            self.core
                .store
                .schedule_retry(task.id, &self.id, attempts, next, failure.category, &line)
                .await?;
            return Ok(());
        }
        let hint = match failure.category {
            ErrorCategory::Configuration => " (fix the configuration, then retry)",
            ErrorCategory::Permanent => {
                " (this will not pass by itself; change the input, then retry)"
            }
            _ => " (gave up after the last attempt; retry when the cause is fixed)",
        };
        let to = step.error_status();
        let line = error_log_line(
            now,
            to,
            &format!("{} step failed: {}{hint}", step, failure.message),
        );
        let mut t = Transition::new(task.status, to, Source::Worker);
        t.lease_owner = Some(&self.id);
        t.log_line = Some(line);
        t.release_lease = true;
        t.payload =
            serde_json::json!({"category": failure.category.as_str(), "attempts": attempts});
        self.core.store.transition(task.id, &t).await?;
        self.core.events.emit(DomainEvent::StatusChanged {
            task_id: task.id,
            from: task.status,
            to,
            source: Source::Worker,
        });
        Ok(())
    }

    async fn run_step(
        &self,
        task: &Task,
        step: Step,
        lost: &AtomicBool,
    ) -> std::result::Result<(), StepFailure> {
        let channel = self.core.channel(&task.channel_id)?;
        let Some(exec_cfg) = channel.executor_for(step) else {
            return Err(StepFailure::new(
                ErrorCategory::Configuration,
                format!(
                    "no executor configured for the {step} step of channel {}: add `steps: {{ {step}: {{ executor: command, program: <your program> }} }}` to its channel file",
                    channel.channel_id
                ),
            ));
        };
        let executor = executor_for(&exec_cfg);
        let items = self.items(task, step, &channel).await?;
        let done: HashSet<String> = self
            .core
            .store
            .checkpoints(task.id, step)
            .await?
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        let todo: Vec<StepItem> = items
            .into_iter()
            .filter(|i| !done.contains(&i.key))
            .collect();
        let total = done.len() + todo.len();
        tracing::info!(step = %step, executor = %executor.describe(), remaining = todo.len(), total, "step items");
        let ws = self.core.workspace.clone();
        let mut finished = done.len();
        let jobs = todo.into_iter().map(|item| {
            let job = ItemJob {
                task_id: task.id,
                step,
                item,
                workspace: ws.clone(),
            };
            let executor = executor.clone();
            async move {
                let out = executor.run_item(&job).await;
                (job, out)
            }
        });
        let mut stream = futures::stream::iter(jobs).buffer_unordered(executor.concurrency());
        while let Some((job, out)) = stream.next().await {
            if lost.load(Ordering::SeqCst) {
                return Ok(());
            }
            let out = out?;
            self.record_item(task, &job, out).await?;
            finished += 1;
            self.core.events.emit(DomainEvent::Worker {
                state: WorkerState::Working {
                    task_id: task.id,
                    doing: format!("{}: {finished}/{total}", task.status.board_name()),
                },
            });
        }
        Ok(())
    }

    /// Checkpoints one finished item; for assets, also the kept version copy and thumbnail.
    async fn record_item(
        &self,
        task: &Task,
        job: &ItemJob,
        out: ItemOutput,
    ) -> std::result::Result<(), StepFailure> {
        let item = &job.item;
        let output = item.output_rel.to_string_lossy().into_owned();
        if job.step != Step::Assets {
            self.core
                .store
                .checkpoint(task.id, job.step, &item.key, &output)
                .await?;
            return Ok(());
        }
        let kind = item
            .kind
            .ok_or_else(|| StepFailure::new(ErrorCategory::Permanent, "asset without kind"))?;
        let name = crate::ids::AssetName::parse(&item.key)?;
        let ws = self.core.workspace.clone();
        let version_rel =
            Workspace::asset_version_rel(&task.channel_id, task.id, kind, &name, item.version);
        let out_rel = item.output_rel.clone();
        let prepared = tokio::task::spawn_blocking(move || -> Result<thumbs::PreparedImage> {
            let bytes = match out.bytes {
                Some(b) => b,
                None => {
                    let p = ws.resolve(&out_rel)?;
                    Arc::new(std::fs::read(&p).map_err(|e| CoreError::io("cannot read", &p, e))?)
                }
            };
            let prepared = match out.prepared {
                Some(p) => p,
                None => thumbs::prepare_bytes(&ws, &bytes).map_err(|e| match e {
                    CoreError::Imaging(err) => {
                        CoreError::invalid("image", format!("{}: {err}", out_rel.display()))
                    }
                    other => other,
                })?,
            };
            ws.write_atomic(&version_rel, &bytes)?;
            Ok(prepared)
        })
        .await
        .map_err(|e| {
            StepFailure::new(
                ErrorCategory::Transient,
                format!("thumbnail thread failed: {e}"),
            )
        })??;
        let v = prepared.into_version(item.version, Source::Worker);
        self.core
            .store
            .add_asset_version(
                task.id,
                &name,
                item.version - 1,
                &v,
                Some((Step::Assets, &output)),
                Source::Worker,
            )
            .await?;
        if item.version > 1 {
            self.core.events.emit(DomainEvent::AssetVersionAdded {
                task_id: task.id,
                name: name.to_string(),
                version: item.version,
                source: Source::Worker,
            });
        }
        Ok(())
    }

    /// The items a step must produce.
    async fn items(
        &self,
        task: &Task,
        step: Step,
        channel: &ChannelConfig,
    ) -> std::result::Result<Vec<StepItem>, StepFailure> {
        let project = Workspace::project_rel(&task.channel_id, task.id);
        let ws = &self.core.workspace;
        let scene_items = |folder: &str,
                           prefix: &str,
                           ext: &str,
                           inputs: &dyn Fn(usize) -> Vec<PathBuf>,
                           prompt: &dyn Fn(usize) -> String| {
            (1..=SCENES)
                .map(|i| StepItem {
                    key: format!("{prefix}_{i:02}"),
                    index: i,
                    kind: None,
                    prompt: prompt(i),
                    output_rel: project.join(folder).join(format!("{prefix}_{i:02}.{ext}")),
                    width: 1920,
                    height: 1080,
                    inputs: inputs(i),
                    version: 1,
                })
                .collect::<Vec<_>>()
        };
        let abs = |rel: PathBuf| ws.root().join(rel);
        Ok(match step {
            Step::Assets => {
                let plan = match &task.plan_file {
                    Some(p) => AssetPlan::from_file(std::path::Path::new(p))?,
                    None => {
                        AssetPlan::derive(&task.topic, &task.story_direction, channel.counts()?)?
                    }
                };
                self.core.store.ensure_assets(task.id, &plan.assets).await?;
                let assets = self.core.store.assets(task.id).await?;
                let done: HashSet<String> = self
                    .core
                    .store
                    .checkpoints(task.id, step)
                    .await?
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect();
                assets
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| {
                        let (width, height) = match a.kind {
                            AssetKind::Environment => (1920, 1080),
                            AssetKind::Character => (768, 1024),
                            AssetKind::Prop => (512, 512),
                        };
                        // A done item keeps its version; a redo adds one.
                        let version = if done.contains(a.name.as_str()) {
                            a.current_version
                        } else {
                            a.current_version + 1
                        };
                        StepItem {
                            output_rel: Workspace::asset_rel(
                                &task.channel_id,
                                task.id,
                                a.kind,
                                &a.name,
                            ),
                            key: a.name.to_string(),
                            index: i + 1,
                            kind: Some(a.kind),
                            prompt: a.prompt,
                            width,
                            height,
                            inputs: vec![],
                            version,
                        }
                    })
                    .collect()
            }
            Step::Composites => {
                let assets = self.core.store.assets(task.id).await?;
                let files = |k: AssetKind| -> Vec<(String, PathBuf)> {
                    assets
                        .iter()
                        .filter(|a| a.kind == k && a.current_version > 0)
                        .map(|a| {
                            (
                                a.name.to_string(),
                                abs(Workspace::asset_rel(
                                    &task.channel_id,
                                    task.id,
                                    a.kind,
                                    &a.name,
                                )),
                            )
                        })
                        .collect()
                };
                let (chars, envs) = (files(AssetKind::Character), files(AssetKind::Environment));
                if chars.len() < 2 || envs.is_empty() {
                    return Err(StepFailure::new(
                        ErrorCategory::Permanent,
                        "composites need at least two characters and one environment; regenerate the assets",
                    ));
                }
                // Each round over the characters shifts the environments, so no pair repeats.
                let env_of = |i: usize| ((i - 1) + (i - 1) / chars.len()) % envs.len();
                let inputs = |i: usize| {
                    if i == SCENES {
                        vec![
                            chars[0].1.clone(),
                            chars[1].1.clone(),
                            envs[envs.len() - 1].1.clone(),
                        ]
                    } else {
                        vec![
                            chars[(i - 1) % chars.len()].1.clone(),
                            envs[env_of(i)].1.clone(),
                        ]
                    }
                };
                let prompt = |i: usize| {
                    if i == SCENES {
                        format!(
                            "Split screen: {} and {} in {}",
                            chars[0].0,
                            chars[1].0,
                            envs[envs.len() - 1].0
                        )
                    } else {
                        format!(
                            "{} in {}",
                            chars[(i - 1) % chars.len()].0,
                            envs[env_of(i)].0
                        )
                    }
                };
                scene_items("composites", "composite", "png", &inputs, &prompt)
            }
            Step::Video => {
                let comps = self
                    .core
                    .store
                    .checkpoints(task.id, Step::Composites)
                    .await?;
                let input = |i: usize| {
                    comps
                        .get(i - 1)
                        .map(|(_, o)| vec![abs(PathBuf::from(o))])
                        .unwrap_or_default()
                };
                scene_items("video", "clip", "mp4", &input, &|i| {
                    format!("Animate scene {i} of \"{}\" (about 10 s)", task.title)
                })
            }
            Step::Audio => scene_items("audio", "narration", "mp3", &|_| vec![], &|i| {
                format!(
                    "Narration for scene {i} of \"{}\": {}",
                    task.title, task.topic
                )
            }),
            Step::Sfx => scene_items("sfx", "sfx", "mp3", &|_| vec![], &|i| {
                format!("Sound effect for scene {i} of \"{}\"", task.title)
            }),
            Step::Assembly | Step::Upload => {
                let (key, file, prompt) = if step == Step::Assembly {
                    (
                        "final",
                        "final/video.mp4",
                        format!("Assemble \"{}\"", task.title),
                    )
                } else {
                    (
                        "upload",
                        "upload/result.txt",
                        format!("Upload \"{}\"", task.title),
                    )
                };
                vec![StepItem {
                    key: key.into(),
                    index: 1,
                    kind: None,
                    prompt,
                    output_rel: project.join(file),
                    width: 1920,
                    height: 1080,
                    inputs: vec![abs(project.clone())],
                    version: 1,
                }]
            }
        })
    }
}
