//! `jit`, the command-line client of jitd: parses the command line, connects to the
//! socket, runs one command, and turns the outcome into an exit code.
//!
//! Invariant: the CLI talks to jitd only through `jit-api` types over the socket; it has
//! no store and no daemon code.

mod client;
mod commands;
mod error;
mod format;
mod output;
mod parse;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::commands::{Cli, Ctx};
use crate::error::{Failure, exit};
use crate::format::Clock;
use crate::output::{Out, StdoutClosed};

fn main() -> ExitCode {
    let argv = commands::request::expand_saved(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    if let commands::Command::Request(args) = &cli.command {
        let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        if args.names_nothing() && !terminal {
            let _ = commands::request::needs_terminal().print();
            return ExitCode::from(exit::USAGE);
        }
    }
    // Before the runtime exists: the local offset can only be read single-threaded.
    let out = Out::detect(cli.json, Clock::system());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(cli, out)),
        Err(e) => Err(anyhow::Error::new(e).context("starting the async runtime")),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) if err.chain().any(|e| e.is::<StdoutClosed>()) => ExitCode::from(exit::OK),
        Err(err) => {
            let failure = Failure::of(&err);
            if out.json {
                // The error object goes where the result would have gone.
                let _ = out.print(&format!("{}\n", failure.to_json()));
            } else {
                out.note(&format!("jit: {}", failure.message));
            }
            ExitCode::from(failure.exit)
        }
    }
}

async fn run(cli: Cli, out: Out) -> anyhow::Result<u8> {
    let command = match cli.command.run_offline(&out) {
        Ok(outcome) => return Ok(outcome?.exit_code()),
        Err(command) => *command,
    };
    let paths = client::candidates(
        cli.socket.as_deref(),
        client::user_socket_dir(|k| std::env::var_os(k)),
        |p| p.exists(),
    );
    let client = match client::Client::connect(&paths).await {
        Ok(c) => c,
        // A prompt segment shows nothing rather than an error in every prompt.
        Err(_) if matches!(command, commands::Command::Prompt(_)) => return Ok(exit::OK),
        Err(e) => return Err(e),
    };
    let mut ctx = Ctx { client, out };
    let outcome = commands::run(command, &mut ctx).await?;
    Ok(outcome.exit_code())
}
