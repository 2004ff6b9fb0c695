//! The Videos and Audio rows of a task: one row per version of a scene's clip, narration or
//! effect, published (found or created) before the gate that shows them reaches Notion, their
//! Status set on the gate's decision, and the rows a reviewer marked "rejected" read back as the
//! rejection's flags.

use std::collections::HashMap;
use std::path::Path;

use reviewdesk_core::store::StepCheckpoint;
use reviewdesk_core::{AssetName, Status, Step, Task};
use reviewdesk_notion::{DataSourceId, Filter, NewPage, PageId, PageParent, Query};

use super::storage::{Oversize, RowFile};
use super::{ChannelCtx, Mirror};
use crate::error::Result;
use crate::rows::{ClipRow, asset_status, clips};

/// The Notion database a clip row goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClipDatabase {
    /// Videos: the scene clips.
    Videos,
    /// Audio: narrations and effects.
    Audio,
}

/// One kind of clip row: the items of a step, in a database, under a Type option.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClipKind {
    /// The step whose items the rows show.
    pub step: Step,
    /// Where the rows go.
    pub database: ClipDatabase,
    /// Their Type option.
    pub row_type: &'static str,
    /// The word of their titles (`Clip 03 v2`).
    pub label: &'static str,
}

/// The 18 scene clips (step 3), reviewed at Videos Ready.
pub(super) const SCENE_CLIPS: ClipKind = ClipKind {
    step: Step::Video,
    database: ClipDatabase::Videos,
    row_type: "scene",
    label: "Clip",
};
/// The 18 narrations (step 4), reviewed at Audio Ready.
pub(super) const NARRATIONS: ClipKind = ClipKind {
    step: Step::Audio,
    database: ClipDatabase::Audio,
    row_type: "narration",
    label: "Narration",
};
/// The 18 sound effects (step 5): made after Audio Ready, so shown at Ready for Review.
pub(super) const EFFECTS: ClipKind = ClipKind {
    step: Step::Sfx,
    database: ClipDatabase::Audio,
    row_type: "sfx",
    label: "Effect",
};

/// The clip rows a gate shows: published when a task reaches it, marked on its decision; the
/// rows marked "rejected" there are the rejection's flags (effects at Ready for Review, see
/// `ReviewService::reject`).
pub(super) fn clips_at(gate: Status) -> Option<ClipKind> {
    match gate {
        Status::VideoReady => Some(SCENE_CLIPS),
        Status::AudioReady => Some(NARRATIONS),
        Status::FinalReview => Some(EFFECTS),
        _ => None,
    }
}

/// The mirror's key of one version of a clip row: `<task id>/<step>/<item>/v<version>` (four
/// parts, so it never meets an Asset Key's three).
pub fn clip_key(task: &Task, step: Step, item: &str, version: u32) -> String {
    format!("{}/{}/{item}/v{version}", task.id, step.as_str())
}

/// A scene item's number: `clip_03` → 3.
fn scene_number(item: &str) -> Option<u32> {
    item.rsplit('_').next()?.parse().ok()
}

/// How a clip file is sent: its MIME type and what to do above the upload limit.
fn file_kind(output: &str) -> (&'static str, Oversize) {
    match Path::new(output).extension().and_then(|e| e.to_str()) {
        Some("mp4") => ("video/mp4", Oversize::Video),
        Some("opus") => ("audio/ogg", Oversize::Nothing),
        Some("wav") => ("audio/wav", Oversize::Nothing),
        _ => ("audio/mpeg", Oversize::Nothing),
    }
}

/// The query for a task's rows of `kind` (those with this Status only, when given).
fn rows_query(task_page: &PageId, kind: ClipKind, status: Option<&str>) -> Query {
    let mut all = vec![
        Filter::relation_contains(clips::TASK, task_page),
        Filter::select_equals(clips::TYPE, kind.row_type),
    ];
    if let Some(status) = status {
        all.push(Filter::select_equals(clips::STATUS, status));
    }
    Query {
        filter: Some(Filter::And(all)),
        page_size: Some(100),
        ..Query::default()
    }
}

impl Mirror {
    fn clip_ds(ctx: &ChannelCtx, kind: ClipKind) -> Option<&DataSourceId> {
        match kind.database {
            ClipDatabase::Videos => ctx.videos_ds.as_ref(),
            ClipDatabase::Audio => ctx.audio_ds.as_ref(),
        }
    }

    /// The current versions of a kind's items, with their scene numbers, in scene order.
    async fn current_clips(
        &self,
        task: &Task,
        kind: ClipKind,
    ) -> Result<Vec<(u32, StepCheckpoint)>> {
        let mut out: Vec<(u32, StepCheckpoint)> = self
            .core
            .store
            .checkpoints_of_steps(task.id, &[kind.step])
            .await?
            .into_iter()
            .filter_map(|c| scene_number(&c.item).map(|n| (n, c)))
            .collect();
        out.sort_by_key(|(n, _)| *n);
        Ok(out)
    }

