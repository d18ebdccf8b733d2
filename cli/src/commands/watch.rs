//! `jit watch`: print events as they happen (`events.subscribe`): for people, one line per
//! event (a few for "Access granted"); with `--json`, each event as one JSON object per line.

use jit_api::methods::{EventsSubscribe, SubscribeParams};
use jit_api::wire::decode_event;
use jit_api::{Event, EventKind, Request, Status, Timestamp};

use super::{Ctx, Outcome, shared};
use crate::format::{Clock, Paint, span_secs};
use crate::output::Out;

/// Follow requests as they change: yours, those you approve, or all (admins).
///
/// Prints each event as it happens: a request made, an approval needed (with the `jit
/// approve` to run), access granted (with the admin's message and how to connect), a
/// warning before access expires, a revoke that fails, credentials rotated, an extension.
/// You see the events of the requests you may see with `jit show`. Runs until Ctrl-C, or
/// until jitd stops.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    jit watch\n  \
    jit watch 42\n  \
    jit watch --json | jq -c 'select(.kind == \"approval_needed\")'")]
pub struct Args {
    /// Only the events of this request
    #[arg(value_name = "ID")]
    pub id: Option<u64>,
}

/// Runs `jit watch`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let params = SubscribeParams { request: args.id };
    ctx.client.call::<EventsSubscribe>(&params).await?;
    // On stderr, so also with --json: a script can wait for it before acting.
    ctx.out.note(&match args.id {
        Some(id) => format!("watching request {id} (Ctrl-C stops)"),
        None => "watching the requests you may see (Ctrl-C stops)".into(),
    });
    loop {
        let line = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(Outcome::Done),
            line = ctx.client.next_event() => line?,
        };
        if ctx.out.json {
            ctx.out.print(&json_line(&line)?)?;
            continue;
        }
        let out = Out {
            clock: Clock {
                now: Timestamp::now_utc(),
                ..ctx.out.clock
            },
            ..ctx.out
        };
        let text = match decode_event(&line) {
            Some(Ok(n)) => render(&n.result, &out),
            // A kind this jit does not know yet: say what it is called.
            _ => format!("{} event\n", kind_of(&line)),
        };
        ctx.out.print(&text)?;
    }
}

#[derive(serde::Deserialize)]
struct Notification<'a> {
    #[serde(borrow)]
    params: Params<'a>,
}

#[derive(serde::Deserialize)]
struct Params<'a> {
    #[serde(borrow)]
    result: &'a serde_json::value::RawValue,
}

/// The event of a notification line as jitd sent it, alone on one line: `{"kind":…}` and a
/// newline. Fields this jit does not know are kept, in their order.
fn json_line(line: &str) -> anyhow::Result<String> {
    let n: Notification<'_> = serde_json::from_str(line)?;
    let mut text = n.params.result.get().to_owned();
    text.push('\n');
    Ok(text)
}

