//! Who may do what: self-approval, non-approvers, other users, thresholds, cancel, reject,
//! and the pending timeout.

use std::time::Duration;

use jit_tests::pg::{self, TestDb};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, wait_until};

fn fails_with(d: &Daemon, user: &User, args: &[&str], needle: &str) {
    let out = d.jit(Some(user), args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "jit {args:?} as {} should fail: {text}",
        user.name
    );
    assert!(
        text.contains(needle),
        "jit {args:?}: expected {needle:?} in {text}"
    );
}

#[test]
fn only_the_flows_approvers_decide_and_nobody_sees_what_is_not_theirs() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let bob = User::create("b", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let dave = User::create("d", &[&dba]);
    let db = TestDb::create();
    let d = Daemon::start(&crate::config(&crate::prefix(), pg::ADMIN_URL, &dev, &dba));

    // Alice's granted read request: bob can neither see it nor reveal its credentials.
    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "pg-main/database",
            &db.name,
            "--perm",
            "read",
            "--reason",
            "INC-1",
        ],
    );
    assert_eq!(r["status"], "granted");
    let rid = r["id"].as_u64().expect("id").to_string();
    fails_with(&d, &bob, &["show", &rid], "no request");
    fails_with(&d, &bob, &["creds", &rid], "no request");
    fails_with(&d, &bob, &["revoke", &rid], "no request");
    fails_with(&d, &carol, &["creds", &rid], "no request");
    assert!(
        d.jit_json(Some(&bob), &["ls"])
            .as_array()
            .expect("list")
            .is_empty()
    );

    // A pending write: alice cannot approve her own, bob is no approver, carol is.
    let w = d.jit_json(
        Some(&alice),
        &[
            "request",
            "pg-main/database",
            &db.name,
            "--perm",
            "write",
            "--reason",
            "fix",
        ],
    );
    assert_eq!(w["status"], "pending");
    let wid = w["id"].as_u64().expect("id").to_string();
    fails_with(&d, &alice, &["approve", &wid], "own");
    fails_with(&d, &bob, &["approve", &wid], "no request");
    let review = d.jit_json(Some(&carol), &["ls", "--review"]);
    assert!(
        review
            .as_array()
            .expect("list")
            .iter()
            .any(|x| x["id"].as_u64().map(|n| n.to_string()) == Some(wid.clone())),
        "{review}"
    );
    fails_with(&d, &bob, &["cancel", &wid], "no request");
    let rejected = d.jit_json(Some(&carol), &["reject", &wid, "--reason", "not now"]);
    assert_eq!(rejected["status"], "rejected");
    assert!(
        rejected["end_reason"]
            .as_str()
            .expect("reason")
            .contains("not now")
    );
    fails_with(&d, &dave, &["approve", &wid], "rejected");

    // Threshold 2: two distinct approvers.
    let t = d.jit_json(
        Some(&alice),
        &["request", "demo/database", "x", "--perm", "write"],
    );
    let tid = t["id"].as_u64().expect("id").to_string();
    let one = d.jit_json(Some(&carol), &["approve", &tid]);
    assert_eq!(one["status"], "pending");
    fails_with(&d, &carol, &["approve", &tid], "already approved");
    let two = d.jit_json(Some(&dave), &["approve", &tid]);
    assert!(
        two["status"] == "granting" || two["status"] == "granted",
        "{two}"
    );

    // Cancel: own pending only.
    let c = d.jit_json(
        Some(&alice),
        &["request", "demo/database", "y", "--perm", "write"],
    );
    let cid = c["id"].as_u64().expect("id").to_string();
    fails_with(&d, &carol, &["cancel", &cid], "only");
    assert_eq!(
        d.jit_json(Some(&alice), &["cancel", &cid])["status"],
        "canceled"
    );

    // Pending TTL: rejected as timed out.
    let p = d.jit_json(
        Some(&alice),
        &["request", "demo/database", "z", "--perm", "read"],
    );
    let pid = p["id"].as_u64().expect("id").to_string();
    wait_until(Duration::from_secs(10), "pending timeout", || {
        let v = d.jit_json(Some(&alice), &["show", &pid]);
        (v["status"] == "rejected").then_some(v)
    });
    let v = d.jit_json(Some(&alice), &["show", &pid]);
    assert!(
        v["end_reason"]
            .as_str()
            .expect("reason")
            .contains("timed out"),
        "{v}"
    );

    // A requester who is also an approver of the flow still cannot approve their own; an
    // approver can see a request but never reveal its credentials; neither can an admin.
    let eve = User::create("e", &[&dev, &dba]);
    let e = d.jit_json(
        Some(&eve),
        &[
            "request",
            "pg-main/database",
            &db.name,
            "--perm",
            "write",
            "--reason",
            "x",
        ],
    );
    let eid = e["id"].as_u64().expect("id").to_string();
    fails_with(&d, &eve, &["approve", &eid], "own");
    let granted = d.jit_json(Some(&carol), &["approve", &eid]);
    assert!(
        granted["status"] == "granting" || granted["status"] == "granted",
        "{granted}"
    );
    wait_until(Duration::from_secs(10), "eve's grant", || {
        (d.jit_json(Some(&eve), &["show", &eid])["status"] == "granted").then_some(())
    });
    fails_with(&d, &carol, &["creds", &eid], "only");
    let root_peek = d.jit(None, &["creds", &eid]);
    assert!(
        !root_peek.status.success(),
        "an admin must not see a requester's secret"
    );
    assert!(d.jit_json(Some(&eve), &["creds", &eid])["sessions"][0]["secret"].is_string());

    // A user in no flow is told so; again works from a closed request and links to it.
    let nobody = User::create("n", &[]);
    fails_with(
        &d,
        &nobody,
        &["request", "demo/database", "x", "--perm", "read"],
        "not a requester",
    );
    let again = d.jit_json(Some(&alice), &["again", &pid, "--reason", "second try"]);
    assert_eq!(again["repeats"].to_string(), pid);
    assert_eq!(again["status"], "pending");
}
