//! The `sudo` kind against the real sudo: a grant installs a drop-in in `/etc/sudoers.d` and
//! `sudo -n` runs exactly the granted command as a created user; revoke and expiry remove it,
//! end the command still running and the user's timestamp; `NOTAFTER` stops it while jitd is
//! down; a rule `visudo` rejects never lands; kill -9 during a grant and during a revoke;
//! orphans removed at start, files jit did not write left alone.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use jit_api::Status;
use jit_api::methods::{IdParams, RequestGet};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin, wait_until};
use serde_json::Value;

/// The real drop-in directory: sudo reads it (`@includedir /etc/sudoers.d`).
const SUDOERS_D: &str = "/etc/sudoers.d";

/// A user for the test, and the removal of any drop-in named after them when the test ends
/// (even when it fails).
struct Requester {
    user: User,
}

impl Requester {
    fn new(dev: &Group) -> Requester {
        let main = std::fs::read_to_string("/etc/sudoers")
            .expect("read /etc/sudoers: install sudo (scripts/test does)");
        assert!(
            main.lines().any(|l| matches!(
                l.trim(),
                "@includedir /etc/sudoers.d" | "#includedir /etc/sudoers.d"
            )),
            "/etc/sudoers must read /etc/sudoers.d (`@includedir /etc/sudoers.d`, Debian's default)"
        );
        Requester {
            user: User::create("s", &[dev]),
        }
    }

    /// The files in /etc/sudoers.d named after this user (jit's and temp files).
    fn drop_ins(&self) -> Vec<String> {
        let needle = format!("jit-{}-", self.user.name);
        let mut v: Vec<String> = std::fs::read_dir(SUDOERS_D)
            .expect("ls /etc/sudoers.d")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.contains(&needle))
            .collect();
        v.sort();
        v
    }
}

impl Drop for Requester {
    fn drop(&mut self) {
        for f in self.drop_ins() {
            let _ = std::fs::remove_file(Path::new(SUDOERS_D).join(f));
        }
    }
}

fn config(dev: &Group, nap: u32) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "ops"
kind = "sudo"
[integrations.commands]
whoami = "/usr/bin/id -u"
nap = "/usr/bin/sleep {nap}"
bad = "/usr/bin/id ^"

[[flows]]
name = "ops"
requesters = ["%{dev}"]
integration = "ops"
max_duration = "1h"
"#,
        dev = dev.name,
    )
}

/// A sleep length unique enough to find this test's command among the host's processes.
fn nap_secs() -> u32 {
    600 + u32::from(jit_tests::unique().as_bytes()[0]) * 7 + std::process::id() % 97
}

/// `sudo -n ARGS` as `user`, never prompting.
fn sudo_n(user: &User, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", &user.name, "--", "sudo", "-n"])
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .expect("runuser sudo")
}

fn request(d: &Daemon, user: &User, commands: &[&str], more: &[&str]) -> Value {
    let mut args = vec!["--json", "request", "ops/command"];
    args.extend_from_slice(commands);
    args.extend(["--perm", "run", "--reason", "sudo test"]);
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

/// The pid of a running `sleep SECS` whose real uid is root (started by sudo).
fn running_nap(secs: u32) -> Option<u32> {
    let want = format!("/usr/bin/sleep\0{secs}\0");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want.as_bytes())
        })
}

