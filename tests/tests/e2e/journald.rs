//! jitd under systemd logs to the journal with structured fields, and no secret reaches it.
//!
//! A real `systemd-journald` (Debian's, run by the test when none is running: machines built
//! from container images have no systemd as PID 1) receives the log. jitd is started the way
//! systemd starts a service: stderr is a journal stream (`systemd-cat`) and `JOURNAL_STREAM`
//! names it (`<dev>:<inode>` of stderr, set by a shell that then execs jitd). The journal is
//! read back with `journalctl`.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use jit_tests::pg::{self, TestDb};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, wait_until};
use serde_json::Value;

const SOCKET: &str = "/run/systemd/journal/socket";

/// The journal: the running journald, or one this test starts (and stops).
struct Journald {
    ours: Option<Child>,
    /// The socket directory, when this test made it (removed again at the end).
    made_dir: bool,
}

impl Journald {
    fn ensure() -> Journald {
        let live = || {
            UnixDatagram::unbound()
                .and_then(|s| s.connect(SOCKET))
                .is_ok()
        };
        if live() {
            return Journald {
                ours: None,
                made_dir: false,
            };
        }
        let program = [
            "/lib/systemd/systemd-journald",
            "/usr/lib/systemd/systemd-journald",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("systemd-journald is not installed: apt-get install systemd (scripts/test does)");
        let made_dir = !Path::new("/run/systemd/journal").exists();
        std::fs::create_dir_all("/run/systemd/journal").expect("mkdir /run/systemd/journal");
        let child = Command::new(program)
            .spawn()
            .expect("start systemd-journald");
        let j = Journald {
            ours: Some(child),
            made_dir,
        };
        wait_until(Duration::from_secs(10), "journald's socket", || {
            live().then_some(())
        });
        j
    }
}

impl Drop for Journald {
    fn drop(&mut self) {
        if let Some(mut c) = self.ours.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.made_dir {
            let _ = std::fs::remove_dir_all("/run/systemd/journal");
        }
    }
}

/// Every journal entry jitd (pid `pid`) wrote, as JSON objects.
fn entries(pid: u32) -> Vec<Value> {
    let out = Command::new("journalctl")
        .args(["--no-pager", "-o", "json", &format!("_PID={pid}")])
        .output()
        .expect("journalctl");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn field<'a>(e: &'a Value, name: &str) -> &'a str {
    e[name].as_str().unwrap_or_default()
}

#[test]
fn under_systemd_jitd_logs_structured_entries_to_the_journal_and_no_secret() {
    let _journal = Journald::ensure();
    let dev = Group::create("dev");
    let alice = User::create("a", &[&dev]);
    let db = TestDb::create();
    let prefix = crate::prefix();
    // An admin role with a password, so that the integration's URL holds a secret too.
    let admin = pg::SecretAdmin::create(&prefix);
    let url_password = admin.password.clone();
    let config = admin.config(&prefix, &dev.name, &db.name);
    // stderr a journal stream, JOURNAL_STREAM naming it: what systemd gives a service.
    let wrapper = [
        "systemd-cat",
        "-t",
        "jitd-e2e",
        "sh",
        "-c",
        r#"JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" "$@""#,
    ]
    .map(str::to_owned)
    .to_vec();
    let mut d = Daemon::start_wrapped(&config, "trace", wrapper);
    let pid = d.pid();
    let (id, _, secret) = pg::grant_and_reveal(&d, &alice, &db.name);
    let out = d.jit(None, &["revoke", &id]);
    assert!(out.status.success(), "{out:?}");
    d.stop();

    let all = wait_until(
        Duration::from_secs(10),
        "jitd's last entry in the journal",
        || {
            let all = entries(pid);
            all.iter()
                .any(|e| field(e, "MESSAGE") == "jitd stopped")
                .then_some(all)
        },
    );
    let native: Vec<&Value> = all
        .iter()
        .filter(|e| field(e, "_TRANSPORT") == "journal")
        .collect();
    assert!(
        native
            .iter()
            .all(|e| field(e, "SYSLOG_IDENTIFIER") == "jitd"),
        "every entry is jitd's"
    );
    let serving = native
        .iter()
        .find(|e| field(e, "MESSAGE") == "jitd is serving")
        .unwrap_or_else(|| panic!("no \"jitd is serving\" entry: {all:#?}"));
    assert_eq!(field(serving, "PRIORITY"), "6", "info: {serving}");
    assert!(
        field(serving, "F_STORE").ends_with("jit.redb"),
        "the event's fields are journal fields: {serving}"
    );
    assert!(
        native.iter().any(|e| field(e, "PRIORITY") == "7"),
        "the filter (trace) reaches the journal too"
    );
    assert!(
        all.iter().all(|e| field(e, "_TRANSPORT") != "stdout"),
        "nothing went to stderr as text under the journal: {all:#?}"
    );
    assert!(
        d.log_text().is_empty(),
        "stderr was the journal, not the harness's log file"
    );
    let text = serde_json::to_string(&all).expect("json");
    assert!(
        !text.contains(&url_password),
        "the URL's password is in the journal"
    );
    assert!(
        !text.contains(&secret),
        "a revealed credential is in the journal"
    );
    drop(d);
    drop(db);
    drop(admin);
}
