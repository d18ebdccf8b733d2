//! `jit audit`: read the audit log (`audit.list`) as a table, or as JSON lines; `jit audit
//! verify` checks its hash chain (`audit.verify`).

use jit_api::methods::{AuditList, AuditParams, AuditVerify, Empty};
use jit_api::{AuditRecord, AuditVerification};

use super::{Ctx, Outcome};
use crate::format::{Cell, Paint, Table, truncate};
use crate::output::Out;
use crate::parse::{self, Since};

/// Read the audit log.
///
/// Every transition of every request, with who did it, when and why, oldest first. Admins
/// see all entries; others see the entries about their own requests. With --json, one
/// record per line (JSON lines), hash chain included.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jit audit --request 42\n  jit audit --since 1h\n  \
    jit audit --since 2025-11-23T09:00:00Z --json > audit.jsonl\n  jit audit verify",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// What else to do with the log
    #[command(subcommand)]
    pub action: Option<Action>,

    /// Only entries about this request
    #[arg(long, value_name = "ID")]
    pub request: Option<u64>,

    /// Only entries since this time: RFC 3339 (2025-11-23T09:00:00Z) or how long ago (1h,
    /// 2d)
    #[arg(long, value_name = "TIME", value_parser = parse::since)]
    pub since: Option<Since>,

    /// At most this many [default: 1,000, at most 10,000]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

/// What else `jit audit` does.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Check the hash chain from the first record to the last (admins)
    ///
    /// Every record carries the hash of the one before it, and the store keeps the hash
    /// of the last: an edited, removed or reordered record breaks the chain, and this names
    /// the first bad one (exit code 5). Write down the head it prints somewhere else; a
    /// later check showing the same head proves the log was not rewritten as a whole.
    Verify,
}

/// Runs `jit audit`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    if let Some(Action::Verify) = args.action {
        let v = ctx.client.call::<AuditVerify>(&Empty {}).await?;
        if ctx.out.json {
            ctx.out.json(&v)?;
        } else {
            ctx.out.print(&render_verification(&v))?;
        }
        return Ok(if v.ok {
            Outcome::Done
        } else {
            Outcome::Tampered
        });
    }
    let params = AuditParams {
        request: args.request,
        since: args.since.map(|s| s.resolve(ctx.out.clock.now)),
        after_seq: None,
        limit: args.limit,
    };
    let records = ctx.client.call::<AuditList>(&params).await?;
    if ctx.out.json {
        ctx.out.json_lines(&records)?;
    } else {
        ctx.out.print(&render(&records, &ctx.out))?;
    }
    Ok(Outcome::Done)
}

/// What `jit audit verify` says.
pub fn render_verification(v: &AuditVerification) -> String {
    match &v.first_bad {
        None => format!("audit log intact: {} records, head {}\n", v.checked, v.head),
        Some(bad) => format!(
            "audit log BROKEN at record {}: {}\n{} records before it are intact (head {})\n",
            bad.seq, bad.problem, v.checked, v.head
        ),
    }
}

/// The table.
pub fn render(records: &[AuditRecord], out: &Out) -> String {
    if records.is_empty() {
        return "no audit entries\n".into();
    }
    let mut table = Table::new(&[
        "SEQ", "TIME", "ACTOR", "ACTION", "REQUEST", "STATUS", "REASON",
    ])
    .align_right(0)
    .align_right(4);
    for r in records {
        let status = match r.status {
            Some(s) => Cell::painted(Paint::of(s), s.as_str()),
            None => "".into(),
        };
        let reason = match (&r.reason, &r.details) {
            (Some(reason), Some(details)) => format!("{reason} ({details})"),
            (Some(text), None) | (None, Some(text)) => text.clone(),
            (None, None) => String::new(),
        };
        table.row(vec![
            r.seq.to_string().into(),
            out.clock.timestamp(r.at).into(),
            r.actor.as_str().into(),
            r.action.as_str().into(),
            r.request
                .map(|id| id.to_string())
                .unwrap_or_default()
                .into(),
            status,
            truncate(&reason, 80).into(),
        ]);
    }
    table.render(out.style)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::out;
    use jit_api::Status;
    use time::macros::datetime;

    #[test]
    fn audit_table() {
        let records = vec![
            AuditRecord {
                seq: 9,
                at: datetime!(2025-11-23 13:05:00 UTC),
                actor: "alice".into(),
                action: "request.created".into(),
                request: Some(42),
                status: Some(Status::Pending),
                reason: Some("INC-4312".into()),
                details: None,
                prev_hash: "00".into(),
                hash: "ab".into(),
            },
            AuditRecord {
                seq: 10,
                at: datetime!(2025-11-23 13:05:01 UTC),
                actor: "jitd".into(),
                action: "daemon.started".into(),
                request: None,
                status: None,
                reason: None,
                details: None,
                prev_hash: "ab".into(),
                hash: "cd".into(),
            },
        ];
        assert_eq!(
            render(&records, &out()),
            "SEQ  TIME                 ACTOR  ACTION           REQUEST  STATUS   REASON\n  \
             9  2025-11-23 14:05:00  alice  request.created       42  pending  INC-4312\n \
             10  2025-11-23 14:05:01  jitd   daemon.started\n"
        );
    }
}
