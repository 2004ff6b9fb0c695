//! Assets, their versions and their flags.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
// Dynamic SQL here names a column from a constant; values are always bound.
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::str::FromStr;

use super::audit::insert_event;
use super::checkpoints::checkpoint_in;
use super::claims::guard_lease_in;
use super::{Lease, Store, get, ms_to_dt, now_ms};
use crate::asset::{AssetKind, PlannedAsset, ReviewState};
use crate::error::{CoreError, Result};
use crate::event::Source;
use crate::ids::{AssetName, TaskId};
use crate::status::Step;

/// An asset with its current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct AssetRecord {
    /// Task.
    pub task_id: TaskId,
    /// Name.
    pub name: AssetName,
    /// Kind.
    pub kind: AssetKind,
    /// Prompt.
    pub prompt: String,
    /// Position in the plan.
    pub position: i64,
    /// Current version (0: not generated yet).
    pub current_version: u32,
    /// Review state.
    pub review_state: ReviewState,
    /// Flagged for regeneration.
    pub flagged: bool,
    /// Optional flag note.
    pub flag_note: Option<String>,
    /// Why the last attempt to make it failed (a safety refusal and the provider's reason);
    /// cleared by the next version.
    pub failure: Option<String>,
}

/// One stored version of an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct AssetVersion {
    /// Version number, from 1.
    pub version: u32,
    /// blake3 of the file bytes.
    pub content_hash: String,
    /// Thumbnail path relative to the workspace.
    pub thumb_path: Option<String>,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// File size.
    pub bytes: u64,
    /// What made it (worker, watcher).
    pub source: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// What the reviewer should know about this version (its background could not be removed).
    pub note: Option<String>,
}

fn version_from_row(r: &AnyRow) -> Result<AssetVersion> {
    Ok(AssetVersion {
        version: get::<i64>(r, "version")? as u32,
        content_hash: get(r, "content_hash")?,
        thumb_path: get(r, "thumb_path")?,
        width: get::<i64>(r, "width")? as u32,
        height: get::<i64>(r, "height")? as u32,
        bytes: get::<i64>(r, "bytes")? as u64,
        source: get(r, "source")?,
        created_at: ms_to_dt(get(r, "created_at")?),
        note: get(r, "note")?,
    })
}

fn asset_from_row(row: &AnyRow) -> Result<AssetRecord> {
    Ok(AssetRecord {
        task_id: TaskId::from_str(&get::<String>(row, "task_id")?)?,
        name: AssetName::parse(get::<String>(row, "name")?)?,
        kind: AssetKind::parse(&get::<String>(row, "kind")?)?,
        prompt: get(row, "prompt")?,
        position: get(row, "position")?,
        current_version: get::<i64>(row, "current_version")? as u32,
        review_state: ReviewState::parse(&get::<String>(row, "review_state")?)?,
        flagged: get::<i64>(row, "flagged")? != 0,
        flag_note: get(row, "flag_note")?,
        failure: get(row, "failure")?,
    })
}

/// The asset review states after a decision.
pub(super) fn settle_sql(approved: bool) -> &'static str {
    if approved {
        "UPDATE assets SET review_state = 'approved', flagged = 0, flag_note = NULL WHERE task_id = $1 AND current_version > 0"
    } else {
        "UPDATE assets SET review_state = CASE WHEN flagged = 1 THEN 'rejected' ELSE review_state END WHERE task_id = $1"
    }
}

/// Sets or clears an asset's flag with its event row, inside the caller's transaction.
pub(super) async fn set_flag_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: TaskId,
    name: &AssetName,
    flagged: bool,
    note: Option<&str>,
    source: Source,
) -> Result<()> {
    let res = sqlx::query("UPDATE assets SET flagged = $1, flag_note = $2, updated_at = $3 WHERE task_id = $4 AND name = $5")
            .bind(flagged as i64)
            .bind(note.map(str::to_string))
            .bind(now_ms())
            .bind(id.to_string())
            .bind(name.as_str())
            .execute(&mut **tx)
            .await?;
    if res.rows_affected() != 1 {
        return Err(CoreError::NotFound {
            what: "asset",
            id: format!("{id}/{name}"),
        });
    }
    insert_event(
        tx,
        id,
        "flag",
        None,
        None,
        source,
        serde_json::json!({"name": name.as_str(), "flagged": flagged, "note": note}),
        "",
    )
    .await?;
    Ok(())
}

