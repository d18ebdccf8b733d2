//! `jit ls`: list requests (`request.list`) as an aligned table.

use jit_api::Request;
use jit_api::methods::{ListParams, RequestList, Scope};

use super::{Ctx, Outcome, shared};
use crate::format::{self, Cell, Paint, Table};
use crate::output::Out;

/// List your open requests (or closed ones, or those you may review).
///
/// Open requests are Pending, Scheduled, Granting, Granted and Revoking; closed ones are
/// Expired, Revoked, Rejected, Failed and Canceled. Newest first. A bundle request shows as
/// "bundle NAME"; STATUS is tagged `[rotated]` when a session's credentials changed since you
/// last saw or used them.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Closed requests (history) instead of open ones
    #[arg(long)]
    pub closed: bool,

    /// Only requests for this resource type (e.g. database)
    #[arg(long = "type", value_name = "RESOURCE_TYPE")]
    pub resource_type: Option<String>,

    /// Pending requests you may approve or reject, instead of your own
    #[arg(long, conflicts_with = "all")]
    pub review: bool,

    /// Everyone's requests (admins)
    #[arg(long)]
    pub all: bool,

    /// At most this many [default: 100, at most 1,000]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,

    /// Only requests older than request ID (the next page: the last ID of this one)
    #[arg(long, value_name = "ID")]
    pub before: Option<u64>,
}

impl Args {
    fn scope(&self) -> Scope {
        if self.review {
            Scope::Review
        } else if self.all {
            Scope::All
        } else {
            Scope::Mine
        }
    }
}

/// Runs `jit ls`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let scope = args.scope();
    let params = ListParams {
        closed: args.closed,
        scope,
        resource_type: args.resource_type,
        limit: args.limit,
        before: args.before,
        ..ListParams::default()
    };
    let requests = ctx.client.call::<RequestList>(&params).await?;
    if ctx.out.json {
        ctx.out.json(&requests)?;
    } else {
        ctx.out
            .print(&render(&requests, scope, args.closed, &ctx.out))?;
        more_note(&requests, args.limit, &ctx.out);
    }
    Ok(Outcome::Done)
}

/// When a page came back full, tells the person how to read the next one (on stderr).
pub fn more_note(requests: &[Request], limit: Option<u32>, out: &Out) {
    let asked = limit.unwrap_or(100).clamp(1, 1000) as usize;
    if let Some(last) = requests.last()
        && requests.len() >= asked
    {
        out.note(&format!(
            "showing the newest {asked}; older ones: add --before {}",
            last.id
        ));
    }
}

/// The table (or a line saying there is nothing to show).
pub fn render(requests: &[Request], scope: Scope, closed: bool, out: &Out) -> String {
    if requests.is_empty() {
        return match (scope, closed) {
            (Scope::Review, _) => "nothing to review\n".into(),
            (_, true) => "no closed requests\n".into(),
            (Scope::Mine, false) => {
                "no open requests (`jit catalog` shows what you may request)\n".into()
            }
            (Scope::All, false) => "no open requests\n".into(),
        };
    }
    let others = scope != Scope::Mine;
    let mut header = vec!["ID"];
    if others {
        header.push("REQUESTER");
    }
    header.extend(["STATUS", "INTEGRATION/TYPE", "RESOURCES", "PERMS", "WHEN"]);
    if closed {
        header.push("END REASON");
    }
    let mut table = Table::new(&header).align_right(0);
    for req in requests {
        let (paint, status) = shared::status_cell(req, out);
        let mut row: Vec<Cell> = vec![req.id.to_string().into()];
        if others {
            row.push(req.requester.as_str().into());
        }
        row.extend([
            Cell::painted(paint, status),
            shared::target(req).into(),
            format::list(&shared::resources(req), 32).into(),
            format::truncate(&shared::permissions(req).join(","), 24).into(),
            shared::when_cell(req, out).into(),
        ]);
        if closed {
            let reason = shared::why_closed(req).unwrap_or_default();
            row.push(Cell::painted(Paint::Dim, format::truncate(&reason, 60)));
        }
        table.row(row);
    }
    let mut text = table.render(out.style);
    if requests.iter().any(shared::rotated) {
        text.push_str(&out.style.paint(
            Paint::Yellow,
            "[rotated]: credentials rotated — saved credentials or client profiles may no \
             longer work (`jit show ID` says which)",
        ));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::{bundle, expired, granted, out, pending, revoking};

    #[test]
    fn open_requests_table() {
        let text = render(
            &[granted(), pending(), revoking()],
            Scope::Mine,
            false,
            &out(),
        );
        assert_eq!(
            text,
            "ID  STATUS                  INTEGRATION/TYPE  RESOURCES  PERMS  WHEN\n\
             42  Granted                 pg-main/database  orders     read   expires in 30m\n\
             43  Pending                 pg-main/database  orders     read   pending 3m\n\
             45  Revoking (retry in 4s)  pg-main/database  orders     read   expires in 30m\n"
        );
    }

    #[test]
    fn closed_requests_have_an_end_reason_and_review_a_requester() {
        let text = render(&[expired()], Scope::All, true, &out());
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "ID  REQUESTER  STATUS   INTEGRATION/TYPE  RESOURCES  PERMS  WHEN          END REASON"
            )
        );
        assert_eq!(
            lines.next(),
            Some(
                "44  alice      Expired  pg-main/database  orders     read   ended 2h ago  expired"
            )
        );
    }

    #[test]
    fn bundles_and_rotated_credentials() {
        let mut rotated = granted();
        rotated.sessions[0].rotated = true;
        let text = render(&[bundle(), rotated], Scope::Mine, false, &out());
        assert_eq!(
            text,
            "ID  STATUS             INTEGRATION/TYPE  RESOURCES        PERMS       WHEN\n\
             46  Granted            bundle oncall     orders, scratch  read,write  expires in 30m\n\
             42  Granted [rotated]  pg-main/database  orders           read        expires in 30m\n\
             [rotated]: credentials rotated — saved credentials or client profiles may no longer \
             work (`jit show ID` says which)\n"
        );
    }

    #[test]
    fn empty_lists_say_so() {
        assert_eq!(
            render(&[], Scope::Review, false, &out()),
            "nothing to review\n"
        );
        assert!(render(&[], Scope::Mine, false, &out()).contains("jit catalog"));
    }
}
