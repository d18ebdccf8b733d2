//! The `exec` kind: the shipped example (`config/examples/exec-setfacl.py`) gives a real Unix
//! user ACL access to real files, which ends at revoke or expiry together with the processes
//! that hold the files open; the JSON contract (input, environment, standard error in the
//! error, the timeout); kill -9 during a grant and during a revoke; orphans found with `list`.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin, wait_until};
use serde_json::Value;

/// The shipped example script.
fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config/examples/exec-setfacl.py")
        .canonicalize()
        .expect("config/examples/exec-setfacl.py")
}

/// A share (a directory of files only root can read), the script's state directory, a user
/// in `dev`, and a jitd whose `shares` integration runs `command` on them.
struct Share {
    _dev: Group,
    alice: User,
    tmp: tempfile::TempDir,
    root: PathBuf,
    state: PathBuf,
    d: Daemon,
}

impl Share {
    fn start(command: Option<&Path>) -> Share {
        let dev = Group::create("dev");
        let alice = User::create("a", &[&dev]);
        let tmp = tempfile::Builder::new()
            .prefix("jit-exec-")
            .tempdir()
            .expect("temp dir");
        chmod(tmp.path(), 0o755);
        let root = tmp.path().join("share");
        std::fs::create_dir(&root).expect("mkdir share");
        chmod(&root, 0o755);
        let state = tmp.path().join("acl-state");
        let command = command.map_or_else(example, Path::to_path_buf);
        let config = format!(
            r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "shares"
kind = "exec"
command = "{command}"
args = ["--root", "{root}", "--state", "{state}"]
timeout = "20s"
resource_types = {{ path = ["read", "write"] }}

[[flows]]
name = "files"
requesters = ["%{dev}"]
integration = "shares"
max_duration = "1h"
"#,
            command = command.display(),
            root = root.display(),
            state = state.display(),
            dev = dev.name,
        );
        let d = Daemon::start(&config);
        Share {
            _dev: dev,
            alice,
            tmp,
            root,
            state,
            d,
        }
    }

    /// A file in the share, mode 0600, owned by root.
    fn file(&self, name: &str) -> String {
        let p = self.root.join(name);
        std::fs::write(&p, "the contents\n").expect("write file");
        chmod(&p, 0o600);
        p.display().to_string()
    }

    /// `jit --json request shares/path PATH --perm PERM …` as alice.
    fn request(&self, path: &str, perm: &str, more: &[&str]) -> Value {
        let mut args = vec![
            "request",
            "shares/path",
            path,
            "--perm",
            perm,
            "--reason",
            "exec test",
        ];
        args.extend_from_slice(more);
        json_out(&self.d, &self.alice, &args)
    }

    /// The grants the script has on record.
    fn records(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(&self.state) else {
            return Vec::new();
        };
        let mut v: Vec<String> = dir
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".json"))
            .collect();
        v.sort();
        v
    }

    fn status(&self, id: &str) -> String {
        self.d.jit_json(None, &["show", id])["status"]
            .as_str()
            .expect("status")
            .to_owned()
    }

    fn wait_status(&self, id: &str, want: &str) {
        wait_until(
            Duration::from_secs(15),
            &format!("request {id} {want}"),
            || (self.status(id) == want).then_some(()),
        );
    }

    /// `jit ARGS` as alice, in the background.
    fn jit_spawn(&self, args: &[&str]) -> Child {
        Command::new(bin("jit"))
            .args(args)
            .env("JIT_SOCKET", &self.d.socket)
            .env("NO_COLOR", "1")
            .env("HOME", "/")
            .current_dir("/")
            .uid(self.alice.uid)
            .gid(self.alice.gid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn jit")
    }
}

/// `jit --json ARGS` as `user`, parsed; a failed request exits non-zero and still prints it.
fn json_out(d: &Daemon, user: &User, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = d.jit(Some(user), &all);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "jit {args:?} printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn id_of(r: &Value) -> String {
    r["id"].as_u64().expect("id").to_string()
}

/// Runs `sh -c SCRIPT sh ARGS…` as `user` and says whether it succeeded.
fn as_user(user: &User, script: &str, args: &[&str]) -> bool {
    Command::new("runuser")
        .args(["-u", &user.name, "--", "sh", "-c", script, "sh"])
        .args(args)
        .current_dir("/")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runuser")
        .success()
}

fn can_read(user: &User, path: &str) -> bool {
    as_user(user, "cat \"$1\"", &[path])
}

fn can_write(user: &User, path: &str) -> bool {
    as_user(user, "echo more >> \"$1\"", &[path])
}

