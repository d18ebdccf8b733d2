//! Real PostgreSQL for tests: a database per test (dropped after), `psql` as the client,
//! and the one pg_hba rule that makes the server check jit roles' passwords.

use std::process::{Command, Output, Stdio};
use std::sync::Once;

/// The admin URL of the machine's PostgreSQL.
pub const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Runs SQL as the `postgres` superuser and returns its unaligned output.
pub fn admin_sql(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql as postgres failed on {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs SQL as `user` with `password` over TCP; the output (success or not) is returned.
pub fn user_sql(user: &str, password: &str, db: &str, sql: &str) -> Output {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            user,
            "-d",
            db,
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null())
        .output()
        .expect("run psql")
}

static HBA: Once = Once::new();

/// The pg_hba lines that make the server check passwords over TCP for every role but
/// `postgres` (the machine's default is trust for everyone, which would let any existing
/// role in without a password and make password tests meaningless). PostgreSQL 15 has no
/// regular expressions for user names in pg_hba, so the rule cannot name jit's roles alone.
pub const HBA_RULES: [&str; 2] = [
    "host all postgres 127.0.0.1/32 trust",
    "host all all 127.0.0.1/32 scram-sha-256",
];

/// Puts [`HBA_RULES`] first in the server's pg_hba.conf (once) and reloads it.
pub fn require_passwords_for_test_roles() {
    HBA.call_once(|| {
        let hba = admin_sql("postgres", "SHOW hba_file");
        let text = std::fs::read_to_string(&hba).unwrap_or_else(|e| panic!("read {hba}: {e}"));
        let mut lines = text.lines();
        let present = HBA_RULES.iter().all(|r| text.lines().any(|l| l.trim() == *r))
            && lines.find(|l| !l.trim().is_empty() && !l.starts_with('#')).map(str::trim) == Some(HBA_RULES[0]);
        if !present {
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| !HBA_RULES.contains(&l.trim()) && !l.contains("/^(jt|jit_)") && !l.starts_with("# jit tests"))
                .collect();
            let new = format!(
                "# jit tests: roles other than postgres must log in with their password over TCP\n{}\n{}\n{}\n",
                HBA_RULES[0],
                HBA_RULES[1],
                kept.join("\n")
            );
            std::fs::write(&hba, new).unwrap_or_else(|e| panic!("write {hba}: {e}"));
        }
        admin_sql("postgres", "SELECT pg_reload_conf()");
    });
}

/// A database made for one test, with a table `orders`, dropped (with its sessions) on drop.
pub struct TestDb {
    /// Its name.
    pub name: String,
}

impl TestDb {
    /// Creates `jt<random>` with `orders(id int, item text)` holding one row.
    pub fn create() -> TestDb {
        require_passwords_for_test_roles();
        let name = format!("jt{}", crate::unique());
        admin_sql("postgres", &format!("CREATE DATABASE {name}"));
        admin_sql(
            &name,
            "CREATE TABLE orders (id serial PRIMARY KEY, item text); INSERT INTO orders (item) VALUES ('book')",
        );
        TestDb { name }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        cleanup_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Runs SQL as `postgres` in database `postgres`, ignoring failure: for `Drop`, which must
/// not panic while a test is already failing.
fn cleanup_sql(sql: &str) {
    let _ = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-Atc",
            sql,
        ])
        .output();
}

/// A superuser with a password, dropped after: an integration whose URL holds a secret, for
/// the tests that look for secrets in what jitd writes.
pub struct SecretAdmin {
    /// The role's name (`<prefix>admin`).
    pub name: String,
    /// Its password.
    pub password: String,
}

impl SecretAdmin {
    /// Creates `<prefix>admin` with a fresh password.
    pub fn create(prefix: &str) -> SecretAdmin {
        let name = format!("{prefix}admin");
        let password = format!("UrlPw{}", crate::unique());
        admin_sql(
            "postgres",
            &format!("CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{password}'"),
        );
        SecretAdmin { name, password }
    }

    /// A config: integration `pg` (kind postgres) reached as this role, roles `prefix…`, and
    /// flow `pg-read` letting `%dev` have read on database `db` for up to an hour.
    pub fn config(&self, prefix: &str, dev: &str, db: &str) -> String {
        format!(
            r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "pg"
kind = "postgres"
url = "postgres://{admin}:{password}@127.0.0.1:5432/postgres"
role_prefix = "{prefix}"

[[flows]]
name = "pg-read"
requesters = ["%{dev}"]
integration = "pg"
resources = ["{db}"]
permissions = ["read"]
max_duration = "1h"
"#,
            admin = self.name,
            password = self.password,
        )
    }
}

/// A request of `user`'s for read on database `db` of [`SecretAdmin::config`]'s integration
/// `pg`, granted, its credentials revealed and tried with `psql` (they must log in): the
/// request's id, the login role and its password.
pub fn grant_and_reveal(
    d: &crate::Daemon,
    user: &crate::users::User,
    db: &str,
) -> (String, String, String) {
    let r = d.jit_json(
        Some(user),
        &[
            "request",
            "pg/database",
            db,
            "--perm",
            "read",
            "--for",
            "10m",
            "--reason",
            "INC-7",
            "--wait",
        ],
    );
    let id = r["id"].as_u64().expect("id").to_string();
    let creds = d.jit_json(Some(user), &["creds", &id]);
    let field = |name: &str| {
        creds["sessions"][0][name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {creds}"))
            .to_owned()
    };
    let (login, secret) = (field("user"), field("secret"));
    let ok = user_sql(&login, &secret, db, "select 1");
    assert!(
        ok.status.success(),
        "the revealed password is the real one: {ok:?}"
    );
    (id, login, secret)
}

impl Drop for SecretAdmin {
    fn drop(&mut self) {
        cleanup_sql(&format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

/// Roles whose names start with `prefix`.
pub fn roles_with_prefix(prefix: &str) -> Vec<String> {
    let out = admin_sql(
        "postgres",
        &format!("SELECT rolname FROM pg_roles WHERE rolname LIKE '{prefix}%'"),
    );
    out.lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Number of server sessions logged in as `role`.
pub fn sessions_of(role: &str) -> usize {
    admin_sql(
        "postgres",
        &format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{role}'"),
    )
    .parse()
    .unwrap_or(0)
}

/// Drops every role whose name starts with `prefix` when dropped. Benchmarks that make many
/// roles declare it before their [`TestDb`], so the database (and the privileges on it) goes
/// first and nothing holds the roles back.
pub struct RoleSweep {
    /// The prefix (lower-case letters, digits and `_` only).
    pub prefix: String,
}

impl Drop for RoleSweep {
    fn drop(&mut self) {
        debug_assert!(
            self.prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
        let sql = format!(
            "DO $$DECLARE r text; BEGIN FOR r IN SELECT rolname FROM pg_roles WHERE starts_with(rolname, '{}') \
             LOOP EXECUTE format('DROP ROLE %I', r); END LOOP; END$$",
            self.prefix
        );
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-Atc",
            ])
            .arg(sql)
            .output();
    }
}
