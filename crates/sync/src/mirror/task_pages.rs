//! The Tasks page of a task: found or created once, then every status pushed to it.

use chrono::{DateTime, Utc};
use reviewdesk_core::{Status, Task};
use reviewdesk_notion::{Filter, Idempotency, NewPage, PageId, PageParent, PageUpdate, Query};

use super::{ChannelCtx, Mirror, retry_status};
use crate::error::Result;
use crate::rows::{TaskRow, priority_name, tasks};

impl Mirror {
    /// The task's Error Log and Retry Status, as the page shows them.
    pub(super) fn log_row(&self, task: &Task) -> TaskRow {
        TaskRow {
            error_log: Some(task.error_log.clone()),
            retry_status: Some(retry_status(task, self.core.worker_settings.max_attempts)),
            ..TaskRow::default()
        }
    }

    /// Sets the page's Status (in the property's shape), Updated, Error Log and Retry Status.
    pub(super) async fn push_status(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
        status: Status,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let name = status.board_name();
        let cost = if ctx.has_cost {
            Some(self.core.store.task_spend(task.id).await?.dollars())
        } else {
            None
        };
        let update = PageUpdate {
            properties: TaskRow {
                status: Some(name.into()),
                updated: Some(at),
                cost,
                ..self.log_row(task)
            }
            .to_properties(ctx.status_shape),
            in_trash: None,
        };
        self.client
            .update_page(page, &update, Idempotency::Idempotent)
            .await?;
        self.store.set_pushed(task.id, name).await?;
        Ok(())
    }

    /// The task's page: the recorded one, one found after a cut-off create, or a new one.
    pub(super) async fn ensure_task_page(&self, ctx: &ChannelCtx, task: &Task) -> Result<PageId> {
        if let Some(p) = &task.notion_page_id {
            return Ok(PageId::new(p));
        }
        let key = format!("task:{}", task.id);
        match self.store.page(&key).await? {
            Some(Some(p)) => {
                self.core.store.set_notion_page(task.id, &p).await?;
                return Ok(PageId::new(p));
            }
            Some(None) => {
                // A create was sent but its answer never recorded: find it before creating again.
                let bot = self.bot_id().await?;
                let found = self
                    .client
                    .query_data_source(
                        &ctx.tasks_ds,
                        &Query {
                            filter: Some(Filter::title_equals(tasks::TITLE, &task.title)),
                            ..Query::default()
                        },
                    )
                    .await?;
                for p in found {
                    if p.created_by.id == bot
                        && self
                            .core
                            .store
                            .task_by_notion_page(p.id.as_str())
                            .await?
                            .is_none()
                    {
                        self.store
                            .set_page(&key, task.id, Some(p.id.as_str()))
                            .await?;
                        self.core
                            .store
                            .set_notion_page(task.id, p.id.as_str())
                            .await?;
                        return Ok(p.id);
                    }
                }
            }
            None => {}
        }
        self.store.set_page(&key, task.id, None).await?;
        let page = self
            .client
            .create_page(&NewPage {
                parent: PageParent::DataSource(ctx.tasks_ds.clone()),
                properties: TaskRow {
                    title: Some(task.title.clone()),
                    topic: Some(task.topic.clone()),
                    story_direction: Some(task.story_direction.clone()),
                    channel: Some(task.channel_id.as_str().into()),
                    priority: Some(priority_name(task.priority).into()),
                    status: Some(task.status.board_name().into()),
                    updated: Some(task.status_changed_at),
                    ..TaskRow::default()
                }
                .to_properties(ctx.status_shape),
                children: vec![],
            })
            .await?;
        self.store
            .set_page(&key, task.id, Some(page.id.as_str()))
            .await?;
        self.core
            .store
            .set_notion_page(task.id, page.id.as_str())
            .await?;
        self.store
            .set_pushed(task.id, task.status.board_name())
            .await?;
        Ok(page.id)
    }
}
