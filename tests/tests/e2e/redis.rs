//! The `redis` kind against the machine's Redis on 127.0.0.1:6379, with the real
//! `redis-cli`: an ACL user per grant that reaches only its key patterns with only its
//! permissions' commands; revoke and expiry delete it and cut its open connections; kill -9
//! during grant and revoke leaves nothing behind; orphans are removed at start while users
//! jit did not make are left alone.
//!
//! Every test uses its own user prefix and key prefix and removes both when it ends.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use jit_api::Status;
use jit_api::methods::{
    CreateParams, DecideParams, GrantRevoke, IdParams, RequestCreate, RequestGet,
};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, wait_until};
use serde_json::Value;

const HOST: &str = "127.0.0.1";
const PORT: &str = "6379";

/// Runs `redis-cli` as the server's default user (the admin) and returns its output.
fn admin(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", HOST, "-p", PORT])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli (install redis-tools)");
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The ACL users whose names start with `prefix`.
fn users_with_prefix(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = admin(&["ACL", "USERS"])
        .lines()
        .filter(|u| u.starts_with(prefix))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// How many connections are logged in as `user`.
fn connections_of(user: &str) -> usize {
    let needle = format!(" user={user} ");
    admin(&["CLIENT", "LIST"])
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `redis-cli` as ACL user `user`, the password in `REDISCLI_AUTH`; stdout and stderr.
fn as_user(user: &str, password: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", HOST, "-p", PORT, "--user", user])
        .args(args)
        .env("REDISCLI_AUTH", password)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    both(&out).trim().to_owned()
}

/// Whether `AUTH user password` succeeds (the password goes through stdin, `-x`).
fn auth_ok(user: &str, password: &str) -> bool {
    let mut child = Command::new("redis-cli")
        .args(["-h", HOST, "-p", PORT, "-x", "AUTH", user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run redis-cli");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(password.as_bytes())
        .expect("write password");
    let out = child.wait_with_output().expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim() == "OK"
}

/// A `redis-cli` that stays connected as `user`, blocked in `args` (BLPOP, XREAD BLOCK),
/// until the server closes its connection.
fn blocked_client(user: &str, password: &str, args: &[&str]) -> Child {
    let child = Command::new("redis-cli")
        .args(["-h", HOST, "-p", PORT, "--user", user])
        .args(args)
        .env("REDISCLI_AUTH", password)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run redis-cli");
    wait_until(
        Duration::from_secs(10),
        "the blocked client to connect",
        || (connections_of(user) == 1).then_some(()),
    );
    child
}

/// Waits for a blocked client to be disconnected by the server and checks it was.
fn assert_disconnected(mut child: Child) {
    let status = wait_until(
        Duration::from_secs(5),
        "the open connection to be closed",
        || child.try_wait().expect("try_wait"),
    );
    let out = child.wait_with_output().expect("output");
    assert!(
        !status.success(),
        "the blocked command must not have completed: {}",
        both(&out)
    );
    assert!(
        both(&out).contains("closed the connection"),
        "{}",
        both(&out)
    );
}

/// A test's names: ACL users `<users>…`, keys `<keys>:…`; whatever is left is removed on drop.
struct Names {
    users: String,
    keys: String,
}

impl Names {
    fn new() -> Names {
        Names {
            users: crate::prefix(),
            keys: format!("jt{}", jit_tests::unique()),
        }
    }

    /// The key pattern the tests grant: `<keys>:*`.
    fn pattern(&self) -> String {
        format!("{}:*", self.keys)
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        for u in users_with_prefix(&self.users) {
            let _ = Command::new("redis-cli")
                .args(["-h", HOST, "-p", PORT, "ACL", "DELUSER", &u])
                .output();
        }
        let keys = Command::new("redis-cli")
            .args(["-h", HOST, "-p", PORT, "--scan", "--pattern"])
            .arg(format!("{}*", self.keys))
            .output();
        if let Ok(out) = keys {
            for k in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = Command::new("redis-cli")
                    .args(["-h", HOST, "-p", PORT, "DEL", k])
                    .output();
            }
        }
    }
}

fn config(names: &Names, dev: &Group) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "cache"
kind = "redis"
url = "redis://{HOST}:{PORT}"
user_prefix = "{prefix}"
[integrations.command_sets]
ops = "+ping +echo"

[[bundles]]
name = "mixed"
[[bundles.entries]]
integration = "cache"
resource_type = "keys"
resources = ["{keys}:r"]
permissions = ["read"]
[[bundles.entries]]
integration = "cache"
resource_type = "keys"
resources = ["{keys}:w"]
permissions = ["write"]

[[flows]]
name = "cache-bundles"
requesters = ["%{dev}", "root"]
bundles = ["mixed"]
max_duration = "1h"

[[flows]]
name = "cache-read"
requesters = ["%{dev}", "root"]
integration = "cache"
permissions = ["read"]
max_duration = "4h"

[[flows]]
name = "cache-write"
requesters = ["%{dev}", "root"]
integration = "cache"
permissions = ["write", "ops"]
max_duration = "1h"
"#,
        prefix = names.users,
        keys = names.keys,
        dev = dev.name,
    )
}

fn creds(d: &Daemon, user: Option<&User>, id: &str) -> (String, String) {
    let c = d.jit_json(user, &["creds", id]);
    let s = &c["sessions"][0];
    (
        s["user"].as_str().expect("user").to_owned(),
        s["secret"].as_str().expect("secret").to_owned(),
    )
}

fn principal(r: &Value) -> String {
    r["sessions"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned()
}

fn status(d: &Daemon, id: u64) -> Status {
    d.call::<RequestGet>(&IdParams { id }).expect("get").status
}

#[test]
fn a_read_user_reaches_only_its_keys_and_revoke_cuts_its_open_connection() {
    let names = Names::new();
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&names, &dev));
    let inside = format!("{}:a", names.keys);
    let outside = format!("{}x:b", names.keys);
    admin(&["SET", &inside, "1"]);
    admin(&["SET", &outside, "2"]);

    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "cache/keys",
            &names.pattern(),
            "--perm",
            "read",
            "--reason",
            "INC-1",
        ],
    );
    assert_eq!(r["status"], "granted", "{r}");
    let id = r["id"].as_u64().expect("id").to_string();
    let user = principal(&r);
    assert!(user.starts_with(&names.users), "{user}");
    assert_eq!(users_with_prefix(&names.users), vec![user.clone()]);
    let acl = admin(&["ACL", "LIST"]);
    let line = acl
        .lines()
        .find(|l| l.starts_with(&format!("user {user} ")))
        .expect("the user's ACL line");
    assert!(
        line.contains(&format!(" ~{} ", names.pattern())) && line.ends_with(" -@all +@read"),
        "{line}"
    );

    // jit connect launches redis-cli with the unrevealed secret.
    let out = d.jit(Some(&alice), &["connect", &id, "--", "GET", &inside]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");

    let (shown, password) = creds(&d, Some(&alice), &id);
    assert_eq!(shown, user);
    assert_eq!(as_user(&user, &password, &["GET", &inside]), "1");
    let set = as_user(&user, &password, &["SET", &inside, "x"]);
    assert!(set.contains("NOPERM"), "read must not write: {set}");
    let other = as_user(&user, &password, &["GET", &outside]);
    assert!(
        other.contains("NOPERM"),
        "a key outside the pattern: {other}"
    );
    let ping = as_user(&user, &password, &["PING"]);
    assert!(
        ping.contains("NOPERM"),
        "commands outside the permission: {ping}"
    );
    assert!(auth_ok(&user, &password));
    assert!(
        !auth_ok(&user, "not-the-password"),
        "the server must check the password"
    );
    assert_eq!(admin(&["GET", &inside]), "1");

    // An open connection, blocked in a read command on its own key, is cut at revoke.
    let stream = format!("{}:stream", names.keys);
    let open = blocked_client(
        &user,
        &password,
        &["XREAD", "BLOCK", "0", "STREAMS", &stream, "$"],
    );
    let rev = d.jit(Some(&alice), &["revoke", &id, "--reason", "done"]);
    assert!(rev.status.success(), "{}", both(&rev));
    assert!(
        users_with_prefix(&names.users).is_empty(),
        "the ACL user must be gone once revoke returns"
    );
    assert_disconnected(open);
    assert_eq!(connections_of(&user), 0);
    assert!(!auth_ok(&user, &password), "AUTH must fail after revoke");
    assert_eq!(d.jit_json(None, &["show", &id])["status"], "revoked");

    assert!(
        !d.log_text().contains(&password),
        "secret in the daemon log"
    );
    let audit = both(&d.jit(None, &["--json", "audit"]));
    assert!(!audit.contains(&password), "secret in the audit log");
}

