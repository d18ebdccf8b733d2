//! The VS Code extension's socket client (`editors/vscode/src/client.ts`) against the real
//! jitd: its Node tests (`out/test/daemon/*.test.js`, compiled by `scripts/test`) run under
//! `node --test` as two real Unix users — an approver, then a requester — so jitd knows each
//! from the socket's peer credentials. They list, read the catalog, request, follow events
//! (`granted`, `approval_needed`, `expiring`), approve (and are refused approving their own),
//! extend, revoke, get jitd's errors for bad input, and reconnect across a restart of jitd,
//! which this test performs when the requester asks for it. Then this test checks jitd's
//! state itself.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use jit_tests::users::{Group, User};
use jit_tests::{Daemon, wait_until};
use serde_json::{Value, json};

/// `editors/vscode`, where `scripts/test` ran `npm ci` and `tsc`.
fn extension_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../editors/vscode")
        .canonicalize()
        .expect("editors/vscode exists")
}

/// A compiled Node test file; its absence fails the test (never a skip).
fn compiled(name: &str) -> PathBuf {
    let path = extension_dir().join("out/test/daemon").join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test (npm ci && tsc) — or `cd editors/vscode && npm ci && \
         npx tsc -p .` — before this test",
        path.display()
    );
    path
}

fn config(dev: &Group, dba: &Group) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]
expiry_warnings = ["2s"]

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read", "write"] }}
message = "Sandbox: nothing here is real."

[[flows]]
name = "demo-read"
requesters = ["%{dev}"]
integration = "demo"
resources = ["*"]
permissions = ["read"]
default_duration = "1h"
max_duration = "1h"
max_extensions = 1
justification_pattern = "^INC-[0-9]+"

[[flows]]
name = "demo-write"
requesters = ["%{dev}"]
integration = "demo"
resources = ["orders", "orders_*"]
permissions = ["write"]
approvers = ["%{dba}"]
default_duration = "1h"
max_duration = "1h"
"#,
        dev = dev.name,
        dba = dba.name,
    )
}

/// A `node --test` run, killed and reaped if the test ends before it does.
struct NodeRun(Child);

impl Drop for NodeRun {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// `node --test FILE` as `user`, its output (TAP) into `log`.
fn node_test(user: &User, file: &Path, env: &[(&str, String)], log: &Path) -> NodeRun {
    let out = File::create(log).expect("node log");
    let err = out.try_clone().expect("node log");
    let child = Command::new("node")
        .arg("--test")
        .arg("--test-reporter=tap")
        .arg(file)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("HOME", "/")
        .env("USER", &user.name)
        .current_dir("/")
        .uid(user.uid)
        .gid(user.gid)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run node (Node.js 20 is needed; scripts/test checks it): {e}")
        });
    NodeRun(child)
}

/// How many tests a `node --test` run passed, or why it is not a pass: it failed, or ran no
/// test, or printed no TAP summary.
fn passed(status: ExitStatus, text: &str) -> Result<usize, String> {
    let count = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .ok_or_else(|| format!("no `{key}` line"))
    };
    if !status.success() {
        return Err(format!("it failed ({status})"));
    }
    match (count("# pass ")?, count("# fail ")?) {
        (0, _) => Err("it passed no test".into()),
        (n, 0) => Ok(n),
        (_, failed) => Err(format!("{failed} failed")),
    }
}

fn requests(d: &Daemon, closed: bool) -> Vec<Value> {
    let list = d
        .connect()
        .call_value("request.list", json!({"scope": "all", "closed": closed}))
        .expect("request.list as root");
    list.as_array().expect("a list").clone()
}

