//! The New Request wizard (`jit request` with no target, on a terminal), driven through a
//! real pseudo-terminal: tmux runs the real `jit` as a real Unix user against a real jitd,
//! `send-keys` types, `capture-pane` reads the screen. A walk through every step offers
//! only what the catalog allows, shows inline errors for a resource no pattern allows, a
//! duration over the maximum and a justification that misses the pattern, then submits and
//! sees "Access granted"; Esc and Ctrl-C abort with 130 and create nothing; without a
//! terminal `jit request` is a usage error that says the wizard needs one; Ctrl-C while
//! waiting for approval leaves the request pending.

use std::process::{Command, Output};
use std::time::Duration;

use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin, unique, wait_until};
use serde_json::Value;

/// How long any one screen may take to appear.
const T: Duration = Duration::from_secs(20);

/// A dry-run integration with two resource types; for `%dev`: `demo-rw` (read or write on
/// `orders`, `billing` and `report_*`, auto, 30m by default and at most 2h, justification
/// like `INC-42`), `demo-schema` (read on any schema, approved by root), and the bundle flow `oncall`. The
/// integration's `admin` permission is in no flow.
fn config(dev: &Group) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read", "write", "admin"], schema = ["read"] }}

[[bundles]]
name = "oncall"
[[bundles.entries]]
integration = "demo"
resource_type = "database"
resources = ["orders"]
permissions = ["read"]

[[flows]]
name = "demo-rw"
requesters = ["%{dev}"]
integration = "demo"
resource_types = ["database"]
resources = ["orders", "billing", "report_*"]
permissions = ["read", "write"]
approval = "auto"
default_duration = "30m"
max_duration = "2h"
justification_pattern = "^INC-[0-9]+"

[[flows]]
name = "demo-schema"
requesters = ["%{dev}"]
integration = "demo"
resource_types = ["schema"]
resources = ["*"]
permissions = ["read"]
approvers = ["root"]
max_duration = "1h"

[[flows]]
name = "oncall"
requesters = ["%{dev}"]
bundles = ["oncall"]
approval = "auto"
max_duration = "1h"
"#,
        dev = dev.name
    )
}

