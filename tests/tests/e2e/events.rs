//! Events (`events.subscribe`, `jit watch`): each subscriber sees the lifecycle of the
//! requests it may see and nothing else; approvers are asked (and told of break-glass at
//! once); expiry warnings come before the end and never late after a restart; only the
//! connection that subscribed can unsubscribe; bad parameters get a clear error; a
//! subscriber that stops reading holds nobody up; `jit request --wait` prints "Access
//! granted" from the events; no event carries a secret.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jit_api::ErrorCode;
use jit_api::methods::{
    CreateParams, DaemonStatusMethod, Empty, EventsSubscribe, EventsUnsubscribe, RequestCreate,
    SubscribeParams, UnsubscribeParams,
};
use jit_tests::pg::{self, TestDb};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin};
use serde_json::Value;

/// How long any one expected event may take to arrive.
const T: Duration = Duration::from_secs(15);

/// A dry-run integration with an admin message; `demo-read` (auto) and `demo-write`
/// (approved by `%dba`) for `%dev`, and `demo-glass`, break-glass for `admin`, telling `%dba`.
fn config(dev: &Group, dba: &Group, warnings: &str) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]
expiry_warnings = {warnings}

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read", "write", "admin"] }}
message = "Sandbox: nothing here is real."

[[flows]]
name = "demo-read"
requesters = ["%{dev}", "root"]
integration = "demo"
permissions = ["read"]
max_duration = "1h"
max_extensions = 1

[[flows]]
name = "demo-write"
requesters = ["%{dev}"]
integration = "demo"
permissions = ["write"]
approvers = ["%{dba}"]
max_duration = "1h"

[[flows]]
name = "demo-glass"
requesters = ["%{dev}"]
integration = "demo"
permissions = ["admin"]
break_glass = true
approvers = ["%{dba}"]
max_duration = "1h"
"#,
        dev = dev.name,
        dba = dba.name,
    )
}

fn id_of(r: &Value) -> u64 {
    r["id"].as_u64().expect("id")
}

#[test]
fn events_follow_each_request_to_those_who_may_see_it_and_nobody_else() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let bob = User::create("b", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let d = Daemon::start(&config(&dev, &dba, "[]"));
    let mut wa = d.watch(Some(&alice), &["--json"]);
    let mut wb = d.watch(Some(&bob), &["--json"]);
    let mut wc = d.watch(Some(&carol), &["--json"]);
    let mut wr = d.watch(None, &["--json"]);

    // alice asks for write: it waits for %dba.
    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "demo/database",
            "orders",
            "-p",
            "write",
            "--reason",
            "fix INC-9",
        ],
    );
    let id = id_of(&r);
    let created = wa.event(T, "created", id);
    assert_eq!(created["request"]["status"], "pending", "{created}");
    assert_eq!(created["actor"], alice.name.as_str());
    let needed = wc.event(T, "approval_needed", id);
    assert_eq!(
        needed["next"],
        serde_json::json!([format!("jit approve {id}"), format!("jit reject {id}")]),
        "{needed}"
    );
    assert_eq!(needed["request"]["break_glass"], false);
    wr.event(T, "created", id);

    // carol approves; alice revokes.
    d.jit_json(Some(&carol), &["approve", &id.to_string()]);
    let granted = wa.event(T, "granted", id);
    assert_eq!(
        granted["request"]["sessions"][0]["message"], "Sandbox: nothing here is real.",
        "{granted}"
    );
    let approved = wa.events().into_iter().find(|e| e["kind"] == "approved");
    assert_eq!(
        approved.expect("an approved event")["actor"],
        carol.name.as_str()
    );
    let out = d.jit(Some(&alice), &["revoke", &id.to_string()]);
    assert!(out.status.success(), "{out:?}");
    for w in [&mut wa, &mut wc, &mut wr] {
        w.event(T, "revoked", id);
    }
    let lifecycle = ["approved", "granted", "revoking", "revoked"];
    let with = |first: &str| {
        std::iter::once(first.to_owned())
            .chain(lifecycle.iter().map(|k| (*k).to_owned()))
            .collect::<Vec<_>>()
    };
    assert_eq!(wa.kinds_of(id), with("created"), "the requester");
    assert_eq!(wc.kinds_of(id), with("approval_needed"), "the approver");
    assert_eq!(wr.kinds_of(id), with("created"), "the admin");

    // bob may not see alice's request: his watch shows his own request first.
    let rb = d.jit_json(
        Some(&bob),
        &[
            "request",
            "demo/database",
            "x",
            "-p",
            "read",
            "--reason",
            "mine",
        ],
    );
    let bid = id_of(&rb);
    wb.event(T, "granted", bid);
    assert_eq!(wb.kinds_of(bid), ["created", "granted"]);
    assert!(
        wb.events().iter().all(|e| e["request"]["id"] == bid),
        "bob saw what is not his: {:?}",
        wb.seen
    );
    // ... and neither alice nor carol (not an approver of an automatic flow) sees his.
    wr.event(T, "granted", bid);
    wa.settle(Duration::from_millis(300));
    wc.settle(Duration::from_millis(300));
    assert!(wa.kinds_of(bid).is_empty(), "{:?}", wa.seen);
    assert!(wc.kinds_of(bid).is_empty(), "{:?}", wc.seen);

    // A watch of one request sees only that one.
    let mut one = d.watch(Some(&alice), &["--json", &id.to_string()]);
    let again = d.jit_json(
        Some(&alice),
        &[
            "request",
            "demo/database",
            "y",
            "-p",
            "read",
            "--reason",
            "other",
        ],
    );
    d.jit_json(
        Some(&alice),
        &["extend", &id_of(&again).to_string(), "--for", "5m"],
    );
    wa.event(T, "extended", id_of(&again));
    one.settle(Duration::from_millis(300));
    assert!(one.seen.is_empty(), "{:?}", one.seen);
}

