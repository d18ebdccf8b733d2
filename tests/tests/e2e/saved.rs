//! Saved requests: `jit save NAME …` keeps what a request asks for (per user, durable),
//! `jit request @NAME --reason …` asks for it again through the access flows, `jit saved`
//! lists and deletes them; bad names and unknown integrations are refused at once.

use jit_tests::Daemon;
use jit_tests::users::{Group, User};

fn config(dev: &Group) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read", "write"] }}

[[flows]]
name = "demo-read"
requesters = ["%{dev}"]
integration = "demo"
permissions = ["read"]
max_duration = "2h"
justification = "required"
"#,
        dev = dev.name,
    )
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_saved_request_is_asked_for_again_by_name_and_kept_per_user() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let bob = User::create("b", &[&dev]);
    let mut d = Daemon::start(&config(&dev));

    let saved = d.jit_json(
        Some(&alice),
        &[
            "save",
            "orders-read",
            "demo/database",
            "orders",
            "billing",
            "--perm",
            "read",
            "--for",
            "45m",
        ],
    );
    assert_eq!(saved["name"], "orders-read", "{saved}");
    let human = d.jit(Some(&alice), &["saved"]);
    assert!(
        text(&human).contains("@orders-read") && text(&human).contains("45m"),
        "{}",
        text(&human)
    );
    assert_eq!(
        d.jit_json(Some(&bob), &["saved"]).as_array().map(Vec::len),
        Some(0),
        "bob does not see alice's"
    );

    // Kept across a restart (durable before the answer).
    d.stop();
    d.restart();
    let r = d.jit_json(
        Some(&alice),
        &["request", "@orders-read", "--reason", "INC-77", "--wait"],
    );
    assert_eq!(r["status"], "granted", "{r}");
    assert_eq!(
        r["entries"][0]["resources"],
        serde_json::json!(["orders", "billing"])
    );
    assert_eq!(r["duration_secs"], 2700);
    assert_eq!(r["justification"], "INC-77");
    // --for overrides the saved duration; the flow still decides (a justification is required).
    // The name may come after options; an option's value is never taken for one.
    let r = d.jit_json(
        Some(&alice),
        &[
            "request",
            "--for",
            "10m",
            "--reason",
            "@INC-78",
            "@orders-read",
        ],
    );
    assert_eq!(r["duration_secs"], 600, "{r}");
    assert_eq!(r["justification"], "@INC-78", "{r}");
    let no_reason = d.jit(Some(&alice), &["request", "@orders-read"]);
    assert!(!no_reason.status.success());
    assert!(
        text(&no_reason).contains("justification"),
        "{}",
        text(&no_reason)
    );

    let missing = d.jit(Some(&bob), &["request", "@orders-read", "--reason", "x"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("no saved request named orders-read"),
        "{}",
        text(&missing)
    );

    let bad = d.jit(
        Some(&alice),
        &["save", "no spaces", "demo/database", "x", "-p", "read"],
    );
    assert!(!bad.status.success());
    assert!(text(&bad).contains("letters, digits"), "{}", text(&bad));
    let unknown = d.jit(
        Some(&alice),
        &["save", "x", "nope/database", "x", "-p", "read"],
    );
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("nope"), "{}", text(&unknown));

    let del = d.jit(Some(&alice), &["saved", "delete", "orders-read"]);
    assert!(del.status.success(), "{}", text(&del));
    assert_eq!(
        d.jit_json(Some(&alice), &["saved"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let again = d.jit(Some(&alice), &["saved", "delete", "orders-read"]);
    assert!(!again.status.success());
}
