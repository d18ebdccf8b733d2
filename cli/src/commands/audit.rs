//! `jit audit`: read the audit log (`audit.list`) as a table, or as JSON lines.

use jit_api::AuditRecord;
use jit_api::methods::{AuditList, AuditParams};

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
    jit audit --since 2025-11-23T09:00:00Z --json > audit.jsonl"
)]
pub struct Args {
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

/// Runs `jit audit`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
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
