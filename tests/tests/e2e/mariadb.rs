//! The `mariadb` kind against the machine's MariaDB (127.0.0.1:3306, root without a
//! password), with the real `mysql` client logging in with what jit hands out: read works and
//! write is refused, revoke and expiry end open sessions and logins, kill -9 during a grant
//! and during a revoke leaves nothing behind, and orphans are removed at start while accounts
//! jit did not make are left alone.

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jit_api::methods::{CreateParams, IdParams, RequestCreate, RequestGet};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, unique, wait_until};
use serde_json::Value;

/// The admin connection jitd uses.
const ADMIN_URL: &str = "mysql://root@127.0.0.1:3306";

/// Runs SQL as root over TCP and returns its tab-separated output without headers.
fn admin_sql(sql: &str) -> String {
    let out = Command::new("mysql")
        .args([
            "--host=127.0.0.1",
            "--port=3306",
            "--user=root",
            "--batch",
            "--skip-column-names",
            "--execute",
            sql,
        ])
        .env_remove("MYSQL_PWD")
        .stdin(Stdio::null())
        .output()
        .expect("run mysql");
    assert!(
        out.status.success(),
        "mysql as root failed on {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The `mysql` client as `user` with `password` (in MYSQL_PWD), not yet run.
fn user_cmd(user: &str, password: &str, db: &str, sql: &str) -> Command {
    let mut c = Command::new("mysql");
    c.args([
        "--host=127.0.0.1",
        "--port=3306",
        &format!("--user={user}"),
        &format!("--database={db}"),
        "--connect-timeout=5",
        "--batch",
        "--skip-column-names",
        "--execute",
        sql,
    ])
    .env("MYSQL_PWD", password)
    .stdin(Stdio::null());
    c
}

/// Runs SQL as `user`; the output (success or not) is returned.
fn user_sql(user: &str, password: &str, db: &str, sql: &str) -> Output {
    user_cmd(user, password, db, sql)
        .output()
        .expect("run mysql")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A database made for one test, with a table `orders` holding one row, dropped on drop.
struct TestDb {
    name: String,
}

impl TestDb {
    fn create() -> TestDb {
        // An `_` in the name: the grant must cover this database only, not `jt?<…>`.
        let name = format!("jt_{}", unique());
        admin_sql(&format!(
            "CREATE DATABASE {name}; CREATE TABLE {name}.orders (id INT AUTO_INCREMENT PRIMARY KEY, item TEXT); \
             INSERT INTO {name}.orders (item) VALUES ('book')"
        ));
        TestDb { name }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new("mysql")
            .args([
                "--host=127.0.0.1",
                "--user=root",
                "--execute",
                &format!("DROP DATABASE IF EXISTS {}", self.name),
            ])
            .output();
    }
}

/// Accounts whose user name starts with `prefix` (`user@host`).
fn accounts_with_prefix(prefix: &str) -> Vec<String> {
    admin_sql(&format!(
        "SELECT CONCAT(User, '@', Host) FROM mysql.global_priv WHERE LEFT(User, {}) = '{prefix}' ORDER BY 1",
        prefix.len()
    ))
    .lines()
    .map(str::to_owned)
    .filter(|l| !l.is_empty())
    .collect()
}

/// Accounts called exactly `user`.
fn accounts_named(user: &str) -> usize {
    admin_sql(&format!(
        "SELECT COUNT(*) FROM mysql.global_priv WHERE User = '{user}'"
    ))
    .parse()
    .unwrap_or(0)
}

/// Open connections of `user`.
fn sessions_of(user: &str) -> usize {
    admin_sql(&format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{user}'"
    ))
    .parse()
    .unwrap_or(0)
}

/// Drops, when the test ends however it ends, every account with the test's prefix.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for acct in accounts_with_prefix_quiet(&self.0) {
            let _ = Command::new("mysql")
                .args(["--host=127.0.0.1", "--user=root", "--execute"])
                .arg(format!("DROP USER IF EXISTS {acct}"))
                .output();
        }
    }
}