/// The named-user entries of `path`'s ACL (`user:1001:r--`).
fn acl_users(path: &str) -> Vec<String> {
    let out = Command::new("getfacl")
        .args(["--numeric", "--omit-header", "--absolute-names", path])
        .output()
        .expect("getfacl");
    assert!(out.status.success(), "getfacl {path} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|e| e.starts_with("user:") && !e.starts_with("user::"))
        .map(str::to_owned)
        .collect()
}

/// Whether process `pid` is running (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_owned))
        })
        .is_some_and(|state| state != "Z")
}

fn read_pid(p: &Path) -> u32 {
    std::fs::read_to_string(p)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}

#[test]
fn a_file_acl_lives_as_long_as_the_grant_and_revoke_ends_open_handles() {
    let s = Share::start(None);
    let file = s.file("report.csv");
    assert!(!can_read(&s.alice, &file), "no access before the grant");

    let r = s.request(&file, "read", &[]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = id_of(&r);
    let principal = r["sessions"][0]["principal"].as_str().expect("principal");
    assert!(principal.starts_with("jit_"), "{principal}");
    assert_eq!(r["sessions"][0]["credentials"], "none", "{r}");
    // The script's reply: instructions, no credentials, no way to connect.
    let instructions = r["sessions"][0]["instructions"]
        .as_str()
        .unwrap_or_else(|| panic!("no instructions in {r}"));
    assert!(
        instructions.starts_with(&format!("{} has read on {file} until ", s.alice.name)),
        "{instructions}"
    );
    assert_eq!(r["sessions"][0]["connect"], serde_json::json!([]), "{r}");
    assert!(can_read(&s.alice, &file), "the grant gives read");
    assert!(!can_write(&s.alice, &file), "but not write");
    assert_eq!(acl_users(&file), vec![format!("user:{}:r--", s.alice.uid)]);
    assert_eq!(s.records(), vec![format!("{principal}.json")]);

    // A live session: a process of alice's holding the file open.
    let mut holder = Command::new("runuser")
        .args(["-u", &s.alice.name, "--", "sh", "-c"])
        .arg("exec 3<\"$1\"; exec sleep 600")
        .args(["sh", &file])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn holder");
    wait_until(
        Duration::from_secs(5),
        "alice's process to open the file",
        || {
            let out = Command::new("pgrep")
                .args(["-u", &s.alice.name, "-x", "sleep"])
                .output()
                .ok()?;
            out.status.success().then_some(())
        },
    );

    let out = s.d.jit_json(Some(&s.alice), &["revoke", &id]);
    assert_eq!(out["status"], "revoked", "{out}");
    assert!(!can_read(&s.alice, &file), "no access after revoke");
    assert!(acl_users(&file).is_empty(), "{:?}", acl_users(&file));
    assert!(s.records().is_empty(), "{:?}", s.records());
    wait_until(
        Duration::from_secs(5),
        "the open handle's process to end",
        || holder.try_wait().ok().flatten(),
    );
}

#[test]
fn write_access_to_a_directory_ends_at_expiry() {
    let s = Share::start(None);
    let dir = s.root.join("inbox");
    std::fs::create_dir(&dir).expect("mkdir");
    chmod(&dir, 0o700);
    let dir = dir.display().to_string();
    assert!(!as_user(&s.alice, "touch \"$1/a\"", &[&dir]));

    let r = s.request(&dir, "write", &["--for", "3s"]);
    assert_eq!(r["status"], "granted", "{r}");
    assert!(
        as_user(&s.alice, "touch \"$1/a\" && ls \"$1\"", &[&dir]),
        "write on a directory: create and list files"
    );
    assert_eq!(acl_users(&dir), vec![format!("user:{}:rwx", s.alice.uid)]);

    s.wait_status(&id_of(&r), "expired");
    assert!(!as_user(&s.alice, "touch \"$1/b\"", &[&dir]));
    assert!(!as_user(&s.alice, "ls \"$1\"", &[&dir]));
    assert!(acl_users(&dir).is_empty());
    assert!(s.records().is_empty());
}

#[test]
fn overlapping_grants_of_one_file_do_not_cut_each_other() {
    let s = Share::start(None);
    let file = s.file("shared.txt");
    let one = s.request(&file, "read", &[]);
    let two = s.request(&file, "write", &[]);
    assert_eq!(one["status"], "granted");
    assert_eq!(two["status"], "granted");
    assert!(can_write(&s.alice, &file));

    s.d.jit_json(Some(&s.alice), &["revoke", &id_of(&two)]);
    assert!(
        can_read(&s.alice, &file),
        "the first grant still gives read"
    );
    assert!(!can_write(&s.alice, &file), "write ended with the second");

    s.d.jit_json(Some(&s.alice), &["revoke", &id_of(&one)]);
    assert!(!can_read(&s.alice, &file));
    assert!(acl_users(&file).is_empty());
    assert!(s.records().is_empty());
}

#[test]
fn the_scripts_refusal_reaches_the_user_and_changes_nothing() {
    let s = Share::start(None);
    let r = s.request("/etc/shadow", "read", &[]);
    assert_eq!(r["status"], "failed", "{r}");
    let err = r["error"].as_str().expect("error");
    assert!(
        err.contains("exec-setfacl.py grant failed (exit status 1)")
            && err.contains("/etc/shadow is not inside"),
        "the script's standard error is in the error: {err}"
    );
    assert!(!can_read(&s.alice, "/etc/shadow"));

    // An ACL entry jit did not make is neither taken over nor removed by the rollback.
    let file = s.file("theirs.txt");
    let own = Command::new("setfacl")
        .args(["-m", &format!("u:{}:r", s.alice.name), &file])
        .status()
        .expect("setfacl");
    assert!(own.success());
    let r = s.request(&file, "read", &[]);
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("that jit did not make")),
        "{r}"
    );
    assert_eq!(acl_users(&file), vec![format!("user:{}:r--", s.alice.uid)]);
    assert!(s.records().is_empty());

    // A symbolic link inside the share is refused: its target is not what was approved.
    let link = s.root.join("link");
    std::os::unix::fs::symlink("/etc/shadow", &link).expect("symlink");
    let r = s.request(&link.display().to_string(), "read", &[]);
    assert_eq!(r["status"], "failed", "{r}");
    assert!(acl_users("/etc/shadow").is_empty());
}

