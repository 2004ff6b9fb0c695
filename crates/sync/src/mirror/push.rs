//! Out: the event log's outbox to Notion writes, each task's events in order.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use futures::StreamExt;
use reviewdesk_core::store::{TaskEventRow, now_ms};
use reviewdesk_core::task::error_log_line;
use reviewdesk_core::{CoreError, Source, Status, Task, TaskId};
use reviewdesk_notion::{Idempotency, PageId, PageUpdate};

use super::clip_rows::clips_at;
use super::{Mirror, PG_RESCAN_IDS, PUSH_TASKS, affects_every_task};
use crate::db::{DiscardedEvent, StuckEvent};
use crate::error::{Result, SyncError};
use crate::rows::asset_status;

impl Mirror {
    /// Takes the log's new events in, then mirrors every task's waiting events, each task in
    /// log order, now (tasks waiting out a backoff included); returns how many events were
    /// handled.
    ///
    /// Tasks are independent: up to 3 are mirrored at once (each one's events strictly in
    /// order), and when one of a task's events fails, it and the events behind it wait (retried
    /// with backoff, see [`Mirror::push_due`]) while other tasks go on. An event leaves the
    /// outbox only once fully handled, so nothing is lost in a crash, and find-or-create keeps a
    /// replay from duplicating pages. Returns a failure after the other tasks had their turn; a
    /// failure that every task would meet (Notion down, token revoked, rate limited) starts no
    /// further task and is the one returned.
    pub async fn push_once(&self) -> Result<usize> {
        self.push_round(true).await
    }

    /// What the out loop runs: like [`Mirror::push_once`], but a task whose oldest waiting event
    /// failed is left alone until its backoff (doubling from `backoff` to `max_backoff`) is over.
    pub async fn push_due(&self) -> Result<usize> {
        self.push_round(false).await
    }

    /// How many ids behind the cursor each intake re-reads (PostgreSQL transactions may commit
    /// out of id order; SQLite serialises writers, so nothing can appear behind the cursor).
    pub(super) fn rescan(&self) -> i64 {
        match self.core.store.backend() {
            reviewdesk_core::store::Backend::Postgres => PG_RESCAN_IDS,
            reviewdesk_core::store::Backend::Sqlite => 0,
        }
    }

