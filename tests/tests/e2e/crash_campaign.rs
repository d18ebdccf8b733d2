//! The short crash campaign CI runs: at least 50 kills of jitd (kill -9 at random moments
//! and aborts at the failpoints between a target's change and the store's record) while
//! requests are granted, used with real clients and revoked on PostgreSQL, MariaDB and
//! Redis. Nothing acknowledged may be lost and nothing jit made may outlive its grant.
//! `target/debug/jit-crash --kills 1000` runs the full one.

#[test]
fn fifty_kills_lose_nothing_and_leave_nothing_behind() {
    let r = jit_tests::crash::run(50, |line| eprintln!("{line}"));
    eprintln!("{r:?}");
    assert!(r.kills + r.aborts >= 50, "{r:?}");
    assert!(
        r.cycles > 50,
        "the campaign made too few requests to mean much: {r:?}"
    );
    assert!(
        r.logins > 0,
        "no login with handed-out credentials happened: {r:?}"
    );
    assert_eq!((r.lost, r.leaks), (0, 0), "{:#?}", r.problems);
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
}