#[test]
fn write_and_command_sets_work_until_expiry_which_cuts_the_open_connection() {
    let names = Names::new();
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&names, &dev));
    let key = format!("{}:w", names.keys);
    let outside = format!("{}x:w", names.keys);
    admin(&["SET", &outside, "keep"]);

    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "cache/keys",
            &names.pattern(),
            "--perm",
            "write,ops",
            "--for",
            "4s",
            "--reason",
            "INC-2",
        ],
    );
    assert_eq!(r["status"], "granted", "{r}");
    let id = r["id"].as_u64().expect("id").to_string();
    let (user, password) = creds(&d, Some(&alice), &id);
    assert_eq!(as_user(&user, &password, &["SET", &key, "v"]), "OK");
    assert_eq!(as_user(&user, &password, &["GET", &key]), "v");
    assert_eq!(
        as_user(&user, &password, &["PING"]),
        "PONG",
        "the ops command set"
    );
    assert_eq!(as_user(&user, &password, &["ECHO", "hi"]), "hi");
    let other = as_user(&user, &password, &["SET", &outside, "x"]);
    assert!(other.contains("NOPERM"), "{other}");
    let flush = as_user(&user, &password, &["FLUSHALL"]);
    assert!(
        flush.contains("NOPERM"),
        "write must not erase every key: {flush}"
    );
    assert_eq!(admin(&["GET", &outside]), "keep");

    let list = format!("{}:list", names.keys);
    let open = blocked_client(&user, &password, &["BLPOP", &list, "0"]);
    wait_until(Duration::from_secs(15), "the grant to expire", || {
        (d.jit_json(None, &["show", &id])["status"] == "expired").then_some(())
    });
    assert!(
        users_with_prefix(&names.users).is_empty(),
        "expired: the user must be gone"
    );
    assert_disconnected(open);
    assert!(!auth_ok(&user, &password), "AUTH must fail after expiry");
}

