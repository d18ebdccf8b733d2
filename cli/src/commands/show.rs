//! `jit show`: one request (`request.get`) with every field, its approvals and sessions.

use jit_api::methods::{IdParams, RequestGet};
use jit_api::{ApprovalMode, CredentialState, Request, Status};

use super::{Ctx, Outcome, shared};
use crate::format::{Paint, span_secs};
use crate::output::Out;

/// Show everything about one request.
///
/// Its resources and permissions, justification, approval (who may approve, who did),
/// times, and once granted its sessions: the principal on each integration, whether the
/// credentials can still be shown, and the admin's message. Secrets are never shown here
/// (`jit creds` shows them, once).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request's number
    #[arg(value_name = "ID")]
    pub id: u64,
}

/// Runs `jit show`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let req = ctx
        .client
        .call::<RequestGet>(&IdParams { id: args.id })
        .await?;
    if ctx.out.json {
        ctx.out.json(&req)?;
    } else {
        ctx.out.print(&render(&req, &ctx.out))?;
    }
    Ok(Outcome::Done)
}

/// Key/value lines under a headline.
struct Block<'a> {
    out: &'a Out,
    text: String,
}

impl Block<'_> {
    fn field(&mut self, indent: usize, key: &str, value: &str) {
        let pad = 15usize.saturating_sub(key.chars().count());
        self.text.push_str(&" ".repeat(indent));
        self.text.push_str(&self.out.style.paint(Paint::Bold, key));
        self.text.push_str(&" ".repeat(pad.max(1)));
        self.text.push_str(value);
        self.text.push('\n');
    }

    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }
}

/// The full description.
pub fn render(req: &Request, out: &Out) -> String {
    let c = &out.clock;
    let mut b = Block {
        out,
        text: String::new(),
    };
    b.line(&shared::headline(req, out));
    b.field(2, "requester", &req.requester);
    b.field(2, "access flow", &req.flow);
    b.field(
        2,
        "integration",
        &format!("{} ({})", req.integration, req.resource_type),
    );
    b.field(2, "resources", &req.resources.join(", "));
    b.field(2, "permissions", &req.permissions.join(", "));
    b.field(
        2,
        "justification",
        req.justification.as_deref().unwrap_or("(none)"),
    );
    b.field(2, "duration", &span_secs(req.duration_secs));
    b.field(2, "requested", &c.both(req.created_at));
    if let Some(t) = req.pending_until.filter(|_| req.status == Status::Pending) {
        b.field(2, "times out", &c.both(t));
    }
    if let Some(t) = req.granted_at {
        b.field(2, "granted", &c.both(t));
    }
    if let Some(t) = req.expires_at {
        let key = if req.status.is_open() {
            "expires"
        } else {
            "was due"
        };
        b.field(2, key, &c.both(t));
    }
    if let Some(t) = req.ended_at {
        b.field(2, "ended", &c.both(t));
    }
    if let Some(reason) = &req.end_reason {
        b.field(2, "end reason", reason);
    }
    if let Some(error) = &req.error {
        b.field(2, "error", &out.style.paint(Paint::Red, error));
    }
    if let Some(repeats) = req.repeats {
        b.field(2, "repeats", &format!("request {repeats}"));
    }
    if req.dry_run {
        b.field(2, "dry-run", "yes: nothing is provisioned");
    }

    let a = &req.approval;
    let approval = match a.mode {
        ApprovalMode::Auto => "automatic".to_owned(),
        ApprovalMode::Manual => format!(
            "manual: {} of {} from {}",
            a.approvals.len(),
            a.required,
            crate::format::approvers(&a.approvers)
        ),
    };
    b.field(2, "approval", &approval);
    for d in &a.approvals {
        let reason = d
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        b.line(&format!(
            "    approved by {} {}{reason}",
            d.by,
            c.relative(d.at)
        ));
    }
    if let Some(d) = &a.rejection {
        let reason = d
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        b.line(&format!(
            "    rejected by {} {}{reason}",
            d.by,
            c.relative(d.at)
        ));
    }

    if let Some(r) = &req.revoking {
        let error = r.error.as_deref().unwrap_or("first attempt in progress");
        b.field(
            2,
            "revoking",
            &out.style.paint(
                Paint::Red,
                &format!(
                    "{} failed attempts, last error: {error}; {}; then {}",
                    r.attempts,
                    shared::next_try(r, out),
                    r.outcome
                ),
            ),
        );
    }

    if !req.sessions.is_empty() {
        b.line("Sessions");
        for s in &req.sessions {
            let dry = if s.dry_run { ", dry-run" } else { "" };
            b.line(&format!("  {} ({}{dry})", s.integration, s.kind));
            b.field(4, "principal", s.principal.as_deref().unwrap_or("(none)"));
            let creds = match s.credentials {
                CredentialState::Unrevealed => {
                    format!("not yet revealed: `jit creds {}` shows them once", req.id)
                }
                CredentialState::Revealed => "revealed (shown once, then erased)".into(),
                CredentialState::None => "none".into(),
            };
            b.field(4, "credentials", &creds);
            if let Some(message) = &s.message {
                b.field(4, "admin message", message);
            }
        }
    }
    b.text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::{granted, out, revoking};

    #[test]
    fn shows_fields_and_sessions_without_secrets() {
        let text = render(&granted(), &out());
        assert!(text.starts_with("Request 42 Granted — expires in 30m (15:05)\n"));
        assert!(text.contains("  requester      alice\n"));
        assert!(text.contains("  justification  INC-4312\n"));
        assert!(text.contains("  expires        in 30m (15:05)\n"));
        assert!(text.contains("  approval       automatic\n"));
        assert!(text.contains("Sessions\n  pg-main (postgres)\n    principal      jit_alice_42\n"));
        assert!(text.contains("    credentials    not yet revealed: `jit creds 42`"));
        assert!(text.contains("    admin message  use the read replica for reports\n"));
    }

    #[test]
    fn shows_the_revoke_being_retried() {
        let text = render(&revoking(), &out());
        assert!(text.contains(
            "  revoking       3 failed attempts, last error: connection refused; next try in 4s"
        ));
    }
}
