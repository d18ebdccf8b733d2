//! Operating jitd: config reload by SIGHUP and by `jit admin reload` (a flow change applies
//! to the next request, a broken file is refused with file:line and the old config keeps
//! serving, removing an integration with live grants is refused until `--revoke-orphans`,
//! every reload is audited with the file's digest); admin rights follow a reload on
//! connections already open; `jit admin ls` filters and refuses non-admins;
//! `daemon.metrics` moves and the textfile is rewritten whole, with the mode asked for; no
//! secret reaches the log at `trace`.

use std::time::Duration;

use jit_api::ErrorCode;
use jit_api::methods::{AdminStatus, AuditList, AuditParams, DaemonMetrics, Empty};
use jit_tests::pg::{self, TestDb};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, wait_until};
use serde_json::Value;
use sha2::Digest;

/// How long anything asynchronous may take.
const T: Duration = Duration::from_secs(15);

/// Two dry-run integrations, `demo` and `extra`; `demo-read` lets `%dev` ask for up to
/// `max`, `extra-read` is automatic too.
fn config(dev: &Group, max: &str, with_extra: bool) -> String {
    let mut c = format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read"] }}

[[flows]]
name = "demo-read"
requesters = ["%{dev}"]
integration = "demo"
permissions = ["read"]
max_duration = "{max}"
"#,
        dev = dev.name
    );
    if with_extra {
        c.push_str(&format!(
            r#"
[[integrations]]
name = "extra"
kind = "dry-run"
resource_types = {{ database = ["read"] }}

[[flows]]
name = "extra-read"
requesters = ["%{dev}"]
integration = "extra"
permissions = ["read"]
max_duration = "1h"
"#,
            dev = dev.name
        ));
    }
    c
}

fn sha256_hex(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `jit request` of `duration` on `integration` as `user`: the JSON answer, or the error text.
fn request(d: &Daemon, user: &User, integration: &str, duration: &str) -> Result<Value, String> {
    let out = d.jit(
        Some(user),
        &[
            "--json",
            "request",
            &format!("{integration}/database"),
            "orders",
            "--perm",
            "read",
            "--for",
            duration,
            "--reason",
            "INC-1",
            "--wait",
        ],
    );
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("json"))
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The audit entries of reloads.
fn reloads(d: &Daemon) -> Vec<Value> {
    let all = d
        .call::<AuditList>(&AuditParams::default())
        .expect("audit.list");
    all.into_iter()
        .map(|r| serde_json::to_value(r).expect("json"))
        .filter(|r| r["action"] == "daemon.config_reloaded")
        .collect()
}

#[test]
fn reload_applies_flow_changes_refuses_broken_files_and_is_audited() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&dev, "1h", false));

    let refused = request(&d, &alice, "demo", "2h").expect_err("2h is over the flow's 1h");
    assert!(refused.contains("1h"), "{refused}");

    // jit admin reload: the new maximum applies to the next request.
    let text = config(&dev, "3h", false);
    std::fs::write(&d.config, &text).expect("write config");
    let report = d.jit_json(None, &["admin", "reload"]);
    assert_eq!(report["digest"], sha256_hex(&text), "{report}");
    assert_eq!(report["unchanged"], false);
    let granted = request(&d, &alice, "demo", "2h").expect("2h is allowed now");
    assert_eq!(granted["duration_secs"], 7200, "{granted}");

    // A broken file: refused with file:line, the running config stays.
    let broken = text.replace("max_duration = \"3h\"", "max_duration = \"3 fortnights\"");
    std::fs::write(&d.config, &broken).expect("write config");
    let line = broken
        .lines()
        .position(|l| l.contains("fortnights"))
        .expect("line")
        + 1;
    let out = d.jit(None, &["admin", "reload"]);
    assert!(!out.status.success(), "a broken config was accepted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at = format!("{}:{line}:", d.config.display());
    assert!(stderr.contains(&at), "no {at} in: {stderr}");
    assert!(stderr.contains("running config stays"), "{stderr}");
    request(&d, &alice, "demo", "2h").expect("the old config still serves");

    // SIGHUP (systemctl reload): the same, as the daemon itself.
    let text = config(&dev, "30m", false);
    std::fs::write(&d.config, &text).expect("write config");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(d.pid()).expect("pid")),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("SIGHUP");
    let entry = wait_until(T, "the SIGHUP reload in the audit log", || {
        reloads(&d).into_iter().find(|r| {
            r["details"]
                .as_str()
                .is_some_and(|s| s.contains(&sha256_hex(&text)))
        })
    });
    assert_eq!(entry["actor"], "jitd", "{entry}");
    request(&d, &alice, "demo", "1h").expect_err("30m is the maximum now");
    request(&d, &alice, "demo", "20m").expect("20m is within it");
    let status = d.jit_json(None, &["admin", "status"]);
    assert_eq!(status["config_digest"], sha256_hex(&text), "{status}");

    // A broken file by SIGHUP: logged with file:line; jitd keeps serving the old one.
    std::fs::write(&d.config, &broken).expect("write config");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(d.pid()).expect("pid")),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("SIGHUP");
    wait_until(T, "the refused reload in the log", || {
        let log = d.log_text();
        (log.contains("config reload refused") && log.contains(&at)).then_some(())
    });
    request(&d, &alice, "demo", "20m").expect("still serving");
    assert_eq!(
        reloads(&d).len(),
        2,
        "only reloads that were done are audited"
    );
}

