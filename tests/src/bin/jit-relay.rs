//! `jit-relay SOCKET`: a connection to jitd made by whoever runs it, for tests that need
//! calls from real Unix users (the harness starts it with the user's uid and gid).
//!
//! It connects to SOCKET (so jitd's peer credentials are the user's and this process's),
//! starts one child, `sleep`, that a test can register with `session.register` (which only
//! takes a child of the connected process), prints `{"child":PID}` as its first line, then
//! copies lines from standard input to the socket and from the socket to standard output
//! until standard input closes. The child is killed on the way out.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: jit-relay SOCKET"))?;
    let sock = UnixStream::connect(&path)?;
    let mut child = Command::new("sleep")
        .arg("3600")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{{\"child\":{}}}", child.id())?;
    out.flush()?;
    let mut reader = BufReader::new(sock.try_clone()?);
    let mut writer = sock;
    let result = (|| -> anyhow::Result<()> {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            writer.write_all(line.as_bytes())?;
            writer.write_all(b"\n")?;
            let mut answer = String::new();
            if reader.read_line(&mut answer)? == 0 {
                break;
            }
            out.write_all(answer.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}
