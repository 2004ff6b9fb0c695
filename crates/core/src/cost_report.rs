//! What was spent, per day, channel and step (`reviewdesk costs`), and each channel's spend
//! today against its budget.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use serde::Serialize;

use crate::context::Core;
use crate::costs::{BudgetDay, Usd};
use crate::error::Result;
use crate::ids::ChannelId;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    /// The day, in the channel's budget time zone (`2026-12-05`).
    pub day: String,
    /// The channel.
    pub channel_id: String,
    /// The step (`assets`, `video`, `audio`, `sfx`).
    pub step: String,
    /// Paid calls.
    pub calls: u32,
    /// Dollars.
    pub usd: f64,
}

/// A channel's spend today.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ts_rs::TS)]
pub struct ChannelToday {
    /// The channel.
    pub channel_id: String,
    /// Spent today (its budget day).
    pub spent_usd: f64,
    /// Held for items under way.
    pub held_usd: f64,
    /// Its daily budget, if it has one.
    pub budget_usd: Option<f64>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    /// Per day, channel and step, oldest first.
    pub lines: Vec<CostLine>,
    /// The sum of the lines.
    pub total_usd: f64,
    /// Each channel today.
    pub today: Vec<ChannelToday>,
}

/// Spend since `since` (a date; the start of that day in UTC), optionally of one channel.
pub async fn cost_report(
    core: &Core,
    channel: Option<&ChannelId>,
    since: NaiveDate,
) -> Result<CostReport> {
    let from = chrono::Utc
        .from_utc_datetime(&since.and_hms_opt(0, 0, 0).unwrap_or_default())
        .timestamp_millis();
    let channels = core.channels();
    let zone = |c: &str| {
        channels
            .iter()
            .find(|x| x.channel_id.as_str() == c)
            .map(|x| x.time_zone())
            .unwrap_or(chrono_tz::UTC)
    };
    let mut sums: BTreeMap<(String, String, String), (u32, Usd)> = BTreeMap::new();
    let mut total = Usd::ZERO;
    for row in core.store.ledger(channel, None, from).await? {
        let at = crate::store::ms_to_dt(row.at_ms);
        let day = BudgetDay::of(at, zone(row.item.channel_id.as_str())).label();
        let e = sums
            .entry((
                day,
                row.item.channel_id.as_str().to_string(),
                row.item.step.as_str().to_string(),
            ))
            .or_default();
        e.0 += 1;
        e.1 = e.1 + row.usd;
        total = total + row.usd;
    }
    let lines = sums
        .into_iter()
        .map(|((day, channel_id, step), (calls, usd))| CostLine {
            day,
            channel_id,
            step,
            calls,
            usd: usd.dollars(),
        })
        .collect();
    let today = spend_today(core, channel).await?;
    Ok(CostReport {
        lines,
        total_usd: total.dollars(),
        today,
    })
}

/// What approving at a gate starts that costs money: the paid step up to the next gate, its
/// items, model and price ("Approve → 18 clips with kling-v2-5-turbo std, about $7.56").
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ts_rs::TS)]
pub struct CostEstimate {
    /// The paid step approval starts.
    pub step: crate::status::Step,
    /// Its paid items.
    pub items: u32,
    /// The model (with Kling's mode).
    pub model: String,
    /// About how much, in US dollars (the price table's price for each item).
    pub usd: f64,
}

/// Each channel's spend today (its own budget day), and what items under way hold, with its
/// budget; one channel when `channel` is given.
pub async fn spend_today(core: &Core, channel: Option<&ChannelId>) -> Result<Vec<ChannelToday>> {
    let now = core.worker_settings.clock.now();
    let mut today = Vec::new();
    for c in core
        .channels()
        .iter()
        .filter(|c| channel.is_none_or(|only| &c.channel_id == only))
    {
        let day = BudgetDay::of(now, c.time_zone());
        let (spent, held) = core
            .store
            .channel_spend(&c.channel_id, (day.start_ms, day.end_ms))
            .await?;
        today.push(ChannelToday {
            channel_id: c.channel_id.as_str().to_string(),
            spent_usd: spent.dollars(),
            held_usd: held.dollars(),
            budget_usd: c.budget_daily_usd,
        });
    }
    Ok(today)
}

/// The estimate for approving `task` at its gate, from its scene plan; `None` when it is not at
/// a gate or approving starts nothing paid.
pub fn approve_estimate(
    core: &Core,
    task: &crate::task::Task,
    scenes: &[crate::scene::Scene],
) -> Result<Option<CostEstimate>> {
    let Some(mut step) = task
        .status
        .is_gate()
        .then(|| task.status.reviewed_step())
        .flatten()
        .and_then(crate::status::Step::next)
    else {
        return Ok(None);
    };
    if scenes.is_empty() {
        return Ok(None);
    }
    let channel = core.channel(&task.channel_id)?;
    let prices = core.prices.with(&channel.prices);
    loop {
        let config = channel.executor_for(step);
        let mut total = Usd::ZERO;
        let mut model = None;
        for scene in scenes {
            let text = match step {
                crate::status::Step::Audio => scene.narration.as_str(),
                crate::status::Step::Sfx => scene.sfx.as_str(),
                _ => scene.motion.as_str(),
            };
            match crate::provider_steps::item_quote(&config, step, &prices, text)? {
                Some(q) => {
                    total = total + q.total();
                    model = Some(q.model);
                }
                None => break,
            }
        }
        if let Some(model) = model {
            return Ok(Some(CostEstimate {
                step,
                items: scenes.len() as u32,
                model,
                usd: total.dollars(),
            }));
        }
        match step.next() {
            Some(next) if !step.done_status().is_gate() => step = next,
            _ => return Ok(None),
        }
    }
}
