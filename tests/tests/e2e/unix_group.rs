//! The `unix-group` kind against the real `/etc/group`: a grant makes the requester a member
//! (`id -nG`, and a new login reads a group-only file), revoke and expiry take it away;
//! overlapping grants of one group count; a membership jit did not make is never removed;
//! kill -9 during a grant and during a revoke; orphans found through the ledger; a listed
//! group that does not exist stops jitd at start.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jit_api::Status;
use jit_api::methods::{IdParams, RequestGet};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin, wait_until};
use serde_json::Value;

/// Where jitd keeps the ledgers of memberships it made (system mode's state directory).
const LEDGER_DIR: &str = "/var/lib/jit/unix-group";

fn config(dev: &Group, groups: &[&Group]) -> String {
    let list: Vec<String> = groups.iter().map(|g| format!("\"{}\"", g.name)).collect();
    format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "groups"
kind = "unix-group"
groups = [{list}]

[[flows]]
name = "membership"
requesters = ["%{dev}"]
integration = "groups"
max_duration = "1h"
"#,
        list = list.join(", "),
        dev = dev.name,
    )
}

/// `id -nG USER`: the groups a new login of the user gets.
fn groups_of(user: &User) -> Vec<String> {
    let out = Command::new("id")
        .args(["-nG", &user.name])
        .output()
        .expect("id");
    assert!(out.status.success(), "id -nG {} failed", user.name);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn member(user: &User, group: &Group) -> bool {
    groups_of(user).contains(&group.name)
}

/// A file only members of `group` can read, in a temp dir.
fn group_file(group: &Group) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("jit-ug-")
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let file = dir.path().join("secret.txt");
    std::fs::write(&file, "members only\n").expect("write");
    let gid = nix::unistd::Group::from_name(&group.name)
        .expect("getgrnam")
        .expect("group")
        .gid;
    nix::unistd::chown(&file, None, Some(gid)).expect("chown");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    (dir, file)
}

/// A new login of `user` (runuser sets the groups from /etc/group) reads `file`.
fn can_read(user: &User, file: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", &user.name, "--", "cat"])
        .arg(file)
        .current_dir("/")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runuser")
        .success()
}

