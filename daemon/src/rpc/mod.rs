//! The socket: JSON-RPC 2.0 through jsonrpsee, framed as newline-delimited JSON on one
//! Unix socket, with each connection's caller taken from its peer credentials.
//!
//! Invariant: only this module knows the transport and jsonrpsee. Handlers turn wire
//! parameters into engine calls and engine errors into stable error codes.
//!
//! Per connection: the peer's uid is read at accept and mapped to a [`Caller`], which is
//! put into a clone of the method table's extensions, so every handler sees it. Each line
//! is one call, answered with one line, in order. Lines are capped at
//! [`jit_api::MAX_MESSAGE_BYTES`]; a longer one is discarded and answered with an error,
//! and the connection stays usable. Batches are refused; notifications get no answer.
//!
//! One task reads and answers calls; one writer task writes every outgoing line — answers,
//! and the event notifications of the connection's subscriptions ([`subscriptions`]).

pub mod framing;
mod methods;
pub mod peer;
pub mod subscriptions;

use std::sync::Arc;

use jit_api::{ErrorCode, MAX_MESSAGE_BYTES};
use jsonrpsee::{Methods, RpcModule};
use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::engine::{Caller, Engine};
use crate::operate::Operator;
use framing::{Line, read_line};
use subscriptions::{OUTBOX_LINES, Outbox, Subscriptions};

/// How long the answers already queued may take to reach a client that closed its end for
/// writing, before the connection is dropped.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Builds the method table.
pub fn module(engine: Arc<Engine>) -> RpcModule<Arc<Engine>> {
    methods::build(engine)
}

/// The method table every connection starts from. Cheap to clone.
#[derive(Clone)]
pub struct Table(Methods);

impl Table {
    /// The table of every method, served by `engine`.
    pub fn new(engine: Arc<Engine>) -> Table {
        Table(module(engine).into())
    }

    /// The table with the daemon's [`Operator`], which `admin.reload` and `admin.status`
    /// need (without it they answer that this daemon cannot do them).
    pub fn operated(mut self, operator: Arc<Operator>) -> Table {
        self.0.extensions_mut().insert(operator);
        self
    }

    /// A connection of `caller` whose lines (answers and subscription events) go to
    /// `outbox`: the table with the caller and the connection's subscriptions in its
    /// extensions, so every handler sees who is calling (what the socket does at accept,
    /// after reading the peer's credentials).
    pub fn connect(&self, caller: Arc<Caller>, outbox: Outbox) -> Connection {
        let subs = Arc::new(Subscriptions::new(outbox));
        let mut methods = self.0.clone();
        methods.extensions_mut().insert(caller);
        methods.extensions_mut().insert(subs.clone());
        Connection { methods, subs }
    }
}

/// One caller's calls: answers a line at a time, as the socket's connection loop does.
pub struct Connection {
    methods: Methods,
    subs: Arc<Subscriptions>,
}

impl Connection {
    /// The answer to one line (without its newline); `None` for blank lines and
    /// notifications. The socket's connection loop calls this for every line it reads, and
    /// so do the fuzz targets (`fuzz/`).
    pub async fn answer(&self, line: &[u8]) -> Option<String> {
        handle(&self.methods, line).await
    }

    /// Lets the subscriptions made by the last call send events, once its answer is queued.
    pub fn start_pending(&self) {
        self.subs.start_pending();
    }

    /// Ends every subscription of the connection.
    pub fn close(&self) {
        self.subs.close();
    }
}

/// Accepts connections until `shutdown` resolves.
pub async fn serve(
    listener: UnixListener,
    engine: Arc<Engine>,
    operator: Option<Arc<Operator>>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut table = Table::new(engine.clone());
    if let Some(op) = operator {
        table = table.operated(op);
    }
    let counts = Arc::new(PerUid::default());
    let mut last_warning: Option<std::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let table = table.clone();
                    let engine = engine.clone();
                    let counts = counts.clone();
                    tokio::spawn(async move { connection(stream, table, engine, counts).await });
                }
                Err(e) => {
                    // Out of file descriptors, typically: say so once a minute, not 20 times a second.
                    if last_warning.is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(60)) {
                        tracing::warn!(error = %e, "accept failed (file descriptors exhausted?)");
                        last_warning = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// The most connections one non-root uid may hold open at once, so no local user can take
/// every file descriptor and stop the daemon from serving (and revoking).
pub const MAX_CONNECTIONS_PER_UID: usize = 64;

/// Open connections per uid.
#[derive(Default)]
struct PerUid(std::sync::Mutex<std::collections::HashMap<u32, usize>>);

/// Holds one of a uid's connection slots until dropped.
struct Slot {
    counts: Arc<PerUid>,
    uid: u32,
}

impl PerUid {
    fn take(self: &Arc<Self>, uid: u32) -> Option<Slot> {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = m.entry(uid).or_insert(0);
        if uid != 0 && *n >= MAX_CONNECTIONS_PER_UID {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: self.clone(),
            uid,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self
            .counts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.uid);
            }
        }
    }
}

