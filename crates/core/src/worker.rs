//! The pipeline worker: claims tasks under a lease, runs the next incomplete step item by item with
//! checkpoints, stops at every review gate, and retries transient failures on a schedule. What a
//! step makes (its items, inputs, sizes and output paths) is the pipeline's rule
//! ([`crate::pipeline`]): the worker gathers the task's data for it, runs the items it describes and
//! checkpoints them.
//!
//! Each claim has a lease of its own ([`Lease`]): the worker presents it with every write, watches
//! it while a step runs, and stops the step's running programs (their whole process groups) as
//! soon as the task is cancelled or claimed again, or the worker shuts down ([`Worker::shutdown`]).

use chrono::Utc;
use futures::StreamExt;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

use crate::asset::AssetPlan;
use crate::config::ChannelConfig;
use crate::context::Core;
use crate::costs::BudgetDay;
use crate::error::{CoreError, Result};
use crate::event::{DomainEvent, Source, WorkerState};
use crate::executor::{ItemJob, ItemOutput, ItemProgress, StepFailure, StepItem, executor_for};
use crate::pipeline;
use crate::status::{Status, StatusKind, Step};
use crate::store::{
    BudgetCheck, ClaimRequest, Claimed, Finished, Lease, LedgerRow, PaidItem, Transition,
};
use crate::task::{ErrorCategory, Task, error_log_line};
use crate::thumbs;
use crate::workspace::Workspace;

/// How long a slot woken by a database write waits before it looks for work: writes come in
/// bursts, and most are this process's own (see `slot_loop`).
const DB_WAKE_SETTLE: Duration = Duration::from_millis(200);

/// How often a running claim looks whether it still holds its task (besides its heartbeats and
/// the in-process and database notifications), so a cancel from another process stops the
/// running program within about this long.
const LEASE_LOOK_EVERY: Duration = Duration::from_secs(1);

/// A worker: one per process is usual; several may share a database.
///
/// Clones share everything (pause state, shutdown): [`Worker::shutdown`] on any clone stops
/// them all.
#[derive(Debug, Clone)]
pub struct Worker {
    core: Arc<Core>,
    id: String,
    slots: usize,
    paused: watch::Sender<bool>,
    halt: watch::Sender<bool>,
}

enum Outcome {
    /// The task reached a gate, an error, or the end; the lease is released.
    Stopped,
    /// The claim was stopped while it ran: its programs are killed, nothing more is written.
    Interrupted(StopReason),
}

/// Why a running claim stopped before its step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    /// The task was cancelled, released or claimed again: the lease is someone else's now.
    LeaseLost,
    /// The worker is shutting down: the lease is given back so the task resumes elsewhere.
    Shutdown,
}

/// One claim being run: its lease, and the signal that stops it.
struct Claim {
    lease: Lease,
    stop: watch::Sender<Option<StopReason>>,
}

impl Claim {
    fn stop(&self, reason: StopReason) {
        self.stop.send_if_modified(|r| {
            let first = r.is_none();
            if first {
                *r = Some(reason);
            }
            first
        });
    }

    fn stopped(&self) -> Option<StopReason> {
        *self.stop.borrow()
    }

