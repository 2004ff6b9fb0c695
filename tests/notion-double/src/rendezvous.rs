//! A rendezvous: the next N matching requests are each held until all N are in flight at once
//! (or a timeout passes), so a test can prove requests overlap — or never overlap — without
//! measuring time.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Hold the next `parties` requests matching `method` / `path_prefix` until all of them have
/// arrived; when one waits `timeout_ms` in vain, all are released and the rendezvous is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RendezvousRule {
    /// How many requests must be in flight together.
    pub parties: u32,
    /// Only requests with this method (e.g. "POST"); any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path starts with this (e.g. "/v1/pages"); any when absent.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// The longest a held request waits for the others (default 5000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    5000
}

impl RendezvousRule {
    /// `parties` requests (any method, any path) must be in flight together.
    pub fn of(parties: u32) -> Self {
        Self {
            parties,
            method: None,
            path_prefix: None,
            timeout_ms: default_timeout_ms(),
        }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose path starts with `prefix`.
    pub fn path_prefix(mut self, prefix: &str) -> Self {
        self.path_prefix = Some(prefix.to_owned());
        self
    }

    /// The longest a held request waits for the others.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = timeout.as_millis() as u64;
        self
    }
}

/// How far the current rendezvous got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RendezvousState {
    /// Matching requests held so far (at most `parties`).
    pub arrived: u32,
    /// True once all `parties` were in flight together.
    pub met: bool,
    /// True when a held request waited `timeout_ms` in vain: it and the others were let go, and
    /// later requests pass without waiting (the rendezvous can no longer be met).
    pub broken: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Met,
    Broken,
}

/// The rendezvous in force.
#[derive(Debug)]
pub(crate) struct Rendezvous {
    rule: RendezvousRule,
    arrived: u32,
    phase: Arc<watch::Sender<Phase>>,
}

/// What a held request waits on.
pub(crate) struct Hold {
    phase: Arc<watch::Sender<Phase>>,
    timeout: Duration,
}

impl Rendezvous {
    pub(crate) fn new(rule: RendezvousRule) -> Self {
        Self {
            rule,
            arrived: 0,
            phase: Arc::new(watch::Sender::new(Phase::Waiting)),
        }
    }

    pub(crate) fn state(&self) -> RendezvousState {
        let phase = *self.phase.borrow();
        RendezvousState {
            arrived: self.arrived,
            met: phase == Phase::Met,
            broken: phase == Phase::Broken,
        }
    }

    /// Counts a request in; a matching one while the rendezvous waits is held.
    pub(crate) fn arrive(&mut self, method: &str, path: &str) -> Option<Hold> {
        let r = &self.rule;
        let matches = r
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p));
        if !matches || *self.phase.borrow() != Phase::Waiting || self.arrived >= r.parties {
            return None;
        }
        self.arrived += 1;
        if self.arrived == r.parties {
            self.phase.send_replace(Phase::Met);
        }
        Some(Hold {
            phase: self.phase.clone(),
            timeout: Duration::from_millis(r.timeout_ms),
        })
    }
}

impl Hold {
    /// Waits until the rendezvous is met, or breaks it when the timeout passes first.
    pub(crate) async fn wait(self) {
        let mut rx = self.phase.subscribe();
        let done = tokio::time::timeout(self.timeout, rx.wait_for(|p| *p != Phase::Waiting)).await;
        if done.is_err() {
            self.phase.send_if_modified(|p| {
                let waiting = *p == Phase::Waiting;
                if waiting {
                    *p = Phase::Broken;
                }
                waiting
            });
        }
    }
}
