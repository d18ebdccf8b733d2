//! Notifications: what reaches a real local HTTP server (Slack and Teams payloads, a webhook
//! signed with HMAC-SHA256) and a real local SMTP server (aiosmtpd), each with a delivery id
//! receivers can deduplicate; a receiver that is down gets everything once it is back, also
//! across a `kill -9` of jitd; a hung receiver holds up neither requests nor other channels;
//! a channel down for too long, or one whose outbox overflows, gives notifications up loudly
//! (audit, log, `daemon.status`); and no secret — webhook URL, HMAC key, SMTP password —
//! appears in any message, the log, the status or the audit log.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use jit_api::methods::{DaemonStatusMethod, Empty};
use jit_api::{ChannelStatus, DaemonStatus};
use jit_tests::receivers::{Answer, HttpSink, Mail as SmtpMail, Received, SmtpSink};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, unique, wait_until};
use serde_json::Value;
use sha2::Sha256;

/// How long any one expected delivery may take to arrive.
const T: Duration = Duration::from_secs(30);

/// A dry-run integration, `demo-read` (auto) and `demo-write` (approved by `%dba`) for
/// `%dev`; `channels` is appended (the `[[notifications]]`), and `write_notify` is the
/// `notify` list of `demo-write`.
fn config(dev: &Group, dba: &Group, write_notify: &str, channels: &str) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]
expiry_warnings = []

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read", "write"] }}

[[flows]]
name = "demo-read"
requesters = ["%{dev}", "root"]
integration = "demo"
permissions = ["read"]
max_duration = "1h"

[[flows]]
name = "demo-write"
requesters = ["%{dev}"]
integration = "demo"
permissions = ["write"]
approvers = ["%{dba}"]
max_duration = "1h"
notify = [{write_notify}]
{channels}
"#,
        dev = dev.name,
        dba = dba.name,
    )
}

fn request(d: &Daemon, user: Option<&User>, perm: &str, what: &str) -> u64 {
    let r = d.jit_json(
        user,
        &[
            "request",
            "demo/database",
            what,
            "-p",
            perm,
            "--reason",
            &format!("fix INC-{what}"),
        ],
    );
    r["id"].as_u64().expect("id")
}

fn status(d: &Daemon) -> DaemonStatus {
    d.call::<DaemonStatusMethod>(&Empty {})
        .expect("daemon.status")
}

fn channel(d: &Daemon, name: &str) -> ChannelStatus {
    status(d)
        .notifications
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no channel {name} in daemon.status"))
}

/// The audit log as JSON lines.
fn audit(d: &Daemon) -> Vec<Value> {
    let out = d.jit(None, &["audit", "--json"]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an audit line"))
        .collect()
}

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Asserts that none of `secrets` appears in the daemon's log, its status, the audit log or
/// anything the receivers got (`seen`).
fn assert_no_secret(d: &Daemon, secrets: &[&str], seen: &[String]) {
    let status = serde_json::to_string(&status(d)).expect("json");
    let audit: Vec<String> = audit(d).iter().map(Value::to_string).collect();
    let log = d.log_text();
    for s in secrets {
        assert!(!log.contains(s), "a secret is in the log:\n{log}");
        assert!(
            !status.contains(s),
            "a secret is in daemon.status: {status}"
        );
        for a in &audit {
            assert!(!a.contains(s), "a secret is in the audit log: {a}");
        }
        for m in seen {
            assert!(!m.contains(s), "a secret is in a notification: {m}");
        }
    }
}

fn bodies(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| format!("{:?}\n{}", r.headers, String::from_utf8_lossy(&r.body)))
        .collect()
}

