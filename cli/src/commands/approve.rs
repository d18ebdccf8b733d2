//! `jit approve`: approve a pending request (`request.approve`).

use jit_api::methods::{DecideParams, RequestApprove};

use super::{Ctx, Outcome, shared};

/// Approve a pending request.
///
/// Only the approvers its access flow names may approve, and never the requester. When
/// the flow needs several approvals, the request stays Pending until enough distinct
/// approvers agree; then access is provisioned.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request's number
    #[arg(value_name = "ID")]
    pub id: u64,

    /// Why, recorded in the request and the audit log
    #[arg(long, short = 'r', value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Runs `jit approve`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let params = DecideParams {
        id: args.id,
        reason: args.reason,
    };
    let req = ctx.client.call::<RequestApprove>(&params).await?;
    if ctx.out.json {
        ctx.out.json(&req)?;
    } else {
        ctx.out
            .print(&shared::decided("Approved", &req, &ctx.out))?;
    }
    Ok(Outcome::Done)
}
