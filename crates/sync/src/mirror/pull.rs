//! In: Tasks pages (polled, or rung by a webhook) to calls of the review service.

use chrono::Utc;
use reviewdesk_core::store::{Reviewer, now_ms};
use reviewdesk_core::task::error_log_line;
use reviewdesk_core::{
    AssetName, CoreError, NewTask, Priority, ReviewInput, ReviewService, Source, Status,
    StatusKind, Task, TaskService,
};
use reviewdesk_notion::{
    Direction, Filter, Idempotency, Page, PageId, PageUpdate, Query, Sort, Timestamp,
};

use super::clip_rows::clips_at;
use super::{ChannelCtx, Mirror, POLL_MARGIN_MS, affects_every_task, asset_key};
use crate::error::{Result, SyncError};
use crate::rows::{AssetRow, StatusShape, TaskRow, asset_status, assets, tasks};

impl Mirror {
    /// Polls every channel's Tasks data source from its cursor (minus a margin), to the end of
    /// the pagination, and acts on the creators' changes; returns how many pages were read.
    pub async fn pull_once(&self) -> Result<usize> {
        let mut n = 0;
        for ctx in self.all_ctx().await? {
            let name = format!("poll:{}", ctx.tasks_ds);
            let cursor = self.store.cursor(&name).await?;
            let filter = (cursor > 0).then(|| {
                Filter::last_edited_on_or_after(reviewdesk_core::store::ms_to_dt(
                    cursor - POLL_MARGIN_MS,
                ))
            });
            let pages = self
                .client
                .query_data_source(
                    &ctx.tasks_ds,
                    &Query {
                        filter,
                        sorts: vec![Sort::Timestamp(
                            Timestamp::LastEditedTime,
                            Direction::Ascending,
                        )],
                        page_size: Some(100),
                    },
                )
                .await?;
            let mut max = cursor;
            for page in &pages {
                // Only a failure every page would meet stops the poll (before the cursor moves,
                // so the next poll tries again); one page's refusal is recorded and passed over.
                self.apply_page(&ctx, page).await?;
                max = max.max(page.last_edited_time.timestamp_millis());
                n += 1;
            }
            if max > cursor {
                self.store.set_cursor(&name, max).await?;
            }
        }
        Ok(n)
    }

    /// Reads one page (a webhook doorbell) and runs it through the same path as polling.
    pub async fn pull_page(&self, page_id: &str) -> Result<()> {
        let page = self.client.retrieve_page(&PageId::new(page_id)).await?;
        let ds = match &page.parent {
            reviewdesk_notion::Parent::DataSource { data_source_id, .. } => data_source_id.clone(),
            _ => return Ok(()),
        };
        for ctx in self.all_ctx().await? {
            if ctx.tasks_ds == ds {
                return self.apply_page(&ctx, &page).await;
            }
        }
        Ok(())
    }

    /// Acts on one page. A failure that concerns this page only (a title too long, an inactive
    /// channel, a value Notion refuses…) is recorded on the page's Error Log and locally
    /// ([`SyncStore::refused_pages`]) and is not returned, so other pages, and later decisions,
    /// still go through. Failures every page would meet (Notion unreachable, token revoked,
    /// local database) are returned.
    pub(super) async fn apply_page(&self, ctx: &ChannelCtx, page: &Page) -> Result<()> {
        let fingerprint = page_fingerprint(page);
        let known = self.store.refused_page(page.id.as_str()).await?;
        if known.as_ref().is_some_and(|r| r.fingerprint == fingerprint) {
            // The same change, read again within the poll margin: already refused and recorded.
            return Ok(());
        }
        match self.pull_page_in(ctx, page).await {
            Ok(()) => {
                // Our own Error Log write is an edit too: only a person's later edit clears it.
                if known.is_some() && page.last_edited_by.id != self.bot_id().await? {
                    self.store.clear_refused_page(page.id.as_str()).await?;
                }
                Ok(())
            }
            Err(e) if affects_every_task(&e) => Err(e),
            Err(e) => self.refuse_page(page, fingerprint, &e).await,
        }
    }

