//! The spine's story: alice reads `orders` through an auto-approved flow, gets her
//! credentials once, logs in with psql, and loses access — live session included — at
//! revoke and at expiry; a write request waits for carol's approval.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use jit_tests::pg::{self, TestDb};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, wait_until};
use serde_json::Value;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn both(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn creds(d: &Daemon, user: &User, id: u64) -> (String, String) {
    let c = d.jit_json(Some(user), &["creds", &id.to_string()]);
    let s = &c["sessions"][0];
    (
        s["user"].as_str().expect("user").to_owned(),
        s["secret"].as_str().expect("secret").to_owned(),
    )
}

#[test]
fn alice_reads_orders_and_loses_access_at_revoke_and_expiry() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let db = TestDb::create();
    let prefix = crate::prefix();
    let d = Daemon::start(&crate::config(&prefix, pg::ADMIN_URL, &dev, &dba));

    // Read is auto-approved: Granted at once, with the admin's message.
    let out = d.jit(
        Some(&alice),
        &[
            "request",
            "pg-main/database",
            &db.name,
            "--perm",
            "read",
            "--for",
            "30m",
            "--reason",
            "INC-4312 slow query",
        ],
    );
    assert!(out.status.success(), "{}", both(&out));
    let text = stdout(&out);
    assert!(text.contains("Granted"), "{text}");
    assert!(
        text.contains("Production replica: keep queries light."),
        "{text}"
    );
    let r = d.jit_json(Some(&alice), &["ls"]);
    let read = r
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["entries"][0]["permissions"][0] == "read")
        .expect("read request")
        .clone();
    let id = read["id"].as_u64().expect("id");
    assert_eq!(read["status"], "granted");
    assert_eq!(read["sessions"][0]["credentials"], "unrevealed");

    // Credentials once.
    let (role, password) = creds(&d, &alice, id);
    assert!(role.starts_with(&prefix), "{role}");
    let again = d.jit(Some(&alice), &["creds", &id.to_string()]);
    assert!(!again.status.success());
    assert!(both(&again).contains("already"), "{}", both(&again));
    assert_eq!(
        d.jit_json(Some(&alice), &["show", &id.to_string()])["sessions"][0]["credentials"],
        "revealed"
    );

    // psql: SELECT works, INSERT does not, a wrong password does not.
    let sel = pg::user_sql(&role, &password, &db.name, "SELECT count(*) FROM orders");
    assert!(sel.status.success(), "{}", both(&sel));
    assert_eq!(stdout(&sel).trim(), "1");
    let ins = pg::user_sql(
        &role,
        &password,
        &db.name,
        "INSERT INTO orders (item) VALUES ('x')",
    );
    assert!(!ins.status.success());
    assert!(both(&ins).contains("permission denied"), "{}", both(&ins));
    let wrong = pg::user_sql(&role, "not-the-password", &db.name, "SELECT 1");
    assert!(
        !wrong.status.success(),
        "the server must check the password"
    );

    // An open psql session is cut at revoke.
    let mut open = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", &role, "-d", &db.name, "-w", "-At"])
        .env("PGPASSWORD", &password)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql");
    wait_until(Duration::from_secs(10), "the open psql session", || {
        (pg::sessions_of(&role) == 1).then_some(())
    });
    let rev = d.jit(
        Some(&alice),
        &["revoke", &id.to_string(), "--reason", "done"],
    );
    assert!(rev.status.success(), "{}", both(&rev));
    assert!(
        pg::roles_with_prefix(&role).is_empty(),
        "role must be gone once revoke returns"
    );
    assert_eq!(pg::sessions_of(&role), 0);
    let mut stdin = open.stdin.take().expect("stdin");
    let _ = stdin.write_all(b"SELECT 1;\n");
    drop(stdin);
    let ended = open.wait_with_output().expect("psql exit");
    assert!(
        !ended.status.success(),
        "the open session must have been disconnected: {}",
        both(&ended)
    );
    let after = pg::user_sql(&role, &password, &db.name, "SELECT 1");
    assert!(!after.status.success(), "login must fail after revoke");

    // History says why it ended.
    let shown = d.jit_json(Some(&alice), &["show", &id.to_string()]);
    assert_eq!(shown["status"], "revoked");
    let closed = d.jit_json(Some(&alice), &["ls", "--closed"]);
    let entry = closed
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["id"] == id)
        .expect("in history")
        .clone();
    assert!(
        entry["end_reason"]
            .as_str()
            .expect("reason")
            .contains(&format!("revoked by {}: done", alice.name))
    );
    let human = stdout(&d.jit(Some(&alice), &["ls", "--closed"]));
    assert!(
        human.contains(&id.to_string()) && human.to_lowercase().contains("revoked"),
        "{human}"
    );

    // Write needs carol; alice cannot approve her own.
    let w = d.jit_json(
        Some(&alice),
        &[
            "request",
            "pg-main/database",
            &db.name,
            "--perm",
            "write",
            "--for",
            "4s",
            "--reason",
            "INC-4312 fix row",
        ],
    );
    assert_eq!(w["status"], "pending");
    let wid = w["id"].as_u64().expect("id").to_string();
    let own = d.jit(Some(&alice), &["approve", &wid]);
    assert!(!own.status.success());
    assert!(both(&own).contains("own"), "{}", both(&own));
    let ok = d.jit_json(
        Some(&carol),
        &["approve", &wid, "--reason", "ok for INC-4312"],
    );
    assert!(
        ok["status"] == "granting" || ok["status"] == "granted",
        "{ok}"
    );
    let g: Value = wait_until(Duration::from_secs(10), "write grant", || {
        let v = d.jit_json(Some(&alice), &["show", &wid]);
        (v["status"] == "granted").then_some(v)
    });
    assert_eq!(g["approval"]["approvals"][0]["by"], carol.name.as_str());
    assert_eq!(g["approval"]["approvals"][0]["reason"], "ok for INC-4312");
    let (wrole, wpass) = creds(&d, &alice, g["id"].as_u64().expect("id"));
    let ins = pg::user_sql(
        &wrole,
        &wpass,
        &db.name,
        "INSERT INTO orders (item) VALUES ('pen')",
    );
    assert!(ins.status.success(), "{}", both(&ins));

    // Expiry: the role goes when the time is up.
    wait_until(Duration::from_secs(15), "expiry", || {
        (d.jit_json(Some(&alice), &["show", &wid])["status"] == "expired").then_some(())
    });
    assert!(
        pg::roles_with_prefix(&wrole).is_empty(),
        "role must be gone at expiry"
    );
    assert!(
        !pg::user_sql(&wrole, &wpass, &db.name, "SELECT 1")
            .status
            .success()
    );

    // No secret in the log, the audit log, or the store file.
    let audit = stdout(&d.jit(None, &["--json", "audit"]));
    let store = std::fs::read(d.state.join("jit.redb")).expect("store");
    for secret in [&password, &wpass] {
        assert!(
            !d.log_text().contains(secret.as_str()),
            "password in the daemon log"
        );
        assert!(
            !audit.contains(secret.as_str()),
            "password in the audit output"
        );
        assert!(
            !store.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "password in the store file"
        );
    }
    assert!(audit.contains("credentials.revealed"));
    assert!(
        pg::roles_with_prefix(&prefix).is_empty(),
        "no role may be left behind"
    );
}