#[test]
fn kill_9_during_grant_and_during_revoke_leaves_nothing_behind() {
    let names = Names::new();
    let dev = Group::create("dev");
    let mut d = Daemon::start(&config(&names, &dev));
    let key = format!("{}:k", names.keys);
    admin(&["SET", &key, "1"]);

    // kill -9 right after the request is created (auto-approved: it is being granted).
    let r = d
        .call::<RequestCreate>(&CreateParams {
            integration: "cache".into(),
            resource_type: "keys".into(),
            resources: vec![names.pattern()],
            permissions: vec!["read".into()],
            justification: Some("crash during grant".into()),
            ..CreateParams::default()
        })
        .expect("create");
    d.kill9();
    let user = r.sessions[0].principal.clone().expect("principal");
    let during = users_with_prefix(&names.users);
    assert!(
        during.is_empty() || during == [user.clone()],
        "made or not, never anything else: {during:?}"
    );
    d.restart();
    wait_until(
        Duration::from_secs(10),
        "the interrupted grant to finish",
        || (status(&d, r.id) == Status::Granted).then_some(()),
    );
    assert_eq!(
        users_with_prefix(&names.users),
        vec![user.clone()],
        "one user, made once"
    );
    let (_, password) = creds(&d, None, &r.id.to_string());
    assert_eq!(as_user(&user, &password, &["GET", &key]), "1");

    // kill -9 right after the revoke is sent, with a connection open.
    let stream = format!("{}:stream", names.keys);
    let open = blocked_client(
        &user,
        &password,
        &["XREAD", "BLOCK", "0", "STREAMS", &stream, "$"],
    );
    let mut c = d.connect();
    let _ = c.call::<GrantRevoke>(&DecideParams {
        id: r.id,
        reason: Some("crash during revoke".into()),
    });
    d.kill9();
    d.restart();
    wait_until(
        Duration::from_secs(10),
        "the interrupted revoke to finish",
        || (status(&d, r.id) == Status::Revoked).then_some(()),
    );
    assert!(
        users_with_prefix(&names.users).is_empty(),
        "nothing left behind"
    );
    assert_disconnected(open);
    assert!(!auth_ok(&user, &password));
}