    /// Records why a page's change was not applied: appended to its Error Log in Notion (and to
    /// the local task's log when the page has one), and in `sync_refused_pages`.
    pub(super) async fn refuse_page(
        &self,
        page: &Page,
        fingerprint: String,
        why: &SyncError,
    ) -> Result<()> {
        let row = TaskRow::from_page(page);
        let notion_status = row.status.unwrap_or_default();
        let title = row.title.unwrap_or_default();
        let reason = why.to_string().replace(['\r', '\n'], " ");
        let text = format!(
            "Review Desk did not apply this change: {reason} — fix the page and set its Status again"
        );
        tracing::warn!(page_id = %page.id, "Notion page \"{title}\" not applied, the poll goes on: {reason}");
        let task = self
            .core
            .store
            .task_by_notion_page(page.id.as_str())
            .await?;
        let line = match &task {
            Some(t) => error_log_line(Utc::now(), t.status, &text),
            None => format!(
                "[{}] {}: {text}",
                Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                if notion_status.is_empty() {
                    "No status"
                } else {
                    notion_status.as_str()
                }
            ),
        };
        let log = row.error_log.unwrap_or_default();
        let log = if log.trim().is_empty() {
            line.clone()
        } else {
            format!("{}\n{line}", log.trim_end())
        };
        // The whole new value is sent, so a repeat after a timeout writes the same text (no
        // Status in it: its shape does not matter).
        let update = PageUpdate {
            properties: TaskRow {
                error_log: Some(log),
                ..TaskRow::default()
            }
            .to_properties(StatusShape::Select),
            in_trash: None,
        };
        let error_log_written = match self
            .client
            .update_page(&page.id, &update, Idempotency::Idempotent)
            .await
        {
            Ok(_) => true,
            Err(e) => {
                let e = SyncError::from(e);
                if affects_every_task(&e) {
                    // Nothing recorded: the next poll reads the page again and retries.
                    return Err(e);
                }
                tracing::warn!(page_id = %page.id, "could not write the refusal to the page's Error Log: {e}");
                false
            }
        };
        if let Some(t) = &task {
            // The local log reaches the page's Error Log with the task's next status push too.
            self.core
                .store
                .append_log(t.id, &line, Source::Notion)
                .await?;
        }
        self.store
            .record_refused_page(&crate::db::RefusedPage {
                page_id: page.id.to_string(),
                title,
                notion_status,
                reason,
                error_log_written,
                fingerprint,
                refused_at: now_ms(),
            })
            .await
    }

    pub(super) async fn pull_page_in(&self, ctx: &ChannelCtx, page: &Page) -> Result<()> {
        let row = TaskRow::from_page(page);
        let Some(notion_status) = row.status else {
            return Ok(());
        };
        let bot = self.bot_id().await?;
        if page.last_edited_by.id == bot {
            return Ok(());
        }
        let edit = page.last_edited_time.to_rfc3339();
        let target = Status::from_board_name(&notion_status);
        let Some(task) = self
            .core
            .store
            .task_by_notion_page(page.id.as_str())
            .await?
        else {
            if target == Some(Status::Queued) {
                self.create_from_page(ctx, page).await?;
            }
            return Ok(());
        };
        if notion_status == task.status.board_name() {
            return Ok(());
        }
        let seen = self.store.outbox(task.id).await?;
        if seen.pushed_status.as_deref() == Some(notion_status.as_str())
            || (seen.handled_status.as_deref() == Some(notion_status.as_str())
                && seen.handled_edit.as_deref() == Some(edit.as_str()))
        {
            return Ok(());
        }
        let reviewer = self.reviewer(&page.last_edited_by).await;
        let input = ReviewInput::by(Source::Notion, reviewer);
        let review = ReviewService::new(self.core.clone());
        let refused = |why: String| Err(CoreError::invalid("status", why));
        let result = match target {
            Some(s) if s.kind() == StatusKind::Decision && task.status.can_transition_to(s) => {
                review.approve(task.id, input).await
            }
            Some(s)
                if s.kind() == StatusKind::Error
                    && task.status.is_gate()
                    && task.status.can_transition_to(s) =>
            {
                let feedback = newest_entry(row.error_log.as_deref().unwrap_or_default());
                // The rows of the gate under review marked "rejected" are the flags.
                let flags = match clips_at(task.status) {
                    _ if task.status == Status::AssetsReady => {
                        self.rejected_rows(ctx, &task, &page.id).await?
                    }
                    Some(kind) => self.rejected_clip_rows(ctx, &task, &page.id, kind).await?,
                    _ => Vec::new(),
                };
                review
                    .reject(task.id, Some(flags), input.with_reason(feedback))
                    .await
            }
            Some(Status::Queued) if task.status == Status::Draft => {
                review.queue(task.id, Source::Notion).await
            }
            Some(Status::Queued) => review.retry(task.id, input).await,
            Some(Status::Cancelled) => review.cancel(task.id, input).await,
            Some(s) => refused(format!(
                "{} → {} is not a move the pipeline allows",
                task.status.board_name(),
                s.board_name()
            )),
            None => refused(format!("\"{notion_status}\" is not a Review Desk status")),
        };
        match result {
            Ok(_) => {
                self.store
                    .set_handled(task.id, &notion_status, &edit)
                    .await?;
            }
            Err(e) => {
                self.revert(ctx, &task, &page.id, &notion_status, &e.to_string())
                    .await?;
                self.store
                    .set_handled(task.id, &notion_status, &edit)
                    .await?;
            }
        }
        Ok(())
    }

