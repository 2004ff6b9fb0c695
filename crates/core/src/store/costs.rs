//! The cost ledger (append-only, one row per paid call), the holds that keep several workers
//! within a channel's budget, and the provider jobs a resumed worker picks up again.

use super::{Backend, Store, get};
use crate::costs::{Quote, Usd};
use crate::error::Result;
use crate::ids::{ChannelId, TaskId};
use crate::status::Step;

/// Which paid item a hold or a ledger row is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidItem {
    /// Channel (whose budget it counts against).
    pub channel_id: ChannelId,
    /// Task.
    pub task_id: TaskId,
    /// Step.
    pub step: Step,
    /// Item key.
    pub item: String,
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// Row id.
    pub id: String,
    /// When, epoch ms.
    pub at_ms: i64,
    /// The item.
    pub item: PaidItem,
    /// Attempt number of the task when it was paid.
    pub attempt: u32,
    /// Provider, model, units and the price used.
    pub quote: Quote,
    /// What it cost.
    pub usd: Usd,
    /// The provider's request or job id, to find the call on the provider's bill.
    pub correlation_id: Option<String>,
}

/// The answer of a budget check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetCheck {
    /// The item may start; its price is held until it is paid or released.
    Held,
    /// Starting it would pass the budget.
    Over {
        /// Spent today plus what is held for items under way.
        committed: Usd,
    },
}

/// Holds older than this are forgotten: their worker died and the item was not resumed (a Kling
/// clip takes minutes, never hours).
const STALE_HOLD_MS: i64 = 6 * 3600 * 1000;

