//! What several commands share: the one-line headline of a request, what it is for, its
//! "when" and status cells, the report after creating one (with the "Access granted"
//! block), and waiting for a request to move on (its events, or `request.wait` from an
//! older jitd).

use std::time::{Duration, Instant};

use jit_api::methods::{
    EventsSubscribe, EventsUnsubscribe, IdParams, RequestGet, RequestWait, SubscribeParams,
    UnsubscribeParams, WaitFor, WaitParams,
};
use jit_api::wire::{RpcError, decode_event};
use jit_api::{ApprovalMode, ConnectKind, CredentialState, Entry, Request, Status};

use super::{Ctx, Outcome};
use crate::format::{self, Paint, Style, span_secs};
use crate::output::Out;

/// The longest single `request.wait` call (a jitd without events); longer waits loop, so a
/// dead daemon is noticed.
const WAIT_CALL_SECS: u64 = 60;

/// How much longer than the daemon's own wait timeout jit waits for the answer.
const WAIT_MARGIN: Duration = Duration::from_secs(10);

/// The `request.wait` call length while asking a jitd without events for a scheduled
/// request's approval: the daemon's `decided` target only fires at the start time, so jit
/// asks more often and checks for Scheduled itself.
const POLL_CALL_SECS: u64 = 2;

/// Whether `req` is where `until` wants it: what `request.wait` means by it, so that
/// following events stops where asking jitd would.
pub fn reached(req: &Request, until: WaitFor) -> bool {
    match until {
        // A failed grant being rolled back is still on its way to Failed.
        WaitFor::Settled => {
            req.status != Status::Granting
                && !(req.status == Status::Revoking
                    && req
                        .revoking
                        .as_ref()
                        .is_some_and(|r| r.outcome == Status::Failed))
        }
        WaitFor::Decided => !matches!(
            req.status,
            Status::Pending | Status::Scheduled | Status::Granting
        ),
        WaitFor::Closed => !req.status.is_open(),
    }
}

/// Waits with `request.wait` until request `id` reaches `until`, or `total` has passed;
/// returns the request as it is then.
pub async fn wait(
    ctx: &mut Ctx,
    id: u64,
    until: WaitFor,
    total: Duration,
) -> anyhow::Result<Request> {
    wait_for(ctx, id, until, total, WAIT_CALL_SECS, |_| false).await
}

/// [`wait`], that also stops when `done` says so. It follows the request's events; a jitd
/// without them (older than `events.subscribe`) is asked with `request.wait` calls of at
/// most `call_secs`.
async fn wait_for(
    ctx: &mut Ctx,
    id: u64,
    until: WaitFor,
    total: Duration,
    call_secs: u64,
    done: impl Fn(&Request) -> bool,
) -> anyhow::Result<Request> {
    let deadline = Instant::now() + total;
    let params = SubscribeParams { request: Some(id) };
    let subscription = match ctx.client.call::<EventsSubscribe>(&params).await {
        Ok(s) => s.subscription,
        Err(e) if unknown_method(&e) => {
            return wait_by_asking(ctx, id, until, total, call_secs, done).await;
        }
        Err(e) => return Err(e),
    };
    // Read once subscribed: whatever changes after this read comes as an event.
    let mut req = ctx.client.call::<RequestGet>(&IdParams { id }).await?;
    while !(reached(&req, until) || done(&req)) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = tokio::time::timeout(left, ctx.client.next_event()).await else {
            break;
        };
        match decode_event(&line?) {
            Some(Ok(n)) if n.result.request.as_ref().is_some_and(|r| r.id == id) => {
                req = n.result.request.unwrap_or(req);
            }
            // Missed events (`lagged`), or a kind this jit does not know: read it again.
            _ => req = ctx.client.call::<RequestGet>(&IdParams { id }).await?,
        }
    }
    let params = UnsubscribeParams { subscription };
    ctx.client.call::<EventsUnsubscribe>(&params).await?;
    Ok(req)
}

/// Whether jitd does not know the method called (it is older than this jit).
fn unknown_method(e: &anyhow::Error) -> bool {
    e.downcast_ref::<RpcError>()
        .is_some_and(|e| e.code == -32601)
}

