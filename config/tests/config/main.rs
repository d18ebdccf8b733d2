//! Tests of jit-config through its public API: the documented example, every class of error
//! with its line and fix, secrets kept out of messages, the shipped files, resource patterns.

mod docs;
mod errors;
mod example;
mod patterns;
mod secrets;
mod shipped;
mod support;