#[test]
fn slack_teams_and_a_signed_webhook_get_readable_notifications_with_delivery_ids() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let http = HttpSink::start();
    // The paths are what makes a webhook URL secret.
    let slack_token = format!("T0-{}", unique());
    let teams_token = format!("W0-{}", unique());
    let hook_token = format!("H0-{}", unique());
    let key = format!("hmac-key-{}", unique());
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("hook.key");
    std::fs::write(&key_file, format!("{key}\n")).expect("key file");
    let slack_path = format!("/slack/{slack_token}");
    let teams_path = format!("/teams/{teams_token}");
    let hook_path = format!("/hook/{hook_token}");
    let channels = format!(
        r#"
[[notifications]]
name = "ops-slack"
kind = "slack"
url = "{slack}"
global = true
events = ["approval_needed", "granted"]

[[notifications]]
name = "ops-teams"
kind = "teams"
url = "{teams}"
global = true
events = ["approval_needed"]

[[notifications]]
name = "audit-hook"
kind = "webhook"
url = "{hook}"
secret_file = "{key_file}"
"#,
        slack = http.url(&slack_path),
        teams = http.url(&teams_path),
        hook = http.url(&hook_path),
        key_file = key_file.display(),
    );
    let d = Daemon::start(&config(&dev, &dba, "\"audit-hook\"", &channels));

    let id = request(&d, Some(&alice), "write", "9");

    // Slack: a readable message with the request, requester, justification and the command.
    let slack = http.wait_for(&slack_path, 1, T);
    let s = slack[0].json();
    let text = s["text"].as_str().expect("text");
    assert!(
        text.contains(&alice.name) && text.contains("approval"),
        "{s}"
    );
    let blocks = s["blocks"].to_string();
    for want in [
        alice.name.as_str(),
        "fix INC-9",
        &format!("jit approve {id}"),
        &format!("jit reject {id}"),
        "write on demo/database: 9",
    ] {
        assert!(blocks.contains(want), "no {want:?} in {s}");
    }
    let slack_id = slack[0].header("x-jit-delivery").expect("delivery header");
    assert!(blocks.contains(slack_id), "{s}");
    assert_eq!(slack[0].header("content-type"), Some("application/json"));

    // Teams: one Adaptive Card with the facts and the command.
    let teams = http.wait_for(&teams_path, 1, T);
    let t = teams[0].json();
    assert_eq!(t["type"], "message", "{t}");
    let att = &t["attachments"][0];
    assert_eq!(
        att["contentType"], "application/vnd.microsoft.card.adaptive",
        "{t}"
    );
    assert_eq!(att["content"]["type"], "AdaptiveCard", "{t}");
    let facts = att["content"]["body"]
        .as_array()
        .expect("body")
        .iter()
        .find(|b| b["type"] == "FactSet")
        .expect("a FactSet")
        .clone();
    assert!(
        facts["facts"]
            .as_array()
            .expect("facts")
            .iter()
            .any(|f| f["title"] == "Requester" && f["value"] == alice.name.as_str()),
        "{facts}"
    );
    assert!(t.to_string().contains(&format!("jit approve {id}")), "{t}");

    // The webhook: the event as events.subscribe sends it, signed over the raw body.
    let hook = http.wait_for(&hook_path, 1, T);
    let h = &hook[0];
    let body = h.json();
    assert_eq!(body["event"]["kind"], "approval_needed", "{body}");
    assert_eq!(body["event"]["request"]["id"], id, "{body}");
    assert_eq!(body["event"]["request"]["justification"], "fix INC-9");
    let delivery = h.header("x-jit-delivery").expect("delivery header");
    assert_eq!(body["delivery"], delivery, "{body}");
    assert_eq!(h.header("x-jit-event"), Some("approval_needed"));
    let signature = h.header("x-jit-signature").expect("signature header");
    assert_eq!(
        signature,
        format!("sha256={}", hmac_hex(key.as_bytes(), &h.body)),
        "the signature verifies with the channel's key"
    );
    assert_ne!(
        signature,
        format!("sha256={}", hmac_hex(b"another key entirely", &h.body)),
        "and not with another"
    );
    // Each notification has its own id.
    assert_ne!(delivery, slack_id);

    // carol approves: the grant goes to Slack and to the flow's webhook, with new ids.
    d.jit_json(Some(&carol), &["approve", &id.to_string()]);
    let hook = http.wait_for(&hook_path, 2, T);
    assert_eq!(hook[1].json()["event"]["kind"], "granted");
    assert_ne!(
        hook[1].header("x-jit-delivery"),
        hook[0].header("x-jit-delivery")
    );
    let slack = http.wait_for(&slack_path, 2, T);
    assert!(
        slack[1].json()["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Access granted")),
        "{}",
        slack[1].json()
    );

    // demo-read does not name the webhook: its grant goes to Slack (global) only. Its rows
    // were written with the grant, so once Slack has it, the webhook's would be counted.
    let other = request(&d, Some(&alice), "read", "10");
    let slack = http.wait_for(&slack_path, 3, T);
    assert!(
        slack[2].json()["text"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("(request {other})"))),
        "{}",
        slack[2].json()
    );
    let hook_status = channel(&d, "audit-hook");
    assert_eq!(
        (hook_status.pending, hook_status.delivered),
        (0, 2),
        "{hook_status:?}"
    );
    assert!(
        http.wait_for(&hook_path, 2, T)
            .iter()
            .all(|r| r.json()["event"]["request"]["id"] != other)
    );
    let teams_status = channel(&d, "ops-teams");
    assert_eq!(
        (teams_status.kind.as_str(), teams_status.dropped),
        ("teams", 0)
    );

    assert_no_secret(
        &d,
        &[&slack_token, &teams_token, &hook_token, &key],
        &bodies(&http.received()),
    );
}

#[test]
fn email_goes_to_the_approvers_then_to_the_requester() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let dave = User::create("d", &[&dba]);
    let password = format!("smtp-pw-{}", unique());
    let smtp = SmtpSink::start("jit", &password);
    let dir = tempfile::tempdir().expect("dir");
    let url_file = dir.path().join("smtp.url");
    std::fs::write(
        &url_file,
        format!("smtp://jit:{password}@127.0.0.1:{}\n", smtp.port),
    )
    .expect("url file");
    let channels = format!(
        r#"
[[notifications]]
name = "mail"
kind = "email"
url_file = "{url_file}"
from = "jit <jit@example.test>"
domain = "example.test"
global = true
events = ["approval_needed", "rejected"]

[notifications.addresses]
{carol} = "carol.c@corp.test"
"#,
        url_file = url_file.display(),
        carol = carol.name,
    );
    let d = Daemon::start(&config(&dev, &dba, "", &channels));

    let id = request(&d, Some(&alice), "write", "7");
    // To the approvers — carol from the map, dave as user@domain — and never the requester:
    // one SMTP transaction each, one message (same id, both in To:).
    let mails = smtp.wait_for(2, T);
    let m = &mails[0];
    assert_eq!(
        m.header("x-jit-delivery"),
        mails[1].header("x-jit-delivery")
    );
    assert_eq!(m.header("to"), mails[1].header("to"));
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    to.sort();
    let mut want = vec![
        "carol.c@corp.test".to_owned(),
        format!("{}@example.test", dave.name),
    ];
    want.sort();
    assert_eq!(to, want, "{m:?}");
    assert_eq!(m.login.as_deref(), Some("jit"), "it logged in");
    assert_eq!(m.mail_from, "jit@example.test");
    let subject = m.header("subject").expect("subject");
    assert!(
        subject.starts_with("[jit] ")
            && subject.contains(&alice.name)
            && subject.contains("approval"),
        "{subject}"
    );
    for want in [
        format!("Requester: {}", alice.name),
        "Justification: fix INC-7".to_owned(),
        format!("jit approve {id}"),
        format!("jit reject {id}"),
    ] {
        assert!(m.body.contains(&want), "no {want:?} in:\n{}", m.body);
    }
    let delivery = m.header("x-jit-delivery").expect("delivery header");
    assert!(
        m.header("message-id").is_some_and(|h| h.contains(delivery)),
        "{m:?}"
    );

    // carol rejects: the requester is told.
    let out = d.jit(
        Some(&carol),
        &["reject", &id.to_string(), "--reason", "use the replica"],
    );
    assert!(out.status.success(), "{out:?}");
    let mails = smtp.wait_for(3, T);
    let m = &mails[2];
    assert_eq!(m.rcpt_to, [format!("{}@example.test", alice.name)]);
    assert!(
        m.header("subject").is_some_and(|s| s.contains("rejected")),
        "{m:?}"
    );
    assert!(m.body.contains("Reason: use the replica"), "{}", m.body);
    assert_ne!(m.header("x-jit-delivery"), Some(delivery));

    let seen: Vec<String> = smtp
        .mails()
        .iter()
        .map(|m| format!("{:?}\n{}", m.headers, m.body))
        .collect();
    assert_no_secret(&d, &[&password], &seen);
}

