//! The portal (`jit portal`) in real Chromium: a real jitd with a PostgreSQL integration and
//! a real database, a requester's and an approver's portal each started by `jit portal` as
//! that Unix user, and `tests/portal/flow.js` (Playwright driving `/usr/bin/chromium`)
//! clicking through request → approve → Access Granted → Connect → Access Details once →
//! Reset Credentials → revoke → Request Again, and checking that a browser without the link's token is refused.
//! This test logs in with psql using the password the page showed, checks the access is
//! gone after the revoke, that another Unix user cannot use the portal even with its cookie,
//! that no secret reached the portal's output, and that the portal stops on Ctrl-C and when
//! idle. Screenshots go to a temp dir, or to `docs/portal/` with `JIT_UPDATE_SCREENSHOTS=1`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use jit_tests::pg::{self, TestDb};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin, wait_until};

const MESSAGE: &str = "Production replica: keep queries light.";

fn config(prefix: &str, dev: &Group, dba: &Group) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "pg-main"
kind = "postgres"
url = "{url}"
role_prefix = "{prefix}"
message = "{MESSAGE}"

[[flows]]
name = "pg-read"
requesters = ["%{dev}"]
integration = "pg-main"
resources = ["*"]
permissions = ["read"]
approval = "auto"
default_duration = "1h"
max_duration = "4h"

[[flows]]
name = "pg-write"
requesters = ["%{dev}"]
integration = "pg-main"
resources = ["*"]
permissions = ["write"]
approvers = ["%{dba}"]
default_duration = "30m"
max_duration = "1h"
"#,
        url = pg::ADMIN_URL,
        dev = dev.name,
        dba = dba.name,
    )
}

/// A process killed and reaped when the test ends, whatever happens.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Lines of a child's stdout, read on a thread so that reads can time out.
fn lines(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `jit portal --no-open` as `user`; its stderr goes to `log`. Returns the process, its
/// stdout's lines, and the link it printed.
fn start_portal(
    d: &Daemon,
    user: &User,
    log: &Path,
    extra: &[&str],
) -> (Proc, mpsc::Receiver<String>, String) {
    let mut child = Command::new(bin("jit"))
        .args(["portal", "--no-open", "--port", "0"])
        .args(extra)
        .env("JIT_SOCKET", &d.socket)
        .env("HOME", "/")
        .env("USER", &user.name)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .current_dir("/")
        .uid(user.uid)
        .gid(user.gid)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("portal log"))
        .spawn()
        .expect("run jit portal");
    let rx = lines(child.stdout.take().expect("stdout"));
    let mut printed = Vec::new();
    let link = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| {
                panic!(
                    "jit portal as {} printed no link: {printed:?}\n{}",
                    user.name,
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        if let Some(at) = line.find("http://127.0.0.1:")
            && line.contains("?token=")
        {
            break line[at..].trim().to_owned();
        }
        printed.push(line);
    };
    assert!(
        printed
            .iter()
            .any(|l| l.contains(&format!("jit portal for {}", user.name))),
        "the portal says whose it is: {printed:?}"
    );
    (Proc(child), rx, link)
}

/// `tests/portal`, where `scripts/test` ran `npm ci`.
fn script_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("portal");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run scripts/test (or `cd tests/portal && npm ci`)"
    );
    dir
}

/// Sends SIGINT (Ctrl-C) to the portal and waits for it to stop by itself.
fn ctrl_c(p: &mut Proc, rx: &mpsc::Receiver<String>) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(p.0.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let status = wait_until(
        Duration::from_secs(10),
        "the portal to stop on Ctrl-C",
        || p.0.try_wait().ok().flatten(),
    );
    assert!(
        status.success(),
        "the portal exits cleanly on Ctrl-C: {status}"
    );
    said_finally(rx, "jit portal stopped");
}

/// Waits (bounded) for a line containing `text` among the last ones a process printed.
fn said_finally(rx: &mpsc::Receiver<String>, text: &str) {
    let mut said = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        if line.contains(text) {
            return;
        }
        said.push(line);
    }
    panic!("expected a line with {text:?}, got {said:?}");
}

