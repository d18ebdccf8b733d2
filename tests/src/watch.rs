//! A `jit watch` running as some user against the daemon under test, its output read as it
//! comes, with bounded waits for the lines a test expects.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Daemon, bin};
use crate::users::User;

/// A running `jit watch`; killed when dropped.
pub struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stdout line read so far, in order.
    pub seen: Vec<String>,
}

impl Daemon {
    /// Starts `jit watch ARGS` as `user` (root with `None`) and waits until it is subscribed.
    /// Add `--json` to `args` for JSON lines.
    pub fn watch(&self, user: Option<&User>, args: &[&str]) -> Watch {
        let mut cmd = Command::new(bin("jit"));
        cmd.arg("watch")
            .args(args)
            .env("JIT_SOCKET", &self.socket)
            .env("NO_COLOR", "1")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(u) = user {
            cmd.uid(u.uid)
                .gid(u.gid)
                .env("HOME", "/")
                .env("USER", &u.name);
        }
        let mut child = cmd.spawn().expect("run jit watch");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // `jit watch` says on stderr once it is subscribed.
        let (ready_tx, ready) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = ready_tx.send(line);
            }
        });
        match ready.recv_timeout(Duration::from_secs(10)) {
            Ok(line) if line.starts_with("watching") => {}
            other => panic!("jit watch did not start: {other:?}"),
        }
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }
}

impl Watch {
    /// Reads lines until one satisfies `pred` (lines before it are kept in `seen`), or panics
    /// after `timeout` naming `what` and showing what came.
    pub fn until(&mut self, timeout: Duration, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "timed out after {timeout:?} waiting for {what}; jit watch printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// [`Watch::until`] for `--json` output: the first event of `kind` about request `id`.
    pub fn event(&mut self, timeout: Duration, kind: &str, id: u64) -> Value {
        let line = self.until(timeout, &format!("a {kind} event of request {id}"), |l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|v| v["kind"] == kind && v["request"]["id"] == id)
        });
        serde_json::from_str(&line).expect("JSON")
    }

    /// Reads whatever comes within `quiet` of the last line, into `seen`.
    pub fn settle(&mut self, quiet: Duration) {
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            self.seen.push(line);
        }
    }

    /// The `--json` events seen so far.
    pub fn events(&self) -> Vec<Value> {
        self.seen
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The kinds of the `--json` events seen so far about request `id`, in order.
    pub fn kinds_of(&self, id: u64) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| e["request"]["id"] == id)
            .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
