//! `jit status`: the daemon's version, protocol and mode, who the caller is, counts, the
//! revokes being retried and the integrations (`daemon.status`).

use jit_api::methods::{DaemonStatusMethod, Empty};
use jit_api::{DaemonStatus, PROTOCOL_VERSION};

use super::{Ctx, Outcome};
use crate::format::{Paint, span_secs};
use crate::output::Out;

/// Show jitd's version and mode, who you are, counts and revokes being retried.
///
/// Warns when jitd speaks another protocol version than this jit.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `jit status`.
pub async fn run(ctx: &mut Ctx, _args: Args) -> anyhow::Result<Outcome> {
    let status = ctx.client.call::<DaemonStatusMethod>(&Empty {}).await?;
    if let Some(warning) = protocol_warning(&status) {
        ctx.out.note(&warning);
    }
    if ctx.out.json {
        ctx.out.json(&status)?;
    } else {
        ctx.out.print(&render(&status, &ctx.out))?;
    }
    Ok(Outcome::Done)
}

/// The warning when the two sides speak different protocol versions.
pub fn protocol_warning(status: &DaemonStatus) -> Option<String> {
    (status.protocol_version != PROTOCOL_VERSION).then(|| {
        let upgrade = if status.protocol_version > PROTOCOL_VERSION {
            "jit"
        } else {
            "jitd"
        };
        format!(
            "warning: jitd speaks protocol {} but this jit speaks {PROTOCOL_VERSION}; some \
             commands may fail until {upgrade} is upgraded",
            status.protocol_version
        )
    })
}

/// The status as key/value lines.
pub fn render(st: &DaemonStatus, out: &Out) -> String {
    let c = &out.clock;
    let s = out.style;
    let mut text = String::new();
    let mut field = |key: &str, value: &str| {
        // Pad before painting: colour codes take no columns.
        let pad = " ".repeat(14usize.saturating_sub(key.len()));
        text.push_str(&format!("{}{pad}{value}\n", s.paint(Paint::Bold, key)));
    };
    field(
        "jitd",
        &format!(
            "{} (protocol {}), {} mode, up {} (since {})",
            st.version,
            st.protocol_version,
            st.mode,
            c.span_to(st.started_at),
            c.absolute(st.started_at)
        ),
    );
    let who = &st.caller;
    let mut me = format!("{} (uid {})", who.user, who.uid);
    if !who.groups.is_empty() {
        me.push_str(&format!(", groups {}", who.groups.join(", ")));
    }
    if who.admin {
        me.push_str(", admin");
    }
    field("you", &me);
    let n = &st.counts;
    field(
        "requests",
        &format!(
            "{} open: {} pending, {} granted, {} revoking",
            n.open, n.pending, n.granted, n.revoking
        ),
    );
    let integrations: Vec<String> = st
        .integrations
        .iter()
        .map(|i| {
            if i.dry_run {
                format!("{} ({}, provisions nothing)", i.name, i.kind)
            } else {
                format!("{} ({})", i.name, i.kind)
            }
        })
        .collect();
    field(
        "integrations",
        &if integrations.is_empty() {
            "none configured".to_owned()
        } else {
            integrations.join(", ")
        },
    );
    for ch in &st.notifications {
        let mut line = format!(
            "{} ({}): {} pending, {} delivered, {} failed attempts, {} dropped",
            ch.name, ch.kind, ch.pending, ch.delivered, ch.failed_attempts, ch.dropped
        );
        if let (Some(e), Some(at)) = (&ch.last_error, ch.last_error_at) {
            line.push_str(&format!("; last error {} ago: {e}", c.span_to(at)));
        }
        field("notify", &line);
    }
    if !st.revoking.is_empty() {
        text.push_str(&s.paint(
            Paint::Red,
            "revoking: access that should be gone but is not yet (jitd keeps retrying)",
        ));
        text.push('\n');
        for req in &st.revoking {
            let mut line = format!(
                "  {} {} {} ({})",
                req.id,
                req.requester,
                super::shared::target(req),
                span_secs(req.duration_secs)
            );
            if let Some(r) = &req.revoking {
                line.push_str(&format!(
                    ": {} failed attempts, {}; {}",
                    r.attempts,
                    r.error.as_deref().unwrap_or("no error recorded"),
                    super::shared::next_try(r, out)
                ));
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::{out, revoking};
    use jit_api::{Caller, Counts, IntegrationStatus};
    use time::macros::datetime;

    fn status() -> DaemonStatus {
        DaemonStatus {
            protocol_version: PROTOCOL_VERSION,
            version: "0.1.0".into(),
            mode: "user".into(),
            started_at: datetime!(2025-11-23 10:35:00 UTC),
            caller: Caller {
                user: "alice".into(),
                uid: 1000,
                groups: vec!["alice".into(), "dba".into()],
                admin: true,
            },
            counts: Counts {
                pending: 1,
                granted: 2,
                revoking: 1,
                open: 4,
            },
            revoking: vec![revoking()],
            integrations: vec![
                IntegrationStatus {
                    name: "pg-main".into(),
                    kind: "postgres".into(),
                    dry_run: false,
                },
                IntegrationStatus {
                    name: "sandbox".into(),
                    kind: "dry-run".into(),
                    dry_run: true,
                },
            ],
            notifications: Vec::new(),
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            render(&status(), &out()),
            "jitd          0.1.0 (protocol 1), user mode, up 3h (since 11:35)\n\
             you           alice (uid 1000), groups alice, dba, admin\n\
             requests      4 open: 1 pending, 2 granted, 1 revoking\n\
             integrations  pg-main (postgres), sandbox (dry-run, provisions nothing)\n\
             revoking: access that should be gone but is not yet (jitd keeps retrying)\n  \
             45 alice pg-main/database (1h): 3 failed attempts, connection refused; next try in 4s (14:35)\n"
        );
    }

    #[test]
    fn protocol_mismatch_warns() {
        assert_eq!(protocol_warning(&status()), None);
        let mut st = status();
        st.protocol_version = PROTOCOL_VERSION + 1;
        let w = protocol_warning(&st).expect("warning");
        assert!(w.contains("until jit is upgraded"), "{w}");
    }
}
