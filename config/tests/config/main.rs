//! Tests of jit-config through its public API: the documented example, every class of error
//! with its line and fix, secrets kept out of messages, the shipped files, resource patterns,
//! the settings of every kind.

mod break_glass;
mod bundles;
mod connect;
mod docs;
mod errors;
mod example;
mod extensions;
mod kinds;
mod notifications;
mod patterns;
mod secrets;
mod shipped;
mod support;
