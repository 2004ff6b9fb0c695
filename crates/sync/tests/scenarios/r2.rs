//! Files on R2 storage (against moto): objects put and linked, credentials from keyring or environment.

use super::*;

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// Check 2, child side: runs with the R2 credentials in its environment (set by the parent, as
// this crate forbids the unsafe `set_var`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by r2_storage_puts_objects_and_links_public_urls"]
async fn child_r2_scenario() {
    let Ok(s3) = std::env::var("SYNC_CHILD_S3_URL") else {
        return;
    };
    // An empty keyring: the credentials can only come from R2_ACCESS_KEY_ID / R2_SECRET_ACCESS_KEY.
    r2_scenario(&s3, mirror_config().secrets).await;
}

/// A channel on `r2` storage at `s3`: the task's 22 assets are PUT there and linked by their
/// public URL, with credentials from `secrets`.
async fn r2_scenario(s3: &str, secrets: SecretStore) {
    let double = NotionDouble::start(DoubleConfig::default().without_rate_limit())
        .await
        .unwrap();
    let parent = double.seed_page("Review Desk");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("config/channels")).unwrap();
    let yaml = dir.join("config/channels/default.yaml");
    std::fs::write(
        &yaml,
        format!(
            "channel_id: default\nchannel_name: Deep Sea\nstorage_strategy: r2\nr2:\n  account_id: test\n  bucket: reviewdesk\n  public_base_url: {s3}/reviewdesk\n  endpoint: {s3}\n"
        ),
    )
    .unwrap();
    let c = client(&double, true);
    let ids = setup::init(&c, &PageId::new(&parent), "Deep Sea")
        .await
        .unwrap();
    setup::write_channel_ids(&yaml, &ids).unwrap();
    let core = open_core(dir).await;
    let channel = core.channels().remove(0);
    reviewdesk_sync::create_bucket(channel.r2.as_ref().unwrap(), &secrets)
        .await
        .unwrap();
    let config = MirrorConfig {
        secrets,
        ..mirror_config()
    };
    let mirror = Mirror::new(core.clone(), client(&double, true), config)
        .await
        .unwrap();
    let task = add_task(&core, "Ocean").await;
    push_until_done(&mirror, Duration::from_secs(30)).await;
    run_worker(&core).await;
    double.clear_requests();
    push_until_done(&mirror, Duration::from_secs(60)).await;
    let notion_requests = double.requests().len();
    assert!(
        notion_requests <= 22 + 5,
        "{notion_requests} Notion requests"
    );
    let task = core.store.task(task.id).await.unwrap();
    let page = task.notion_page_id.clone().unwrap();
    let assets_ds = ds(&c, &ids.assets_database_id).await;
    let rows = c
        .query_data_source(
            &assets_ds,
            &Query {
                filter: Some(Filter::relation_contains("Task", &PageId::new(&page))),
                ..Query::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 22);
    let http = reqwest::Client::new();
    for a in core.store.assets(task.id).await.unwrap() {
        let key = format!(
            "default/{}/assets/{}/versions/{}.v1.png",
            task.id,
            a.kind.folder(),
            a.name
        );
        let url = format!("{s3}/reviewdesk/{key}");
        let row = rows
            .iter()
            .find(|r| {
                r.get("Asset Key").and_then(PropertyValue::plain_text)
                    == Some(reviewdesk_sync::asset_key(task.id, &a.name, 1))
            })
            .expect("row");
        match row.get("File") {
            Some(PropertyValue::Files(f)) => assert_eq!(
                f[0].source,
                reviewdesk_notion::FileSource::External { url: url.clone() }
            ),
            other => panic!("{other:?}"),
        }
        let body = http.get(&url).send().await.unwrap();
        assert_eq!(body.status(), 200, "{url}");
        assert!(body.bytes().await.unwrap().starts_with(b"\x89PNG"));
    }
    println!("r2 publish: {notion_requests} Notion requests for 22 assets");
}

