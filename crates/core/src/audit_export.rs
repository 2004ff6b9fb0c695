//! The record of human review for a date range and channel (every decision, with reviewer,
//! source, time, reason and flags), as CSV or JSON: what `reviewdesk audit export` prints and
//! the window's History → Export saves.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::context::Core;
use crate::error::{CoreError, Result};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum AuditFormat {
    /// One row per decision, with a header.
    #[default]
    Csv,
    /// An array of decisions.
    Json,
}

/// What to export: UTC days, both inclusive (open when absent), and optionally one channel.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// First day.
    pub from: Option<NaiveDate>,
    /// Last day.
    pub to: Option<NaiveDate>,
    /// Only this channel's tasks.
    pub channel: Option<String>,
}

/// An export, ready to save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AuditExport {
    /// A file name that says what it holds (`reviewdesk-audit-2026-12-01-to-2026-12-05.csv`).
    pub filename: String,
    /// `text/csv` or `application/json`.
    pub content_type: String,
    /// How many decisions it holds.
    pub decisions: usize,
    /// The file's text.
    pub text: String,
}

/// One exported decision.
#[derive(Serialize)]
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

/// A day as `YYYY-MM-DD`, or an error naming the field.
pub fn parse_day(field: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| CoreError::invalid(field, format!("{s:?} is not a day (YYYY-MM-DD)")))
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Every decision of the query's days and channel, oldest first, in `format`.
pub async fn export(core: &Core, query: &AuditQuery, format: AuditFormat) -> Result<AuditExport> {
    if let (Some(f), Some(t)) = (query.from, query.to)
        && f > t
    {
        return Err(CoreError::invalid(
            "from",
            format!("the first day {f} is after the last day {t}"),
        ));
    }
    let until = query.to.and_then(|d| d.succ_opt()).map(start_of);
    let rows = core
        .store
        .audit_between(query.from.map(start_of), until, query.channel.as_deref())
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
    let (text, content_type, ext) = match format {
        AuditFormat::Json => (
            serde_json::to_string_pretty(&decisions)
                .map_err(|e| CoreError::invalid("audit", e.to_string()))?,
            "application/json",
            "json",
        ),
        AuditFormat::Csv => (csv_text(&decisions)?, "text/csv", "csv"),
    };
    let day = |d: Option<NaiveDate>, open: &str| d.map_or(open.to_string(), |d| d.to_string());
    // Only what a file name can hold safely (a channel id is `[A-Za-z0-9_]`; anything else asked
    // for matches no task and is left out of the name).
    let channel = query
        .channel
        .as_deref()
        .map(|c| {
            c.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|c| !c.is_empty())
        .map(|c| format!("-{c}"))
        .unwrap_or_default();
    Ok(AuditExport {
        filename: format!(
            "reviewdesk-audit{channel}-{}-to-{}.{ext}",
            day(query.from, "start"),
            day(query.to, &Utc::now().date_naive().to_string())
        ),
        content_type: content_type.into(),
        decisions: decisions.len(),
        text,
    })
}

fn csv_text(decisions: &[Decision]) -> Result<String> {
    let fail = |e: csv::Error| CoreError::invalid("audit", e.to_string());
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
    ])
    .map_err(fail)?;
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
        ])
        .map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| CoreError::invalid("audit", e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| CoreError::invalid("audit", e.to_string()))
}