/// A command for the contract test: `$1` says how it behaves, `$2` is a directory to write to.
const CONTRACT_SCRIPT: &str = r#"#!/bin/sh
mode="$1"; dir="$2"
case "$JIT_ACTION" in
  list) cat >/dev/null; echo '{"principals": ["jit_x_1_00000000", "postgres"]}'; exit 0;;
  revoke) cat > "$dir/revoke-$mode.json"; echo '{}'; exit 0;;
esac
case "$mode" in
  record) cat > "$dir/grant.json"; env > "$dir/env"; echo '{"ignored": "fields"}';;
  hang) echo $$ > "$dir/pid"; sleep 120 & echo $! > "$dir/child"; wait;;
  garbage) echo 'here you go';;
  fail) printf 'quota exceeded for \033[31mteam\033[0m\n' >&2; exit 3;;
esac
"#;

#[test]
fn the_contract_input_environment_errors_and_timeout() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let tmp = tempfile::Builder::new()
        .prefix("jit-exec-")
        .tempdir()
        .expect("temp dir");
    let script = tmp.path().join("cmd.sh");
    std::fs::write(&script, CONTRACT_SCRIPT).expect("write script");
    chmod(&script, 0o755);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let mut config = String::from("[daemon]\nadmins = [\"root\"]\n");
    for (mode, timeout) in [
        ("record", "20s"),
        ("hang", "1s"),
        ("garbage", "20s"),
        ("fail", "20s"),
    ] {
        config.push_str(&format!(
            r#"
[[integrations]]
name = "x-{mode}"
kind = "exec"
command = "{script}"
args = ["{mode}", "{out}"]
timeout = "{timeout}"
resource_types = {{ thing = ["use"] }}
env = {{ TEAM_API = "https://api.internal" }}

[[flows]]
name = "f-{mode}"
requesters = ["%{dev}"]
integration = "x-{mode}"
max_duration = "1h"
"#,
            script = script.display(),
            out = out.display(),
            dev = dev.name,
        ));
    }
    let d = Daemon::start(&config);
    let request = |integration: &str| {
        json_out(
            &d,
            &alice,
            &[
                "request",
                &format!("{integration}/thing"),
                "alpha",
                "beta",
                "--perm",
                "use",
                "--for",
                "30m",
                "--reason",
                "contract",
            ],
        )
    };

    // The request on standard input, and the environment.
    let r = request("x-record");
    assert_eq!(r["status"], "granted", "{r}");
    let input: Value =
        serde_json::from_slice(&std::fs::read(out.join("grant.json")).expect("input"))
            .expect("input is JSON");
    let principal = r["sessions"][0]["principal"].as_str().expect("principal");
    assert_eq!(input["version"], 1);
    assert_eq!(input["action"], "grant");
    assert_eq!(input["integration"], "x-record");
    assert_eq!(input["request"], r["id"]);
    assert_eq!(input["requester"], alice.name.as_str());
    assert_eq!(input["principal"], principal);
    assert_eq!(
        input["entries"],
        serde_json::json!([{"resource_type": "thing", "resources": ["alpha", "beta"], "permissions": ["use"]}])
    );
    assert!(input["instance"].as_str().is_some_and(|i| !i.is_empty()));
    let until = input["valid_until"].as_str().expect("valid_until");
    let parsed = time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    assert_eq!(parsed.offset(), time::UtcOffset::UTC);
    assert_eq!(input["valid_until_unix"], parsed.unix_timestamp());
    let env = std::fs::read_to_string(out.join("env")).expect("env");
    let vars: Vec<&str> = env.lines().collect();
    assert!(vars.contains(&"JIT_ACTION=grant"), "{env}");
    assert!(vars.contains(&"JIT_INTEGRATION=x-record"), "{env}");
    assert!(
        vars.contains(&format!("JIT_PID={}", d.pid()).as_str()),
        "{env}"
    );
    assert!(vars.contains(&"TEAM_API=https://api.internal"), "{env}");
    assert!(
        !env.contains("RUST_LOG") && !env.contains("JIT_SOCKET"),
        "jitd's own environment is not passed on: {env}"
    );
    let out_json = d.jit_json(Some(&alice), &["revoke", &id_of(&r)]);
    assert_eq!(out_json["status"], "revoked");
    let revoke: Value = serde_json::from_slice(
        &std::fs::read(out.join("revoke-record.json")).expect("revoke input"),
    )
    .expect("revoke input is JSON");
    assert_eq!(revoke["action"], "revoke");
    assert_eq!(revoke["principal"], principal);
    assert_eq!(revoke["request"], r["id"]);
    assert_eq!(revoke["resources"], serde_json::json!(["alpha", "beta"]));

    // A non-zero exit: the failure and standard error (control characters defused) reach
    // the user.
    let r = request("x-fail");
    assert_eq!(r["status"], "failed", "{r}");
    let err = r["error"].as_str().expect("error");
    assert!(
        err.contains("grant failed (exit status 3): quota exceeded for ?[31mteam?[0m"),
        "{err}"
    );
    let shown =
        String::from_utf8_lossy(&d.jit(Some(&alice), &["show", &id_of(&r)]).stdout).into_owned();
    assert!(shown.contains("quota exceeded"), "{shown}");

    // Exit 0 with something that is not JSON is a failure too.
    let r = request("x-garbage");
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("not one JSON object") && !e.contains("here you go")),
        "{r}"
    );

    // A run past its timeout is killed, with what it started; the rollback runs revoke.
    let r = request("x-hang");
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("did not finish within 1s and was killed")),
        "{r}"
    );
    for f in ["pid", "child"] {
        let pid = read_pid(&out.join(f));
        wait_until(
            Duration::from_secs(5),
            &format!("the command's {f} to be gone"),
            || (!alive(pid)).then_some(()),
        );
    }
    assert!(
        out.join("revoke-hang.json").exists(),
        "a grant that timed out may have changed something: it is rolled back"
    );

    // `list` at start: only names of this jitd's shape are taken as its own; a stranger
    // (another jitd's principal, a name jit never gives) is never removed.
    let log = d.log_text();
    assert!(log.contains("not a principal of this jitd"), "{log}");
    let audit = String::from_utf8_lossy(&d.jit(None, &["--json", "audit"]).stdout).into_owned();
    assert!(!audit.contains("orphan"), "{audit}");
}

