//! What a notification says to a person: a title and a few labelled lines (the request, the
//! requester, the justification, the command to run), shared by Slack, Teams and email.
//! Built only from the event, which carries no secret.

use jit_api::{Event, EventKind, Request, Status};

/// A notification in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// One line: what happened.
    pub title: String,
    /// Labelled facts, in order (`Requester`, `alice`).
    pub facts: Vec<(&'static str, String)>,
    /// The commands the reader can run next (`jit approve 12`).
    pub next: Vec<String>,
    /// The delivery id, for receivers that deduplicate.
    pub delivery: String,
}

/// The most resources of one entry named in a notification; the rest are counted.
pub const MAX_RESOURCES: usize = 10;
/// The most bytes of the title of a notification.
pub const MAX_TITLE: usize = 500;
/// The most bytes of one fact (a justification, a reason, an error).
pub const MAX_FACT: usize = 1000;

/// `s` cut to at most `max` bytes (on a character boundary), with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The first [`MAX_RESOURCES`] of `resources`, then how many more.
fn some(resources: &[String]) -> String {
    let mut out = resources
        .iter()
        .take(MAX_RESOURCES)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if resources.len() > MAX_RESOURCES {
        out.push_str(&format!(" and {} more", resources.len() - MAX_RESOURCES));
    }
    out
}

/// What `access` a request asks for, in one line: `write on demo/database: orders`.
fn access(req: &Request) -> String {
    if let Some(b) = &req.bundle {
        return format!("bundle {b}");
    }
    req.entries
        .iter()
        .map(|e| {
            format!(
                "{} on {}/{}: {}",
                e.permissions.join(", "),
                e.integration,
                e.resource_type,
                some(&e.resources)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A duration in words: `1h 30m`, `45s`.
fn span(secs: u64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}

/// The message for `event` (which always carries its request), with delivery id `delivery`.
pub fn message(event: &Event, delivery: &str) -> Message {
    let Some(req) = event.request.as_ref() else {
        return Message {
            title: format!("jit: {}", event.kind),
            facts: Vec::new(),
            next: Vec::new(),
            delivery: delivery.to_owned(),
        };
    };
    let id = req.id;
    let who = &req.requester;
    let actor = event.actor.as_deref().unwrap_or("jitd");
    let what = access(req);
    let title = match event.kind {
        EventKind::ApprovalNeeded if req.break_glass && req.status != Status::Pending => {
            format!("BREAK-GLASS: {who} took {what} without approval (request {id})")
        }
        EventKind::ApprovalNeeded if req.pending_extension.is_some() => {
            format!("{who} asks for more time on request {id}: your approval is needed")
        }
        EventKind::ApprovalNeeded => {
            format!("{who} requests {what}: your approval is needed (request {id})")
        }
        EventKind::Created => format!("Request {id} by {who} was made: {what}"),
        EventKind::ApprovalAdded => {
            format!("{actor} approved request {id}; more approvals are needed")
        }
        EventKind::Approved => format!("Request {id} was approved by {actor}"),
        EventKind::Rejected if actor == "jitd" => {
            format!("Request {id} timed out waiting for approval")
        }
        EventKind::Rejected => format!("Request {id} was rejected by {actor}"),
        EventKind::Canceled => format!("Request {id} was canceled"),
        EventKind::Started => format!("Request {id} starts now: access is being granted"),
        EventKind::Granted => format!("Access granted: {what} (request {id})"),
        EventKind::Revoking => format!("Access of request {id} is being taken away"),
        EventKind::RevokeFailed => {
            format!("Revoking request {id} failed: the access still exists and jitd keeps retrying")
        }
        EventKind::Expired => format!("Access of request {id} expired and is gone"),
        EventKind::Revoked => format!("Access of request {id} was revoked by {actor} and is gone"),
        EventKind::Failed => format!("Request {id} failed: nothing was granted"),
        EventKind::Expiring => format!(
            "Access of request {id} ends in {}",
            span(event.expires_in_secs.unwrap_or(0))
        ),
        EventKind::ExtensionRequested => format!("{who} asked for more time on request {id}"),
        EventKind::Extended => format!("Request {id} was extended"),
        EventKind::ExtensionRejected => format!("The extension of request {id} was rejected"),
        EventKind::CredentialsRotated => {
            format!("The credentials of request {id} were rotated: saved ones no longer work")
        }
        EventKind::CredentialsReset => format!("The credentials of request {id} were reset"),
        EventKind::CredentialsResetFailed => {
            format!("Resetting the credentials of request {id} failed")
        }
        EventKind::Lagged => format!("jit: events were missed ({})", event.missed.unwrap_or(0)),
    };
    let mut facts: Vec<(&'static str, String)> = vec![
        (
            "Request",
            format!("{id} (flow {}, {})", req.flow, req.status.as_str()),
        ),
        ("Requester", who.clone()),
        ("Access", format!("{what} for {}", span(req.duration_secs))),
    ];
    if req.break_glass {
        facts.push(("Break-glass", "yes: granted without approval".to_owned()));
    }
    if let Some(j) = &req.justification {
        facts.push(("Justification", j.clone()));
    }
    if let Some(r) = &event.reason {
        facts.push(("Reason", r.clone()));
    }
    if let Some(e) = &event.error {
        facts.push(("Error", e.clone()));
    }
    if let Some(at) = req.expires_at
        && let Ok(t) = at.format(&time::format_description::well_known::Rfc3339)
    {
        facts.push(("Expires", t));
    }
    if req.dry_run {
        facts.push(("Dry run", "nothing is really provisioned".to_owned()));
    }
    // Receivers refuse long messages (a Slack section over 3,000 characters, a Teams card over
    // 28 KB): a request with many resources or a long justification would be dropped.
    Message {
        title: clip(&title, MAX_TITLE),
        facts: facts
            .into_iter()
            .map(|(k, v)| (k, clip(&v, MAX_FACT)))
            .collect(),
        next: event.next.clone(),
        delivery: delivery.to_owned(),
    }
}

impl Message {
    /// Plain text: the title, the facts, the commands, the delivery id.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n\n", self.title);
        for (k, v) in &self.facts {
            out.push_str(&format!("{k}: {v}\n"));
        }
        if !self.next.is_empty() {
            out.push_str("\nRun:\n");
            for n in &self.next {
                out.push_str(&format!("  {n}\n"));
            }
        }
        out.push_str(&format!("\njit delivery {}\n", self.delivery));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_on_a_character_boundary() {
        assert_eq!(clip("short", 10), "short");
        let c = clip(&"é".repeat(100), 11);
        assert!(c.len() <= 11 && c.ends_with('…'), "{c}");
        let names: Vec<String> = (0..25).map(|i| format!("r{i}")).collect();
        assert_eq!(some(&names[..2]), "r0, r1");
        assert!(some(&names).ends_with("r9 and 15 more"));
    }
}
