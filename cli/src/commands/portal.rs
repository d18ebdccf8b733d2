//! `jit portal`: the web portal, served on 127.0.0.1 as you by `jit-portal` (its own crate,
//! `portal/`, so that jit stays small). jit checks that jitd answers, then replaces itself
//! with `jit-portal` on the socket it found.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use super::{Ctx, Outcome};

/// Open the web portal: your requests, new requests, approvals and access, in your browser.
///
/// The portal runs as you on 127.0.0.1 (a free port, or --port) and talks to jitd as you.
/// It prints a link that works once, in one browser, and opens it when there is a display
/// (not with --no-open). Nobody else on the host can use it. It stops on Ctrl-C, or after
/// --idle-timeout without a request from the browser.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    jit portal\n  \
    jit portal --no-open --port 8765\n\n\
    Security model: docs/portal.md")]
pub struct Args {
    /// The port on 127.0.0.1 (0: any free port)
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Print the link only; do not open a browser
    #[arg(long)]
    pub no_open: bool,

    /// Stop after this long without a request from the browser (30s, 15m, 2h)
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    pub idle_timeout: String,
}

/// `jit-portal` beside this `jit` (as `cargo build` and packages install them), else on
/// `PATH`.
fn portal_program() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|me| Some(me.parent()?.join("jit-portal")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("jit-portal"))
}

/// Replaces this process with `jit-portal`; returns only when that fails.
pub fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let program = portal_program();
    let mut cmd = Command::new(&program);
    cmd.arg("--socket")
        .arg(ctx.client.path())
        .arg("--port")
        .arg(args.port.to_string())
        .arg("--idle-timeout")
        .arg(&args.idle_timeout);
    if args.no_open {
        cmd.arg("--no-open");
    }
    let err = cmd.exec();
    Err(anyhow::Error::new(err).context(format!(
        "starting {} (it is installed with jit; is it on PATH?)",
        program.display()
    )))
}
