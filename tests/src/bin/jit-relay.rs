//! `jit-relay SOCKET`: a connection to jitd made by whoever runs it, for tests that need
//! calls from real Unix users (the harness starts it with the user's uid and gid).
//!
//! It connects to SOCKET (so jitd's peer credentials are the user's and this process's),
//! starts one child, `sleep`, that a test can register with `session.register` (which only
//! takes a child of the connected process), prints `{"child":PID}` as its first line, then
//! copies lines from standard input to the socket and, at the same time, every line from the
//! socket to standard output — answers and the notifications a subscription pushes between
//! them — until standard input closes. The child is killed on the way out.

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
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{{\"child\":{}}}", child.id())?;
        out.flush()?;
    }
    // Socket to stdout on its own thread: a live subscription pushes lines no call asked
    // for, so lines cannot be read one per call.
    let mut reader = BufReader::new(sock.try_clone()?);
    std::thread::spawn(move || {
        let mut out = std::io::stdout().lock();
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            if out
                .write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                break;
            }
            line.clear();
        }
    });
    let mut writer = sock;
    let result = (|| -> anyhow::Result<()> {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            writer.write_all(line.as_bytes())?;
            writer.write_all(b"\n")?;
        }
        Ok(())
    })();
    let _ = writer.shutdown(std::net::Shutdown::Both);
    let _ = child.kill();
    let _ = child.wait();
    result
}