    /// The person (or bot) behind a Notion edit: name and email from `GET /v1/users/{id}`, asked
    /// once per user. Without the integration's user-information capability (403) or the email
    /// capability, what Notion gives is kept (the id, and the name where known); a transient
    /// failure falls back the same way, without caching, so a later decision asks again.
    pub(super) async fn reviewer(&self, who: &reviewdesk_notion::UserRef) -> Reviewer {
        if let Some(r) = self.reviewers.lock().await.get(&who.id) {
            return r.clone();
        }
        let fallback = Reviewer {
            id: Some(who.id.to_string()),
            name: who.name.clone(),
            email: None,
        };
        let (reviewer, keep) = match self.client.retrieve_user(&who.id).await {
            Ok(u) => {
                let bot = matches!(u.kind, reviewdesk_notion::UserKind::Bot { .. });
                let name = u.name.clone().or(fallback.name.clone());
                (
                    Reviewer {
                        id: Some(u.id.to_string()),
                        name: if bot {
                            name.map(|n| format!("{n} (Notion integration)"))
                        } else {
                            name
                        },
                        email: u.email().map(str::to_owned),
                    },
                    true,
                )
            }
            Err(e) => {
                let keep = !e.is_transient();
                if e.kind() == reviewdesk_notion::ErrorKind::Forbidden {
                    tracing::info!(
                        "Notion user {} not read: the integration lacks the user-information capability (integration settings → Capabilities); audit rows name the Notion user id only",
                        who.id
                    );
                } else {
                    tracing::warn!("Notion user {} could not be read: {e}", who.id);
                }
                (fallback, keep)
            }
        };
        if keep {
            self.reviewers
                .lock()
                .await
                .insert(who.id.clone(), reviewer.clone());
        }
        reviewer
    }

    /// Puts the true status back in Notion, with the reason in the Error Log.
    pub(super) async fn revert(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
        attempted: &str,
        why: &str,
    ) -> Result<()> {
        let line = error_log_line(
            Utc::now(),
            task.status,
            &format!(
                "Notion change to \"{attempted}\" refused: {why}; Status set back to \"{}\"",
                task.status.board_name()
            ),
        );
        self.core
            .store
            .append_log(task.id, &line, Source::Notion)
            .await?;
        let task = self.core.store.task(task.id).await?;
        tracing::info!(task_id = %task.id, "reverted a Notion status change: {why}");
        self.push_status(ctx, &task, page, task.status, task.status_changed_at)
            .await
    }

    /// Asset names whose current-version row is marked "rejected" in Notion.
    pub(super) async fn rejected_rows(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
    ) -> Result<Vec<AssetName>> {
        let rows = self
            .client
            .query_data_source(
                &ctx.assets_ds,
                &Query {
                    filter: Some(Filter::And(vec![
                        Filter::relation_contains(assets::TASK, page),
                        Filter::select_equals(assets::STATUS, asset_status::REJECTED),
                    ])),
                    page_size: Some(100),
                    ..Query::default()
                },
            )
            .await?;
        let assets = self.core.store.assets(task.id).await?;
        let mut out = Vec::new();
        for r in rows {
            let Some(key) = AssetRow::from_page(&r).key else {
                continue;
            };
            if let Some(a) = assets
                .iter()
                .find(|a| asset_key(task.id, &a.name, a.current_version) == key)
                && !out.contains(&a.name)
            {
                out.push(a.name.clone());
            }
        }
        Ok(out)
    }

    pub(super) async fn create_from_page(&self, ctx: &ChannelCtx, page: &Page) -> Result<()> {
        let row = TaskRow::from_page(page);
        let channel = row.channel.unwrap_or_default();
        let channel_id = self
            .core
            .channels()
            .into_iter()
            .find(|c| c.channel_id.as_str() == channel || c.channel_name == channel)
            .map(|c| c.channel_id)
            .unwrap_or_else(|| ctx.channel.channel_id.clone());
        let priority = Priority::parse(&row.priority.unwrap_or_default().to_lowercase()).ok();
        let title = row.title.unwrap_or_default();
        let task = TaskService::new(self.core.clone())
            .create(
                NewTask {
                    channel_id: Some(channel_id.as_str().to_string()),
                    title: if title.trim().is_empty() {
                        "Untitled".into()
                    } else {
                        title
                    },
                    topic: row.topic.unwrap_or_default(),
                    story_direction: row.story_direction.unwrap_or_default(),
                    priority,
                    draft: false,
                    plan: None,
                    notion_page_id: Some(page.id.to_string()),
                },
                Source::Notion,
            )
            .await?;
        self.store
            .set_pushed(task.id, Status::Queued.board_name())
            .await?;
        Ok(())
    }
}

/// What the in side acts on in a page: who changed it when, and the properties it reads.
pub(super) fn page_fingerprint(page: &Page) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(page.last_edited_time.to_rfc3339());
    h.update([0u8]);
    h.update(page.last_edited_by.id.as_str());
    let row = TaskRow::from_page(page);
    for (name, value) in [
        (tasks::STATUS, &row.status),
        (tasks::TITLE, &row.title),
        (tasks::TOPIC, &row.topic),
        (tasks::STORY_DIRECTION, &row.story_direction),
        (tasks::CHANNEL, &row.channel),
        (tasks::PRIORITY, &row.priority),
    ] {
        h.update([0u8]);
        h.update(name);
        h.update([1u8]);
        if let Some(v) = value {
            h.update(v);
        }
    }
    hex::encode(h.finalize())
}

/// The newest entry of an Error Log: its last non-empty line.
pub(super) fn newest_entry(log: &str) -> String {
    log.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn newest_entry_is_the_last_non_empty_line() {
        assert_eq!(newest_entry("[t] a\nmake it bluer\n\n"), "make it bluer");
    }
}
