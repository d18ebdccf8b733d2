//! The connection to jitd: finding the socket, connecting, and calling methods over NDJSON
//! (one JSON-RPC 2.0 object per line each way, framed by `jit_api::wire`).
//!
//! One connection per invocation; calls on it are sequential, numbered from 1. After
//! `events.subscribe`, event notifications arrive between the answers: a call keeps the
//! ones that come before its answer for [`Client::next_event`].

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jit_api::Method;
use jit_api::wire::{decode_event, decode_response, encode_call};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::error::CliError;

/// The socket of a system-wide jitd (run by systemd as root).
pub const SYSTEM_SOCKET: &str = "/run/jit/jitd.sock";

/// How long a plain call may take before jit gives up on the daemon.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting may take (a Unix socket connects at once unless its backlog is full).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The sockets to try, in order.
///
/// `--socket`/`JIT_SOCKET` wins alone. Otherwise the user-mode socket in `user_dir` (see
/// [`user_socket_dir`]) comes first when it exists, then the system socket; a stale user
/// socket (nothing listening) falls through to the system one.
pub fn candidates(
    explicit: Option<&Path>,
    user_dir: Option<OsString>,
    exists: impl Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    if let Some(path) = explicit {
        return vec![path.to_path_buf()];
    }
    let mut paths = Vec::with_capacity(2);
    if let Some(dir) = user_dir.filter(|d| !d.is_empty()) {
        let user = PathBuf::from(dir).join("jitd.sock");
        if exists(&user) {
            paths.push(user);
        }
    }
    paths.push(PathBuf::from(SYSTEM_SOCKET));
    paths
}

/// Where a user-mode jitd puts its socket, as the daemon decides it: `$XDG_RUNTIME_DIR/jit`,
/// or without a runtime dir its state dir, `$XDG_STATE_HOME/jit` (`~/.local/state/jit`).
pub fn user_socket_dir(var: impl Fn(&str) -> Option<OsString>) -> Option<OsString> {
    let nonempty = |name: &str| var(name).filter(|v| !v.is_empty());
    let dir = match nonempty("XDG_RUNTIME_DIR") {
        Some(run) => PathBuf::from(run).join("jit"),
        None => match nonempty("XDG_STATE_HOME") {
            Some(state) => PathBuf::from(state).join("jit"),
            None => PathBuf::from(nonempty("HOME")?).join(".local/state/jit"),
        },
    };
    Some(dir.into_os_string())
}

/// A connection to jitd.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
    /// Event notification lines that came while a call waited for its answer.
    events: VecDeque<String>,
    /// The socket that answered.
    path: PathBuf,
}

impl Client {
    /// Connects to the first socket in `paths` that answers.
    pub async fn connect(paths: &[PathBuf]) -> anyhow::Result<Client> {
        let mut tried = Vec::new();
        for path in paths {
            tried.push(path.clone());
            let connect = tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path)).await;
            let result = match connect {
                Ok(result) => result,
                Err(_) => {
                    return Err(CliError::NoAnswer {
                        method: "connect",
                        after: CONNECT_TIMEOUT,
                    }
                    .into());
                }
            };
            match result {
                Ok(stream) => {
                    let (read, write) = stream.into_split();
                    return Ok(Client {
                        reader: BufReader::new(read),
                        writer: write,
                        next_id: 1,
                        events: VecDeque::new(),
                        path: path.clone(),
                    });
                }
                // No socket file, or a stale one nobody listens on: try the next.
                Err(e)
                    if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {}
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    return Err(CliError::PermissionDenied { path: path.clone() }.into());
                }
                Err(source) => {
                    return Err(CliError::Unreachable {
                        path: path.clone(),
                        source,
                    }
                    .into());
                }
            }
        }
        Err(CliError::NotRunning { tried }.into())
    }

    /// The socket this connection was made on (`jit portal` hands it to the portal).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Calls method `M` and waits up to the default time for its answer.
    pub async fn call<M: Method>(&mut self, params: &M::Params) -> anyhow::Result<M::Output> {
        self.call_within::<M>(params, CALL_TIMEOUT).await
    }

    /// Calls method `M` and waits up to `timeout` for its answer.
    ///
    /// A daemon error comes back as a `jit_api::wire::RpcError` in the chain; a connection
    /// or framing failure as a [`CliError`].
    pub async fn call_within<M: Method>(
        &mut self,
        params: &M::Params,
        timeout: Duration,
    ) -> anyhow::Result<M::Output> {
        let id = self.next_id;
        self.next_id += 1;
        let line = encode_call::<M>(id, params);
        let exchange = async {
            self.writer
                .write_all(line.as_bytes())
                .await
                .map_err(|e| lost(M::NAME, &e))?;
            loop {
                let line = read_line(&mut self.reader, M::NAME).await?;
                if decode_event(&line).is_none() {
                    return Ok::<_, CliError>(line);
                }
                self.events.push_back(line);
            }
        };
        let answer = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| CliError::NoAnswer {
                method: M::NAME,
                after: timeout,
            })??;
        Ok(decode_response::<M>(id, &answer)?)
    }
}

