//! The audit log is tamper-evident: `jit audit verify` walks the hash chain and names the
//! first record that was edited, removed or replaced in the store file, and `jit audit
//! --json` exports JSON lines.

use jit_tests::Daemon;
use jit_tests::users::User;
use redb::{ReadableTable, TableDefinition};

/// The store's tables, as an attacker with the file would open them.
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

const CONFIG: &str = r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = { database = ["read"] }

[[flows]]
name = "demo-any"
requesters = ["*"]
integration = "demo"
max_duration = "1h"
"#;

/// A daemon with a few requests behind it (several audit records each), stopped.
fn daemon_with_history() -> Daemon {
    let mut d = Daemon::start(CONFIG);
    for i in 0..3 {
        let r = d.jit_json(
            None,
            &[
                "request",
                "demo/database",
                &format!("db{i}"),
                "--perm",
                "read",
                "--for",
                "10m",
                "--reason",
                &format!("audit {i}"),
            ],
        );
        assert_eq!(r["status"], "granted", "{r}");
    }
    d.stop();
    d
}

/// Edits the store file with jitd stopped, as someone with the file (not the daemon) would.
fn tamper(d: &Daemon, edit: impl FnOnce(&mut redb::Table<u64, &[u8]>)) {
    let db = redb::Database::open(d.state.join("jit.redb")).expect("open store");
    let txn = db.begin_write().expect("begin");
    {
        let mut t = txn.open_table(AUDIT).expect("audit table");
        edit(&mut t);
    }
    txn.commit().expect("commit");
}

fn record(t: &redb::Table<u64, &[u8]>, seq: u64) -> serde_json::Value {
    let bytes = t.get(seq).expect("read").expect("record").value().to_vec();
    serde_json::from_slice(&bytes).expect("json")
}

fn last_seq(t: &redb::Table<u64, &[u8]>) -> u64 {
    t.last().expect("read").expect("a record").0.value()
}

/// Runs `jit audit verify` (as root) and returns its exit code and output.
fn verify(d: &Daemon) -> (i32, String, serde_json::Value) {
    let out = d.jit(None, &["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = d.jit(None, &["--json", "audit", "verify"]);
    let v = serde_json::from_slice(&json.stdout).expect("json verification");
    (out.status.code().unwrap_or(-1), text, v)
}

#[test]
fn an_untouched_log_verifies_and_exports_json_lines() {
    let mut d = daemon_with_history();
    d.restart();
    let (code, text, v) = verify(&d);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("audit log intact"), "{text}");
    assert_eq!(v["ok"], true);
    assert!(v["checked"].as_u64().unwrap_or(0) >= 9, "{v}");
    let export = d.jit(None, &["audit", "--since", "1h", "--json"]);
    assert!(export.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(lines.len() >= 9);
    assert_eq!(
        lines.last().expect("a line")["hash"],
        v["head"],
        "the head verify prints is the last exported record's hash"
    );
    for pair in lines.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
}

#[test]
fn an_edited_record_is_named() {
    let mut d = daemon_with_history();
    tamper(&d, |t| {
        let mut r = record(t, 3);
        r["reason"] = "nothing to see here".into();
        r["actor"] = "mallory".into();
        t.insert(3, serde_json::to_vec(&r).expect("json").as_slice())
            .expect("write");
    });
    d.restart();
    let (code, text, v) = verify(&d);
    assert_eq!(code, 5, "{text}");
    assert!(
        text.contains("BROKEN at record 3") && text.contains("was edited"),
        "{text}"
    );
    assert_eq!(v["first_bad"]["seq"], 3);
    assert_eq!(v["checked"], 2);
}

#[test]
fn an_edited_record_with_a_recomputed_hash_breaks_the_next_link() {
    let mut d = daemon_with_history();
    tamper(&d, |t| {
        let mut r = record(t, 4);
        r["reason"] = "rewritten".into();
        // Recompute the record's own hash the way jitd does, so only the chain can tell.
        r["hash"] = "".into();
        let entry: jitd::store::model::AuditEntry =
            serde_json::from_value(r.clone()).expect("an audit entry");
        r["hash"] = jitd::store::audit_hash(&entry).into();
        t.insert(4, serde_json::to_vec(&r).expect("json").as_slice())
            .expect("write");
    });
    d.restart();
    let (code, text, v) = verify(&d);
    assert_eq!(code, 5, "{text}");
    assert!(text.contains("record 5 does not follow record 4"), "{text}");
    assert_eq!(v["first_bad"]["seq"], 5);
}

#[test]
fn a_removed_record_is_named() {
    let mut d = daemon_with_history();
    tamper(&d, |t| {
        t.remove(2).expect("remove");
    });
    d.restart();
    let (code, text, v) = verify(&d);
    assert_eq!(code, 5, "{text}");
    assert!(text.contains("record 2 is missing"), "{text}");
    assert_eq!(v["first_bad"]["seq"], 2);
}

#[test]
fn removing_the_last_records_is_detected() {
    let mut d = daemon_with_history();
    let mut removed = 0;
    tamper(&d, |t| {
        // jitd appends `daemon.stopped`-style records too: remove the last two, whatever
        // they are, as someone hiding the end of the story would.
        for _ in 0..2 {
            let last = last_seq(t);
            t.remove(last).expect("remove");
            removed = last;
        }
    });
    d.restart();
    let (code, text, v) = verify(&d);
    assert_eq!(code, 5, "{text}");
    assert_eq!(v["first_bad"]["seq"], removed, "{text}");
    assert!(text.contains("is missing"), "{text}");
}

#[test]
fn only_admins_verify() {
    let mut d = daemon_with_history();
    d.restart();
    let user = User::create("audit", &[]);
    let out = d.jit(Some(&user), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only admins"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
