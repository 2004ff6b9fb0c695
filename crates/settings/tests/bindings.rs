//! The Settings screen's TypeScript types are generated from the Rust types; this test fails when
//! the committed files under ui/src/lib/bindings are stale. Regenerate with `UPDATE_BINDINGS=1 cargo
//! test -p reviewdesk-settings --test bindings`. Only this crate's files are compared or written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

fn generate(dir: &Path) -> BTreeMap<String, String> {
    let cfg = ts_rs::Config::new()
        .with_out_dir(dir)
        .with_large_int("number");
    reviewdesk_settings::SettingsView::export_all(&cfg).unwrap();
    reviewdesk_settings::SettingsUpdate::export_all(&cfg).unwrap();
    reviewdesk_settings::TokenSource::export_all(&cfg).unwrap();
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        out.insert(name, std::fs::read_to_string(e.path()).unwrap());
    }
    out
}

#[test]
fn ui_bindings_are_up_to_date() {
    let committed_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
    let tmp = tempfile::tempdir().unwrap();
    let fresh = generate(tmp.path());
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        ["SettingsUpdate.ts", "SettingsView.ts", "TokenSource.ts"],
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
            "{name} is stale; run UPDATE_BINDINGS=1 cargo test -p reviewdesk-settings --test bindings"
        );
    }
}