impl Client {
    /// The next event notification line (a subscription must exist), waiting for it as long
    /// as it takes; an error when jitd goes away.
    pub async fn next_event(&mut self) -> Result<String, CliError> {
        if let Some(line) = self.events.pop_front() {
            return Ok(line);
        }
        let line = read_line(&mut self.reader, "events.subscribe")
            .await
            .map_err(|e| {
                CliError::Disconnected(format!(
                    "jitd stopped sending events ({e}); is it restarting? `jit status` says"
                ))
            })?;
        if decode_event(&line).is_some() {
            Ok(line)
        } else {
            Err(CliError::Protocol(format!(
                "jitd sent an answer no call was waiting for: {}",
                line.trim_end()
            )))
        }
    }
}

/// Reads one response line of at most `jit_api::MAX_MESSAGE_BYTES` (plus its newline).
async fn read_line(
    reader: &mut BufReader<OwnedReadHalf>,
    method: &str,
) -> Result<String, CliError> {
    let cap = jit_api::MAX_MESSAGE_BYTES as u64 + 1;
    let mut buf = Vec::new();
    let n = (&mut *reader)
        .take(cap)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|e| lost(method, &e))?;
    if n == 0 {
        return Err(CliError::Protocol(format!(
            "jitd closed the connection without answering {method}"
        )));
    }
    if buf.last() != Some(&b'\n') {
        return Err(CliError::Protocol(if n as u64 >= cap {
            format!(
                "jitd's answer to {method} is longer than {} bytes",
                jit_api::MAX_MESSAGE_BYTES
            )
        } else {
            format!("jitd closed the connection in the middle of answering {method}")
        }));
    }
    String::from_utf8(buf)
        .map_err(|_| CliError::Protocol(format!("jitd's answer to {method} is not UTF-8")))
}

