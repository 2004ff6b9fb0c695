//! The creator's edits of a task's scene plan: per scene, the texts that replace what the plan
//! file gave or the derivation made (see [`crate::scene`]).

use super::{Store, get, now_ms};
use crate::error::Result;
use crate::ids::TaskId;
use crate::scene::PlannedScene;

impl Store {
    /// A task's scene edits, as `(scene number, texts)`, scene 1 first.
    pub async fn scene_edits(&self, id: TaskId) -> Result<Vec<(u32, PlannedScene)>> {
        let rows = sqlx::query(
            "SELECT scene, narration, motion, sfx FROM scene_edits WHERE task_id = $1 ORDER BY scene",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get::<i64>(r, "scene")?.clamp(0, u32::MAX as i64) as u32,
                    PlannedScene {
                        narration: get(r, "narration")?,
                        motion: get(r, "motion")?,
                        sfx: get(r, "sfx")?,
                    },
                ))
            })
            .collect()
    }

    /// Records an edit of one scene: the texts given replace the earlier ones, the others stay.
    pub async fn edit_scene(&self, id: TaskId, scene: u32, edit: &PlannedScene) -> Result<()> {
        sqlx::query(
            "INSERT INTO scene_edits (task_id, scene, narration, motion, sfx, updated_at) VALUES ($1,$2,$3,$4,$5,$6) \
             ON CONFLICT (task_id, scene) DO UPDATE SET \
             narration = COALESCE(excluded.narration, scene_edits.narration), \
             motion = COALESCE(excluded.motion, scene_edits.motion), \
             sfx = COALESCE(excluded.sfx, scene_edits.sfx), \
             updated_at = excluded.updated_at",
        )
        .bind(id.to_string())
        .bind(scene as i64)
        .bind(edit.narration.as_deref())
        .bind(edit.motion.as_deref())
        .bind(edit.sfx.as_deref())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
