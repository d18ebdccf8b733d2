//! `jit prompt`: the shell prompt segment — nearest expiry, how many more, pending requests,
//! approvals waiting — and silence (exit 0) when there is nothing to show or no jitd.

use std::process::Command;

use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin};

fn config(dev: &Group, dba: &Group) -> String {
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

[[flows]]
name = "demo-write"
requesters = ["%{dev}"]
integration = "demo"
permissions = ["write"]
approvers = ["%{dba}"]
max_duration = "1h"
"#,
        dev = dev.name,
        dba = dba.name,
    )
}

fn prompt(d: &Daemon, user: &User, args: &[&str]) -> String {
    let mut all = vec!["prompt"];
    all.extend_from_slice(args);
    let out = d.jit(Some(user), &all);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn the_prompt_segment_shows_the_nearest_expiry_and_what_else_is_open() {
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let alice = User::create("a", &[&dev]);
    let carol = User::create("c", &[&dba]);
    let d = Daemon::start(&config(&dev, &dba));
    assert_eq!(prompt(&d, &alice, &[]), "", "nothing open: nothing shown");

    let req = |perm: &str, dur: &str| {
        d.jit_json(
            Some(&alice),
            &[
                "request",
                "demo/database",
                "orders",
                "--perm",
                perm,
                "--for",
                dur,
                "--wait",
            ],
        )
    };
    req("read", "90m");
    assert_eq!(prompt(&d, &alice, &[]), "⏳ demo 1h 30m\n");
    req("read", "20m");
    assert_eq!(
        prompt(&d, &alice, &[]),
        "⏳ demo 20m +1\n",
        "the nearest first"
    );
    let pending = d.jit_json(
        Some(&alice),
        &[
            "request",
            "demo/database",
            "orders",
            "--perm",
            "write",
            "--for",
            "10m",
        ],
    );
    assert_eq!(pending["status"], "pending", "{pending}");
    assert_eq!(prompt(&d, &alice, &[]), "⏳ demo 20m +1 · 1 pending\n");
    assert_eq!(
        prompt(&d, &alice, &["--ascii"]),
        "jit demo 20m +1 | 1 pending\n"
    );
    assert_eq!(prompt(&d, &carol, &[]), "", "carol has nothing of her own");
    assert_eq!(prompt(&d, &carol, &["--approvals"]), "1 to approve\n");

    let json: serde_json::Value =
        serde_json::from_str(&prompt(&d, &alice, &["--json"])).expect("json");
    assert_eq!(json["granted"], 2, "{json}");
    assert_eq!(json["pending"], 1, "{json}");
    assert_eq!(json["nearest"]["name"], "demo", "{json}");
    let left = json["nearest"]["left_secs"].as_u64().expect("left_secs");
    assert!((1100..=1200).contains(&left), "{json}");
}

#[test]
fn without_jitd_the_prompt_prints_nothing_and_succeeds() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(bin("jit"))
        .args(["prompt"])
        .env("JIT_SOCKET", dir.path().join("no.sock"))
        .output()
        .expect("run jit");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}
