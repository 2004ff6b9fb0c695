//! The review service: the one place where decisions are validated, recorded and announced.
//! The desktop, the browser, the CLI and the Notion poller all call it.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::context::Core;
use crate::error::{CoreError, Result};
use crate::event::{DomainEvent, Source};
use crate::ids::{AssetName, TaskId};
use crate::status::{Status, Step};
use crate::store::{AuditRow, Change, Effect, Reviewer, Transition};
use crate::task::{Task, error_log_line};

/// Most tasks one bulk decision may touch.
pub const MAX_BULK: usize = 100;

/// Who decides, from where, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct ReviewInput {
    /// The reviewer.
    pub reviewer: Reviewer,
    /// Where the decision was made.
    pub source: Source,
    /// Feedback (required to reject) or an optional note.
    pub reason: Option<String>,
}

impl ReviewInput {
    /// A decision by `reviewer` through `source`, with no reason yet.
    pub fn by(source: Source, reviewer: Reviewer) -> Self {
        ReviewInput {
            reviewer,
            source,
            reason: None,
        }
    }

    /// A decision by the local OS user through `source` (a window, a browser, the CLI).
    pub fn local(source: Source, reason: Option<String>) -> Self {
        ReviewInput {
            reviewer: local_reviewer(),
            source,
            reason,
        }
    }

    /// Adds a reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// The reviewer behind local decisions: the OS user.
pub fn local_reviewer() -> Reviewer {
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok();
    Reviewer {
        id: name.as_ref().map(|n| format!("local:{n}")),
        name,
        email: None,
    }
}

/// Review operations.
#[derive(Debug, Clone)]
pub struct ReviewService {
    core: Arc<Core>,
}

impl ReviewService {
    /// The service over a core.
    pub fn new(core: Arc<Core>) -> Self {
        ReviewService { core }
    }

    fn audit(
        task: &Task,
        decision: &str,
        to: Status,
        input: &ReviewInput,
        flagged: Vec<String>,
    ) -> AuditRow {
        AuditRow {
            id: 0,
            task_id: task.id.to_string(),
            gate: task.status.as_str().into(),
            decision: decision.into(),
            resulting_status: to.as_str().into(),
            reviewer: input.reviewer.clone(),
            source: input.source.as_str().into(),
            reason: input.reason.clone().filter(|r| !r.trim().is_empty()),
            flagged,
            correlation_id: task.correlation_id.clone(),
            created_at: Utc::now(),
        }
    }

    fn at_gate(task: &Task) -> Result<Status> {
        if task.status.is_gate() {
            Ok(task.status)
        } else {
            Err(CoreError::NotAtGate {
                task: task.id.to_string(),
                status: task.status,
            })
        }
    }

    fn announce(&self, before: &Task, after: &Task, decision: &str, source: Source) {
        self.core.events.emit(DomainEvent::StatusChanged {
            task_id: after.id,
            from: before.status,
            to: after.status,
            source,
        });
        self.core.events.emit(DomainEvent::DecisionMade {
            task_id: after.id,
            gate: before.status,
            decision: decision.into(),
            status: after.status,
            source,
        });
        self.core.work_available.notify_waiters();
    }

    /// Approves the task at its gate: gate → *_approved; the worker resumes at the next step.
    pub async fn approve(&self, id: TaskId, input: ReviewInput) -> Result<Task> {
        self.bulk_approve(&[id], input)
            .await
            .map(|mut v| v.remove(0))
    }

    /// Approves up to 100 tasks at once, all or nothing: every transition is checked before any
    /// is made, and all commit in one transaction with one audit row per task.
    pub async fn bulk_approve(&self, ids: &[TaskId], input: ReviewInput) -> Result<Vec<Task>> {
        let tasks = self.load_batch(ids).await?;
        let mut changes = Vec::new();
        for t in &tasks {
            let gate = Self::at_gate(t)?;
            let to = gate.approved_status().expect("gate");
            let mut tr = Transition::new(gate, to, input.source);
            tr.clear_retry = true;
            tr.payload = serde_json::json!({"decision": "approve", "reviewer": input.reviewer, "reason": input.reason});
            if gate == Status::AssetsReady {
                tr.effects.push(Effect::SettleAssets { approved: true });
            }
            changes.push(Change {
                id: t.id,
                transition: tr,
                audit: Some(Self::audit(t, "approve", to, &input, vec![])),
            });
        }
        let after = self.core.store.apply(&changes).await?;
        for (before, after) in tasks.iter().zip(&after) {
            tracing::info!(task_id = %after.id, correlation_id = %after.correlation_id, source = input.source.as_str(), "approved at {}", before.status);
            self.announce(before, after, "approve", input.source);
        }
        Ok(after)
    }

