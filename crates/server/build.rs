//! The built UI (`ui/dist`) is embedded by `rust-embed` (see `files.rs`). Two things it does not do
//! on its own:
//!
//! - compile without `ui/dist`: a Rust-only checkout has no UI build, so an empty folder is created
//!   and the binary serves the "web UI is not built yet" page;
//! - notice files it has not embedded: it tracks the files it includes, but a UI build adds new
//!   hashed names (and a first build adds everything), so the folder itself is watched. Cargo scans a
//!   watched folder recursively, which is why it must exist (a missing path reruns every build).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dist = manifest.join("../../ui/dist");
    if let Err(e) = std::fs::create_dir_all(&dist) {
        println!(
            "cargo::warning=cannot create {} ({e}): the UI will not be embedded",
            dist.display()
        );
    }
    println!("cargo::rerun-if-changed=../../ui/dist");
    println!("cargo::rerun-if-changed=build.rs");
}
