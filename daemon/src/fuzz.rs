//! Entry points for the fuzz targets (`fuzz/`, cargo-fuzz on nightly) and for the stable
//! test that replays their corpus (`daemon/tests/fuzz_corpus.rs`): each takes one input and
//! panics when jitd breaks a promise on it. Not part of the daemon's API.
//!
//! - [`rpc`]: the bytes a client sends, split into lines by the socket's own framing and
//!   answered by the socket's own [`Connection`](crate::rpc::Connection) over a real engine
//!   on a fresh store, with dry-run integrations. A line `@name` switches the caller to one
//!   of [`CALLERS`]; every other line is sent as it is. Each answer must be one JSON-RPC 2.0
//!   response line that echoes the call's `id`, with a result or an error whose code is one
//!   the protocol documents; the client's decoder must read it back; afterwards the audit
//!   log must still be an unbroken hash chain.
//! - [`config`]: config text through parse and validation, which must never panic and
//!   either give a config that keeps the crate's invariants or problems with file:line.

use std::path::Path;
use std::sync::Arc;

use jit_api::ErrorCode;
use serde_json::Value;
use tokio::io::BufReader;
use tokio::sync::{Notify, mpsc};

use crate::engine::{Engine, EngineParts};
use crate::rpc::framing::{Line, read_line};
use crate::rpc::{Connection, Table};

/// The config the RPC target runs on: dry-run integrations (nothing to reach), a bundle, and
/// flows of every shape (automatic, manual, two approvals, extensions approved by people,
/// break-glass).
pub const RPC_CONFIG: &str = r#"
[daemon]
admins = ["root", "%wheel"]
pending_ttl = "2h"

[[integrations]]
name = "sandbox"
kind = "dry-run"
resource_types = { database = ["read", "write"], table = ["select", "insert"] }
message = "Dry-run sandbox."
browser_url = "https://db.example.com/?user={user}&db={database}"

[[integrations]]
name = "lab"
kind = "dry-run"
resource_types = { database = ["read", "write"] }

[[bundles]]
name = "oncall"
message = "On call: read the sandbox, write the lab."
[[bundles.entries]]
integration = "sandbox"
resource_type = "database"
resources = ["orders", "billing"]
permissions = ["read"]
[[bundles.entries]]
integration = "lab"
resource_type = "database"
resources = ["staging"]
permissions = ["write"]

[[flows]]
name = "read"
requesters = ["*"]
integration = "sandbox"
resources = ["*"]
permissions = ["read", "select"]
approval = "auto"
default_duration = "1h"
max_duration = "4h"
justification_pattern = "^INC-[0-9]+"
max_extensions = 2

[[flows]]
name = "write"
requesters = ["%dev"]
integration = "sandbox"
resources = ["orders", "orders_*"]
permissions = ["write", "insert"]
approvers = ["carol", "%dba"]
default_duration = "30m"
max_duration = "1h"
max_extensions = 1
extension_approval = "manual"

[[flows]]
name = "lab-two"
requesters = ["%dev"]
integration = "lab"
resources = ["*"]
permissions = ["write"]
approvers = ["%dba"]
approvals_required = 2
max_duration = "1h"

[[flows]]
name = "oncall"
requesters = ["%dev"]
bundles = ["oncall"]
default_duration = "4h"
max_duration = "8h"
max_extensions = 1

[[flows]]
name = "lab-break-glass"
requesters = ["%sre"]
integration = "lab"
break_glass = true
approvers = ["carol", "%dba"]
resources = ["*"]
permissions = ["read", "write"]
max_duration = "1h"
max_extensions = 1
extension_approval = "manual"
justification_pattern = "^INC-[0-9]+"
"#;

/// The callers an RPC input can speak as (`@name` on a line of its own), with uid and
/// groups. The first is the caller until an input switches.
pub const CALLERS: &[(&str, u32, &[&str])] = &[
    ("alice", 1001, &["alice", "dev"]),
    ("bob", 1002, &["bob", "dev"]),
    ("carol", 1003, &["carol", "dba"]),
    ("dave", 1004, &["dave", "sre"]),
    ("erin", 1005, &["erin", "dev", "dba"]),
    ("wendy", 1006, &["wendy", "wheel"]),
    ("nobody", 65534, &["nogroup"]),
    ("root", 0, &["root"]),
];