#[test]
fn approvers_are_told_of_break_glass_at_once_and_watch_reads_well() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let dave = User::create("d", &[&dba]);
    let d = Daemon::start(&config(&dev, &dba, "[]"));
    let mut carol_text = d.watch(Some(&carol), &[]);
    let mut dave_json = d.watch(Some(&dave), &["--json"]);
    let mut alice_text = d.watch(Some(&alice), &[]);

    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "demo/database",
            "prod",
            "-p",
            "admin",
            "--reason",
            "INC-4400 down",
        ],
    );
    let id = id_of(&r);
    assert_eq!(r["break_glass"], true);
    let told = dave_json.event(T, "approval_needed", id);
    assert_eq!(told["request"]["break_glass"], true, "{told}");
    assert_eq!(told["next"], serde_json::json!([format!("jit show {id}")]));
    let line = carol_text.until(T, "the break-glass notice", |l| l.contains("BREAK-GLASS"));
    assert!(
        line.contains(&format!(
            "request {id} ({}: admin on demo/database prod",
            alice.name
        )) && line.contains("\"INC-4400 down\"")
            && line.contains("granted without approval")
            && line.ends_with(&format!("`jit show {id}`")),
        "{line}"
    );
    // Told, not asked: no "created" for the approvers; the requester gets the grant with
    // the admin's message.
    let granted = alice_text.until(T, "Access granted", |l| l.contains("Access granted"));
    assert!(granted.contains(&format!("request {id}")), "{granted}");
    let message = alice_text.until(T, "the admin's message", |l| l.contains("Message"));
    assert!(
        message.ends_with("Message from your admin about demo: Sandbox: nothing here is real."),
        "{message}"
    );
    alice_text.until(T, "the dry-run note", |l| {
        l.ends_with("dry-run: nothing was provisioned")
    });
    dave_json.event(T, "granted", id);
    assert_eq!(dave_json.kinds_of(id), ["approval_needed", "granted"]);
}

