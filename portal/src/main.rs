//! `jit-portal`: serves the portal for the user who runs it (`jit portal` starts it), prints
//! the link, opens the browser when there is a display, and stops on Ctrl-C or when idle.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use jit_api::methods::{DaemonStatusMethod, Empty};
use jit_portal::{Options, daemon::Daemon, launch::Launcher, open};

/// The jit portal: a web page on 127.0.0.1 for your requests, approvals and access.
///
/// Usually started by `jit portal`, which finds jitd's socket. The portal runs as you and
/// talks to jitd as you; only your browser, through the link printed here (it works once),
/// can use it.
#[derive(Debug, Parser)]
#[command(name = "jit-portal", version)]
struct Args {
    /// jitd's socket
    #[arg(long, env = "JIT_SOCKET", value_name = "PATH")]
    socket: PathBuf,

    /// The port on 127.0.0.1 (0: any free port)
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Print the link only; do not open a browser
    #[arg(long)]
    no_open: bool,

    /// Stop after this long without a request from the browser (30s, 15m, 2h)
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    idle_timeout: Duration,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{e}: write a duration like 30s, 15m or 2h"))?;
    if d.is_zero() {
        return Err("the idle timeout must be longer than 0s".into());
    }
    Ok(d)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => Err(anyhow::Error::new(e).context("starting the async runtime")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jit portal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let daemon = Daemon::new(args.socket.clone());
    let me = daemon
        .call::<DaemonStatusMethod>(&Empty {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("asking jitd who you are")?;
    let env = |k: &str| std::env::var_os(k);
    let options = Options {
        socket: args.socket,
        port: args.port,
        idle_timeout: args.idle_timeout,
        launcher: Launcher::detect(env),
    };
    let bound = jit_portal::bind(options).await?;
    let link = bound.link();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "jit portal for {} on http://{}\nOpen this link (it works once, in one browser):\n  {link}\n\
         Press Ctrl-C to stop; it stops by itself after {} without use.",
        me.caller.user,
        bound.addr(),
        jit_portal::describe(args.idle_timeout)
    )?;
    out.flush()?;
    drop(out);
    let _opened = if !args.no_open && open::has_display(env) {
        match open::open_browser(&link) {
            Ok(opened) => Some(opened),
            Err(e) => {
                eprintln!("jit portal: could not open a browser ({e:#}); open the link above");
                None
            }
        }
    } else {
        None
    };
    let why = bound.serve(stop_signal()).await?;
    println!("jit portal {why}");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without signal handlers the default action (exit) still stops the portal.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