/// Runs one RPC input against a fresh daemon whose store lives in `dir` (an empty directory,
/// ideally on tmpfs), and panics when an answer breaks the protocol.
pub fn rpc(data: &[u8], dir: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(rpc_on(data, dir));
}

async fn rpc_on(data: &[u8], dir: &Path) {
    let config = jit_config::parse(RPC_CONFIG, &dir.join("jit.toml")).expect("fuzz config");
    let store = crate::store::Store::open(&dir.join("jit.redb")).expect("store");
    let integrations =
        crate::integrations::build(&config, store.instance_id(), dir).expect("registry");
    let (actions_tx, actions_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::channel(crate::engine::events::PENDING_CHANGES);
    let engine = Arc::new(Engine::new(EngineParts {
        config: Arc::new(config),
        store,
        integrations,
        clock: Arc::new(crate::clock::SystemClock),
        sealer: crate::secrets::Sealer::ephemeral(),
        actions: actions_tx,
        deadline_added: Arc::new(Notify::new()),
        mode: "system",
        events: events_tx,
        // The fuzz config has no notification channels: nothing is ever queued.
        notifications: mpsc::unbounded_channel().0,
    }));
    let fan_out = tokio::spawn(crate::engine::events::run(engine.clone(), events_rx));
    let limits = crate::provision::limits(&engine);
    let provisioner = tokio::spawn(crate::provision::run(
        engine.clone(),
        actions_rx,
        limits,
        crate::provision::Watched::default(),
    ));
    let table = Table::new(engine.clone());
    let conns: Vec<Connection> = CALLERS
        .iter()
        .map(|(user, uid, groups)| {
            let groups = groups.iter().map(|g| (*g).to_owned()).collect();
            // Event lines a subscription sends are read and dropped: the target checks
            // answers, and a full queue must not stall it.
            let (outbox, mut lines) =
                tokio::sync::mpsc::channel(crate::rpc::subscriptions::OUTBOX_LINES);
            tokio::spawn(async move { while lines.recv().await.is_some() {} });
            table.connect(
                Arc::new(engine.caller(*uid, 0, (*user).to_owned(), groups)),
                outbox,
            )
        })
        .collect();
    let mut current = 0;
    let mut reader = BufReader::with_capacity(512, data);
    let mut buf = Vec::new();
    loop {
        let line = read_line(&mut reader, &mut buf, jit_api::MAX_MESSAGE_BYTES)
            .await
            .expect("reading from memory");
        match line {
            Line::Eof => break,
            Line::TooLong => continue,
            Line::Complete => {}
        }
        if let Some(name) = buf.strip_prefix(b"@")
            && let Some(i) = CALLERS.iter().position(|(u, _, _)| u.as_bytes() == name)
        {
            current = i;
            continue;
        }
        let call = conns[current].answer(&buf);
        let answer = if waits(&buf) {
            // A wait for a request that does not move lasts its whole timeout (up to an hour):
            // give up on it as a client that hangs up would.
            match tokio::time::timeout(WAIT_CAP, call).await {
                Ok(answer) => answer,
                Err(_) => continue,
            }
        } else {
            tokio::time::timeout(HANG, call).await.unwrap_or_else(|_| {
                panic!(
                    "no answer within {HANG:?}: {:?}",
                    String::from_utf8_lossy(&buf)
                )
            })
        };
        check_answer(&buf, answer.as_deref());
        // Let the provisioner record what the call set off, as it would between two calls.
        tokio::task::yield_now().await;
    }
    check_audit_chain(&engine);
    provisioner.abort();
    fan_out.abort();
}

/// How long a call that may legitimately wait (`request.wait`, `credentials.reset`) is given.
const WAIT_CAP: std::time::Duration = std::time::Duration::from_millis(5);

/// How long any other call may take before it counts as a hang.
const HANG: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether a line calls a method that waits for something else to happen.
fn waits(line: &[u8]) -> bool {
    serde_json::from_slice::<Value>(line).ok().is_some_and(|v| {
        matches!(
            v.get("method").and_then(Value::as_str),
            Some("request.wait" | "credentials.reset")
        )
    })
}

/// Checks one answer against the protocol (`docs/api.md`, "Framing").
fn check_answer(line: &[u8], answer: Option<&str>) {
    let call: Option<Value> = std::str::from_utf8(line)
        .ok()
        .and_then(|t| serde_json::from_str(t.trim()).ok());
    let text = String::from_utf8_lossy(line);
    let blank = text.trim().is_empty();
    let notification = call
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|o| !o.contains_key("id"));
    let Some(answer) = answer else {
        assert!(
            blank || notification,
            "no answer to a line that needs one: {text:?}"
        );
        return;
    };
    assert!(!blank, "an answer to a blank line: {answer}");
    assert!(
        !answer.contains('\n'),
        "an answer spans several lines: {answer:?}"
    );
    assert!(
        answer.len() <= jit_api::MAX_MESSAGE_BYTES,
        "an answer over the message limit"
    );
    let v: Value = serde_json::from_str(answer)
        .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {answer}"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("the answer is not an object: {answer}"));
    assert_eq!(obj.get("jsonrpc"), Some(&Value::from("2.0")), "{answer}");
    let want_id = call
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|o| o.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        obj.get("id"),
        Some(&want_id),
        "the answer does not echo the call's id: {text:?} -> {answer}"
    );
    // Parameters are named (`docs/api.md`, "Framing"): positional ones would change meaning
    // when a field is added, so anything but an object (or nothing) is refused.
    let call_obj = call.as_ref().and_then(Value::as_object);
    let params_not_object = call_obj.is_some_and(|o| {
        o.get("jsonrpc") == Some(&Value::from("2.0"))
            && o.get("method")
                .and_then(Value::as_str)
                .is_some_and(|m| jit_api::methods::ALL.contains(&m))
            && o.get("params")
                .is_some_and(|p| !p.is_object() && !p.is_null())
    });
    if params_not_object {
        let code = obj
            .get("error")
            .and_then(|e| e.get("code"))
            .and_then(Value::as_i64);
        assert_eq!(
            code,
            Some(-32602),
            "parameters that are not an object must be refused: {text:?} -> {answer}"
        );
    }
    match (obj.get("result"), obj.get("error")) {
        (Some(_), None) => {
            let id = want_id.as_u64().unwrap_or(0);
            if want_id.as_u64().is_some() {
                jit_api::wire::decode_raw::<Value>(id, answer)
                    .unwrap_or_else(|e| panic!("the client cannot read {answer}: {e}"));
            }
        }
        (None, Some(err)) => {
            let code = err
                .get("code")
                .and_then(Value::as_i64)
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or_else(|| panic!("an error without an integer code: {answer}"));
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("an error without a message: {answer}"));
            assert!(!message.is_empty(), "an empty error message: {answer}");
            assert!(
                matches!(code, -32700 | -32600 | -32601 | -32602 | -32603)
                    || ErrorCode::from_code(code).is_some(),
                "an error code the protocol does not have: {answer}"
            );
            let id = want_id.as_u64().unwrap_or(0);
            if want_id.as_u64().is_some() {
                let e = jit_api::wire::decode_raw::<Value>(id, answer)
                    .expect_err("an error answer decodes as an error");
                assert_eq!(e.code, code, "{answer}");
            }
        }
        _ => panic!("an answer needs exactly one of result and error: {answer}"),
    }
}