#[test]
fn a_receiver_that_is_down_gets_it_later_and_a_hung_one_holds_nobody_up() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let mut down = HttpSink::start();
    let hung = HttpSink::start();
    let fine = HttpSink::start();
    hung.answer(Answer::Hang);
    down.down();
    let channels = format!(
        r#"
[[notifications]]
name = "down"
kind = "slack"
url = "{down}"
global = true
events = ["granted"]

[[notifications]]
name = "hung"
kind = "slack"
url = "{hung}"
global = true
events = ["granted"]
timeout = "60s"

[[notifications]]
name = "fine"
kind = "teams"
url = "{fine}"
global = true
events = ["granted"]
"#,
        down = down.url("/down"),
        hung = hung.url("/hung"),
        fine = fine.url("/fine"),
    );
    let d = Daemon::start(&config(&dev, &dba, "", &channels));

    // The hung receiver takes the first request and never answers (for 60 s): the next
    // requests are answered all the same, and the other channels get theirs.
    let first = request(&d, Some(&alice), "read", "1");
    hung.wait_for("/hung", 1, T);
    let start = Instant::now();
    let second = request(&d, Some(&alice), "read", "2");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "a request waited on a hung receiver ({:?})",
        start.elapsed()
    );
    let got = fine.wait_for("/fine", 2, T);
    let ids: Vec<Value> = got.iter().map(|r| r.json()["summary"].clone()).collect();
    assert!(
        ids[0].to_string().contains(&format!("request {first}"))
            && ids[1].to_string().contains(&format!("request {second}")),
        "{ids:?}"
    );
    assert_eq!(hung.received().len(), 1, "the hung channel waits its turn");

    // The receiver that is down: attempts fail and are counted, nothing is lost.
    let ch = wait_until(T, "a failed attempt on the down channel", || {
        let ch = channel(&d, "down");
        (ch.failed_attempts >= 1).then_some(ch)
    });
    assert_eq!(ch.pending, 2, "{ch:?}");
    assert!(
        ch.last_error
            .as_deref()
            .is_some_and(|e| e.contains("connect")),
        "{ch:?}"
    );
    assert!(!ch.last_error.unwrap_or_default().contains("/down"));
    down.up();
    let got = down.wait_for("/down", 2, Duration::from_secs(60));
    let texts: Vec<String> = got.iter().map(|r| r.json()["text"].to_string()).collect();
    assert!(
        texts[0].contains(&format!("request {first}"))
            && texts[1].contains(&format!("request {second}")),
        "oldest first: {texts:?}"
    );
    wait_until(T, "the down channel's outbox to empty", || {
        let ch = channel(&d, "down");
        (ch.pending == 0 && ch.delivered == 2).then_some(())
    });
    assert!(
        d.log_text()
            .contains("notification not delivered; retrying")
    );
}

#[test]
fn undelivered_notifications_survive_kill_9_and_keep_their_ids() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let mut http = HttpSink::start();
    http.down();
    let key = format!("kill9-hmac-key-{}", unique());
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("k");
    std::fs::write(&key_file, &key).expect("key");
    let channels = format!(
        r#"
[[notifications]]
name = "hook"
kind = "webhook"
url = "{url}"
secret_file = "{key_file}"
global = true
events = ["created", "granted"]
"#,
        url = http.url("/hook"),
        key_file = key_file.display(),
    );
    let mut d = Daemon::start(&config(&dev, &dba, "", &channels));
    let ids: Vec<u64> = (0..3)
        .map(|i| request(&d, Some(&alice), "read", &format!("k{i}")))
        .collect();
    // Every transition answered is in the outbox: created and granted of each.
    wait_until(T, "all six in the outbox", || {
        (channel(&d, "hook").pending == 6).then_some(())
    });
    d.kill9();
    http.up();
    d.restart();
    let got = http.wait_for("/hook", 6, Duration::from_secs(60));
    // None lost: every (request, event) arrived; a repeat would carry the same id.
    let mut by_id: std::collections::HashMap<String, (u64, String)> =
        std::collections::HashMap::new();
    for r in &got {
        let body = r.json();
        let delivery = r.header("x-jit-delivery").expect("id").to_owned();
        assert_eq!(body["delivery"], delivery.as_str());
        let what = (
            body["event"]["request"]["id"].as_u64().expect("id"),
            body["event"]["kind"].as_str().expect("kind").to_owned(),
        );
        if let Some(before) = by_id.insert(delivery.clone(), what.clone()) {
            assert_eq!(before, what, "one id, one notification");
        }
    }
    let mut seen: Vec<(u64, String)> = by_id.into_values().collect();
    seen.sort();
    let mut want: Vec<(u64, String)> = ids
        .iter()
        .flat_map(|id| [(*id, "created".to_owned()), (*id, "granted".to_owned())])
        .collect();
    want.sort();
    assert_eq!(seen, want);
    wait_until(T, "the outbox to empty", || {
        (channel(&d, "hook").pending == 0).then_some(())
    });
    assert!(
        d.log_text()
            .contains("resuming the delivery of notifications")
    );
}

