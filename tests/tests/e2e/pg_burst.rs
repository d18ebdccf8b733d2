//! Many PostgreSQL grants due at once are revoked in batches (`revoke_many`): every role
//! gone, every live session ended, the login refused; a role whose mark was changed fails
//! alone and stays `revoking` with the error, while the rest of its batch expires.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jit_tests::pg::{self, TestDb};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, wait_until};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const GRANTS: usize = 12;

fn psql_session(user: &str, password: &str, db: &str) -> Child {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            user,
            "-d",
            db,
            "-At",
            "-c",
            "select pg_sleep(60)",
        ])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql")
}

#[test]
fn a_burst_of_postgres_expiries_is_revoked_in_batches_and_a_tampered_role_fails_alone() {
    pg::require_passwords_for_test_roles();
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let db = TestDb::create();
    let prefix = crate::prefix();
    let mut d = Daemon::start_logging(
        &format!(
            r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "pg-main"
kind = "postgres"
url = "{url}"
role_prefix = "{prefix}"

[[flows]]
name = "pg-read"
requesters = ["%{dev}"]
integration = "pg-main"
permissions = ["read"]
max_duration = "1h"
"#,
            url = pg::ADMIN_URL,
            dev = dev.name,
        ),
        "info",
    );
    let mut ids = Vec::new();
    for _ in 0..GRANTS {
        let r = d.jit_json(
            Some(&alice),
            &[
                "request",
                "pg-main/database",
                &db.name,
                "--perm",
                "read",
                "--for",
                // Long enough that a loaded machine makes all of them (and the live session)
                // before the first ends: the test freezes jitd until the last is due.
                "20s",
                "--reason",
                "burst",
                "--wait",
            ],
        );
        assert_eq!(r["status"], "granted", "{r}");
        ids.push(r["id"].as_u64().expect("id").to_string());
    }
    // A live session on the first grant, and someone else's hand on the last role's mark.
    let c = d.jit_json(Some(&alice), &["creds", &ids[0]]);
    let user = c["sessions"][0]["user"].as_str().expect("user").to_owned();
    let secret = c["sessions"][0]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let mut live = psql_session(&user, &secret, &db.name);
    wait_until(Duration::from_secs(10), "the live session", || {
        (pg::sessions_of(&user) > 0).then_some(())
    });
    let last = d.jit_json(None, &["show", &ids[GRANTS - 1]]);
    let tampered = last["sessions"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned();
    pg::admin_sql(
        "postgres",
        &format!("COMMENT ON ROLE \"{tampered}\" IS 'someone else'"),
    );
    // Frozen until every grant is due, so they all come due in one round.
    let end = jit_tests::timestamp(&last["expires_at"]);
    let pid = Pid::from_raw(i32::try_from(d.pid()).expect("pid"));
    kill(pid, Signal::SIGSTOP).expect("SIGSTOP");
    let left = end - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(500);
    std::thread::sleep(left.try_into().unwrap_or_default());
    kill(pid, Signal::SIGCONT).expect("SIGCONT");

    for id in &ids[..GRANTS - 1] {
        wait_until(Duration::from_secs(20), "expired", || {
            (d.jit_json(None, &["show", id])["status"] == "expired").then_some(())
        });
    }
    assert_eq!(
        pg::roles_with_prefix(&prefix),
        vec![tampered.clone()],
        "every role but the tampered one is gone"
    );
    let status = live.wait().expect("psql ends");
    assert!(!status.success(), "the live session was ended");
    assert_eq!(pg::sessions_of(&user), 0);
    let login = pg::user_sql(&user, &secret, &db.name, "select 1");
    assert!(!login.status.success(), "the login is refused after expiry");

    let t = d.jit_json(None, &["show", &ids[GRANTS - 1]]);
    assert_eq!(t["status"], "revoking", "{t}");
    let error = t["revoking"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("mark"), "{t}");
    assert!(
        d.log_text().contains("in one batch"),
        "the expiries went to PostgreSQL in batches"
    );
    d.stop();
    pg::admin_sql(&db.name, &format!("DROP OWNED BY \"{tampered}\""));
    pg::admin_sql("postgres", &format!("DROP ROLE \"{tampered}\""));
}
