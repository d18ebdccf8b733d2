//! `jit show`: one request (`request.get`) with every field, its approvals and sessions.

use jit_api::methods::{IdParams, RequestGet};
use jit_api::{ApprovalMode, CredentialState, Decision, Extension, Request, Status};

use super::{Ctx, Outcome, shared};
use crate::format::{Clock, Paint, span_secs};
use crate::output::Out;

/// Show everything about one request.
///
/// Its resources and permissions (every entry of a bundle), justification, approval (who
/// may approve, who did), times (scheduled start, expiry), extensions, and once granted its
/// sessions: the principal on each integration, whether the credentials can still be shown
/// or were rotated, how to connect, and the admin's message. Secrets are never shown here
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
        if !key.is_empty() {
            self.text.push_str(&self.out.style.paint(Paint::Bold, key));
        }
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
    match (&req.bundle, req.entries.as_slice()) {
        (None, [e]) => {
            b.field(
                2,
                "integration",
                &format!("{} ({})", e.integration, e.resource_type),
            );
            b.field(2, "resources", &e.resources.join(", "));
            b.field(2, "permissions", &e.permissions.join(", "));
        }
        (bundle, entries) => {
            if let Some(bundle) = bundle {
                b.field(2, "bundle", bundle);
            }
            for (i, e) in entries.iter().enumerate() {
                let key = if i == 0 { "entries" } else { "" };
                b.field(2, key, &shared::entry_text(e, usize::MAX));
            }
        }
    }
    if req.break_glass {
        b.field(
            2,
            "break-glass",
            &out.style.paint(
                Paint::Yellow,
                "yes: granted without approval; the flow's approvers were told",
            ),
        );
    }
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
    if let Some(t) = req.start_at {
        b.field(2, "starts", &c.both(t));
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
    for (i, x) in req.extensions.iter().enumerate() {
        let key = if i == 0 { "extensions" } else { "" };
        b.field(2, key, &extension(x, c));
    }
    if let Some(x) = &req.pending_extension {
        let a = &req.approval;
        let mut text = format!(
            "{} waits for approval by {}",
            extension(x, c),
            crate::format::approvers(&a.approvers)
        );
        if !x.approvals.is_empty() {
            let by: Vec<&str> = x.approvals.iter().map(|d| d.by.as_str()).collect();
            text.push_str(&format!(" (approved so far by {})", by.join(", ")));
        }
        b.field(2, "extension", &out.style.paint(Paint::Yellow, &text));
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
        b.line(&format!("    approved by {}", decision(d, c)));
    }
    if let Some(d) = &a.rejection {
        b.line(&format!("    rejected by {}", decision(d, c)));
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
            let dry = if s.dry_run && s.kind != "dry-run" {
                ", dry-run"
            } else {
                ""
            };
            b.line(&format!("  {} ({}{dry})", s.integration, s.kind));
            if s.rotated && req.status.is_open() {
                b.line(&format!(
                    "    {}",
                    out.style.paint(
                        Paint::Yellow,
                        "credentials rotated — saved credentials or client profiles may no \
                         longer work"
                    )
                ));
            }
            b.field(4, "principal", s.principal.as_deref().unwrap_or("(none)"));
            if !s.resources.is_empty() {
                b.field(4, "resources", &s.resources.join(", "));
            }
            let creds = match s.credentials {
                CredentialState::Unrevealed => {
                    format!("not yet revealed: `jit creds {}` shows them once", req.id)
                }
                CredentialState::Revealed => "revealed (shown once, then erased)".into(),
                CredentialState::None => "none".into(),
            };
            b.field(4, "credentials", &creds);
            if !s.connect.is_empty() {
                b.field(
                    4,
                    "connect",
                    &format!(
                        "{}: `{}`",
                        shared::kind_list(&s.connect),
                        shared::connect_command(req, &s.integration)
                    ),
                );
            }
            if let Some(instructions) = s.instructions.as_ref().filter(|_| req.status.is_open()) {
                b.field(4, "instructions", instructions);
            }
            // Files are not secret (an SSH certificate): shown in full, to be saved.
            for f in s.files.iter().filter(|_| req.status.is_open()) {
                b.field(4, "file", &f.name);
                for line in f.contents.lines() {
                    b.line(&format!("      {line}"));
                }
            }
            if let Some(message) = &s.message {
                b.field(4, "admin message", message);
            }
        }
    }
    b.text
}