#[test]
fn removing_an_integration_with_live_grants_needs_revoke_orphans() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&dev, "1h", true));
    let live = request(&d, &alice, "extra", "30m").expect("granted");
    let id = live["id"].as_u64().expect("id");
    assert_eq!(live["status"], "granted", "{live}");

    std::fs::write(&d.config, config(&dev, "1h", false)).expect("write config");
    let out = d.jit(None, &["admin", "reload"]);
    assert!(
        !out.status.success(),
        "removing a live integration was accepted"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{id} (granted on extra)")) && stderr.contains("--revoke-orphans"),
        "{stderr}"
    );
    // Nothing changed: the flow on `extra` still serves.
    request(&d, &alice, "extra", "10m").expect("the old config still serves");

    let report = d.jit_json(None, &["admin", "reload", "--revoke-orphans"]);
    assert_eq!(report["removed"], serde_json::json!(["extra"]), "{report}");
    let revoked: Vec<u64> = report["revoked"]
        .as_array()
        .expect("revoked")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(revoked.contains(&id), "{report}");
    let gone = wait_until(T, "the orphaned grant to be revoked", || {
        let r = d.jit_json(None, &["show", &id.to_string()]);
        (r["status"] == "revoked").then_some(r)
    });
    assert!(
        gone["end_reason"]
            .as_str()
            .is_some_and(|r| r.contains("integration removed")),
        "{gone}"
    );
    request(&d, &alice, "extra", "10m").expect_err("no flow on a removed integration");
    let entry = reloads(&d).pop().expect("audited");
    assert!(
        entry["details"]
            .as_str()
            .is_some_and(|s| s.contains("removed [extra]")),
        "{entry}"
    );
}

#[test]
fn admin_rights_follow_a_reload_on_connections_already_open() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dev]);
    let without_carol = config(&dev, "1h", false);
    let with_carol = without_carol.replace(
        "admins = [\"root\"]",
        &format!("admins = [\"root\", \"{}\"]", carol.name),
    );
    let d = Daemon::start(&with_carol);
    // Carol's long-lived connections: an editor's, and `jit watch` (a subscription).
    let mut editor = d.connect_as(&carol);
    let mut watch = d.watch(Some(&carol), &["--json"]);
    editor
        .call::<AdminStatus>(&Empty {})
        .expect("carol is an admin");
    let seen = request(&d, &alice, "demo", "30m").expect("granted");
    watch.event(T, "created", seen["id"].as_u64().expect("id"));

    std::fs::write(&d.config, &without_carol).expect("write config");
    d.jit_json(None, &["admin", "reload"]);

    // The same connection: no longer an admin.
    let refused = editor
        .call::<AdminStatus>(&Empty {})
        .expect_err("carol is no longer an admin");
    assert_eq!(refused.code, ErrorCode::Forbidden.code(), "{refused:?}");
    assert!(refused.message.contains("only admins"), "{refused:?}");
    // The same subscription: Alice's requests are not Carol's to see any more; her own are.
    let hidden = request(&d, &alice, "demo", "30m").expect("granted");
    let hidden = hidden["id"].as_u64().expect("id");
    let own = request(&d, &carol, "demo", "10m").expect("granted");
    watch.event(T, "created", own["id"].as_u64().expect("id"));
    // Events come in commit order: Alice's came before Carol's, or not at all.
    assert!(
        watch.kinds_of(hidden).is_empty(),
        "an admin no longer still gets another user's events: {:?}",
        watch.seen
    );
}

