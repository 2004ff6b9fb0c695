//! "Copy diagnostics" (Help): what a creator pastes into a bug report. The version and platform,
//! where things are, the channels and their steps, which media programs are present, the worker
//! and mirror state, and the end of the newest log file. Never a secret: the Notion token shows
//! only where it comes from, no environment is listed, and log lines pass through the secret
//! redaction (they should hold none in the first place).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use ts_rs::TS;

use crate::App;

/// How many log lines the report ends with.
pub const LOG_LINES: usize = 200;

/// The most of a log file read for its last lines (a day's log can be large).
const LOG_TAIL_BYTES: u64 = 512 * 1024;

/// The report, as text to copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Diagnostics {
    /// Plain text, one fact per line, then the log lines.
    pub text: String,
}

/// Builds the report. Works when the runtime did not start: that reason is then the main fact.
pub async fn diagnostics(app: &App, log_dir: &Path) -> Diagnostics {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Review Desk {} ({} {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    match app.runtime() {
        Err(e) => {
            let _ = writeln!(t, "Started: no: {}", e.body.message);
        }
        Ok(rt) => {
            let core = &rt.core;
            let _ = writeln!(t, "Started: yes");
            let _ = writeln!(t, "Database: {:?}", core.store.backend());
            let _ = writeln!(t, "Workspace: {}", core.workspace.root().display());
            for c in core.channels() {
                let n = &c.notion;
                let databases = [
                    &n.tasks_database_id,
                    &n.assets_database_id,
                    &n.videos_database_id,
                    &n.audio_database_id,
                ]
                .iter()
                .filter(|d| d.is_some())
                .count();
                let steps: Vec<String> = reviewdesk_core::Step::ALL
                    .iter()
                    .map(|s| match c.executor_for(*s) {
                        reviewdesk_core::config::ExecutorConfig::Builtin => format!("{s}=builtin"),
                        reviewdesk_core::config::ExecutorConfig::Command { program, .. } => {
                            format!("{s}=command({program})")
                        }
                        paid => format!("{s}={}", paid.provider().unwrap_or("paid")),
                    })
                    .collect();
                let _ = writeln!(
                    t,
                    "Channel {} ({}): storage {:?}, Notion databases {databases}/4, steps {}",
                    c.channel_id,
                    c.channel_name,
                    c.storage_strategy,
                    steps.join(" ")
                );
            }
            let tools = &core.worker_settings.tools;
            let programs: Vec<String> = [
                reviewdesk_media::Tool::Ffmpeg,
                reviewdesk_media::Tool::Ffprobe,
                reviewdesk_media::Tool::EspeakNg,
            ]
            .iter()
            .map(|tool| match tools.locate(*tool) {
                Some(p) => format!("{} at {}", tool.program(), p.display()),
                None => format!("{} missing", tool.program()),
            })
            .collect();
            let _ = writeln!(t, "Media programs: {}", programs.join(", "));
            match rt.status().await {
                Ok(s) => {
                    let _ = writeln!(t, "Worker: {}", json(&s.worker));
                    let _ = writeln!(t, "Notion mirror: {}", json(&s.mirror));
                    let _ = writeln!(t, "Waiting for review: {}", s.waiting_for_review);
                    if let Some(m) = s.missing_programs {
                        let _ = writeln!(t, "Missing programs: {m}");
                    }
                }
                Err(e) => {
                    let _ = writeln!(t, "Status: unavailable: {e}");
                }
            }
        }
    }
    if let Ok(s) = app.settings() {
        let v = s.view();
        let _ = writeln!(
            t,
            "Settings: channel files {}, Notion poll {} s, Notion token {}, file {}",
            v.config_dir,
            v.notion_poll_secs,
            json(&v.notion_token),
            v.settings_file
        );
    }
    let _ = writeln!(t, "Logs: {}", log_dir.display());
    match newest_log(log_dir) {
        Some((name, lines)) => {
            let _ = writeln!(t, "--- the last {} lines of {name} ---", lines.len());
            for l in lines {
                let _ = writeln!(t, "{}", reviewdesk_core::executor::redact(&l));
            }
        }
        None => {
            let _ = writeln!(t, "--- no log file yet ---");
        }
    }
    Diagnostics { text: t }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The newest `reviewdesk.log*` file of `dir` and its last [`LOG_LINES`] lines.
fn newest_log(dir: &Path) -> Option<(String, Vec<String>)> {
    use std::io::{Read, Seek, SeekFrom};
    let newest = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("reviewdesk.log")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()?
        .1;
    let mut f = std::fs::File::open(&newest).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))
        .ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(LOG_LINES)..]
        .iter()
        .map(|l| l.to_string())
        .collect();
    let name = newest.file_name()?.to_string_lossy().into_owned();
    Some((name, tail))
}
