//! The out and in loops of a running mirror.

use std::sync::Arc;
use std::time::Duration;

use reviewdesk_core::store::now_ms;

use super::{Mirror, affects_every_task};

impl Mirror {
    /// Runs the out and in loops until the task is dropped; failures are kept for
    /// [`Mirror::state`] and retried with backoff (nothing is dropped).
    pub async fn run(self: Arc<Self>) {
        let out = {
            let me = self.clone();
            tokio::spawn(async move { me.out_loop().await })
        };
        let pull = {
            let me = self.clone();
            tokio::spawn(async move { me.pull_loop().await })
        };
        let _ = tokio::join!(out, pull);
    }

    pub(super) async fn out_loop(&self) {
        let mut events = self.core.events.subscribe();
        let mut backoff = self.config.backoff;
        loop {
            match self.push_due().await {
                Err(e) if affects_every_task(&e) => {
                    tracing::warn!("Notion mirror (out): {e}");
                    self.set_error(Some(&e));
                    self.announce().await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
                // A failure of one task is recorded on its event (and shown by `state`); the
                // other tasks went on.
                _ => {
                    self.set_error(None);
                    self.announce().await;
                    backoff = self.config.backoff;
                    let mut wait = self.config.out_interval;
                    if let Ok(heads) = self.store.heads().await {
                        let now = now_ms();
                        if let Some(due) = heads.iter().map(|h| h.2).filter(|&d| d > now).min() {
                            wait = wait.min(Duration::from_millis((due - now) as u64));
                        }
                    }
                    tokio::select! {
                        _ = events.recv() => {}
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    pub(super) async fn pull_loop(&self) {
        let mut backoff = self.config.backoff;
        loop {
            match self.pull_once().await {
                Ok(_) => {
                    backoff = self.config.backoff;
                    tokio::time::sleep(self.config.poll_interval).await;
                }
                Err(e) => {
                    tracing::warn!("Notion mirror (in): {e}");
                    self.set_error(Some(&e));
                    self.announce().await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
    }
}