    /// Resolves when the claim is stopped.
    async fn wait_stopped(&self) -> StopReason {
        let mut rx = self.stop.subscribe();
        match rx.wait_for(Option::is_some).await.map(|r| *r) {
            Ok(Some(reason)) => reason,
            // The sender lives in `self`, so the channel cannot close while we borrow it.
            _ => std::future::pending().await,
        }
    }
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
            halt: watch::channel(false).0,
        }
    }

    /// Sets how many tasks this worker runs at once (at least 1).
    pub fn with_slots(mut self, slots: usize) -> Self {
        self.slots = slots.max(1);
        self
    }

    /// This worker's id (the lease owner shown for its claims; each claim has its own token).
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

    /// Shuts the worker down without waiting for running programs: it claims nothing more, kills
    /// the process groups of the step programs it is running, discards their partial outputs and
    /// gives the leases back (the tasks keep their status and checkpoints, so another worker or
    /// the next start resumes them at the unfinished items). [`Worker::run`] and
    /// [`Worker::run_until_idle`] return soon after; await them to know that the leases are
    /// released. Safe to call from a signal handler's task, more than once, on any clone. A
    /// worker that was shut down stays shut down.
    pub fn shutdown(&self) {
        self.halt.send_replace(true);
    }

    /// Whether [`Worker::shutdown`] was called (or `run`'s shutdown signal turned true).
    pub fn is_shut_down(&self) -> bool {
        *self.halt.borrow()
    }

    /// Runs until no task needs a worker any more (all at gates, errors or finished), or until
    /// [`Worker::shutdown`].
    pub async fn run_until_idle(&self) -> Result<()> {
        self.run_inner(None, true).await
    }

    /// Runs until `shutdown` turns true (or [`Worker::shutdown`] is called), which stops running
    /// programs at once and gives their leases back, as [`Worker::shutdown`] describes.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) -> Result<()> {
        self.run_inner(Some(shutdown), false).await
    }

    async fn run_inner(
        &self,
        shutdown: Option<watch::Receiver<bool>>,
        until_idle: bool,
    ) -> Result<()> {
        if let Some(message) = crate::media_steps::missing_programs(
            &self.core.channels(),
            &self.core.worker_settings.tools,
        ) {
            tracing::warn!("{message}");
        }
        // On PostgreSQL, work made claimable by any machine (a new task, a decision, a released
        // lease) is announced with NOTIFY; wake this process's idle slots at once.
        let listener = {
            let core = self.core.clone();
            self.core
                .store
                .spawn_work_listener(move || core.work_available.notify_waiters(), None)
        };
        let forward = shutdown.map(|mut rx| {
            let me = self.clone();
            tokio::spawn(async move {
                if rx.wait_for(|s| *s).await.is_ok() {
                    me.shutdown();
                }
            })
        });
        let mut loops = Vec::new();
        for _ in 0..self.slots {
            let me = self.clone();
            loops.push(tokio::spawn(async move { me.slot_loop(until_idle).await }));
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
        if let Some(f) = forward {
            f.abort();
        }
        if let Some(l) = listener {
            l.abort();
        }
        self.core.events.emit(DomainEvent::Worker {
            state: WorkerState::Stopped,
        });
        first_err.map_or(Ok(()), Err)
    }

    async fn slot_loop(&self, until_idle: bool) -> Result<()> {
        let mut paused = self.paused.subscribe();
        let mut halt = self.halt.subscribe();
        let mut db = self.core.db_changes.subscribe();
        // Looks at the database that found nothing since the last work or wake-up: an idle worker
        // sleeps longer and longer (work made in this process, or heard through the database's
        // change signal or PostgreSQL's LISTEN, wakes it at once).
        let mut idle_looks = 0u32;
        let heard_otherwise = self.core.store.backend() == crate::store::Backend::Postgres;
        let idle_max = self.core.db_changes.idle_poll_max(heard_otherwise);
        loop {
            if self.is_shut_down() {
                return Ok(());
            }
            let notified = self.core.work_available.notified();
            db.mark_unchanged();
            if !*paused.borrow() {
                match self.process_one().await {
                    Ok(true) => {
                        idle_looks = 0;
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        // A database hiccup must not kill the worker; log and back off.
                        tracing::error!(error = %e, "worker could not claim or run a task");
                    }
                }
                if self.is_shut_down() {
                    return Ok(());
                }
                if until_idle && self.core.store.pending_work().await? == 0 {
                    return Ok(());
                }
            }
            let mut wait =
                crate::db_watch::backoff(self.core.worker_settings.poll, idle_looks, idle_max);
            if let Ok(Some(at)) = self.core.store.next_wakeup().await {
                let until = (at - Utc::now()).to_std().unwrap_or_default();
                wait = wait.min(until.max(std::time::Duration::from_millis(10)));
            }
            tokio::select! {
                _ = notified => idle_looks = 0,
                _ = crate::db_watch::changed(&mut db) => {
                    idle_looks = 0;
                    // The signal also fires for this process's own writes (another slot at work
                    // writes often): look at most every DB_WAKE_SETTLE, not after every write, so
                    // an idle slot never contends for SQLite's write lock in a tight loop.
                    tokio::select! {
                        _ = tokio::time::sleep(DB_WAKE_SETTLE) => {}
                        _ = halt.changed() => {}
                    }
                }
                _ = tokio::time::sleep(wait) => idle_looks = idle_looks.saturating_add(1),
                _ = halt.changed() => {}
                _ = paused.changed() => {}
            }
        }
    }

    /// Claims one task and runs it until it stops (gate, error, retry wait, end, cancel,
    /// shutdown). Returns `false` when nothing was claimable or the worker is shut down.
    pub async fn process_one(&self) -> Result<bool> {
        if self.is_shut_down() {
            return Ok(false);
        }
        let settings = &self.core.worker_settings;
        // A queued task moves to claimed in the same commit as its lease.
        let Some(Claimed { task, from, lease }) = self
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
        let claim = Arc::new(Claim {
            lease,
            stop: watch::channel(None).0,
        });
        let watchdog = tokio::spawn(self.clone().watch_claim(claim.clone()));
        let result = self.drive(task.clone(), &claim).instrument(span).await;
        watchdog.abort();
        self.core.events.emit(DomainEvent::Worker {
            state: WorkerState::Idle,
        });
        match result {
            Ok(Outcome::Stopped) => {}
            Ok(Outcome::Interrupted(StopReason::LeaseLost)) => {
                tracing::info!(task_id = %task.id, "the task was cancelled or claimed again while it ran; its running programs were stopped and their outputs discarded")
            }
            Ok(Outcome::Interrupted(StopReason::Shutdown)) => {
                self.core.store.release(&claim.lease).await?;
                tracing::info!(task_id = %task.id, "worker shutting down: running programs stopped, lease given back; the task resumes at its unfinished items");
            }
            // The creator cancelled (or another door moved) the task while it ran: not a failure.
            Err(CoreError::Conflict(_) | CoreError::RefusedTransition { .. }) => {
                tracing::info!(task_id = %task.id, "task changed while running (cancelled?); stopping");
                let _ = self.core.store.release(&claim.lease).await;
            }
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "task run failed");
                let _ = self.core.store.release(&claim.lease).await;
                return Err(e);
            }
        }
        Ok(true)
    }

    /// Keeps a claim's lease alive and stops the claim as soon as it no longer holds its task or
    /// the worker shuts down. It looks at once when this process changes the task (a cancel from
    /// a window) or the database announces work (on PostgreSQL, a lease given back anywhere),
    /// and at least every [`LEASE_LOOK_EVERY`] otherwise.
    async fn watch_claim(self, claim: Arc<Claim>) {
        let settings = &self.core.worker_settings;
        let store = &self.core.store;
        let mut halt = self.halt.subscribe();
        let mut events = self.core.events.subscribe();
        let mut events_open = true;
        let mut beat = tokio::time::interval(settings.heartbeat);
        let mut look = tokio::time::interval(settings.heartbeat.min(LEASE_LOOK_EVERY));
        beat.tick().await;
        look.tick().await;
        loop {
            let renew = tokio::select! {
                _ = halt.wait_for(|h| *h) => {
                    claim.stop(StopReason::Shutdown);
                    return;
                }
                _ = beat.tick() => true,
                _ = look.tick() => false,
                _ = self.core.work_available.notified() => false,
                ev = events.recv(), if events_open => {
                    use tokio::sync::broadcast::error::RecvError;
                    match ev {
                        Ok(DomainEvent::StatusChanged { task_id, source, .. })
                            if task_id == claim.lease.task_id && source != Source::Worker => false,
                        Ok(_) => continue,
                        Err(RecvError::Lagged(_)) => false,
                        Err(RecvError::Closed) => {
                            events_open = false;
                            continue;
                        }
                    }
                }
            };
            let held = if renew {
                store.heartbeat(&claim.lease, settings.lease).await
            } else {
                store.lease_held(&claim.lease).await
            };
            match held {
                Ok(true) => {}
                Ok(false) => {
                    claim.stop(StopReason::LeaseLost);
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "cannot check the lease; will try again"),
            }
        }
    }

    async fn move_to(
        &self,
        task: &Task,
        claim: &Claim,
        to: Status,
        log: Option<String>,
        release: bool,
    ) -> Result<Task> {
        let mut t = Transition::new(task.status, to, Source::Worker);
        t.lease = Some(&claim.lease);
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

    async fn drive(&self, mut task: Task, claim: &Claim) -> Result<Outcome> {
        if task.status == Status::Queued {
            task = self
                .move_to(&task, claim, Status::Claimed, None, false)
                .await?;
        }
        loop {
            if let Some(reason) = claim.stopped() {
                return Ok(Outcome::Interrupted(reason));
            }
            if task.status == Status::AssemblyReady {
                // The assembled video waits at the final review (a gate), never straight for the
                // upload; also where a worker that died right after assembling left it.
                task = self
                    .move_to(&task, claim, Status::FinalReview, None, true)
                    .await?;
                self.core.events.emit(DomainEvent::review_ready(
                    task.id,
                    Status::FinalReview,
                    task.title.clone(),
                    1,
                ));
                return Ok(Outcome::Stopped);
            }
            let Some(step) = self.next_step(&task).await? else {
                // Nothing left (a re-queued finished task): publish state is the truth.
                let _ = self.core.store.release(&claim.lease).await;
                return Ok(Outcome::Stopped);
            };
            if task.status != step.running_status() {
                task = self
                    .move_to(&task, claim, step.running_status(), None, false)
                    .await?;
            }
            if let Some(missing) = self.missing_tools(&task, step)? {
                self.wait_in_step(&task, claim, step, &missing).await?;
                return Ok(Outcome::Stopped);
            }
            tracing::info!(step = %step, "running step");
            let result = self.run_step(&task, step, claim).await;
            if let Some(reason) = claim.stopped() {
                return Ok(Outcome::Interrupted(reason));
            }
            match result {
                Ok(()) => {
                    self.core.store.complete_step(&claim.lease, step).await?;
                    let done = step.done_status();
                    let stop = done.is_gate() || done.is_terminal();
                    task = self.move_to(&task, claim, done, None, stop).await?;
                    if done.is_gate() {
                        let items = match step {
                            Step::Assets => self.core.store.assets(task.id).await?.len(),
                            _ => self.core.store.checkpoints(task.id, step).await?.len(),
                        };
                        self.core.events.emit(DomainEvent::review_ready(
                            task.id,
                            done,
                            task.title.clone(),
                            items as u32,
                        ));
                    }
                    if stop {
                        return Ok(Outcome::Stopped);
                    }
                }
                Err(failure) if failure.waits => {
                    self.wait_in_step(&task, claim, step, &failure.message)
                        .await?;
                    return Ok(Outcome::Stopped);
                }
                Err(failure) => {
                    self.fail(&task, claim, step, failure).await?;
                    return Ok(Outcome::Stopped);
                }
            }
        }
    }

    /// What the built-in executor of this step needs and this machine lacks: the creator's
    /// message (which programs, which package), or `None` when the step can run.
    fn missing_tools(&self, task: &Task, step: Step) -> Result<Option<String>> {
        let channel = self.core.channel(&task.channel_id)?;
        if channel.executor_for(step) != crate::config::ExecutorConfig::Builtin {
            return Ok(None);
        }
        let tools = &self.core.worker_settings.tools;
        let missing = tools.missing(crate::media_steps::tools_needed(step));
        Ok((!missing.is_empty()).then(|| {
            format!(
                "waiting: the built-in {step} step cannot run because {}; the task resumes by itself once it is installed",
                reviewdesk_media::Tools::install_hint(&missing)
            )
        }))
    }

    /// A step whose programs are missing, or whose channel's budget is spent, does not fail: the
    /// task keeps its status and its work, says why it waits (once), and looks again after the
    /// first retry delay (at least a second). Its attempts are not counted: nothing was tried.
    async fn wait_in_step(
        &self,
        task: &Task,
        claim: &Claim,
        step: Step,
        message: &str,
    ) -> Result<()> {
        let now = Utc::now();
        // At least a second: with very short retry delays (tests) a worker that is slower than
        // the delay would otherwise find the task due again at once, and again, without rest.
        let delay = self
            .core
            .worker_settings
            .retry_delay(1)
            .max(Duration::from_secs(1));
        let next = now + chrono::Duration::from_std(delay).unwrap_or_default();
        let said = task
            .error_log
            .lines()
            .last()
            .is_some_and(|l| l.ends_with(message));
        let line = if said {
            String::new()
        } else {
            error_log_line(now, task.status, message)
        };
        tracing::warn!(step = %step, "{message}");
        self.core
            .store
            .schedule_retry(
                &claim.lease,
                task.attempts,
                next,
                ErrorCategory::Configuration,
                &line,
            )
            .await?;
        self.core.events.emit(DomainEvent::TaskUpdated {
            task_id: task.id,
            source: Source::Worker,
        });
        Ok(())
    }

    async fn fail(
        &self,
        task: &Task,
        claim: &Claim,
        step: Step,
        failure: StepFailure,
    ) -> Result<()> {
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
                .schedule_retry(&claim.lease, attempts, next, failure.category, &line)
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
        t.lease = Some(&claim.lease);
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

    /// Runs a step's unfinished items. Returns early (`Ok`) when the claim is stopped: the items
    /// still running are dropped, which kills their programs and discards their outputs.
    async fn run_step(
        &self,
        task: &Task,
        step: Step,
        claim: &Claim,
    ) -> std::result::Result<(), StepFailure> {
        let channel = self.core.channel(&task.channel_id)?;
        let exec_cfg = channel.executor_for(step);
        let executor = executor_for(step, &exec_cfg, &channel, &self.core)?;
        let done: HashSet<String> = self
            .core
            .store
            .checkpoints(task.id, step)
            .await?
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        let items = self.items(task, step, &channel, &done).await?;
        let todo: Vec<StepItem> = items
            .into_iter()
            .filter(|i| !done.contains(&i.key))
            .collect();
        let total = done.len() + todo.len();
        tracing::info!(step = %step, executor = %executor.describe(), remaining = todo.len(), total, "step items");
        let ws = self.core.workspace.clone();
        let mut finished = done.len();
        let halted = std::sync::atomic::AtomicBool::new(false);
        let jobs = todo.into_iter().map(|item| {
            let job = ItemJob {
                task_id: task.id,
                step,
                progress: self.item_progress(task, &item, total),
                item,
                workspace: ws.clone(),
                task_title: task.title.clone(),
                task_topic: task.topic.clone(),
                attempt: task.attempts + 1,
            };
            let executor = executor.clone();
            let channel = &channel;
            let halted = &halted;
            // The item is put in place inside its own future: the loop below awaits nothing else,
            // so no item is left suspended half-way through a database transaction (holding
            // SQLite's write lock) while another waits for that lock.
            async move {
                if halted.load(std::sync::atomic::Ordering::Relaxed) {
                    return None;
                }
                let out = self
                    .run_paid_item(task, channel, executor.as_ref(), &job)
                    .await;
                Some(match out {
                    Ok(out) => self.record_item(task, claim, &job, out).await,
                    Err(f) if refuses_only_this_item(&f) => {
                        match self.record_item_failure(task, &job, &f).await {
                            Ok(()) => Err(f),
                            Err(e) => Err(e),
                        }
                    }
                    Err(f) => Err(f),
                })
            }
        });
        let mut stream = futures::stream::iter(jobs).buffer_unordered(executor.concurrency());
        // A failed item, or a budget that runs out, stops new items; the ones under way finish
        // and are kept (a paid result dropped half-way would be paid for again). An item that
        // cannot be made as asked (a safety refusal) stops only itself: the others are made, and
        // the step fails at the end naming it, so a retry after a changed prompt makes only it.
        let mut stopped_by: Option<StepFailure> = None;
        let mut refused: Vec<StepFailure> = Vec::new();
        loop {
            let next = tokio::select! {
                biased;
                _ = claim.wait_stopped() => return Ok(()),
                next = stream.next() => next,
            };
            let Some(next) = next else {
                break;
            };
            let Some(result) = next else {
                continue;
            };
            if let Err(f) = result {
                if refuses_only_this_item(&f) {
                    refused.push(f);
                    continue;
                }
                halted.store(true, std::sync::atomic::Ordering::Relaxed);
                // A real failure outranks a budget wait.
                if stopped_by.as_ref().is_none_or(|s| s.waits && !f.waits) {
                    stopped_by = Some(f);
                }
                continue;
            }
            if claim.stopped().is_some() {
                return Ok(());
            }
            finished += 1;
            self.core.events.emit(DomainEvent::Worker {
                state: WorkerState::Working {
                    task_id: task.id,
                    doing: format!("{}: {finished}/{total}", task.status.board_name()),
                },
            });
        }
        match stopped_by {
            Some(f) => Err(f),
            None if refused.is_empty() => Ok(()),
            None => Err(items_refused(&refused, total)),
        }
    }

    /// Keeps why an asset could not be made on the asset itself, for its tile at the gate.
    async fn record_item_failure(
        &self,
        task: &Task,
        job: &ItemJob,
        failure: &StepFailure,
    ) -> std::result::Result<(), StepFailure> {
        if job.step != Step::Assets {
            return Ok(());
        }
        let name = crate::ids::AssetName::parse(&job.item.key)?;
        self.core
            .store
            .set_asset_failure(task.id, &name, Some(&failure.message))
            .await?;
        self.core.events.emit(DomainEvent::TaskUpdated {
            task_id: task.id,
            source: Source::Worker,
        });
        Ok(())
    }

    /// Runs one item; a paid one only after its price is held against the channel's budget,
    /// and its bill goes into the cost ledger as soon as the provider answers (even when the
    /// claim was lost meanwhile: the money is spent either way).
    async fn run_paid_item(
        &self,
        task: &Task,
        channel: &ChannelConfig,
        executor: &dyn crate::executor::StepExecutor,
        job: &ItemJob,
    ) -> std::result::Result<ItemOutput, StepFailure> {
        let Some(quote) = executor.quote(job)? else {
            return executor.run_item(job).await;
        };
        let store = &self.core.store;
        let clock = &self.core.worker_settings.clock;
        let item = PaidItem {
            channel_id: task.channel_id.clone(),
            task_id: task.id,
            step: job.step,
            item: job.item.key.clone(),
        };
        let day = BudgetDay::of(clock.now(), channel.time_zone());
        let price = quote.total();
        let budget = channel.budget();
        let held = store
            .hold_budget(
                &item,
                price,
                budget,
                (day.start_ms, day.end_ms),
                clock.now().timestamp_millis(),
            )
            .await;
        match held? {
            BudgetCheck::Held => {}
            BudgetCheck::Over { committed } => {
                return Err(StepFailure::waiting(crate::costs::budget_reached_message(
                    committed,
                    budget.unwrap_or_default(),
                    price,
                )));
            }
        }
        let out = executor.run_item(job).await;
        match &out {
            Ok(ItemOutput {
                paid: Some(paid), ..
            }) => {
                let row = LedgerRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    at_ms: clock.now().timestamp_millis(),
                    item,
                    attempt: task.attempts + 1,
                    usd: paid.quote.total(),
                    quote: paid.quote.clone(),
                    correlation_id: paid.correlation_id.clone(),
                };
                tracing::info!(step = %job.step, item = %job.item.key, usd = %row.usd, provider = %row.quote.provider, "paid");
                store.record_cost(&row).await?;
            }
            // A finished item that reports no bill, or a failed call: nothing was charged.
            _ => store.release_hold(&item).await?,
        }
        out
    }

    /// Puts one finished item in place and checkpoints it; for assets, also the kept version
    /// copy and thumbnail. Only a claim that still holds the task does so: a stale one's output
    /// is discarded and the claim stopped.
    async fn record_item(
        &self,
        task: &Task,
        claim: &Claim,
        job: &ItemJob,
        mut out: ItemOutput,
    ) -> std::result::Result<(), StepFailure> {
        let store = &self.core.store;
        // Renewing is also the check: the output must not replace the current run's.
        if !store
            .heartbeat(&claim.lease, self.core.worker_settings.lease)
            .await?
        {
            claim.stop(StopReason::LeaseLost);
            return Ok(()); // `out` is dropped: a staged file is removed
        }
        let item = &job.item;
        let output = item.output_rel.to_string_lossy().into_owned();
        let asset = match job.step {
            Step::Assets => {
                let kind = item.kind.ok_or_else(|| {
                    StepFailure::new(ErrorCategory::Permanent, "asset without kind")
                })?;
                let name = crate::ids::AssetName::parse(&item.key)?;
                let version_rel = Workspace::asset_version_rel(
                    &task.channel_id,
                    task.id,
                    kind,
                    &name,
                    item.version,
                );
                Some((name, version_rel))
            }
            _ => None,
        };
        let ws = self.core.workspace.clone();
        let out_rel = item.output_rel.clone();
        let version_rel = asset.as_ref().map(|(_, v)| v.clone());
        let warning = out.warning.take();
        let asset_version = item.version;
        let (prepared, item_version) =
            tokio::task::spawn_blocking(move || -> Result<(Option<thumbs::PreparedImage>, u32)> {
                let mut out = out;
                let dest = ws.resolve(&out_rel)?;
                let Some(version_rel) = version_rel else {
                    // A scene item made again keeps its earlier file as a version.
                    let version = keep_earlier_version(&dest)?;
                    out.install(&dest)?;
                    return Ok((None, version));
                };
                out.install(&dest)?;
                let bytes = match out.bytes.take() {
                    Some(b) => b,
                    None => Arc::new(
                        std::fs::read(&dest).map_err(|e| CoreError::io("cannot read", &dest, e))?,
                    ),
                };
                let prepared = match out.prepared.take() {
                    Some(p) => p,
                    None => thumbs::prepare_bytes(&ws, &bytes).map_err(|e| match e {
                        CoreError::Imaging(err) => {
                            CoreError::invalid("image", format!("{}: {err}", out_rel.display()))
                        }
                        other => other,
                    })?,
                };
                ws.write_atomic(&version_rel, &bytes)?;
                Ok((Some(prepared), asset_version))
            })
            .await
            .map_err(|e| {
                StepFailure::new(
                    ErrorCategory::Transient,
                    format!("thumbnail thread failed: {e}"),
                )
            })??;
        if let Some(w) = &warning {
            tracing::warn!(item = %item.key, "{w}");
        }
        let written = match (asset, prepared) {
            (Some((name, _)), Some(prepared)) => {
                let mut v = prepared.into_version(item.version, Source::Worker);
                v.note = warning.clone();
                let res = store
                    .add_asset_version(
                        task.id,
                        &name,
                        item.version - 1,
                        &v,
                        Some((&claim.lease, Step::Assets, &output)),
                        Source::Worker,
                    )
                    .await;
                if res.is_ok() && item.version > 1 {
                    self.core.events.emit(DomainEvent::AssetVersionAdded {
                        task_id: task.id,
                        name: name.to_string(),
                        version: item.version,
                        source: Source::Worker,
                    });
                }
                res
            }
            _ => {
                let done = Finished {
                    item: &item.key,
                    output: &output,
                    version: item_version,
                    note: warning.as_deref(),
                };
                store.checkpoint_leased(&claim.lease, job.step, done).await
            }
        };
        match written {
            Ok(()) => Ok(()),
            // The lease went between the check above and the write: nothing was recorded.
            Err(CoreError::Conflict(_)) if !store.lease_held(&claim.lease).await? => {
                claim.stop(StopReason::LeaseLost);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The items a step must produce, from the pipeline's rules and the task's data; `done`
    /// holds the items already checkpointed in this run of the step.
    async fn items(
        &self,
        task: &Task,
        step: Step,
        channel: &ChannelConfig,
        done: &HashSet<String>,
    ) -> std::result::Result<Vec<StepItem>, StepFailure> {
        let root = self.core.workspace.root();
        let store = &self.core.store;
        Ok(match step {
            Step::Assets => {
                let plan = self.asset_plan(task, channel).await?;
                store.ensure_assets(task.id, &plan.assets).await?;
                pipeline::asset_items(task, &store.assets(task.id).await?, done)
            }
            Step::Composites => {
                pipeline::composite_items(task, root, &store.assets(task.id).await?)?
            }
            Step::Video => pipeline::clip_items(
                task,
                root,
                &store.checkpoints(task.id, Step::Composites).await?,
                &self.scenes(task).await?,
            ),
            Step::Audio => pipeline::narration_items(task, &self.scenes(task).await?),
            Step::Sfx => pipeline::sfx_items(task, &self.scenes(task).await?),
            Step::Assembly => pipeline::assembly_items(task, root, &self.scenes(task).await?),
            Step::Upload => pipeline::upload_items(task, root),
        })
    }

    /// The task's scene plan, from its assets and its plan text.
    async fn scenes(
        &self,
        task: &Task,
    ) -> std::result::Result<Vec<crate::scene::Scene>, StepFailure> {
        let store = &self.core.store;
        let plan = store.task_plan(task.id).await?;
        let edits = store.scene_edits(task.id).await?;
        pipeline::scenes(task, &store.assets(task.id).await?, plan.as_deref(), &edits)
    }

    /// Where an item reports how far it got: shown as the worker's state ("Assembling Video:
    /// 1/1, 42%"), at most once per whole percent.
    fn item_progress(&self, task: &Task, item: &StepItem, total: usize) -> ItemProgress {
        let events = self.core.events.clone();
        let (task_id, board) = (task.id, task.status.board_name());
        let (key, index) = (item.key.clone(), item.index);
        let last = std::sync::atomic::AtomicU32::new(u32::MAX);
        ItemProgress::new(move |fraction| {
            let percent = (fraction * 100.0).floor() as u32;
            if last.swap(percent, std::sync::atomic::Ordering::Relaxed) == percent {
                return;
            }
            let doing = if total > 1 {
                format!("{board}: {index}/{total}, {key} {percent}%")
            } else {
                format!("{board}: {percent}%")
            };
            events.emit(DomainEvent::Worker {
                state: WorkerState::Working { task_id, doing },
            });
        })
    }

    /// The task's asset plan: the text stored with it, else the plan file it was created with,
    /// else one derived from its topic and story with the channel's counts.
    async fn asset_plan(&self, task: &Task, channel: &ChannelConfig) -> Result<AssetPlan> {
        match (self.core.store.task_plan(task.id).await?, &task.plan_file) {
            (Some(text), _) => AssetPlan::parse(&text, "the task's plan"),
            // Tasks created before plans were stored as text name a local file.
            (None, Some(p)) => AssetPlan::from_file(std::path::Path::new(p)),
            (None, None) => {
                AssetPlan::derive(&task.topic, &task.story_direction, channel.counts()?)
            }
        }
    }
}

/// The version number the next file at `dest` gets: one more than every version kept under
/// `versions/` beside it and than the current file.
pub(crate) fn next_item_version(dest: &std::path::Path) -> u32 {
    let kept = kept_versions(dest);
    if dest.is_file() { kept + 2 } else { kept + 1 }
}

/// The highest version kept as `versions/{stem}.v{n}.{ext}` beside `dest` (0 with none).
fn kept_versions(dest: &std::path::Path) -> u32 {
    let (Some(dir), Some(stem)) = (dest.parent(), dest.file_stem().and_then(|s| s.to_str())) else {
        return 0;
    };
    let ext = dest.extension().and_then(|e| e.to_str()).unwrap_or("bin");
    let prefix = format!("{stem}.v");
    let suffix = format!(".{ext}");
    std::fs::read_dir(dir.join("versions"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix(&prefix)?
                        .strip_suffix(&suffix)?
                        .parse::<u32>()
                        .ok()
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Moves the file at `dest`, if there is one, to `versions/{stem}.v{n}.{ext}` beside it, and
/// gives the version number the new file gets (see [`next_item_version`]).
fn keep_earlier_version(dest: &std::path::Path) -> Result<u32> {
    let kept = kept_versions(dest);
    if !dest.is_file() {
        return Ok(kept + 1);
    }
    let (Some(dir), Some(stem)) = (dest.parent(), dest.file_stem().and_then(|s| s.to_str())) else {
        return Ok(1);
    };
    let ext = dest.extension().and_then(|e| e.to_str()).unwrap_or("bin");
    let versions = dir.join("versions");
    std::fs::create_dir_all(&versions)
        .map_err(|e| CoreError::io("cannot create folder", &versions, e))?;
    let keep = versions.join(format!("{stem}.v{}.{ext}", kept + 1));
    std::fs::rename(dest, &keep).map_err(|e| CoreError::io("cannot keep", &keep, e))?;
    Ok(kept + 2)
}

/// A failure that stops only its own item: the input cannot be made as asked (a provider's
/// safety refusal, an unreadable answer for that prompt). A missing key, a budget or a
/// transient error would stop every item alike, so those stop the step.
fn refuses_only_this_item(f: &StepFailure) -> bool {
    f.category == ErrorCategory::Permanent && !f.waits
}

/// The step's failure when some items were refused and the rest made: each refused item with
/// its reason, and what to do.
fn items_refused(refused: &[StepFailure], total: usize) -> StepFailure {
    // The first few reasons: each item's own reason is on its tile, and a log line stays readable.
    const LISTED: usize = 3;
    let mut reasons: Vec<String> = refused
        .iter()
        .take(LISTED)
        .map(|f| f.message.clone())
        .collect();
    if refused.len() > LISTED {
        reasons.push(format!("and {} more", refused.len() - LISTED));
    }
    StepFailure::new(
        ErrorCategory::Permanent,
        format!(
            "{} of {total} items could not be made ({}); the others are kept: change what was refused, then retry",
            refused.len(),
            reasons.join("; ")
        ),
    )
}

#[cfg(test)]
mod item_failure_tests {
    use super::*;

    #[test]
    fn only_a_permanent_failure_stops_just_its_item() {
        let refused = StepFailure::new(ErrorCategory::Permanent, "villain: Gemini refused");
        assert!(refuses_only_this_item(&refused));
        for other in [
            StepFailure::new(ErrorCategory::Transient, "503"),
            StepFailure::new(ErrorCategory::Configuration, "no key"),
            StepFailure::waiting("budget reached"),
        ] {
            assert!(!refuses_only_this_item(&other), "{}", other.message);
        }
    }

    #[test]
    fn the_step_failure_names_every_refused_item_and_what_to_do() {
        let f = items_refused(
            &[
                StepFailure::new(ErrorCategory::Permanent, "villain: refused (SAFETY)"),
                StepFailure::new(ErrorCategory::Permanent, "lantern: refused (IMAGE_SAFETY)"),
            ],
            22,
        );
        assert_eq!(f.category, ErrorCategory::Permanent);
        assert!(
            f.message.starts_with("2 of 22 items could not be made"),
            "{}",
            f.message
        );
        assert!(f.message.contains("villain: refused (SAFETY)"));
        assert!(f.message.contains("lantern: refused (IMAGE_SAFETY)"));
        assert!(f.message.contains("then retry"));
        let many: Vec<StepFailure> = (1..=5)
            .map(|i| StepFailure::new(ErrorCategory::Permanent, format!("item_{i}: refused")))
            .collect();
        let f = items_refused(&many, 22);
        assert!(
            f.message.contains("item_3: refused; and 2 more"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("item_4"), "{}", f.message);
    }
}