#[test]
fn notifications_are_given_up_loudly_when_too_old_refused_or_pushed_out() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let mut old = HttpSink::start();
    let mut full = HttpSink::start();
    let refusing = HttpSink::start();
    old.down();
    full.down();
    refusing.answer(Answer::Status(422));
    let channels = format!(
        r#"
[[notifications]]
name = "old"
kind = "slack"
url = "{old}"
global = true
events = ["granted"]
give_up_after = "2s"

[[notifications]]
name = "full"
kind = "slack"
url = "{full}"
global = true
events = ["granted"]
max_pending = 2

[[notifications]]
name = "refusing"
kind = "teams"
url = "{refusing}"
global = true
events = ["granted"]
"#,
        old = old.url("/old"),
        full = full.url("/full"),
        refusing = refusing.url("/refusing"),
    );
    let d = Daemon::start(&config(&dev, &dba, "", &channels));
    let ids: Vec<u64> = (0..4)
        .map(|i| request(&d, Some(&alice), "read", &format!("g{i}")))
        .collect();

    // Refused (422: this body): given up at once, not retried.
    let refused = wait_until(T, "the refused notifications to be given up", || {
        let ch = channel(&d, "refusing");
        (ch.dropped == 4).then_some(ch)
    });
    assert_eq!(refused.pending, 0);
    assert!(
        refused
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("422")),
        "{refused:?}"
    );
    assert_eq!(refusing.received().len(), 4);

    // A full outbox keeps the newest max_pending: the two oldest were dropped at once.
    let f = channel(&d, "full");
    assert_eq!((f.pending, f.dropped), (2, 2), "{f:?}");
    let dropped: Vec<Value> = audit(&d)
        .into_iter()
        .filter(|e| e["action"] == "notification.dropped")
        .collect();
    let pushed_out: Vec<u64> = dropped
        .iter()
        .filter(|e| {
            e["reason"]
                .as_str()
                .is_some_and(|r| r.contains("max_pending"))
        })
        .map(|e| e["request"].as_u64().expect("request"))
        .collect();
    assert_eq!(pushed_out, ids[..2], "{dropped:?}");

    // Down for longer than give_up_after: given up, with the last error, in the audit log.
    let o = wait_until(T, "the old notifications to be given up", || {
        let ch = channel(&d, "old");
        (ch.dropped == 4).then_some(ch)
    });
    assert_eq!(o.pending, 0, "{o:?}");
    let too_old = audit(&d)
        .into_iter()
        .filter(|e| {
            e["action"] == "notification.dropped"
                && e["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("give_up_after"))
        })
        .count();
    assert_eq!(too_old, 4);
    assert!(d.log_text().contains("a notification was given up"));

    // The full channel's receiver comes back: the two it kept arrive, newest requests.
    full.up();
    let got = full.wait_for("/full", 2, Duration::from_secs(60));
    let texts: Vec<String> = got.iter().map(|r| r.json()["text"].to_string()).collect();
    assert!(
        texts[0].contains(&format!("request {}", ids[2]))
            && texts[1].contains(&format!("request {}", ids[3])),
        "{texts:?}"
    );
    old.up();
    assert!(old.received().is_empty());
}

/// An email channel on `smtp` for `approval_needed` (to the approvers), with `extra` lines.
fn mail_channel(
    smtp: &SmtpSink,
    url_file: &std::path::Path,
    password: &str,
    extra: &str,
) -> String {
    std::fs::write(
        url_file,
        format!("smtp://jit:{password}@127.0.0.1:{}\n", smtp.port),
    )
    .expect("url file");
    format!(
        r#"
[[notifications]]
name = "mail"
kind = "email"
url_file = "{url_file}"
from = "jit <jit@example.test>"
domain = "example.test"
global = true
events = ["approval_needed"]
{extra}
"#,
        url_file = url_file.display(),
    )
}

#[test]
fn an_address_the_smtp_server_refuses_stops_nobody_elses_email() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let dave = User::create("d", &[&dba]);
    let erin = User::create("e", &[&dba]);
    let password = format!("smtp-pw-{}", unique());
    let smtp = SmtpSink::start("jit", &password);
    let dir = tempfile::tempdir().expect("dir");
    let carol_at = format!("{}@example.test", carol.name);
    let dave_at = format!("{}@example.test", dave.name);
    let erin_at = format!("{}@example.test", erin.name);
    // carol's address is refused for good, erin's for now; dave's is fine.
    smtp.refuse(
        &[
            (&carol_at, "550 5.1.1 no such user"),
            (&erin_at, "451 4.3.0 try again later"),
        ],
        None,
    );
    let channels = mail_channel(&smtp, &dir.path().join("smtp.url"), &password, "");
    let d = Daemon::start(&config(&dev, &dba, "", &channels));

    let id = request(&d, Some(&alice), "write", "r1");
    let mails = smtp.wait_for(1, T);
    assert_eq!(
        mails[0].rcpt_to,
        std::slice::from_ref(&dave_at),
        "{:?}",
        mails[0]
    );
    // carol is given up, alone, and audited; the row stays for erin.
    let dropped = wait_until(T, "carol to be given up", || {
        audit(&d)
            .into_iter()
            .find(|e| e["action"] == "notification.dropped")
    });
    assert_eq!(dropped["request"], id, "{dropped}");
    assert!(
        dropped["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&carol_at) && r.contains("550")),
        "{dropped}"
    );
    let ch = wait_until(T, "erin's refusal to be counted", || {
        let ch = channel(&d, "mail");
        (ch.failed_attempts >= 1).then_some(ch)
    });
    assert_eq!(ch.pending, 1, "{ch:?}");

    // erin's server takes it now: only erin gets it; dave does not get a second copy.
    smtp.refuse(&[(&carol_at, "550 5.1.1 no such user")], None);
    let mails = smtp.wait_for(2, Duration::from_secs(60));
    assert_eq!(mails[1].rcpt_to, [erin_at], "{:?}", mails[1]);
    assert_eq!(
        mails[1].header("x-jit-delivery"),
        mails[0].header("x-jit-delivery")
    );
    wait_until(T, "the outbox to empty", || {
        let ch = channel(&d, "mail");
        (ch.pending == 0 && ch.delivered == 1).then_some(())
    });
    assert_eq!(smtp.mails().len(), 2, "{:?}", smtp.mails());
    let dropped = audit(&d)
        .into_iter()
        .filter(|e| e["action"] == "notification.dropped")
        .count();
    assert_eq!(dropped, 1, "only carol was given up");
}