/// A wrapper that makes one action slow on demand (`slow-<action>` holds a number of
/// seconds): it writes its pid to `started-<action>`, sleeps, then runs the example.
fn slow_wrapper(dir: &Path) -> PathBuf {
    let w = dir.join("slow-acl.sh");
    std::fs::write(
        &w,
        format!(
            "#!/bin/sh\nif [ -e \"{d}/slow-$JIT_ACTION\" ]; then t=$(cat \"{d}/slow-$JIT_ACTION\"); echo $$ > \"{d}/started-$JIT_ACTION\"; sleep \"$t\"; fi\nexec {ex} \"$@\"\n",
            d = dir.display(),
            ex = example().display()
        ),
    )
    .expect("write wrapper");
    chmod(&w, 0o755);
    w
}

/// A wrapper in its own directory, made before the share (the config names it).
fn wrapper_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("jit-exec-w-")
        .tempdir()
        .expect("temp dir");
    chmod(dir.path(), 0o755);
    let w = slow_wrapper(dir.path());
    (dir, w)
}

#[test]
fn kill_9_during_a_grant_then_restart_grants_once_and_a_late_run_changes_nothing() {
    let (wdir, wrapper) = wrapper_dir();
    let mut s = Share::start(Some(&wrapper));
    let file = s.file("data.txt");
    std::fs::write(wdir.path().join("slow-grant"), "6").expect("slow");
    let mut cli = s.jit_spawn(&[
        "request",
        "shares/path",
        &file,
        "--perm",
        "read",
        "--reason",
        "crash",
    ]);
    let started = wdir.path().join("started-grant");
    wait_until(Duration::from_secs(10), "the grant to start", || {
        started.exists().then_some(())
    });
    let late = read_pid(&started);
    s.d.kill9();
    let _ = cli.wait();
    std::fs::remove_file(wdir.path().join("slow-grant")).expect("not slow");
    s.d.restart();

    let open = s.d.jit_json(None, &["ls", "--all"]);
    let id = open
        .as_array()
        .and_then(|a| a.first())
        .map(id_of)
        .expect("the request survived");
    s.wait_status(&id, "granted");
    assert!(can_read(&s.alice, &file), "the grant was redone at start");

    s.d.jit_json(Some(&s.alice), &["revoke", &id]);
    assert_eq!(s.status(&id), "revoked");
    assert!(!can_read(&s.alice, &file));
    assert!(acl_users(&file).is_empty());
    assert!(s.records().is_empty());

    // The run the killed jitd started wakes up after the revoke, sees its jitd gone, and
    // does nothing: it must not grant again what was just revoked.
    assert!(
        alive(late),
        "the late run is still asleep: the test covers it"
    );
    wait_until(Duration::from_secs(15), "the late run to end", || {
        (!alive(late)).then_some(())
    });
    assert!(!can_read(&s.alice, &file));
    assert!(acl_users(&file).is_empty());
    assert!(s.records().is_empty());
    drop(wdir);
}