#[test]
fn jit_request_follows_automatic_grants_without_missing_one() {
    // The grant is provisioned while `jit` subscribes and reads the request: its event must
    // neither be lost nor come before what the read saw.
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&dev, &dba, "[]"));
    for i in 0..20 {
        let started = Instant::now();
        let out = d.jit(
            Some(&alice),
            &[
                "--json",
                "request",
                "demo/database",
                &format!("db{i}"),
                "-p",
                "read",
                "--reason",
                "loop",
                "--timeout",
                "10s",
            ],
        );
        let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(
            out.status.success() && r["status"] == "granted",
            "request {i} after {:?}: {r}",
            started.elapsed()
        );
    }
}

/// The time in an RFC 3339 field.
fn at(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339")
}

#[test]
fn expiry_warnings_come_before_the_end() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&dev, &dba, r#"["2s", "1s"]"#));
    let mut w = d.watch(Some(&alice), &["--json"]);
    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "demo/database",
            "x",
            "-p",
            "read",
            "--for",
            "3s",
            "--reason",
            "short",
        ],
    );
    let id = id_of(&r);
    w.event(T, "expired", id);
    assert_eq!(
        w.kinds_of(id),
        [
            "created", "granted", "expiring", "expiring", "revoking", "expired"
        ]
    );
    let events = w.events();
    let warnings: Vec<&Value> = events.iter().filter(|e| e["kind"] == "expiring").collect();
    let end = at(&warnings[0]["request"]["expires_at"]);
    for (warning, left) in warnings.iter().zip([2, 1]) {
        let sent = at(&warning["at"]);
        assert!(sent < end, "a warning after the end: {warning}");
        let secs = warning["expires_in_secs"]
            .as_u64()
            .expect("expires_in_secs");
        assert!(secs <= left && secs + 1 >= left, "{warning}");
        // The flow allows one extension: the warning says how.
        assert_eq!(
            warning["next"],
            serde_json::json!([format!("jit extend {id} --for DURATION")])
        );
    }
}

#[test]
fn a_warning_due_while_jitd_is_down_is_dropped_and_the_next_comes_on_time() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let mut d = Daemon::start(&config(&dev, &dba, r#"["10s", "1s"]"#));
    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "demo/database",
            "x",
            "-p",
            "read",
            "--for",
            "13s",
            "--reason",
            "down",
        ],
    );
    let id = id_of(&r);
    let granted_at = at(&r["granted_at"]);
    // The 10s warning is due 3s after the grant; jitd is down until 6s past it (more than
    // the 5s a warning may be late).
    d.stop();
    let back = granted_at + Duration::from_secs(9);
    let wait = back - time::OffsetDateTime::now_utc();
    std::thread::sleep(Duration::try_from(wait).unwrap_or_default());
    d.restart();
    let mut w = d.watch(Some(&alice), &["--json"]);
    w.event(T, "expired", id);
    assert_eq!(w.kinds_of(id), ["expiring", "revoking", "expired"]);
    let warning = &w.events()[0];
    assert!(
        warning["expires_in_secs"].as_u64().expect("secs") <= 1,
        "{warning}"
    );
    let log = d.log_text();
    assert!(
        log.contains("expiry warning dropped"),
        "the late warning is logged as dropped:\n{log}"
    );
}

