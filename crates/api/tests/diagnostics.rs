//! Help → Copy diagnostics: what the report says, that it ends with the newest log's last lines,
//! that it works when the app could not start, and that it never holds the Notion token.

use std::sync::Arc;

use reviewdesk_api::{App, LOG_LINES, diagnostics};
use reviewdesk_runtime::{AppRuntime, RuntimeOptions};
use reviewdesk_settings::{MemoryKeyring, Paths, SecretStore, SettingsService};
use reviewdesk_testkit::TestCore;

const TOKEN: &str = "ntn_diagnostics_must_never_show_this_0123456789";

fn settings(dir: &std::path::Path) -> SettingsService {
    let secrets = SecretStore::new(Arc::new(MemoryKeyring::new())).with_env(|_| None);
    secrets.set_notion_token(TOKEN).unwrap();
    let paths = Paths {
        workspace: dir.join("ws"),
        config_dir: dir.join("config"),
    };
    SettingsService::open(dir.join("settings.json"), secrets, paths.clone(), paths).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_names_versions_channels_programs_and_state_ends_with_the_log_and_holds_no_secret()
 {
    let dir = tempfile::tempdir().unwrap();
    let core = TestCore::new().open_in(dir.path()).await;
    let rt = AppRuntime::start(
        core,
        RuntimeOptions {
            run_worker: false,
            watch_files: false,
            ..RuntimeOptions::default()
        },
    )
    .await
    .unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("reviewdesk.log.2026-12-01"), "old day\n").unwrap();
    // The newest file, by modification time.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let lines: String = (0..250).map(|i| format!("INFO entry {i:03}\n")).collect();
    std::fs::write(logs.join("reviewdesk.log.2026-12-05"), lines).unwrap();

    let app = App::desktop(Ok(rt.clone()), Ok(settings(dir.path())));
    let text = diagnostics(&app, &logs).await.text;
    assert!(
        text.starts_with(&format!("Review Desk {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    for fact in [
        "Started: yes",
        "Channel default",
        "Media programs: ffmpeg",
        "Worker: ",
        "Notion mirror: ",
        "Notion token \"keyring\"",
        "the last 200 lines of reviewdesk.log.2026-12-05",
    ] {
        assert!(text.contains(fact), "no {fact:?} in:\n{text}");
    }
    assert!(text.contains("entry 249") && text.contains("entry 050"));
    assert!(!text.contains("entry 049") && !text.contains("old day"));
    assert_eq!(text.matches("INFO entry").count(), LOG_LINES);
    assert!(!text.contains(TOKEN), "the token leaked:\n{text}");
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_report_says_why_the_app_did_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::desktop(
        Err("Review Desk could not start: the database is locked".into()),
        Ok(settings(dir.path())),
    );
    let text = diagnostics(&app, &dir.path().join("no-logs")).await.text;
    assert!(
        text.contains("Started: no: Review Desk could not start: the database is locked"),
        "{text}"
    );
    assert!(text.contains("--- no log file yet ---"));
    assert!(!text.contains(TOKEN));
}