impl Store {
    /// Holds `price` for an item against its channel's budget for the day `[day_start, day_end)`:
    /// granted when what was spent that day, plus what other items under way hold, plus `price`,
    /// stays within `budget` (no budget: always). An item that already holds money (a worker
    /// resuming it) keeps its hold. On PostgreSQL the check takes a per-channel lock, so workers
    /// on several machines racing for the last dollars start at most what the budget allows.
    pub async fn hold_budget(
        &self,
        item: &PaidItem,
        price: Usd,
        budget: Option<Usd>,
        day: (i64, i64),
        now_ms: i64,
    ) -> Result<BudgetCheck> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(channel_lock_key(&item.channel_id))
                .execute(&mut *tx)
                .await?;
        }
        // A write first: SQLite takes its write lock here, so checks of several workers queue.
        sqlx::query("DELETE FROM cost_holds WHERE at_ms < $1")
            .bind(now_ms - STALE_HOLD_MS)
            .execute(&mut *tx)
            .await?;
        let held = sqlx::query(
            "SELECT 1 AS one FROM cost_holds WHERE task_id = $1 AND step = $2 AND item = $3",
        )
        .bind(item.task_id.to_string())
        .bind(item.step.as_str())
        .bind(&item.item)
        .fetch_optional(&mut *tx)
        .await?;
        if held.is_some() {
            tx.commit().await?;
            return Ok(BudgetCheck::Held);
        }
        if let Some(budget) = budget {
            let (spent, held) = spend_in(&mut tx, &item.channel_id, day).await?;
            let committed = spent + held;
            if committed + price > budget {
                tx.rollback().await?;
                return Ok(BudgetCheck::Over { committed });
            }
        }
        sqlx::query(
            "INSERT INTO cost_holds (task_id, step, item, channel_id, usd_micro, at_ms) VALUES ($1,$2,$3,$4,$5,$6)",
        )
        .bind(item.task_id.to_string())
        .bind(item.step.as_str())
        .bind(&item.item)
        .bind(item.channel_id.as_str())
        .bind(price.0)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BudgetCheck::Held)
    }

    /// Records a paid call and lets its item's hold go, in one transaction.
    pub async fn record_cost(&self, row: &LedgerRow) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO cost_ledger (id, at_ms, channel_id, task_id, step, item, attempt, provider, model, units, unit, unit_price_micro, usd_micro, correlation_id) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
        )
        .bind(&row.id)
        .bind(row.at_ms)
        .bind(row.item.channel_id.as_str())
        .bind(row.item.task_id.to_string())
        .bind(row.item.step.as_str())
        .bind(&row.item.item)
        .bind(row.attempt as i64)
        .bind(&row.quote.provider)
        .bind(&row.quote.model)
        .bind(row.quote.units)
        .bind(row.quote.unit.as_str())
        .bind(row.quote.unit_price.0)
        .bind(row.usd.0)
        .bind(row.correlation_id.as_deref())
        .execute(&mut *tx)
        .await?;
        // The task's running total moves with its ledger row, in the same transaction.
        sqlx::query("UPDATE tasks SET spent_micro = spent_micro + $1 WHERE id = $2")
            .bind(row.usd.0)
            .bind(row.item.task_id.to_string())
            .execute(&mut *tx)
            .await?;
        delete_hold_in(&mut tx, &row.item).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lets an item's hold go without a charge (its call failed before the provider billed it).
    pub async fn release_hold(&self, item: &PaidItem) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        delete_hold_in(&mut tx, item).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What a channel spent in `[from, to)` (epoch ms), and what items under way hold.
    pub async fn channel_spend(&self, channel: &ChannelId, day: (i64, i64)) -> Result<(Usd, Usd)> {
        let mut conn = self.pool.acquire().await?;
        spend_in(&mut conn, channel, day).await
    }

    /// What a task has cost so far.
    pub async fn task_spend(&self, task: TaskId) -> Result<Usd> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(usd_micro), 0) AS BIGINT) AS s FROM cost_ledger WHERE task_id = $1",
        )
        .bind(task.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(Usd(sum_of(&row)?))
    }

    /// Ledger rows since `from_ms`, oldest first, optionally of one channel or one task.
    pub async fn ledger(
        &self,
        channel: Option<&ChannelId>,
        task: Option<TaskId>,
        from_ms: i64,
    ) -> Result<Vec<LedgerRow>> {
        let rows = sqlx::query(
            "SELECT id, at_ms, channel_id, task_id, step, item, attempt, provider, model, units, unit, unit_price_micro, usd_micro, correlation_id \
             FROM cost_ledger WHERE at_ms >= $1 AND ($2 = '' OR channel_id = $2) AND ($3 = '' OR task_id = $3) ORDER BY at_ms, id",
        )
        .bind(from_ms)
        .bind(channel.map(|c| c.as_str().to_string()).unwrap_or_default())
        .bind(task.map(|t| t.to_string()).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ledger_row).collect()
    }

    /// The provider job recorded for an item's version, if any: `(provider, job id)`.
    pub async fn provider_job(
        &self,
        task: TaskId,
        step: Step,
        item: &str,
        version: u32,
    ) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT provider, job_id FROM provider_jobs WHERE task_id = $1 AND step = $2 AND item = $3 AND version = $4",
        )
        .bind(task.to_string())
        .bind(step.as_str())
        .bind(item)
        .bind(version as i64)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((get(&r, "provider")?, get(&r, "job_id")?)))
            .transpose()
    }

    /// Records the provider job of an item's version (before the first poll), replacing an
    /// earlier one (a failed job that is tried again).
    pub async fn save_provider_job(
        &self,
        task: TaskId,
        step: Step,
        item: &str,
        version: u32,
        provider: &str,
        job_id: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO provider_jobs (task_id, step, item, version, provider, job_id, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7) \
             ON CONFLICT (task_id, step, item, version) DO UPDATE SET provider = excluded.provider, job_id = excluded.job_id, created_at = excluded.created_at",
        )
        .bind(task.to_string())
        .bind(step.as_str())
        .bind(item)
        .bind(version as i64)
        .bind(provider)
        .bind(job_id)
        .bind(super::now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets an item version's provider job (it failed: the next attempt starts a new one).
    pub async fn forget_provider_job(
        &self,
        task: TaskId,
        step: Step,
        item: &str,
        version: u32,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM provider_jobs WHERE task_id = $1 AND step = $2 AND item = $3 AND version = $4",
        )
        .bind(task.to_string())
        .bind(step.as_str())
        .bind(item)
        .bind(version as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What a channel spent in `[from, to)` and what items under way hold, on one connection (the
/// budget check reads it inside its transaction). One statement, so one snapshot: on PostgreSQL
/// (read committed) two statements could straddle another worker's `record_cost`, see its item
/// neither in the ledger nor among the holds, and let the budget be passed.
async fn spend_in(
    conn: &mut sqlx::AnyConnection,
    channel: &ChannelId,
    day: (i64, i64),
) -> Result<(Usd, Usd)> {
    let row = sqlx::query(
        "SELECT \
           CAST((SELECT COALESCE(SUM(usd_micro), 0) FROM cost_ledger WHERE channel_id = $1 AND at_ms >= $2 AND at_ms < $3) AS BIGINT) AS s, \
           CAST((SELECT COALESCE(SUM(usd_micro), 0) FROM cost_holds WHERE channel_id = $1) AS BIGINT) AS h",
    )
    .bind(channel.as_str())
    .bind(day.0)
    .bind(day.1)
    .fetch_one(&mut *conn)
    .await?;
    Ok((Usd(sum_of(&row)?), Usd(get(&row, "h")?)))
}

async fn delete_hold_in(tx: &mut sqlx::Transaction<'_, sqlx::Any>, item: &PaidItem) -> Result<()> {
    sqlx::query("DELETE FROM cost_holds WHERE task_id = $1 AND step = $2 AND item = $3")
        .bind(item.task_id.to_string())
        .bind(item.step.as_str())
        .bind(&item.item)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A sum, cast to BIGINT in the query (PostgreSQL sums BIGINT as NUMERIC, which the Any driver
/// does not read).
fn sum_of(row: &sqlx::any::AnyRow) -> Result<i64> {
    get(row, "s")
}

/// The advisory-lock key of a channel's budget (a stable 63-bit hash of its id).
fn channel_lock_key(channel: &ChannelId) -> i64 {
    let h = blake3::hash(format!("reviewdesk-budget/{}", channel.as_str()).as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    i64::from_le_bytes(b) & i64::MAX
}

fn ledger_row(r: &sqlx::any::AnyRow) -> Result<LedgerRow> {
    let unit: String = get(r, "unit")?;
    let unit = match unit.as_str() {
        "image" => crate::costs::PriceUnit::Image,
        "second" => crate::costs::PriceUnit::Second,
        "character" => crate::costs::PriceUnit::Character,
        _ => crate::costs::PriceUnit::Call,
    };
    let task: String = get(r, "task_id")?;
    let step: String = get(r, "step")?;
    Ok(LedgerRow {
        id: get(r, "id")?,
        at_ms: get(r, "at_ms")?,
        item: PaidItem {
            channel_id: ChannelId::parse(&get::<String>(r, "channel_id")?)?,
            task_id: task.parse()?,
            step: Step::parse(&step).ok_or_else(|| {
                crate::error::CoreError::invalid("cost ledger", format!("unknown step {step:?}"))
            })?,
            item: get(r, "item")?,
        },
        attempt: get::<i64>(r, "attempt")?.max(0) as u32,
        quote: Quote {
            provider: get(r, "provider")?,
            model: get(r, "model")?,
            units: get(r, "units")?,
            unit,
            unit_price: Usd(get(r, "unit_price_micro")?),
        },
        usd: Usd(get(r, "usd_micro")?),
        correlation_id: get(r, "correlation_id")?,
    })
}