#[test]
fn orphans_are_removed_at_start_and_users_jit_did_not_make_are_left_alone() {
    let names = Names::new();
    let dev = Group::create("dev");
    let mut d = Daemon::start(&config(&names, &dev));
    // A store restored from a backup taken before a grant: the grant's user is an orphan.
    d.stop();
    let backup = d.dir().join("backup");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&d.state)
        .arg(&backup)
        .status()
        .expect("cp");
    assert!(cp.success());
    d.restart();
    // `jit request` exits non-zero for a failed request; its JSON says why.
    let request = |reason: &str| -> Value {
        let out = d.jit(
            None,
            &[
                "--json",
                "request",
                "cache/keys",
                &names.pattern(),
                "--perm",
                "read",
                "--reason",
                reason,
            ],
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("no JSON ({e}): {}", both(&out)))
    };
    let r = request("orphan");
    assert_eq!(r["status"], "granted", "{r}");
    let orphan = principal(&r);

    // Users with jit's prefix that jit did not make: one with any name, and one with the
    // very name jit's next grant would use. The grant refuses to take the second over.
    let foreign = format!("{}someone_else", names.users);
    let next = orphan.replacen("_1_", "_2_", 1);
    for u in [&foreign, &next] {
        admin(&["ACL", "SETUSER", u, "on", ">their-password", "~*", "+get"]);
    }
    let refused = request("taken");
    assert_eq!(principal(&refused), next, "{refused}");
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(
        refused["error"]
            .to_string()
            .contains("not made by this jitd"),
        "{refused}"
    );

    d.kill9();
    std::fs::remove_dir_all(&d.state).expect("rm state");
    std::fs::rename(&backup, &d.state).expect("restore backup");
    d.restart();
    wait_until(
        Duration::from_secs(5),
        "the orphan user to be removed",
        || (!users_with_prefix(&names.users).contains(&orphan)).then_some(()),
    );
    let mut left = vec![foreign.clone(), next.clone()];
    left.sort();
    assert_eq!(
        users_with_prefix(&names.users),
        left,
        "users jit did not make stay"
    );
    assert!(auth_ok(&foreign, "their-password"));
    let audit = both(&d.jit(None, &["--json", "audit"]));
    assert!(
        audit.contains("orphan.removed") && audit.contains(&orphan),
        "{audit}"
    );
}

#[test]
fn a_reset_changes_the_password_and_an_admins_reset_also_cuts_open_connections() {
    let names = Names::new();
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&names, &dev));
    let key = format!("{}:r", names.keys);
    admin(&["SET", &key, "1"]);
    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "cache/keys",
            &names.pattern(),
            "--perm",
            "read",
            "--reason",
            "INC-3",
        ],
    );
    let id = r["id"].as_u64().expect("id").to_string();
    let (user, old) = creds(&d, Some(&alice), &id);
    let stream = format!("{}:stream", names.keys);
    let open = blocked_client(
        &user,
        &old,
        &["XREAD", "BLOCK", "0", "STREAMS", &stream, "$"],
    );

    // The requester's reset: the old password stops working, open connections stay.
    let reset = d.jit(Some(&alice), &["reset", &id, "--yes"]);
    assert!(reset.status.success(), "{}", both(&reset));
    assert!(!auth_ok(&user, &old), "the old password must stop working");
    assert_eq!(
        connections_of(&user),
        1,
        "a requester's reset leaves sessions open"
    );
    let out = d.jit(Some(&alice), &["connect", &id, "--", "GET", &key]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1",
        "{}",
        both(&out)
    );

    // An admin's reset (a leak) also ends the sessions opened with the old password.
    let forced = d.jit(None, &["reset", &id, "--yes", "--reason", "leaked"]);
    assert!(forced.status.success(), "{}", both(&forced));
    assert_disconnected(open);
    let out = d.jit(Some(&alice), &["connect", &id, "--", "GET", &key]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1",
        "{}",
        both(&out)
    );

    // The user still carries jit's mark: revoke deletes it.
    let rev = d.jit(Some(&alice), &["revoke", &id]);
    assert!(rev.status.success(), "{}", both(&rev));
    assert!(users_with_prefix(&names.users).is_empty());
}

