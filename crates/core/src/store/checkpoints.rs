//! Step checkpoints (finished items with their outputs) and step completions, which let a
//! resumed worker redo only what is missing.

use sqlx::Row;
use std::collections::BTreeSet;

use super::claims::guard_lease_in;
use super::{Lease, Store, get, now_ms};
use crate::error::Result;
use crate::ids::TaskId;
use crate::status::Step;

/// A finished item of a step: its output, which version of the item it is, and a note for the
/// reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished<'a> {
    /// The item's key.
    pub item: &'a str,
    /// Its output, relative to the workspace.
    pub output: &'a str,
    /// 1 for the first file made, one more for each regeneration.
    pub version: u32,
    /// What the reviewer should know about it.
    pub note: Option<&'a str>,
}

impl<'a> Finished<'a> {
    /// The first version of an item, without a note.
    pub fn first(item: &'a str, output: &'a str) -> Self {
        Finished {
            item,
            output,
            version: 1,
            note: None,
        }
    }
}

pub(super) async fn checkpoint_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: TaskId,
    step: Step,
    done: Finished<'_>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO step_checkpoints (task_id, step, item, output, completed_at, version, note) VALUES ($1,$2,$3,$4,$5,$6,$7) \
         ON CONFLICT (task_id, step, item) DO UPDATE SET output = excluded.output, completed_at = excluded.completed_at, \
         version = excluded.version, note = excluded.note",
    )
    .bind(id.to_string())
    .bind(step.as_str())
    .bind(done.item)
    .bind(done.output)
    .bind(now)
    .bind(done.version as i64)
    .bind(done.note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Forgets a step's completion (and every later step's) and the checkpoints of `items` (all when
/// `None`), inside the caller's transaction.
pub(super) async fn reopen_step_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: TaskId,
    step: Step,
    items: Option<&[String]>,
) -> Result<()> {
    let later: Vec<Step> = Step::ALL.into_iter().filter(|s| *s >= step).collect();
    for s in &later {
        sqlx::query("DELETE FROM step_completions WHERE task_id = $1 AND step = $2")
            .bind(id.to_string())
            .bind(s.as_str())
            .execute(&mut **tx)
            .await?;
    }
    match items {
        Some(items) => {
            for item in items {
                sqlx::query(
                    "DELETE FROM step_checkpoints WHERE task_id = $1 AND step = $2 AND item = $3",
                )
                .bind(id.to_string())
                .bind(step.as_str())
                .bind(item)
                .execute(&mut **tx)
                .await?;
            }
        }
        None => {
            sqlx::query("DELETE FROM step_checkpoints WHERE task_id = $1 AND step = $2")
                .bind(id.to_string())
                .bind(step.as_str())
                .execute(&mut **tx)
                .await?;
        }
    }
    // Later steps consumed the old outputs, so they run again in full.
    for s in later.iter().skip(1) {
        sqlx::query("DELETE FROM step_checkpoints WHERE task_id = $1 AND step = $2")
            .bind(id.to_string())
            .bind(s.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A finished item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCheckpoint {
    /// Its step.
    pub step: Step,
    /// Its key.
    pub item: String,
    /// Its output, relative to the workspace.
    pub output: String,
    /// Its version.
    pub version: u32,
    /// A note for the reviewer.
    pub note: Option<String>,
}

impl Store {
    /// Records one finished item of a step, without a lease: for outputs recorded outside a
    /// worker (imports, tests). A worker records through [`Store::checkpoint_leased`].
    pub async fn checkpoint(&self, id: TaskId, step: Step, item: &str, output: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        checkpoint_in(&mut tx, id, step, Finished::first(item, output), now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records one finished item of a step for the claim holding `lease`; fails with
    /// [`CoreError::Conflict`] (and records nothing) once the claim no longer holds the task.
    pub async fn checkpoint_leased(
        &self,
        lease: &Lease,
        step: Step,
        done: Finished<'_>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        guard_lease_in(&mut tx, lease).await?;
        checkpoint_in(&mut tx, lease.task_id, step, done, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finished items of a step with their outputs.
    pub async fn checkpoints(&self, id: TaskId, step: Step) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT item, output FROM step_checkpoints WHERE task_id = $1 AND step = $2 ORDER BY item")
            .bind(id.to_string())
            .bind(step.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((get(r, "item")?, get(r, "output")?)))
            .collect()
    }

    /// Finished items of several steps of a task in one query, as `(step, item, output)`, in
    /// pipeline order then item order. Task detail uses it to list the media for review without a
    /// query per step.
    pub async fn checkpoints_of_steps(
        &self,
        id: TaskId,
        steps: &[Step],
    ) -> Result<Vec<StepCheckpoint>> {
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (0..steps.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT step, item, output, version, note FROM step_checkpoints WHERE task_id = $1 AND step IN ({placeholders})"
        );
        // Only numbered placeholders are formatted into the text; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string());
        for s in steps {
            q = q.bind(s.as_str());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            // A step name this build does not know (a newer writer) is skipped, not an error.
            let Some(step) = Step::parse(&get::<String>(r, "step")?) else {
                continue;
            };
            out.push(StepCheckpoint {
                step,
                item: get(r, "item")?,
                output: get(r, "output")?,
                version: get::<i64>(r, "version")?.clamp(1, u32::MAX as i64) as u32,
                note: get(r, "note")?,
            });
        }
        // Sorted here rather than in SQL: the step column sorts alphabetically, not in pipeline order.
        out.sort_by(|a, b| (a.step, &a.item).cmp(&(b.step, &b.item)));
        Ok(out)
    }

    /// Marks a step finished for the claim holding `lease`; fails with [`CoreError::Conflict`]
    /// (and records nothing) once the claim no longer holds the task.
    pub async fn complete_step(&self, lease: &Lease, step: Step) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        guard_lease_in(&mut tx, lease).await?;
        sqlx::query("INSERT INTO step_completions (task_id, step, completed_at) VALUES ($1,$2,$3) ON CONFLICT (task_id, step) DO NOTHING")
            .bind(lease.task_id.to_string())
            .bind(step.as_str())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Steps finished for a task.
    pub async fn completed_steps(&self, id: TaskId) -> Result<BTreeSet<Step>> {
        let rows = sqlx::query("SELECT step FROM step_completions WHERE task_id = $1")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                r.try_get::<String, _>("step")
                    .ok()
                    .and_then(|s| Step::parse(&s))
            })
            .collect())
    }

    /// Prepares a step to run again: forgets its completion (and of every later step) and the
    /// checkpoints of `items` (all items when `None`), so only those are redone.
    pub async fn reopen_step(
        &self,
        id: TaskId,
        step: Step,
        items: Option<&[String]>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        reopen_step_in(&mut tx, id, step, items).await?;
        tx.commit().await?;
        Ok(())
    }
}