#[test]
fn a_receiver_that_refuses_the_channel_is_retried_loudly_not_dropped() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let http = HttpSink::start();
    // A rotated webhook (404) and an SMTP server that refuses jit's sender address.
    http.answer(Answer::Status(404));
    let password = format!("smtp-pw-{}", unique());
    let smtp = SmtpSink::start("jit", &password);
    smtp.refuse(&[], Some("553 5.7.1 sender not allowed"));
    let dir = tempfile::tempdir().expect("dir");
    let mut channels = mail_channel(&smtp, &dir.path().join("smtp.url"), &password, "");
    channels.push_str(&format!(
        r#"
[[notifications]]
name = "rotated"
kind = "slack"
url = "{url}"
global = true
events = ["approval_needed"]
"#,
        url = http.url("/rotated"),
    ));
    let d = Daemon::start(&config(&dev, &dba, "", &channels));
    let id = request(&d, Some(&alice), "write", "ch1");

    for name in ["rotated", "mail"] {
        let ch = wait_until(T, "two failed attempts", || {
            let ch = channel(&d, name);
            (ch.failed_attempts >= 2).then_some(ch)
        });
        assert_eq!((ch.pending, ch.dropped), (1, 0), "{ch:?}");
        assert!(
            ch.last_error
                .as_deref()
                .is_some_and(|e| e.contains("refuses this channel")),
            "{ch:?}"
        );
    }
    assert!(
        channel(&d, "rotated")
            .last_error
            .is_some_and(|e| e.contains("404"))
    );
    assert!(
        channel(&d, "mail")
            .last_error
            .is_some_and(|e| e.contains("553"))
    );
    let log = d.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("notification channel refused")),
        "{log}"
    );

    // The admin fixes the receivers: both get it, nothing was dropped.
    http.answer(Answer::Ok);
    smtp.refuse(&[], None);
    let got = http.wait_for("/rotated", 3, Duration::from_secs(60));
    assert!(
        got.last().is_some_and(|r| r.json()["text"]
            .to_string()
            .contains(&format!("request {id}"))),
        "{got:?}"
    );
    let mails = smtp.wait_for(1, Duration::from_secs(60));
    assert_eq!(mails[0].rcpt_to, [format!("{}@example.test", carol.name)]);
    for name in ["rotated", "mail"] {
        wait_until(T, "the outbox to empty", || {
            let ch = channel(&d, name);
            (ch.pending == 0 && ch.delivered == 1 && ch.dropped == 0).then_some(())
        });
    }
    assert!(
        !audit(&d)
            .iter()
            .any(|e| e["action"] == "notification.dropped")
    );
}

#[test]
fn a_hostile_justification_or_resource_name_cannot_ping_or_fake_a_link() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let http = HttpSink::start();
    let channels = format!(
        r#"
[[notifications]]
name = "slack"
kind = "slack"
url = "{slack}"
global = true
events = ["approval_needed"]

[[notifications]]
name = "teams"
kind = "teams"
url = "{teams}"
global = true
events = ["approval_needed"]
"#,
        slack = http.url("/slack"),
        teams = http.url("/teams"),
    );
    let d = Daemon::start(&config(&dev, &dba, "", &channels));
    let resource = "<!here>[Approve](https://evil.test/r)";
    let why = "<!channel> <https://evil.test/s|Approve> [Approve](https://evil.test/t) *now*";
    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "demo/database",
            resource,
            "-p",
            "write",
            "--reason",
            why,
        ],
    );
    assert!(r["id"].as_u64().is_some(), "{r}");

    // Slack: the fallback text and the blocks carry `<` `>` `&` as entities only.
    let s = http.wait_for("/slack", 1, T)[0].json();
    let text = s["text"].as_str().expect("text");
    assert!(text.contains("&lt;!here&gt;"), "{text}");
    let all = s.to_string();
    for raw in ["<!here>", "<!channel>", "<https://evil.test/s|Approve>"] {
        assert!(!all.contains(raw), "{raw:?} reached Slack: {s}");
    }
    assert!(all.contains("&lt;!channel&gt;"), "{s}");

    // Teams: Markdown in the title and the facts is escaped: no link, no emphasis.
    let t = http.wait_for("/teams", 1, T)[0].json();
    let body = t["attachments"][0]["content"]["body"].clone();
    let shown: Vec<String> = body
        .as_array()
        .expect("body")
        .iter()
        .flat_map(|b| {
            let mut v: Vec<String> = b["text"].as_str().map(str::to_owned).into_iter().collect();
            if let Some(facts) = b["facts"].as_array() {
                v.extend(
                    facts
                        .iter()
                        .filter_map(|f| f["value"].as_str().map(str::to_owned)),
                );
            }
            v
        })
        .collect();
    let justification = shown
        .iter()
        .find(|v| v.contains("evil.test/t"))
        .expect("the justification fact");
    assert!(
        justification.contains(r"\[Approve\]\(https://evil.test/t\)")
            && justification.contains(r"\*now\*")
            && justification.contains(r"\<!channel\>"),
        "{justification}"
    );
    for v in &shown {
        assert!(
            !v.contains("[Approve]("),
            "a Markdown link reached Teams: {v}"
        );
        assert!(
            !v.replace(r"\<", "").contains('<'),
            "an unescaped < reached Teams: {v}"
        );
    }
    assert!(
        shown[0].contains(r"\<!here\>\[Approve\]\(https://evil.test/r\)"),
        "{shown:?}"
    );
}

