//! The authorization matrix: every API method × {requester, other user, approver of the
//! flow, admin, user in no flow}, called by real Unix users over the real socket.
//!
//! The tables below are the spec. Each action row puts a fresh request of the requester's
//! into a state, calls one method as each of the five, and says what each may do: allowed
//! (and then what the answer must show) or refused with which code. A refused call must
//! change nothing (the request and its audit records are compared before and after). The
//! read tables build one fixed set of requests and say, per person, which of them each read
//! (`request.get`, `request.wait`, `request.list`, `audit.list`, `daemon.status`,
//! `catalog.list`) shows. Every violation is collected and printed; the test fails on any.
//!
//! Self-approval is tried through every path with a requester, erin, who is also an
//! approver (by group) of every flow and an admin: approve, a bundle whose flow names her
//! group as approvers, an extension that needs approval, a request made again, a second
//! approval towards a threshold of two, and an extension of a break-glass grant.

use std::time::Duration;

use jit_tests::pg::{self, TestDb};
use jit_tests::support::Conn;
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, wait_until};
use serde_json::{Value, json};

/// The columns of every table, in this order.
const ROLES: [&str; 5] = [
    "requester",
    "other user",
    "approver",
    "admin",
    "user in no flow",
];

/// What one person may do with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Allowed: the call succeeds (and the row's check holds).
    Ok,
    /// 1001: the request does not exist for them.
    NotFound,
    /// 1002: they see it but may not do this.
    Forbidden,
    /// 1003: no access flow lets them request it.
    NoFlow,
    /// 1004: allowed in general, but not in this status.
    InvalidState,
}
use Want::{Forbidden, InvalidState, NoFlow, NotFound, Ok};

impl Want {
    fn code(self) -> Option<i32> {
        match self {
            Ok => None,
            NotFound => Some(1001),
            Forbidden => Some(1002),
            NoFlow => Some(1003),
            InvalidState => Some(1004),
        }
    }
}

/// The people, their groups, and the daemon they talk to.
struct World {
    /// Requester, other user, approver, admin, user in no flow: alice, bob, carol, wendy, nora.
    conns: Vec<Conn>,
    names: Vec<String>,
    /// A second requester who is also an approver (in `dba` and `dev`) and an admin (`adm`).
    erin: Conn,
    erin_name: String,
    root: Conn,
    db: TestDb,
    _d: Daemon,
    _users: Vec<User>,
    _groups: Vec<Group>,
}

/// Flows: `auto` (read on demo, automatic, extended at once), `manual` (write on demo,
/// `%dba` approves, extensions too), `pg` (read on PostgreSQL, `%dba` approves: the only
/// integration with secrets), `two` (write on lab, two `%dba` approvals), `pair` (a bundle
/// whose approvers are the requesters' own group `%dev`), `emergency` (break-glass admin on
/// lab, `%dba` told, an extension needs their approval). Admins: `%adm` (and root).
fn config(prefix: &str, dev: &str, dba: &str, adm: &str) -> String {
    format!(
        r#"
[daemon]
admins = ["%{adm}"]
pending_ttl = "2h"

[[integrations]]
name = "pg-main"
kind = "postgres"
url = "{url}"
role_prefix = "{prefix}"

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read", "write"] }}
browser_url = "https://demo.example.com/?user={{user}}&db={{database}}"

[[integrations]]
name = "lab"
kind = "dry-run"
resource_types = {{ database = ["read", "write", "admin"] }}

[[bundles]]
name = "pair"
[[bundles.entries]]
integration = "demo"
resource_type = "database"
resources = ["x"]
permissions = ["read"]
[[bundles.entries]]
integration = "lab"
resource_type = "database"
resources = ["y"]
permissions = ["read"]

[[flows]]
name = "auto"
requesters = ["%{dev}"]
integration = "demo"
permissions = ["read"]
max_duration = "1h"
max_extensions = 2

[[flows]]
name = "manual"
requesters = ["%{dev}"]
integration = "demo"
permissions = ["write"]
approvers = ["%{dba}"]
max_duration = "1h"
max_extensions = 1
extension_approval = "manual"

[[flows]]
name = "pg"
requesters = ["%{dev}"]
integration = "pg-main"
permissions = ["read"]
approvers = ["%{dba}"]
max_duration = "1h"

[[flows]]
name = "two"
requesters = ["%{dev}"]
integration = "lab"
permissions = ["write"]
approvers = ["%{dba}"]
approvals_required = 2
max_duration = "1h"

[[flows]]
name = "pair"
requesters = ["%{dev}"]
bundles = ["pair"]
approvers = ["%{dev}"]
max_duration = "1h"

[[flows]]
name = "emergency"
requesters = ["%{dev}"]
integration = "lab"
permissions = ["admin"]
break_glass = true
approvers = ["%{dba}"]
justification = "required"
max_duration = "1h"
max_extensions = 1
extension_approval = "manual"
"#,
        url = pg::ADMIN_URL,
    )
}