/// A tmux server of its own, killed (with what runs in it) on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        Tmux {
            socket: format!("jit-wizard-{}", unique()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (scripts/test installs it)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts `jit request` as `user` in a 120x40 window named `name`; the window stays
    /// with `WIZARD-EXIT=<code>` once jit exits (the shell around it outlives a Ctrl-C, as
    /// an interactive one does).
    fn start(&self, d: &Daemon, user: &User, name: &str) {
        let script = format!(
            "trap : INT; setpriv --reuid={uid} --regid={gid} --init-groups env -i TERM=xterm-256color \
             NO_COLOR=1 HOME=/ USER={user} JIT_SOCKET={socket} {jit} request; \
             echo WIZARD-EXIT=$?; sleep 600",
            uid = user.uid,
            gid = user.gid,
            user = user.name,
            socket = d.socket.display(),
            jit = bin("jit").display(),
        );
        self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "120",
            "-y",
            "40",
            "sh",
            "-c",
            &script,
        ]);
    }

    fn keys(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types `text` literally.
    fn type_text(&self, name: &str, text: &str) {
        self.run(&["send-keys", "-t", name, "-l", text]);
    }

    fn screen(&self, name: &str) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-J", "-t", name]).stdout)
            .into_owned()
    }

    /// Waits until the screen shows `text`; returns the screen.
    fn wait_for(&self, name: &str, text: &str) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(T, text, || {
                last = self.screen(name);
                last.contains(text).then(|| last.clone())
            })
        }));
        found.unwrap_or_else(|_| panic!("the screen never showed {text:?}; it shows:\n{last}"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// Every request in the daemon, open and closed, as an admin sees them.
fn requests(d: &Daemon) -> Vec<Value> {
    let mut all = Vec::new();
    for args in [&["ls", "--all"][..], &["ls", "--all", "--closed"]] {
        all.extend(d.jit_json(None, args).as_array().expect("a list").clone());
    }
    all
}

#[test]
fn the_wizard_walks_every_step_and_offers_only_what_the_catalog_allows() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&dev));
    let tmux = Tmux::new();
    let w = "walk";
    tmux.start(&d, &alice, w);

    // Integration or bundle: both offered.
    let s = tmux.wait_for(w, "Integration (or bundle):");
    assert!(s.contains("demo (dry-run)"), "{s}");
    assert!(
        s.contains("bundle oncall: read on demo/database orders"),
        "{s}"
    );
    tmux.keys(w, &["Enter"]);

    // Resource type: the two some flow allows.
    let s = tmux.wait_for(w, "Resource type:");
    assert!(s.contains("database") && s.contains("schema"), "{s}");
    tmux.keys(w, &["Enter"]);

    // Resources: the listed ones, filtered by typing; the pattern is free entry.
    let s = tmux.wait_for(w, "Resources:");
    assert!(s.contains("orders") && s.contains("billing"), "{s}");
    assert!(
        !s.contains("report_*"),
        "a pattern is not a pickable resource: {s}"
    );
    tmux.type_text(w, "bil");
    wait_until(T, "the filter to leave only billing", || {
        let s = tmux.screen(w);
        (s.contains("billing") && !s.contains("orders")).then_some(())
    });
    tmux.keys(w, &["Space", "Enter"]);
    tmux.wait_for(w, "More resources matching report_*");
    tmux.type_text(w, "payroll");
    tmux.keys(w, &["Enter"]);
    tmux.wait_for(w, "\"payroll\" matches none of report_*");
    for _ in 0.."payroll".len() {
        tmux.keys(w, &["BSpace"]);
    }
    tmux.type_text(w, "report_q1");
    tmux.keys(w, &["Enter"]);

    // Permissions: what the flow allows, not the integration's `admin`.
    let s = tmux.wait_for(w, "Permissions:");
    assert!(s.contains("] read") && s.contains("] write"), "{s}");
    assert!(
        !s.contains("] admin"),
        "a permission no flow allows is offered: {s}"
    );
    tmux.keys(w, &["Space", "Enter"]);

    // Duration: the flow's default and maximum; over it is refused inline.
    let s = tmux.wait_for(w, "Duration:");
    assert!(s.contains("at most 2h (Enter for 30m)"), "{s}");
    tmux.type_text(w, "3h");
    tmux.keys(w, &["Enter"]);
    tmux.wait_for(w, "at most 2h on this access flow");
    tmux.keys(w, &["BSpace", "BSpace"]);
    tmux.type_text(w, "1h");
    tmux.keys(w, &["Enter"]);

    // Justification: the pattern, checked inline.
    let s = tmux.wait_for(w, "Justification:");
    assert!(s.contains("required, matching ^INC-[0-9]+"), "{s}");
    tmux.type_text(w, "because");
    tmux.keys(w, &["Enter"]);
    tmux.wait_for(w, "the justification must contain a match for ^INC-[0-9]+");
    for _ in 0.."because".len() {
        tmux.keys(w, &["BSpace"]);
    }
    tmux.type_text(w, "INC-42 wizard");
    tmux.keys(w, &["Enter"]);

    // The summary, then submit and wait.
    let s = tmux.wait_for(w, "Submit this request?");
    assert!(
        s.contains("read on demo/database billing, report_q1"),
        "{s}"
    );
    assert!(s.contains("demo-rw (approval: automatic)"), "{s}");
    assert!(requests(&d).is_empty(), "nothing before the confirm");
    tmux.keys(w, &["Enter"]);
    let s = tmux.wait_for(w, "WIZARD-EXIT=");
    assert!(s.contains("Access granted"), "{s}");
    assert!(s.contains("WIZARD-EXIT=0"), "{s}");

    let all = requests(&d);
    assert_eq!(all.len(), 1, "{all:?}");
    let r = &all[0];
    assert_eq!(r["status"], "granted", "{r}");
    assert_eq!(r["flow"], "demo-rw");
    assert_eq!(r["duration_secs"], 3600);
    assert_eq!(r["justification"], "INC-42 wizard");
    assert_eq!(r["entries"][0]["integration"], "demo");
    assert_eq!(r["entries"][0]["resource_type"], "database");
    assert_eq!(
        r["entries"][0]["resources"],
        serde_json::json!(["billing", "report_q1"])
    );
    assert_eq!(r["entries"][0]["permissions"], serde_json::json!(["read"]));
}