fn accounts_with_prefix_quiet(prefix: &str) -> Vec<String> {
    let out = Command::new("mysql")
        .args([
            "--host=127.0.0.1",
            "--user=root",
            "--batch",
            "--skip-column-names",
            "--execute",
        ])
        .arg(format!(
            "SELECT CONCAT('''', User, '''@''', Host, '''') FROM mysql.global_priv WHERE LEFT(User, {}) = '{prefix}'",
            prefix.len()
        ))
        .output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

fn config(prefix: &str, dev: &Group) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "maria"
kind = "mariadb"
url = "{ADMIN_URL}"
user_prefix = "{prefix}"
message = "Reporting replica."
[integrations.privileges]
ddl = "CREATE, DROP"

[[flows]]
name = "maria"
requesters = ["%{dev}", "root"]
integration = "maria"
permissions = ["read", "write", "ddl"]
approval = "auto"
default_duration = "1h"
max_duration = "4h"
"#,
        dev = dev.name,
    )
}

struct Setup {
    _cleanup: Cleanup,
    dev: Group,
    db: TestDb,
    prefix: String,
    d: Daemon,
}

fn setup() -> Setup {
    let prefix = format!("jt{}_", unique());
    let dev = Group::create("dev");
    let db = TestDb::create();
    let d = Daemon::start(&config(&prefix, &dev));
    Setup {
        _cleanup: Cleanup(prefix.clone()),
        dev,
        db,
        prefix,
        d,
    }
}

fn request(s: &Setup, user: Option<&User>, perms: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "request",
        "maria/database",
        s.db.name.as_str(),
        "--perm",
        perms,
        "--reason",
        "INC-9",
    ];
    args.extend_from_slice(extra);
    let r = s.d.jit_json(user, &args);
    assert_eq!(r["status"], "granted", "{r}");
    r
}

fn id_of(r: &Value) -> String {
    r["id"].as_u64().expect("id").to_string()
}

