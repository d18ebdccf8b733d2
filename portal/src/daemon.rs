//! The portal's side of jitd's socket: one short connection per call (so a slow call never
//! holds up another), and one long-lived `events.subscribe` connection whose events are
//! broadcast to every open page.
//!
//! The portal runs as the user who started it, so jitd's peer credentials name that user:
//! every call is theirs, and nothing the browser sends about who it is counts.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jit_api::Method;
use jit_api::methods::{EventsSubscribe, SubscribeParams};
use jit_api::wire::{RpcError, decode_event, decode_response, encode_call};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::broadcast;

/// How long one call may take before the portal gives up on jitd.
const CALL_TIMEOUT: Duration = Duration::from_secs(40);

/// The longest wait between two attempts to resubscribe after jitd went away.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why a call did not return a result.
#[derive(Debug)]
pub enum CallError {
    /// jitd answered with an error (a refusal a person can act on).
    Daemon(RpcError),
    /// jitd could not be reached, or the connection broke.
    Unreachable(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Daemon(e) => f.write_str(&e.message),
            CallError::Unreachable(e) => write!(f, "{e}"),
        }
    }
}

/// jitd's socket, as `jit` found it.
#[derive(Debug, Clone)]
pub struct Daemon {
    socket: PathBuf,
}

impl Daemon {
    /// The daemon listening on `socket`.
    pub fn new(socket: PathBuf) -> Daemon {
        Daemon { socket }
    }

    /// The socket's path.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Calls method `M` on a connection of its own.
    pub async fn call<M: Method>(&self, params: &M::Params) -> Result<M::Output, CallError> {
        let exchange = async {
            let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
                CallError::Unreachable(format!(
                    "cannot reach jitd at {}: {e}",
                    self.socket.display()
                ))
            })?;
            let (read, mut write) = stream.into_split();
            write
                .write_all(encode_call::<M>(1, params).as_bytes())
                .await
                .map_err(|e| lost(M::NAME, &e))?;
            let mut reader = BufReader::new(read);
            let line = read_line(&mut reader, M::NAME).await?;
            decode_response::<M>(1, &line).map_err(CallError::Daemon)
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                CallError::Unreachable(format!(
                    "jitd did not answer {} within {}s",
                    M::NAME,
                    CALL_TIMEOUT.as_secs()
                ))
            })?
    }

    /// Follows jitd's events forever and sends each one, as the JSON of its `result`, to
    /// `tx`. When the connection breaks it subscribes again (with backoff) and sends
    /// `{"kind":"resync"}` so that pages read the state again: events in between are lost.
    /// `live` says whether the subscription stands, for pages that open later.
    pub async fn follow_events(self, tx: broadcast::Sender<String>, live: Arc<AtomicBool>) {
        let mut backoff = Duration::from_millis(200);
        let mut first = true;
        loop {
            match self.subscribe().await {
                Ok((reader, _write)) => {
                    backoff = Duration::from_millis(200);
                    if !first {
                        let _ = tx.send(r#"{"kind":"resync"}"#.to_owned());
                    }
                    first = false;
                    live.store(true, Ordering::SeqCst);
                    let _ = tx.send(r#"{"kind":"connected"}"#.to_owned());
                    // `_write` lives while events are read: dropping it would end the
                    // connection, and the subscription with it.
                    let why = pump(reader, &tx).await;
                    live.store(false, Ordering::SeqCst);
                    eprintln!("jit-portal: lost jitd's events ({why}); reconnecting");
                    let _ = tx.send(r#"{"kind":"disconnected"}"#.to_owned());
                }
                Err(e) => {
                    if first {
                        eprintln!("jit-portal: cannot follow jitd's events yet: {e}");
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Opens a connection, subscribes to every request the user may see, and returns the
    /// connection's halves once jitd has answered.
    async fn subscribe(
        &self,
    ) -> Result<
        (
            BufReader<tokio::net::unix::OwnedReadHalf>,
            tokio::net::unix::OwnedWriteHalf,
        ),
        CallError,
    > {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| CallError::Unreachable(format!("cannot reach jitd: {e}")))?;
        let (read, mut write) = stream.into_split();
        write
            .write_all(encode_call::<EventsSubscribe>(1, &SubscribeParams::default()).as_bytes())
            .await
            .map_err(|e| lost(EventsSubscribe::NAME, &e))?;
        let mut reader = BufReader::new(read);
        let line = read_line(&mut reader, EventsSubscribe::NAME).await?;
        decode_response::<EventsSubscribe>(1, &line).map_err(CallError::Daemon)?;
        Ok((reader, write))
    }
}

/// Reads event notifications until the connection ends; returns why it ended.
async fn pump(
    mut reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    tx: &broadcast::Sender<String>,
) -> String {
    loop {
        let line = match read_line(&mut reader, "events.subscribe").await {
            Ok(line) => line,
            Err(e) => return e.to_string(),
        };
        match decode_event(&line) {
            Some(Ok(n)) => match serde_json::to_string(&n.result) {
                // Nobody listening is fine: pages read the state when they open.
                Ok(json) => {
                    let _ = tx.send(json);
                }
                Err(e) => return format!("cannot encode an event: {e}"),
            },
            Some(Err(e)) => eprintln!("jit-portal: skipped an event: {e}"),
            None => {}
        }
    }
}

/// Reads one line of at most `jit_api::MAX_MESSAGE_BYTES` (plus its newline).
async fn read_line(
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
    method: &str,
) -> Result<String, CallError> {
    let cap = jit_api::MAX_MESSAGE_BYTES as u64 + 1;
    let mut buf = Vec::new();
    let n = (&mut *reader)
        .take(cap)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|e| lost(method, &e))?;
    if n == 0 || buf.last() != Some(&b'\n') {
        return Err(CallError::Unreachable(format!(
            "jitd closed the connection during {method}"
        )));
    }
    String::from_utf8(buf)
        .map_err(|_| CallError::Unreachable(format!("jitd's answer to {method} is not UTF-8")))
}

fn lost(method: &str, e: &std::io::Error) -> CallError {
    CallError::Unreachable(format!("connection to jitd lost during {method}: {e}"))
}