#[test]
fn a_request_for_1000_resources_with_a_long_justification_is_clipped_to_fit() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let http = HttpSink::start();
    let channels = format!(
        r#"
[[notifications]]
name = "slack"
kind = "slack"
url = "{slack}"
global = true
events = ["approval_needed"]

[[notifications]]
name = "teams"
kind = "teams"
url = "{teams}"
global = true
events = ["approval_needed"]
"#,
        slack = http.url("/slack"),
        teams = http.url("/teams"),
    );
    let d = Daemon::start(&config(&dev, &dba, "", &channels));
    let resources: Vec<String> = (0..1000)
        .map(|i| format!("resource-with-a-rather-long-name-{i:04}"))
        .collect();
    let why = format!("INC-1 {}", "<why> ".repeat(600));
    let mut args = vec!["request", "demo/database"];
    args.extend(resources.iter().map(String::as_str));
    args.extend(["-p", "write", "--reason", &why]);
    let r = d.jit_json(Some(&alice), &args);
    assert!(r["id"].as_u64().is_some(), "{r}");

    let s = http.wait_for("/slack", 1, T)[0].json();
    let text = s["text"].as_str().expect("text");
    assert!(
        text.chars().count() < 3000,
        "{} chars",
        text.chars().count()
    );
    for b in s["blocks"].as_array().expect("blocks") {
        if let Some(t) = b["text"]["text"].as_str() {
            assert!(
                t.chars().count() < 3000,
                "a section of {} chars",
                t.chars().count()
            );
        }
    }
    let all = s.to_string();
    assert!(all.contains("resource-with-a-rather-long-name-0000"), "{s}");
    assert!(all.contains("and 990 more"), "{s}");
    assert!(
        !all.contains("resource-with-a-rather-long-name-0999"),
        "{s}"
    );
    assert!(all.contains("INC-1"), "{s}");

    let t = http.wait_for("/teams", 1, T);
    assert!(
        t[0].body.len() < 28 * 1024,
        "a Teams body of {} bytes",
        t[0].body.len()
    );
    let card = t[0].json().to_string();
    assert!(
        card.contains("and 990 more") && card.contains(r"INC\\-1"),
        "{card}"
    );
    for name in ["slack", "teams"] {
        wait_until(T, "both delivered", || {
            let ch = channel(&d, name);
            (ch.delivered == 1 && ch.dropped == 0).then_some(())
        });
    }
}

/// Runs `openssl` with `args` in `dir`, and asserts it worked.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (scripts/test installs it)");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

#[test]
fn email_goes_over_starttls_to_a_server_signed_by_the_channels_ca() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let dir = tempfile::tempdir().expect("dir");
    let p = dir.path();
    // A CA of the test's own, and a certificate it signs for 127.0.0.1.
    openssl(
        p,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=jit test CA",
        ],
    );
    openssl(
        p,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        p.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        p,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
    let password = format!("smtp-pw-{}", unique());
    let smtp = SmtpSink::start_with(
        "jit",
        &password,
        Some((&p.join("server.pem"), &p.join("server.key"))),
    );
    let extra = format!(
        "tls = \"required\"\nca_file = \"{}\"",
        p.join("ca.pem").display()
    );
    let channels = mail_channel(&smtp, &p.join("smtp.url"), &password, &extra);
    let d = Daemon::start(&config(&dev, &dba, "", &channels));
    request(&d, Some(&alice), "write", "tls1");
    let mails = smtp.wait_for(1, T);
    assert!(
        mails[0].tls,
        "the session did not use STARTTLS: {:?}",
        mails[0]
    );
    assert_eq!(mails[0].login.as_deref(), Some("jit"));
    assert_eq!(mails[0].rcpt_to, [format!("{}@example.test", carol.name)]);
}

/// A Slack channel `name` on `url` for the `granted` events of every flow.
fn slack_channel(name: &str, url: &str) -> String {
    format!(
        r#"
[[notifications]]
name = "{name}"
kind = "slack"
url = "{url}"
global = true
events = ["granted"]
"#
    )
}

/// The Slack message of request `id` among `got`, if any.
fn about(got: &[Received], id: u64) -> Vec<&Received> {
    got.iter()
        .filter(|r| {
            r.json()["text"]
                .to_string()
                .contains(&format!("(request {id})"))
        })
        .collect()
}

