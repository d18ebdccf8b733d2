//! `jit again`: ask again for what a closed request asked for (`request.again`).

use std::time::Duration;

use jit_api::methods::{AgainParams, RequestAgain};

use super::{Ctx, Outcome, shared};
use crate::parse;

/// Ask again for what a closed request asked for, with a new justification.
///
/// The new request names the same integration, resource type, resources and permissions
/// (or the same bundle), records which request it repeats, and goes through its access
/// flow like any other.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  jit again 42 --reason \"INC-4312 still open\" --for 30m")]
pub struct Args {
    /// The closed request to repeat
    #[arg(value_name = "ID")]
    pub id: u64,

    /// Why you need it this time (the new justification)
    #[arg(long, short = 'r', value_name = "TEXT", required = true)]
    pub reason: String,

    /// How long the access should last [default: the original request's]
    #[arg(long = "for", value_name = "DURATION", value_parser = parse::duration)]
    pub duration: Option<Duration>,

    /// Wait until the new request is decided and provisioned (or rejected)
    #[arg(long, short = 'w')]
    pub wait: bool,

    /// How long to wait at most
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse::duration)]
    pub timeout: Duration,
}

/// Runs `jit again`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let params = AgainParams {
        id: args.id,
        justification: Some(args.reason),
        duration_secs: args.duration.map(|d| d.as_secs()),
    };
    let req = ctx.client.call::<RequestAgain>(&params).await?;
    shared::follow(ctx, req, args.wait, args.timeout).await
}