    /// Rejects the task at its gate: gate → its error status, the feedback appended to error_log,
    /// the flagged items recorded so that a retry regenerates only those. At Assets Ready the
    /// flags are asset names and, when given, replace the current flags; at a later gate they
    /// name items of the step under review (`clip_03`, `narration_05`).
    pub async fn reject(
        &self,
        id: TaskId,
        flags: Option<Vec<AssetName>>,
        input: ReviewInput,
    ) -> Result<Task> {
        self.bulk_reject(&[id], flags, input)
            .await
            .map(|mut v| v.remove(0))
    }

    /// Rejects up to 100 tasks at once with the same feedback, all or nothing.
    pub async fn bulk_reject(
        &self,
        ids: &[TaskId],
        flags: Option<Vec<AssetName>>,
        input: ReviewInput,
    ) -> Result<Vec<Task>> {
        let feedback = input.reason.as_deref().map(str::trim).unwrap_or("");
        if feedback.is_empty() {
            return Err(CoreError::invalid(
                "feedback",
                "a rejection needs feedback saying what to change",
            ));
        }
        let tasks = self.load_batch(ids).await?;
        let now = Utc::now();
        let mut changes = Vec::new();
        let mut flagged_per_task = Vec::new();
        for t in &tasks {
            let gate = Self::at_gate(t)?;
            let to = gate.rejected_status().expect("gate");
            let assets = self.core.store.assets(t.id).await?;
            let flagged: Vec<String> = match (&flags, gate) {
                (Some(names), Status::AssetsReady) => {
                    for n in names {
                        if !assets.iter().any(|a| &a.name == n) {
                            return Err(CoreError::NotFound {
                                what: "asset",
                                id: format!("{}/{n}", t.id),
                            });
                        }
                    }
                    names.iter().map(|n| n.to_string()).collect()
                }
                (_, Status::AssetsReady) => assets
                    .iter()
                    .filter(|a| a.flagged)
                    .map(|a| a.name.to_string())
                    .collect(),
                // At a later gate the flags name items of the step under review (`clip_03`).
                (Some(names), gate) => {
                    let step = flagged_step(gate);
                    let items: std::collections::HashSet<String> = self
                        .core
                        .store
                        .checkpoints(t.id, step)
                        .await?
                        .into_iter()
                        .map(|(item, _)| item)
                        .collect();
                    for n in names {
                        if !items.contains(n.as_str()) {
                            return Err(CoreError::NotFound {
                                what: "item",
                                id: format!("{}/{step}/{n}", t.id),
                            });
                        }
                    }
                    names.iter().map(|n| n.to_string()).collect()
                }
                _ => vec![],
            };
            let mut tr = Transition::new(gate, to, input.source);
            tr.log_line = Some(error_log_line(now, to, feedback));
            tr.clear_retry = true;
            tr.payload = serde_json::json!({"decision": "reject", "reviewer": input.reviewer, "reason": feedback, "flagged": flagged});
            // The flags, the asset states and reopening the step commit with the status change:
            // a rejection is never half applied.
            if gate == Status::AssetsReady {
                if let Some(names) = &flags {
                    tr.effects.push(Effect::SetFlags(names.clone()));
                }
                tr.effects.push(Effect::SettleAssets { approved: false });
            }
            if let Some(step) = gate.reviewed_step() {
                // Only the flagged items, or with none flagged the whole step, run again.
                let step_flagged = flagged_step(gate);
                let items = (!flagged.is_empty()).then(|| flagged.clone());
                if step_flagged != step && items.is_some() {
                    // Effects flagged at Ready for Review: those effects, then the whole video.
                    tr.effects.push(Effect::ReopenStep {
                        step: step_flagged,
                        items,
                    });
                    tr.effects.push(Effect::ReopenStep { step, items: None });
                } else {
                    tr.effects.push(Effect::ReopenStep { step, items });
                }
            }
            changes.push(Change {
                id: t.id,
                transition: tr,
                audit: Some(Self::audit(t, "reject", to, &input, flagged.clone())),
            });
            flagged_per_task.push(flagged);
        }
        let after = self.core.store.apply(&changes).await?;
        for ((before, after), flagged) in tasks.iter().zip(&after).zip(flagged_per_task) {
            tracing::info!(task_id = %after.id, correlation_id = %after.correlation_id, flagged = flagged.len(), "rejected at {}", before.status);
            self.announce(before, after, "reject", input.source);
        }
        Ok(after)
    }