#[test]
fn admin_ls_filters_and_admin_commands_are_for_admins() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let bob = User::create("b", &[&dev]);
    let d = Daemon::start(&config(&dev, "1h", true));
    let a1 = request(&d, &alice, "demo", "30m").expect("granted");
    let b1 = request(&d, &bob, "extra", "30m").expect("granted");
    let ids = |v: &Value| -> Vec<u64> {
        v.as_array()
            .expect("list")
            .iter()
            .filter_map(|r| r["id"].as_u64())
            .collect()
    };
    let all = d.jit_json(None, &["admin", "ls"]);
    assert_eq!(ids(&all).len(), 2, "{all}");
    let of_alice = d.jit_json(None, &["admin", "ls", "--user", &alice.name]);
    assert_eq!(ids(&of_alice), vec![a1["id"].as_u64().expect("id")]);
    let on_extra = d.jit_json(None, &["admin", "ls", "--integration", "extra"]);
    assert_eq!(ids(&on_extra), vec![b1["id"].as_u64().expect("id")]);

    let out = d.jit(None, &["admin", "revoke", &a1["id"].to_string()]);
    assert!(out.status.success(), "{out:?}");
    let revoked = d.jit_json(None, &["admin", "ls", "--status", "revoked"]);
    assert_eq!(ids(&revoked), vec![a1["id"].as_u64().expect("id")]);
    let granted = d.jit_json(None, &["admin", "ls", "--status", "granted"]);
    assert_eq!(ids(&granted), vec![b1["id"].as_u64().expect("id")]);

    for args in [
        &["admin", "ls"][..],
        &["admin", "reload"],
        &["admin", "status"],
        &["admin", "orphans"],
        &["admin", "metrics"],
    ] {
        let out = d.jit(Some(&bob), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("only admins"), "{args:?}: {stderr}");
    }
    let status = d.jit_json(None, &["admin", "status"]);
    assert_eq!(status["counts"]["granted"], 1, "{status}");
    let demo = status["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .find(|i| i["name"] == "extra")
        .cloned()
        .expect("extra");
    assert_eq!(demo["open_requests"], 1, "{status}");
    assert!(status["next_deadline"].is_string(), "{status}");
    let orphans = d.jit_json(None, &["admin", "orphans"]);
    assert!(orphans.as_array().is_some_and(Vec::is_empty), "{orphans}");
}

/// The value of an unlabelled sample in a Prometheus exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Checks the exposition's grammar: every sample's family is declared by `# TYPE` first, and
/// every value is a number.
fn check_exposition(text: &str) {
    let mut declared: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            declared.push(parts.next().expect("name").to_owned());
            assert!(
                matches!(parts.next(), Some("counter" | "gauge" | "histogram")),
                "{line}"
            );
        } else if !line.starts_with("# HELP ") {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            assert!(value.parse::<f64>().is_ok(), "not a number: {line}");
            let name = series.split('{').next().expect("name");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|f| declared.iter().any(|d| d == f))
                .unwrap_or(name);
            assert!(declared.iter().any(|d| d == family), "undeclared: {line}");
        }
    }
}