#[test]
fn an_admin_user_without_acl_rights_is_reported_and_grants_fail_cleanly() {
    let names = Names::new();
    let dev = Group::create("dev");
    // An admin connection that may read keys but not administer ACLs.
    let weak = format!("{}weak_admin", names.users);
    let weak_password = format!("pw-{}", jit_tests::unique());
    admin(&[
        "ACL",
        "SETUSER",
        &weak,
        "on",
        &format!(">{weak_password}"),
        "~*",
        "+@read",
        "+acl|whoami",
        "+acl|dryrun",
    ]);
    let cfg = config(&names, &dev).replace(
        &format!("redis://{HOST}:{PORT}"),
        &format!("redis://{weak}:{weak_password}@{HOST}:{PORT}"),
    );
    let d = Daemon::start(&cfg);
    wait_until(Duration::from_secs(5), "the preflight warning", || {
        d.log_text()
            .contains("may not run ACL SETUSER")
            .then_some(())
    });
    let out = d.jit(
        None,
        &[
            "--json",
            "request",
            "cache/keys",
            &names.pattern(),
            "--perm",
            "read",
            "--reason",
            "x",
        ],
    );
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", both(&out)));
    assert_eq!(r["status"], "failed", "{r}");
    let error = r["error"].as_str().expect("error");
    assert!(
        error.contains("NOPERM") && error.contains("+acl"),
        "says what to fix: {error}"
    );
    assert_eq!(
        users_with_prefix(&names.users),
        vec![weak.clone()],
        "nothing made"
    );
    assert!(
        !d.log_text().contains(&weak_password),
        "admin password in the log"
    );
    assert!(!error.contains(&weak_password));
}

#[test]
fn patterns_with_different_permissions_keep_them_apart() {
    // A bundle with two entries on one integration: one user, one selector per entry.
    let names = Names::new();
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&names, &dev));
    let (read_key, write_key) = (format!("{}:r", names.keys), format!("{}:w", names.keys));
    admin(&["SET", &read_key, "r"]);
    let r = d.jit_json(
        Some(&alice),
        &["request", "--bundle", "mixed", "--reason", "INC-4"],
    );
    assert_eq!(r["status"], "granted", "{r}");
    assert_eq!(r["sessions"].as_array().expect("sessions").len(), 1, "{r}");
    let id = r["id"].as_u64().expect("id").to_string();
    let (user, password) = creds(&d, Some(&alice), &id);
    assert_eq!(as_user(&user, &password, &["GET", &read_key]), "r");
    let refused = as_user(&user, &password, &["SET", &read_key, "x"]);
    assert!(refused.contains("NOPERM"), "read stays read: {refused}");
    assert_eq!(as_user(&user, &password, &["SET", &write_key, "w"]), "OK");
    assert_eq!(as_user(&user, &password, &["GET", &write_key]), "w");
    let across = as_user(&user, &password, &["MGET", &read_key, &write_key]);
    assert!(
        across.contains("NOPERM"),
        "one command, one selector: {across}"
    );
    let rev = d.jit(Some(&alice), &["revoke", &id]);
    assert!(rev.status.success(), "{}", both(&rev));
    assert!(users_with_prefix(&names.users).is_empty());
}
