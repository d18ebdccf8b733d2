//! NDJSON framing of JSON-RPC 2.0, without I/O: one JSON object per line each way.
//!
//! Clients write [`encode_call`]'s line and read one line back for [`decode_response`].

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::value::RawValue;

use crate::error::ErrorCode;
use crate::methods::Method;

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
    fn mismatched_id_is_refused() {
        assert!(decode_raw::<u32>(2, r#"{"jsonrpc":"2.0","id":1,"result":3}"#).is_err());
        assert_eq!(
            decode_raw::<u32>(1, r#"{"jsonrpc":"2.0","id":1,"result":3}"#),
            Ok(3)
        );
    }
}