#[test]
fn metrics_move_and_the_textfile_is_rewritten_whole() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let out_dir = tempfile::tempdir().expect("tempdir");
    let prom = out_dir.path().join("jit.prom");
    let mut text = config(&dev, "1h", false);
    text = text.replace(
        "admins = [\"root\"]",
        &format!(
            "admins = [\"root\"]\nmetrics_textfile = \"{}\"\nmetrics_textfile_mode = \"0640\"\nmetrics_interval = \"1s\"",
            prom.display()
        ),
    );
    let d = Daemon::start(&text);
    let m = d.call::<DaemonMetrics>(&Empty {}).expect("daemon.metrics");
    assert_eq!(m.content_type, "text/plain; version=0.0.4");
    check_exposition(&m.text);
    for name in [
        "jit_requests_created_total",
        "jit_requests",
        "jit_grants_active",
        "jit_revoke_retries_total",
        "jit_notifications_pending",
        "jit_expiry_lag_seconds",
        "jit_rpc_duration_seconds",
        "jit_config_reloads_total",
    ] {
        assert!(
            m.text.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{}",
            m.text
        );
    }
    let before = sample(&m.text, "jit_requests_created_total").expect("counter");
    request(&d, &alice, "demo", "30m").expect("granted");
    let m = d.call::<DaemonMetrics>(&Empty {}).expect("daemon.metrics");
    assert_eq!(
        sample(&m.text, "jit_requests_created_total"),
        Some(before + 1.0)
    );
    assert!(
        m.text.contains("jit_grants_active{integration=\"demo\"} 1"),
        "{}",
        m.text
    );
    assert!(
        m.text.lines().any(|l| l
            .starts_with("jit_rpc_duration_seconds_count{method=\"request.create\"} ")
            && !l.ends_with(" 0")),
        "{}",
        m.text
    );

    // The textfile: there, current, and never seen half-written while jitd rewrites it
    // every second.
    wait_until(T, "the textfile with the new request", || {
        let t = std::fs::read_to_string(&prom).ok()?;
        (sample(&t, "jit_requests_created_total") == Some(before + 1.0)).then_some(())
    });
    let until = std::time::Instant::now() + Duration::from_millis(2500);
    let mut reads = 0;
    while std::time::Instant::now() < until {
        let t = std::fs::read_to_string(&prom).expect("the textfile is always there");
        check_exposition(&t);
        assert!(t.contains("# TYPE jit_config_loaded_timestamp_seconds gauge"));
        reads += 1;
    }
    assert!(reads > 10, "only {reads} reads");
    // The mode asked for, not 0644: the counts are not every local user's business.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&prom).expect("textfile").permissions(),
    );
    assert_eq!(mode & 0o7777, 0o640, "mode {mode:o}");
    let names: Vec<_> = std::fs::read_dir(out_dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.to_string_lossy().ends_with(".prom") || n == "jit.prom"),
        "only jit.prom ends in .prom: {names:?}"
    );
}

#[test]
fn no_secret_reaches_the_log_at_trace() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let db = TestDb::create();
    let prefix = crate::prefix();
    // An admin role with a password, so that the integration's URL holds a secret too.
    let admin = pg::SecretAdmin::create(&prefix);
    let url_password = admin.password.clone();
    let config = admin.config(&prefix, &dev.name, &db.name);
    let d = Daemon::start(&config);
    // The revealed password works (so it is the real secret), then a reload, the metrics
    // and a revoke go through the log too.
    let (id, _, secret) = pg::grant_and_reveal(&d, &alice, &db.name);
    std::fs::write(&d.config, config.replace("\"1h\"", "\"2h\"")).expect("write config");
    d.jit_json(None, &["admin", "reload"]);
    d.jit_json(None, &["admin", "status"]);
    d.call::<DaemonMetrics>(&Empty {}).expect("metrics");
    let out = d.jit(None, &["revoke", &id]);
    assert!(out.status.success(), "{out:?}");
    let log = d.log_text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log is not at trace: {log}"
    );
    assert!(log.contains("config reloaded"), "{log}");
    assert!(
        !log.contains(&url_password),
        "the URL's password is in the log"
    );
    assert!(
        !log.contains(&secret),
        "a revealed credential is in the log"
    );
    drop(d);
    drop(db);
    drop(admin);
}
