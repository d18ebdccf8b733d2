//! `jit cancel`: withdraw one's own pending or scheduled request (`request.cancel`).

use jit_api::methods::{DecideParams, RequestCancel};

use super::{Ctx, Outcome, shared};

/// Withdraw your own pending or scheduled request.
///
/// Granted access is not canceled but revoked: use `jit revoke`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request's number
    #[arg(value_name = "ID")]
    pub id: u64,

    /// Why, recorded in the request and the audit log
    #[arg(long, short = 'r', value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Runs `jit cancel`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let params = DecideParams {
        id: args.id,
        reason: args.reason,
    };
    let req = ctx.client.call::<RequestCancel>(&params).await?;
    if ctx.out.json {
        ctx.out.json(&req)?;
    } else {
        ctx.out
            .print(&shared::decided("Canceled", &req, &ctx.out))?;
    }
    Ok(Outcome::Done)
}