fn world() -> World {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let adm = Group::create("adm");
    let users = vec![
        User::create("a", &[&dev]),
        User::create("b", &[&dev]),
        User::create("c", &[&dba]),
        User::create("w", &[&adm]),
        User::create("n", &[]),
        User::create("e", &[&dev, &dba, &adm]),
    ];
    let db = TestDb::create();
    let d = Daemon::start(&config(&crate::prefix(), &dev.name, &dba.name, &adm.name));
    let conns = users[..5].iter().map(|u| d.connect_as(u)).collect();
    let erin = d.connect_as(&users[5]);
    World {
        conns,
        names: users.iter().map(|u| u.name.clone()).collect(),
        erin,
        erin_name: users[5].name.clone(),
        root: d.connect(),
        db,
        _d: d,
        _users: users,
        _groups: vec![dev, dba, adm],
    }
}

impl World {
    /// The requester's connection: alice's, or erin's for the self-approval rows.
    fn owner(&mut self, owner: Owner) -> &mut Conn {
        match owner {
            Owner::Alice => &mut self.conns[0],
            Owner::Erin => &mut self.erin,
        }
    }

    fn owner_name(&self, owner: Owner) -> &str {
        match owner {
            Owner::Alice => &self.names[0],
            Owner::Erin => &self.erin_name,
        }
    }

    /// The connection of a column: the owner for the requester column.
    fn role(&mut self, owner: Owner, role: usize) -> &mut Conn {
        if role == 0 {
            self.owner(owner)
        } else {
            &mut self.conns[role]
        }
    }

    fn role_name(&self, owner: Owner, role: usize) -> String {
        if role == 0 {
            self.owner_name(owner).to_owned()
        } else {
            self.names[role].clone()
        }
    }

    /// A child process of another user than the column's (bob's; alice's for bob).
    fn others_child(&self, role: usize) -> u32 {
        let other = if role == 1 { 0 } else { 1 };
        self.conns[other].child().expect("relay child")
    }
}

/// Calls that set up states must work; a failure here is a broken test, not a finding.
fn must(conn: &mut Conn, method: &str, params: Value) -> Value {
    conn.call_value(method, params.clone()).unwrap_or_else(|e| {
        panic!(
            "setup call {method} {params} failed: {} {}",
            e.code, e.message
        )
    })
}

fn id(v: &Value) -> u64 {
    v["id"].as_u64().expect("request id")
}

fn wait_status(w: &mut World, id: u64, status: &str) -> Value {
    let root = &mut w.root;
    wait_until(
        Duration::from_secs(20),
        &format!("request {id} {status}"),
        || {
            let v = must(root, "request.get", json!({ "id": id }));
            (v["status"] == status).then_some(v)
        },
    )
}

/// Whose request a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// An ordinary requester.
    Alice,
    /// A requester who is also an approver of every flow (by group) and an admin.
    Erin,
}

/// The state an action row's request is put in before the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No request: the row creates one.
    Nothing,
    /// `manual`: pending, waiting for `%dba`.
    Pending,
    /// `auto`: granted (dry-run).
    Granted,
    /// `auto` with a start an hour ahead: approved, waiting to start.
    Scheduled,
    /// `manual`: approved by the approver, granted.
    GrantedManual,
    /// `manual`, granted, with an extension waiting for approval.
    ExtensionWaiting,
    /// `manual`: rejected by the approver (closed).
    Closed,
    /// A closed request made again by its requester: pending again.
    Again,
    /// `pg`: approved, granted on PostgreSQL, its secret unrevealed.
    PgGranted,
    /// The bundle `pair` (its approvers are `%dev`, the requester's own group): pending.
    BundlePending,
    /// `two`: pending, approved once by the approver, one more needed.
    HalfApproved,
    /// `emergency`: granted at once without approval.
    BreakGlass,
    /// `emergency`, granted, with an extension waiting for the people it told.
    BreakGlassExtensionWaiting,
    /// No request: the requester's connection holds a live subscription, whose number
    /// stands in for the request id.
    Subscribed,
}

fn demo(perm: &str) -> Value {
    json!({"integration": "demo", "resource_type": "database", "resources": ["x"], "permissions": [perm], "duration_secs": 600})
}

