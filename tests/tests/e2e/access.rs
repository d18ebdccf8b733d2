//! Using access (the second seed page): connect without seeing the secret, the secret shown
//! once, reset and the rotated tag, bundles (all or nothing), extend, scheduled start,
//! break-glass, and processes launched by `jit connect` ending with the access.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jit_tests::pg::{self, TestDb};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin, timestamp, wait_until};
use serde_json::Value;

struct Setup {
    dev: Group,
    dba: Group,
    alice: User,
    carol: User,
    db: TestDb,
    db2: TestDb,
    prefix: String,
    prefix2: String,
    d: Daemon,
}

fn setup() -> Setup {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let db = TestDb::create();
    let db2 = TestDb::create();
    let prefix = crate::prefix();
    let prefix2 = crate::prefix();
    let config = format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "pg-main"
kind = "postgres"
url = "{url}"
role_prefix = "{prefix}"
message = "Production replica: keep queries light."

[[integrations]]
name = "pg-other"
kind = "postgres"
url = "{url}"
role_prefix = "{prefix2}"

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read", "write"] }}

[[bundles]]
name = "both"
message = "Both databases."
[[bundles.entries]]
integration = "pg-main"
resource_type = "database"
resources = ["{db}"]
permissions = ["read"]
[[bundles.entries]]
integration = "pg-other"
resource_type = "database"
resources = ["{db2}"]
permissions = ["read"]

[[bundles]]
name = "broken"
[[bundles.entries]]
integration = "pg-main"
resource_type = "database"
resources = ["{db}"]
permissions = ["read"]
[[bundles.entries]]
integration = "pg-other"
resource_type = "database"
resources = ["no_such_database_{db2}"]
permissions = ["read"]

[[flows]]
name = "pg-read"
requesters = ["%{dev}"]
integration = "pg-main"
permissions = ["read"]
max_duration = "1h"
max_extensions = 2
max_total_duration = "90m"

[[flows]]
name = "bundles"
requesters = ["%{dev}"]
bundles = ["both", "broken"]
max_duration = "1h"

[[flows]]
name = "other-read"
requesters = ["%{dev}"]
integration = "pg-other"
permissions = ["read"]
approvers = ["%{dba}"]
max_duration = "1h"
max_extensions = 1
extension_approval = "manual"

[[flows]]
name = "pg-emergency"
requesters = ["%{dev}"]
integration = "pg-main"
permissions = ["write"]
break_glass = true
approvers = ["%{dba}"]
max_duration = "1h"
"#,
        url = pg::ADMIN_URL,
        prefix = prefix,
        prefix2 = prefix2,
        db = db.name,
        db2 = db2.name,
        dev = dev.name,
        dba = dba.name,
    );
    let d = Daemon::start(&config);
    Setup {
        dev,
        dba,
        alice,
        carol,
        db,
        db2,
        prefix,
        prefix2,
        d,
    }
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read_request(s: &Setup, extra: &[&str]) -> Value {
    let mut args = vec![
        "request",
        "pg-main/database",
        s.db.name.as_str(),
        "--perm",
        "read",
        "--reason",
        "INC-7",
    ];
    args.extend_from_slice(extra);
    let r = s.d.jit_json(Some(&s.alice), &args);
    assert!(
        r["status"] == "granted" || r["status"] == "scheduled",
        "{r}"
    );
    r
}

fn id_of(r: &Value) -> String {
    r["id"].as_u64().expect("id").to_string()
}

fn creds(s: &Setup, id: &str) -> Vec<(String, String)> {
    let c = s.d.jit_json(Some(&s.alice), &["creds", id]);
    c["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|x| {
            (
                x["user"].as_str().expect("user").to_owned(),
                x["secret"].as_str().expect("secret").to_owned(),
            )
        })
        .collect()
}

#[test]
fn connect_uses_the_unrevealed_secret_without_showing_it() {
    let s = setup();
    let r = read_request(&s, &[]);
    let id = id_of(&r);
    let role = r["sessions"][0]["principal"]
        .as_str()
        .expect("role")
        .to_owned();
    assert_eq!(r["sessions"][0]["connect"][0], "terminal", "{r}");

    let out = s.d.jit(
        Some(&s.alice),
        &["connect", &id, "--", "-At", "-c", "select current_user"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), role);

    // A long-running connect: look at every process's command line while it runs.
    let mut long = Command::new(bin("jit"))
        .args(["connect", &id, "--", "-At", "-c", "select pg_sleep(2)"])
        .env("JIT_SOCKET", &s.d.socket)
        .uid(s.alice.uid)
        .gid(s.alice.gid)
        .env("HOME", "/")
        .stdout(Stdio::null())
        .spawn()
        .expect("jit connect");
    wait_until(Duration::from_secs(10), "the connected session", || {
        (pg::sessions_of(&role) == 1).then_some(())
    });
    let ps = Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    let _ = long.wait();
    // Now reveal, and look for the secret everywhere it must not be.
    let secret = creds(&s, &id).remove(0).1;
    assert!(
        !String::from_utf8_lossy(&ps.stdout).contains(&secret),
        "secret on a command line"
    );
    assert!(
        !s.d.log_text().contains(&secret),
        "secret in the daemon log"
    );
    let audit = text(&s.d.jit(None, &["--json", "audit"]));
    assert!(!audit.contains(&secret), "secret in the audit log");
    assert!(audit.contains("session.connect"), "{audit}");
}

