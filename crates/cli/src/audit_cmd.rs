//! `reviewdesk audit export`: the record of human review (every decision, with reviewer, source,
//! time, reason and flags) for a date range and channel, as CSV or JSON
//! (`reviewdesk_core::audit_export`).

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Subcommand, ValueEnum};
use reviewdesk_core::Core;
use reviewdesk_core::audit_export::{AuditFormat, AuditQuery, export};
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
    reviewdesk_core::audit_export::parse_day("day", s)
        .map_err(|_| format!("{s:?} is not a day (YYYY-MM-DD)"))
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
    let format = match format {
        Format::Csv => AuditFormat::Csv,
        Format::Json => AuditFormat::Json,
    };
    let exported = export(&core, &AuditQuery { from, to, channel }, format).await?;
    match output {
        Some(path) => std::fs::write(&path, exported.text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(exported.text.as_bytes())?,
    }
    Ok(())
}
