//! `jit extend`: more time on a granted request (`grant.extend`).

use std::time::Duration;

use jit_api::Request;
use jit_api::methods::{ExtendParams, GrantExtend};

use super::{Ctx, Outcome, shared};
use crate::format::{self, span_secs};
use crate::output::Out;
use crate::parse;

/// Ask for more time on a granted request.
///
/// The access flow decides how many extensions a grant may have (`jit catalog` shows it),
/// the longest total duration, and whether an extension needs approval. The database's
/// own clock (VALID UNTIL) moves with the new expiry.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  jit extend 42 --for 30m --reason \"migration still running\"")]
pub struct Args {
    /// The request's number
    #[arg(value_name = "ID")]
    pub id: u64,

    /// How much longer (30m, 1h)
    #[arg(long = "for", value_name = "DURATION", required = true, value_parser = parse::duration)]
    pub duration: Duration,

    /// Why, recorded in the request and the audit log
    #[arg(long, short = 'r', value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Runs `jit extend`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let params = ExtendParams {
        id: args.id,
        duration_secs: args.duration.as_secs(),
        reason: args.reason,
    };
    let req = ctx.client.call::<GrantExtend>(&params).await?;
    if ctx.out.json {
        ctx.out.json(&req)?;
    } else {
        ctx.out.print(&render(&req, &ctx.out))?;
    }
    Ok(Outcome::Done)
}

/// "Request 42 now expires in 1h 30m (15:35)", or the extension waiting for approval.
pub fn render(req: &Request, out: &Out) -> String {
    let id = req.id;
    if let Some(x) = &req.pending_extension {
        let mut text = format!(
            "Extension of +{} waits for approval by {}.",
            span_secs(x.added_secs).replace(' ', ""),
            format::approvers(&req.approval.approvers)
        );
        if let Some(t) = req.expires_at {
            text.push_str(&format!(
                " Until then, request {id} expires {}.",
                out.clock.both(t)
            ));
        }
        text.push_str(&format!("\nFollow it with `jit show {id}`.\n"));
        return text;
    }
    match req.expires_at {
        Some(t) => format!("Request {id} now expires {}\n", out.clock.both(t)),
        None => format!("{}\n", shared::headline(req, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::{granted, out};
    use crate::commands::{Cli, Command};
    use clap::Parser;
    use jit_api::Extension;
    use time::macros::datetime;

    #[test]
    fn new_expiry_or_waiting_for_approval() {
        let mut req = granted();
        req.expires_at = Some(datetime!(2025-11-23 14:35:00 UTC));
        assert_eq!(
            render(&req, &out()),
            "Request 42 now expires in 1h (15:35)\n"
        );
        let mut req = granted();
        req.approval.approvers = vec!["carol".into(), "%dba".into()];
        req.pending_extension = Some(Extension {
            by: "alice".into(),
            at: datetime!(2025-11-23 13:35:00 UTC),
            added_secs: 1800,
            reason: None,
            approvals: vec![],
        });
        assert_eq!(
            render(&req, &out()),
            "Extension of +30m waits for approval by carol, %dba. Until then, request 42 \
             expires in 30m (15:05).\nFollow it with `jit show 42`.\n"
        );
    }

    #[test]
    fn for_is_required() {
        let cli = Cli::try_parse_from(["jit", "extend", "42", "--for", "30m"]).expect("parses");
        match cli.command {
            Command::Extend(args) => assert_eq!(args.duration, Duration::from_secs(1800)),
            other => panic!("parsed as {other:?}"),
        }
        let err = Cli::try_parse_from(["jit", "extend", "42"]).expect_err("refused");
        assert_eq!(err.exit_code(), 2);
    }
}
