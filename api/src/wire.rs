//! NDJSON framing of JSON-RPC 2.0, without I/O: one JSON object per line each way.
//!
//! Clients write [`encode_call`]'s line and read one line back for [`decode_response`].
//! A connection with a subscription (`events.subscribe`) also receives notification lines,
//! which may come before or after any answer: [`decode_event`] tells them apart.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::value::RawValue;

use crate::error::ErrorCode;
use crate::methods::{EVENT_NOTIFICATION, Method};
use crate::types::{EventNotification, SubscriptionId};

/// An error the daemon returned, or a response that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i32,
    /// The message, written for a person.
    pub message: String,
}

impl RpcError {
    /// jit's own code, when it is one.
    pub fn kind(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.code)
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RpcError {}

#[derive(Serialize)]
struct Call<'a, P> {
    jsonrpc: &'static str,
    id: u64,
    method: &'a str,
    params: &'a P,
}

/// The line (with its `\n`) that calls method `M` with `params`.
pub fn encode_call<M: Method>(id: u64, params: &M::Params) -> String {
    let call = Call {
        jsonrpc: "2.0",
        id,
        method: M::NAME,
        params,
    };
    // Serializing plain data structs into a String cannot fail.
    let mut line = serde_json::to_string(&call).unwrap_or_default();
    line.push('\n');
    line
}

#[derive(Deserialize)]
struct ErrorObject {
    code: i32,
    message: String,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<ErrorObject>,
    #[serde(default)]
    id: Option<serde_json::Value>,
}

/// Protocol-level failure codes used by [`decode_response`] for unreadable responses.
const BAD_RESPONSE: i32 = -32603;

/// Decodes the response line to a call of `M`, checking that it answers call `id`.
pub fn decode_response<M: Method>(id: u64, line: &str) -> Result<M::Output, RpcError> {
    decode_raw::<M::Output>(id, line)
}

/// Decodes a response line into any result type.
pub fn decode_raw<T: DeserializeOwned>(id: u64, line: &str) -> Result<T, RpcError> {
    let bad = |what: String| RpcError {
        code: BAD_RESPONSE,
        message: what,
    };
    let resp: Response<'_> = serde_json::from_str(line)
        .map_err(|e| bad(format!("unreadable response from jitd: {e}")))?;
    if let Some(err) = resp.error {
        return Err(RpcError {
            code: err.code,
            message: err.message,
        });
    }
    if resp.id != Some(serde_json::Value::from(id)) {
        return Err(bad(format!(
            "response to call {:?} while waiting for call {id}",
            resp.id
        )));
    }
    let raw = resp
        .result
        .ok_or_else(|| bad("response without result or error".into()))?;
    serde_json::from_str(raw.get()).map_err(|e| {
        bad(format!(
            "unexpected result from jitd (version mismatch?): {e}"
        ))
    })
}

/// The notification line (with its `\n`) that carries event `result` (already JSON) to
/// `subscription`.
pub fn encode_event(subscription: SubscriptionId, result: &str) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"{EVENT_NOTIFICATION}\",\"params\":{{\"subscription\":{subscription},\"result\":{result}}}}}\n"
    )
}

#[derive(Deserialize)]
struct Notification<'a> {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
}

/// Decodes an event notification; `None` when the line is not one (an answer to a call).
pub fn decode_event(line: &str) -> Option<Result<EventNotification, RpcError>> {
    let n: Notification<'_> = serde_json::from_str(line).ok()?;
    if n.id.is_some() || n.method.as_deref() != Some(EVENT_NOTIFICATION) {
        return None;
    }
    let params = n.params.map_or("null", RawValue::get);
    Some(serde_json::from_str(params).map_err(|e| RpcError {
        code: BAD_RESPONSE,
        message: format!("unexpected event from jitd (version mismatch?): {e}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::{IdParams, RequestGet};

    #[test]
    fn call_line_is_one_json_object_with_newline() {
        let line = encode_call::<RequestGet>(7, &IdParams { id: 42 });
        assert_eq!(
            line,
            "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"request.get\",\"params\":{\"id\":42}}\n"
        );
    }

    #[test]
    fn error_response_keeps_code_and_message() {
        let err = decode_raw::<u32>(
            1,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1001,"message":"no request 9"}}"#,
        )
        .unwrap_err();
        assert_eq!(err.kind(), Some(ErrorCode::NotFound));
        assert_eq!(err.message, "no request 9");
    }

    #[test]
    fn events_round_trip_and_are_told_from_answers() {
        let result = r#"{"kind":"lagged","at":"2026-11-23T22:17:30Z","next":[],"missed":3}"#;
        let line = encode_event(7, result);
        assert!(line.ends_with("}}\n"));
        let n = decode_event(line.trim_end())
            .expect("a notification")
            .expect("decodes");
        assert_eq!(n.subscription, 7);
        assert_eq!(n.result.kind, crate::EventKind::Lagged);
        assert_eq!(n.result.missed, Some(3));
        assert!(decode_event(r#"{"jsonrpc":"2.0","id":1,"result":3}"#).is_none());
        assert!(
            decode_event(r#"{"jsonrpc":"2.0","method":"events.event","params":{}}"#)
                .expect("a notification")
                .is_err()
        );
    }

    #[test]
    fn mismatched_id_is_refused() {
        assert!(decode_raw::<u32>(2, r#"{"jsonrpc":"2.0","id":1,"result":3}"#).is_err());
        assert_eq!(
            decode_raw::<u32>(1, r#"{"jsonrpc":"2.0","id":1,"result":3}"#),
            Ok(3)
        );
    }
}
