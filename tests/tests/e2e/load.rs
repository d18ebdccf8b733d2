//! A short load run (issue 6, point 7): the same code as `jit-bench load`, with 10 clients
//! for 5 s. No timing is asserted — only that nothing failed and nothing acknowledged was
//! lost, live and after `kill -9` and a restart, and that every kind of call was made.

use std::path::PathBuf;

use jit_tests::load::{LoadOptions, run};

#[test]
fn load_mixed_calls_from_ten_users_lose_nothing() {
    let outcome = run(&LoadOptions {
        clients: 10,
        secs: 5.0,
        worker: PathBuf::from(env!("CARGO_BIN_EXE_jit-bench")),
        log: "info".into(),
    });
    outcome.print();
    assert!(
        outcome.ok(),
        "{} errors, {} lost: {:?} {:?}",
        outcome.errors,
        outcome.lost.len(),
        outcome.error_samples,
        outcome.lost
    );
    // A run that did not exercise every path proves nothing.
    assert!(outcome.created_manual > 0, "no create needed an approval");
    assert!(outcome.approved > 0, "nothing was approved");
    assert!(outcome.revoked > 0, "nothing was revoked");
    assert!(outcome.reveals_refused > 0, "nothing was revealed");
    for m in ["request.create", "request.list (own)", "request.get"] {
        assert!(outcome.latencies_us.contains_key(m), "no {m} call");
    }
}
