//! Settings → "Check connection": the token and every channel's Notion databases compared with
//! the schema the mirror needs, and "Add what is missing" (what `reviewdesk notion check [--fix]`
//! does on the command line).

use reviewdesk_core::config::{ChannelConfig, NotionIds};
use reviewdesk_notion::{NotionClient, NotionToken};
use reviewdesk_sync::setup;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::AppRuntime;

/// Why "Check connection" could not run (its findings are in the report, not here). Apart from
/// [`crate::RuntimeError`] so the doors that never check Notion need not handle it.
#[derive(Debug, thiserror::Error)]
pub enum NotionCheckError {
    /// No Notion token saved.
    #[error("Notion is off: save a token first (the integration's secret, ntn_…)")]
    Off,
    /// No channel names Notion databases.
    #[error(
        "no channel has Notion database ids: run `reviewdesk notion init --parent-page <page id> --channel <channel>` (or add the ids to the channel file)"
    )]
    NotSetUp,
    /// Notion refused the token or failed (the message says what to do).
    #[error("{0}")]
    Notion(#[from] reviewdesk_sync::SyncError),
    /// The channel's file could not be made or read back (the message names the field or file).
    #[error("{0}")]
    Channel(#[from] reviewdesk_core::CoreError),
}

impl NotionCheckError {
    /// A stable code for the UI (`notion_off`, `notion_not_set_up`, `notion_failed`).
    pub fn code(&self) -> &'static str {
        match self {
            NotionCheckError::Off => "notion_off",
            NotionCheckError::NotSetUp => "notion_not_set_up",
            NotionCheckError::Notion(_) => "notion_failed",
            NotionCheckError::Channel(_) => "channel_file",
        }
    }
}

/// The result of checking (or fixing) every channel's Notion databases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NotionCheckReport {
    /// The token works and every database of every channel is as Review Desk needs.
    pub ok: bool,
    /// At least one finding can be fixed by "Add what is missing".
    pub fixable: bool,
    /// Each channel with Notion database ids, in channel file order.
    pub channels: Vec<NotionChannelCheck>,
}

/// One channel's databases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NotionChannelCheck {
    /// The channel id (its file name).
    pub channel_id: String,
    /// The channel's display name.
    pub channel_name: String,
    /// Tasks, Assets, Videos and Audio, in that order, each with what is wrong (if anything).
    pub databases: Vec<NotionDatabaseCheck>,
}

/// One database of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NotionDatabaseCheck {
    /// `Tasks`, `Assets`, `Videos` or `Audio`.
    pub database: String,
    /// What is wrong; empty when the database is as Review Desk needs.
    pub findings: Vec<NotionFinding>,
    /// What "Add what is missing" just added (empty after a plain check).
    pub added: Vec<String>,
}

/// One difference from what Review Desk needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NotionFinding {
    /// What is wrong and the fix, naming the property and its expected type.
    pub message: String,
    /// "Add what is missing" can fix it (a missing property or select option); a wrong type is
    /// left to the creator, since changing it would lose the column's values.
    pub fixable: bool,
}

/// The databases a report lists for every channel, in the order `setup::check` reads them.
const DATABASES: [&str; 4] = ["Tasks", "Assets", "Videos", "Audio"];

fn has_ids(ids: &NotionIds) -> bool {
    [
        &ids.tasks_database_id,
        &ids.assets_database_id,
        &ids.videos_database_id,
        &ids.audio_database_id,
    ]
    .iter()
    .any(|id| id.as_deref().is_some_and(|s| !s.trim().is_empty()))
}

fn channel_report(
    c: &ChannelConfig,
    findings: Vec<setup::Finding>,
    added: Vec<setup::Added>,
) -> NotionChannelCheck {
    NotionChannelCheck {
        channel_id: c.channel_id.to_string(),
        channel_name: c.channel_name.clone(),
        databases: DATABASES
            .iter()
            .map(|db| NotionDatabaseCheck {
                database: (*db).to_string(),
                findings: findings
                    .iter()
                    .filter(|f| f.database == *db)
                    .map(|f| NotionFinding {
                        message: f.message.clone(),
                        fixable: f.fixable,
                    })
                    .collect(),
                added: added
                    .iter()
                    .filter(|a| a.database == *db)
                    .map(|a| a.message.clone())
                    .collect(),
            })
            .collect(),
    }
}

impl AppRuntime {
    /// Validates the Notion token and every database of every channel that has Notion database
    /// ids; each finding names the property, its expected type and whether the app can add it.
    pub async fn check_notion(&self) -> Result<NotionCheckReport, NotionCheckError> {
        self.notion_report(false).await
    }

    /// Adds the missing properties and select options to every channel's databases (never
    /// changes a property's type), then checks again; the report lists what was added.
    pub async fn add_missing_notion_properties(
        &self,
    ) -> Result<NotionCheckReport, NotionCheckError> {
        self.notion_report(true).await
    }

    /// The Notion webhook's verification state: the token of a handshake waiting for the
    /// creator's confirmation (also named in the status bar's mirror message), and whether one
    /// is confirmed. `None` without a running mirror (webhooks reach `reviewdesk serve` only
    /// through it).
    pub async fn notion_webhook_status(
        &self,
    ) -> Result<Option<reviewdesk_sync::webhook::WebhookStatus>, NotionCheckError> {
        let Some(m) = self.mirror() else {
            return Ok(None);
        };
        Ok(Some(reviewdesk_sync::webhook::status(m.store()).await?))
    }