use std::os::unix::process::CommandExt;

#[test]
fn shown_once_then_connect_needs_a_reset_and_the_old_password_dies() {
    let s = setup();
    let id = id_of(&read_request(&s, &[]));
    let (role, old) = creds(&s, &id).remove(0);
    let again = s.d.jit(Some(&s.alice), &["creds", &id]);
    assert!(
        !again.status.success() && text(&again).contains("already"),
        "{}",
        text(&again)
    );
    let refused =
        s.d.jit(Some(&s.alice), &["connect", &id, "--", "-c", "select 1"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains(&format!("jit reset {id}")),
        "{}",
        text(&refused)
    );

    let reset = s.d.jit(Some(&s.alice), &["reset", &id, "--yes"]);
    assert!(reset.status.success(), "{}", text(&reset));
    let shown = s.d.jit_json(Some(&s.alice), &["show", &id]);
    assert_eq!(shown["sessions"][0]["credentials"], "unrevealed");
    assert_eq!(
        shown["sessions"][0]["rotated"], false,
        "a reset by the requester is no rotation"
    );
    let out = s.d.jit(
        Some(&s.alice),
        &["connect", &id, "--", "-At", "-c", "select current_user"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !pg::user_sql(&role, &old, &s.db.name, "select 1")
            .status
            .success(),
        "the old password must stop working"
    );
}

#[test]
fn rotated_tag_after_an_admin_reset_clears_when_the_user_connects() {
    let s = setup();
    let id = id_of(&read_request(&s, &[]));
    let reset =
        s.d.jit(None, &["reset", &id, "--yes", "--reason", "leaked"]);
    assert!(reset.status.success(), "{}", text(&reset));
    let shown = s.d.jit_json(Some(&s.alice), &["show", &id]);
    assert_eq!(shown["sessions"][0]["rotated"], true, "{shown}");
    let human = text(&s.d.jit(Some(&s.alice), &["show", &id]));
    assert!(human.contains("credentials rotated"), "{human}");
    let ls = text(&s.d.jit(Some(&s.alice), &["ls"]));
    assert!(ls.contains("rotated"), "{ls}");
    let out =
        s.d.jit(Some(&s.alice), &["connect", &id, "--", "-c", "select 1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        s.d.jit_json(Some(&s.alice), &["show", &id])["sessions"][0]["rotated"],
        false
    );
    // An admin may reset, but never sees the secret.
    let peek = s.d.jit(None, &["creds", &id]);
    assert!(!peek.status.success(), "{}", text(&peek));
}

#[test]
fn a_bundle_is_granted_reset_and_rolled_back_as_a_whole() {
    let s = setup();
    let r = s.d.jit_json(
        Some(&s.alice),
        &["request", "--bundle", "both", "--reason", "INC-8"],
    );
    assert_eq!(r["status"], "granted", "{r}");
    assert_eq!(r["bundle"], "both");
    assert_eq!(r["sessions"].as_array().expect("sessions").len(), 2, "{r}");
    let id = id_of(&r);
    let old = creds(&s, &id);
    assert_eq!(old.len(), 2);
    for ((user, pass), db) in old.iter().zip([&s.db.name, &s.db2.name]) {
        assert!(
            pg::user_sql(user, pass, db, "select count(*) from orders")
                .status
                .success()
        );
    }
    let reset = s.d.jit(Some(&s.alice), &["reset", &id, "--yes"]);
    assert!(reset.status.success(), "{}", text(&reset));
    assert!(
        text(&reset).contains("every session"),
        "a bundle reset says so first: {}",
        text(&reset)
    );
    let new = creds(&s, &id);
    for (((user, old_pass), (_, new_pass)), db) in
        old.iter().zip(&new).zip([&s.db.name, &s.db2.name])
    {
        assert!(
            !pg::user_sql(user, old_pass, db, "select 1")
                .status
                .success(),
            "old password of {user} still works"
        );
        assert!(
            pg::user_sql(user, new_pass, db, "select 1")
                .status
                .success(),
            "new password of {user} fails"
        );
    }
    // The second entry cannot be provisioned: the first is rolled back, the request Failed.
    let out = s.d.jit(
        Some(&s.alice),
        &[
            "--json", "request", "--bundle", "broken", "--reason", "INC-9",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "a request that ends Failed exits 3: {}",
        text(&out)
    );
    let b: Value = serde_json::from_slice(&out.stdout).expect("json");
    let bid = id_of(&b);
    let failed = wait_until(Duration::from_secs(15), "the broken bundle to fail", || {
        let v = s.d.jit_json(Some(&s.alice), &["show", &bid]);
        (v["status"] == "failed").then_some(v)
    });
    assert!(
        failed["error"]
            .as_str()
            .expect("error")
            .contains("does not exist"),
        "{failed}"
    );
    let left: Vec<String> = pg::roles_with_prefix(&s.prefix)
        .into_iter()
        .filter(|r| r.contains(&format!("_{bid}_")))
        .collect();
    assert!(left.is_empty(), "rolled back role left: {left:?}");
    assert!(
        pg::roles_with_prefix(&s.prefix2)
            .iter()
            .all(|r| !r.contains(&format!("_{bid}_")))
    );
}

fn valid_until(role: &str) -> i64 {
    pg::admin_sql("postgres", &format!("SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = '{role}'"))
        .parse()
        .expect("valid until")
}

#[test]
fn extend_moves_the_deadline_and_valid_until_within_the_flows_limits() {
    let s = setup();
    let r = read_request(&s, &["--for", "1h"]);
    let id = id_of(&r);
    let role = r["sessions"][0]["principal"]
        .as_str()
        .expect("role")
        .to_owned();
    let before = valid_until(&role);
    let e = s.d.jit_json(
        Some(&s.alice),
        &["extend", &id, "--for", "20m", "--reason", "still debugging"],
    );
    let moved = wait_until(Duration::from_secs(10), "VALID UNTIL to move", || {
        let v = valid_until(&role);
        (v >= before + 1200 - 1).then_some(v)
    });
    assert!(moved <= before + 1200 + 1);
    assert_eq!(e["extensions"].as_array().expect("extensions").len(), 1);
    let over = s.d.jit(Some(&s.alice), &["extend", &id, "--for", "20m"]);
    assert!(!over.status.success());
    assert!(
        text(&over).contains("1h 30m") && text(&over).contains("10m"),
        "{}",
        text(&over)
    );
    s.d.jit_json(Some(&s.alice), &["extend", &id, "--for", "10m"]);
    let third = s.d.jit(Some(&s.alice), &["extend", &id, "--for", "1m"]);
    assert!(!third.status.success());
    assert!(text(&third).contains("2 times"), "{}", text(&third));
}

#[test]
fn a_scheduled_request_is_provisioned_at_its_start() {
    let s = setup();
    let r = read_request(&s, &["--in", "3s", "--for", "10m"]);
    assert_eq!(r["status"], "scheduled", "{r}");
    let id = id_of(&r);
    assert!(
        pg::roles_with_prefix(&s.prefix).is_empty(),
        "nothing is provisioned before the start"
    );
    let g = wait_until(Duration::from_secs(15), "the scheduled start", || {
        let v = s.d.jit_json(Some(&s.alice), &["show", &id]);
        (v["status"] == "granted").then_some(v)
    });
    let role = g["sessions"][0]["principal"]
        .as_str()
        .expect("role")
        .to_owned();
    assert_eq!(pg::roles_with_prefix(&role), vec![role.clone()]);
    assert!(
        timestamp(&g["granted_at"]) >= timestamp(&g["start_at"]),
        "{g}"
    );
}

#[test]
fn break_glass_is_granted_without_approval_and_flagged() {
    let s = setup();
    let r = s.d.jit_json(
        Some(&s.alice),
        &[
            "request",
            "pg-main/database",
            &s.db.name,
            "--perm",
            "write",
            "--reason",
            "prod down INC-1",
        ],
    );
    assert_eq!(r["status"], "granted", "{r}");
    assert_eq!(r["break_glass"], true);
    let audit = text(&s.d.jit(None, &["--json", "audit", "--request", &id_of(&r)]));
    assert!(audit.contains("request.break_glass"), "{audit}");
    assert!(
        audit.contains(&s.dba.name),
        "the approvers told are in the audit log: {audit}"
    );
    // The approvers see it to review after the fact.
    let review = s.d.jit_json(Some(&s.carol), &["ls", "--review"]);
    assert!(
        review
            .as_array()
            .expect("list")
            .iter()
            .any(|x| x["id"] == r["id"]),
        "{review}"
    );
    let no_reason = s.d.jit(
        Some(&s.alice),
        &["request", "pg-main/database", &s.db.name, "--perm", "write"],
    );
    assert!(!no_reason.status.success(), "{}", text(&no_reason));
    let _ = (&s.dev, &s.carol);
}

#[test]
fn a_jit_connect_process_ends_within_a_second_of_revoke() {
    let s = setup();
    let r = read_request(&s, &[]);
    let id = id_of(&r);
    let role = r["sessions"][0]["principal"]
        .as_str()
        .expect("role")
        .to_owned();
    let mut child = Command::new(bin("jit"))
        .args(["connect", &id])
        .env("JIT_SOCKET", &s.d.socket)
        .uid(s.alice.uid)
        .gid(s.alice.gid)
        .env("HOME", "/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("jit connect");
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(b"select 1;\n");
    wait_until(Duration::from_secs(10), "the connected session", || {
        (pg::sessions_of(&role) == 1).then_some(())
    });
    wait_until(Duration::from_secs(10), "the registered process", || {
        let a = text(&s.d.jit(None, &["--json", "audit", "--request", &id]));
        a.contains("session.registered").then_some(())
    });
    let rev = s.d.jit(Some(&s.alice), &["revoke", &id]);
    assert!(rev.status.success(), "{}", text(&rev));
    let start = Instant::now();
    wait_until(Duration::from_secs(5), "jit connect to end", || {
        child.try_wait().ok().flatten()
    });
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
    drop(stdin);
}

#[test]
fn only_the_connecting_process_may_register_its_own_child() {
    use jit_api::methods::{
        CreateParams, IdParams, RegisterParams, RequestCreate, RequestGet, SessionRegister,
    };
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let db = TestDb::create();
    let d = Daemon::start(&crate::config(&crate::prefix(), pg::ADMIN_URL, &dev, &dba));
    let mut c = d.connect();
    let r = c
        .call::<RequestCreate>(&CreateParams {
            integration: "pg-main".into(),
            resource_type: "database".into(),
            resources: vec![db.name.clone()],
            permissions: vec!["read".into()],
            justification: Some("register".into()),
            ..CreateParams::default()
        })
        .expect("create");
    wait_until(Duration::from_secs(10), "granted", || {
        (d.call::<RequestGet>(&IdParams { id: r.id }).ok()?.status == jit_api::Status::Granted)
            .then_some(())
    });
    let reg = |pid: u32| RegisterParams {
        id: r.id,
        session: "pg-main".into(),
        pid,
    };
    // pid 1 is nobody's child of this connection.
    let err = c.call::<SessionRegister>(&reg(1)).expect_err("pid 1");
    assert!(
        err.message.contains("not launched by this connection"),
        "{err}"
    );
    // This process's own child, which ignores SIGTERM: registered, and killed at revoke.
    let mut stubborn = Command::new("bash")
        .args(["-c", "trap '' TERM; while true; do sleep 0.1; done"])
        .spawn()
        .expect("bash");
    c.call::<SessionRegister>(&reg(stubborn.id()))
        .expect("register own child");
    let start = Instant::now();
    let out = d.jit(None, &["revoke", &r.id.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let status = wait_until(
        Duration::from_secs(5),
        "the stubborn process to die",
        || stubborn.try_wait().ok().flatten(),
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "it ignored TERM, so KILL ended it"
    );
}

#[test]
fn concurrent_resets_leave_connect_working() {
    let s = setup();
    let id = id_of(&read_request(&s, &[]));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let socket = s.d.socket.clone();
            let (uid, gid) = (s.alice.uid, s.alice.gid);
            let id = id.clone();
            std::thread::spawn(move || {
                Command::new(bin("jit"))
                    .args(["reset", &id, "--yes"])
                    .env("JIT_SOCKET", socket)
                    .uid(uid)
                    .gid(gid)
                    .env("HOME", "/")
                    .output()
                    .expect("jit reset")
            })
        })
        .collect();
    let outs: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert!(
        outs.iter().any(|o| o.status.success()),
        "one reset must succeed"
    );
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert!(text(o).contains("in progress"), "{}", text(o));
    }
    wait_until(Duration::from_secs(10), "the reset to finish", || {
        let v = s.d.jit_json(Some(&s.alice), &["show", &id]);
        (v["sessions"][0]["credentials"] == "unrevealed").then_some(())
    });
    let out = s.d.jit(
        Some(&s.alice),
        &["connect", &id, "--", "-At", "-c", "select 1"],
    );
    assert!(
        out.status.success(),
        "connect after concurrent resets: {}",
        text(&out)
    );
}

#[test]
fn a_start_time_with_at_is_honoured() {
    let s = setup();
    let at = (time::OffsetDateTime::now_utc() + time::Duration::seconds(3))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("rfc3339");
    let r = read_request(&s, &["--at", &at, "--for", "10m"]);
    assert_eq!(r["status"], "scheduled", "{r}");
    let id = id_of(&r);
    wait_until(Duration::from_secs(15), "the scheduled start", || {
        (s.d.jit_json(Some(&s.alice), &["show", &id])["status"] == "granted").then_some(())
    });
}

#[test]
fn an_extension_that_needs_approval_waits_for_the_flows_approvers() {
    let s = setup();
    let r = s.d.jit_json(
        Some(&s.alice),
        &[
            "request",
            "pg-other/database",
            &s.db2.name,
            "--perm",
            "read",
            "--for",
            "30m",
            "--reason",
            "INC-3",
        ],
    );
    assert_eq!(r["status"], "pending", "{r}");
    let id = id_of(&r);
    s.d.jit_json(Some(&s.carol), &["approve", &id]);
    let g = wait_until(Duration::from_secs(10), "granted", || {
        let v = s.d.jit_json(Some(&s.alice), &["show", &id]);
        (v["status"] == "granted").then_some(v)
    });
    let role = g["sessions"][0]["principal"]
        .as_str()
        .expect("role")
        .to_owned();
    let before = valid_until(&role);
    let e = s.d.jit_json(
        Some(&s.alice),
        &["extend", &id, "--for", "15m", "--reason", "more"],
    );
    assert_eq!(e["pending_extension"]["added_secs"], 900, "{e}");
    assert_eq!(
        e["expires_at"], g["expires_at"],
        "nothing moves before approval"
    );
    let review = s.d.jit_json(Some(&s.carol), &["ls", "--review"]);
    assert!(
        review
            .as_array()
            .expect("list")
            .iter()
            .any(|x| x["id"].as_u64().map(|n| n.to_string()) == Some(id.clone())),
        "{review}"
    );
    let own = s.d.jit(Some(&s.alice), &["approve", &id]);
    assert!(
        !own.status.success(),
        "the requester cannot approve their own extension"
    );
    s.d.jit_json(Some(&s.carol), &["approve", &id, "--reason", "ok"]);
    wait_until(Duration::from_secs(10), "VALID UNTIL to move", || {
        (valid_until(&role) >= before + 899).then_some(())
    });
    let after = s.d.jit_json(Some(&s.alice), &["show", &id]);
    assert_eq!(
        after["extensions"][0]["approvals"][0]["by"],
        s.carol.name.as_str(),
        "{after}"
    );
}

#[test]
fn a_rotation_policy_rotates_long_grants_and_marks_them() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let db = TestDb::create();
    let config = crate::config(&crate::prefix(), pg::ADMIN_URL, &dev, &dba).replacen(
        "message = \"Production replica: keep queries light.\"",
        "message = \"Production replica: keep queries light.\"\nrotate_every = \"1m\"",
        1,
    );
    let d = Daemon::start(&config);
    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "pg-main/database",
            &db.name,
            "--perm",
            "read",
            "--for",
            "10m",
            "--reason",
            "rot",
        ],
    );
    let id = id_of(&r);
    let c = d.jit_json(Some(&alice), &["creds", &id]);
    let (role, old) = (
        c["sessions"][0]["user"].as_str().expect("user").to_owned(),
        c["sessions"][0]["secret"]
            .as_str()
            .expect("secret")
            .to_owned(),
    );
    let shown = wait_until(Duration::from_secs(90), "the rotation", || {
        let v = d.jit_json(Some(&alice), &["show", &id]);
        (v["sessions"][0]["rotated"] == true).then_some(v)
    });
    assert_eq!(shown["sessions"][0]["credentials"], "unrevealed", "{shown}");
    assert!(
        !pg::user_sql(&role, &old, &db.name, "select 1")
            .status
            .success(),
        "the rotated-out password must fail"
    );
    let out = d.jit(
        Some(&alice),
        &["connect", &id, "--", "-At", "-c", "select 1"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        d.jit_json(Some(&alice), &["show", &id])["sessions"][0]["rotated"],
        false
    );
    let audit = text(&d.jit(None, &["--json", "audit", "--request", &id]));
    assert!(
        audit.contains("credentials.rotation_started") && audit.contains("credentials.reset"),
        "{audit}"
    );
}