#[test]
fn a_command_runs_with_sudo_during_the_grant_and_is_refused_after() {
    let dev = Group::create("dev");
    let alice = Requester::new(&dev);
    let nap = nap_secs();
    let d = Daemon::start(&config(&dev, nap));
    let refused = sudo_n(&alice.user, &["/usr/bin/id", "-u"]);
    assert!(!refused.status.success(), "no sudo before the grant");

    let r = request(&d, &alice.user, &["whoami", "nap"], &[]);
    assert_eq!(r["status"], "granted", "{r}");
    assert_eq!(r["sessions"][0]["credentials"], "none", "{r}");
    let principal = r["sessions"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned();
    assert_eq!(alice.drop_ins(), vec![principal.clone()]);
    let file = PathBuf::from(SUDOERS_D).join(&principal);
    let meta = std::fs::metadata(&file).expect("drop-in");
    assert_eq!(meta.mode() & 0o7777, 0o440);
    assert_eq!(meta.uid(), 0);
    let text = std::fs::read_to_string(&file).expect("read drop-in");
    assert!(text.starts_with("# managed by jitd "), "{text}");
    assert!(
        text.contains(&format!("{} ALL=(root) NOTAFTER=", alice.user.name))
            && text.contains("NOPASSWD: /usr/bin/id -u\n"),
        "{text}"
    );

    // The real sudo, as the user: exactly the granted command line.
    let ok = sudo_n(&alice.user, &["/usr/bin/id", "-u"]);
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "0");
    let other = sudo_n(&alice.user, &["/usr/bin/id", "-g"]);
    assert!(!other.status.success(), "other arguments are refused");

    // jit connect runs the first command through sudo -n.
    let out = d.jit(Some(&alice.user), &["connect", &id_of(&r)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");

    // A command still running at revoke is ended; the user's sudo timestamp goes too.
    let mut running = Command::new("runuser")
        .args(["-u", &alice.user.name, "--", "sudo", "-n", "/usr/bin/sleep"])
        .arg(nap.to_string())
        .current_dir("/")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sudo sleep");
    wait_until(
        Duration::from_secs(10),
        "the granted command to run",
        || running_nap(nap),
    );
    let ts_dir = Path::new("/run/sudo/ts");
    std::fs::create_dir_all(ts_dir).expect("mkdir ts");
    let ts = ts_dir.join(&alice.user.name);
    std::fs::write(&ts, b"timestamp").expect("write timestamp");
    std::fs::set_permissions(&ts, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let out = d.jit_json(Some(&alice.user), &["revoke", &id_of(&r)]);
    assert_eq!(out["status"], "revoked", "{out}");
    assert!(alice.drop_ins().is_empty(), "{:?}", alice.drop_ins());
    assert!(!ts.exists(), "the sudo timestamp was removed");
    let after = sudo_n(&alice.user, &["/usr/bin/id", "-u"]);
    assert!(!after.status.success(), "refused after revoke: {after:?}");
    assert!(running_nap(nap).is_none(), "the running command was ended");
    wait_until(Duration::from_secs(5), "sudo to exit", || {
        running.try_wait().ok().flatten()
    });
    // sudo itself still works for others.
    let root = Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .status()
        .expect("sudo");
    assert!(root.success());
}

#[test]
fn expiry_removes_the_rule_and_notafter_stops_it_while_jitd_is_down() {
    let dev = Group::create("dev");
    let alice = Requester::new(&dev);
    let mut d = Daemon::start(&config(&dev, nap_secs()));
    let r = request(&d, &alice.user, &["whoami"], &["--for", "3s"]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = r["id"].as_u64().expect("id");
    assert!(sudo_n(&alice.user, &["/usr/bin/id", "-u"]).status.success());

    // jitd is down at the deadline: the drop-in is still there, but sudo's own clock
    // (NOTAFTER) refuses the command.
    d.kill9();
    wait_until(
        Duration::from_secs(10),
        "sudo to refuse at the grant's end",
        || (!sudo_n(&alice.user, &["/usr/bin/id", "-u"]).status.success()).then_some(()),
    );
    assert_eq!(alice.drop_ins().len(), 1, "jitd is down: the file stays");

    d.restart();
    wait_status(&d, id, Status::Expired);
    assert!(alice.drop_ins().is_empty(), "{:?}", alice.drop_ins());
}

#[test]
fn a_rule_visudo_rejects_never_lands() {
    let dev = Group::create("dev");
    let alice = Requester::new(&dev);
    let d = Daemon::start(&config(&dev, nap_secs()));
    // `/usr/bin/id ^` passes the config's checks, but sudoers reads `^` as the start of a
    // regular expression that never ends.
    let r = request(&d, &alice.user, &["whoami", "bad"], &[]);
    assert_eq!(r["status"], "failed", "{r}");
    let err = r["error"].as_str().expect("error");
    assert!(
        err.contains("visudo rejected") && err.contains("unterminated regular expression"),
        "{err}"
    );
    assert!(
        alice.drop_ins().is_empty(),
        "neither the drop-in nor its temp file is left: {:?}",
        alice.drop_ins()
    );
    assert!(!sudo_n(&alice.user, &["/usr/bin/id", "-u"]).status.success());
    let root = Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .status()
        .expect("sudo");
    assert!(root.success(), "sudo is not broken");
}

#[test]
fn kill_9_during_grant_and_during_revoke_leaves_nothing_behind() {
    let dev = Group::create("dev");
    let alice = Requester::new(&dev);
    let mut d = Daemon::start(&config(&dev, nap_secs()));

    // kill -9 right after the request is created (auto-approved: it is being granted).
    let mut cli = jit_spawn(
        &d,
        &alice.user,
        &[
            "request",
            "ops/command",
            "whoami",
            "--perm",
            "run",
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
    assert!(
        alice.drop_ins().len() <= 1,
        "one drop-in or none: {:?}",
        alice.drop_ins()
    );
    d.restart();
    wait_status(&d, id, Status::Granted);
    let principal = d
        .call::<RequestGet>(&IdParams { id })
        .expect("get")
        .sessions[0]
        .principal
        .clone()
        .expect("principal");
    assert_eq!(alice.drop_ins(), vec![principal], "made once");
    assert!(sudo_n(&alice.user, &["/usr/bin/id", "-u"]).status.success());

    // kill -9 right after the revoke is sent.
    let mut cli = jit_spawn(&d, &alice.user, &["revoke", &id.to_string()]);
    wait_until(Duration::from_secs(10), "the revoke to be recorded", || {
        (status(&d, id) != Status::Granted).then_some(())
    });
    d.kill9();
    let _ = cli.wait();
    d.restart();
    wait_status(&d, id, Status::Revoked);
    assert!(alice.drop_ins().is_empty(), "{:?}", alice.drop_ins());
    assert!(!sudo_n(&alice.user, &["/usr/bin/id", "-u"]).status.success());
}

#[test]
fn a_drop_in_no_request_owns_is_removed_at_start_and_others_are_left_alone() {
    let dev = Group::create("dev");
    let alice = Requester::new(&dev);
    // A file with jit's naming that jit did not write (no header of this jitd).
    let stranger = format!("jit-{}-999-zzzz", alice.user.name);
    let stranger_path = Path::new(SUDOERS_D).join(&stranger);
    std::fs::write(&stranger_path, "# written by an admin\n").expect("write stranger");
    std::fs::set_permissions(&stranger_path, std::fs::Permissions::from_mode(0o440))
        .expect("chmod");

    // A store restored from a backup taken before a grant: the drop-in is an orphan.
    let mut d = Daemon::start(&config(&dev, nap_secs()));
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
    let r = request(&d, &alice.user, &["whoami"], &[]);
    assert_eq!(r["status"], "granted", "{r}");
    let principal = r["sessions"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned();
    d.kill9();
    std::fs::remove_dir_all(&d.state).expect("rm state");
    std::fs::rename(&backup, &d.state).expect("restore backup");
    d.restart();
    wait_until(
        Duration::from_secs(10),
        "the orphan drop-in to be removed",
        || (alice.drop_ins() == [stranger.clone()]).then_some(()),
    );
    assert!(!sudo_n(&alice.user, &["/usr/bin/id", "-u"]).status.success());
    wait_until(Duration::from_secs(10), "the audit entry", || {
        let audit = String::from_utf8_lossy(&d.jit(None, &["--json", "audit"]).stdout).into_owned();
        (audit.contains("orphan.removed") && audit.contains(&principal)).then_some(())
    });
    assert!(stranger_path.exists(), "a file jit did not write stays");
}