    /// Publishes the current version of every item of `kind`: 1 lookup, then per item 3
    /// requests (`notion` storage) or 1 (`r2`, `none`). A channel without the database (set up
    /// before it existed) publishes nothing; `reviewdesk notion check` names what is missing.
    pub(super) async fn publish_clips(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
        kind: ClipKind,
    ) -> Result<()> {
        let Some(ds) = Self::clip_ds(ctx, kind) else {
            return Ok(());
        };
        let known: HashMap<String, Option<String>> =
            self.store.pages(task.id).await?.into_iter().collect();
        let mut todo: Vec<(u32, StepCheckpoint, String)> = self
            .current_clips(task, kind)
            .await?
            .into_iter()
            .map(|(n, c)| {
                let key = clip_key(task, kind.step, &c.item, c.version);
                (n, c, key)
            })
            .filter(|(_, _, k)| !matches!(known.get(k), Some(Some(_))))
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        // Find: one query for this task's rows of this kind, matched by Clip Number and Version
        // (a replay after a crash creates nothing twice).
        let existing = self
            .client
            .query_data_source(ds, &rows_query(page, kind, None))
            .await?;
        for p in &existing {
            let row = ClipRow::from_page(p);
            if let Some(i) = todo
                .iter()
                .position(|(n, c, _)| row.clip_number == Some(*n) && row.version == Some(c.version))
            {
                let (_, _, key) = todo.remove(i);
                self.store
                    .set_page(&key, task.id, Some(p.id.as_str()))
                    .await?;
            }
        }
        for (n, clip, key) in todo {
            self.create_clip_row(ctx, task, page, ds, kind, n, &clip, &key)
                .await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_clip_row(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        task_page: &PageId,
        ds: &DataSourceId,
        kind: ClipKind,
        number: u32,
        clip: &StepCheckpoint,
        key: &str,
    ) -> Result<()> {
        let abs = self.core.workspace.resolve(Path::new(&clip.output))?;
        let duration =
            reviewdesk_core::renditions::duration_secs(&self.core.worker_settings.tools, &abs)
                .await;
        let (content_type, oversize) = file_kind(&clip.output);
        let name = Path::new(&clip.output)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| clip.item.clone());
        let ext = Path::new(&clip.output)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (file, file_note) = self
            .row_file(
                ctx,
                task,
                RowFile {
                    rel: clip.output.clone().into(),
                    filename: format!("{name}.v{}.{ext}", clip.version),
                    content_type,
                    oversize,
                },
            )
            .await?;
        let notes = match (&clip.note, file_note) {
            (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
            (a, b) => a.clone().or(b),
        };
        let properties = ClipRow {
            name: Some(format!("{} {number:02} v{}", kind.label, clip.version)),
            clip_number: Some(number),
            clip_type: Some(kind.row_type.into()),
            duration,
            status: Some(asset_status::GENERATED.into()),
            task: Some(task_page.clone()),
            version: Some(clip.version),
            file,
            notes,
        }
        .to_properties();
        self.store.set_page(key, task.id, None).await?;
        let created = self
            .client
            .create_page(&NewPage {
                parent: PageParent::DataSource(ds.clone()),
                properties,
                children: vec![],
            })
            .await?;
        self.store
            .set_page(key, task.id, Some(created.id.as_str()))
            .await?;
        Ok(())
    }

    /// Sets the Status of the current rows of `kind` (only the items in `only` when given).
    pub(super) async fn mark_clip_rows(
        &self,
        task: &Task,
        kind: ClipKind,
        only: Option<&[String]>,
        status: &str,
    ) -> Result<()> {
        let keys = self
            .current_clips(task, kind)
            .await?
            .into_iter()
            .filter(|(_, c)| only.is_none_or(|only| only.contains(&c.item)))
            .map(|(_, c)| clip_key(task, kind.step, &c.item, c.version));
        self.set_row_status(keys, status).await
    }

    /// The items under review at `kind`'s gate whose current-version row is marked "rejected"
    /// in Notion: the flags of a rejection made there.
    pub(super) async fn rejected_clip_rows(
        &self,
        ctx: &ChannelCtx,
        task: &Task,
        page: &PageId,
        kind: ClipKind,
    ) -> Result<Vec<AssetName>> {
        let Some(ds) = Self::clip_ds(ctx, kind) else {
            return Ok(Vec::new());
        };
        let rows = self
            .client
            .query_data_source(ds, &rows_query(page, kind, Some(asset_status::REJECTED)))
            .await?;
        let current = self.current_clips(task, kind).await?;
        let mut out: Vec<AssetName> = Vec::new();
        for r in rows.iter().map(ClipRow::from_page) {
            let Some((_, c)) = current
                .iter()
                .find(|(n, c)| r.clip_number == Some(*n) && r.version == Some(c.version))
            else {
                continue;
            };
            let name = AssetName::parse(c.item.clone())?;
            if !out.contains(&name) {
                out.push(name);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_later_gate_shows_its_own_rows() {
        assert_eq!(
            clips_at(Status::VideoReady).map(|k| k.step),
            Some(Step::Video)
        );
        assert_eq!(
            clips_at(Status::AudioReady).map(|k| k.step),
            Some(Step::Audio)
        );
        assert_eq!(
            clips_at(Status::FinalReview).map(|k| k.step),
            Some(Step::Sfx)
        );
        assert!(clips_at(Status::AssetsReady).is_none());
        assert_eq!(scene_number("narration_07"), Some(7));
        assert_eq!(scene_number("final"), None);
        assert_eq!(file_kind("p/video/clip_01.mp4").0, "video/mp4");
        assert_eq!(file_kind("p/audio/narration_01.opus").0, "audio/ogg");
    }
}