/// `jit --json request groups/group GROUPS… --perm member` as `user`.
fn request(d: &Daemon, user: &User, groups: &[&Group], more: &[&str]) -> Value {
    let mut args = vec!["--json", "request", "groups/group"];
    args.extend(groups.iter().map(|g| g.name.as_str()));
    args.extend(["--perm", "member", "--reason", "unix-group test"]);
    args.extend_from_slice(more);
    let out = d.jit(Some(user), &args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "jit {args:?} printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn id_of(r: &Value) -> String {
    r["id"].as_u64().expect("id").to_string()
}

fn status(d: &Daemon, id: u64) -> Status {
    d.call::<RequestGet>(&IdParams { id }).expect("get").status
}

fn wait_status(d: &Daemon, id: u64, want: Status) {
    wait_until(
        Duration::from_secs(15),
        &format!("request {id} to be {want:?}"),
        || (status(d, id) == want).then_some(()),
    );
}

/// The ledger lines that name `user`, in every ledger.
fn ledger_lines(user: &User) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(LEDGER_DIR) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|t| {
            t.lines()
                .filter(|l| l.split_whitespace().nth(2) == Some(user.name.as_str()))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `jit ARGS` as `user`, in the background.
fn jit_spawn(d: &Daemon, user: &User, args: &[&str]) -> Child {
    Command::new(bin("jit"))
        .args(args)
        .env("JIT_SOCKET", &d.socket)
        .env("NO_COLOR", "1")
        .env("HOME", "/")
        .current_dir("/")
        .uid(user.uid)
        .gid(user.gid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn jit")
}

#[test]
fn membership_lasts_as_long_as_the_grant() {
    let dev = Group::create("dev");
    let deploy = Group::create("dep");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&dev, &[&deploy]));
    let (_dir, file) = group_file(&deploy);
    assert!(!member(&alice, &deploy));
    assert!(!can_read(&alice, &file), "no access before the grant");

    let r = request(&d, &alice, &[&deploy], &[]);
    assert_eq!(r["status"], "granted", "{r}");
    assert_eq!(r["sessions"][0]["credentials"], "none", "{r}");
    let principal = r["sessions"][0]["principal"].as_str().expect("principal");
    assert_eq!(principal, format!("{}#{}", alice.name, id_of(&r)));
    assert!(member(&alice, &deploy), "id -nG shows the group");
    assert!(
        can_read(&alice, &file),
        "a new login has the group's access"
    );
    assert_eq!(ledger_lines(&alice).len(), 1, "{:?}", ledger_lines(&alice));

    // A process started during the grant carries the group; revoke cannot take a
    // supplementary group from a running process (kernel semantics), and says so in the log.
    // (setpriv sets the groups from /etc/group, as a login does, and execs: one process.)
    let mut holder = Command::new("setpriv")
        .args(["--reuid", &alice.name, "--regid", &alice.gid.to_string()])
        .args(["--init-groups", "sleep", "600"])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn holder");
    wait_until(
        Duration::from_secs(5),
        "the holder to carry the group",
        || {
            let status = std::fs::read_to_string(format!("/proc/{}/status", holder.id())).ok()?;
            let gid = nix::unistd::Group::from_name(&deploy.name).ok()??.gid;
            status
                .lines()
                .any(|l| {
                    l.starts_with("Groups:") && l.split_whitespace().any(|g| g == gid.to_string())
                })
                .then_some(())
        },
    );

    let out = d.jit_json(Some(&alice), &["revoke", &id_of(&r)]);
    assert_eq!(out["status"], "revoked", "{out}");
    assert!(!member(&alice, &deploy), "id -nG no longer shows it");
    assert!(!can_read(&alice, &file), "a new login is refused");
    assert!(ledger_lines(&alice).is_empty());
    let log = d.log_text();
    assert!(
        log.contains("keep the group until they exit"),
        "the surviving process is reported: {log}"
    );
    let _ = holder.kill();
    let _ = holder.wait();

    // Expiry takes it away the same way.
    let r = request(&d, &alice, &[&deploy], &["--for", "2s"]);
    assert_eq!(r["status"], "granted", "{r}");
    assert!(can_read(&alice, &file));
    let id = r["id"].as_u64().expect("id");
    wait_status(&d, id, Status::Expired);
    assert!(!member(&alice, &deploy));
    assert!(!can_read(&alice, &file));
    assert!(ledger_lines(&alice).is_empty());
}

#[test]
fn overlapping_grants_keep_the_membership_until_the_last_one_ends() {
    let dev = Group::create("dev");
    let deploy = Group::create("dep");
    let ops = Group::create("ops");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&dev, &[&deploy, &ops]));

    let one = request(&d, &alice, &[&deploy], &[]);
    let two = request(&d, &alice, &[&deploy, &ops], &[]);
    assert_eq!(one["status"], "granted", "{one}");
    assert_eq!(two["status"], "granted", "{two}");
    assert!(member(&alice, &deploy) && member(&alice, &ops));

    // Ending the second keeps deploy (the first still holds it) and removes ops.
    d.jit_json(Some(&alice), &["revoke", &id_of(&two)]);
    assert!(
        member(&alice, &deploy),
        "the first grant still holds deploy"
    );
    assert!(!member(&alice, &ops), "only the second held ops");

    d.jit_json(Some(&alice), &["revoke", &id_of(&one)]);
    assert!(!member(&alice, &deploy), "the last grant is gone");
    assert!(ledger_lines(&alice).is_empty());

    // The other order: the first ends before the second.
    let one = request(&d, &alice, &[&deploy], &[]);
    let two = request(&d, &alice, &[&deploy], &[]);
    d.jit_json(Some(&alice), &["revoke", &id_of(&one)]);
    assert!(member(&alice, &deploy));
    d.jit_json(Some(&alice), &["revoke", &id_of(&two)]);
    assert!(!member(&alice, &deploy));
}

#[test]
fn a_membership_jit_did_not_make_is_never_removed() {
    let dev = Group::create("dev");
    let deploy = Group::create("dep");
    // bob is in deploy already (his admin put him there).
    let bob = User::create("b", &[&dev, &deploy]);
    let d = Daemon::start(&config(&dev, &[&deploy]));
    assert!(member(&bob, &deploy));

    let one = request(&d, &bob, &[&deploy], &[]);
    let two = request(&d, &bob, &[&deploy], &[]);
    assert_eq!(one["status"], "granted", "{one}");
    d.jit_json(Some(&bob), &["revoke", &id_of(&one)]);
    d.jit_json(Some(&bob), &["revoke", &id_of(&two)]);
    assert!(member(&bob, &deploy), "bob's own membership stays");
    assert!(ledger_lines(&bob).is_empty());
}