    pub(super) async fn push_round(&self, force: bool) -> Result<usize> {
        let _guard = self.out_lock.lock().await;
        self.store.intake(self.rescan()).await?;
        let now = now_ms();
        let due: Vec<String> = self
            .store
            .heads()
            .await?
            .into_iter()
            .filter(|(_, _, due)| force || *due <= now)
            .map(|(task, _, _)| task)
            .collect();
        // Up to PUSH_TASKS tasks at once, each one's events strictly in order (one future per
        // task). After a failure every task would meet, no further task starts; the ones already
        // under way are never cancelled half-way (each stops at its own first failure).
        let stop = AtomicBool::new(false);
        let stop = &stop;
        let mut rounds = futures::stream::iter(due.into_iter().map(|task| async move {
            if stop.load(Ordering::Acquire) {
                return (0, Ok(()));
            }
            let (n, result) = self.push_task(&task).await;
            if result.as_ref().is_err_and(affects_every_task) {
                stop.store(true, Ordering::Release);
            }
            (n, result)
        }))
        .buffer_unordered(PUSH_TASKS);
        let mut handled = 0;
        let mut first: Option<SyncError> = None;
        while let Some((n, result)) = rounds.next().await {
            handled += n;
            if let Err(e) = result {
                // A failure every task meets is the one to report.
                match &first {
                    Some(f) if affects_every_task(f) || !affects_every_task(&e) => {}
                    _ => first = Some(e),
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(handled),
        }
    }

    /// Mirrors one task's waiting events in order, stopping at the first failure (recorded on
    /// that event with its next attempt time). Returns how many were handled.
    pub(super) async fn push_task(&self, task: &str) -> (usize, Result<()>) {
        let mut handled = 0;
        loop {
            let pending = match self.store.pending_of(task).await {
                Ok(p) => p,
                Err(e) => return (handled, Err(e)),
            };
            let Some(&(head, _)) = pending.first() else {
                return (handled, Ok(()));
            };
            let attempts: HashMap<i64, i64> = pending.iter().copied().collect();
            let events: Vec<TaskEventRow> = match TaskId::from_str(task) {
                Ok(id) => match self.core.store.events_after(head - 1, Some(id), 200).await {
                    Ok(rows) => rows
                        .into_iter()
                        .filter(|e| attempts.contains_key(&e.id))
                        .collect(),
                    Err(e) => return (handled, Err(e.into())),
                },
                Err(_) => Vec::new(),
            };
            if events.is_empty() {
                // Not a task id this build knows: nothing to mirror.
                for (id, _) in &pending {
                    if let Err(e) = self.store.mark_done(*id).await {
                        return (handled, Err(e));
                    }
                }
                return (handled, Ok(()));
            }
            // A status push carries Status, Error Log and Retry Status: an event followed by a
            // later waiting status change of the same task needs only its side effects.
            let last_status = events
                .iter()
                .filter(|e| e.kind == "status_changed")
                .map(|e| e.id)
                .max();
            for ev in &events {
                let superseded = last_status.is_some_and(|id| id > ev.id);
                match self.handle_event(ev, superseded).await {
                    Ok(()) => {
                        if let Err(e) = self.store.mark_done(ev.id).await {
                            return (handled, Err(e));
                        }
                        handled += 1;
                    }
                    Err(e) => {
                        let n = attempts.get(&ev.id).copied().unwrap_or(0) + 1;
                        let next = now_ms() + self.backoff_ms(n);
                        tracing::warn!(
                            task_id = task,
                            event_id = ev.id,
                            attempts = n,
                            "Notion mirror: event {} ({}) of task {task} failed; it and the task's later events wait, other tasks go on: {e}",
                            ev.id,
                            ev.kind
                        );
                        if let Err(db) =
                            self.store.mark_failed(ev.id, n, next, &e.to_string()).await
                        {
                            tracing::warn!("Notion mirror: could not record the failure: {db}");
                        }
                        return (handled, Err(e));
                    }
                }
            }
        }
    }

    /// The wait before attempt `attempts + 1` of a failing event.
    pub(super) fn backoff_ms(&self, attempts: i64) -> i64 {
        let base = self.config.backoff.as_millis().max(1) as i64;
        let max = self.config.max_backoff.as_millis().max(1) as i64;
        let shift = (attempts - 1).clamp(0, 30) as u32;
        base.saturating_mul(1i64 << shift).min(max)
    }

    /// The oldest waiting event of every task whose mirroring is failing.
    pub async fn stuck(&self) -> Result<Vec<StuckEvent>> {
        self.store.stuck().await
    }

    /// Drops a waiting event for good (for one that can never succeed, e.g. refused by Notion's
    /// validation), so the task's later events can go. Recorded in `sync_discarded`, in the
    /// task's Error Log (which reaches Notion with the next push) and in the log file.
    pub async fn discard(
        &self,
        event_id: i64,
        reason: &str,
        source: Source,
    ) -> Result<DiscardedEvent> {
        let _guard = self.out_lock.lock().await;
        let ev = self
            .core
            .store
            .events_after(event_id - 1, None, 1)
            .await?
            .into_iter()
            .find(|e| e.id == event_id);
        let kind = match &ev {
            Some(e) => match e.to_status.as_deref() {
                Some(to) => format!(
                    "{} to {}",
                    e.kind,
                    Status::from_str(to).map_or(to, |s| s.board_name())
                ),
                None => e.kind.clone(),
            },
            None => "unknown".into(),
        };
        let who = reviewdesk_core::review::local_reviewer()
            .name
            .map(|n| format!("{n} ({})", source.as_str()))
            .unwrap_or_else(|| source.as_str().to_string());
        let d = self
            .store
            .discard(event_id, &kind, reason, &who)
            .await?
            .ok_or(SyncError::NotWaiting { event_id })?;
        let line_text = format!(
            "Notion mirror: event {event_id} ({kind}) discarded by {who} after {} failed attempt(s): {reason}{}",
            d.attempts,
            d.last_error
                .as_deref()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        );
        tracing::warn!(task_id = %d.task_id, event_id, "{line_text}");
        if let Ok(task_id) = TaskId::from_str(&d.task_id) {
            match self.core.store.task(task_id).await {
                Ok(task) => {
                    let line = error_log_line(Utc::now(), task.status, &line_text);
                    self.core.store.append_log(task_id, &line, source).await?;
                }
                Err(CoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(d)
    }

    pub(super) async fn handle_event(&self, ev: &TaskEventRow, superseded: bool) -> Result<()> {
        let Ok(task_id) = TaskId::from_str(&ev.task_id) else {
            return Ok(());
        };
        let task = match self.core.store.task(task_id).await {
            Ok(t) => t,
            Err(CoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Some(ctx) = self.ctx(&task.channel_id).await? else {
            return Ok(());
        };
        match ev.kind.as_str() {
            "created" => {
                self.ensure_task_page(&ctx, &task).await?;
            }
            "status_changed" => {
                let (Some(from), Some(to)) = (
                    ev.from_status
                        .as_deref()
                        .and_then(|s| Status::from_str(s).ok()),
                    ev.to_status
                        .as_deref()
                        .and_then(|s| Status::from_str(s).ok()),
                ) else {
                    return Ok(());
                };
                let page = self.ensure_task_page(&ctx, &task).await?;
                if to == Status::AssetsReady {
                    // Publish BEFORE the status, so no reviewer sees the status without images.
                    self.publish_assets(&ctx, &task, &page).await?;
                }
                if from == Status::AssetsReady && to == Status::AssetsApproved {
                    self.mark_rows(&task, None, asset_status::APPROVED).await?;
                }
                if from == Status::AssetsReady && to == Status::AssetError {
                    let flagged = self.rejected_flags(&task).await?;
                    self.mark_rows(&task, Some(&flagged), asset_status::REJECTED)
                        .await?;
                }
                if let Some(kind) = clips_at(to) {
                    // The same order at the later gates: their clips before their status.
                    self.publish_clips(&ctx, &task, &page, kind).await?;
                }
                if let Some(kind) = clips_at(from) {
                    if from.approved_status() == Some(to) {
                        self.mark_clip_rows(&task, kind, None, asset_status::APPROVED)
                            .await?;
                    } else if from.rejected_status() == Some(to) {
                        let flagged = self.rejected_flags(&task).await?;
                        self.mark_clip_rows(&task, kind, Some(&flagged), asset_status::REJECTED)
                            .await?;
                    }
                }
                if !superseded {
                    self.push_status(&ctx, &task, &page, to, ev.created_at)
                        .await?;
                }
            }
            "log" | "retry_scheduled" if !superseded => {
                if let Some(page) = task.notion_page_id.as_deref() {
                    let update = PageUpdate {
                        properties: self.log_row(&task).to_properties(ctx.status_shape),
                        in_trash: None,
                    };
                    self.client
                        .update_page(&PageId::new(page), &update, Idempotency::Idempotent)
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) async fn rejected_flags(&self, task: &Task) -> Result<Vec<String>> {
        let audit = self.core.store.audit(task.id).await?;
        Ok(audit
            .iter()
            .rev()
            .find(|a| a.decision == "reject")
            .map(|a| a.flagged.clone())
            .unwrap_or_default())
    }
}
