//! `reviewdesk audit export`: the record of human review (every decision, with reviewer, source,
//! time, reason and flags) for a date range and channel, as CSV or JSON.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Subcommand, ValueEnum};
use reviewdesk_core::Core;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// `reviewdesk audit …`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Export every decision of a date range (UTC days, both inclusive) as CSV or JSON.
    Export {
        /// First day (YYYY-MM-DD); from the beginning when absent.
        #[arg(long, value_parser = parse_day)]
        from: Option<NaiveDate>,
        /// Last day (YYYY-MM-DD); up to now when absent.
        #[arg(long, value_parser = parse_day)]
        to: Option<NaiveDate>,
        /// Only this channel's tasks.
        #[arg(long)]
        channel: Option<String>,
        /// csv or json.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Export formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// One row per decision, with a header.
    Csv,
    /// An array of decisions.
    Json,
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not a day (YYYY-MM-DD)"))
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// One exported decision.
#[derive(serde::Serialize)]
struct Decision {
    time: DateTime<Utc>,
    task_id: String,
    task_title: String,
    channel_id: String,
    gate: String,
    decision: String,
    resulting_status: String,
    reviewer_id: Option<String>,
    reviewer_name: Option<String>,
    reviewer_email: Option<String>,
    source: String,
    reason: Option<String>,
    flagged: Vec<String>,
    correlation_id: String,
}

/// Runs `reviewdesk audit …`.
pub async fn run(core: Arc<Core>, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::Export {
        from,
        to,
        channel,
        format,
        output,
    } = command;
    if let (Some(f), Some(t)) = (from, to) {
        anyhow::ensure!(f <= t, "--from {f} is after --to {t}");
    }
    let until = to.and_then(|d| d.succ_opt()).map(start_of);
    let rows = core
        .store
        .audit_between(from.map(start_of), until, channel.as_deref())
        .await?;
    let decisions: Vec<Decision> = rows
        .into_iter()
        .map(|(a, channel_id, task_title)| Decision {
            time: a.created_at,
            task_id: a.task_id,
            task_title,
            channel_id,
            gate: a.gate,
            decision: a.decision,
            resulting_status: a.resulting_status,
            reviewer_id: a.reviewer.id,
            reviewer_name: a.reviewer.name,
            reviewer_email: a.reviewer.email,
            source: a.source,
            reason: a.reason,
            flagged: a.flagged,
            correlation_id: a.correlation_id,
        })
        .collect();
    let bytes = match format {
        Format::Json => serde_json::to_vec_pretty(&decisions)?,
        Format::Csv => csv_bytes(&decisions)?,
    };
    match output {
        Some(path) => std::fs::write(&path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}

fn csv_bytes(decisions: &[Decision]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "time",
        "task_id",
        "task_title",
        "channel_id",
        "gate",
        "decision",
        "resulting_status",
        "reviewer_id",
        "reviewer_name",
        "reviewer_email",
        "source",
        "reason",
        "flagged",
        "correlation_id",
    ])?;
    for d in decisions {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        w.write_record([
            d.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            d.task_id.clone(),
            d.task_title.clone(),
            d.channel_id.clone(),
            d.gate.clone(),
            d.decision.clone(),
            d.resulting_status.clone(),
            opt(&d.reviewer_id),
            opt(&d.reviewer_name),
            opt(&d.reviewer_email),
            d.source.clone(),
            opt(&d.reason),
            d.flagged.join(";"),
            d.correlation_id.clone(),
        ])?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}