/// An HTTP GET of `url` with `cookie`, as `user` (or root), by curl: its exit code and output.
fn curl_as(user: Option<&User>, url: &str, cookie: &str) -> (i32, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "--max-time",
        "10",
        "-H",
    ])
    .arg(format!("Cookie: {cookie}"))
    .arg(url)
    .current_dir("/");
    if let Some(u) = user {
        cmd.uid(u.uid).gid(u.gid).env("HOME", "/");
    }
    let out = cmd.output().expect("run curl (scripts/test installs it)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn requester_and_approver_click_through_the_portal_in_chromium() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let mallory = User::create("m", &[]);
    let db = TestDb::create();
    let prefix = crate::prefix();
    let d = Daemon::start(&config(&prefix, &dev, &dba));
    let alice_log = d.dir().join("portal-alice.log");
    let carol_log = d.dir().join("portal-carol.log");
    let (mut alice_portal, alice_out, alice_link) = start_portal(&d, &alice, &alice_log, &[]);
    let (mut carol_portal, carol_out, carol_link) = start_portal(&d, &carol, &carol_log, &[]);
    let base = alice_link.split("/?").next().expect("base").to_owned();

    let shots = if std::env::var_os("JIT_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/portal")
    } else {
        d.dir().join("screenshots")
    };
    let mut node = Command::new("node")
        .arg("flow.js")
        .current_dir(script_dir())
        .env("REQUESTER_URL", &alice_link)
        .env("APPROVER_URL", &carol_link)
        .env("DB", &db.name)
        .env("INTEGRATION", "pg-main")
        .env("ADMIN_MESSAGE", MESSAGE)
        .env("SHOTS", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (scripts/test installs Node.js 20)");
    let mut to_node = node.stdin.take().expect("node stdin");
    let from_node = lines(node.stdout.take().expect("node stdout"));
    let node_err = node.stderr.take().expect("node stderr");
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(node_err), &mut text);
        text
    });
    let mut node = Proc(node);

    let mut log = Vec::new();
    let mut creds: Option<(String, String)> = None;
    let mut cookie = String::new();
    let (mut id, mut again) = (0u64, 0u64);
    let done = loop {
        let Ok(line) = from_node.recv_timeout(Duration::from_secs(90)) else {
            break false;
        };
        if let Some(json) = line.strip_prefix("CREDS ") {
            let v: serde_json::Value = serde_json::from_str(json).expect("CREDS json");
            let (user, secret) = (
                v["user"].as_str().expect("user").to_owned(),
                v["secret"].as_str().expect("secret").to_owned(),
            );
            // The password the page showed logs in, and write works (the flow granted it).
            let ins = pg::user_sql(
                &user,
                &secret,
                &db.name,
                "INSERT INTO orders (item) VALUES ('pen') RETURNING id",
            );
            let verdict = if !ins.status.success() {
                format!("fail {}", String::from_utf8_lossy(&ins.stderr).trim())
            } else if creds.as_ref().is_some_and(|(_, old)| {
                pg::user_sql(&user, old, &db.name, "SELECT 1")
                    .status
                    .success()
            }) {
                "fail the secret from before the reset still logs in".to_owned()
            } else {
                "ok".to_owned()
            };
            writeln!(to_node, "{verdict}").expect("answer node");
            creds = Some((user, secret));
            log.push("CREDS (hidden)".to_owned());
            continue;
        }
        if let Some(c) = line.strip_prefix("COOKIE ") {
            cookie = c.to_owned();
        }
        if let Some(n) = line.strip_prefix("REQUEST ") {
            id = n.parse().expect("request id");
        }
        if let Some(n) = line.strip_prefix("AGAIN ") {
            again = n.parse().expect("again id");
        }
        let finished = line == "DONE";
        log.push(line);
        if finished {
            break true;
        }
    };
    let status = wait_until(
        Duration::from_secs(30),
        "the Playwright script to exit",
        || node.0.try_wait().ok().flatten(),
    );
    let stderr = err_reader.join().unwrap_or_default();
    assert!(
        done && status.success(),
        "the Playwright script failed ({status}):\n{}\n{stderr}\nportal (alice): {}\nportal (carol): {}",
        log.join("\n"),
        std::fs::read_to_string(&alice_log).unwrap_or_default(),
        std::fs::read_to_string(&carol_log).unwrap_or_default()
    );
    for page in [
        "new-request",
        "my-requests",
        "approvals",
        "access-granted",
        "my-access",
        "connect",
        "access-details",
        "request-details",
        "closed-requests",
    ] {
        let png = shots.join(format!("{page}.png"));
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 10_000,
            "screenshot {} is missing or empty",
            png.display()
        );
    }

    // jitd agrees with what the pages showed.
    let (role, password) = creds.expect("the script revealed credentials");
    let first = d.jit_json(None, &["show", &id.to_string()]);
    assert_eq!(first["status"], "revoked", "{first}");
    assert_eq!(first["requester"], alice.name);
    assert_eq!(first["approval"]["approvals"][0]["by"], carol.name);
    assert_eq!(first["approval"]["approvals"][0]["reason"], "ok for today");
    assert!(
        first["end_reason"]
            .as_str()
            .is_some_and(|r| r.contains("done")),
        "{first}"
    );
    let second = d.jit_json(None, &["show", &again.to_string()]);
    assert_eq!(second["status"], "pending", "{second}");
    assert_eq!(second["repeats"], id);
    assert_eq!(second["justification"], "INC-4320 once more");

    // The revoke took the access away: the role is gone and its password no longer works.
    assert!(
        pg::roles_with_prefix(&role).is_empty(),
        "role {role} must be gone"
    );
    let after = pg::user_sql(&role, &password, &db.name, "SELECT 1");
    assert!(!after.status.success(), "login must fail after the revoke");

    // The cookie works for the user's own processes (root may too), never for another user.
    let url = format!("{base}/api/status");
    let (code, body) = curl_as(None, &url, &cookie);
    assert!(
        code == 0 && body.ends_with("200"),
        "root with the cookie: {code} {body}"
    );
    assert!(body.contains(&alice.name), "{body}");
    let (code, body) = curl_as(Some(&mallory), &url, &cookie);
    assert!(
        code != 0 && !body.contains(&alice.name),
        "another user must get nothing, even with the cookie: curl {code}, {body:?}"
    );
    let (_, body) = curl_as(None, &url, "jit_portal_1=wrong");
    assert!(body.ends_with("401"), "a wrong cookie is 401: {body}");
    // A page that names another host (DNS rebinding) is refused.
    let rebound = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Host: evil.example:80",
            "-H",
        ])
        .arg(format!("Cookie: {cookie}"))
        .arg(&url)
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&rebound.stdout), "421");

    // No secret reached the portals' output or jitd's log.
    for text in [
        std::fs::read_to_string(&alice_log).unwrap_or_default(),
        std::fs::read_to_string(&carol_log).unwrap_or_default(),
        d.log_text(),
        log.join("\n"),
    ] {
        assert!(!text.contains(&password), "a secret leaked into output");
    }
    let mallory_refused = std::fs::read_to_string(&alice_log).unwrap_or_default();
    assert!(
        mallory_refused.contains(&format!("refused a connection from uid {}", mallory.uid)),
        "the portal says whom it refused: {mallory_refused}"
    );

    ctrl_c(&mut alice_portal, &alice_out);
    ctrl_c(&mut carol_portal, &carol_out);
}

#[test]
fn the_portal_stops_when_idle_and_needs_jitd() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&crate::prefix(), &dev, &dba));
    let log = d.dir().join("portal.log");
    let (mut p, rx, _link) = start_portal(&d, &alice, &log, &["--idle-timeout", "1s"]);
    let status = wait_until(Duration::from_secs(15), "the idle portal to stop", || {
        p.0.try_wait().ok().flatten()
    });
    assert!(status.success(), "{status}");
    said_finally(&rx, "nothing came from the browser for 1s");

    // A bad idle timeout is refused with what to write instead.
    let out = d.jit(
        Some(&alice),
        &["portal", "--no-open", "--idle-timeout", "soon"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("30s, 15m or 2h"), "{err}");

    // Without jitd there is no portal, and jit says why.
    let socket = d.socket.clone();
    drop(d);
    let out = Command::new(bin("jit"))
        .args(["portal", "--no-open"])
        .env("JIT_SOCKET", &socket)
        .uid(alice.uid)
        .gid(alice.gid)
        .current_dir("/")
        .output()
        .expect("jit portal");
    assert!(!out.status.success(), "no portal without jitd");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("jitd"),
        "{out:?}"
    );
}
