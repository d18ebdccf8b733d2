//! `jit reject`: reject a pending request (`request.reject`).

use jit_api::methods::{DecideParams, RequestReject};

use super::{Ctx, Outcome, shared};

/// Reject a pending request.
///
/// The approvers of its access flow and admins may reject. One rejection closes the
/// request; the requester sees who rejected it and why.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request's number
    #[arg(value_name = "ID")]
    pub id: u64,

    /// Why, shown to the requester and recorded in the audit log
    #[arg(long, short = 'r', value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Runs `jit reject`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let params = DecideParams {
        id: args.id,
        reason: args.reason,
    };
    let req = ctx.client.call::<RequestReject>(&params).await?;
    if ctx.out.json {
        ctx.out.json(&req)?;
    } else {
        ctx.out
            .print(&shared::decided("Rejected", &req, &ctx.out))?;
    }
    Ok(Outcome::Done)
}
