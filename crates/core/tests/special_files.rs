//! Files the app reads from the workspace or the configuration folder must be regular files of a
//! sane size: a FIFO, a device or a huge file dropped there is refused with an error naming it,
//! never waited on (a FIFO with no writer blocks a plain read forever) and never read whole.

use reviewdesk_core::asset::{AssetCounts, AssetKind, AssetPlan};
use reviewdesk_core::store::Transition;
use reviewdesk_core::workspace::Workspace;
use reviewdesk_core::{AssetName, Core, CoreOptions, NewTask, Source, Status, TaskService};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

async fn core(dir: &Path) -> Arc<Core> {
    Core::open(CoreOptions {
        database_url: Some(format!(
            "sqlite://{}?mode=rwc",
            dir.join("db.sqlite").display()
        )),
        workspace: Some(dir.join("ws")),
        config_dir: Some(dir.join("cfg")),
        worker_settings: None,
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_refuses_a_fifo_or_an_oversized_file_in_place_of_an_asset() {
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path()).await;
    let t = TaskService::new(core.clone())
        .create(
            NewTask {
                title: "Owls".into(),
                ..Default::default()
            },
            Source::Cli,
        )
        .await
        .unwrap();
    let plan = AssetPlan::derive("owls", "", AssetCounts::default()).unwrap();
    core.store.ensure_assets(t.id, &plan.assets).await.unwrap();
    for (from, to) in [
        (Status::Queued, Status::Claimed),
        (Status::Claimed, Status::GeneratingAssets),
        (Status::GeneratingAssets, Status::AssetsReady),
    ] {
        core.store
            .transition(t.id, &Transition::new(from, to, Source::Worker))
            .await
            .unwrap();
    }
    let name = AssetName::parse("protagonist").unwrap();
    let rel = Workspace::asset_rel(&t.channel_id, t.id, AssetKind::Character, &name);
    let abs = core.workspace.root().join(&rel);

    mkfifo(&abs);
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        reviewdesk_core::watcher::on_asset_changed(&core, t.id, AssetKind::Character, &name, &rel),
    )
    .await
    .expect("a FIFO must not block the watcher");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");

    // A file far above the size cap is refused from its size alone (sparse: nothing is written).
    std::fs::remove_file(&abs).unwrap();
    let f = std::fs::File::create(&abs).unwrap();
    f.set_len(reviewdesk_core::thumbs::MAX_IMAGE_FILE_BYTES + 1)
        .unwrap();
    let e =
        reviewdesk_core::watcher::on_asset_changed(&core, t.id, AssetKind::Character, &name, &rel)
            .await
            .unwrap_err()
            .to_string();
    assert!(e.contains("larger than"), "{e}");
    assert_eq!(
        core.store.asset(t.id, &name).await.unwrap().current_version,
        0,
        "no version was added"
    );
}

#[test]
fn a_fifo_among_the_channel_files_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("channels/pipe.yaml");
    mkfifo(&fifo);
    let (tx, rx) = std::sync::mpsc::channel();
    let channels = dir.path().join("channels");
    std::thread::spawn(move || {
        let _ = tx.send(reviewdesk_core::config::load_channels(&channels).map(|c| c.len()));
    });
    let r = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a FIFO must not hang loading the channels");
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("pipe.yaml") && e.contains("not a regular file"),
        "{e}"
    );
}

#[test]
fn a_plan_file_must_be_a_regular_file_under_256_kib() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("plan.yaml");
    mkfifo(&fifo);
    let (tx, rx) = std::sync::mpsc::channel();
    let p = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(AssetPlan::read_text(&p).map(|t| t.len()));
    });
    let e = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a FIFO must not hang reading a plan")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let big = dir.path().join("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(300 * 1024)
        .unwrap();
    let e = AssetPlan::read_text(&big).unwrap_err().to_string();
    assert!(e.contains("larger than 256 KiB"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_folder_is_created_for_either_form_of_sqlite_url() {
    let dir = tempfile::tempdir().unwrap();
    for (n, url) in [
        "sqlite://{}/one/deep/db.sqlite?mode=rwc",
        "sqlite:{}/two/deep/db.sqlite?mode=rwc",
    ]
    .iter()
    .enumerate()
    {
        let url = url.replace("{}", &dir.path().display().to_string());
        let core = Core::open(CoreOptions {
            database_url: Some(url.clone()),
            workspace: Some(dir.path().join(format!("ws{n}"))),
            config_dir: Some(dir.path().join(format!("cfg{n}"))),
            worker_settings: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
        core.store.close().await;
    }
    assert!(dir.path().join("one/deep/db.sqlite").is_file());
    assert!(dir.path().join("two/deep/db.sqlite").is_file());
}
