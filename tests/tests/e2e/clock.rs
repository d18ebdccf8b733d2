//! Clock faults: a wall clock stepped forward expires what is due at once, one stepped back
//! never lengthens a grant beyond what was issued, and a suspended daemon revokes within a
//! second of resuming.
//!
//! The steps run jitd in this process on a manual clock (the host's clock is shared with
//! every other test and server), through the real socket. The suspend runs the real binary
//! and freezes it with SIGSTOP.

use std::time::{Duration, Instant, SystemTime};

use jit_api::methods::{CreateParams, IdParams, RequestCreate, RequestGet};
use jit_api::{Request, Status};
use jit_tests::inprocess::InProcess;
use jit_tests::{Daemon, wait_until};
use jitd::clock::Clock;

const CONFIG: &str = r#"
[daemon]
admins = ["root"]
pending_ttl = "2h"

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = { database = ["read", "write"] }

[[flows]]
name = "demo-read"
requesters = ["*"]
integration = "demo"
permissions = ["read"]
max_duration = "8h"
"#;

fn start() -> InProcess {
    InProcess::start(CONFIG)
}

fn get(d: &InProcess, id: u64) -> Request {
    d.conn()
        .call::<RequestGet>(&IdParams { id })
        .expect("request.get")
}

fn grant(d: &InProcess, resource: &str, secs: u64) -> Request {
    let r = d
        .conn()
        .call::<RequestCreate>(&CreateParams {
            integration: "demo".into(),
            resource_type: "database".into(),
            resources: vec![resource.into()],
            permissions: vec!["read".into()],
            duration_secs: Some(secs),
            justification: Some("clock".into()),
            ..CreateParams::default()
        })
        .expect("create");
    wait_until(Duration::from_secs(10), "granted", || {
        let r = get(d, r.id);
        (r.status == Status::Granted).then_some(r)
    })
}

fn at(t: jit_api::Timestamp) -> SystemTime {
    SystemTime::from(t)
}

#[test]
fn a_step_forward_expires_what_is_due_at_once() {
    let d = start();
    let due = grant(&d, "orders", 3600);
    let later = grant(&d, "billing", 3 * 3600);
    let stepped = Instant::now();
    d.clock.step(d.clock.now() + Duration::from_secs(2 * 3600));
    let r = wait_until(Duration::from_secs(5), "expired after the step", || {
        let r = get(&d, due.id);
        (r.status == Status::Expired).then_some(r)
    });
    assert!(
        stepped.elapsed() < Duration::from_secs(1),
        "expired {:?} after the step",
        stepped.elapsed()
    );
    assert!(at(r.ended_at.expect("ended")) >= at(due.expires_at.expect("expires")));
    assert_eq!(
        get(&d, later.id).status,
        Status::Granted,
        "what is not due yet stays"
    );
}

#[test]
fn a_step_back_never_lengthens_a_grant() {
    let d = start();
    let g = grant(&d, "orders", 3600);
    let issued_end = at(g.expires_at.expect("expires"));
    d.clock.advance(Duration::from_secs(600));
    // `date -s` 30 minutes into the past: by the wall clock the grant would now last 90
    // more minutes instead of 50.
    d.clock.step(d.clock.now() - Duration::from_secs(1800));
    let moved = wait_until(Duration::from_secs(5), "the grant's end moved", || {
        let r = get(&d, g.id);
        (at(r.expires_at.expect("expires")) < issued_end).then_some(r)
    });
    let end = at(moved.expires_at.expect("expires"));
    let shift = issued_end.duration_since(end).expect("earlier");
    assert!(
        shift >= Duration::from_secs(1798) && shift <= Duration::from_secs(1802),
        "moved by {shift:?}, the step was 30m"
    );
    // 50 minutes of real time remain of the 60 issued.
    d.clock.advance(Duration::from_secs(49 * 60));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(get(&d, g.id).status, Status::Granted, "one minute is left");
    d.clock.advance(Duration::from_secs(61));
    wait_until(
        Duration::from_secs(5),
        "expired after 60 minutes of real time",
        || (get(&d, g.id).status == Status::Expired).then_some(()),
    );
}

#[test]
fn a_suspended_daemon_revokes_within_a_second_of_resuming() {
    let mut d = Daemon::start(CONFIG);
    let r = d.jit_json(
        None,
        &[
            "request",
            "demo/database",
            "orders",
            "--perm",
            "read",
            "--for",
            "2s",
            "--reason",
            "suspend",
        ],
    );
    assert_eq!(r["status"], "granted", "{r}");
    let id = r["id"].as_u64().expect("id").to_string();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(d.pid()).expect("pid"));
    // Frozen through the expiry, as a laptop lid closed over it would be.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    std::thread::sleep(Duration::from_secs(4));
    let resumed = SystemTime::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT");
    let v = wait_until(Duration::from_secs(5), "expired after resume", || {
        let v = d.jit_json(None, &["show", &id]);
        (v["status"] == "expired").then_some(v)
    });
    let ended = time::OffsetDateTime::parse(
        v["ended_at"].as_str().expect("ended_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    let after = ended - time::OffsetDateTime::from(resumed);
    assert!(
        after < time::Duration::seconds(1),
        "revoked {after} after resuming"
    );
    d.stop();
}

/// `CONFIG` with a second dry-run integration, `extra`, anyone may request.
fn config_with_extra() -> String {
    format!(
        r#"{CONFIG}
[[integrations]]
name = "extra"
kind = "dry-run"
resource_types = {{ database = ["read"] }}

[[flows]]
name = "extra-read"
requesters = ["*"]
integration = "extra"
permissions = ["read"]
max_duration = "8h"
"#
    )
}

#[test]
fn a_scheduled_start_on_an_integration_gone_after_a_restart_is_rejected_and_holds_up_nothing() {
    let d = InProcess::start(&config_with_extra());
    let expiring = grant(&d, "orders", 60);
    let now = d.clock.now();
    let scheduled = d
        .conn()
        .call::<RequestCreate>(&CreateParams {
            integration: "extra".into(),
            resource_type: "database".into(),
            resources: vec!["orders".into()],
            permissions: vec!["read".into()],
            duration_secs: Some(600),
            justification: Some("later".into()),
            start_at: Some((now + Duration::from_secs(30)).into()),
            ..CreateParams::default()
        })
        .expect("create");
    assert_eq!(scheduled.status, Status::Scheduled);
    let kept = d.stop_keeping_state();

    // Restarted two minutes later on a config without `extra`: the start and the expiry
    // are both due at once.
    let d = InProcess::start_on(
        CONFIG,
        Some(&kept.path().join("state")),
        now + Duration::from_secs(120),
    )
    .expect("jitd starts");
    let r = wait_until(Duration::from_secs(10), "the start to be refused", || {
        let r = get(&d, scheduled.id);
        (!r.status.is_open()).then_some(r)
    });
    assert_eq!(r.status, Status::Rejected, "{r:?}");
    let why = format!("{r:?}");
    assert!(
        why.contains("extra") && why.contains("no longer configured"),
        "{why}"
    );
    wait_until(
        Duration::from_secs(10),
        "the grant due with it to expire",
        || (get(&d, expiring.id).status == Status::Expired).then_some(()),
    );
}
