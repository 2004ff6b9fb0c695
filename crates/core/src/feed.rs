//! The event feed: domain events read back from the append-only `task_events` log, so that a
//! window sees every change, whichever process made it (a worker on another machine, the CLI, the
//! Notion mirror). In-process events only wake the feed early; the log is the single source, so
//! nothing is shown twice and nothing is missed.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;

use crate::context::Core;
use crate::event::{DomainEvent, Source};
use crate::ids::TaskId;
use crate::status::Status;
use crate::store::TaskEventRow;

/// Turns one log row into the events a window needs.
pub fn events_of(row: &TaskEventRow, title: Option<&str>, items: u32) -> Vec<DomainEvent> {
    let Ok(task_id) = TaskId::from_str(&row.task_id) else {
        return vec![];
    };
    let source = Source::parse(&row.source).unwrap_or(Source::Worker);
    let status = |s: &Option<String>| s.as_deref().and_then(|s| Status::from_str(s).ok());
    match row.kind.as_str() {
        "created" => vec![DomainEvent::TaskCreated { task_id, source }],
        "status_changed" => {
            let (Some(from), Some(to)) = (status(&row.from_status), status(&row.to_status)) else {
                return vec![DomainEvent::TaskUpdated { task_id, source }];
            };
            let mut out = vec![DomainEvent::StatusChanged {
                task_id,
                from,
                to,
                source,
            }];
            if let Some(decision) = row.payload.get("decision").and_then(|d| d.as_str())
                && from.is_gate()
            {
                out.push(DomainEvent::DecisionMade {
                    task_id,
                    gate: from,
                    decision: decision.into(),
                    status: to,
                    source,
                });
            }
            if to.is_gate() {
                out.push(DomainEvent::review_ready(
                    task_id,
                    to,
                    title.unwrap_or_default().into(),
                    items,
                ));
            }
            out
        }
        "flag" => {
            let name = row
                .payload
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_string();
            vec![DomainEvent::AssetChanged {
                task_id,
                name,
                source,
            }]
        }
        "asset_version" => {
            let name = row
                .payload
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_string();
            let version = row
                .payload
                .get("version")
                .and_then(|v| v.as_u64())
                .unwrap_or(0) as u32;
            vec![DomainEvent::AssetVersionAdded {
                task_id,
                name,
                version,
                source,
            }]
        }
        _ => vec![DomainEvent::TaskUpdated { task_id, source }],
    }
}

/// A running feed; subscribe to receive events from the log (and worker-state events).
#[derive(Debug, Clone)]
pub struct EventFeed {
    tx: broadcast::Sender<DomainEvent>,
    /// The last log entry whose events have been (or are being) sent; see [`EventFeed::position`].
    position: Arc<AtomicI64>,
}

impl EventFeed {
    /// Starts tailing the log from its current end. Changes made in this process, and (SQLite)
    /// writes by any process, show up at once; otherwise the log is read every `poll`, slowing
    /// down to every 2 s (30 s with SQLite) while nothing happens.
    pub async fn spawn(core: Arc<Core>, poll: Duration) -> crate::Result<EventFeed> {
        let (tx, _) = broadcast::channel(1024);
        // Start at the end: a new window loads current state first, then follows changes.
        let mut cursor = core.store.last_event_id().await?;
        let position = Arc::new(AtomicI64::new(cursor));
        let feed = EventFeed {
            tx: tx.clone(),
            position: position.clone(),
        };
        let mut bus = core.events.subscribe();
        let mut db = core.db_changes.subscribe();
        let idle_max = core.db_changes.idle_poll_max(false);
        tokio::spawn(async move {
            // Empty reads in a row: the poll slows down while nothing happens (writes by any
            // process wake the feed through `db_changes`; see db_watch).
            let mut idle_looks = 0u32;
            loop {
                db.mark_unchanged();
                match core.store.events_after(cursor, None, 500).await {
                    Ok(rows) => {
                        idle_looks = if rows.is_empty() {
                            idle_looks.saturating_add(1)
                        } else {
                            0
                        };
                        for row in &rows {
                            cursor = row.id;
                            // Stored before the send: a subscriber that then reads the position
                            // receives every entry after it (see `position`).
                            position.store(cursor, Ordering::SeqCst);
                            let (title, items) = match status_is_gate(row) {
                                true => gate_info(&core, row).await,
                                false => (None, 0),
                            };
                            for ev in events_of(row, title.as_deref(), items) {
                                let _ = tx.send(ev);
                            }
                        }
                        if rows.len() == 500 {
                            continue;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "event feed could not read the log; will try again")
                    }
                }
                // Wake on any local event (worker and mirror state pass straight through) or on the poll.
                tokio::select! {
                    ev = bus.recv() => match ev {
                        Ok(ev @ (DomainEvent::Worker { .. } | DomainEvent::Mirror { .. })) => { let _ = tx.send(ev); }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = crate::db_watch::changed(&mut db) => {}
                    _ = tokio::time::sleep(crate::db_watch::backoff(poll, idle_looks.saturating_sub(1), idle_max)) => {}
                }
            }
        });
        Ok(feed)
    }

    /// Receives future events.
    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.tx.subscribe()
    }

    /// Where a subscription made before this call starts: it receives the events of every log
    /// entry after the position returned. (Entries up to it may have been sent before the
    /// subscription: a board read reflecting them, `BoardTasks::events_through` ≥ this, has them.)
    pub fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }
}

fn status_is_gate(row: &TaskEventRow) -> bool {
    row.kind == "status_changed"
        && row
            .to_status
            .as_deref()
            .and_then(|s| Status::from_str(s).ok())
            .is_some_and(Status::is_gate)
}

async fn gate_info(core: &Core, row: &TaskEventRow) -> (Option<String>, u32) {
    let Ok(id) = TaskId::from_str(&row.task_id) else {
        return (None, 0);
    };
    let title = core.store.task(id).await.ok().map(|t| t.title);
    let items = core
        .store
        .assets(id)
        .await
        .map(|a| a.len() as u32)
        .unwrap_or(0);
    (title, items)
}
