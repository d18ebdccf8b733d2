//! The Neovim plugin (`editors/nvim`): `nvim --headless` runs as a real Unix user (identity
//! comes from the socket's peer credentials) with a Lua script from `editors/nvim/tests/`
//! that drives the plugin against the real jitd — statusline, request, expiry warning,
//! `:Jit list`, `extend`, `connect`, `approve`, `revoke`, a daemon restart — and writes what
//! it saw to a JSON file; the test asserts on that and on jitd's own state. A second script
//! checks the plugin's pure parts (durations, times, socket discovery, options, `:help jit`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin};
use serde_json::Value;

/// How long one nvim run may take in all (its own waits are bounded well below this).
const NVIM_LIMIT: Duration = Duration::from_secs(150);

/// A dry-run integration; `demo-read` (auto, one extension) for `%dev`, and `demo-write`
/// for `%ops`, approved by `%dev`. Warnings 20 s before the end.
fn config(dev: &Group, ops: &Group) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]
expiry_warnings = ["20s"]

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read", "write"] }}
message = "Sandbox: nothing here is real."

[[flows]]
name = "demo-read"
requesters = ["%{dev}", "%{ops}"]
integration = "demo"
permissions = ["read"]
max_duration = "1h"
max_extensions = 1

[[flows]]
name = "demo-write"
requesters = ["%{ops}"]
integration = "demo"
permissions = ["write"]
approvers = ["%{dev}"]
max_duration = "1h"
"#,
        dev = dev.name,
        ops = ops.name,
    )
}

/// Copies `from` into `to` (a directory tree of small files), readable by everyone.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
    }
}

/// A copy of `editors/nvim` in the daemon's temp dir (the user must read it, and
/// `:helptags` writes into its `doc/`), and a home directory for `user`.
struct Setup {
    plugin: PathBuf,
    home: PathBuf,
}

fn prepare(dir: &Path, user: Option<&User>) -> Setup {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/nvim");
    let plugin = dir.join("nvim-plugin");
    copy_tree(&source, &plugin);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    if let Some(u) = user {
        std::os::unix::fs::chown(&home, Some(u.uid), Some(u.gid)).expect("chown home");
        std::os::unix::fs::chown(plugin.join("doc"), Some(u.uid), Some(u.gid)).expect("chown doc");
    }
    Setup { plugin, home }
}

/// Starts `nvim --headless` as `user` (root with `None`) on the plugin copy, running `script`
/// (a file under `tests/`), with `env` added.
fn spawn_nvim(s: &Setup, user: Option<&User>, script: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new("nvim");
    cmd.arg("--headless")
        .arg("--clean")
        .arg("-n")
        .arg("--cmd")
        .arg(format!("set rtp^={}", s.plugin.display()))
        .arg("-c")
        .arg(format!(
            "luafile {}",
            s.plugin.join("tests").join(script).display()
        ))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &s.home)
        .env("XDG_CONFIG_HOME", s.home.join(".config"))
        .env("XDG_DATA_HOME", s.home.join(".local/share"))
        .env("XDG_STATE_HOME", s.home.join(".local/state"))
        .env("XDG_CACHE_HOME", s.home.join(".cache"))
        .env("NVIM_LOG_FILE", s.home.join("nvim.log"))
        .env("LANG", "C.UTF-8")
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .current_dir(&s.home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(u) = user {
        cmd.uid(u.uid).gid(u.gid).env("USER", &u.name);
    }
    cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run nvim ({e}): install Neovim 0.7 or newer (scripts/test installs Debian's neovim)")
    })
}

/// Waits for nvim to exit (at most [`NVIM_LIMIT`]), calling `each` while it runs; returns
/// the result file's JSON, panicking with nvim's output when it failed.
fn finish(mut child: Child, out: &Path, mut each: impl FnMut()) -> Value {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > NVIM_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "nvim still running after {NVIM_LIMIT:?}; it wrote: {}",
                std::fs::read_to_string(out).unwrap_or_default()
            );
        }
        each();
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().expect("nvim output");
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let result: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(
        status.success() && result.get("error").is_none_or(Value::is_null),
        "nvim failed ({status}) at step {}: {}\nresult: {text}\nstdout: {}\nstderr: {}",
        result["step"],
        result["error"],
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    result
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Seconds in a statusline's countdown ("⏳ demo 19s" → 19, "⏳ demo 2m" → 120).
fn countdown(line: &str) -> u64 {
    let last = line.rsplit(' ').next().unwrap_or_default();
    let (n, unit) = last.split_at(last.len() - 1);
    let n: u64 = n
        .parse()
        .unwrap_or_else(|_| panic!("no countdown in {line:?}"));
    match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => panic!("no countdown in {line:?}"),
    }
}