#[test]
fn esc_or_ctrl_c_aborts_with_130_and_creates_nothing() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&dev));
    let tmux = Tmux::new();

    // Esc at the first step.
    tmux.start(&d, &alice, "esc");
    tmux.wait_for("esc", "Integration (or bundle):");
    tmux.keys("esc", &["Escape"]);
    let s = tmux.wait_for("esc", "WIZARD-EXIT=");
    assert!(s.contains("WIZARD-EXIT=130"), "{s}");
    assert!(s.contains("aborted; nothing was requested"), "{s}");

    // Ctrl-C at the last step before the confirm, the bundle picked.
    tmux.start(&d, &alice, "ctrlc");
    tmux.wait_for("ctrlc", "Integration (or bundle):");
    tmux.keys("ctrlc", &["Down", "Enter"]);
    tmux.wait_for("ctrlc", "Duration:");
    tmux.keys("ctrlc", &["Enter"]);
    tmux.wait_for("ctrlc", "Justification:");
    tmux.keys("ctrlc", &["C-c"]);
    let s = tmux.wait_for("ctrlc", "WIZARD-EXIT=");
    assert!(s.contains("WIZARD-EXIT=130"), "{s}");

    assert!(
        requests(&d).is_empty(),
        "an aborted wizard created a request"
    );

    // Without a terminal: the usage error, saying why.
    let out = d.jit(Some(&alice), &["request"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wizard, which needs a terminal"), "{err}");
    assert!(requests(&d).is_empty());
}

#[test]
fn ctrl_c_while_waiting_leaves_the_request_and_says_how_to_follow_it() {
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let d = Daemon::start(&config(&dev));
    let tmux = Tmux::new();
    let w = "wait";
    tmux.start(&d, &alice, w);
    tmux.wait_for(w, "Integration (or bundle):");
    tmux.keys(w, &["Enter"]);
    tmux.wait_for(w, "Resource type:");
    tmux.keys(w, &["Down", "Enter"]);
    // `*` lists nothing to pick: free entry only, and at least one name.
    tmux.wait_for(w, "Resources matching * (space-separated):");
    tmux.keys(w, &["Enter"]);
    tmux.wait_for(w, "name at least one resource");
    tmux.type_text(w, "public");
    tmux.keys(w, &["Enter"]);
    let s = tmux.wait_for(w, "Duration:");
    assert!(
        !s.contains("Permissions:"),
        "one permission needs no question: {s}"
    );
    tmux.keys(w, &["Enter"]);
    let s = tmux.wait_for(w, "Justification:");
    assert!(s.contains("optional: Enter to skip"), "{s}");
    tmux.keys(w, &["Enter"]);
    let s = tmux.wait_for(w, "Submit this request?");
    assert!(s.contains("approval: manual, by root"), "{s}");
    tmux.keys(w, &["Enter"]);
    tmux.wait_for(w, "Ctrl-C stops waiting");
    tmux.keys(w, &["C-c"]);
    let s = tmux.wait_for(w, "WIZARD-EXIT=");
    assert!(s.contains("WIZARD-EXIT=4"), "{s}");
    assert!(s.contains("request 1 stays as it is"), "{s}");
    assert!(s.contains("`jit show 1`"), "{s}");
    let all = requests(&d);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["status"], "pending");
    assert_eq!(all[0]["entries"][0]["resource_type"], "schema");
    assert_eq!(
        all[0]["entries"][0]["resources"],
        serde_json::json!(["public"])
    );
}
