//! Replays the fuzz seeds and corpus (`fuzz/seeds/<target>/`, `fuzz/corpus/<target>/`) and
//! every input a fuzzer once broke
//! jitd with (`fuzz/regressions/<target>/`) through the same functions the fuzz targets call,
//! on stable Rust and without libFuzzer, so `scripts/test` keeps them fixed.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries {
            let path = e.expect("corpus entry").path();
            if path.is_file() && path.file_name().is_some_and(|n| n != ".gitkeep") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Runs every input, naming each one that fails, and fails if any did.
fn replay(target: &str, run: impl Fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no corpus for fuzz target {target} in fuzz/corpus/{target}/"
    );
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read corpus file");
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} inputs of fuzz target {target} fail:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn the_rpc_corpus_replays_cleanly() {
    replay("rpc", |data| {
        let dir = tempfile::Builder::new()
            .prefix("jit-fuzz-")
            .tempdir_in(shm())
            .expect("temp dir");
        jitd::fuzz::rpc(data, dir.path());
    });
}

#[test]
fn the_config_corpus_replays_cleanly() {
    replay("config", jitd::fuzz::config);
}

/// tmpfs when there is one: every input opens a fresh store, and fsync there is free.
fn shm() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}