/// A moto_server (`pip install 'moto[server]'`) on a free port, killed on drop; and its URL.
async fn start_moto() -> (KillOnDrop, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let moto = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moto_server runs (pip install 'moto[server]')");
    let moto = KillOnDrop(moto);
    wait_until_async("moto_server", Duration::from_secs(30), || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    (moto, format!("http://127.0.0.1:{port}"))
}

// Check 2: `r2` storage against a real S3-compatible server (moto_server), credentials from
// the environment variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_storage_puts_objects_and_links_public_urls() {
    let (_moto, s3) = start_moto().await;
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "r2::child_r2_scenario",
            "--ignored",
            "--nocapture",
        ])
        .env("SYNC_CHILD_S3_URL", &s3)
        .env("R2_ACCESS_KEY_ID", "test-key")
        .env("R2_SECRET_ACCESS_KEY", "test-secret")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(text.contains("1 passed"), "the child scenario ran");
}

// Issue #6: the same with the credentials in the OS keyring (a MemoryKeyring here) and nothing in
// the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_storage_with_credentials_from_the_keyring_and_an_empty_environment() {
    let (_moto, s3) = start_moto().await;
    let (_keyring, secrets) = keyring_only(&[
        ("r2-access-key-id", "keyring-key"),
        ("r2-secret-access-key", "keyring-secret"),
    ]);
    r2_scenario(&s3, secrets).await;
}

// Issue #6: without R2 credentials the mirror says where to put them (and never what they are);
// once stored in the keyring, the next round goes through without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_without_credentials_names_settings_and_the_variables_until_they_are_stored() {
    let double = NotionDouble::start(DoubleConfig::default().without_rate_limit())
        .await
        .unwrap();
    let parent = double.seed_page("Review Desk");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("config/channels")).unwrap();
    let yaml = dir.join("config/channels/default.yaml");
    std::fs::write(
        &yaml,
        "channel_id: default\nchannel_name: Deep Sea\nstorage_strategy: r2\nr2:\n  account_id: test\n  bucket: reviewdesk\n  public_base_url: http://127.0.0.1:9/reviewdesk\n  endpoint: http://127.0.0.1:9\n  credentials_ref: media\n",
    )
    .unwrap();
    let c = client(&double, true);
    let ids = setup::init(&c, &PageId::new(&parent), "Deep Sea")
        .await
        .unwrap();
    setup::write_channel_ids(&yaml, &ids).unwrap();
    let core = open_core(dir).await;
    let (keyring, secrets) = keyring_only(&[]);
    let config = MirrorConfig {
        secrets,
        ..mirror_config()
    };
    let mirror = Mirror::new(core.clone(), client(&double, true), config)
        .await
        .unwrap();
    let task = add_task(&core, "Ocean").await;

    let err = mirror.push_once().await.unwrap_err().to_string();
    assert!(
        err.contains("store it in Settings (OS keyring) or set MEDIA_ACCESS_KEY_ID"),
        "{err}"
    );
    let state = serde_json::to_value(mirror.state().await).unwrap();
    assert!(
        state.to_string().contains("or set MEDIA_ACCESS_KEY_ID"),
        "{state}"
    );

    keyring.set("media-access-key-id", "MEDIAKEYID").unwrap();
    let err = mirror.push_once().await.unwrap_err().to_string();
    assert!(
        err.contains("store it in Settings (OS keyring) or set MEDIA_SECRET_ACCESS_KEY"),
        "{err}"
    );
    assert!(!err.contains("MEDIAKEYID"), "{err}");

    keyring
        .set("media-secret-access-key", "media-secret")
        .unwrap();
    assert!(
        mirror.push_once().await.unwrap() >= 1,
        "the created event went"
    );
    let task = core.store.task(task.id).await.unwrap();
    assert!(task.notion_page_id.is_some(), "the task page was created");
    let debug = format!("{mirror:?}");
    assert!(
        !debug.contains("MEDIAKEYID") && !debug.contains("S3CRETVALUE"),
        "{debug}"
    );
    drop(mirror);
    core.store.close().await;
}