/// The `kind` of an event line, whatever it is.
fn kind_of(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v["params"]["result"]["kind"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// "`jit approve 43` or `jit reject 43`".
fn commands(next: &[String]) -> String {
    next.iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// `text`, then " — `next`" when there is something to run.
fn with_next(text: String, event: &Event) -> String {
    if event.next.is_empty() {
        text
    } else {
        format!("{text} — {}", commands(&event.next))
    }
}

/// ", \"INC-4312\"" when the request has a justification.
fn because(req: &Request) -> String {
    req.justification
        .as_ref()
        .map(|j| format!(", \"{}\"", crate::format::truncate(j, 80)))
        .unwrap_or_default()
}

/// One event for people: a time, then what happened to which request, and what to do.
pub fn render(event: &Event, out: &Out) -> String {
    let time = out.clock.time_of_day(event.at);
    let style = &out.style;
    let by = event.actor.as_deref().unwrap_or("jitd");
    let Some(req) = &event.request else {
        let text = match event.kind {
            EventKind::Lagged => style.paint(
                Paint::Yellow,
                &format!(
                    "{} events were missed: this watch fell behind; `jit ls` shows where things are",
                    event.missed.unwrap_or(0)
                ),
            ),
            other => format!("{other} event"),
        };
        return format!("{time} {text}\n");
    };
    let id = req.id;
    let summary = shared::summary(req);
    let mut lines = Vec::new();
    let first = match event.kind {
        EventKind::Created => format!(
            "Request {id} created ({summary}{}) — {}",
            because(req),
            style.status(req.status)
        ),
        EventKind::ApprovalNeeded if req.break_glass && req.pending_extension.is_none() => {
            with_next(
                style.paint(
                    Paint::Yellow,
                    &format!(
                        "BREAK-GLASS: request {id} ({summary}{}) was granted without approval; \
                         you are told as an approver of flow {}",
                        because(req),
                        req.flow
                    ),
                ),
                event,
            )
        }
        EventKind::ApprovalNeeded => match &req.pending_extension {
            Some(ext) if req.status == Status::Granted => with_next(
                format!(
                    "approval needed: request {id} asks for {} more ({summary})",
                    span_secs(ext.added_secs)
                ),
                event,
            ),
            _ => with_next(
                format!("approval needed: request {id} ({summary}{})", because(req)),
                event,
            ),
        },
        EventKind::Granted => {
            let mut block = shared::access_granted(req);
            let head = block.remove(0);
            let when = req
                .expires_at
                .map(|t| format!(" — expires {}", out.clock.both(t)))
                .unwrap_or_default();
            for line in block {
                lines.push(format!("  {line}"));
            }
            format!(
                "{}: request {id} ({summary}){when}",
                style.paint(Paint::Green, &head)
            )
        }
        EventKind::Revoking => {
            let why = match req.revoking.as_ref().map(|r| r.outcome) {
                Some(Status::Expired) => "the time is up".to_owned(),
                Some(Status::Failed) => format!(
                    "provisioning failed: {}",
                    event.error.as_deref().unwrap_or("see `jit show`")
                ),
                _ => match &event.reason {
                    Some(r) if r.contains(by) => r.clone(),
                    Some(r) => format!("revoked by {by}: {r}"),
                    None => format!("revoked by {by}"),
                },
            };
            format!(
                "Request {id} {} — {why}; taking the access away",
                style.status(req.status)
            )
        }
        EventKind::RevokeFailed => {
            let attempts = req.revoking.as_ref().map_or(0, |r| r.attempts);
            let next = req
                .revoking
                .as_ref()
                .map(|r| format!("; {}", shared::next_try(r, out)))
                .unwrap_or_default();
            style.paint(
                Paint::Red,
                &format!(
                    "Request {id}: revoke failed (attempt {attempts}): {} — the access still exists{next}",
                    event.error.as_deref().unwrap_or("no error given")
                ),
            )
        }
        EventKind::Expiring => {
            let when = req
                .expires_at
                .map_or_else(|| "soon".to_owned(), |t| out.clock.both(t));
            with_next(
                style.paint(
                    Paint::Yellow,
                    &format!("Request {id} expires {when} ({summary})"),
                ),
                event,
            )
        }
        EventKind::ExtensionRequested => {
            let more = req
                .pending_extension
                .as_ref()
                .map_or_else(String::new, |e| format!(" of {}", span_secs(e.added_secs)));
            format!(
                "Request {id}: an extension{more} waits for approval by {}",
                crate::format::approvers(&req.approval.approvers)
            )
        }
        EventKind::Extended => {
            let more = req
                .extensions
                .last()
                .map_or_else(String::new, |e| format!(" by {}", span_secs(e.added_secs)));
            let when = req
                .expires_at
                .map(|t| format!(" — expires {}", out.clock.both(t)))
                .unwrap_or_default();
            format!("Request {id} extended{more}{when}")
        }
        EventKind::ExtensionRejected => {
            format!("Request {id}: the extension was rejected by {by}")
        }
        EventKind::CredentialsRotated => with_next(
            style.paint(
                Paint::Yellow,
                &format!(
                    "Request {id}: credentials rotated by {by} — saved credentials or client \
                     profiles no longer work"
                ),
            ),
            event,
        ),
        EventKind::CredentialsReset => with_next(format!("Request {id}: credentials reset"), event),
        EventKind::CredentialsResetFailed => style.paint(
            Paint::Red,
            &format!(
                "Request {id}: credentials reset failed: {}",
                event.error.as_deref().unwrap_or("no error given")
            ),
        ),
        // Approved, rejected, canceled, started, expired, revoked, failed, an approval added:
        // where the request is now says it.
        _ => shared::headline(req, out),
    };
    let mut text = format!("{time} {first}\n");
    for line in lines {
        text.push_str(&format!("{time} {line}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::{granted, out, pending, revoking};
    use time::macros::datetime;

    fn event(kind: EventKind, request: Request) -> Event {
        Event {
            kind,
            at: datetime!(2025-11-23 13:35:00 UTC),
            request: Some(request),
            actor: Some("jitd".into()),
            reason: None,
            error: None,
            expires_in_secs: None,
            next: Vec::new(),
            missed: None,
        }
    }

    #[test]
    fn access_granted_comes_with_the_message_and_the_next_step() {
        let text = render(&event(EventKind::Granted, granted()), &out());
        assert_eq!(
            text,
            "14:35:00 Access granted: request 42 (alice: read on pg-main/database orders for 1h) \
             — expires in 30m (15:05)\n\
             14:35:00   Message from your admin about pg-main: use the read replica for reports\n\
             14:35:00   Connect: `jit connect 42` (terminal, app)\n"
        );
    }

    #[test]
    fn approvers_are_told_what_to_run() {
        let mut e = event(EventKind::ApprovalNeeded, pending());
        e.next = vec!["jit approve 43".into(), "jit reject 43".into()];
        assert_eq!(
            render(&e, &out()),
            "14:35:00 approval needed: request 43 (bob: read on pg-main/database orders for \
             1h, \"INC-4312\") — `jit approve 43` or `jit reject 43`\n"
        );
        let mut req = granted();
        req.break_glass = true;
        let mut e = event(EventKind::ApprovalNeeded, req);
        e.next = vec!["jit show 42".into()];
        let text = render(&e, &out());
        assert!(
            text.starts_with("14:35:00 BREAK-GLASS: request 42 (alice: read on"),
            "{text}"
        );
        assert!(
            text.ends_with("approver of flow dba-read — `jit show 42`\n"),
            "{text}"
        );
    }

    #[test]
    fn warnings_failures_and_lag_say_what_they_are() {
        let mut e = event(EventKind::Expiring, granted());
        e.expires_in_secs = Some(600);
        e.next = vec!["jit extend 42 --for DURATION".into()];
        assert_eq!(
            render(&e, &out()),
            "14:35:00 Request 42 expires in 30m (15:05) (alice: read on pg-main/database \
             orders for 1h) — `jit extend 42 --for DURATION`\n"
        );
        let mut e = event(EventKind::RevokeFailed, revoking());
        e.error = Some("connection refused".into());
        assert_eq!(
            render(&e, &out()),
            "14:35:00 Request 45: revoke failed (attempt 3): connection refused — the access \
             still exists; next try in 4s (14:35)\n"
        );
        let lagged = Event {
            request: None,
            missed: Some(12),
            ..event(EventKind::Lagged, granted())
        };
        assert!(
            render(&lagged, &out()).starts_with("14:35:00 12 events were missed"),
            "{}",
            render(&lagged, &out())
        );
        let mut req = pending();
        req.status = Status::Rejected;
        req.end_reason = Some("rejected by carol".into());
        assert_eq!(
            render(&event(EventKind::Rejected, req), &out()),
            "14:35:00 Request 43 Rejected — rejected by carol\n"
        );
    }

    #[test]
    fn json_lines_are_the_events_as_sent() {
        let line = jit_api::wire::encode_event(
            3,
            r#"{"kind":"someday","at":"2026-11-23T22:17:30Z","next":[],"extra":1}"#,
        );
        assert_eq!(
            json_line(&line).expect("json"),
            "{\"kind\":\"someday\",\"at\":\"2026-11-23T22:17:30Z\",\"next\":[],\"extra\":1}\n"
        );
        assert_eq!(kind_of(&line), "someday");
    }
}
