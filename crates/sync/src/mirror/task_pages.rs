//! The Tasks page of a task: found or created once, then every status pushed to it.

use chrono::{DateTime, Utc};
use reviewdesk_core::{Priority, Status, Task};
use reviewdesk_notion::{
    DateValue, Filter, Idempotency, NewPage, PageId, PageParent, PageUpdate, PropertyValue, Query,
};

use super::{ChannelCtx, Mirror, error_log_value, retry_status};
use crate::error::Result;

impl Mirror {
    pub(super) async fn push_status(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
        status: Status,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let name = status.board_name();
        let update = PageUpdate {
            properties: vec![
                ("Status".into(), Self::status_value(ctx, name)),
                (
                    "Updated".into(),
                    PropertyValue::Date(Some(DateValue::datetime(at))),
                ),
                ("Error Log".into(), error_log_value(&task.error_log)),
                (
                    "Retry Status".into(),
                    PropertyValue::text(&retry_status(
                        task,
                        self.core.worker_settings.max_attempts,
                    )),
                ),
            ],
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
                            filter: Some(Filter::title_equals("Title", &task.title)),
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
                properties: vec![
                    ("Title".into(), PropertyValue::title(&task.title)),
                    ("Topic".into(), PropertyValue::text(&task.topic)),
                    (
                        "Story Direction".into(),
                        PropertyValue::text(&task.story_direction),
                    ),
                    (
                        "Channel".into(),
                        PropertyValue::select(task.channel_id.as_str()),
                    ),
                    (
                        "Priority".into(),
                        PropertyValue::select(priority_name(task.priority)),
                    ),
                    (
                        "Status".into(),
                        Self::status_value(ctx, task.status.board_name()),
                    ),
                    (
                        "Updated".into(),
                        PropertyValue::Date(Some(DateValue::datetime(task.status_changed_at))),
                    ),
                ],
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

pub(super) fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::High => "High",
        Priority::Low => "Low",
        _ => "Normal",
    }
}