#[test]
fn the_vscode_client_requests_approves_extends_and_revokes_as_real_users() {
    let approver_js = compiled("approver.test.js");
    let requester_js = compiled("requester.test.js");
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let mut d = Daemon::start(&config(&dev, &dba));
    // Where the Node tests leave markers for this test (both users write there).
    let sync = d.dir().join("vscode");
    std::fs::create_dir(&sync).expect("sync dir");
    std::fs::set_permissions(&sync, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let vars = |user: &User| -> Vec<(&'static str, String)> {
        vec![
            ("JIT_SOCKET", d.socket.display().to_string()),
            ("JIT_TEST_DIR", sync.display().to_string()),
            ("JIT_TEST_USER", user.name.clone()),
            ("JIT_TEST_REQUESTER", alice.name.clone()),
            ("JIT_TEST_APPROVER", carol.name.clone()),
            ("JIT_TEST_DBA", dba.name.clone()),
        ]
    };
    let (carol_env, alice_env) = (vars(&carol), vars(&alice));

    let carol_log = d.dir().join("approver.tap");
    let alice_log = d.dir().join("requester.tap");
    let mut approver = node_test(&carol, &approver_js, &carol_env, &carol_log);
    wait_until(Duration::from_secs(30), "the approver to subscribe", || {
        if let Ok(Some(status)) = approver.0.try_wait() {
            panic!(
                "the approver's tests ended before subscribing ({status}):\n{}",
                std::fs::read_to_string(&carol_log).unwrap_or_default()
            );
        }
        sync.join("approver-ready").exists().then_some(())
    });
    let mut requester = node_test(&alice, &requester_js, &alice_env, &alice_log);

    // Both run; once the approver is done and the requester asks, restart jitd.
    let mut approver_status = None;
    let mut requester_status = None;
    let mut restarted = false;
    wait_until(
        Duration::from_secs(180),
        "both Node test runs to end",
        || {
            if approver_status.is_none() {
                approver_status = approver.0.try_wait().expect("wait approver");
            }
            if requester_status.is_none() {
                requester_status = requester.0.try_wait().expect("wait requester");
            }
            if !restarted && approver_status.is_some() && sync.join("restart-jitd").exists() {
                d.stop();
                d.restart();
                restarted = true;
            }
            (approver_status.is_some() && requester_status.is_some()).then_some(())
        },
    );
    let approver_text = std::fs::read_to_string(&carol_log).unwrap_or_default();
    let requester_text = std::fs::read_to_string(&alice_log).unwrap_or_default();
    let results = (
        passed(approver_status.expect("ended"), &approver_text),
        passed(requester_status.expect("ended"), &requester_text),
    );
    assert!(
        results == (Ok(3), Ok(9)),
        "the Node tests did not all pass (approver: {:?}, requester: {:?}; 3 and 9 expected)\n\
         --- approver ({}):\n{approver_text}\n--- requester ({}):\n{requester_text}",
        results.0,
        results.1,
        carol.name,
        alice.name,
    );
    assert!(restarted, "the requester never asked for the restart");

    // jitd's own view, as root.
    let closed = requests(&d, true);
    let open = requests(&d, false);
    let by_why = |list: &[Value], why: &str| -> Value {
        list.iter()
            .find(|r| r["justification"] == why)
            .unwrap_or_else(|| panic!("no request justified {why:?} in {list:?}"))
            .clone()
    };
    let short = by_why(&closed, "INC-1 short");
    assert_eq!(short["status"], "expired", "{short}");
    assert_eq!(short["requester"], alice.name.as_str());
    let long = by_why(&closed, "INC-2 long");
    assert_eq!(long["status"], "revoked", "{long}");
    assert_eq!(
        long["extensions"].as_array().map(Vec::len),
        Some(1),
        "{long}"
    );
    assert_eq!(long["extensions"][0]["added_secs"], 600);
    assert_eq!(
        long["end_reason"],
        format!("revoked by {}: done from VS Code", alice.name)
    );
    let own = by_why(&closed, "self check");
    assert_eq!(own["status"], "canceled", "{own}");
    assert_eq!(own["approval"]["approvals"], json!([]), "{own}");
    let approved = by_why(&open, "approve me");
    assert_eq!(approved["status"], "granted", "{approved}");
    assert_eq!(
        approved["approval"]["approvals"][0]["by"],
        carol.name.as_str(),
        "{approved}"
    );
    let after = by_why(&open, "INC-6 after restart");
    assert_eq!(after["status"], "granted", "{after}");
    // Refused calls changed nothing: exactly the five requests above were made.
    assert_eq!(
        closed.len() + open.len(),
        5,
        "closed {closed:?}\nopen {open:?}"
    );

    // The audit log has the approval by the approver, named from the peer credentials.
    let id = approved["id"].as_u64().expect("id");
    let audit = d
        .connect()
        .call_value("audit.list", json!({"request": id}))
        .expect("audit.list");
    let actions: Vec<(String, String)> = audit
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            (
                r["actor"].as_str().unwrap_or_default().to_owned(),
                r["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        actions.contains(&(carol.name.clone(), "request.approved".into())),
        "{actions:?}"
    );
}
