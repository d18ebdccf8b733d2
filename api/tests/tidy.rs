//! Tidy: every Rust source file of the workspace (`<crate>/src/**/*.rs`) starts with a `//!`
//! comment that says what the module owns.

use std::path::{Path, PathBuf};

/// The crates whose sources must be found, so that a broken walk cannot pass quietly.
const CRATES: [&str; 5] = ["api", "config", "daemon", "cli", "tests"];

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `*.rs` file under `dir`, skipping `target` directories.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `src/` files of every crate directory at the top of the workspace.
fn workspace_sources() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = Vec::new();
    let entries =
        std::fs::read_dir(&root).unwrap_or_else(|e| panic!("read {}: {e}", root.display()));
    for entry in entries {
        let dir = entry
            .unwrap_or_else(|e| panic!("read {}: {e}", root.display()))
            .path();
        let skip = dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n == "target" || n.starts_with('.'));
        if !skip && dir.join("src").is_dir() {
            rust_files(&dir.join("src"), &mut files);
        }
    }
    files.sort();
    files
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let root = workspace_root();
    let files = workspace_sources();
    for krate in CRATES {
        let src = root.join(krate).join("src");
        assert!(
            files.iter().any(|f| f.starts_with(&src)),
            "the tidy walk found no .rs file under {krate}/src: update CRATES or the walk in \
             api/tests/tidy.rs"
        );
    }
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let first = text.lines().map(str::trim).find(|l| !l.is_empty());
        if !first.is_some_and(|l| l.starts_with("//!")) {
            let shown = file.strip_prefix(&root).unwrap_or(file);
            missing.push(format!(
                "{} (starts with {:?})",
                shown.display(),
                first.unwrap_or("nothing")
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "these files do not start with a `//!` comment saying what the module owns; add one \
         as their first line:\n  {}",
        missing.join("\n  ")
    );
}
