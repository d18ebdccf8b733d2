//! `jit admin`: the admins' commands — every request (`request.list` with `scope = all` and
//! filters), revoke and reset anyone's, reload the config (`admin.reload`), the daemon's
//! health (`admin.status`), what orphan reconciliation did (`admin.orphans`) and the metrics
//! (`daemon.metrics`). jitd decides who is an admin; others get its refusal.

use std::fmt::Write as _;

use jit_api::methods::{
    AdminOrphans, AdminReload, AdminStatus, DaemonMetrics, Empty, ListParams, OrphansParams,
    ReloadParams, RequestList, Scope,
};
use jit_api::{AdminStatusReport, AuditRecord, ReloadReport, Status};

use super::{Ctx, Outcome, ls, reset, revoke};
use crate::format::{Cell, Paint, Table};
use crate::output::Out;

/// Admin commands: every request, reload, status, orphans, metrics.
///
/// Only jitd's admins (root, and the config's `[daemon] admins`) may run them; jitd refuses
/// anyone else. Every subcommand takes --json.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do
    #[command(subcommand)]
    pub command: Sub,
}

/// The admin subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Everyone's requests, filtered by status, integration or user
    Ls(LsArgs),
    /// Take anyone's granted access away now (as `jit revoke`)
    Revoke(revoke::Args),
    /// Force new credentials on anyone's granted request (as `jit reset`)
    Reset(reset::Args),
    /// Re-read the config file; an invalid one is refused and the running one stays
    Reload(ReloadArgs),
    /// The daemon's health: integrations reachable, queues, revoking grants, next deadline
    Status,
    /// What orphan reconciliation found and did, newest first
    Orphans(OrphansArgs),
    /// The daemon's metrics, in the Prometheus text format
    Metrics,
}

/// `jit admin ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only requests in this status (pending, granted, revoking, expired, …); it decides
    /// open or closed by itself
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    pub status: Option<Status>,

    /// Only requests on this integration
    #[arg(long, value_name = "NAME")]
    pub integration: Option<String>,

    /// Only requests of this user
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Closed requests (history) instead of open ones
    #[arg(long)]
    pub closed: bool,

    /// At most this many [default: 100, at most 1,000]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,

    /// Only requests older than request ID (the next page: the last ID of this one)
    #[arg(long, value_name = "ID")]
    pub before: Option<u64>,
}

/// `jit admin reload`.
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// When the new config removes an integration that still has open requests, revoke
    /// them (reason "integration removed") instead of refusing the reload
    #[arg(long)]
    pub revoke_orphans: bool,
}

/// `jit admin orphans`.
#[derive(Debug, clap::Args)]
pub struct OrphansArgs {
    /// At most this many [default: 100, at most 1,000]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

/// A status name as the API spells it.
fn parse_status(s: &str) -> Result<Status, String> {
    serde_json::from_value(serde_json::Value::String(s.to_lowercase())).map_err(|_| {
        format!(
            "unknown status \"{s}\": one of pending, scheduled, granting, granted, revoking, \
             expired, revoked, rejected, failed, canceled"
        )
    })
}

/// Runs `jit admin ...`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    match args.command {
        Sub::Ls(a) => {
            let closed = a.status.map_or(a.closed, |s| !s.is_open());
            let params = ListParams {
                closed,
                scope: Scope::All,
                integration: a.integration,
                requester: a.user,
                status: a.status,
                limit: a.limit,
                before: a.before,
                ..ListParams::default()
            };
            let requests = ctx.client.call::<RequestList>(&params).await?;
            if ctx.out.json {
                ctx.out.json(&requests)?;
            } else {
                ctx.out
                    .print(&ls::render(&requests, Scope::All, closed, &ctx.out))?;
                ls::more_note(&requests, a.limit, &ctx.out);
            }
            Ok(Outcome::Done)
        }
        Sub::Revoke(a) => revoke::run(ctx, a).await,
        Sub::Reset(a) => reset::run(ctx, a).await,
        Sub::Reload(a) => {
            let report = ctx
                .client
                .call::<AdminReload>(&ReloadParams {
                    revoke_orphans: a.revoke_orphans,
                })
                .await?;
            if ctx.out.json {
                ctx.out.json(&report)?;
            } else {
                ctx.out.print(&render_reload(&report))?;
            }
            Ok(Outcome::Done)
        }
        Sub::Status => {
            let status = ctx.client.call::<AdminStatus>(&Empty {}).await?;
            if ctx.out.json {
                ctx.out.json(&status)?;
            } else {
                ctx.out.print(&render_status(&status, &ctx.out))?;
            }
            Ok(Outcome::Done)
        }
        Sub::Orphans(a) => {
            let records = ctx
                .client
                .call::<AdminOrphans>(&OrphansParams { limit: a.limit })
                .await?;
            if ctx.out.json {
                ctx.out.json(&records)?;
            } else {
                ctx.out.print(&render_orphans(&records, &ctx.out))?;
            }
            Ok(Outcome::Done)
        }
        Sub::Metrics => {
            let m = ctx.client.call::<DaemonMetrics>(&Empty {}).await?;
            if ctx.out.json {
                ctx.out.json(&m)?;
            } else {
                ctx.out.print(&m.text)?;
            }
            Ok(Outcome::Done)
        }
    }
}