#[test]
fn a_notification_refused_for_now_waits_alone_and_the_next_ones_are_delivered() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let http = HttpSink::start();
    // The receiver cannot take this one message now (409: it is about the message, and the
    // receiver answers, so the channel is up); it takes everything else.
    http.answer_when("INC-stuck", Answer::Status(409));
    let d = Daemon::start(&config(
        &dev,
        &dba,
        "",
        &slack_channel("ops", &http.url("/ops")),
    ));

    let stuck = request(&d, Some(&alice), "read", "stuck");
    wait_until(T, "the first notification to be refused", || {
        (!about(&http.received(), stuck).is_empty()).then_some(())
    });
    // The next one arrives while the first waits for its own retry: no head-of-line block.
    let next = request(&d, Some(&alice), "read", "next");
    wait_until(T, "the next notification", || {
        (!about(&http.received(), next).is_empty()).then_some(())
    });
    let ch = wait_until(T, "the next one to be recorded delivered", || {
        let ch = channel(&d, "ops");
        (ch.delivered == 1).then_some(ch)
    });
    assert_eq!((ch.pending, ch.dropped), (1, 0), "{ch:?}");
    assert!(
        ch.last_error.as_deref().is_some_and(|e| e.contains("409")),
        "{ch:?}"
    );

    // The receiver takes it now: it arrives, with the id of its refused attempts.
    http.clear_rules();
    wait_until(
        Duration::from_secs(60),
        "the first notification to be delivered",
        || {
            let ch = channel(&d, "ops");
            (ch.pending == 0 && ch.delivered == 2).then_some(())
        },
    );
    let got = http.received();
    let attempts = about(&got, stuck);
    assert!(attempts.len() >= 2, "{}", attempts.len());
    let ids: std::collections::BTreeSet<&str> = attempts
        .iter()
        .map(|r| r.header("x-jit-delivery").expect("delivery header"))
        .collect();
    assert_eq!(ids.len(), 1, "one id for every attempt: {ids:?}");
    assert!(
        !audit(&d)
            .iter()
            .any(|e| e["action"] == "notification.dropped"),
        "nothing was given up"
    );
}

#[test]
fn a_notification_that_cannot_be_read_is_given_up_once_and_holds_nothing_up() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let mut http = HttpSink::start();
    http.down();
    let mut d = Daemon::start(&config(
        &dev,
        &dba,
        "",
        &slack_channel("ops", &http.url("/ops")),
    ));
    let ids: Vec<u64> = (0..3)
        .map(|i| request(&d, Some(&alice), "read", &format!("c{i}")))
        .collect();
    wait_until(T, "three notifications in the outbox", || {
        (channel(&d, "ops").pending == 3).then_some(())
    });
    d.stop();
    // The oldest row is damaged (or was written by a jitd that knows more than this one).
    let bad = jitd::store::corrupt_outbox_row_for_tests(&d.state.join("jit.redb"), "ops")
        .expect("corrupt a row")
        .expect("a row to corrupt");
    http.up();
    d.restart();

    // The two readable ones arrive; the damaged one is given up, audited and counted.
    let got = http.wait_for("/ops", 2, Duration::from_secs(60));
    assert!(
        about(&got, ids[1]).len() == 1 && about(&got, ids[2]).len() == 1,
        "{:?}",
        bodies(&got)
    );
    let ch = wait_until(T, "the outbox to empty", || {
        let ch = channel(&d, "ops");
        (ch.pending == 0).then_some(ch)
    });
    assert_eq!((ch.delivered, ch.dropped), (2, 1), "{ch:?}");
    let dropped: Vec<Value> = audit(&d)
        .into_iter()
        .filter(|e| e["action"] == "notification.dropped")
        .collect();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(
        dropped[0]["details"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("channel ops, notification {bad} "))),
        "{dropped:?}"
    );
    assert!(
        dropped[0]["reason"]
            .as_str()
            .is_some_and(|t| t.contains("cannot be read")),
        "{dropped:?}"
    );
    // Logged once, not once per attempt.
    let log = d.log_text();
    let lines = log
        .lines()
        .filter(|l| l.contains("a notification was given up") && l.contains(&format!("seq={bad}")))
        .count();
    assert_eq!(lines, 1, "{log}");

    // The channel keeps working.
    let more = request(&d, Some(&alice), "read", "c3");
    wait_until(T, "a new notification", || {
        (about(&http.received(), more).len() == 1).then_some(())
    });
}

#[test]
fn delivery_ids_stay_unique_when_an_older_backup_of_the_store_is_restored() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let http = HttpSink::start();
    let mut d = Daemon::start(&config(
        &dev,
        &dba,
        "",
        &slack_channel("ops", &http.url("/ops")),
    ));
    // A backup, taken before any notification.
    d.stop();
    let backup = tempfile::tempdir().expect("dir");
    for f in ["jit.redb", "secret.key"] {
        std::fs::copy(d.state.join(f), backup.path().join(f)).expect("back up");
    }
    d.restart();
    request(&d, Some(&alice), "read", "b1");
    let got = http.wait_for("/ops", 1, T);
    assert!(
        got[0].json().to_string().contains("INC-b1"),
        "{:?}",
        got[0].json()
    );
    let first_id = got[0].header("x-jit-delivery").expect("id").to_owned();

    // The backup is restored: the store forgets that notification, its number, and the
    // request's (the next request is number 1 again).
    d.stop();
    for f in ["jit.redb", "secret.key"] {
        std::fs::copy(backup.path().join(f), d.state.join(f)).expect("restore");
    }
    d.restart();
    request(&d, Some(&alice), "read", "b2");
    let got = http.wait_for("/ops", 2, T);
    assert!(
        got[1].json().to_string().contains("INC-b2"),
        "{:?}",
        got[1].json()
    );
    let second_id = got[1].header("x-jit-delivery").expect("id").to_owned();
    // A receiver that deduplicates on the id must not drop the new one.
    assert_ne!(first_id, second_id);
    for id in [&first_id, &second_id] {
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "a random 128-bit id in hex: {id}"
        );
        assert!(
            got.iter()
                .any(|r| r.json().to_string().contains(id.as_str()))
        );
    }
}