#[test]
fn kill_9_during_a_revoke_then_restart_finishes_it() {
    let (wdir, wrapper) = wrapper_dir();
    let mut s = Share::start(Some(&wrapper));
    let file = s.file("data.txt");
    let r = s.request(&file, "write", &[]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = id_of(&r);
    std::fs::write(wdir.path().join("slow-revoke"), "3").expect("slow");
    let mut cli = s.jit_spawn(&["revoke", &id]);
    let started = wdir.path().join("started-revoke");
    wait_until(Duration::from_secs(10), "the revoke to start", || {
        started.exists().then_some(())
    });
    let late = read_pid(&started);
    s.d.kill9();
    let _ = cli.wait();
    assert!(
        can_write(&s.alice, &file),
        "jitd died before the script ran"
    );
    std::fs::remove_file(wdir.path().join("slow-revoke")).expect("not slow");
    s.d.restart();

    s.wait_status(&id, "revoked");
    assert!(!can_read(&s.alice, &file));
    assert!(acl_users(&file).is_empty());
    assert!(s.records().is_empty());
    wait_until(Duration::from_secs(10), "the late run to end", || {
        (!alive(late)).then_some(())
    });
    assert!(acl_users(&file).is_empty(), "the late run changed nothing");
    drop(wdir);
}

#[test]
fn a_grant_no_request_owns_is_removed_at_start() {
    // A store restored from a backup taken before a grant: the grant is an orphan.
    let mut s = Share::start(None);
    let file = s.file("old.txt");
    s.d.stop();
    let backup = s.tmp.path().join("backup");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&s.d.state)
        .arg(&backup)
        .status()
        .expect("cp");
    assert!(cp.success());
    s.d.restart();
    let r = s.request(&file, "read", &[]);
    assert_eq!(r["status"], "granted", "{r}");
    let principal = r["sessions"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned();
    assert!(can_read(&s.alice, &file));
    s.d.kill9();
    std::fs::remove_dir_all(&s.d.state).expect("rm state");
    std::fs::rename(&backup, &s.d.state).expect("restore backup");
    s.d.restart();
    wait_until(
        Duration::from_secs(10),
        "the orphan grant to be removed",
        || s.records().is_empty().then_some(()),
    );
    assert!(!can_read(&s.alice, &file));
    assert!(acl_users(&file).is_empty());
    let audit = String::from_utf8_lossy(&s.d.jit(None, &["--json", "audit"]).stdout).into_owned();
    assert!(
        audit.contains("orphan.removed") && audit.contains(&principal),
        "{audit}"
    );
}