    /// Flags (or unflags) one asset for regeneration, with an optional note.
    pub async fn flag(
        &self,
        id: TaskId,
        name: &AssetName,
        flagged: bool,
        note: Option<String>,
        source: Source,
    ) -> Result<()> {
        let task = self.core.store.task(id).await?;
        if !matches!(task.status, Status::AssetsReady | Status::AssetError) {
            return Err(CoreError::invalid(
                "flag",
                format!(
                    "assets can be flagged at Assets Ready (the task is in {})",
                    task.status
                ),
            ));
        }
        let note = note.filter(|n| !n.trim().is_empty());
        self.core
            .store
            .set_flag(id, name, flagged, note.as_deref(), source)
            .await?;
        self.core.events.emit(DomainEvent::AssetChanged {
            task_id: id,
            name: name.to_string(),
            source,
        });
        Ok(())
    }

    /// Sends an errored, published or cancelled task back to the queue. After a rejection the
    /// worker regenerates only what was flagged.
    pub async fn retry(&self, id: TaskId, input: ReviewInput) -> Result<Task> {
        let task = self.core.store.task(id).await?;
        let mut tr = Transition::new(task.status, Status::Queued, input.source);
        tr.clear_retry = true;
        tr.payload = serde_json::json!({"decision": "retry", "reviewer": input.reviewer});
        if !task.status.can_transition_to(Status::Queued) || matches!(task.status, Status::Draft) {
            return Err(CoreError::RefusedTransition {
                from: task.status,
                to: Status::Queued,
            });
        }
        if task.status == Status::Published {
            // A re-run of a published video uploads again.
            tr.effects.push(Effect::ReopenStep {
                step: Step::Upload,
                items: None,
            });
        }
        let audit = Self::audit(&task, "retry", Status::Queued, &input, vec![]);
        self.commit_one(&task, tr, Some(audit)).await
    }

    /// Applies one status change (with its audit row), announces it and wakes the workers.
    async fn commit_one(
        &self,
        task: &Task,
        tr: Transition<'_>,
        audit: Option<AuditRow>,
    ) -> Result<Task> {
        let source = tr.source;
        let after = self
            .core
            .store
            .apply(&[Change {
                id: task.id,
                transition: tr,
                audit,
            }])
            .await?
            .remove(0);
        self.core.events.emit(DomainEvent::StatusChanged {
            task_id: task.id,
            from: task.status,
            to: after.status,
            source,
        });
        self.core.work_available.notify_waiters();
        Ok(after)
    }

    /// Moves a draft to the queue.
    pub async fn queue(&self, id: TaskId, source: Source) -> Result<Task> {
        let task = self.core.store.task(id).await?;
        self.commit_one(
            &task,
            Transition::new(task.status, Status::Queued, source),
            None,
        )
        .await
    }

    /// Stops a task that is not finished.
    pub async fn cancel(&self, id: TaskId, input: ReviewInput) -> Result<Task> {
        let task = self.core.store.task(id).await?;
        let mut tr = Transition::new(task.status, Status::Cancelled, input.source);
        tr.release_lease = true;
        if let Some(reason) = input.reason.as_deref().filter(|r| !r.trim().is_empty()) {
            tr.log_line = Some(error_log_line(Utc::now(), Status::Cancelled, reason));
        }
        let audit = Self::audit(&task, "cancel", Status::Cancelled, &input, vec![]);
        self.commit_one(&task, tr, Some(audit)).await
    }

    async fn load_batch(&self, ids: &[TaskId]) -> Result<Vec<Task>> {
        if ids.is_empty() {
            return Err(CoreError::invalid("task_ids", "name at least one task"));
        }
        if ids.len() > MAX_BULK {
            return Err(CoreError::invalid(
                "task_ids",
                format!("{} tasks given; at most {MAX_BULK} per decision", ids.len()),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if !seen.insert(*id) {
                return Err(CoreError::invalid(
                    "task_ids",
                    format!("task {id} is named twice"),
                ));
            }
            out.push(self.core.store.task(*id).await?);
        }
        Ok(out)
    }
}

/// The step whose items a rejection at `gate` may flag: the step under review, except at Ready
/// for Review, where they are the sound effects. Those have no gate of their own (they are made
/// after Audio Ready) and are first heard in the final video; flagging one there remakes it and
/// then the whole video.
fn flagged_step(gate: Status) -> Step {
    match gate {
        Status::FinalReview => Step::Sfx,
        g => g.reviewed_step().unwrap_or(Step::Assets),
    }
}
