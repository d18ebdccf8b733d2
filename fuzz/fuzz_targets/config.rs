//! The config parser and validator: any text must give a config that keeps the crate's
//! invariants, or problems with file:line and a fix. See `jitd::fuzz::config`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| jitd::fuzz::config(data));