#[test]
fn nvim_plugin_requests_counts_down_warns_extends_approves_reconnects_and_revokes() {
    let dev = Group::create("dev");
    let ops = Group::create("ops");
    let alice = User::create("a", &[&dev]);
    let bob = User::create("b", &[&ops]);
    let mut d = Daemon::start(&config(&dev, &ops));
    // bob has a grant of his own (not alice's to show) and a request waiting for alice.
    let theirs = d.jit_json(
        Some(&bob),
        &["request", "demo/database", "x", "-p", "read", "--for", "1h"],
    );
    let review = d.jit_json(
        Some(&bob),
        &[
            "request",
            "demo/database",
            "y",
            "-p",
            "write",
            "--reason",
            "migrate",
        ],
    );
    let review_id = review["id"].as_u64().expect("id");
    assert_eq!(review["status"], "pending", "{review}");

    let s = prepare(d.dir(), Some(&alice));
    let out = s.home.join("result.json");
    let phase = s.home.join("phase");
    let child = spawn_nvim(
        &s,
        Some(&alice),
        "e2e.lua",
        &[
            ("JIT_NVIM_SOCKET", d.socket.display().to_string()),
            ("JIT_NVIM_CLI", bin("jit").display().to_string()),
            ("JIT_NVIM_OUT", out.display().to_string()),
            ("JIT_NVIM_PHASE", phase.display().to_string()),
            ("JIT_NVIM_REVIEW", review_id.to_string()),
        ],
    );
    let mut restarted = false;
    let r = finish(child, &out, || {
        // The script asks for a restart by writing the phase file.
        if !restarted && std::fs::read_to_string(&phase).is_ok_and(|p| p == "restart") {
            restarted = true;
            d.stop();
            d.restart();
        }
    });
    assert!(restarted, "the script never asked for a restart: {r}");
    let id = r["request"]["id"].as_u64().expect("request id");
    let ids = id.to_string();

    // Who the plugin is: alice, from the peer credentials.
    assert_eq!(r["me"], alice.name.as_str());
    // bob's grant is not alice's: the statusline starts empty.
    assert_eq!(r["statusline_before"], "", "{r}");
    assert_ne!(theirs["id"].as_u64(), Some(id));

    // Approving bob's request from the editor.
    assert_eq!(r["waiting"], serde_json::json!([review_id]), "{r}");
    assert_eq!(strings(&r["complete_approve"]), [review_id.to_string()]);
    let approved = d.jit_json(Some(&bob), &["show", &review_id.to_string()]);
    assert_eq!(approved["status"], "granted", "{approved}");
    assert_eq!(
        approved["approval"]["approvals"][0]["by"],
        alice.name.as_str()
    );
    assert_eq!(approved["approval"]["approvals"][0]["reason"], "looks fine");

    // The request went through the API; the statusline shows it and counts down.
    assert_eq!(r["request"]["status"], "granting", "{r}");
    let granted = r["statusline_granted"].as_str().expect("statusline");
    assert!(granted.starts_with("⏳ demo "), "{granted:?}");
    let (first, later) = (
        countdown(granted),
        countdown(r["statusline_later"].as_str().expect("later")),
    );
    assert!((15..=25).contains(&first), "{granted:?}");
    assert!(later < first, "the countdown did not go down: {r}");
    let note = r["granted_note"]["msg"].as_str().expect("granted note");
    assert!(
        note.contains("Sandbox: nothing here is real."),
        "the admin's message: {note:?}"
    );

    // The expiry warning, as a warning, with how to extend.
    let warning = &r["warning"];
    assert_eq!(warning["level"], 3, "vim.log.levels.WARN: {warning}");
    let text = warning["msg"].as_str().expect("warning");
    assert!(
        text.starts_with(&format!("jit: request {id} (demo) expires in "))
            && text.contains(&format!(":Jit extend {id} ")),
        "{text:?}"
    );

    // :Jit list.
    assert_eq!(
        r["list_name"]
            .as_str()
            .map(|n| n.ends_with("jit://requests")),
        Some(true)
    );
    let list = strings(&r["list"]);
    assert!(
        list.iter()
            .any(|l| l.trim_start().starts_with(&format!("{id} "))
                && l.contains("granted")
                && l.contains("read on demo/database orders")),
        "{list:#?}"
    );

    // :Jit extend 2m.
    assert_eq!(strings(&r["complete_extend"]), [ids.as_str()]);
    assert_eq!(
        r["statusline_extended"], "⏳ demo 2m",
        "extended by 2m with a few seconds left: {r}"
    );
    assert!(
        r["extended_note"]["msg"]
            .as_str()
            .is_some_and(|m| m.contains("extended: expires in 2m")),
        "{r}"
    );

    // :Jit connect ran `jit connect ID` in a terminal, which said what a dry run offers.
    assert_eq!(r["connect_buftype"], "terminal");
    assert_eq!(r["connect_request"], id);
    assert_ne!(r["connect_exit"], 0, "{r}");
    let said = r["connect_output"].as_str().expect("connect output");
    assert!(
        said.contains("jit: session demo offers no way to connect"),
        "the terminal shows what `jit connect` said: {said:?}"
    );

    // Bad input: clear errors.
    let errors: Vec<String> = r["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["msg"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("\"abc\" is not a request number: :Jit extend ID DURATION")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("unknown subcommand \"frobnicate\"; try :Jit approve, cancel")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("no request 99999 that you can see")),
        "{errors:#?}"
    );

    // The restart: shown offline, then back.
    assert_eq!(
        r["statusline_offline"]
            .as_str()
            .map(|l| l.ends_with(" (offline)")),
        Some(true),
        "{r}"
    );
    let back = r["statusline_reconnected"].as_str().expect("reconnected");
    assert!(
        back.starts_with("⏳ demo ") && !back.contains("offline"),
        "{back:?}"
    );

    // :Jit revoke emptied the statusline; jitd agrees.
    assert_eq!(r["statusline_after_revoke"], "");
    let shown = d.jit_json(Some(&alice), &["show", &ids]);
    assert_eq!(shown["status"], "revoked", "{shown}");
    assert_eq!(
        shown["end_reason"],
        format!("revoked by {}: done in nvim", alice.name),
        "{shown}"
    );
    let ext = shown["extensions"].as_array().expect("extensions");
    assert_eq!(ext.len(), 1, "{shown}");
    assert_eq!(ext[0]["added_secs"], 120);
    assert_eq!(ext[0]["reason"], "nvim needs more");
    assert!(
        strings(&r["closed_list"])
            .iter()
            .any(|l| l.trim_start().starts_with(&format!("{id} ")) && l.contains("revoked")),
        "{r}"
    );

    // :Jit request prompted for what alice's catalog offers; :Jit revoke asked which grant.
    let prompted = r["prompted"].as_u64().expect("prompted request");
    let asked = r["prompts"].as_array().expect("prompts");
    assert_eq!(asked[0]["prompt"], "Request access to:", "{asked:#?}");
    assert_eq!(
        strings(&asked[0]["items"]),
        ["demo (dry-run) — flow demo-read, granted at once, up to 1h, dry run"],
        "only the flow that names alice's group"
    );
    assert!(
        asked.iter().any(|p| p["prompt"]
            .as_str()
            .is_some_and(|t| t.starts_with("Duration (at most 1h)"))),
        "{asked:#?}"
    );
    let last = asked.last().expect("the revoke picker");
    assert_eq!(last["prompt"], "Revoke:");
    let picked = strings(&last["items"]);
    assert_eq!(picked.len(), 1, "{picked:?}");
    assert!(
        picked[0].starts_with(&format!("{prompted}  read on demo/database ")),
        "{picked:?}"
    );
    assert_eq!(
        r["statusline_prompted"], "⏳ demo 1m",
        "90s left, shown as jit shows it"
    );
    let shown = d.jit_json(Some(&alice), &["show", &prompted.to_string()]);
    assert_eq!(shown["status"], "revoked", "{shown}");
    assert_eq!(shown["duration_secs"], 90, "{shown}");
    assert_eq!(shown["justification"], "asked in nvim", "{shown}");
    let mut resources = strings(&shown["entries"][0]["resources"]);
    resources.sort();
    assert_eq!(resources, ["audit", "logs"], "{shown}");

    // Every statusline the plugin announced: empty, the countdown, offline, back, empty.
    let seen = strings(&r["statuslines"]);
    assert_eq!(seen.first().map(String::as_str), Some(""), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some(""), "{seen:?}");
    assert!(seen.iter().any(|l| l.ends_with("(offline)")), "{seen:?}");

    let complete = strings(&r["complete"]);
    assert_eq!(
        complete,
        [
            "approve", "cancel", "connect", "extend", "list", "reject", "request", "revoke",
            "status"
        ]
    );
}

#[test]
fn nvim_plugin_pure_parts_and_help() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = prepare(dir.path(), None);
    let out = s.home.join("result.json");
    let child = spawn_nvim(
        &s,
        None,
        "unit.lua",
        &[("JIT_NVIM_OUT", out.display().to_string())],
    );
    let r = finish(child, &out, || {});
    let failed = r["failed"].as_array().expect("failed");
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(r["passed"].as_u64().expect("passed") >= 15, "{r}");
}
