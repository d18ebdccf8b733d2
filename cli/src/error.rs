//! What can go wrong, and how each failure is reported: the exit code, the `jit: …` line on
//! stderr, and the `{"error":{…}}` object printed with `--json`.
//!
//! Commands return `anyhow::Error`; [`Failure::of`] walks its chain for a [`CliError`] (a
//! failure of the client or the socket) or a [`jit_api::wire::RpcError`] (jitd's answer)
//! to pick the exit code. Everything else is an internal error.

use std::path::PathBuf;
use std::time::Duration;

use jit_api::wire::RpcError;
use serde::Serialize;

/// Exit codes, documented in `docs/cli.md`. The 6x/7x ones come from `sysexits.h`.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// jitd refused: it answered with an error (not found, forbidden, invalid state, …).
    pub const REFUSED: u8 = 1;
    /// Usage error: bad flags or values (clap uses the same code).
    pub const USAGE: u8 = 2;
    /// The request ended badly while jit waited for it: rejected, failed or canceled.
    pub const ENDED_BADLY: u8 = 3;
    /// Not there yet: `--wait` timed out, or a revoke is still being retried.
    pub const STILL_WAITING: u8 = 4;
    /// `jit audit verify` found a record missing, edited or out of order.
    pub const TAMPERED: u8 = 5;
    /// The `jit request` wizard was left with Esc or Ctrl-C (128 + SIGINT, as a shell
    /// reports an interrupted program).
    pub const ABORTED: u8 = 130;
    /// jitd is not running, or did not answer (`EX_UNAVAILABLE`).
    pub const UNAVAILABLE: u8 = 69;
    /// A protocol or internal error: an answer jit cannot read (`EX_SOFTWARE`).
    pub const INTERNAL: u8 = 70;
    /// The socket exists but this user may not connect to it (`EX_NOPERM`).
    pub const NO_PERMISSION: u8 = 77;
}