/// Puts a fresh request of `owner`'s in `state`; its id (0 for [`State::Nothing`]).
fn setup(w: &mut World, owner: Owner, state: State) -> u64 {
    let approver = 2;
    match state {
        State::Nothing => 0,
        State::Pending => id(&must(w.owner(owner), "request.create", demo("write"))),
        State::Granted => {
            let r = id(&must(w.owner(owner), "request.create", demo("read")));
            wait_status(w, r, "granted");
            r
        }
        State::Scheduled => {
            let at = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
                .format(&time::format_description::well_known::Rfc3339)
                .expect("rfc3339");
            let mut params = demo("read");
            params["start_at"] = json!(at);
            let v = must(w.owner(owner), "request.create", params);
            assert_eq!(v["status"], "scheduled", "{v}");
            id(&v)
        }
        State::GrantedManual => {
            let r = setup(w, owner, State::Pending);
            must(
                &mut w.conns[approver],
                "request.approve",
                json!({ "id": r }),
            );
            wait_status(w, r, "granted");
            r
        }
        State::ExtensionWaiting => {
            let r = setup(w, owner, State::GrantedManual);
            let v = must(
                w.owner(owner),
                "grant.extend",
                json!({"id": r, "duration_secs": 60}),
            );
            assert!(v["pending_extension"].is_object(), "{v}");
            r
        }
        State::Closed => {
            let r = setup(w, owner, State::Pending);
            must(
                &mut w.conns[approver],
                "request.reject",
                json!({"id": r, "reason": "no"}),
            );
            r
        }
        State::Again => {
            let closed = setup(w, owner, State::Closed);
            id(&must(
                w.owner(owner),
                "request.again",
                json!({ "id": closed }),
            ))
        }
        State::PgGranted => {
            let params = json!({"integration": "pg-main", "resource_type": "database",
                "resources": [w.db.name], "permissions": ["read"], "duration_secs": 600});
            let r = id(&must(w.owner(owner), "request.create", params));
            must(
                &mut w.conns[approver],
                "request.approve",
                json!({ "id": r }),
            );
            wait_status(w, r, "granted");
            r
        }
        State::BundlePending => id(&must(
            w.owner(owner),
            "request.create",
            json!({"bundle": "pair", "duration_secs": 600}),
        )),
        State::HalfApproved => {
            let params = json!({"integration": "lab", "resource_type": "database",
                "resources": ["x"], "permissions": ["write"], "duration_secs": 600});
            let r = id(&must(w.owner(owner), "request.create", params));
            must(
                &mut w.conns[approver],
                "request.approve",
                json!({ "id": r }),
            );
            r
        }
        State::BreakGlass => {
            let r = id(&must(w.owner(owner), "request.create", break_glass()));
            wait_status(w, r, "granted");
            r
        }
        State::BreakGlassExtensionWaiting => {
            let r = setup(w, owner, State::BreakGlass);
            let v = must(
                w.owner(owner),
                "grant.extend",
                json!({"id": r, "duration_secs": 60}),
            );
            assert!(v["pending_extension"].is_object(), "{v}");
            r
        }
        State::Subscribed => subscription(&must(w.owner(owner), "events.subscribe", json!({}))),
    }
}

fn subscription(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v["subscription"].as_u64())
        .unwrap_or_else(|| panic!("a subscription number: {v}"))
}

fn break_glass() -> Value {
    json!({"integration": "lab", "resource_type": "database", "resources": ["x"],
        "permissions": ["admin"], "duration_secs": 600, "justification": "INC-1 prod down"})
}

/// What a row's params and check see.
struct Cell<'a> {
    /// The request set up for the row (0 when none).
    id: u64,
    /// The column (0 requester … 4 user in no flow).
    role: usize,
    /// The caller's own relay child.
    child: u32,
    /// Another user's child process.
    others_child: u32,
    /// The requester's name.
    owner: &'a str,
    /// The caller's name.
    caller: &'a str,
}

