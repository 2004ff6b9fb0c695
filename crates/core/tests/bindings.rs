//! The UI's TypeScript types are generated from the Rust types; this test fails when the committed
//! files under ui/src/lib/bindings are stale. Regenerate with `UPDATE_BINDINGS=1 cargo test -p
//! reviewdesk-core --test bindings`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

fn generate(dir: &Path) {
    let cfg = ts_rs::Config::new()
        .with_out_dir(dir)
        .with_large_int("number");
    reviewdesk_core::tasks::TaskDetail::export_all(&cfg).unwrap();
    reviewdesk_core::DomainEvent::export_all(&cfg).unwrap();
    reviewdesk_core::NewTask::export_all(&cfg).unwrap();
    reviewdesk_core::StatusKind::export_all(&cfg).unwrap();
    reviewdesk_core::store::TaskFilter::export_all(&cfg).unwrap();
    reviewdesk_core::ReviewInput::export_all(&cfg).unwrap();
    use reviewdesk_core::api::*;
    ApproveRequest::export_all(&cfg).unwrap();
    RejectRequest::export_all(&cfg).unwrap();
    FlagRequest::export_all(&cfg).unwrap();
    BulkRequest::export_all(&cfg).unwrap();
    CancelRequest::export_all(&cfg).unwrap();
    AppStatus::export_all(&cfg).unwrap();
    ApiError::export_all(&cfg).unwrap();
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "ts") {
                out.insert(
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn ui_bindings_are_up_to_date() {
    let committed_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path());
    let fresh = read_dir(tmp.path());
    assert!(fresh.len() > 10, "bindings were generated");
    if std::env::var("UPDATE_BINDINGS").is_ok() {
        std::fs::create_dir_all(&committed_dir).unwrap();
        for old in read_dir(&committed_dir).keys() {
            std::fs::remove_file(committed_dir.join(old)).unwrap();
        }
        for (name, text) in &fresh {
            std::fs::write(committed_dir.join(name), text).unwrap();
        }
    }
    let committed = read_dir(&committed_dir);
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "binding files differ; run UPDATE_BINDINGS=1 cargo test -p reviewdesk-core --test bindings"
    );
    for (name, text) in &fresh {
        assert_eq!(
            &committed[name], text,
            "{name} is stale; run UPDATE_BINDINGS=1 cargo test -p reviewdesk-core --test bindings"
        );
    }
}
