//! Logging: `tracing` to stderr and to a daily file in the data folder.

use std::path::Path;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the file writer flushing; hold it until the program exits.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Installs the global subscriber. `default_level` applies unless `RUST_LOG` says otherwise.
/// Log files go to `<log_dir>/reviewdesk.log.<date>`; without a writable folder, stderr only.
pub fn init(log_dir: Option<&Path>, default_level: &str) -> LogGuard {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let (file_layer, guard) = match log_dir.filter(|d| std::fs::create_dir_all(d).is_ok()) {
        Some(dir) => {
            let appender = tracing_appender::rolling::daily(dir, "reviewdesk.log");
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_writer(writer)
                        .with_ansi(false),
                ),
                Some(guard),
            )
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(stderr)
        .with(file_layer)
        .try_init();
    LogGuard(guard)
}
