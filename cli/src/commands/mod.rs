//! The command line: global flags, one subcommand per file, and what they share.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::client::Client;
use crate::error::exit;
use crate::output::Out;

pub mod admin;
pub mod again;
pub mod approve;
pub mod audit;
pub mod cancel;
pub mod catalog;
pub mod completions;
pub mod connect;
pub mod creds;
pub mod extend;
pub mod ls;
pub mod man;
pub mod portal;
pub mod prompt;
pub mod reject;
pub mod request;
pub mod reset;
pub mod revoke;
pub mod save;
pub mod saved;
pub mod shared;
pub mod show;
pub mod status;
pub mod watch;
pub mod wizard;

/// jit asks jitd, the local just-in-time access daemon, for access that ends by itself.
///
/// Request access to a resource for a while ("read on pg-main/database orders for 1h"),
/// get it approved (automatically or by approvers, as the admin's access flows say),
/// connect without seeing the secret (or see your credentials once), extend it, and let it
/// expire or revoke it early.
#[derive(Debug, Parser)]
#[command(
    name = "jit",
    version,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = "Start with `jit catalog` to see what you may request.\n\
                  Exit codes, `--json` fields and examples: docs/cli.md"
)]
pub struct Cli {
    /// The jitd socket [default: $XDG_RUNTIME_DIR/jit/jitd.sock if it exists, else
    /// /run/jit/jitd.sock]
    #[arg(
        long,
        global = true,
        env = "JIT_SOCKET",
        value_name = "PATH",
        help_heading = "Global options"
    )]
    pub socket: Option<PathBuf>,

    /// Print the result as JSON (errors as {"error":{"code","name","message"}})
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    // The help texts are the doc comments of each command's `Args`.
    #[command(visible_alias = "req")]
    Request(request::Args),
    #[command(visible_alias = "list")]
    Ls(ls::Args),
    Show(show::Args),
    Approve(approve::Args),
    Reject(reject::Args),
    Cancel(cancel::Args),
    Revoke(revoke::Args),
    Again(again::Args),
    Extend(extend::Args),
    Connect(connect::Args),
    Creds(creds::Args),
    Reset(reset::Args),
    Catalog(catalog::Args),
    Status(status::Args),
    Audit(audit::Args),
    Watch(watch::Args),
    Portal(portal::Args),
    Prompt(prompt::Args),
    Save(save::Args),
    Saved(saved::Args),
    Completions(completions::Args),
    Man(man::Args),
    Admin(admin::Args),
}

impl Command {
    /// Runs the commands that need no jitd (completions, man pages); hands back the others.
    /// `main` calls this before connecting, so they work where no jitd runs (at build time).
    pub fn run_offline(self, out: &Out) -> Result<anyhow::Result<Outcome>, Box<Command>> {
        match self {
            Command::Completions(args) => Ok(completions::run(out, &args)),
            Command::Man(args) => Ok(man::run(out, &args)),
            other => Err(Box::new(other)),
        }
    }
}

/// How a command that ran without error ended, as far as the exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// What was asked for happened.
    Done,
    /// The request ended badly (rejected, failed, canceled) while jit waited.
    EndedBadly,
    /// Not there yet: a wait timed out, or a revoke is still being retried.
    StillWaiting,
    /// The audit log failed verification.
    Tampered,
    /// This exit code exactly: a program `jit connect` launched ended with it, or the
    /// person answered no.
    Exit(u8),
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => exit::OK,
            Outcome::EndedBadly => exit::ENDED_BADLY,
            Outcome::StillWaiting => exit::STILL_WAITING,
            Outcome::Tampered => exit::TAMPERED,
            Outcome::Exit(code) => code,
        }
    }
}

/// What every command gets: the connection and the way to print.
#[derive(Debug)]
pub struct Ctx {
    /// The connection to jitd.
    pub client: Client,
    /// Output settings.
    pub out: Out,
}

/// Runs one command.
pub async fn run(command: Command, ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    match command {
        Command::Request(args) => request::run(ctx, args).await,
        Command::Ls(args) => ls::run(ctx, args).await,
        Command::Show(args) => show::run(ctx, args).await,
        Command::Approve(args) => approve::run(ctx, args).await,
        Command::Reject(args) => reject::run(ctx, args).await,
        Command::Cancel(args) => cancel::run(ctx, args).await,
        Command::Revoke(args) => revoke::run(ctx, args).await,
        Command::Again(args) => again::run(ctx, args).await,
        Command::Extend(args) => extend::run(ctx, args).await,
        Command::Connect(args) => connect::run(ctx, args).await,
        Command::Creds(args) => creds::run(ctx, args).await,
        Command::Reset(args) => reset::run(ctx, args).await,
        Command::Catalog(args) => catalog::run(ctx, args).await,
        Command::Status(args) => status::run(ctx, args).await,
        Command::Audit(args) => audit::run(ctx, args).await,
        Command::Watch(args) => watch::run(ctx, args).await,
        Command::Portal(args) => portal::run(ctx, args),
        Command::Prompt(args) => prompt::run(ctx, args).await,
        Command::Save(args) => save::run(ctx, args).await,
        Command::Saved(args) => saved::run(ctx, args).await,
        Command::Completions(args) => completions::run(&ctx.out, &args),
        Command::Man(args) => man::run(&ctx.out, &args),
        Command::Admin(args) => admin::run(ctx, args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["jit", "ls", "--json", "--socket", "/tmp/s"]).expect("parses");
        assert!(cli.json);
        assert_eq!(cli.socket, Some(PathBuf::from("/tmp/s")));
    }
}