/// "carol 3m ago: fine".
fn decision(d: &Decision, c: &Clock) -> String {
    let reason = d
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!("{} {}{reason}", d.by, c.relative(d.at))
}

/// "+30m by alice 5m ago: INC-4312 still open".
fn extension(x: &Extension, c: &Clock) -> String {
    let reason = x
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "+{} by {} {}{reason}",
        span_secs(x.added_secs).replace(' ', ""),
        x.by,
        c.relative(x.at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::{bundle, granted, out, revoking, scheduled};
    use time::macros::datetime;

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
        assert!(text.contains("    resources      orders\n"));
        assert!(text.contains("    connect        terminal, app: `jit connect 42`\n"));
        assert!(!text.contains("rotated"));
        assert!(!text.contains("break-glass"));
        assert!(!text.contains("file"));
    }

    #[test]
    fn shows_instructions_and_public_files_while_open() {
        let mut req = granted();
        req.sessions[0].instructions = Some("log in as deploy".into());
        req.sessions[0].files = vec![jit_api::SessionFile {
            name: "jit_alice_42-cert.pub".into(),
            contents: "ssh-ed25519-cert-v01@openssh.com AAAA jit\n".into(),
        }];
        let text = render(&req, &out());
        assert!(
            text.contains("    instructions   log in as deploy\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "    file           jit_alice_42-cert.pub\n      ssh-ed25519-cert-v01@openssh.com AAAA jit\n"
            ),
            "{text}"
        );
        req.status = Status::Revoked;
        let text = render(&req, &out());
        assert!(!text.contains("cert"), "{text}");
    }

    #[test]
    fn shows_every_entry_of_a_bundle_and_its_sessions() {
        let text = render(&bundle(), &out());
        assert!(
            text.contains(
                "  bundle         oncall\n  \
                 entries        read on pg-main/database orders\n                 \
                 write on sandbox/schema scratch, orders\n"
            ),
            "{text}"
        );
        assert!(text.contains("  pg-main (postgres)\n"));
        assert!(text.contains("  sandbox (dry-run)\n"));
        assert!(
            text.contains("    connect        terminal, app: `jit connect 46 --session pg-main`\n")
        );
        assert!(!text.contains("  integration "));
    }

    #[test]
    fn shows_rotation_break_glass_start_and_extensions() {
        let mut req = granted();
        req.sessions[0].rotated = true;
        req.break_glass = true;
        req.extensions.push(Extension {
            by: "alice".into(),
            at: datetime!(2025-11-23 13:30:00 UTC),
            added_secs: 1800,
            reason: Some("still on it".into()),
            approvals: vec![],
        });
        req.pending_extension = Some(Extension {
            by: "alice".into(),
            at: datetime!(2025-11-23 13:34:00 UTC),
            added_secs: 5400,
            reason: None,
            approvals: vec![],
        });
        req.approval.approvers = vec!["%dba".into()];
        let text = render(&req, &out());
        assert!(
            text.contains(
                "  pg-main (postgres)\n    \
                 credentials rotated — saved credentials or client profiles may no longer work\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "  break-glass    yes: granted without approval; the flow's approvers were told\n"
        ));
        assert!(text.contains("  extensions     +30m by alice 5m ago: still on it\n"));
        assert!(
            text.contains("  extension      +1h30m by alice 1m ago waits for approval by %dba\n")
        );
        let text = render(&scheduled(), &out());
        assert!(text.contains("  starts         in 3h (17:35)\n"), "{text}");
    }

    #[test]
    fn shows_the_revoke_being_retried() {
        let text = render(&revoking(), &out());
        assert!(text.contains(
            "  revoking       3 failed attempts, last error: connection refused; next try in 4s"
        ));
    }
}