fn lost(method: &str, e: &std::io::Error) -> CliError {
    CliError::Protocol(format!("connection to jitd lost during {method}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jit_api::methods::{IdParams, RequestGet};
    use tokio::net::UnixListener;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    /// Accepts one connection, reads one line, and writes `answer` back as is.
    async fn answer_once(listener: UnixListener, answer: Vec<u8>) {
        let (stream, _) = listener.accept().await.expect("accept");
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        BufReader::new(read)
            .read_line(&mut line)
            .await
            .expect("read");
        // The client may hang up first (oversized answers); that is its right.
        let _ = write.write_all(&answer).await;
    }

    #[test]
    fn nothing_listening_is_not_running() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.sock");
        let stale = dir.path().join("stale.sock");
        // A socket file nobody listens on, as a crashed daemon leaves behind.
        drop(std::os::unix::net::UnixListener::bind(&stale).expect("bind"));
        let err = block_on(Client::connect(&[stale.clone(), missing.clone()]))
            .expect_err("nothing answers");
        match err.downcast_ref::<CliError>() {
            Some(CliError::NotRunning { tried }) => assert_eq!(tried, &vec![stale, missing]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn answers_and_daemon_errors_are_decoded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("answer.sock");
        block_on(async {
            let listener = UnixListener::bind(&path).expect("bind");
            let answer =
                br#"{"jsonrpc":"2.0","id":1,"error":{"code":1001,"message":"no request 9"}}"#;
            let mut answer = answer.to_vec();
            answer.push(b'\n');
            let server = tokio::spawn(answer_once(listener, answer));
            let mut client = Client::connect(std::slice::from_ref(&path))
                .await
                .expect("connect");
            let err = client
                .call::<RequestGet>(&IdParams { id: 9 })
                .await
                .expect_err("refused");
            let rpc = err
                .downcast_ref::<jit_api::wire::RpcError>()
                .expect("rpc error");
            assert_eq!(rpc.kind(), Some(jit_api::ErrorCode::NotFound));
            server.await.expect("server");
        });
    }

    #[test]
    fn oversized_answers_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big.sock");
        block_on(async {
            let listener = UnixListener::bind(&path).expect("bind");
            let answer = vec![b' '; jit_api::MAX_MESSAGE_BYTES + 10];
            let server = tokio::spawn(answer_once(listener, answer));
            let mut client = Client::connect(std::slice::from_ref(&path))
                .await
                .expect("connect");
            let err = client
                .call::<RequestGet>(&IdParams { id: 9 })
                .await
                .expect_err("too long");
            assert!(err.to_string().contains("longer than"), "{err}");
            server.await.expect("server");
        });
    }

    #[test]
    fn events_before_an_answer_are_kept_for_later() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.sock");
        block_on(async {
            let listener = UnixListener::bind(&path).expect("bind");
            let event = jit_api::wire::encode_event(
                3,
                r#"{"kind":"lagged","at":"2026-11-23T22:17:30Z","next":[],"missed":2}"#,
            );
            let mut answer = event.clone().into_bytes();
            answer.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n");
            answer.extend_from_slice(event.as_bytes());
            let server = tokio::spawn(answer_once(listener, answer));
            let mut client = Client::connect(std::slice::from_ref(&path))
                .await
                .expect("connect");
            let params = jit_api::methods::UnsubscribeParams { subscription: 3 };
            client
                .call::<jit_api::methods::EventsUnsubscribe>(&params)
                .await
                .expect("the answer after the first event");
            for _ in 0..2 {
                let line = client.next_event().await.expect("an event");
                assert_eq!(line, event);
            }
            let end = client.next_event().await.expect_err("the stream ended");
            assert!(
                matches!(end, CliError::Disconnected(_)) && end.to_string().contains("restarting"),
                "{end}"
            );
            server.await.expect("server");
        });
    }

    #[test]
    fn explicit_socket_is_the_only_one_tried() {
        let paths = candidates(
            Some(Path::new("/tmp/x.sock")),
            Some("/run/user/1".into()),
            |_| true,
        );
        assert_eq!(paths, vec![PathBuf::from("/tmp/x.sock")]);
    }

    #[test]
    fn user_socket_first_when_it_exists() {
        let paths = candidates(None, Some("/run/user/1000/jit".into()), |_| true);
        assert_eq!(
            paths,
            vec![
                PathBuf::from("/run/user/1000/jit/jitd.sock"),
                PathBuf::from(SYSTEM_SOCKET)
            ]
        );
        let paths = candidates(None, Some("/run/user/1000/jit".into()), |_| false);
        assert_eq!(paths, vec![PathBuf::from(SYSTEM_SOCKET)]);
        let paths = candidates(None, None, |_| true);
        assert_eq!(paths, vec![PathBuf::from(SYSTEM_SOCKET)]);
    }

    #[test]
    fn user_socket_dir_follows_the_daemon() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(*v))
            }
        };
        assert_eq!(
            user_socket_dir(env(&[("XDG_RUNTIME_DIR", "/run/user/7"), ("HOME", "/h")])),
            Some("/run/user/7/jit".into())
        );
        assert_eq!(
            user_socket_dir(env(&[("XDG_STATE_HOME", "/s"), ("HOME", "/h")])),
            Some("/s/jit".into())
        );
        assert_eq!(
            user_socket_dir(env(&[("HOME", "/h")])),
            Some("/h/.local/state/jit".into())
        );
        assert_eq!(user_socket_dir(env(&[])), None);
    }
}
