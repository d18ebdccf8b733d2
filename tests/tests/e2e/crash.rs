//! kill -9: nothing acknowledged is lost, and a grant that came due while jitd was down is
//! revoked at once after restart.

use std::time::{Duration, Instant};

use jit_api::methods::{CreateParams, IdParams, RequestCreate, RequestGet};
use jit_tests::pg::{self, TestDb};
use jit_tests::users::Group;
use jit_tests::{Daemon, wait_until};

#[test]
fn acknowledged_requests_survive_kill_9() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let mut d = Daemon::start(&crate::config(&crate::prefix(), pg::ADMIN_URL, &dev, &dba));
    let mut c = d.connect();
    let mut acked = Vec::new();
    for i in 0..50 {
        let r = c
            .call::<RequestCreate>(&CreateParams {
                integration: "demo".into(),
                resource_type: "database".into(),
                resources: vec![format!("db{i}")],
                permissions: vec!["write".into()],
                duration_secs: None,
                justification: Some(format!("crash {i}")),
                ..CreateParams::default()
            })
            .expect("create");
        acked.push(r);
    }
    d.kill9();
    d.restart();
    for r in &acked {
        let got = d
            .call::<RequestGet>(&IdParams { id: r.id })
            .expect("acknowledged request lost");
        assert_eq!(got.entries, r.entries);
        assert_eq!(got.status, r.status);
    }
}

#[test]
fn a_grant_due_while_jitd_is_down_is_revoked_right_after_restart() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let db = TestDb::create();
    let prefix = crate::prefix();
    let mut d = Daemon::start(&crate::config(&prefix, pg::ADMIN_URL, &dev, &dba));
    let r = d.jit_json(
        None,
        &[
            "request",
            "pg-main/database",
            &db.name,
            "--perm",
            "read",
            "--for",
            "2s",
            "--reason",
            "crash",
        ],
    );
    assert_eq!(r["status"], "granted");
    let id = r["id"].as_u64().expect("id").to_string();
    let role = r["sessions"][0]["principal"]
        .as_str()
        .expect("role")
        .to_owned();
    d.kill9();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        pg::roles_with_prefix(&role),
        vec![role.clone()],
        "jitd is down: the role is still there"
    );
    d.restart();
    let start = Instant::now();
    wait_until(
        Duration::from_secs(5),
        "the overdue role to be dropped",
        || pg::roles_with_prefix(&role).is_empty().then_some(()),
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
    wait_until(Duration::from_secs(2), "expired status", || {
        (d.jit_json(None, &["show", &id])["status"] == "expired").then_some(())
    });
}

#[test]
fn a_role_no_request_owns_is_removed_at_start() {
    // A store restored from a backup taken before a grant: the grant's role is an orphan.
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let db = TestDb::create();
    let prefix = crate::prefix();
    let mut d = Daemon::start(&crate::config(&prefix, pg::ADMIN_URL, &dev, &dba));
    d.stop();
    let backup = d.dir().join("backup");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(&d.state)
        .arg(&backup)
        .status()
        .expect("cp");
    assert!(cp.success());
    d.restart();
    let r = d.jit_json(
        None,
        &[
            "request",
            "pg-main/database",
            &db.name,
            "--perm",
            "read",
            "--reason",
            "orphan",
        ],
    );
    let role = r["sessions"][0]["principal"]
        .as_str()
        .expect("role")
        .to_owned();
    assert_eq!(pg::roles_with_prefix(&role), vec![role.clone()]);
    d.kill9();
    std::fs::remove_dir_all(&d.state).expect("rm state");
    std::fs::rename(&backup, &d.state).expect("restore backup");
    d.restart();
    wait_until(
        Duration::from_secs(5),
        "the orphan role to be removed",
        || pg::roles_with_prefix(&role).is_empty().then_some(()),
    );
    let audit = String::from_utf8_lossy(&d.jit(None, &["--json", "audit"]).stdout).into_owned();
    assert!(
        audit.contains("orphan.removed") && audit.contains(&role),
        "{audit}"
    );
    assert!(d.log_text().contains("orphan"), "the removal is logged");
}