/// [`wait_for`] against a jitd without events: `request.wait` calls of at most `call_secs`.
async fn wait_by_asking(
    ctx: &mut Ctx,
    id: u64,
    until: WaitFor,
    total: Duration,
    call_secs: u64,
    done: impl Fn(&Request) -> bool,
) -> anyhow::Result<Request> {
    let deadline = Instant::now() + total;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let secs = left.as_secs().clamp(1, call_secs);
        let params = WaitParams {
            id,
            until,
            timeout_secs: Some(secs),
        };
        let started = Instant::now();
        let req = ctx
            .client
            .call_within::<RequestWait>(&params, Duration::from_secs(secs) + WAIT_MARGIN)
            .await?;
        if reached(&req, until) || done(&req) || Instant::now() >= deadline {
            return Ok(req);
        }
        // A daemon that answers at once without the status changing would make this loop
        // spin; pace it.
        if started.elapsed() < Duration::from_millis(100) {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// After `request.create` or `request.again`: waits as asked, prints the result, and says
/// how it ended.
///
/// Without `--wait`, a request that is being provisioned is waited for until it settles,
/// so the requester sees Granted or Failed. With `--wait`, a pending request is waited for
/// until it is decided (and provisioned), up to `timeout`; a request with a scheduled start
/// counts as decided once it is Scheduled (approved), not at its start.
pub async fn follow(
    ctx: &mut Ctx,
    req: Request,
    wait_for_decision: bool,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let until = if wait_for_decision {
        WaitFor::Decided
    } else {
        WaitFor::Settled
    };
    let approved_for_later = |r: &Request| wait_for_decision && r.status == Status::Scheduled;
    let mut req = req;
    if !reached(&req, until) && !approved_for_later(&req) {
        if !ctx.out.json && matches!(req.status, Status::Pending | Status::Scheduled) {
            // stderr may not be the terminal stdout is: no colour there.
            let plain = Out {
                style: Style { color: false },
                ..ctx.out
            };
            ctx.out.note(&format!(
                "{}\nwaiting up to {} (Ctrl-C stops waiting; the request stays)",
                headline(&req, &plain),
                span_secs(timeout.as_secs())
            ));
        }
        let call_secs = if req.start_at.is_some() && wait_for_decision {
            POLL_CALL_SECS
        } else {
            WAIT_CALL_SECS
        };
        req = wait_for(ctx, req.id, until, timeout, call_secs, approved_for_later).await?;
    }
    if ctx.out.json {
        ctx.out.json(&req)?;
    } else {
        ctx.out.print(&report(&req, &ctx.out))?;
    }
    Ok(match req.status {
        Status::Failed | Status::Rejected | Status::Canceled => Outcome::EndedBadly,
        Status::Granting => Outcome::StillWaiting,
        Status::Pending if wait_for_decision => Outcome::StillWaiting,
        _ => Outcome::Done,
    })
}

/// "Request 42 Granted — expires in 30m (14:05)", one line for any status.
pub fn headline(req: &Request, out: &Out) -> String {
    let c = &out.clock;
    let label = out.style.status(req.status);
    let id = req.id;
    let rest = match req.status {
        Status::Pending => {
            let a = &req.approval;
            let mut text = format!(
                "waiting for approval by {}",
                format::approvers(&a.approvers)
            );
            if a.required > 1 {
                text.push_str(&format!(
                    " ({} of {} approvals)",
                    a.approvals.len(),
                    a.required
                ));
            }
            text
        }
        Status::Scheduled => match req.start_at {
            Some(t) => format!("approved; access starts {}", c.both(t)),
            None => "approved; access starts at its scheduled time".into(),
        },
        Status::Granting => "access is being provisioned".into(),
        Status::Granted => match req.expires_at {
            Some(t) => format!("expires {}", c.both(t)),
            None => "access is ready".into(),
        },
        Status::Revoking => revoking_text(req, out),
        Status::Expired | Status::Revoked => match req.ended_at {
            Some(t) => format!("access ended {}", c.both(t)),
            None => "access is gone".into(),
        },
        Status::Rejected | Status::Failed | Status::Canceled => {
            why_closed(req).unwrap_or_else(|| req.status.as_str().into())
        }
    };
    format!("Request {id} {label}{} — {rest}", tags(req))
}

/// When a revoke is tried next: "next try in 4s (14:05)", or "retrying now" when due.
pub fn next_try(r: &jit_api::Revoking, out: &Out) -> String {
    if r.next_retry_at > out.clock.now {
        format!("next try {}", out.clock.both(r.next_retry_at))
    } else {
        "retrying now".into()
    }
}

/// "access still exists; next try in 4s (14:05) (attempt 3 failed: connection refused)".
fn revoking_text(req: &Request, out: &Out) -> String {
    let Some(r) = &req.revoking else {
        return "access is being taken away".into();
    };
    let mut text = format!("access still exists; {}", next_try(r, out));
    if let Some(error) = &r.error {
        text.push_str(&format!(" (attempt {} failed: {error})", r.attempts));
    }
    text
}

/// Why a closed request ended, in words, if the daemon said.
pub fn why_closed(req: &Request) -> Option<String> {
    if let Some(rejection) = &req.approval.rejection {
        return Some(match &rejection.reason {
            Some(reason) => format!("rejected by {}: {reason}", rejection.by),
            None => format!("rejected by {}", rejection.by),
        });
    }
    req.error.clone().or_else(|| req.end_reason.clone())
}

/// " [dry-run] [break-glass]": the flags that change what a request means.
fn tags(req: &Request) -> String {
    let mut text = String::new();
    if req.dry_run {
        text.push_str(" [dry-run]");
    }
    if req.break_glass {
        text.push_str(" [break-glass]");
    }
    text
}

/// What a request is for, in one cell: "pg-main/database", or "bundle oncall".
pub fn target(req: &Request) -> String {
    if let Some(bundle) = &req.bundle {
        return format!("bundle {bundle}");
    }
    let targets: Vec<String> = req
        .entries
        .iter()
        .map(|e| format!("{}/{}", e.integration, e.resource_type))
        .collect();
    let targets = crate::parse::dedup(targets);
    if targets.is_empty() {
        "(nothing)".into()
    } else {
        targets.join(", ")
    }
}

/// Every resource a request names, over all its entries, without repeats.
pub fn resources(req: &Request) -> Vec<String> {
    crate::parse::dedup(
        req.entries
            .iter()
            .flat_map(|e| e.resources.iter().cloned())
            .collect(),
    )
}

/// Every permission a request names, over all its entries, without repeats.
pub fn permissions(req: &Request) -> Vec<String> {
    crate::parse::dedup(
        req.entries
            .iter()
            .flat_map(|e| e.permissions.iter().cloned())
            .collect(),
    )
}

/// "read on pg-main/database orders, payments": one entry, resources shortened to `max`.
pub fn entry_text(e: &Entry, max: usize) -> String {
    format!(
        "{} on {}/{} {}",
        e.permissions.join(", "),
        e.integration,
        e.resource_type,
        format::list(&e.resources, max)
    )
}

/// "alice: read on pg-main/database orders, payments for 1h", or for a bundle
/// "alice: bundle oncall for 1h".
pub fn summary(req: &Request) -> String {
    let what = match &req.bundle {
        Some(bundle) => format!("bundle {bundle}"),
        None => req
            .entries
            .iter()
            .map(|e| entry_text(e, 60))
            .collect::<Vec<_>>()
            .join("; "),
    };
    format!(
        "{}: {what} for {}",
        req.requester,
        span_secs(req.duration_secs)
    )
}

/// The word for a way to connect, as on the wire and in `--terminal`/`--browser`/`--app`.
pub const fn kind_name(kind: ConnectKind) -> &'static str {
    match kind {
        ConnectKind::Terminal => "terminal",
        ConnectKind::Browser => "browser",
        ConnectKind::App => "app",
    }
}

/// "terminal, app".
pub fn kind_list(kinds: &[ConnectKind]) -> String {
    kinds
        .iter()
        .map(|k| kind_name(*k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `jit connect` line for one session: `--session` only when the request has several.
pub fn connect_command(req: &Request, integration: &str) -> String {
    if req.sessions.len() > 1 {
        format!("jit connect {} --session {integration}", req.id)
    } else {
        format!("jit connect {}", req.id)
    }
}

/// "Scheduled: access starts at 02:00 (in 3h), for 2h".
pub fn scheduled_line(req: &Request, out: &Out) -> String {
    let c = &out.clock;
    let when = match req.start_at {
        Some(t) => format!("at {} ({})", c.absolute(t), c.relative(t)),
        None => "at its scheduled time".into(),
    };
    format!(
        "Scheduled: access starts {when}, for {}",
        span_secs(req.duration_secs)
    )
}

/// The warning printed with a break-glass request.
pub fn break_glass_warning(req: &Request) -> String {
    let approvers = &req.approval.approvers;
    let who = if approvers.is_empty() {
        format!("the approvers of access flow {}", req.flow)
    } else {
        format!(
            "the approvers of access flow {} ({})",
            req.flow,
            approvers.join(", ")
        )
    };
    format!("warning: break-glass access: granted without approval; {who} were told")
}

/// The block printed when access is granted while the requester waits: "Access granted",
/// the admins' messages, and the next step for each session.
pub fn access_granted(req: &Request) -> Vec<String> {
    let id = req.id;
    let mut lines = vec!["Access granted".to_owned()];
    for s in &req.sessions {
        if let Some(message) = &s.message {
            lines.push(format!(
                "Message from your admin about {}: {message}",
                s.integration
            ));
        }
    }
    if req.dry_run || req.sessions.iter().any(|s| s.dry_run) {
        lines.push("dry-run: nothing was provisioned".into());
    }
    let several = req.sessions.len() > 1;
    let mut any_connect = false;
    let mut creds = false;
    for s in &req.sessions {
        if !s.connect.is_empty() {
            any_connect = true;
            let command = connect_command(req, &s.integration);
            let kinds = kind_list(&s.connect);
            lines.push(if several {
                format!("Connect to {}: `{command}` ({kinds})", s.integration)
            } else {
                format!("Connect: `{command}` ({kinds})")
            });
        } else if s.credentials == CredentialState::Unrevealed {
            creds = true;
        }
    }
    if creds {
        lines.push(if any_connect {
            format!(
                "Run `jit creds {id}` to see your credentials once (after that, `jit connect` \
                 needs `jit reset {id}`)."
            )
        } else {
            format!("Run `jit creds {id}` to see your credentials once.")
        });
    }
    lines
}

/// After approve, reject or cancel: "Approved request 42 (alice: …)" and the headline.
pub fn decided(verb: &str, req: &Request, out: &Out) -> String {
    format!(
        "{verb} request {} ({})\n{}\n",
        req.id,
        summary(req),
        headline(req, out)
    )
}

/// The report after creating a request: the headline, the admins' messages, and what to
/// do next.
pub fn report(req: &Request, out: &Out) -> String {
    let id = req.id;
    let mut lines = vec![headline(req, out)];
    if let Some(repeats) = req.repeats {
        lines.push(format!("(repeats request {repeats})"));
    }
    if req.break_glass {
        lines.push(out.style.paint(Paint::Yellow, &break_glass_warning(req)));
    }
    match req.status {
        Status::Granted => {
            lines.push(String::new());
            lines.extend(access_granted(req));
        }
        Status::Pending => {
            let a = &req.approval;
            if a.mode == ApprovalMode::Manual {
                let needed = if a.required > 1 {
                    format!("{} approvals needed", a.required)
                } else {
                    "1 approval needed".into()
                };
                lines.push(format!(
                    "Who can approve: {} ({needed}). They run `jit approve {id}`.",
                    format::approvers(&a.approvers)
                ));
            }
            if let Some(t) = req.pending_until {
                lines.push(format!(
                    "If nobody decides, it is rejected {}.",
                    out.clock.both(t)
                ));
            }
            if let Some(t) = req.start_at {
                lines.push(format!(
                    "Once approved, access starts at {} ({}), for {}.",
                    out.clock.absolute(t),
                    out.clock.relative(t),
                    span_secs(req.duration_secs)
                ));
            }
            lines.push(format!(
                "Follow it with `jit show {id}`; withdraw it with `jit cancel {id}`."
            ));
        }
        Status::Scheduled => {
            lines.push(scheduled_line(req, out));
            lines.push(format!(
                "Follow it with `jit show {id}`; withdraw it with `jit cancel {id}`."
            ));
        }
        Status::Granting => {
            lines.push(format!("Follow it with `jit show {id}`."));
        }
        Status::Failed => {
            lines.push(
                "Nothing was left provisioned. Contact your admin if the error is theirs to fix."
                    .into(),
            );
            lines.push(format!(
                "Try again later with `jit again {id} --reason TEXT`."
            ));
        }
        Status::Rejected | Status::Canceled | Status::Expired | Status::Revoked => {
            lines.push(format!("Ask again with `jit again {id} --reason TEXT`."));
        }
        Status::Revoking => {}
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The STATUS cell of a request: its label, with "retry in 4s" while revoking, and the
/// tags `[dry-run]`, `[break-glass]` and `[rotated]` (a session's credentials changed
/// since the requester last saw or used them).
pub fn status_cell(req: &Request, out: &Out) -> (Paint, String) {
    let mut text = req.status.label().to_owned();
    if let Some(r) = &req.revoking {
        if req.status != Status::Revoking {
            text = Status::Revoking.label().to_owned();
        }
        if r.next_retry_at > out.clock.now {
            text.push_str(&format!(
                " (retry in {})",
                out.clock.span_to(r.next_retry_at)
            ));
        } else {
            text.push_str(" (retrying)");
        }
        return (Paint::Red, text);
    }
    text.push_str(&tags(req));
    if rotated(req) {
        text.push_str(" [rotated]");
    }
    (Paint::of(req.status), text)
}

/// Whether a session of an open request has credentials that were rotated.
pub fn rotated(req: &Request) -> bool {
    req.status.is_open() && req.sessions.iter().any(|s| s.rotated)
}

/// The WHEN cell: "expires in 42m", "pending 3m", "starts in 3h", "ended 2h ago".
pub fn when_cell(req: &Request, out: &Out) -> String {
    let c = &out.clock;
    match req.status {
        Status::Pending => format!("pending {}", c.span_to(req.created_at)),
        Status::Scheduled => match req.start_at {
            Some(t) => format!("starts {}", c.relative(t)),
            None => format!("scheduled {}", c.relative(req.created_at)),
        },
        Status::Granting => match req.granted_at {
            Some(t) => format!("granting {}", c.span_to(t)),
            None => format!("granting {}", c.span_to(req.created_at)),
        },
        Status::Granted => match req.expires_at {
            Some(t) => format!("expires {}", c.relative(t)),
            None => "granted".into(),
        },
        Status::Revoking => match req.expires_at {
            Some(t) if t <= c.now => format!("was due {}", c.relative(t)),
            Some(t) => format!("expires {}", c.relative(t)),
            None => "revoking".into(),
        },
        _ => format!(
            "ended {}",
            c.relative(req.ended_at.unwrap_or(req.created_at))
        ),
    }
}

#[cfg(test)]
pub mod tests {
    //! Hand-built requests for the renderers' tests.

    use super::*;
    use crate::format::{Clock, Style};
    use jit_api::{Approval, Decision, Revoking, Session};
    use time::macros::{datetime, offset};

    /// Output without colour, at 2025-11-23 13:35 UTC, local offset UTC+1.
    pub fn out() -> Out {
        Out {
            json: false,
            tty: false,
            style: Style::PLAIN,
            clock: Clock {
                now: datetime!(2025-11-23 13:35:00 UTC),
                offset: Some(offset!(+1)),
            },
        }
    }

    /// Request 42: alice, read on pg-main/database orders, granted 30m ago for 1h.
    pub fn granted() -> Request {
        Request {
            id: 42,
            requester: "alice".into(),
            flow: "dba-read".into(),
            bundle: None,
            entries: vec![Entry {
                integration: "pg-main".into(),
                resource_type: "database".into(),
                resources: vec!["orders".into()],
                permissions: vec!["read".into()],
            }],
            justification: Some("INC-4312".into()),
            status: Status::Granted,
            duration_secs: 3600,
            created_at: datetime!(2025-11-23 13:05:00 UTC),
            start_at: None,
            pending_until: None,
            granted_at: Some(datetime!(2025-11-23 13:05:00 UTC)),
            expires_at: Some(datetime!(2025-11-23 14:05:00 UTC)),
            ended_at: None,
            end_reason: None,
            error: None,
            approval: Approval {
                mode: ApprovalMode::Auto,
                approvers: vec![],
                required: 0,
                approvals: vec![],
                rejection: None,
            },
            repeats: None,
            sessions: vec![Session {
                integration: "pg-main".into(),
                kind: "postgres".into(),
                principal: Some("jit_alice_42".into()),
                resources: vec!["orders".into()],
                credentials: CredentialState::Unrevealed,
                rotated: false,
                connect: vec![ConnectKind::Terminal, ConnectKind::App],
                message: Some("use the read replica for reports".into()),
                dry_run: false,
                instructions: None,
                files: vec![],
            }],
            revoking: None,
            dry_run: false,
            break_glass: false,
            extensions: vec![],
            pending_extension: None,
        }
    }

    /// Request 46: alice, bundle oncall over pg-main and sandbox (dry-run), granted.
    pub fn bundle() -> Request {
        let mut req = granted();
        req.id = 46;
        req.flow = "oncall".into();
        req.bundle = Some("oncall".into());
        req.entries.push(Entry {
            integration: "sandbox".into(),
            resource_type: "schema".into(),
            resources: vec!["scratch".into(), "orders".into()],
            permissions: vec!["write".into()],
        });
        req.sessions.push(Session {
            integration: "sandbox".into(),
            kind: "dry-run".into(),
            principal: None,
            resources: vec!["scratch".into(), "orders".into()],
            credentials: CredentialState::None,
            rotated: false,
            connect: vec![],
            message: None,
            dry_run: true,
            instructions: None,
            files: vec![],
        });
        req
    }

    /// Request 47: bob, approved, access starts in 3h for 2h.
    pub fn scheduled() -> Request {
        Request {
            id: 47,
            requester: "bob".into(),
            status: Status::Scheduled,
            duration_secs: 7200,
            start_at: Some(datetime!(2025-11-23 16:35:00 UTC)),
            granted_at: None,
            expires_at: None,
            sessions: vec![],
            ..granted()
        }
    }

    /// Request 43: bob, pending for 3m, manual approval by carol or %dba.
    pub fn pending() -> Request {
        Request {
            id: 43,
            requester: "bob".into(),
            status: Status::Pending,
            created_at: datetime!(2025-11-23 13:32:00 UTC),
            pending_until: Some(datetime!(2025-11-23 15:35:00 UTC)),
            granted_at: None,
            expires_at: None,
            sessions: vec![],
            approval: Approval {
                mode: ApprovalMode::Manual,
                approvers: vec!["carol".into(), "%dba".into()],
                required: 1,
                approvals: vec![],
                rejection: None,
            },
            ..granted()
        }
    }

    /// Request 44: expired 2h ago.
    pub fn expired() -> Request {
        Request {
            id: 44,
            status: Status::Expired,
            created_at: datetime!(2025-11-23 10:35:00 UTC),
            granted_at: Some(datetime!(2025-11-23 10:35:00 UTC)),
            expires_at: Some(datetime!(2025-11-23 11:35:00 UTC)),
            ended_at: Some(datetime!(2025-11-23 11:35:00 UTC)),
            end_reason: Some("expired".into()),
            sessions: vec![],
            ..granted()
        }
    }

    /// Request 45: revoking, next retry in 4s after a failed attempt.
    pub fn revoking() -> Request {
        Request {
            id: 45,
            status: Status::Revoking,
            revoking: Some(Revoking {
                error: Some("connection refused".into()),
                attempts: 3,
                next_retry_at: datetime!(2025-11-23 13:35:04 UTC),
                outcome: Status::Revoked,
            }),
            ..granted()
        }
    }

    #[test]
    fn granted_report_has_expiry_admin_message_and_next_step() {
        let text = report(&granted(), &out());
        assert_eq!(
            text,
            "Request 42 Granted — expires in 30m (15:05)\n\
             \n\
             Access granted\n\
             Message from your admin about pg-main: use the read replica for reports\n\
             Connect: `jit connect 42` (terminal, app)\n"
        );
        let mut req = granted();
        req.sessions[0].connect.clear();
        let text = report(&req, &out());
        assert!(
            text.ends_with("reports\nRun `jit creds 42` to see your credentials once.\n"),
            "{text}"
        );
    }

    #[test]
    fn bundle_report_names_each_session() {
        let mut req = bundle();
        req.sessions[1].credentials = CredentialState::Unrevealed;
        req.sessions[1].dry_run = false;
        req.dry_run = false;
        let text = report(&req, &out());
        assert!(text.contains("\nAccess granted\n"), "{text}");
        assert!(
            text.contains(
                "Connect to pg-main: `jit connect 46 --session pg-main` (terminal, app)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("Run `jit creds 46` to see your credentials once (after that, `jit connect` needs `jit reset 46`).\n"),
            "{text}"
        );
        assert_eq!(target(&req), "bundle oncall");
        assert_eq!(summary(&req), "alice: bundle oncall for 1h");
        assert_eq!(
            resources(&req),
            vec!["orders".to_string(), "scratch".to_string()]
        );
        assert_eq!(
            permissions(&req),
            vec!["read".to_string(), "write".to_string()]
        );
    }

    #[test]
    fn one_entry_reads_as_before() {
        assert_eq!(target(&granted()), "pg-main/database");
        assert_eq!(
            summary(&granted()),
            "alice: read on pg-main/database orders for 1h"
        );
    }

    #[test]
    fn scheduled_report_says_when_and_for_how_long() {
        let text = report(&scheduled(), &out());
        assert_eq!(
            text,
            "Request 47 Scheduled — approved; access starts in 3h (17:35)\n\
             Scheduled: access starts at 17:35 (in 3h), for 2h\n\
             Follow it with `jit show 47`; withdraw it with `jit cancel 47`.\n"
        );
        assert_eq!(when_cell(&scheduled(), &out()), "starts in 3h");
        let mut req = pending();
        req.start_at = Some(datetime!(2025-11-23 16:35:00 UTC));
        assert!(
            report(&req, &out()).contains("Once approved, access starts at 17:35 (in 3h), for 1h.")
        );
    }

    #[test]
    fn break_glass_warns_that_approvers_were_told() {
        let mut req = granted();
        req.break_glass = true;
        req.approval.approvers = vec!["carol".into(), "%dba".into()];
        let text = report(&req, &out());
        assert!(
            text.starts_with(
                "Request 42 Granted [break-glass] — expires in 30m (15:05)\n\
                 warning: break-glass access: granted without approval; the approvers of \
                 access flow dba-read (carol, %dba) were told\n\
                 \nAccess granted\n"
            ),
            "{text}"
        );
        assert_eq!(status_cell(&req, &out()).1, "Granted [break-glass]");
    }

    #[test]
    fn rotated_sessions_are_tagged() {
        let mut req = granted();
        req.sessions[0].rotated = true;
        assert_eq!(status_cell(&req, &out()).1, "Granted [rotated]");
        assert!(rotated(&req));
        req.status = Status::Expired;
        assert!(!rotated(&req));
    }

    #[test]
    fn pending_report_names_the_approvers() {
        let text = report(&pending(), &out());
        assert!(text.starts_with("Request 43 Pending — waiting for approval by carol, %dba\n"));
        assert!(text.contains("Who can approve: carol, %dba (1 approval needed)"));
        assert!(text.contains("`jit approve 43`"));
        assert!(text.contains("rejected in 2h (16:35)"));
    }

    #[test]
    fn dry_run_says_nothing_was_provisioned() {
        let mut req = granted();
        req.dry_run = true;
        req.sessions[0].dry_run = true;
        req.sessions[0].credentials = CredentialState::None;
        req.sessions[0].message = None;
        req.sessions[0].connect.clear();
        let text = report(&req, &out());
        assert!(text.contains("[dry-run]"));
        assert!(text.contains("dry-run: nothing was provisioned"));
        assert!(!text.contains("jit creds"));
        assert!(!text.contains("jit connect"));
    }

    #[test]
    fn rejected_headline_names_who_and_why() {
        let mut req = pending();
        req.status = Status::Rejected;
        req.approval.rejection = Some(Decision {
            by: "carol".into(),
            at: datetime!(2025-11-23 13:34:00 UTC),
            reason: Some("not during the freeze".into()),
        });
        assert_eq!(
            headline(&req, &out()),
            "Request 43 Rejected — rejected by carol: not during the freeze"
        );
    }

    #[test]
    fn status_and_when_cells() {
        let o = out();
        assert_eq!(status_cell(&revoking(), &o).1, "Revoking (retry in 4s)");
        assert_eq!(when_cell(&granted(), &o), "expires in 30m");
        assert_eq!(when_cell(&pending(), &o), "pending 3m");
        assert_eq!(when_cell(&expired(), &o), "ended 2h ago");
    }

    #[test]
    fn waiting_targets() {
        assert!(reached(&granted(), WaitFor::Settled));
        assert!(reached(&pending(), WaitFor::Settled));
        assert!(reached(&revoking(), WaitFor::Settled));
        let mut rolling_back = revoking();
        if let Some(r) = rolling_back.revoking.as_mut() {
            r.outcome = Status::Failed;
        }
        assert!(!reached(&rolling_back, WaitFor::Settled));
        assert!(!reached(&pending(), WaitFor::Decided));
        assert!(!reached(&revoking(), WaitFor::Closed));
        assert!(reached(&expired(), WaitFor::Closed));
    }
}
