//! For this crate's unit tests: a desktop runtime whose mirror talks to the Notion double.

use std::sync::Arc;
use std::time::Duration;

use notion_double::NotionDouble;
use reviewdesk_core::Core;
use reviewdesk_notion::ClientConfig;
use reviewdesk_sync::MirrorConfig;

use crate::{AppRuntime, Door, RuntimeOptions};

/// A client of the double: fast, and one attempt per call (so a 429 is final at once).
pub(crate) fn double_client(double: &NotionDouble) -> ClientConfig {
    ClientConfig::default()
        .base_url(double.url())
        .rate(500.0, 50)
        .max_attempts(1)
}

/// The desktop's runtime on `core`, without worker or file watcher, its mirror (with `token`)
/// polling Notion only every 10 minutes.
pub(crate) async fn desktop_runtime(
    core: Arc<Core>,
    double: &NotionDouble,
    token: Option<String>,
) -> Arc<AppRuntime> {
    AppRuntime::start(
        core,
        RuntimeOptions {
            run_worker: false,
            watch_files: false,
            door: Door::Desktop,
            notion_token: token,
            notion_client: double_client(double),
            mirror: MirrorConfig {
                poll_interval: Duration::from_secs(600),
                ..MirrorConfig::default()
            },
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap()
}
