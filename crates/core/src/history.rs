//! A task's history as the task page shows it: each status it has been in, from when to when and
//! who moved it there, read from the append-only event log. With the audit trail (the decisions),
//! this is the review record a channel keeps as evidence of human review.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::status::Status;

/// A stay in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct StatusSpan {
    /// The status.
    pub status: Status,
    /// When the task entered it (UTC).
    pub entered_at: DateTime<Utc>,
    /// When it left (`None`: it is still there).
    pub left_at: Option<DateTime<Utc>>,
    /// Who moved it there (`worker`, `desktop`, `browser`, `notion`, `cli`).
    pub source: String,
}

impl StatusSpan {
    /// How long the task stayed (until `now` while it is still there), in whole seconds.
    pub fn seconds(&self, now: DateTime<Utc>) -> i64 {
        (self.left_at.unwrap_or(now) - self.entered_at)
            .num_seconds()
            .max(0)
    }
}

/// One entry of the event log that put the task in a status: creation or a status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entered {
    /// The status entered.
    pub status: Status,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub source: String,
}

/// The spans from the entries in log order: each lasts until the next entry. A repeated status
/// (an entry that does not change it) continues its span.
pub fn spans(entries: impl IntoIterator<Item = Entered>) -> Vec<StatusSpan> {
    let mut out: Vec<StatusSpan> = Vec::new();
    for e in entries {
        if let Some(last) = out.last_mut() {
            if last.status == e.status {
                continue;
            }
            last.left_at = Some(e.at);
        }
        out.push(StatusSpan {
            status: e.status,
            entered_at: e.at,
            left_at: None,
            source: e.source,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn entered(status: Status, s: i64, source: &str) -> Entered {
        Entered {
            status,
            at: at(s),
            source: source.into(),
        }
    }

    #[test]
    fn each_status_lasts_until_the_next_and_the_last_is_open() {
        let spans = spans([
            entered(Status::Queued, 0, "cli"),
            entered(Status::GeneratingAssets, 5, "worker"),
            entered(Status::AssetsReady, 65, "worker"),
            entered(Status::AssetsApproved, 365, "desktop"),
        ]);
        let kept: Vec<_> = spans
            .iter()
            .map(|s| (s.status, s.seconds(at(400)), s.source.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                (Status::Queued, 5, "cli"),
                (Status::GeneratingAssets, 60, "worker"),
                (Status::AssetsReady, 300, "worker"),
                (Status::AssetsApproved, 35, "desktop"),
            ]
        );
        assert_eq!(spans[3].left_at, None);
        assert_eq!(spans[2].left_at, Some(at(365)));
    }

    #[test]
    fn an_entry_that_keeps_the_status_continues_its_span() {
        let spans = spans([
            entered(Status::AssetsReady, 0, "worker"),
            entered(Status::AssetsReady, 10, "notion"),
            entered(Status::AssetsApproved, 30, "browser"),
        ]);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].seconds(at(99)), 30);
        assert_eq!(spans[0].source, "worker");
    }

    #[test]
    fn no_entries_no_history() {
        assert!(spans([]).is_empty());
    }
}