async fn connection(
    mut stream: UnixStream,
    table: Table,
    engine: Arc<Engine>,
    counts: Arc<PerUid>,
) {
    let cred = match stream.peer_cred() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read peer credentials; closing the connection");
            return;
        }
    };
    let (uid, gid) = (cred.uid(), cred.gid());
    let Some(_slot) = counts.take(uid) else {
        let mut line = error_line(
            &Value::Null,
            ErrorCode::Unavailable.code(),
            &format!(
                "too many connections from uid {uid} (at most {MAX_CONNECTIONS_PER_UID}): close some"
            ),
        );
        line.push('\n');
        let _ = stream.write_all(line.as_bytes()).await;
        return;
    };
    let (user, groups) = match tokio::task::spawn_blocking(move || peer::identify(uid, gid)).await {
        Ok(id) => id,
        Err(_) => return,
    };
    let pid = cred.pid().and_then(|p| u32::try_from(p).ok()).unwrap_or(0);
    let caller: Arc<Caller> = Arc::new(engine.caller(uid, pid, user, groups));
    let (rd, wr) = stream.into_split();
    let (outbox, lines) = mpsc::channel(OUTBOX_LINES);
    let mut writer = tokio::spawn(write_lines(wr, lines));
    let conn = table.connect(caller, outbox.clone());
    let mut reader = BufReader::with_capacity(64 * 1024, rd);
    let mut buf = Vec::with_capacity(1024);
    loop {
        let reply = match read_line(&mut reader, &mut buf, MAX_MESSAGE_BYTES).await {
            Ok(Line::Eof) | Err(_) => break,
            Ok(Line::TooLong) => Some(error_line(
                &Value::Null,
                ErrorCode::TooLarge.code(),
                &format!("message too large: the limit is {MAX_MESSAGE_BYTES} bytes per line"),
            )),
            Ok(Line::Complete) => conn.answer(&buf).await,
        };
        if let Some(mut out) = reply {
            out.push('\n');
            // Waits while the client does not read: that holds up only this connection.
            if outbox.send(out).await.is_err() {
                break;
            }
        }
        conn.start_pending();
    }
    // Stop the subscriptions, let the writer flush the answers already queued (a client may
    // close its writing end and still read), and let go of the socket.
    conn.close();
    drop(conn);
    drop(outbox);
    if tokio::time::timeout(FLUSH_TIMEOUT, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

/// Writes every line queued for one connection, several at a time when they pile up.
async fn write_lines(mut wr: OwnedWriteHalf, mut lines: mpsc::Receiver<String>) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    while let Some(line) = lines.recv().await {
        buf.clear();
        buf.extend_from_slice(line.as_bytes());
        while buf.len() < 64 * 1024 {
            match lines.try_recv() {
                Ok(more) => buf.extend_from_slice(more.as_bytes()),
                Err(_) => break,
            }
        }
        if wr.write_all(&buf).await.is_err() {
            break;
        }
    }
}

fn error_line(id: &Value, code: i32, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
}

/// Answers one line; `None` for notifications and blank lines.
///
/// The common case (a well-formed call) goes straight to jsonrpsee, which parses it once;
/// only a line jsonrpsee cannot take is parsed again here, to say precisely what is wrong.
async fn handle(methods: &Methods, line: &[u8]) -> Option<String> {
    let Ok(text) = std::str::from_utf8(line).map(str::trim) else {
        return Some(error_line(
            &Value::Null,
            -32700,
            "parse error: the message is not UTF-8",
        ));
    };
    if text.is_empty() {
        return None;
    }
    if text.starts_with('{')
        && let Ok((resp, _rx)) = methods.raw_json_request(text, 1).await
    {
        let resp = resp.get();
        if resp.len() > MAX_MESSAGE_BYTES {
            return Some(error_line(
                &id_of(text),
                ErrorCode::TooLarge.code(),
                "the answer is larger than the message limit: ask for less (use limit)",
            ));
        }
        if resp.contains("\"code\":-32601") {
            let name = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("method").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            return Some(error_line(
                &id_of(text),
                -32601,
                &format!("unknown method \"{name}\"; see docs/api.md for the methods"),
            ));
        }
        return Some(resp.to_owned());
    }
    diagnose(text)
}

fn id_of(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("id").cloned())
        .unwrap_or(Value::Null)
}

/// Says what is wrong with a line jsonrpsee could not take as a call.
fn diagnose(text: &str) -> Option<String> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Some(error_line(
                &Value::Null,
                -32700,
                &format!("parse error: {e}; send one JSON-RPC 2.0 object per line"),
            ));
        }
    };
    let Some(obj) = value.as_object() else {
        let msg = if value.is_array() {
            "batch requests are not supported: send one call per line"
        } else {
            "invalid request: expected a JSON-RPC 2.0 object"
        };
        return Some(error_line(&Value::Null, -32600, msg));
    };
    // A notification (no id) gets no answer, and no method has effects worth running blind.
    let id = obj.get("id").cloned()?;
    Some(error_line(
        &id,
        -32600,
        "invalid request: needs \"jsonrpc\": \"2.0\", a string \"method\", an \"id\" and object \"params\"",
    ))
}
