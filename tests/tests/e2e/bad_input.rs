//! Bad input on the raw socket gets a clear JSON-RPC error, the daemon keeps serving, and
//! the store is unchanged. A broken config is reported with file:line.

use jit_api::methods::{
    AuditList, AuditParams, DaemonStatusMethod, Empty, ListParams, RequestList, Scope,
};
use jit_tests::pg;
use jit_tests::users::Group;
use jit_tests::{Daemon, bin};
use serde_json::Value;

fn snapshot(d: &Daemon) -> (String, usize) {
    let open = d
        .call::<RequestList>(&ListParams {
            scope: Scope::All,
            ..ListParams::default()
        })
        .expect("list");
    let closed = d
        .call::<RequestList>(&ListParams {
            scope: Scope::All,
            closed: true,
            ..ListParams::default()
        })
        .expect("list");
    let audit = d.call::<AuditList>(&AuditParams::default()).expect("audit");
    (format!("{open:?}{closed:?}"), audit.len())
}

fn code(v: &Value) -> i64 {
    v["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected an error: {v}"))
}

fn message(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn create(params: &str) -> Vec<u8> {
    format!("{{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"request.create\",\"params\":{params}}}\n")
        .into_bytes()
}

#[test]
fn bad_input_gets_clear_errors_and_changes_nothing() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let d = Daemon::start(&crate::config(&crate::prefix(), pg::ADMIN_URL, &dev, &dba));
    // One good request first, so "unchanged" has something to compare.
    d.jit_json(
        None,
        &[
            "request",
            "pg-main/database",
            "postgres",
            "--perm",
            "read",
            "--reason",
            "baseline",
        ],
    );
    let before = snapshot(&d);
    let mut c = d.connect();

    let v = c.raw(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\n");
    assert_eq!(code(&v), -32700, "{v}");
    assert!(message(&v).contains("parse error"));

    let mut huge = vec![b'x'; 10 * 1024 * 1024];
    huge.push(b'\n');
    let v = c.raw(&huge);
    assert_eq!(code(&v), 1008, "{v}");
    assert!(message(&v).contains("too large"), "{v}");

    let v = c.raw(b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"}]\n");
    assert_eq!(code(&v), -32600, "{v}");

    let v = c.raw(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"request.explode\",\"params\":{}}\n");
    assert_eq!(code(&v), -32601, "{v}");
    assert!(message(&v).contains("request.explode"), "{v}");

    let v = c.raw(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"request.get\",\"params\":{\"id\":\"seven\"}}\n");
    assert_eq!(code(&v), -32602, "{v}");
    assert!(message(&v).contains("invalid type"), "{v}");

    let v = c.raw(&create(r#"{"integration":"pg-nope","resource_type":"database","resources":["x"],"permissions":["read"],"justification":"j"}"#));
    assert_eq!(code(&v), 1005, "{v}");
    assert!(
        message(&v).contains("pg-nope") && message(&v).contains("pg-main"),
        "{v}"
    );

    let v = c.raw(&create(r#"{"integration":"pg-main","resource_type":"table","resources":["x"],"permissions":["read"],"justification":"j"}"#));
    assert_eq!(code(&v), 1005, "{v}");
    assert!(message(&v).contains("database"), "{v}");

    let v = c.raw(&create(r#"{"integration":"pg-main","resource_type":"database","resources":["x"],"permissions":["drop"],"justification":"j"}"#));
    assert_eq!(code(&v), 1005, "{v}");
    assert!(message(&v).contains("read, write"), "{v}");

    let v = c.raw(&create(r#"{"integration":"pg-main","resource_type":"database","resources":["x"],"permissions":["read"],"justification":"j","duration_secs":18000}"#));
    assert_eq!(code(&v), 1006, "{v}");
    assert!(message(&v).contains("at most 4h"), "{v}");

    let v = c.raw(&create(r#"{"integration":"pg-main","resource_type":"database","resources":["x"],"permissions":["read"]}"#));
    assert_eq!(code(&v), 1006, "{v}");
    assert!(message(&v).contains("justification"), "{v}");

    let many: Vec<String> = (0..1001).map(|i| format!("\"db{i}\"")).collect();
    let v = c.raw(&create(&format!(
        r#"{{"integration":"pg-main","resource_type":"database","resources":[{}],"permissions":["read"],"justification":"j"}}"#,
        many.join(",")
    )));
    assert_eq!(code(&v), 1006, "{v}");
    assert!(message(&v).contains("1000"), "{v}");

    // The same connection still works, and nothing changed.
    let s = c
        .call::<DaemonStatusMethod>(&Empty {})
        .expect("status after bad input");
    assert_eq!(s.protocol_version, jit_api::PROTOCOL_VERSION);
    assert_eq!(snapshot(&d), before, "bad input must not change the store");
}

#[test]
fn a_broken_config_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("jit.toml");
    std::fs::write(
        &path,
        "[daemon]\nadmins = [\"root\"]\n\n[[integrations]]\nname = \"demo\"\nkind = \"dry-run\"\n\n[[flows]]\nname = \"f\"\nrequesters = [\"*\"]\nintegration = \"demo\"\nmax_duration = \"forever\"\n",
    )
    .expect("write");
    let check = std::process::Command::new(bin("jitd"))
        .arg("--check-config")
        .arg(&path)
        .output()
        .expect("jitd");
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success());
    assert!(err.contains(&format!("{}:12:", path.display())), "{err}");
    let state = dir.path().join("state");
    let run = std::process::Command::new(bin("jitd"))
        .args(["--system", "--config"])
        .arg(&path)
        .arg("--socket")
        .arg(dir.path().join("s.sock"))
        .arg("--state-dir")
        .arg(&state)
        .output()
        .expect("jitd");
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains(":12:"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!state.exists(), "a refused config must not create state");
}
