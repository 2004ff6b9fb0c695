//! Connecting Notion from the window, as `reviewdesk notion init` does from the command line:
//! the pages shared with the integration (to pick where the databases go), then the Tasks,
//! Assets, Videos and Audio databases under the chosen page, their ids written into the channel's
//! file, the channels reloaded and the mirror started.

use reviewdesk_core::channel_file::{ChannelForm, file_of, save_channel};
use reviewdesk_core::ids::ChannelId;
use reviewdesk_notion::{PageId, Parent};
use reviewdesk_sync::{MirrorConfig, setup};
use serde::{Deserialize, Serialize};

use crate::AppRuntime;
use crate::notion_check::NotionCheckError;

/// A page the channel's databases can go under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct NotionPageChoice {
    /// Its id.
    pub id: String,
    /// Its title ("Untitled" when it has none).
    pub title: String,
    /// Its address in Notion.
    pub url: Option<String>,
}

impl AppRuntime {
    /// The pages the integration can reach whose title contains `query`, most recently edited
    /// first; rows of databases are left out (databases go under a plain page).
    pub async fn notion_pages(
        &self,
        query: &str,
    ) -> Result<Vec<NotionPageChoice>, NotionCheckError> {
        let token = self.notion_token().ok_or(NotionCheckError::Off)?;
        let client = self.notion_client_for(&token)?;
        let pages = client
            .search_pages(query.trim())
            .await
            .map_err(|e| NotionCheckError::Notion(e.into()))?;
        Ok(pages
            .into_iter()
            .filter(|p| !matches!(p.parent, Parent::DataSource { .. } | Parent::Database(_)))
            .map(|p| {
                let title = p.title();
                NotionPageChoice {
                    id: p.id.to_string(),
                    title: if title.trim().is_empty() {
                        "Untitled".into()
                    } else {
                        title
                    },
                    url: p.url.clone(),
                }
            })
            .collect())
    }

    /// Creates the channel's four databases under `page` (the channel's file is made first when it
    /// has none), writes their ids into the file, reloads the channels and starts the mirror.
    /// Answers the channel as now configured.
    pub async fn create_notion_databases(
        &self,
        page: &str,
        channel: &str,
    ) -> Result<ChannelForm, NotionCheckError> {
        let token = self.notion_token().ok_or(NotionCheckError::Off)?;
        let id = ChannelId::parse(channel.trim())?;
        let core = &self.core;
        let config = core.channel(&id)?;
        let path = match file_of(core, id.as_str())? {
            Some(p) => p,
            None => {
                // The channel has no file yet (the built-in default): write one with its settings.
                let mut form = ChannelForm::of(&config);
                form.storage_strategy = "notion".into();
                save_channel(core, form).await?;
                file_of(core, id.as_str())?.ok_or_else(|| {
                    reviewdesk_core::CoreError::invalid("channel", "its file was not written")
                })?
            }
        };
        let client = self.notion_client_for(&token)?;
        let ids = setup::init(&client, &PageId::new(page.trim()), &config.channel_name).await?;
        setup::write_channel_ids(&path, &ids)?;
        core.reload_channels().await?;
        self.connect_notion(&token, MirrorConfig::from_env()).await;
        Ok(ChannelForm::of(&core.channel(&id)?))
    }
}

#[cfg(test)]
mod tests {
    use notion_double::{DoubleConfig, NotionDouble};
    use reviewdesk_testkit::TestCore;

    use crate::test_support::desktop_runtime;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_picked_page_gets_the_databases_and_the_default_channel_its_file_and_the_mirror_starts()
     {
        let double = NotionDouble::start(DoubleConfig::default().without_rate_limit())
            .await
            .unwrap();
        let page = double.seed_page("Video Production");
        double.seed_page("Team wiki");
        double.seed_unshared_page("Private notes");
        let dir = tempfile::tempdir().unwrap();
        // A fresh install: no channel file, the built-in default channel.
        let core = TestCore::new().open_in(dir.path()).await;
        let rt = desktop_runtime(core.clone(), &double, None).await;
        assert!(matches!(
            rt.notion_pages("").await.unwrap_err(),
            crate::NotionCheckError::Off
        ));
        // The token pasted in the window (kept for this session even where no keyring is).
        rt.set_notion_token(Some(&double.token()));
        let pages = rt.notion_pages("").await.unwrap();
        let titles: Vec<&str> = pages.iter().map(|p| p.title.as_str()).collect();
        assert!(
            titles.contains(&"Video Production") && titles.contains(&"Team wiki"),
            "{titles:?}"
        );
        assert!(!titles.contains(&"Private notes"), "{titles:?}");
        let found = rt.notion_pages("video").await.unwrap();
        assert_eq!(found.len(), 1);
        assert!(rt.mirror().is_none());

        let channel = rt
            .create_notion_databases(&found[0].id, "default")
            .await
            .unwrap();
        assert_eq!(channel.storage_strategy, "notion");
        let file = dir.path().join("cfg/channels/default.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("tasks_database_id"), "{text}");
        let c = core
            .channel(&reviewdesk_core::ChannelId::parse("default").unwrap())
            .unwrap();
        assert!(
            c.notion.tasks_database_id.is_some(),
            "the running app knows the databases"
        );
        assert!(rt.mirror().is_some(), "the mirror runs");
        // The four databases went under the picked page.
        let under_page = double
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/databases" && r.body.contains(&page))
            .count();
        assert_eq!(under_page, 4);
        rt.shutdown().await.unwrap();
    }
}
