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
        assert!(self.child.is_none(), "jitd is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(bin("jitd"))
            .arg("--system")
            .arg("--config")
            .arg(&self.config)
            .arg("--socket")
            .arg(&self.socket)
            .arg("--state-dir")
            .arg(&self.state)
            .env("RUST_LOG", &self.rust_log)
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
        wait_until(
            Duration::from_secs(15),
            "jitd to answer on its socket",
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "jitd exited with {status}:\n{}",
                        std::fs::read_to_string(&log_path).unwrap_or_default()
                    );
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
        let s = UnixStream::connect(&self.socket).expect("connect to jitd");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        Conn {
            reader: BufReader::new(s.try_clone().expect("clone")),
            writer: s,
            next_id: 1,
        }
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

/// One connection to the socket.
pub struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl Conn {
    /// Connects to the socket at `path`.
    pub fn open(path: &Path) -> Conn {
        Conn::try_open(path).expect("connect to jitd")
    }

    /// Connects to the socket at `path`, returning the error instead of panicking (the load
    /// run counts a failed connection as an error).
    pub fn try_open(path: &Path) -> std::io::Result<Conn> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
            next_id: 1,
        })
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
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "jitd closed the connection",
            ));
        }
        Ok(decode_response::<M>(id, &line))
    }

    /// Sends raw bytes (a line must end with `\n`) and reads one answer line.
    pub fn raw(&mut self, bytes: &[u8]) -> serde_json::Value {
        self.writer.write_all(bytes).expect("write raw");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read response");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {line:?}"))
    }
}