#[test]
fn only_the_subscribing_connection_ends_a_subscription_and_bad_params_are_refused() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let d = Daemon::start(&config(&dev, &dba, "[]"));
    let mut a = d.connect();
    let mut b = d.connect();
    let sub = a
        .call::<EventsSubscribe>(&SubscribeParams::default())
        .expect("subscribe")
        .subscription;
    let err = b
        .call::<EventsUnsubscribe>(&UnsubscribeParams { subscription: sub })
        .expect_err("not b's subscription");
    assert_eq!(err.kind(), Some(ErrorCode::NotFound), "{err}");
    assert!(
        err.message
            .contains("ended only on the connection that made it"),
        "{err}"
    );
    // Still subscribed: a request made elsewhere reaches a.
    let create = CreateParams {
        integration: "demo".into(),
        resource_type: "database".into(),
        resources: vec!["x".into()],
        permissions: vec!["read".into()],
        ..CreateParams::default()
    };
    let made = b.call::<RequestCreate>(&create).expect("create");
    let note = a.next_line(T).expect("an event");
    assert_eq!(note["method"], "events.event", "{note}");
    assert_eq!(note["params"]["subscription"], sub);
    assert_eq!(note["params"]["result"]["request"]["id"], made.id);
    // Unsubscribed by its own connection: nothing follows the answer.
    a.send(
        format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"events.unsubscribe\",\"params\":{{\"subscription\":{sub}}}}}\n"
        )
        .as_bytes(),
    );
    let answer = loop {
        let line = a.next_line(T).expect("the answer");
        if line.get("id").is_some() {
            break line;
        }
    };
    assert_eq!(answer["result"], serde_json::json!({}), "{answer}");
    b.call::<RequestCreate>(&create).expect("create");
    assert_eq!(
        a.next_line(Duration::from_millis(500)),
        None,
        "an event after unsubscribing"
    );
    // The unsubscribed one is gone for its own connection too.
    let gone = a
        .call::<EventsUnsubscribe>(&UnsubscribeParams { subscription: sub })
        .expect_err("already ended");
    assert_eq!(gone.kind(), Some(ErrorCode::NotFound));

    // Bad parameters: a clear error, and the connection stays usable.
    for (params, needle) in [
        (
            r#"{"request":"seven"}"#,
            "invalid params for events.subscribe: invalid type",
        ),
        (
            r#"{"requests":7}"#,
            "unknown field `requests`, expected `request`",
        ),
        (
            r#""all""#,
            "invalid params for events.subscribe: invalid type: string",
        ),
    ] {
        let answer = a.raw(
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"events.subscribe\",\"params\":{params}}}\n"
            )
            .as_bytes(),
        );
        assert_eq!(answer["error"]["code"], -32602, "{params}: {answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains(needle), "{params}: {message}");
    }
    let answer =
        a.raw(b"{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"events.unsubscribe\",\"params\":{}}\n");
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing field `subscription`")),
        "{answer}"
    );
    let hidden = a
        .call::<EventsSubscribe>(&SubscribeParams { request: Some(999) })
        .expect_err("no such request");
    assert_eq!(hidden.kind(), Some(ErrorCode::NotFound));
    a.call::<DaemonStatusMethod>(&Empty {})
        .expect("still usable");
}

/// jitd's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_subscriber_that_stops_reading_holds_nobody_up_and_is_told_what_it_missed() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let d = Daemon::start(&config(&dev, &dba, "[]"));
    let mut slow = d.connect();
    slow.call::<EventsSubscribe>(&SubscribeParams::default())
        .expect("subscribe");
    // From here on `slow` reads nothing while requests pour in.
    let rss_before = rss_kib(d.pid());
    let mut busy = d.connect();
    let n: u64 = 600;
    let mut slowest = Duration::ZERO;
    for i in 0..n {
        let started = Instant::now();
        busy.call::<RequestCreate>(&CreateParams {
            integration: "demo".into(),
            resource_type: "database".into(),
            resources: vec![format!("db{i}")],
            permissions: vec!["read".into()],
            ..CreateParams::default()
        })
        .expect("create");
        slowest = slowest.max(started.elapsed());
    }
    // Every request is created and granted (two events each), and others are answered.
    jit_tests::wait_until(T, "every grant", || {
        let s = d.connect().call::<DaemonStatusMethod>(&Empty {}).ok()?;
        (s.counts.granted == n).then_some(())
    });
    assert!(
        slowest < Duration::from_secs(5),
        "a create took {slowest:?} while a subscriber did not read"
    );
    let grown = rss_kib(d.pid()).saturating_sub(rss_before);
    // Now it reads: what fitted in the socket and its queue, then how many were dropped.
    let mut before = 0u64;
    let mut missed = None;
    let mut after = 0u64;
    while let Some(line) = slow.next_line(Duration::from_secs(2)) {
        let event = &line["params"]["result"];
        match (event["kind"].as_str(), missed) {
            (Some("lagged"), None) => missed = event["missed"].as_u64(),
            (Some("lagged"), Some(_)) => panic!("lagged twice: {line}"),
            (_, None) => before += 1,
            (_, Some(_)) => after += 1,
        }
    }
    let missed = missed.expect("a lagged event");
    assert!(missed > 0);
    assert_eq!(
        before + missed + after,
        2 * n,
        "every event was delivered or counted as missed (before {before}, missed {missed}, after {after})"
    );
    // Bounded: the socket's buffer and the connection's queue, not everything.
    assert!(
        before < n,
        "{before} events were kept for a subscriber that did not read"
    );
    assert!(grown < 64 * 1024, "jitd grew by {grown} KiB");
}