#[test]
fn kill_9_during_grant_and_during_revoke_leaves_nothing_behind() {
    let dev = Group::create("dev");
    let deploy = Group::create("dep");
    let alice = User::create("a", &[&dev]);
    let mut d = Daemon::start(&config(&dev, &[&deploy]));

    // kill -9 right after the request is created (auto-approved: it is being granted).
    let mut cli = jit_spawn(
        &d,
        &alice,
        &[
            "request",
            "groups/group",
            &deploy.name,
            "--perm",
            "member",
            "--reason",
            "crash during grant",
        ],
    );
    let id = wait_until(Duration::from_secs(10), "the request to exist", || {
        let all = d.jit_json(None, &["ls", "--all"]);
        all.as_array()?.first()?["id"].as_u64()
    });
    d.kill9();
    let _ = cli.wait();
    let lines = ledger_lines(&alice);
    assert!(
        lines.len() <= 1,
        "recorded once or not yet, never anything else: {lines:?}"
    );
    assert!(
        lines.len() == 1 || !member(&alice, &deploy),
        "a membership is never made before it is recorded"
    );
    d.restart();
    wait_status(&d, id, Status::Granted);
    assert!(member(&alice, &deploy), "the grant was finished at start");
    assert_eq!(ledger_lines(&alice).len(), 1);

    // kill -9 right after the revoke is sent.
    let mut cli = jit_spawn(&d, &alice, &["revoke", &id.to_string()]);
    wait_until(Duration::from_secs(10), "the revoke to be recorded", || {
        (status(&d, id) != Status::Granted).then_some(())
    });
    d.kill9();
    let _ = cli.wait();
    d.restart();
    wait_status(&d, id, Status::Revoked);
    assert!(
        !member(&alice, &deploy),
        "nothing left behind in /etc/group"
    );
    assert!(ledger_lines(&alice).is_empty());
}

#[test]
fn a_membership_no_request_owns_is_removed_at_start() {
    // A store restored from a backup taken before a grant: the membership is an orphan.
    let dev = Group::create("dev");
    let deploy = Group::create("dep");
    let other = Group::create("oth");
    let alice = User::create("a", &[&dev]);
    let mut d = Daemon::start(&config(&dev, &[&deploy, &other]));
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
    let r = request(&d, &alice, &[&deploy], &[]);
    assert_eq!(r["status"], "granted", "{r}");
    let principal = r["sessions"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned();
    assert!(member(&alice, &deploy));
    // A membership an admin gave by hand, in a group jit may grant: not jit's to remove.
    let out = Command::new("gpasswd")
        .args(["-a", &alice.name, &other.name])
        .output()
        .expect("gpasswd");
    assert!(out.status.success());
    d.kill9();
    std::fs::remove_dir_all(&d.state).expect("rm state");
    std::fs::rename(&backup, &d.state).expect("restore backup");
    d.restart();
    wait_until(
        Duration::from_secs(10),
        "the orphan membership to be removed",
        || (!member(&alice, &deploy) && ledger_lines(&alice).is_empty()).then_some(()),
    );
    assert!(member(&alice, &other), "the admin's membership stays");
    // The removal is recorded once it is done.
    wait_until(Duration::from_secs(10), "the audit entry", || {
        let audit = String::from_utf8_lossy(&d.jit(None, &["--json", "audit"]).stdout).into_owned();
        (audit.contains("orphan.removed") && audit.contains(&principal)).then_some(())
    });
}

#[test]
fn a_listed_group_that_does_not_exist_stops_jitd_at_start() {
    let dev = Group::create("dev");
    let dir = tempfile::Builder::new()
        .prefix("jit-ug-")
        .tempdir()
        .expect("temp dir");
    let config = dir.path().join("jit.toml");
    let missing = format!("jtmissing{}", jit_tests::unique());
    std::fs::write(
        &config,
        format!(
            r#"
[[integrations]]
name = "groups"
kind = "unix-group"
groups = ["{missing}"]

[[flows]]
name = "membership"
requesters = ["%{dev}"]
integration = "groups"
max_duration = "1h"
"#,
            dev = dev.name
        ),
    )
    .expect("write config");
    // The config itself is valid: the host is checked when jitd starts.
    let check = Command::new(bin("jitd"))
        .arg("--check-config")
        .arg(&config)
        .output()
        .expect("jitd --check-config");
    assert!(check.status.success(), "{check:?}");
    let mut child = Command::new(bin("jitd"))
        .arg("--system")
        .arg("--config")
        .arg(&config)
        .arg("--socket")
        .arg(dir.path().join("jitd.sock"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jitd");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("jitd started although a listed group does not exist");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert!(!status.success(), "jitd must not start: {err}");
    assert!(
        err.contains(&missing) && err.contains("do not exist in /etc/group"),
        "{err}"
    );
}