#[test]
fn check_config_refuses_addresses_and_urls_that_cannot_be_used_at_their_lines() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("jit.toml");
    let secret = format!("T0-{}", unique());
    // Each passes a quick look (an @, a host) but cannot be used: lettre refuses the sender
    // (a comma in an unquoted name) and the address (two dots), and no URL has port 99999.
    let text = format!(
        r#"[[integrations]]
name = "demo"
kind = "dry-run"

[[flows]]
name = "f"
requesters = ["*"]
integration = "demo"
max_duration = "1h"

[[notifications]]
name = "hook"
kind = "slack"
url = "https://hooks.example.com:99999/services/{secret}"
global = true

[[notifications]]
name = "mail"
kind = "email"
url = "smtp://mail.example.com"
from = "Jit Ops, On-call <jit@example.com>"
domain = "-example.com"
global = true

[notifications.addresses]
alice = "alice..smith@example.com"
"#
    );
    std::fs::write(&path, text).expect("write");
    let check = std::process::Command::new(jit_tests::bin("jitd"))
        .arg("--check-config")
        .arg(&path)
        .output()
        .expect("jitd");
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{err}");
    let at = |line: usize, what: &str, fix: &str| {
        let l = err
            .lines()
            .find(|l| l.contains(&format!("{}:{line}:", path.display())))
            .unwrap_or_else(|| panic!("nothing at line {line}:\n{err}"));
        assert!(l.contains(what) && l.contains(fix), "line {line}: {l}");
    };
    at(
        14,
        "has a port that is not a number from 1 to 65535",
        "fix: ",
    );
    at(21, "from \"Jit Ops, On-call <jit@example.com>\"", "quote");
    at(22, "domain \"-example.com\"", "fix: ");
    at(26, "\"alice..smith@example.com\"", "fix: ");
    assert!(!err.contains(&secret), "the URL is a secret: {err}");
}

#[test]
fn an_email_refused_for_now_for_one_recipient_holds_back_no_other_email() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let dave = User::create("d", &[&dba]);
    let erin = User::create("e", &[&dba]);
    let password = format!("smtp-pw-{}", unique());
    let smtp = SmtpSink::start("jit", &password);
    let dir = tempfile::tempdir().expect("dir");
    let dave_at = format!("{}@example.test", dave.name);
    let erin_at = format!("{}@example.test", erin.name);
    smtp.refuse(&[(&erin_at, "452 4.2.2 mailbox full, try later")], None);
    let channels = mail_channel(&smtp, &dir.path().join("smtp.url"), &password, "");
    let d = Daemon::start(&config(&dev, &dba, "", &channels));

    let first = request(&d, Some(&alice), "write", "m1");
    let mails = smtp.wait_for(1, T);
    assert_eq!(mails[0].rcpt_to, std::slice::from_ref(&dave_at));
    wait_until(T, "erin's refusal to be counted", || {
        (channel(&d, "mail").failed_attempts >= 1).then_some(())
    });
    // The second request's email reaches dave while the first waits for erin's server.
    let second = request(&d, Some(&alice), "write", "m2");
    let mails = smtp.wait_for(2, T);
    assert_eq!(mails[1].rcpt_to, std::slice::from_ref(&dave_at));
    assert!(
        mails[1].body.contains(&format!("jit approve {second}")),
        "{}",
        mails[1].body
    );

    // erin's server takes mail again: erin gets both, each with the id dave's copy had.
    smtp.refuse(&[], None);
    let mails = smtp.wait_for(4, Duration::from_secs(60));
    let id_of = |id: u64| {
        let of: Vec<&SmtpMail> = mails
            .iter()
            .filter(|m| m.body.contains(&format!("jit approve {id}")))
            .collect();
        let mut to: Vec<String> = of.iter().flat_map(|m| m.rcpt_to.clone()).collect();
        to.sort();
        let mut want = vec![dave_at.clone(), erin_at.clone()];
        want.sort();
        assert_eq!(to, want, "{of:?}");
        assert_eq!(
            of[0].header("x-jit-delivery"),
            of[1].header("x-jit-delivery")
        );
    };
    id_of(first);
    id_of(second);
    wait_until(T, "the outbox to empty", || {
        let ch = channel(&d, "mail");
        (ch.pending == 0 && ch.delivered == 2 && ch.dropped == 0).then_some(())
    });
}

#[test]
fn notifications_of_a_channel_removed_from_the_config_are_given_up_at_start() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let http = HttpSink::start();
    // The old channel's receiver takes none of them now: each waits for its own retry.
    let refusing = HttpSink::start();
    refusing.answer(Answer::Status(409));
    let old = slack_channel("old", &refusing.url("/old"));
    let kept = slack_channel("kept", &http.url("/kept"));
    let mut d = Daemon::start(&config(&dev, &dba, "", &format!("{old}{kept}")));
    for i in 0..3 {
        request(&d, Some(&alice), "read", &format!("o{i}"));
    }
    wait_until(T, "each of the old channel's rows to be refused", || {
        let ch = channel(&d, "old");
        (ch.failed_attempts >= 3 && ch.pending == 3).then_some(())
    });
    d.stop();
    std::fs::write(&d.config, config(&dev, &dba, "", &kept)).expect("config");
    d.restart();
    let dropped = wait_until(T, "the old channel's rows to be given up", || {
        let dropped: Vec<Value> = audit(&d)
            .into_iter()
            .filter(|e| {
                e["action"] == "notification.dropped"
                    && e["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("no longer in the config"))
            })
            .collect();
        (dropped.len() == 3).then_some(dropped)
    });
    assert!(
        dropped.iter().all(|e| e["details"]
            .as_str()
            .is_some_and(|t| t.starts_with("channel old, "))),
        "{dropped:?}"
    );
    assert!(status(&d).notifications.iter().all(|c| c.name != "old"));
    assert_eq!(channel(&d, "kept").pending, 0);
}