#[test]
fn request_wait_prints_access_granted_from_the_events_and_no_event_carries_a_secret() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let db = TestDb::create();
    let d = Daemon::start(&format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "pg-main"
kind = "postgres"
url = "{url}"
role_prefix = "{prefix}"
message = "Production replica: keep queries light."

[[flows]]
name = "pg-write"
requesters = ["%{dev}"]
integration = "pg-main"
permissions = ["write"]
approvers = ["%{dba}"]
max_duration = "1h"
"#,
        url = pg::ADMIN_URL,
        prefix = crate::prefix(),
        dev = dev.name,
        dba = dba.name,
    ));
    let mut alice_json = d.watch(Some(&alice), &["--json"]);
    let mut carol_json = d.watch(Some(&carol), &["--json"]);
    let waiting = Command::new(bin("jit"))
        .args([
            "request",
            "pg-main/database",
            &db.name,
            "-p",
            "write",
            "--reason",
            "migration",
            "--wait",
            "--timeout",
            "60s",
        ])
        .env("JIT_SOCKET", &d.socket)
        .env("NO_COLOR", "1")
        .uid(alice.uid)
        .gid(alice.gid)
        .env("HOME", "/")
        .current_dir("/")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jit request --wait");
    let needed = carol_json.until(T, "the approval request", |l| l.contains("approval_needed"));
    let needed: Value = serde_json::from_str(&needed).expect("JSON");
    let id = id_of(&needed["request"]);
    d.jit_json(Some(&carol), &["approve", &id.to_string()]);
    let out = waiting.wait_with_output().expect("jit request --wait ends");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "Access granted".to_owned(),
        "Message from your admin about pg-main: Production replica: keep queries light.".into(),
        format!("Connect: `jit connect {id}` (terminal, app)"),
    ] {
        assert!(text.contains(&want), "no {want:?} in:\n{text}");
    }
    let granted = alice_json.event(T, "granted", id);
    assert_eq!(
        granted["next"],
        serde_json::json!([format!("jit connect {id}"), format!("jit creds {id}")])
    );

    // The secret, shown once, is in no event; nor is the one an admin's reset makes.
    let creds = d.jit_json(Some(&alice), &["creds", &id.to_string()]);
    let first = creds["sessions"][0]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let reset = d.jit(
        None,
        &["reset", &id.to_string(), "--yes", "--reason", "leak"],
    );
    assert!(reset.status.success(), "{reset:?}");
    let rotated = alice_json.event(T, "credentials_rotated", id);
    assert_eq!(rotated["actor"], "root", "{rotated}");
    let creds = d.jit_json(Some(&alice), &["creds", &id.to_string()]);
    let second = creds["sessions"][0]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    d.jit(Some(&alice), &["revoke", &id.to_string()]);
    alice_json.event(T, "revoked", id);
    carol_json.event(T, "revoked", id);
    for seen in [&alice_json.seen, &carol_json.seen] {
        let all = seen.join("\n");
        assert!(
            !all.contains(&first) && !all.contains(&second),
            "a secret in an event"
        );
    }
}
