//! The jit contract: what `jitd` and its clients (the `jit` CLI, editor plugins, scripts)
//! say to each other over the Unix socket.
//!
//! - [`methods`]: one type per JSON-RPC method, with its name, parameters and result;
//! - [`types`]: the wire types (requests, sessions, credentials, audit records);
//! - [`error`]: the stable error codes;
//! - [`wire`]: the NDJSON framing (encode a call, decode a response), without I/O.
//!
//! Invariant: this crate has no runtime, no storage and no transport; it is plain data that
//! both sides serialize the same way. Every method here is documented in `docs/api.md`,
//! and a test keeps the two in step.

pub mod error;
pub mod methods;
pub mod types;
pub mod wire;

pub use error::ErrorCode;
pub use methods::Method;
pub use types::*;

/// The protocol version `daemon.status` reports; clients warn when theirs differs.
///
/// Bump it when a method or field changes meaning or disappears; adding optional fields
/// or new methods does not need a bump.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest message (one NDJSON line, request or response) either side accepts.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The most resources one request may name (the seeds' "up to 1,000").
pub const MAX_RESOURCES: usize = 1000;

/// The longest justification, reason or name accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;
