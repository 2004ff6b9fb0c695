//! The Assets rows of a task: published (found or created by Asset Key) before "Assets Ready"
//! reaches Notion, and their Status set on the task's decision.

use std::collections::HashMap;

use chrono::Utc;
use reviewdesk_core::Task;
use reviewdesk_core::asset::AssetKind;
use reviewdesk_core::store::AssetRecord;
use reviewdesk_notion::{Filter, Idempotency, NewPage, PageId, PageParent, PageUpdate, Query};

use super::{ChannelCtx, Mirror, asset_key};
use crate::error::Result;
use crate::rows::{AssetRow, asset_status, assets};

impl Mirror {
    /// Sets the Status of the task's current asset rows (only `only` when given).
    pub(super) async fn mark_rows(
        &self,
        task: &Task,
        only: Option<&[String]>,
        status: &str,
    ) -> Result<()> {
        let keys = self
            .core
            .store
            .assets(task.id)
            .await?
            .into_iter()
            .filter(|a| only.is_none_or(|only| only.iter().any(|n| n == a.name.as_str())))
            .map(|a| asset_key(task.id, &a.name, a.current_version));
        self.set_row_status(keys, status).await
    }

    /// Sets the Status of the rows published under these keys (an Assets, Videos or Audio row:
    /// the property is the same select in each); a key with no page yet is passed over.
    pub(super) async fn set_row_status(
        &self,
        keys: impl IntoIterator<Item = String>,
        status: &str,
    ) -> Result<()> {
        for key in keys {
            if let Some(Some(page)) = self.store.page(&key).await? {
                let update = PageUpdate {
                    properties: AssetRow {
                        status: Some(status.into()),
                        ..AssetRow::default()
                    }
                    .to_properties(),
                    in_trash: None,
                };
                self.client
                    .update_page(&PageId::new(page), &update, Idempotency::Idempotent)
                    .await?;
            }
        }
        Ok(())
    }

    /// Publishes the current version of every asset: ≤ 1 lookup + 3 requests per asset (`notion`
    /// storage), 1 per asset (`none`).
    pub(super) async fn publish_assets(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
    ) -> Result<()> {
        let assets = self.core.store.assets(task.id).await?;
        let known: HashMap<String, Option<String>> =
            self.store.pages(task.id).await?.into_iter().collect();
        let mut todo: Vec<(AssetRecord, String)> = assets
            .into_iter()
            .filter(|a| a.current_version > 0)
            .map(|a| {
                let k = asset_key(task.id, &a.name, a.current_version);
                (a, k)
            })
            .filter(|(_, k)| !matches!(known.get(k), Some(Some(_))))
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        // Find: one query for every row of this task (a replay after a crash creates nothing twice).
        let existing = self
            .client
            .query_data_source(
                &ctx.assets_ds,
                &Query {
                    filter: Some(Filter::property(
                        assets::ASSET_KEY,
                        "rich_text",
                        "starts_with",
                        format!("{}/", task.id),
                    )),
                    page_size: Some(100),
                    ..Query::default()
                },
            )
            .await?;
        let keys: Vec<(String, &PageId)> = existing
            .iter()
            .filter_map(|p| AssetRow::from_page(p).key.map(|k| (k, &p.id)))
            .collect();
        for (k, id) in &keys {
            self.store.set_page(k, task.id, Some(id.as_str())).await?;
        }
        let found: std::collections::HashSet<&String> = keys.iter().map(|(k, _)| k).collect();
        todo.retain(|(_, k)| !found.contains(k));
        for (asset, key) in todo {
            self.create_asset_row(ctx, task, page, &asset, &key).await?;
        }
        Ok(())
    }

    pub(super) async fn create_asset_row(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        task_page: &PageId,
        asset: &AssetRecord,
        key: &str,
    ) -> Result<()> {
        let version = asset.current_version;
        let versions = self.core.store.asset_versions(task.id, &asset.name).await?;
        let generated = versions
            .iter()
            .find(|v| v.version == version)
            .map(|v| v.created_at)
            .unwrap_or_else(Utc::now);
        let (file, notes) = self.asset_file(ctx, task, asset).await?;
        let properties = AssetRow {
            name: Some(format!("{} v{version}", asset.name)),
            key: Some(key.into()),
            asset_type: Some(kind_name(asset.kind).into()),
            status: Some(asset_status::GENERATED.into()),
            generated: Some(generated),
            task: Some(task_page.clone()),
            version: Some(version),
            file,
            notes,
        }
        .to_properties();
        self.store.set_page(key, task.id, None).await?;
        let created = self
            .client
            .create_page(&NewPage {
                parent: PageParent::DataSource(ctx.assets_ds.clone()),
                properties,
                children: vec![],
            })
            .await?;
        self.store
            .set_page(key, task.id, Some(created.id.as_str()))
            .await?;
        Ok(())
    }
}

pub(super) fn kind_name(k: AssetKind) -> &'static str {
    k.as_str()
}
