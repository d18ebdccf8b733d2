//! Upgrades: a store written by an earlier schema (the golden fixtures in
//! `tests/fixtures/store-v1` and `store-v2`, written by older jitds) opens, migrates and
//! serves — its requests, their indexes, the audit chain and the notifications waiting in its
//! outbox intact — and a store from a newer jitd is refused with a message that says what to
//! do.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use jit_api::Status;
use jit_api::methods::{AuditVerify, Empty, ListParams, RequestList, Scope};
use jit_tests::inprocess::InProcess;
use jit_tests::receivers::HttpSink;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/store-v1")
}

/// Just after the fixture was written (see its README), so nothing in it is due yet.
fn fixture_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_494_270)
}

fn config() -> String {
    std::fs::read_to_string(fixture().join("jit.toml")).expect("fixture config")
}

#[test]
fn a_schema_1_store_opens_migrated_with_its_requests_indexes_and_audit_chain() {
    let d = InProcess::start_on(&config(), Some(&fixture()), fixture_time()).expect("starts");
    let mut c = d.conn();
    // `request.list` of open requests now reads the index the migration built.
    let open = c.call::<RequestList>(&ListParams::default()).expect("list");
    let got: Vec<_> = open.iter().map(|r| (r.id, r.status)).collect();
    assert_eq!(got, vec![(2, Status::Pending), (1, Status::Granted)]);
    assert_eq!(open[1].justification.as_deref(), Some("golden: granted"));
    let closed = c
        .call::<RequestList>(&ListParams {
            closed: true,
            ..ListParams::default()
        })
        .expect("closed");
    assert_eq!(closed.len(), 1);
    assert_eq!((closed[0].id, closed[0].status), (3, Status::Revoked));
    // The review list reads the other new index.
    let review = c
        .call::<RequestList>(&ListParams {
            scope: Scope::Review,
            ..ListParams::default()
        })
        .expect("review");
    assert!(review.is_empty(), "root approves nothing in this config");
    let all = c
        .call::<RequestList>(&ListParams {
            scope: Scope::All,
            ..ListParams::default()
        })
        .expect("all");
    assert_eq!(all.len(), 2);
    let audit = c.call::<AuditVerify>(&Empty {}).expect("audit.verify");
    assert!(audit.ok, "{audit:?}");
    assert!(audit.checked >= 9, "{audit:?}");
    // The migrated store keeps working: the grant still expires on time.
    d.clock
        .step(SystemTime::from(open[1].expires_at.expect("expires")) + Duration::from_secs(1));
    jit_tests::wait_until(Duration::from_secs(10), "the old grant to expire", || {
        let v = c.call::<RequestList>(&ListParams::default()).expect("list");
        (!v.iter().any(|r| r.id == 1)).then_some(())
    });
}

#[test]
fn a_store_from_a_newer_jitd_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("dir");
    for f in ["jit.redb", "secret.key"] {
        std::fs::copy(fixture().join(f), dir.path().join(f)).expect("copy");
    }
    jitd::store::set_schema_version_for_tests(&dir.path().join("jit.redb"), 99)
        .expect("mark newer");
    let before = std::fs::read(dir.path().join("jit.redb")).expect("read");
    let err = match InProcess::start_on(&config(), Some(dir.path()), fixture_time()) {
        Ok(_) => panic!("a newer store must be refused"),
        Err(e) => e,
    };
    assert!(
        err.contains("schema version 99") && err.contains("use a newer jitd"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("jit.redb")).expect("read"),
        before,
        "the refused store is not touched"
    );
}

fn fixture_v2() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/store-v2")
}

#[test]
fn a_schema_2_store_delivers_the_notifications_it_held_with_their_old_ids() {
    let http = HttpSink::start();
    let config = std::fs::read_to_string(fixture_v2().join("jit.toml"))
        .expect("fixture config")
        .replace("http://127.0.0.1:9/hook", &http.url("/hook"));
    // Just after the fixture was written (see its README).
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_497_900);
    let d = InProcess::start_on(&config, Some(&fixture_v2()), at).expect("starts");
    // Rows written before delivery ids were random keep the id they were first tried with.
    let got = http.wait_for("/hook", 2, Duration::from_secs(30));
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.header("x-jit-delivery").expect("delivery header"))
        .collect();
    assert_eq!(ids, ["63d0527ebdb3d3b7-1", "63d0527ebdb3d3b7-2"]);
    for (r, want) in got.iter().zip(["(request 1)", "(request 2)"]) {
        assert!(
            r.json()["text"].to_string().contains(want),
            "{:?}",
            r.json()
        );
    }
    // A notification written now gets a random id.
    let mut c = d.conn();
    let r = c
        .call::<jit_api::methods::RequestCreate>(&jit_api::methods::CreateParams {
            integration: "demo".into(),
            resource_type: "database".into(),
            resources: vec!["new".into()],
            permissions: vec!["read".into()],
            justification: Some("after the upgrade".into()),
            ..Default::default()
        })
        .expect("create");
    let got = http.wait_for("/hook", 3, Duration::from_secs(30));
    assert!(
        got[2].json()["text"]
            .to_string()
            .contains(&format!("(request {})", r.id)),
        "{:?}",
        got[2].json()
    );
    let new = got[2].header("x-jit-delivery").expect("delivery header");
    assert!(
        new.len() == 32 && new.bytes().all(|b| b.is_ascii_hexdigit()),
        "{new}"
    );
}
