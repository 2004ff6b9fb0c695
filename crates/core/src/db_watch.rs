//! Changes other processes make to an SQLite database, heard from the file system instead of
//! polled for: every commit appends to the database's write-ahead log (`<db>-wal`) or, at a
//! checkpoint, writes the database file, and inotify reports either at once. An idle app then
//! wakes only when something changed (the CLI added a task, another worker moved one) and polls
//! rarely as a safety net; its own writes wake it too, which costs one cheap read.
//!
//! PostgreSQL has no file here: its workers hear about work through LISTEN/NOTIFY, and the event
//! feed polls with a backoff. Where a watch cannot start (inotify limits, an in-memory database),
//! [`DbWatch::is_active`] is false and the listeners keep a short poll.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// The change signal: a counter raised on every write seen.
pub struct DbWatch {
    tx: watch::Sender<u64>,
    // Dropping the watcher stops its thread.
    watcher: Option<notify::RecommendedWatcher>,
}

impl std::fmt::Debug for DbWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbWatch")
            .field("active", &self.is_active())
            .field("writes_seen", &*self.tx.borrow())
            .finish()
    }
}

impl DbWatch {
    /// Watches the database of `url` when it is an SQLite file; inactive otherwise.
    pub fn for_url(url: &str) -> DbWatch {
        let (tx, _) = watch::channel(0);
        let watcher = sqlite_file(url).and_then(|file| match start(&file, tx.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, db = %file.display(), "cannot watch the database file; changes made by other processes are seen by polling");
                None
            }
        });
        DbWatch { tx, watcher }
    }

    /// Whether writes are heard (if not, poll).
    pub fn is_active(&self) -> bool {
        self.watcher.is_some()
    }

    /// A receiver whose `changed()` resolves after the next write.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// The longest an idle listener should sleep between two looks at the database: long when
    /// writes are heard, short when only polling sees them.
    pub fn idle_poll_max(&self, heard_otherwise: bool) -> Duration {
        if self.is_active() || heard_otherwise {
            Duration::from_secs(30)
        } else {
            Duration::from_secs(2)
        }
    }
}

/// The next poll interval of an idle loop: four times longer after each look that found nothing,
/// from `base` up to `max` (a safety net only: real changes wake the loop, so it may slow fast).
pub fn backoff(base: Duration, idle_looks: u32, max: Duration) -> Duration {
    base.saturating_mul(1u32 << (2 * idle_looks.min(15)))
        .min(max.max(base))
}

/// Resolves at the next change; never, when the signal is gone (the loop then polls).
pub async fn changed(rx: &mut watch::Receiver<u64>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The database file of an `sqlite:` URL (none for an in-memory database or another backend).
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}

fn start(file: &Path, tx: watch::Sender<u64>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The folder, not the files: the log is created and removed as connections come and go.
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if !matches!(ev.kind, EventKind::Modify(_) | EventKind::Create(_)) {
            return;
        }
        let ours = ev.paths.iter().any(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                // `-shm` is written through a memory map, which inotify does not report.
                n == name || n == format!("{name}-wal")
            })
        });
        if ours {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_from_the_base_up_to_the_cap() {
        let ms = Duration::from_millis;
        assert_eq!(backoff(ms(250), 0, ms(30_000)), ms(250));
        assert_eq!(backoff(ms(250), 1, ms(30_000)), ms(1_000));
        assert_eq!(backoff(ms(250), 3, ms(30_000)), ms(16_000));
        assert_eq!(backoff(ms(250), 40, ms(30_000)), ms(30_000));
        assert_eq!(
            backoff(ms(500), 2, ms(100)),
            ms(500),
            "never below the base"
        );
    }

    #[test]
    fn only_sqlite_files_are_watched() {
        assert_eq!(
            sqlite_file("sqlite:///tmp/x/reviewdesk.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x/reviewdesk.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/db"), None);
    }
}
