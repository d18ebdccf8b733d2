//! Stable error codes carried in JSON-RPC error objects.
//!
//! The JSON-RPC 2.0 reserved codes (-32700 parse error, -32600 invalid request, -32601
//! method not found, -32602 invalid params, -32603 internal error) keep their meaning;
//! jit's own codes are positive and never reused.

use serde::{Deserialize, Serialize};

/// jit's own error codes. The numbers are part of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request does not exist, or the caller may not see it (the two look the same).
    NotFound,
    /// The caller may see the request but not do this to it.
    Forbidden,
    /// No access flow lets the caller request this; the message names the closest flow.
    NoFlow,
    /// The request is not in a status that allows this (approve a granted request, …).
    InvalidState,
    /// An integration, resource type, permission or flow name that is not configured.
    UnknownName,
    /// A value that is out of bounds: duration over the maximum, missing justification, …
    InvalidInput,
    /// The credentials were already shown once and erased.
    AlreadyRevealed,
    /// The message is larger than the daemon accepts.
    TooLarge,
    /// The daemon could not do this now (storage error, shutting down); try again.
    Unavailable,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::NoFlow,
        ErrorCode::InvalidState,
        ErrorCode::UnknownName,
        ErrorCode::InvalidInput,
        ErrorCode::AlreadyRevealed,
        ErrorCode::TooLarge,
        ErrorCode::Unavailable,
    ];

    /// The number sent on the wire.
    pub const fn code(self) -> i32 {
        match self {
            ErrorCode::NotFound => 1001,
            ErrorCode::Forbidden => 1002,
            ErrorCode::NoFlow => 1003,
            ErrorCode::InvalidState => 1004,
            ErrorCode::UnknownName => 1005,
            ErrorCode::InvalidInput => 1006,
            ErrorCode::AlreadyRevealed => 1007,
            ErrorCode::TooLarge => 1008,
            ErrorCode::Unavailable => 1009,
        }
    }

    /// The code for a number received on the wire, if it is one of jit's.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// A short lower-case name, as used in `--json` output and the docs.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NoFlow => "no_flow",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::UnknownName => "unknown_name",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::AlreadyRevealed => "already_revealed",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        let mut codes: Vec<i32> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
    }
}