/// Every transition appends to the audit log: it must stay one unbroken hash chain.
fn check_audit_chain(engine: &Engine) {
    let entries = engine
        .store()
        .read(|r| r.audit(0, usize::MAX, |_| true))
        .expect("read the audit log");
    let mut prev = "0".repeat(64);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "a gap in the audit log at {}", e.seq);
        assert_eq!(e.prev_hash, prev, "audit record {} does not chain", e.seq);
        assert_eq!(
            crate::store::audit_hash(e),
            e.hash,
            "audit record {} has a wrong hash",
            e.seq
        );
        prev.clone_from(&e.hash);
    }
}

/// Runs one config input through parse and validation, and panics when the result breaks
/// the config crate's promises.
pub fn config(data: &[u8]) {
    // The daemon reads its config with `read_to_string`: bytes that are not UTF-8 are
    // refused before the parser sees them.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent/jit-fuzz/jit.toml");
    let env = |name: &str| {
        (name.starts_with("JIT_FUZZ_")).then(|| "postgres://jit@127.0.0.1:5432/postgres".into())
    };
    match jit_config::parse_with_env(text, path, &env) {
        Ok(config) => check_config(&config),
        Err(e) => check_problems(text, path, &e),
    }
}

fn check_config(config: &jit_config::Config) {
    // A channel that checks can be built: its addresses are ones lettre sends to, its URLs
    // ones reqwest sends to (the messages name the channel only: URLs are secrets).
    for c in &config.notifications {
        match &c.kind {
            jit_config::ChannelKind::Email(m) => {
                assert!(
                    m.from.parse::<lettre::message::Mailbox>().is_ok(),
                    "channel {}: from does not parse",
                    c.name
                );
                for (user, address) in &m.addresses {
                    assert!(
                        address.parse::<lettre::message::Mailbox>().is_ok(),
                        "channel {}: the address of {user} does not parse",
                        c.name
                    );
                }
            }
            jit_config::ChannelKind::Slack { url }
            | jit_config::ChannelKind::Teams { url }
            | jit_config::ChannelKind::Webhook { url, .. } => assert!(
                reqwest::Url::parse(url.expose()).is_ok(),
                "channel {}: the URL does not parse",
                c.name
            ),
        }
    }
    for flow in &config.flows {
        assert!(
            flow.default_duration <= flow.max_duration,
            "flow {} defaults above its maximum",
            flow.name
        );
        assert!(
            !flow.max_duration.is_zero(),
            "flow {} allows nothing",
            flow.name
        );
        match &flow.integration {
            Some(i) => assert!(
                config.integration(i).is_some(),
                "flow {} names an unknown integration",
                flow.name
            ),
            None => assert!(
                !flow.bundles.is_empty() && flow.bundles.iter().all(|b| config.bundle(b).is_some()),
                "flow {} names no integration and no known bundle",
                flow.name
            ),
        }
    }
    for bundle in &config.bundles {
        for e in &bundle.entries {
            let integ = config
                .integration(&e.integration)
                .unwrap_or_else(|| panic!("bundle {} names an unknown integration", bundle.name));
            let rt = integ
                .resource_type(&e.resource_type)
                .unwrap_or_else(|| panic!("bundle {} names an unknown resource type", bundle.name));
            assert!(
                e.permissions.iter().all(|p| rt.permissions.contains(p)),
                "bundle {} names an unknown permission",
                bundle.name
            );
        }
    }
    // What the daemon does next with a config that loaded: build the integrations.
    let _ = crate::integrations::build(config, "fuzz", Path::new(""));
}

fn check_problems(text: &str, path: &Path, e: &jit_config::ConfigError) {
    let problems = e.problems();
    assert!(!problems.is_empty(), "a refusal without a problem: {e}");
    let lines = text.split('\n').count();
    for p in problems {
        assert_eq!(p.path, path, "{p}");
        assert!(
            p.line >= 1 && p.line <= lines,
            "line {} is outside the file ({lines} lines): {p}",
            p.line
        );
        let line_text = text.split('\n').nth(p.line - 1).unwrap_or("");
        assert!(
            p.column >= 1 && p.column <= line_text.chars().count() + 1,
            "column {} is outside line {}: {p}",
            p.column,
            p.line
        );
        assert!(!p.message.is_empty(), "a problem without a message: {p}");
        assert!(!p.fix.is_empty(), "a problem without a fix: {p}");
        assert!(
            !p.message.ends_with('.'),
            "a message ends with a period: {p}"
        );
        assert!(
            !p.message.starts_with(|c: char| c.is_ascii_uppercase()),
            "a message starts with a capital: {p}"
        );
    }
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("{}:", path.display())),
        "the error does not start with file:line: {shown}"
    );
}
