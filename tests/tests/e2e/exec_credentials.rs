//! The `exec` contract's credentials: a command (`tests/fixtures/exec-pg-login.py`) whose grant
//! makes a real PostgreSQL role and returns its password as credentials, with instructions and
//! connect options. `jit connect` runs the real `psql` with the secret filled into its
//! environment, `jit creds` shows it once, `jit reset` runs the command's `reset` (the old
//! password stops working), and revoke drops the role; the secret is never in jitd's log.

use jit_tests::pg::{self, TestDb};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin, wait_until};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A PostgreSQL database, a requester in `dev`, and a jitd whose `logins` integration runs
/// the fixture.
struct Setup {
    _dev: Group,
    alice: User,
    db: TestDb,
    _tmp: tempfile::TempDir,
    d: Daemon,
}

impl Setup {
    fn start() -> Setup {
        Setup::start_with("")
    }

    /// With `env` added to the command's environment (`KEEP_SESSIONS = "1", `: its reset
    /// then leaves live sessions to jitd).
    fn start_with(env: &str) -> Setup {
        let dev = Group::create("dev");
        let alice = User::create("a", &[&dev]);
        let db = TestDb::create();
        let tmp = tempfile::Builder::new()
            .prefix("jit-exec-creds-")
            .tempdir()
            .expect("temp dir");
        // A copy owned by root and writable by root only, as jitd wants its commands.
        let command = tmp.path().join("exec-pg-login.py");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/exec-pg-login.py"),
            &command,
        )
        .expect("copy the fixture");
        std::fs::set_permissions(&command, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let config = format!(
            r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "logins"
kind = "exec"
command = "{command}"
args = ["{state}", "{db}"]
env = {{ {env}PGHOST = "127.0.0.1", PGUSER = "postgres" }}
timeout = "20s"
resource_types = {{ database = ["login"] }}

[[flows]]
name = "logins"
requesters = ["%{dev}"]
integration = "logins"
max_duration = "1h"
"#,
            command = command.display(),
            state = tmp.path().join("state").display(),
            db = db.name,
            dev = dev.name,
        );
        let d = Daemon::start(&config);
        Setup {
            _dev: dev,
            alice,
            db,
            _tmp: tmp,
            d,
        }
    }

    fn role_exists(&self, role: &str) -> bool {
        pg::admin_sql(
            "postgres",
            &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{role}'"),
        ) == "1"
    }

    fn logs_in(&self, role: &str, password: &str) -> bool {
        let out = pg::user_sql(role, password, &self.db.name, "select current_user");
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == role
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // Roles a failed test left behind (named after alice, who is unique to this test).
        for role in pg::roles_with_prefix(&format!("jit_{}_", self.alice.name)) {
            let _ = std::process::Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-Atc",
                ])
                .arg(format!("DROP ROLE IF EXISTS \"{role}\""))
                .output();
        }
    }
}

fn creds(s: &Setup, id: &str) -> Value {
    s.d.jit_json(Some(&s.alice), &["creds", id])["sessions"][0].clone()
}