/// A failure on the client's side of the socket.
#[derive(Debug)]
pub enum CliError {
    /// No socket, or nothing listening on it.
    NotRunning {
        /// Every socket tried, in order.
        tried: Vec<PathBuf>,
    },
    /// The socket's mode or group keeps this user out.
    PermissionDenied {
        /// The socket.
        path: PathBuf,
    },
    /// Connecting failed for another reason.
    Unreachable {
        /// The socket.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// jitd accepted the connection but did not answer in time.
    NoAnswer {
        /// The method called.
        method: &'static str,
        /// How long jit waited.
        after: Duration,
    },
    /// jitd's answer could not be read (closed connection, oversized or malformed line).
    Protocol(String),
    /// jitd went away (stopped, restarted) while jit followed its events.
    Disconnected(String),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::NotRunning { tried } => {
                let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "jitd is not running (tried {}): start it with `systemctl start jitd` or `jitd --user`",
                    tried.join(", ")
                )
            }
            CliError::PermissionDenied { path } => write!(
                f,
                "permission denied on {}: this user may not talk to jitd (the socket's group and \
                 mode decide who can; ask an admin)",
                path.display()
            ),
            CliError::Unreachable { path, .. } => {
                write!(f, "cannot connect to jitd at {}", path.display())
            }
            CliError::NoAnswer { method, after } => write!(
                f,
                "jitd did not answer {method} within {}s",
                after.as_secs()
            ),
            CliError::Protocol(message) | CliError::Disconnected(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Unreachable { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// How one failure is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The process exit code.
    pub exit: u8,
    /// jitd's JSON-RPC error code; `None` when the failure happened in jit itself.
    pub code: Option<i32>,
    /// A stable lower-case name (`not_found`, `not_running`, …).
    pub name: &'static str,
    /// The message, with the context around it (`…: …`).
    pub message: String,
}

impl Failure {
    /// Classifies an error by the first [`RpcError`] or [`CliError`] in its chain.
    pub fn of(err: &anyhow::Error) -> Failure {
        let message = err
            .chain()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        for cause in err.chain() {
            if let Some(rpc) = cause.downcast_ref::<RpcError>() {
                let (exit, name) = rpc_kind(rpc);
                return Failure {
                    exit,
                    code: Some(rpc.code),
                    name,
                    message,
                };
            }
            if let Some(cli) = cause.downcast_ref::<CliError>() {
                let (exit, name) = match cli {
                    CliError::NotRunning { .. } => (exit::UNAVAILABLE, "not_running"),
                    CliError::PermissionDenied { .. } => (exit::NO_PERMISSION, "permission_denied"),
                    CliError::Unreachable { .. } => (exit::UNAVAILABLE, "unreachable"),
                    CliError::NoAnswer { .. } => (exit::UNAVAILABLE, "no_answer"),
                    CliError::Protocol(_) => (exit::INTERNAL, "protocol_error"),
                    CliError::Disconnected(_) => (exit::UNAVAILABLE, "disconnected"),
                };
                return Failure {
                    exit,
                    code: None,
                    name,
                    message,
                };
            }
        }
        Failure {
            exit: exit::INTERNAL,
            code: None,
            name: "internal_error",
            message,
        }
    }

    /// The `--json` form: `{"error":{"code":1001,"name":"not_found","message":"…"}}`.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            code: Option<i32>,
            name: &'a str,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Wrapper<'a> {
            error: Body<'a>,
        }
        let wrapper = Wrapper {
            error: Body {
                code: self.code,
                name: self.name,
                message: &self.message,
            },
        };
        // Plain strings and numbers always serialize.
        serde_json::to_string(&wrapper).unwrap_or_default()
    }
}

/// The exit code and name of an error jitd returned.
///
/// jit's own codes mean jitd understood and refused (exit 1). The JSON-RPC reserved codes
/// (-32768..=-32000) mean the two sides do not understand each other: a version mismatch
/// or a bug (exit 70). Unknown positive codes come from a newer jitd and are refusals.
fn rpc_kind(err: &RpcError) -> (u8, &'static str) {
    if let Some(kind) = err.kind() {
        return (exit::REFUSED, kind.name());
    }
    match err.code {
        -32700 => (exit::INTERNAL, "parse_error"),
        -32600 => (exit::INTERNAL, "invalid_request"),
        -32601 => (exit::INTERNAL, "method_not_found"),
        -32602 => (exit::INTERNAL, "invalid_params"),
        -32603 => (exit::INTERNAL, "internal_error"),
        -32768..=-32000 => (exit::INTERNAL, "server_error"),
        _ => (exit::REFUSED, "error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use jit_api::ErrorCode;

    fn rpc(code: i32, message: &str) -> anyhow::Error {
        anyhow::Error::new(RpcError {
            code,
            message: message.into(),
        })
    }

    #[test]
    fn daemon_refusals_exit_1_with_the_code_name() {
        let f = Failure::of(&rpc(ErrorCode::NotFound.code(), "no request 9"));
        assert_eq!(f.exit, exit::REFUSED);
        assert_eq!(
            f.to_json(),
            r#"{"error":{"code":1001,"name":"not_found","message":"no request 9"}}"#
        );
    }

    #[test]
    fn json_error_shape_is_stable() {
        let f = Failure::of(&anyhow::Error::new(CliError::NotRunning {
            tried: vec!["/run/jit/jitd.sock".into()],
        }));
        assert_eq!(f.exit, exit::UNAVAILABLE);
        let v: serde_json::Value = serde_json::from_str(&f.to_json()).expect("json");
        assert_eq!(v["error"]["code"], serde_json::Value::Null);
        assert_eq!(v["error"]["name"], "not_running");
        let message = v["error"]["message"].as_str().expect("message");
        assert!(message.starts_with("jitd is not running (tried /run/jit/jitd.sock)"));
        assert!(message.contains("systemctl start jitd"));
        assert_eq!(v.as_object().map(|o| o.len()), Some(1));
        assert_eq!(v["error"].as_object().map(|o| o.len()), Some(3));
    }

    #[test]
    fn the_chain_is_walked_for_message_and_kind() {
        let err = Err::<(), _>(rpc(-32601, "method not found"))
            .context("calling request.get")
            .expect_err("error");
        let f = Failure::of(&err);
        assert_eq!(f.exit, exit::INTERNAL);
        assert_eq!(f.name, "method_not_found");
        assert_eq!(f.message, "calling request.get: method not found");
    }

    #[test]
    fn permission_denied_and_unknown_errors() {
        let f = Failure::of(&anyhow::Error::new(CliError::PermissionDenied {
            path: "/run/jit/jitd.sock".into(),
        }));
        assert_eq!((f.exit, f.name), (exit::NO_PERMISSION, "permission_denied"));
        assert!(
            f.message
                .starts_with("permission denied on /run/jit/jitd.sock")
        );
        let f = Failure::of(&anyhow::anyhow!("something odd"));
        assert_eq!((f.exit, f.name), (exit::INTERNAL, "internal_error"));
        let f = Failure::of(&rpc(1999, "newer code"));
        assert_eq!(f.exit, exit::REFUSED);
    }
}