fn principal_of(r: &Value) -> String {
    r["sessions"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned()
}

fn creds(d: &Daemon, user: Option<&User>, id: &str) -> (String, String) {
    let c = d.jit_json(user, &["creds", id]);
    (
        c["sessions"][0]["user"].as_str().expect("user").to_owned(),
        c["sessions"][0]["secret"]
            .as_str()
            .expect("secret")
            .to_owned(),
    )
}

/// A `mysql` session left open on the server (a long `SLEEP`), waited for until it shows.
fn open_session(user: &str, password: &str, db: &str) -> Child {
    let child = user_cmd(user, password, db, "SELECT SLEEP(120)")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mysql");
    wait_until(Duration::from_secs(10), "the open mysql session", || {
        (sessions_of(user) == 1).then_some(())
    });
    child
}

/// Waits (bounded) for an open session's client to exit, and returns its stderr.
fn ended(mut child: Child, within: Duration) -> String {
    let status = wait_until(within, "the open mysql session to end", || {
        child.try_wait().expect("try_wait")
    });
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(!status.success(), "the cut session must fail: {err}");
    err
}

#[test]
fn mariadb_read_then_revoke_ends_the_open_session_and_the_login() {
    let s = setup();
    let alice = User::create("a", &[&s.dev]);
    let r = request(&s, Some(&alice), "read", &[]);
    let id = id_of(&r);
    let user = principal_of(&r);
    assert!(user.starts_with(&s.prefix), "{user}");
    assert_eq!(r["sessions"][0]["connect"][0], "terminal", "{r}");

    // `jit connect` runs the real mysql with the unrevealed secret, never on a command line.
    let out = s.d.jit(
        Some(&alice),
        &[
            "connect",
            &id,
            "--",
            "--batch",
            "--skip-column-names",
            "--execute",
            "SELECT item FROM orders",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "book");
    let plan = s.d.jit_json(Some(&alice), &["connect", &id, "--terminal"]);
    assert_eq!(plan["argv"][0], "mysql", "{plan}");
    assert!(
        plan["env"].to_string().contains("MYSQL_PWD"),
        "the password travels in MYSQL_PWD: {plan}"
    );
    let app = s.d.jit_json(Some(&alice), &["connect", &id, "--app"]);
    assert_eq!(
        app["url"],
        format!("mysql://{user}@127.0.0.1:3306/{}", s.db.name),
        "{app}"
    );

    let (shown, password) = creds(&s.d, Some(&alice), &id);
    assert_eq!(shown, user);
    for v in [&plan, &app] {
        assert!(!v.to_string().contains(&password), "secret in a plan");
    }
    let read = user_sql(&user, &password, &s.db.name, "SELECT COUNT(*) FROM orders");
    assert!(read.status.success(), "{}", text(&read));
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "1");
    let write = user_sql(
        &user,
        &password,
        &s.db.name,
        "INSERT INTO orders (item) VALUES ('pen')",
    );
    assert!(!write.status.success(), "read must not write");
    assert!(text(&write).contains("denied"), "{}", text(&write));
    let wrong = user_sql(&user, "not-the-password", &s.db.name, "SELECT 1");
    assert!(!wrong.status.success(), "a wrong password must be refused");

    let session = open_session(&user, &password, &s.db.name);
    let revoked = s.d.jit(Some(&alice), &["revoke", &id, "--reason", "done"]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    // Once revoke returns, the account and every connection of it are gone.
    assert_eq!(accounts_named(&user), 0, "the user must be dropped");
    assert_eq!(sessions_of(&user), 0, "the open session must be killed");
    let err = ended(session, Duration::from_secs(10));
    assert!(
        err.contains("Lost connection") || err.contains("ERROR"),
        "{err}"
    );
    let after = user_sql(&user, &password, &s.db.name, "SELECT 1");
    assert!(!after.status.success(), "login must fail after revoke");
    assert!(text(&after).contains("Access denied"), "{}", text(&after));
    assert_eq!(
        s.d.jit_json(Some(&alice), &["show", &id])["status"],
        "revoked"
    );

    assert!(
        !s.d.log_text().contains(&password),
        "secret in the daemon log"
    );
    let audit = text(&s.d.jit(None, &["--json", "audit"]));
    assert!(!audit.contains(&password), "secret in the audit log");
    assert!(accounts_with_prefix(&s.prefix).is_empty());
}

#[test]
fn mariadb_write_and_extra_privileges_end_at_expiry() {
    let s = setup();
    let r = request(&s, None, "write,ddl", &["--for", "3s"]);
    let id = id_of(&r);
    let user = principal_of(&r);
    let (_, password) = creds(&s.d, None, &id);
    let out = user_sql(
        &user,
        &password,
        &s.db.name,
        "INSERT INTO orders (item) VALUES ('pen'); UPDATE orders SET item = 'ink' WHERE item = 'pen'; \
         CREATE TABLE notes (x INT); DROP TABLE notes; SELECT COUNT(*) FROM orders",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    // Only this database: a name differing in the `_` is not covered.
    let other = format!("jtx{}", &s.db.name[3..]);
    admin_sql(&format!("CREATE DATABASE {other}"));
    let elsewhere = user_sql(&user, &password, &other, "SELECT 1");
    admin_sql(&format!("DROP DATABASE {other}"));
    assert!(
        !elsewhere.status.success(),
        "a grant on {} must not cover {other}",
        s.db.name
    );

    let session = open_session(&user, &password, &s.db.name);
    wait_until(Duration::from_secs(15), "the grant to expire", || {
        (s.d.jit_json(None, &["show", &id])["status"] == "expired").then_some(())
    });
    assert_eq!(accounts_named(&user), 0);
    assert_eq!(sessions_of(&user), 0);
    ended(session, Duration::from_secs(10));
    assert!(
        !user_sql(&user, &password, &s.db.name, "SELECT 1")
            .status
            .success()
    );
}

#[test]
fn mariadb_kill_9_right_after_create_finishes_the_grant_at_restart() {
    let mut s = setup();
    let r =
        s.d.call::<RequestCreate>(&CreateParams {
            integration: "maria".into(),
            resource_type: "database".into(),
            resources: vec![s.db.name.clone()],
            permissions: vec!["read".into()],
            justification: Some("crash during grant".into()),
            ..CreateParams::default()
        })
        .expect("create");
    s.d.kill9();
    eprintln!("jitd killed with the request {:?}", r.status);
    let user = r.sessions[0].principal.clone().expect("principal");
    let id = r.id.to_string();
    s.d.restart();
    wait_until(Duration::from_secs(10), "the grant to finish", || {
        (s.d.jit_json(None, &["show", &id])["status"] == "granted").then_some(())
    });
    assert_eq!(
        accounts_with_prefix(&s.prefix),
        vec![format!("{user}@%")],
        "exactly this request's account"
    );
    let (_, password) = creds(&s.d, None, &id);
    let read = user_sql(&user, &password, &s.db.name, "SELECT item FROM orders");
    assert!(read.status.success(), "{}", text(&read));
    let revoked = s.d.jit(None, &["revoke", &id, "--reason", "done"]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    assert!(accounts_with_prefix(&s.prefix).is_empty());
}

#[test]
fn mariadb_kill_9_during_revoke_finishes_it_at_restart() {
    let mut s = setup();
    let r = request(&s, None, "read", &[]);
    let id = id_of(&r);
    let user = principal_of(&r);
    let (_, password) = creds(&s.d, None, &id);
    let session = open_session(&user, &password, &s.db.name);
    let mut revoke = Command::new(jit_tests::bin("jit"))
        .args(["revoke", &id, "--reason", "crash during revoke"])
        .env("JIT_SOCKET", &s.d.socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("jit revoke");
    // Kill jitd as soon as the revoke is recorded (it may have gone further).
    let mut c = s.d.connect();
    let numeric: u64 = id.parse().expect("id");
    let seen = wait_until(Duration::from_secs(10), "the revoke to be recorded", || {
        let st = c
            .call::<RequestGet>(&IdParams { id: numeric })
            .expect("get")
            .status;
        (st != jit_api::Status::Granted).then_some(st)
    });
    s.d.kill9();
    let _ = revoke.wait();
    eprintln!("jitd killed with the request {seen:?}");
    s.d.restart();
    wait_until(Duration::from_secs(10), "the revoke to finish", || {
        (s.d.jit_json(None, &["show", &id])["status"] == "revoked").then_some(())
    });
    assert_eq!(accounts_named(&user), 0);
    assert_eq!(sessions_of(&user), 0);
    ended(session, Duration::from_secs(10));
    assert!(
        !user_sql(&user, &password, &s.db.name, "SELECT 1")
            .status
            .success()
    );
    assert!(accounts_with_prefix(&s.prefix).is_empty());
}

#[test]
fn mariadb_orphans_are_removed_at_start_and_other_accounts_are_left_alone() {
    // A store restored from a backup taken before a grant: the grant's user is an orphan.
    let mut s = setup();
    // Accounts with jit's prefix that this store did not make: one without a mark, one marked
    // by another jitd. Neither may be touched.
    let stranger = format!("{}stranger", s.prefix);
    let other = format!("{}other_1_beef", s.prefix);
    admin_sql(&format!(
        "CREATE USER '{stranger}'@'%' IDENTIFIED BY 'x'; CREATE USER '{other}'@'%' IDENTIFIED BY 'x'; \
         UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.jitd', 'beefbeefbeefbeef') \
         WHERE User = '{other}'"
    ));
    s.d.stop();
    let backup = s.d.dir().join("backup");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&s.d.state)
        .arg(&backup)
        .status()
        .expect("cp");
    assert!(cp.success());
    s.d.restart();
    let r = request(&s, None, "read", &[]);
    let user = principal_of(&r);
    let (_, password) = creds(&s.d, None, &id_of(&r));
    let session = open_session(&user, &password, &s.db.name);
    s.d.kill9();
    std::fs::remove_dir_all(&s.d.state).expect("rm state");
    std::fs::rename(&backup, &s.d.state).expect("restore backup");
    let start = Instant::now();
    s.d.restart();
    wait_until(
        Duration::from_secs(10),
        "the orphan user to be removed",
        || (accounts_named(&user) == 0).then_some(()),
    );
    eprintln!("orphan removed {:?} after restart", start.elapsed());
    assert_eq!(sessions_of(&user), 0, "the orphan's session is killed too");
    ended(session, Duration::from_secs(10));
    let audit = text(&s.d.jit(None, &["--json", "audit"]));
    assert!(
        audit.contains("orphan.removed") && audit.contains(&user),
        "{audit}"
    );
    assert_eq!(
        accounts_with_prefix(&s.prefix),
        vec![format!("{other}@%"), format!("{stranger}@%")],
        "accounts jit did not make are left alone"
    );
}

#[test]
fn mariadb_refuses_system_databases_and_unknown_ones_and_leaves_nothing() {
    let s = setup();
    for db in ["mysql", "no_such_db_here"] {
        let out = s.d.jit(
            None,
            &[
                "--json",
                "request",
                "maria/database",
                db,
                "--perm",
                "read",
                "--reason",
                "x",
            ],
        );
        let t = text(&out);
        assert!(t.contains("failed") || !out.status.success(), "{db}: {t}");
        assert!(
            t.contains("server's own") || t.contains("does not exist"),
            "{db}: {t}"
        );
    }
    assert!(accounts_with_prefix(&s.prefix).is_empty());
}

#[test]
fn mariadb_an_admin_reset_kills_sessions_and_the_old_password() {
    let s = setup();
    let alice = User::create("a", &[&s.dev]);
    let r = request(&s, Some(&alice), "read", &[]);
    let id = id_of(&r);
    let user = principal_of(&r);
    let (_, old) = creds(&s.d, Some(&alice), &id);
    let session = open_session(&user, &old, &s.db.name);
    let reset =
        s.d.jit(None, &["reset", &id, "--yes", "--reason", "leaked"]);
    assert!(reset.status.success(), "{}", text(&reset));
    ended(session, Duration::from_secs(10));
    assert!(
        !user_sql(&user, &old, &s.db.name, "SELECT 1")
            .status
            .success(),
        "the old password must stop working"
    );
    let (_, new) = creds(&s.d, Some(&alice), &id);
    assert_ne!(new, old);
    let out = user_sql(&user, &new, &s.db.name, "SELECT item FROM orders");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!s.d.log_text().contains(&new), "secret in the daemon log");
}

#[test]
fn mariadb_a_half_made_account_is_finished_and_a_foreign_one_is_refused() {
    let s = setup();
    // Learn the next request's user name: <prefix>root_<id>_<tag>, ids counting up.
    let first = request(&s, None, "read", &[]);
    let name = principal_of(&first);
    let tag = name.rsplit('_').next().expect("tag").to_owned();
    let next = |n: u64| format!("{}root_{n}_{tag}", s.prefix);
    let id = first["id"].as_u64().expect("id");

    // What a crash between CREATE USER … ACCOUNT LOCK and the mark leaves: taken over.
    let half = next(id + 1);
    admin_sql(&format!(
        "CREATE USER '{half}'@'%' IDENTIFIED BY 'x' ACCOUNT LOCK"
    ));
    let r = request(&s, None, "read", &[]);
    assert_eq!(principal_of(&r), half);
    let (_, password) = creds(&s.d, None, &id_of(&r));
    let out = user_sql(&half, &password, &s.db.name, "SELECT item FROM orders");
    assert!(out.status.success(), "{}", text(&out));

    // Someone else's account with the name (unlocked): refused, and left as it was.
    let foreign = next(id + 2);
    admin_sql(&format!("CREATE USER '{foreign}'@'%' IDENTIFIED BY 'x'"));
    let out = s.d.jit(
        None,
        &[
            "--json",
            "request",
            "maria/database",
            &s.db.name,
            "--perm",
            "read",
            "--reason",
            "x",
        ],
    );
    let t = text(&out);
    assert!(
        t.contains("failed") && t.contains("not made by this jitd"),
        "{t}"
    );
    assert_eq!(accounts_named(&foreign), 1, "the foreign account stays");
    let login = user_sql(&foreign, "x", "information_schema", "SELECT 1");
    assert!(login.status.success(), "{}", text(&login));
}

#[test]
fn mariadb_unreachable_server_fails_the_grant_with_a_message_and_no_secret() {
    let prefix = format!("jt{}_", unique());
    let dev = Group::create("dev");
    // Nothing listens on port 1; the admin password must never show.
    let cfg = config(&prefix, &dev).replace(ADMIN_URL, "mysql://root:Hunter2Secret@127.0.0.1:1");
    let d = Daemon::start(&cfg);
    let out = d.jit(
        None,
        &[
            "--json",
            "request",
            "maria/database",
            "orders",
            "--perm",
            "read",
            "--reason",
            "x",
        ],
    );
    let t = text(&out);
    assert!(
        t.contains("\"failed\"") && t.contains("127.0.0.1:1") && t.contains("is MariaDB running"),
        "{t}"
    );
    assert!(!t.contains("Hunter2Secret"), "{t}");
    assert!(
        !d.log_text().contains("Hunter2Secret"),
        "admin password in the log"
    );
}
