//! Support for jit's end-to-end tests and benchmarks: run the real `jitd` and `jit`
//! binaries in a temp dir, talk to the real socket, make real Unix users and groups and
//! real PostgreSQL databases and a real sshd, and clean all of it up.
//!
//! Invariant: nothing here fakes a system jit provisions. Waiting is bounded polling
//! ([`wait_until`]), never a bare sleep.

pub mod bench_store;
pub mod crash;
pub mod inprocess;
pub mod load;
pub mod pg;
pub mod receivers;
pub mod sshd;
pub mod stats;
pub mod support;
pub mod users;
pub mod watch;

pub use support::{Daemon, bin, timestamp, unique, wait_until};