impl Store {
    /// Inserts the planned assets that are not there yet (idempotent, so a resumed step adds no duplicates).
    pub async fn ensure_assets(&self, id: TaskId, plan: &[PlannedAsset]) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for (i, a) in plan.iter().enumerate() {
            sqlx::query(
                "INSERT INTO assets (task_id, name, kind, prompt, position, updated_at) VALUES ($1,$2,$3,$4,$5,$6) \
                 ON CONFLICT (task_id, name) DO NOTHING",
            )
            .bind(id.to_string())
            .bind(a.name.as_str())
            .bind(a.kind.as_str())
            .bind(&a.prompt)
            .bind(i as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The assets of a task in plan order.
    pub async fn assets(&self, id: TaskId) -> Result<Vec<AssetRecord>> {
        let rows = sqlx::query(
            "SELECT task_id, name, kind, prompt, position, current_version, review_state, flagged, flag_note, failure \
             FROM assets WHERE task_id = $1 ORDER BY position",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(asset_from_row).collect()
    }

    /// One asset.
    pub async fn asset(&self, id: TaskId, name: &AssetName) -> Result<AssetRecord> {
        let row = sqlx::query(
            "SELECT task_id, name, kind, prompt, position, current_version, review_state, flagged, flag_note, failure \
             FROM assets WHERE task_id = $1 AND name = $2",
        )
        .bind(id.to_string())
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| CoreError::NotFound { what: "asset", id: format!("{id}/{name}") })?;
        asset_from_row(&row)
    }

    /// The Notion page of an asset's current version, once the mirror made it (its row in the
    /// Assets database, keyed `<task>/<name>/v<version>` as the mirror keys it).
    pub async fn asset_notion_page(&self, id: TaskId, name: &AssetName) -> Result<Option<String>> {
        let asset = self.asset(id, name).await?;
        let key = format!("{id}/{name}/v{}", asset.current_version);
        let row = sqlx::query("SELECT page_id FROM sync_pages WHERE asset_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<String>, _>("page_id")?,
            None => None,
        })
    }

    /// Every version of an asset, oldest first.
    pub async fn asset_versions(&self, id: TaskId, name: &AssetName) -> Result<Vec<AssetVersion>> {
        let rows = sqlx::query(
            "SELECT name, version, content_hash, thumb_path, width, height, bytes, source, created_at, note FROM asset_versions \
             WHERE task_id = $1 AND name = $2 ORDER BY version",
        )
        .bind(id.to_string())
        .bind(name.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Every version of every asset of a task in one query, oldest first per asset.
    pub async fn all_asset_versions(
        &self,
        id: TaskId,
    ) -> Result<std::collections::HashMap<String, Vec<AssetVersion>>> {
        let rows = sqlx::query(
            "SELECT name, version, content_hash, thumb_path, width, height, bytes, source, created_at, note FROM asset_versions \
             WHERE task_id = $1 ORDER BY name, version",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out: std::collections::HashMap<String, Vec<AssetVersion>> =
            std::collections::HashMap::new();
        for r in &rows {
            out.entry(get::<String>(r, "name")?)
                .or_default()
                .push(version_from_row(r)?);
        }
        Ok(out)
    }

    /// Records a new version of an asset (and, for the worker, the step checkpoint under its
    /// lease) in one transaction. `expected_current` guards against two writers adding the same
    /// version; with a checkpoint, nothing is written unless the lease still holds the task.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_asset_version(
        &self,
        id: TaskId,
        name: &AssetName,
        expected_current: u32,
        v: &AssetVersion,
        checkpoint: Option<(&Lease, Step, &str)>,
        source: Source,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if let Some((lease, _, _)) = checkpoint {
            guard_lease_in(&mut tx, lease).await?;
        }
        let res = sqlx::query(
            "UPDATE assets SET current_version = $1, review_state = 'generated', flagged = 0, flag_note = NULL, failure = NULL, updated_at = $2 \
             WHERE task_id = $3 AND name = $4 AND current_version = $5",
        )
        .bind(v.version as i64)
        .bind(now)
        .bind(id.to_string())
        .bind(name.as_str())
        .bind(expected_current as i64)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() != 1 {
            return Err(CoreError::Conflict(format!("{id}/{name}")));
        }
        sqlx::query(
            "INSERT INTO asset_versions (task_id, name, version, content_hash, thumb_path, width, height, bytes, source, created_at, note) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        )
        .bind(id.to_string())
        .bind(name.as_str())
        .bind(v.version as i64)
        .bind(&v.content_hash)
        .bind(v.thumb_path.clone())
        .bind(v.width as i64)
        .bind(v.height as i64)
        .bind(v.bytes as i64)
        .bind(source.as_str())
        .bind(now)
        .bind(v.note.clone())
        .execute(&mut *tx)
        .await?;
        if let Some((_, step, output)) = checkpoint {
            checkpoint_in(
                &mut tx,
                id,
                step,
                super::checkpoints::Finished::first(name.as_str(), output),
                now,
            )
            .await?;
        }
        let corr: String = sqlx::query("SELECT correlation_id FROM tasks WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get("correlation_id")?;
        insert_event(
            &mut tx,
            id,
            "asset_version",
            None,
            None,
            source,
            serde_json::json!({"name": name.as_str(), "version": v.version, "content_hash": v.content_hash}),
            &corr,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records why the last attempt to make an asset failed (shown on its tile until a new
    /// version replaces it), or clears it with `None`.
    pub async fn set_asset_failure(
        &self,
        id: TaskId,
        name: &AssetName,
        failure: Option<&str>,
    ) -> Result<()> {
        self.set_asset_text("failure", id, name, failure).await
    }

    /// Changes what an asset's next version is drawn from.
    pub async fn set_asset_prompt(&self, id: TaskId, name: &AssetName, prompt: &str) -> Result<()> {
        self.set_asset_text("prompt", id, name, Some(prompt)).await
    }

    /// Sets one text column of an asset (`column` is a constant of this module, never input);
    /// an unknown asset is [`CoreError::NotFound`].
    async fn set_asset_text(
        &self,
        column: &'static str,
        id: TaskId,
        name: &AssetName,
        value: Option<&str>,
    ) -> Result<()> {
        let res = sqlx::query(AssertSqlSafe(format!(
            "UPDATE assets SET {column} = $1, updated_at = $2 WHERE task_id = $3 AND name = $4"
        )))
        .bind(value.map(str::to_string))
        .bind(now_ms())
        .bind(id.to_string())
        .bind(name.as_str())
        .execute(&self.pool)
        .await?;
        if res.rows_affected() != 1 {
            return Err(CoreError::NotFound {
                what: "asset",
                id: format!("{id}/{name}"),
            });
        }
        Ok(())
    }

    /// Sets or clears an asset's flag (with an event row).
    pub async fn set_flag(
        &self,
        id: TaskId,
        name: &AssetName,
        flagged: bool,
        note: Option<&str>,
        source: Source,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        set_flag_in(&mut tx, id, name, flagged, note, source).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the review state of every current asset after a decision: flagged ones become
    /// `rejected` (on reject), the rest `approved` (on approve) or stay `generated`.
    pub async fn settle_asset_states(&self, id: TaskId, approved: bool) -> Result<()> {
        sqlx::query(settle_sql(approved))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Clears flags (after a retry consumed them).
    pub async fn clear_flags(&self, id: TaskId) -> Result<()> {
        sqlx::query("UPDATE assets SET flagged = 0, flag_note = NULL WHERE task_id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