#[test]
fn a_command_returns_credentials_that_connect_and_creds_use() {
    let s = Setup::start();
    let out = s.d.jit_json(
        Some(&s.alice),
        &[
            "request",
            "logins/database",
            &s.db.name,
            "--perm",
            "login",
            "--reason",
            "exec credentials",
        ],
    );
    assert_eq!(out["status"], "granted", "{out}");
    let id = out["id"].as_u64().expect("id").to_string();
    let session = &out["sessions"][0];
    let role = session["principal"].as_str().expect("principal").to_owned();
    assert!(s.role_exists(&role), "the command made the role");
    assert_eq!(session["credentials"], "unrevealed", "{out}");
    assert_eq!(
        session["connect"],
        serde_json::json!(["terminal", "app"]),
        "the command's connect options: {out}"
    );
    assert_eq!(
        session["instructions"],
        format!(
            "log in to PostgreSQL at 127.0.0.1:5432 as {role}, database {}",
            s.db.name
        ),
        "{out}"
    );

    // Connect: the real psql, with the secret only in its environment.
    let out = s.d.jit(
        Some(&s.alice),
        &["connect", &id, "--", "-Atc", "select current_user"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), role);
    let plan = s.d.jit_json(Some(&s.alice), &["connect", &id]);
    assert_eq!(
        plan["env"],
        serde_json::json!([["PGPASSWORD", "<redacted>"]]),
        "{plan}"
    );
    let app = s.d.jit(Some(&s.alice), &["connect", &id, "--app"]);
    let text = String::from_utf8_lossy(&app.stdout);
    assert!(
        text.contains(&format!("postgres://{role}@127.0.0.1:5432/{}", s.db.name)),
        "{app:?}"
    );

    // Access details, once.
    let c = creds(&s, &id);
    assert_eq!(c["user"], role.as_str(), "{c}");
    assert_eq!(c["host"], "127.0.0.1");
    assert_eq!(c["port"], 5432);
    assert_eq!(c.get("secret_kind"), None, "a password: {c}");
    let first = c["secret"].as_str().expect("secret").to_owned();
    assert!(s.logs_in(&role, &first));
    assert!(!s.d.jit(Some(&s.alice), &["creds", &id]).status.success());

    // Reset runs the command's reset: the old password stops working, connect works again.
    let out = s.d.jit_json(Some(&s.alice), &["reset", &id]);
    assert_eq!(out["sessions"][0]["credentials"], "unrevealed", "{out}");
    assert!(!s.logs_in(&role, &first), "the old password is refused");
    let out = s.d.jit(
        Some(&s.alice),
        &["connect", &id, "--", "-Atc", "select current_user"],
    );
    assert!(out.status.success(), "{out:?}");
    let second = creds(&s, &id)["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_ne!(first, second);
    assert!(s.logs_in(&role, &second));

    let out = s.d.jit_json(Some(&s.alice), &["revoke", &id]);
    assert_eq!(out["status"], "revoked", "{out}");
    assert!(!s.role_exists(&role), "revoke dropped the role");
    assert!(!s.logs_in(&role, &second));

    let log = s.d.log_text();
    let audit = String::from_utf8_lossy(&s.d.jit(None, &["--json", "audit"]).stdout).into_owned();
    for secret in [&first, &second] {
        assert!(!log.contains(secret.as_str()), "a secret is in jitd's log");
        assert!(
            !audit.contains(secret.as_str()),
            "a secret is in the audit log"
        );
    }
}

#[test]
fn an_admins_reset_ends_what_jit_connect_launched_even_when_the_command_cannot() {
    // The command's reset changes the password but leaves sessions alone, like a target
    // whose connections outlive a password change.
    let s = Setup::start_with(r#"KEEP_SESSIONS = "1", "#);
    let out = s.d.jit_json(
        Some(&s.alice),
        &[
            "request",
            "logins/database",
            &s.db.name,
            "--perm",
            "login",
            "--reason",
            "reset ends sessions",
        ],
    );
    let id = out["id"].as_u64().expect("id").to_string();
    let role = out["sessions"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned();
    let mut live = Command::new(bin("jit"))
        .args(["connect", &id, "--", "-Atc", "select pg_sleep(60)"])
        .env("JIT_SOCKET", &s.d.socket)
        .env("HOME", "/")
        .env_remove("XDG_RUNTIME_DIR")
        .current_dir("/")
        .uid(s.alice.uid)
        .gid(s.alice.gid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn jit connect");
    wait_until(Duration::from_secs(15), "the live psql session", || {
        (pg::sessions_of(&role) > 0).then_some(())
    });
    // The requester's own reset leaves her session be (she may be using it).
    let out = s.d.jit(Some(&s.alice), &["reset", &id]);
    assert!(out.status.success(), "{out:?}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        live.try_wait().expect("try_wait").is_none(),
        "the requester's reset ended her session"
    );
    // An admin's reset ends it: the command did not, so jitd ends the connect processes.
    let out = s.d.jit(None, &["admin", "reset", &id, "--yes"]);
    assert!(out.status.success(), "{out:?}");
    let status = wait_until(Duration::from_secs(10), "jit connect to end", || {
        live.try_wait().expect("try_wait")
    });
    assert!(!status.success(), "{status}");
    // psql itself is gone, not only `jit connect` (PostgreSQL keeps running a backend's
    // pg_sleep until it next writes to the closed connection: the client is what counts).
    wait_until(Duration::from_secs(10), "psql to end", || {
        let out = Command::new("pgrep")
            .args(["-u", &s.alice.uid.to_string(), "-x", "psql"])
            .output()
            .expect("pgrep");
        (!out.status.success()).then_some(())
    });
    let out = s.d.jit(Some(&s.alice), &["revoke", &id]);
    assert!(out.status.success(), "{out:?}");
}
