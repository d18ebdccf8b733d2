//! The socket's decode and dispatch path: the input is what a client sends (lines, `@name`
//! switching the caller), answered by the real connection code over a real engine on a
//! fresh store. See `jitd::fuzz::rpc`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A fresh store per input on tmpfs, so every input runs from the same state.
    let dir = tempfile::Builder::new()
        .prefix("jit-fuzz-")
        .tempdir_in("/dev/shm")
        .expect("temp dir on /dev/shm");
    jitd::fuzz::rpc(data, dir.path());
});