    /// The client of the process for this token: the running mirror's when it uses the same
    /// token, else the process-wide one. Notion limits requests per token, so a check must queue
    /// behind the mirror's requests (and wait out a 429 the mirror met), not add its own.
    pub(crate) fn notion_client_for(&self, token: &str) -> Result<NotionClient, NotionCheckError> {
        let token = NotionToken::new(token);
        if let Some(m) = self.mirror()
            && m.client().uses_token(&token)
        {
            return Ok(m.client().clone());
        }
        NotionClient::shared(token, self.notion_client.clone())
            .map_err(|e| NotionCheckError::Notion(e.into()))
    }

    async fn notion_report(&self, fix: bool) -> Result<NotionCheckReport, NotionCheckError> {
        let token = self.notion_token().ok_or(NotionCheckError::Off)?;
        let channels: Vec<ChannelConfig> = self
            .core
            .channels()
            .into_iter()
            .filter(|c| has_ids(&c.notion))
            .collect();
        if channels.is_empty() {
            return Err(NotionCheckError::NotSetUp);
        }
        let client = self.notion_client_for(&token)?;
        let mut out = Vec::new();
        for c in &channels {
            let added = if fix {
                setup::add_missing(&client, &c.notion).await?
            } else {
                Vec::new()
            };
            let findings = setup::check(&client, &c.notion).await?;
            out.push(channel_report(c, findings, added));
        }
        let all = || {
            out.iter()
                .flat_map(|c| &c.databases)
                .flat_map(|d| &d.findings)
        };
        Ok(NotionCheckReport {
            ok: all().next().is_none(),
            fixable: all().any(|f| f.fixable),
            channels: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use notion_double::{DoubleConfig, FaultKind, FaultRule, NotionDouble};
    use reviewdesk_core::config::NotionIds;
    use reviewdesk_notion::{NotionClient, NotionToken, PageId};
    use reviewdesk_testkit::TestCore;

    use crate::AppRuntime;
    use crate::test_support::{desktop_runtime, double_client};

    /// A channel whose databases live in the double, and a runtime whose mirror talks to it (one
    /// attempt per call, so a 429 is final at once).
    async fn runtime(
        dir: &tempfile::TempDir,
        double: &NotionDouble,
    ) -> (NotionIds, Arc<AppRuntime>) {
        let setup_client =
            NotionClient::with_config(NotionToken::new(double.token()), double_client(double))
                .unwrap();
        let parent = double.seed_page("Review Desk");
        let ids = reviewdesk_sync::setup::init(&setup_client, &PageId::new(&parent), "News")
            .await
            .unwrap();
        std::fs::create_dir_all(dir.path().join("cfg/channels")).unwrap();
        let yaml = dir.path().join("cfg/channels/news.yaml");
        std::fs::write(&yaml, "channel_id: news\nchannel_name: News\n").unwrap();
        reviewdesk_sync::setup::write_channel_ids(&yaml, &ids).unwrap();
        let core = TestCore::new().open_in(dir.path()).await;
        let rt = desktop_runtime(core, double, Some(double.token())).await;
        (ids, rt)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn check_connection_waits_out_a_rate_limit_the_running_mirror_met() {
        let double = NotionDouble::start(DoubleConfig::default().without_rate_limit())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (ids, rt) = runtime(&dir, &double).await;
        let mirror = rt.mirror().expect("the mirror runs");
        // One pull resolves the channel's databases (waiting for the mirror's own start-up
        // resolution if it is under way), so no read of the mirror is in flight past the 429.
        mirror.pull_once().await.unwrap();
        // The mirror meets a final 429: every caller of its token waits for Retry-After.
        double.inject_fault(
            FaultRule::next(1, FaultKind::Status(429))
                .path_prefix("/v1/users/me")
                .retry_after(1),
        );
        let err = mirror.client().me().await.unwrap_err();
        assert_eq!(err.status(), Some(429));
        let report = rt.check_notion().await.unwrap();
        assert!(report.ok, "{report:?}");
        let log = double.requests();
        let limited = log
            .iter()
            .find(|r| r.status == Some(429))
            .expect("the 429")
            .at_ms;
        // The check reads the Videos database after the 429 (the check starts after it); the
        // mirror read it before, when it resolved the channel's databases.
        let videos = ids.videos_database_id.clone().unwrap();
        let check_reads: Vec<u64> = log
            .iter()
            .filter(|r| r.path.contains(&videos) && r.at_ms >= limited)
            .map(|r| r.at_ms)
            .collect();
        assert!(!check_reads.is_empty());
        for at in check_reads {
            assert!(
                at >= limited + 950,
                "the check read Notion {} ms after the mirror's 429 (Retry-After: 1): it has a limiter of its own",
                at - limited
            );
        }
        rt.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn check_connection_without_a_mirror_reuses_one_client_per_token() {
        let double = NotionDouble::start(DoubleConfig::default().without_rate_limit())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (_ids, rt) = runtime(&dir, &double).await;
        // A token saved in Settings that the running mirror does not use.
        rt.set_notion_token(Some("ntn_another_token"));
        let a = rt.notion_client_for("ntn_another_token").unwrap();
        let b = rt.notion_client_for("ntn_another_token").unwrap();
        assert!(a.shares_limiter_with(&b));
        let mirror = rt.mirror().unwrap();
        assert!(!a.shares_limiter_with(mirror.client()));
        assert!(
            rt.notion_client_for(&double.token())
                .unwrap()
                .shares_limiter_with(mirror.client())
        );
        rt.shutdown().await.unwrap();
    }
}
