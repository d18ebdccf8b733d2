//! `jit-hello`: a Rust hello-world, the process-start floor that `jit-bench ls` compares
//! `jit ls` with in the same run.

fn main() {
    println!("hello, world");
}