type Check = fn(&Value, &Cell<'_>) -> Result<(), String>;

/// One action row: a method called on a request in a state, by each of the five.
struct Row {
    method: &'static str,
    state: State,
    owner: Owner,
    params: fn(&Cell<'_>) -> Value,
    want: [Want; 5],
    check: Check,
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Result::Ok(()) } else { Err(what()) }
}

fn by_id(c: &Cell<'_>) -> Value {
    json!({ "id": c.id })
}
fn with_reason(c: &Cell<'_>) -> Value {
    json!({"id": c.id, "reason": "matrix"})
}
fn is_request(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    ensure(v["id"] == c.id, || {
        format!("another request came back: {v}")
    })
}
fn intact_audit(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    ensure(v["ok"] == true && v["first_bad"].is_null(), || {
        format!("an untouched audit log must verify: {v}")
    })
}
fn status_in(v: &Value, statuses: &[&str]) -> Result<(), String> {
    ensure(statuses.iter().any(|s| v["status"] == *s), || {
        format!("status {} is not one of {statuses:?}", v["status"])
    })
}
fn approved_by_caller(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    status_in(v, &["granting", "granted", "scheduled"])?;
    ensure(
        v["approval"]["approvals"]
            .as_array()
            .is_some_and(|a| a.iter().any(|d| d["by"] == c.caller)),
        || format!("the approval of {} is not recorded: {v}", c.caller),
    )
}
fn extension_applied(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    ensure(
        v["pending_extension"].is_null()
            && v["extensions"].as_array().is_some_and(|e| e.len() == 1)
            && v["extensions"][0]["approvals"][0]["by"] == c.caller,
        || {
            format!(
                "the extension was not applied with {}'s approval: {v}",
                c.caller
            )
        },
    )
}
fn extension_waits(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    ensure(v["pending_extension"].is_object(), || {
        format!("no extension waits: {v}")
    })
}
fn extension_added(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    ensure(
        v["pending_extension"].is_null()
            && v["extensions"].as_array().is_some_and(|e| e.len() == 1),
        || format!("the extension was not added at once: {v}"),
    )
}
fn extension_dropped(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    status_in(v, &["granted"])?;
    ensure(
        v["pending_extension"].is_null() && v["extensions"].as_array().is_some_and(Vec::is_empty),
        || format!("the waiting extension is still there: {v}"),
    )
}
fn rejected(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    status_in(v, &["rejected"])
}
fn canceled(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    status_in(v, &["canceled"])
}
fn revoking(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    status_in(v, &["revoking", "revoked"])
}
fn repeated(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    status_in(v, &["pending"])?;
    ensure(
        v["repeats"] == c.id
            && v["requester"] == c.owner
            && v["approval"]["approvals"]
                .as_array()
                .is_some_and(Vec::is_empty),
        || format!("a repeat must start without approvals, as its requester's: {v}"),
    )
}
fn revealed(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    ensure(
        v["sessions"][0]["secret"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        || "no secret in the answer".into(),
    )
}
fn reset(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    status_in(v, &["granted"])?;
    // A reset by someone else (an admin) marks the session rotated; the requester's does not.
    let rotated = c.caller != c.owner;
    ensure(
        v["sessions"][0]["credentials"] == "unrevealed" && v["sessions"][0]["rotated"] == rotated,
        || format!("after a reset by {}: {}", c.caller, v["sessions"][0]),
    )
}
fn terminal(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    ensure(
        v["argv"][0] == "psql"
            && v["env"].as_array().is_some_and(|e| {
                e.iter().any(|kv| {
                    kv[0] == "PGPASSWORD" && kv[1].as_str().is_some_and(|s| !s.is_empty())
                })
            }),
        || "a terminal plan without psql and PGPASSWORD".into(),
    )
}
fn browser(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    ensure(
        v["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://demo.example.com/")),
        || format!("a browser plan without the url: {v}"),
    )
}
fn saved_as_caller(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    ensure(v["name"] == c.caller, || {
        format!("not saved under the caller's name: {v}")
    })
}
fn only_own_saved(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    let list = v.as_array().ok_or("not a list")?;
    ensure(list.len() == 1 && list[0]["name"] == c.caller, || {
        format!(
            "{} sees saved requests that are not only their own: {v}",
            c.caller
        )
    })
}
fn a_subscription(v: &Value, _: &Cell<'_>) -> Result<(), String> {
    ensure(
        v.as_u64().is_some() || v["subscription"].as_u64().is_some(),
        || format!("not a subscription number: {v}"),
    )
}
fn anything(_: &Value, _: &Cell<'_>) -> Result<(), String> {
    Result::Ok(())
}
fn audit_of_request(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    let list = v.as_array().ok_or("not a list")?;
    ensure(
        !list.is_empty() && list.iter().all(|e| e["request"] == c.id),
        || format!("records of other requests, or none: {v}"),
    )
}
fn created_by_caller(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    ensure(v["requester"] == c.caller, || {
        format!("not the caller's request: {v}")
    })
}
fn break_glass_flagged(v: &Value, c: &Cell<'_>) -> Result<(), String> {
    created_by_caller(v, c)?;
    status_in(v, &["granting", "granted"])?;
    ensure(
        v["break_glass"] == true
            && v["approval"]["approvals"]
                .as_array()
                .is_some_and(Vec::is_empty),
        || format!("a break-glass grant must be flagged and carry no approval: {v}"),
    )
}

/// The action table. Columns: requester, other user, approver, admin, user in no flow.
#[rustfmt::skip]
fn rows() -> Vec<Row> {
    use Owner::{Alice, Erin};
    use State::*;
    let r = |method, state, owner, params, want, check| Row { method, state, owner, params, want, check };
    vec![
        // Following events: anyone may subscribe (what each subscription then gets is the
        // rule of request.get, checked in events.rs). These rows come first, so every
        // connection below makes its calls with a subscription live and events arriving
        // between the answers. Only the connection that made a subscription ends it.
        r("events.subscribe", Nothing, Alice, |_| json!({}), [Ok, Ok, Ok, Ok, Ok], a_subscription),
        r("events.unsubscribe", Subscribed, Alice, |c| json!({"subscription": c.id}), [Ok, NotFound, NotFound, NotFound, NotFound], anything),
        r("events.subscribe", Nothing, Alice, |_| json!({}), [Ok, Ok, Ok, Ok, Ok], a_subscription),
        // Reading one request: its requester, its approvers and admins; nobody else.
        r("request.get", Pending, Alice, by_id, [Ok, NotFound, Ok, Ok, NotFound], is_request),
        r("request.get", Granted, Alice, by_id, [Ok, NotFound, NotFound, Ok, NotFound], is_request),
        r("request.get", BreakGlass, Alice, by_id, [Ok, NotFound, Ok, Ok, NotFound], is_request),
        r("request.wait", Pending, Alice, |c| json!({"id": c.id, "timeout_secs": 0}), [Ok, NotFound, Ok, Ok, NotFound], is_request),
        r("request.wait", Granted, Alice, |c| json!({"id": c.id, "until": "closed", "timeout_secs": 0}), [Ok, NotFound, NotFound, Ok, NotFound], is_request),
        r("audit.list", Pending, Alice, |c| json!({"request": c.id}), [Ok, NotFound, Ok, Ok, NotFound], audit_of_request),
        r("audit.list", Granted, Alice, |c| json!({"request": c.id}), [Ok, NotFound, NotFound, Ok, NotFound], audit_of_request),
        // Verifying the audit chain: admins only.
        r("audit.verify", Nothing, Alice, |_| json!({}), [Forbidden, Forbidden, Forbidden, Ok, Forbidden], intact_audit),
        // Operating the daemon: admins only (a reload of the unchanged file changes nothing).
        r("daemon.metrics", Nothing, Alice, |_| json!({}), [Forbidden, Forbidden, Forbidden, Ok, Forbidden], anything),
        r("admin.status", Nothing, Alice, |_| json!({}), [Forbidden, Forbidden, Forbidden, Ok, Forbidden], anything),
        r("admin.orphans", Nothing, Alice, |_| json!({}), [Forbidden, Forbidden, Forbidden, Ok, Forbidden], anything),
        r("admin.reload", Nothing, Alice, |_| json!({}), [Forbidden, Forbidden, Forbidden, Ok, Forbidden], anything),
        // Saved requests: everyone keeps their own, and sees and deletes only those (each
        // caller saves under their own name; the list must hold that name and no other).
        r("saved.save", Nothing, Alice, |c| json!({"name": c.caller, "request": {"integration": "demo", "resource_type": "database", "resources": ["orders"], "permissions": ["read"]}}), [Ok, Ok, Ok, Ok, Ok], saved_as_caller),
        r("saved.list", Nothing, Alice, |_| json!({}), [Ok, Ok, Ok, Ok, Ok], only_own_saved),
        r("saved.delete", Nothing, Alice, |c| json!({"name": c.caller}), [Ok, Ok, Ok, Ok, Ok], anything),
        // Creating: whoever a flow names.
        r("request.create", Nothing, Alice, |_| demo("read"), [Ok, Ok, NoFlow, NoFlow, NoFlow], created_by_caller),
        r("request.create", Nothing, Alice, |_| break_glass(), [Ok, Ok, NoFlow, NoFlow, NoFlow], break_glass_flagged),
        r("request.create", Nothing, Alice, |_| json!({"bundle": "pair"}), [Ok, Ok, NoFlow, NoFlow, NoFlow], created_by_caller),
        // Approving: the flow's approvers, never the requester; an admin is no approver.
        r("request.approve", Pending, Alice, with_reason, [Forbidden, NotFound, Ok, Forbidden, NotFound], approved_by_caller),
        r("request.approve", Granted, Alice, by_id, [InvalidState, NotFound, NotFound, InvalidState, NotFound], anything),
        r("request.approve", ExtensionWaiting, Alice, by_id, [Forbidden, NotFound, Ok, Forbidden, NotFound], extension_applied),
        r("request.approve", BundlePending, Alice, by_id, [Forbidden, Ok, NotFound, Forbidden, NotFound], approved_by_caller),
        r("request.approve", HalfApproved, Alice, by_id, [Forbidden, NotFound, InvalidState, Forbidden, NotFound], anything),
        r("request.approve", BreakGlass, Alice, by_id, [InvalidState, NotFound, InvalidState, InvalidState, NotFound], anything),
        r("request.approve", BreakGlassExtensionWaiting, Alice, by_id, [Forbidden, NotFound, Ok, Forbidden, NotFound], extension_applied),
        r("request.approve", Again, Alice, by_id, [Forbidden, NotFound, Ok, Forbidden, NotFound], approved_by_caller),
        // Rejecting: approvers and admins; the requester cancels instead.
        r("request.reject", Pending, Alice, with_reason, [Forbidden, NotFound, Ok, Ok, NotFound], rejected),
        r("request.reject", Granted, Alice, with_reason, [Forbidden, NotFound, NotFound, InvalidState, NotFound], anything),
        r("request.reject", ExtensionWaiting, Alice, with_reason, [Forbidden, NotFound, Ok, Ok, NotFound], extension_dropped),
        // Canceling: the requester only, before it starts.
        r("request.cancel", Pending, Alice, with_reason, [Ok, NotFound, Forbidden, Forbidden, NotFound], canceled),
        r("request.cancel", Granted, Alice, by_id, [InvalidState, NotFound, NotFound, Forbidden, NotFound], anything),
        r("request.cancel", Scheduled, Alice, by_id, [Ok, NotFound, NotFound, Forbidden, NotFound], canceled),
        // Requesting again: the requester only, a closed request, and the approvals start over.
        r("request.again", Closed, Alice, by_id, [Ok, NotFound, Forbidden, Forbidden, NotFound], repeated),
        r("request.again", Pending, Alice, by_id, [InvalidState, NotFound, Forbidden, Forbidden, NotFound], anything),
        // Revoking: the requester and admins.
        r("grant.revoke", Granted, Alice, with_reason, [Ok, NotFound, NotFound, Ok, NotFound], revoking),
        r("grant.revoke", GrantedManual, Alice, with_reason, [Ok, NotFound, Forbidden, Ok, NotFound], revoking),
        r("grant.revoke", Pending, Alice, by_id, [InvalidState, NotFound, Forbidden, InvalidState, NotFound], anything),
        r("grant.revoke", Scheduled, Alice, by_id, [InvalidState, NotFound, NotFound, InvalidState, NotFound], anything),
        r("request.approve", Scheduled, Alice, by_id, [InvalidState, NotFound, NotFound, InvalidState, NotFound], anything),
        // Extending: the requester only.
        r("grant.extend", Granted, Alice, |c| json!({"id": c.id, "duration_secs": 60}), [Ok, NotFound, NotFound, Forbidden, NotFound], extension_added),
        r("grant.extend", GrantedManual, Alice, |c| json!({"id": c.id, "duration_secs": 60}), [Ok, NotFound, Forbidden, Forbidden, NotFound], extension_waits),
        // Credentials: revealed to the requester only, reset by the requester or an admin.
        r("credentials.reveal", PgGranted, Alice, by_id, [Ok, NotFound, Forbidden, Forbidden, NotFound], revealed),
        r("credentials.reveal", Granted, Alice, by_id, [InvalidState, NotFound, NotFound, Forbidden, NotFound], anything),
        r("credentials.reset", PgGranted, Alice, with_reason, [Ok, NotFound, Forbidden, Ok, NotFound], reset),
        r("credentials.reset", Granted, Alice, by_id, [InvalidState, NotFound, NotFound, InvalidState, NotFound], anything),
        r("credentials.reset", Pending, Alice, by_id, [InvalidState, NotFound, Forbidden, InvalidState, NotFound], anything),
        // Connecting and registering launched processes: the requester only.
        r("session.connect", PgGranted, Alice, |c| json!({"id": c.id, "kind": "terminal"}), [Ok, NotFound, Forbidden, Forbidden, NotFound], terminal),
        r("session.connect", Granted, Alice, |c| json!({"id": c.id, "kind": "browser"}), [Ok, NotFound, NotFound, Forbidden, NotFound], browser),
        r("session.register", Granted, Alice, |c| json!({"id": c.id, "session": "demo", "pid": c.child}), [Ok, NotFound, NotFound, Forbidden, NotFound], anything),
        r("session.register", GrantedManual, Alice, |c| json!({"id": c.id, "session": "demo", "pid": c.child}), [Ok, NotFound, Forbidden, Forbidden, NotFound], anything),
        // Someone else's process is never registered, whoever asks.
        r("session.register", Granted, Alice, |c| json!({"id": c.id, "session": "demo", "pid": c.others_child}), [Forbidden, Forbidden, Forbidden, Forbidden, Forbidden], anything),
        // Self-approval, through every path, by a requester who is also an approver and an admin.
        r("request.approve", Pending, Erin, by_id, [Forbidden, NotFound, Ok, Forbidden, NotFound], approved_by_caller),
        r("request.approve", BundlePending, Erin, by_id, [Forbidden, Ok, NotFound, Forbidden, NotFound], approved_by_caller),
        r("request.approve", ExtensionWaiting, Erin, by_id, [Forbidden, NotFound, Ok, Forbidden, NotFound], extension_applied),
        r("request.approve", Again, Erin, by_id, [Forbidden, NotFound, Ok, Forbidden, NotFound], approved_by_caller),
        r("request.approve", HalfApproved, Erin, by_id, [Forbidden, NotFound, InvalidState, Forbidden, NotFound], anything),
        r("request.approve", BreakGlass, Erin, by_id, [InvalidState, NotFound, InvalidState, InvalidState, NotFound], anything),
        r("request.approve", BreakGlassExtensionWaiting, Erin, by_id, [Forbidden, NotFound, Ok, Forbidden, NotFound], extension_applied),
        r("request.reject", Pending, Erin, by_id, [Forbidden, NotFound, Ok, Ok, NotFound], rejected),
        r("request.create", Nothing, Erin, |_| break_glass(), [Ok, Ok, NoFlow, NoFlow, NoFlow], break_glass_flagged),
    ]
}

/// What a refused call must leave as it was: the request and its audit records.
fn snapshot(w: &mut World, state: State, id: u64) -> Option<(Value, Value)> {
    (id != 0 && state != State::Subscribed).then(|| {
        (
            must(&mut w.root, "request.get", json!({ "id": id })),
            must(&mut w.root, "audit.list", json!({ "request": id })),
        )
    })
}

#[test]
fn every_method_as_every_kind_of_caller() {
    let mut w = world();
    let mut violations = Vec::new();
    let mut cells = 0;
    for row in rows() {
        for (role, want) in row.want.iter().enumerate() {
            cells += 1;
            let id = setup(&mut w, row.owner, row.state);
            let before = snapshot(&mut w, row.state, id);
            let owner = w.owner_name(row.owner).to_owned();
            let caller = w.role_name(row.owner, role);
            let child = w.role(row.owner, role).child().expect("relay child");
            let cell = Cell {
                id,
                role,
                child,
                others_child: w.others_child(role),
                owner: &owner,
                caller: &caller,
            };
            let params = (row.params)(&cell);
            let got = w
                .role(row.owner, role)
                .call_value(row.method, params.clone());
            let what = format!(
                "{} {params} on a {:?} request of {owner} ({:?}) as the {} ({caller})",
                row.method, row.state, row.owner, ROLES[cell.role]
            );
            match (want, &got) {
                (Ok, Result::Ok(v)) => {
                    if let Err(e) = (row.check)(v, &cell) {
                        violations.push(format!("{what}: allowed, but {e}"));
                    }
                }
                (Ok, Err(e)) => {
                    violations.push(format!(
                        "{what}: must be allowed, was refused: {} {}",
                        e.code, e.message
                    ));
                }
                (want, Result::Ok(v)) => {
                    violations.push(format!(
                        "{what}: must be refused ({want:?}), was allowed: {v}"
                    ));
                }
                (want, Err(e)) => {
                    if Some(e.code) != want.code() {
                        violations.push(format!(
                            "{what}: must be refused with {want:?}, got {} {}",
                            e.code, e.message
                        ));
                    }
                    if let Some(before) = before {
                        let after = snapshot(&mut w, row.state, id).expect("snapshot");
                        if after != before {
                            violations.push(format!(
                                "{what}: refused, but it changed the request:\n  before {}\n  after  {}",
                                before.0, after.0
                            ));
                        }
                    }
                }
            }
        }
    }
    eprintln!("authorization matrix: {cells} cells");
    assert!(
        violations.is_empty(),
        "{} violations in {cells} cells of the authorization matrix:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

/// The fixed requests of the read tables.
const LABELS: [&str; 6] = ["aP", "aG", "aC", "aE", "bP", "bB"];

/// Builds, as alice and bob: aP (alice's pending write, `%dba` approves), aG (alice's granted
/// read), aC (alice's revoked read), aE (alice's break-glass grant, `%dba` told), bP (bob's
/// pending write), bB (bob's pending bundle, whose approvers are `%dev`: alice among them).
fn fixed_requests(w: &mut World) -> Vec<u64> {
    let a_p = setup(w, Owner::Alice, State::Pending);
    let a_g = setup(w, Owner::Alice, State::Granted);
    let a_c = setup(w, Owner::Alice, State::Granted);
    must(&mut w.conns[0], "grant.revoke", json!({ "id": a_c }));
    wait_status(w, a_c, "revoked");
    let a_e = setup(w, Owner::Alice, State::BreakGlass);
    let b_p = id(&must(&mut w.conns[1], "request.create", demo("write")));
    let b_b = id(&must(
        &mut w.conns[1],
        "request.create",
        json!({"bundle": "pair"}),
    ));
    vec![a_p, a_g, a_c, a_e, b_p, b_b]
}

/// Which of [`LABELS`] each column sees, or the code it is refused with.
enum Sees {
    Only(&'static [&'static str]),
    Refused(Want),
}
use Sees::{Only, Refused};

/// Who sees each fixed request (`request.get`, `request.wait`, `audit.list` of it): its
/// requester, its approvers (for break-glass: the people told), admins.
#[rustfmt::skip]
const VISIBLE: [(&str, [bool; 5]); 6] = [
    ("aP", [true, false, true, true, false]),
    ("aG", [true, false, false, true, false]),
    ("aC", [true, false, false, true, false]),
    ("aE", [true, false, true, true, false]),
    ("bP", [false, true, true, true, false]),
    ("bB", [true, true, false, true, false]),
];

/// `request.list` with each params: what each column sees.
#[rustfmt::skip]
fn list_table() -> Vec<(Value, [Sees; 5])> {
    vec![
        (json!({}), [Only(&["aP", "aG", "aE"]), Only(&["bP", "bB"]), Only(&[]), Only(&[]), Only(&[])]),
        (json!({"closed": true}), [Only(&["aC"]), Only(&[]), Only(&[]), Only(&[]), Only(&[])]),
        (json!({"scope": "review"}), [Only(&["bB"]), Only(&[]), Only(&["aP", "bP", "aE"]), Only(&[]), Only(&[])]),
        (json!({"scope": "review", "closed": true}), [Only(&[]), Only(&[]), Only(&[]), Only(&[]), Only(&[])]),
        (json!({"scope": "all"}), [Refused(Forbidden), Refused(Forbidden), Refused(Forbidden), Only(&["aP", "aG", "aE", "bP", "bB"]), Refused(Forbidden)]),
        (json!({"scope": "all", "closed": true}), [Refused(Forbidden), Refused(Forbidden), Refused(Forbidden), Only(&["aC"]), Refused(Forbidden)]),
    ]
}

/// `audit.list` without a request: the requests whose records each column reads (their own;
/// admins everything).
#[rustfmt::skip]
const AUDIT: [&[&str]; 5] = [&["aP", "aG", "aC", "aE"], &["bP", "bB"], &[], &["aP", "aG", "aC", "aE", "bP", "bB"], &[]];

/// `daemon.status`: open, pending and granted counts over what each column may see, and
/// whether it is an admin.
const STATUS: [(u64, u64, u64, bool); 5] = [
    (4, 2, 2, false),
    (2, 2, 0, false),
    (3, 2, 1, false),
    (5, 3, 2, true),
    (0, 0, 0, false),
];

/// `catalog.list`: the flows each column may request through.
const CATALOG: [&[&str]; 5] = [
    &["auto", "manual", "pg", "two", "pair", "emergency"],
    &["auto", "manual", "pg", "two", "pair", "emergency"],
    &[],
    &[],
    &[],
];

fn labels_of(ids: &[u64], list: &[Value], field: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = list
        .iter()
        .filter_map(|v| v[field].as_u64())
        .filter_map(|n| ids.iter().position(|i| *i == n).map(|p| LABELS[p]))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn sorted(labels: &[&'static str]) -> Vec<&'static str> {
    let mut v = labels.to_vec();
    v.sort_unstable();
    v
}

#[test]
fn what_each_kind_of_caller_sees() {
    let mut w = world();
    let ids = fixed_requests(&mut w);
    let mut violations = Vec::new();
    let mut cells = 0;
    for role in 0..5 {
        let who = format!("the {} ({})", ROLES[role], w.names[role]);
        let conn = &mut w.conns[role];
        for (label, seen) in VISIBLE {
            let rid = ids[LABELS.iter().position(|l| *l == label).expect("label")];
            for (method, params) in [
                ("request.get", json!({ "id": rid })),
                (
                    "request.wait",
                    json!({"id": rid, "until": "closed", "timeout_secs": 0}),
                ),
                ("audit.list", json!({ "request": rid })),
            ] {
                cells += 1;
                let got = conn.call_value(method, params.clone());
                match (seen[role], got) {
                    (true, Result::Ok(v)) => {
                        let right = if method == "audit.list" {
                            v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(|e| e["request"] == rid))
                        } else {
                            v["id"] == rid
                        };
                        if !right {
                            violations.push(format!("{method} {params} ({label}) as {who}: wrong answer {v}"));
                        }
                    }
                    (true, Err(e)) => violations.push(format!(
                        "{method} {params} ({label}) as {who}: must be visible, was refused: {} {}",
                        e.code, e.message
                    )),
                    (false, Result::Ok(v)) => violations.push(format!(
                        "{method} {params} ({label}) as {who}: must not be visible, was shown: {v}"
                    )),
                    (false, Err(e)) if e.code != 1001 => violations.push(format!(
                        "{method} {params} ({label}) as {who}: must look like a request that does not exist (1001), got {} {}",
                        e.code, e.message
                    )),
                    (false, Err(_)) => {}
                }
            }
        }
        for (params, sees) in list_table() {
            cells += 1;
            let got = conn.call_value("request.list", params.clone());
            match (&sees[role], got) {
                (Only(want), Result::Ok(v)) => {
                    let list = v.as_array().cloned().unwrap_or_default();
                    let seen = labels_of(&ids, &list, "id");
                    if seen != sorted(want) || list.len() != want.len() {
                        violations.push(format!(
                            "request.list {params} as {who}: must show {want:?}, showed {seen:?} ({} requests)",
                            list.len()
                        ));
                    }
                }
                (Only(want), Err(e)) => violations.push(format!(
                    "request.list {params} as {who}: must show {want:?}, was refused: {} {}",
                    e.code, e.message
                )),
                (Refused(code), Result::Ok(v)) => violations.push(format!(
                    "request.list {params} as {who}: must be refused ({code:?}), showed {v}"
                )),
                (Refused(code), Err(e)) => {
                    if Some(e.code) != code.code() {
                        violations.push(format!(
                            "request.list {params} as {who}: must be refused with {code:?}, got {} {}",
                            e.code, e.message
                        ));
                    }
                }
            }
        }
        cells += 1;
        match conn.call_value("audit.list", json!({})) {
            Result::Ok(v) => {
                let list = v.as_array().cloned().unwrap_or_default();
                let seen = labels_of(&ids, &list, "request");
                if seen != sorted(AUDIT[role])
                    || list.iter().any(|e| e["request"].is_null() && role != 3)
                {
                    violations.push(format!(
                        "audit.list {{}} as {who}: must read the records of {:?}, read {seen:?}",
                        AUDIT[role]
                    ));
                }
            }
            Err(e) => violations.push(format!(
                "audit.list {{}} as {who}: refused: {} {}",
                e.code, e.message
            )),
        }
        cells += 1;
        match conn.call_value("daemon.status", json!({})) {
            Result::Ok(v) => {
                let (open, pending, granted, admin) = STATUS[role];
                let got = (
                    v["counts"]["open"].as_u64().unwrap_or(u64::MAX),
                    v["counts"]["pending"].as_u64().unwrap_or(u64::MAX),
                    v["counts"]["granted"].as_u64().unwrap_or(u64::MAX),
                    v["caller"]["admin"] == admin,
                    v["caller"]["user"] == w.names[role].as_str(),
                );
                if got != (open, pending, granted, true, true) {
                    violations.push(format!(
                        "daemon.status as {who}: must count {open} open, {pending} pending, {granted} granted with admin {admin}, got {}",
                        json!({"counts": v["counts"], "caller": v["caller"]})
                    ));
                }
            }
            Err(e) => violations.push(format!(
                "daemon.status as {who}: refused: {} {}",
                e.code, e.message
            )),
        }
        cells += 1;
        match conn.call_value("catalog.list", json!({})) {
            Result::Ok(v) => {
                let flows: Vec<&str> = v
                    .as_array()
                    .map(|a| a.iter().filter_map(|e| e["flow"].as_str()).collect())
                    .unwrap_or_default();
                if flows != CATALOG[role] {
                    violations.push(format!(
                        "catalog.list as {who}: must list flows {:?}, listed {flows:?}",
                        CATALOG[role]
                    ));
                }
            }
            Err(e) => violations.push(format!(
                "catalog.list as {who}: refused: {} {}",
                e.code, e.message
            )),
        }
    }
    eprintln!("read tables: {cells} cells");
    assert!(
        violations.is_empty(),
        "{} violations in {cells} cells of the read tables:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

/// Every method of the protocol has a row: a new method fails here until the matrix says
/// who may call it.
#[test]
fn the_matrix_covers_every_method() {
    let mut covered: Vec<&str> = rows().iter().map(|r| r.method).collect();
    covered.extend([
        "request.list",
        "daemon.status",
        "catalog.list",
        "audit.list",
        "request.get",
        "request.wait",
    ]);
    let missing: Vec<&&str> = jit_api::methods::ALL
        .iter()
        .filter(|m| !covered.contains(m))
        .collect();
    assert!(
        missing.is_empty(),
        "methods without a row in the authorization matrix: {missing:?}"
    );
}
