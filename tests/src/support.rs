//! The daemon under test, its socket client, and helpers to find the built binaries.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jit_api::Method;
use jit_api::wire::{RpcError, decode_response, encode_call};

use crate::users::User;

/// The path of a binary built from this workspace (`jitd`, `jit`).
///
/// Cargo sets `CARGO_BIN_EXE_*` only for the package that owns a binary, so the tests find
/// them next to their own executable (`target/<profile>/deps/..`). Build them first:
/// `cargo build --workspace --bins` (the test command does).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// A short random lower-case name part, unique enough for parallel tests and reruns.
pub fn unique() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

/// Parses an RFC 3339 timestamp field of a JSON answer. Compare times parsed, never as
/// strings: the daemon drops trailing zeros of the fraction (`44.84Z` is after `44.839Z`).
pub fn timestamp(v: &serde_json::Value) -> time::OffsetDateTime {
    let text = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Polls `f` every 20 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A jitd running on its own socket, store and config in a temp dir.
pub struct Daemon {
    dir: tempfile::TempDir,
    /// The socket.
    pub socket: PathBuf,
    /// The state directory.
    pub state: PathBuf,
    /// The config file.
    pub config: PathBuf,
    /// The daemon's log (stderr).
    pub log: PathBuf,
    child: Option<Child>,
    rust_log: String,
    /// Extra environment for jitd at its next (re)start (`JITD_FAILPOINT`, …).
    pub env: Vec<(String, String)>,
    /// A command jitd runs under (it must end by exec'ing its arguments, so the child's
    /// pid is jitd's): `systemd-cat …` for the journald test. Empty: jitd itself.
    pub wrapper: Vec<String>,
}

impl Daemon {
    /// Writes `config` and starts jitd on it, logging at `trace` (tests look for secrets in
    /// everything the daemon could write).
    pub fn start(config: &str) -> Daemon {
        Daemon::start_logging(config, "trace")
    }

    /// Like [`start`](Self::start), with the given `RUST_LOG` (benchmarks use `info`, as in
    /// production).
    pub fn start_logging(config: &str, log: &str) -> Daemon {
        Daemon::start_wrapped(config, log, Vec::new())
    }

    /// Like [`start_logging`](Self::start_logging), with jitd run under `wrapper` (see
    /// [`Daemon::wrapper`]).
    pub fn start_wrapped(config: &str, log: &str, wrapper: Vec<String>) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("jit-e2e-")
            .tempdir()
            .expect("temp dir");
        // Other users (the requesters) must reach the socket inside.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let mut d = Daemon {
            socket: dir.path().join("jitd.sock"),
            state: dir.path().join("state"),
            config: dir.path().join("jit.toml"),
            log: dir.path().join("jitd.log"),
            dir,
            child: None,
            rust_log: log.to_owned(),
            env: Vec::new(),
            wrapper,
        };
        std::fs::write(&d.config, config).expect("write config");
        d.restart();
        d
    }

    /// The temp dir everything lives in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts jitd (again) and waits until it answers.
    pub fn restart(&mut self) {
        if let Err(e) = self.try_restart() {
            panic!("{e}");
        }
    }

    /// True when jitd was started and has exited (a failpoint aborted it, say).
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    /// Starts jitd (again) and waits until it answers; an error when it exits first.
    pub fn try_restart(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "jitd is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut cmd = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin("jitd"));
                c
            }
            None => Command::new(bin("jitd")),
        };
        let child = cmd
            .arg("--system")
            .arg("--config")
            .arg(&self.config)
            .arg("--socket")
            .arg(&self.socket)
            .arg("--state-dir")
            .arg(&self.state)
            .env("RUST_LOG", &self.rust_log)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("JIT_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn jitd");
        self.child = Some(child);
        let socket = self.socket.clone();
        let log_path = self.log.clone();
        let child = self.child.as_mut().expect("child");
        let exited = std::cell::Cell::new(None);
        wait_until(
            Duration::from_secs(15),
            "jitd to answer on its socket",
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    exited.set(Some(status));
                    return Some(());
                }
                let mut s = UnixStream::connect(&socket).ok()?;
                s.write_all(
                    b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"daemon.status\",\"params\":{}}\n",
                )
                .ok()?;
                let mut line = String::new();
                BufReader::new(s).read_line(&mut line).ok()?;
                line.contains("\"result\"").then_some(())
            },
        );
        match exited.get() {
            Some(status) => Err(format!(
                "jitd exited with {status}:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )),
            None => Ok(()),
        }
    }

    /// Kills jitd with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops jitd with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(c.id()).expect("pid")),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A new connection to the socket, as this (root) process.
    pub fn connect(&self) -> Conn {
        Conn::open(&self.socket)
    }

    /// A new connection to the socket made by `user` (see [`Conn::as_user`]).
    pub fn connect_as(&self, user: &User) -> Conn {
        Conn::as_user(&self.socket, user)
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Calls method `M` as root (an admin) on a fresh connection.
    pub fn call<M: Method>(&self, params: &M::Params) -> Result<M::Output, RpcError> {
        self.connect().call::<M>(params)
    }

    /// Runs the `jit` CLI as `user` (or as root with `None`) against this daemon.
    pub fn jit(&self, user: Option<&User>, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin("jit"));
        cmd.args(args)
            .env("JIT_SOCKET", &self.socket)
            .env("NO_COLOR", "1")
            .current_dir("/");
        if let Some(u) = user {
            cmd.uid(u.uid)
                .gid(u.gid)
                .env("HOME", "/")
                .env("USER", &u.name);
        }
        cmd.output().expect("run jit")
    }

    /// Runs `jit --json ARGS` as `user`, expecting success, and parses its output.
    pub fn jit_json(&self, user: Option<&User>, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.jit(user, &all);
        assert!(
            out.status.success(),
            "jit {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "jit {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One connection to the socket: this process's own, or a real user's through
/// `jit-relay` ([`Conn::as_user`]).
pub struct Conn {
    reader: Box<dyn BufRead + Send>,
    writer: Box<dyn Write + Send>,
    next_id: u64,
    relay: Option<Child>,
    child: Option<u32>,
    /// The socket itself, for read timeouts (`None` through a relay).
    stream: Option<UnixStream>,
}

impl Conn {
    fn socket(s: UnixStream) -> Conn {
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        Conn {
            reader: Box::new(BufReader::new(s.try_clone().expect("clone"))),
            stream: Some(s.try_clone().expect("clone")),
            writer: Box::new(s),
            next_id: 1,
            relay: None,
            child: None,
        }
    }

    /// Connects to the socket at `path`.
    pub fn open(path: &Path) -> Conn {
        Conn::socket(UnixStream::connect(path).expect("connect to jitd"))
    }

    /// A connection made by `user`: `jit-relay` runs with the user's uid and gid, so jitd's
    /// peer credentials name the user. The relay has one child process of the user's
    /// ([`Conn::child`]), the only kind `session.register` takes.
    pub fn as_user(path: &Path, user: &User) -> Conn {
        let mut relay = Command::new(bin("jit-relay"))
            .arg(path)
            .uid(user.uid)
            .gid(user.gid)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn jit-relay");
        let writer = relay.stdin.take().expect("relay stdin");
        let mut reader = BufReader::new(relay.stdout.take().expect("relay stdout"));
        let mut first = String::new();
        reader.read_line(&mut first).expect("relay's first line");
        let hello: serde_json::Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("jit-relay as {} said {first:?} ({e})", user.name));
        let child = hello["child"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .expect("relay's child pid");
        Conn {
            reader: Box::new(reader),
            writer: Box::new(writer),
            next_id: 1,
            relay: Some(relay),
            child: Some(child),
            stream: None,
        }
    }

    /// The pid of the relay's child process (a process of the connected user whose parent
    /// is the connected process); `None` on a connection of this process's own.
    pub fn child(&self) -> Option<u32> {
        self.child
    }

    /// Calls `method` with `params` as raw JSON: the result, or the error's code and message.
    pub fn call_value(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, RpcError> {
        let id = self.next_id;
        self.next_id += 1;
        let line =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("write call");
        self.writer.flush().expect("flush call");
        let answer = self.answer_line();
        jit_api::wire::decode_raw::<serde_json::Value>(id, &answer)
    }

    /// The next line that is not a notification: event notifications a subscription on this
    /// connection sends may come before an answer, and a caller of `call` wants the answer.
    fn answer_line(&mut self) -> String {
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("read response");
            let notification = serde_json::from_str::<serde_json::Value>(&line)
                .is_ok_and(|v| v.get("id").is_none() && v.get("method").is_some());
            if !notification {
                return line;
            }
        }
    }

    /// Connects to the socket at `path`, returning the error instead of panicking (the load
    /// run counts a failed connection as an error).
    pub fn try_open(path: &Path) -> std::io::Result<Conn> {
        Ok(Conn::socket(UnixStream::connect(path)?))
    }

    /// Calls method `M`.
    pub fn call<M: Method>(&mut self, params: &M::Params) -> Result<M::Output, RpcError> {
        self.try_call::<M>(params).expect("call over the socket")
    }

    /// Calls method `M`; the outer error is the socket's (write, read, or jitd closed the
    /// connection), the inner one jitd's answer.
    pub fn try_call<M: Method>(
        &mut self,
        params: &M::Params,
    ) -> std::io::Result<Result<M::Output, RpcError>> {
        let id = self.next_id;
        self.next_id += 1;
        self.writer
            .write_all(encode_call::<M>(id, params).as_bytes())?;
        self.writer.flush()?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "jitd closed the connection",
            ));
        }
        Ok(decode_response::<M>(id, &line))
    }

    /// Sends raw bytes (a line must end with `\n`) without reading anything.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write raw");
    }

    /// Reads the next line (an answer or a notification) as JSON; `None` when nothing came
    /// within `timeout` (or the daemon closed the connection).
    pub fn next_line(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        let stream = self
            .stream
            .as_ref()
            .expect("next_line needs a direct socket connection (Conn::open), not a relay");
        stream.set_read_timeout(Some(timeout)).expect("set timeout");
        let mut line = String::new();
        let got = self.reader.read_line(&mut line);
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("set timeout");
        match got {
            Ok(n) if n > 0 => Some(
                serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("line is not JSON ({e}): {line:?}")),
            ),
            _ => None,
        }
    }

    /// Sends raw bytes (a line must end with `\n`) and reads one answer line.
    pub fn raw(&mut self, bytes: &[u8]) -> serde_json::Value {
        self.writer.write_all(bytes).expect("write raw");
        self.writer.flush().expect("flush raw");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read response");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {line:?}"))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(mut relay) = self.relay.take() {
            // Closing its standard input ends the relay, which kills its child.
            self.writer = Box::new(std::io::sink());
            let _ = relay.wait();
        }
    }
}
