//! The "Check connection" report's TypeScript types are generated from the Rust types; this test
//! fails when the committed files are stale. Regenerate with `UPDATE_BINDINGS=1 cargo test -p
//! reviewdesk-runtime --test bindings`. They live in ui/src/lib/bindings/runtime/, a folder of
//! their own, so reviewdesk-core's staleness test (which owns the files directly under
//! ui/src/lib/bindings) neither compares nor deletes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

fn generate(dir: &Path) -> BTreeMap<String, String> {
    let cfg = ts_rs::Config::new()
        .with_out_dir(dir)
        .with_large_int("number");
    reviewdesk_runtime::NotionCheckReport::export_all(&cfg).unwrap();
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        out.insert(name, std::fs::read_to_string(e.path()).unwrap());
    }
    out
}

#[test]
fn ui_bindings_are_up_to_date() {
    let committed_dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings/runtime");
    let tmp = tempfile::tempdir().unwrap();
    let fresh = generate(tmp.path());
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        [
            "NotionChannelCheck.ts",
            "NotionCheckReport.ts",
            "NotionDatabaseCheck.ts",
            "NotionFinding.ts"
        ],
        "exactly this crate's types"
    );
    if std::env::var("UPDATE_BINDINGS").is_ok() {
        std::fs::create_dir_all(&committed_dir).unwrap();
        for (name, text) in &fresh {
            std::fs::write(committed_dir.join(name), text).unwrap();
        }
    }
    for (name, text) in &fresh {
        let committed = std::fs::read_to_string(committed_dir.join(name)).unwrap_or_default();
        assert_eq!(
            &committed, text,
            "{name} is stale; run UPDATE_BINDINGS=1 cargo test -p reviewdesk-runtime --test bindings"
        );
    }
}
