//! `jit revoke`: take granted access away now (`grant.revoke`), then wait briefly until
//! the access is really gone.

use std::time::Duration;

use jit_api::methods::{DecideParams, GrantRevoke, WaitFor};
use jit_api::{Request, Status};

use super::{Ctx, Outcome, shared};
use crate::format::Paint;
use crate::output::Out;

/// How long to wait for the integration to confirm the access is gone.
const REVOKE_WAIT: Duration = Duration::from_secs(5);

/// Take granted access away now.
///
/// The requester or an admin may revoke. jit reports "Revoked" only once the access is
/// really gone, live sessions included. If the integration cannot be reached, jitd keeps
/// retrying (forever, with backoff) and this command says so and exits with code 4.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request's number
    #[arg(value_name = "ID")]
    pub id: u64,

    /// Why, recorded in the request and the audit log
    #[arg(long, short = 'r', value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Runs `jit revoke`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let params = DecideParams {
        id: args.id,
        reason: args.reason,
    };
    let mut req = ctx.client.call::<GrantRevoke>(&params).await?;
    if req.status.is_open() {
        req = shared::wait(ctx, req.id, WaitFor::Closed, REVOKE_WAIT).await?;
    }
    if ctx.out.json {
        ctx.out.json(&req)?;
    } else {
        ctx.out.print(&render(&req, &ctx.out))?;
    }
    Ok(if req.status.is_open() {
        Outcome::StillWaiting
    } else {
        Outcome::Done
    })
}

/// "Revoked: access is gone", or why not yet.
pub fn render(req: &Request, out: &Out) -> String {
    let id = req.id;
    match req.status {
        Status::Revoked | Status::Expired => {
            format!("{}: access is gone\n", out.style.status(req.status))
        }
        _ if !req.status.is_open() => format!("{}\n", shared::headline(req, out)),
        _ => match &req.revoking {
            Some(r) => {
                let error = r.error.as_deref().unwrap_or("first attempt in progress");
                format!(
                    "{}: {error}, {}\n\
                     jitd keeps trying until the access is gone; `jit show {id}` follows it.\n",
                    out.style.paint(Paint::Red, "still revoking"),
                    shared::next_try(r, out)
                )
            }
            None => format!(
                "still revoking: no answer from the integration yet\n\
                 jitd keeps trying until the access is gone; `jit show {id}` follows it.\n"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::{expired, out, revoking};

    #[test]
    fn gone_or_still_revoking() {
        let mut req = expired();
        req.status = Status::Revoked;
        assert_eq!(render(&req, &out()), "Revoked: access is gone\n");
        let text = render(&revoking(), &out());
        assert!(
            text.starts_with("still revoking: connection refused, next try in 4s (14:35)\n"),
            "{text}"
        );
    }
}