/// "Reloaded /etc/jit/jit.toml (sha256 ab12…): added x; changed y; …".
pub fn render_reload(r: &ReloadReport) -> String {
    let mut text = format!("Reloaded {} (sha256 {})", r.path, r.digest);
    if r.unchanged {
        text.push_str(": the file is unchanged\n");
        return text;
    }
    text.push('\n');
    for (what, names) in [
        ("added", &r.added),
        ("changed", &r.changed),
        ("removed", &r.removed),
    ] {
        if !names.is_empty() {
            let _ = writeln!(text, "  {what}: {}", names.join(", "));
        }
    }
    if !r.revoked.is_empty() {
        let ids: Vec<String> = r.revoked.iter().map(u64::to_string).collect();
        let _ = writeln!(text, "  revoked (integration removed): {}", ids.join(", "));
    }
    let _ = writeln!(text, "  {} access flows in force", r.flows);
    text
}

/// The status as a few lines and a table of integrations.
pub fn render_status(s: &AdminStatusReport, out: &Out) -> String {
    let mut text = format!(
        "config:   {} (sha256 {}), loaded {}\n\
         requests: {} open, {} pending, {} granted, {} revoking\n",
        s.config_path,
        short(&s.config_digest),
        out.clock.both(s.config_loaded_at),
        s.counts.open,
        s.counts.pending,
        s.counts.granted,
        s.counts.revoking,
    );
    match s.next_deadline {
        Some(t) => {
            let _ = writeln!(text, "next deadline: {}", out.clock.both(t));
        }
        None => text.push_str("next deadline: none\n"),
    }
    let _ = writeln!(text, "notifications pending: {}", s.notifications_pending);
    let mut table = Table::new(&[
        "INTEGRATION",
        "KIND",
        "REACHABLE",
        "OPEN",
        "RUNNING",
        "QUEUED",
    ]);
    for i in &s.integrations {
        let reach = match (i.reachable, &i.error) {
            (None, _) => Cell::painted(Paint::Dim, "-"),
            (Some(true), _) => Cell::painted(Paint::Green, "yes"),
            (Some(false), Some(e)) => Cell::painted(Paint::Red, format!("no: {e}")),
            (Some(false), None) => Cell::painted(Paint::Red, "no"),
        };
        let name = if i.retired {
            format!("{} (removed)", i.name)
        } else {
            i.name.clone()
        };
        table.row(vec![
            name.into(),
            i.kind.as_str().into(),
            reach,
            i.open_requests.to_string().into(),
            i.in_flight.to_string().into(),
            i.queued_revokes.to_string().into(),
        ]);
    }
    text.push_str(&table.render(out.style));
    for r in &s.revoking {
        let error = r
            .revoking
            .as_ref()
            .and_then(|v| v.error.clone())
            .unwrap_or_else(|| "first attempt in progress".into());
        let _ = writeln!(
            text,
            "{}",
            out.style.paint(
                Paint::Red,
                &format!(
                    "request {} of {} still revoking: {error}",
                    r.id, r.requester
                )
            )
        );
    }
    text
}

/// The orphan entries, one line each.
pub fn render_orphans(records: &[AuditRecord], out: &Out) -> String {
    if records.is_empty() {
        return "no orphans found since the audit log began\n".into();
    }
    let mut text = String::new();
    for r in records {
        let _ = writeln!(
            text,
            "{}  {}  {}",
            out.clock.timestamp(r.at),
            r.action,
            r.details.as_deref().unwrap_or_default()
        );
    }
    text
}

/// The first 12 hex digits of a digest.
fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_as_the_api_spells_them() {
        assert_eq!(parse_status("granted"), Ok(Status::Granted));
        assert_eq!(parse_status("Revoking"), Ok(Status::Revoking));
        assert!(parse_status("gone").is_err_and(|e| e.contains("one of pending")));
    }

    #[test]
    fn a_reload_says_what_changed() {
        let r = ReloadReport {
            path: "/etc/jit/jit.toml".into(),
            digest: "ab".repeat(32),
            unchanged: false,
            added: vec!["redis".into()],
            changed: vec![],
            removed: vec!["pg-old".into()],
            revoked: vec![7],
            flows: 3,
        };
        let text = render_reload(&r);
        assert!(text.contains("  added: redis\n"), "{text}");
        assert!(text.contains("  removed: pg-old\n"), "{text}");
        assert!(text.contains("revoked (integration removed): 7"), "{text}");
        assert!(!text.contains("changed:"), "{text}");
    }
}
