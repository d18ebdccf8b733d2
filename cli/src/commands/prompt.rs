//! `jit prompt`: a short segment for a shell prompt — the grant that ends first and the time
//! it has left (`⏳ pg-main 12m`), how many more, and requests still pending. One
//! `request.list` call on the one-shot client; nothing printed when there is nothing to
//! show or jitd cannot be reached, so a prompt never shows an error.

use std::time::Duration;

use jit_api::methods::{ListParams, RequestList, Scope};
use jit_api::{Request, Status};
use serde::Serialize;

use super::{Ctx, Outcome};
use crate::format;

/// Print a short prompt segment: your nearest expiry, e.g. `⏳ pg-main 12m +1`.
///
/// Prints nothing (and exits 0) when you have no open request or jitd does not answer, so it
/// can sit in PS1, zsh's RPROMPT or a starship `custom` module; docs/cli.md has snippets.
/// `… 1 pending` is added while requests of yours wait for approval, and `--approvals` adds
/// how many wait for you (a second call).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plain ASCII (`jit pg-main 12m`) for terminals without emoji
    #[arg(long)]
    pub ascii: bool,

    /// Also count the requests waiting for your approval
    #[arg(long)]
    pub approvals: bool,
}

/// What `--json` prints.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Segment {
    /// Granted requests.
    pub granted: usize,
    /// The granted request that ends first.
    pub nearest: Option<Nearest>,
    /// Your requests waiting for approval.
    pub pending: usize,
    /// Requests waiting for your approval (with `--approvals`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals: Option<usize>,
}

/// The grant that ends first.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Nearest {
    /// Its request.
    pub id: u64,
    /// Its bundle, or its (first) integration.
    pub name: String,
    /// Seconds of access left.
    pub left_secs: u64,
}

/// Runs `jit prompt`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let Ok(mine) = ctx.client.call::<RequestList>(&list(Scope::Mine)).await else {
        return Ok(Outcome::Done);
    };
    let approvals = if args.approvals {
        ctx.client
            .call::<RequestList>(&list(Scope::Review))
            .await
            .ok()
            .map(|r| r.len())
    } else {
        None
    };
    let now = ctx.out.clock.now;
    let seg = segment(&mine, approvals, now);
    if ctx.out.json {
        ctx.out.json(&seg)?;
    } else {
        let text = render(&seg, args.ascii);
        if !text.is_empty() {
            ctx.out.print(&format!("{text}\n"))?;
        }
    }
    Ok(Outcome::Done)
}

fn list(scope: Scope) -> ListParams {
    ListParams {
        closed: false,
        scope,
        resource_type: None,
        limit: Some(1000),
        ..ListParams::default()
    }
}

/// The segment for these open requests at `now`.
pub fn segment(open: &[Request], approvals: Option<usize>, now: jit_api::Timestamp) -> Segment {
    let granted: Vec<&Request> = open
        .iter()
        .filter(|r| r.status == Status::Granted)
        .collect();
    let nearest = granted
        .iter()
        .filter_map(|r| r.expires_at.map(|e| (e, r)))
        .min_by_key(|(e, _)| *e)
        .map(|(e, r)| Nearest {
            id: r.id,
            name: r.bundle.clone().unwrap_or_else(|| {
                r.entries
                    .first()
                    .map(|e| e.integration.clone())
                    .unwrap_or_default()
            }),
            left_secs: u64::try_from((e - now).whole_seconds()).unwrap_or(0),
        });
    Segment {
        granted: granted.len(),
        nearest,
        pending: open.iter().filter(|r| r.status == Status::Pending).count(),
        approvals,
    }
}

/// The text: `⏳ pg-main 12m +1 · 1 pending · 2 to approve`, or empty.
pub fn render(seg: &Segment, ascii: bool) -> String {
    let mut parts = Vec::new();
    if let Some(n) = &seg.nearest {
        let icon = if ascii { "jit" } else { "⏳" };
        let mut s = format!(
            "{icon} {} {}",
            n.name,
            format::span(Duration::from_secs(n.left_secs))
        );
        if seg.granted > 1 {
            s.push_str(&format!(" +{}", seg.granted - 1));
        }
        parts.push(s);
    }
    if seg.pending > 0 {
        let s = format!("{} pending", seg.pending);
        parts.push(if parts.is_empty() && !ascii {
            format!("⌛ {s}")
        } else if parts.is_empty() {
            format!("jit {s}")
        } else {
            s
        });
    }
    if let Some(n) = seg.approvals.filter(|n| *n > 0) {
        parts.push(format!("{n} to approve"));
    }
    let sep = if ascii { " | " } else { " · " };
    parts.join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(granted: usize, left: Option<u64>, pending: usize, approvals: Option<usize>) -> Segment {
        Segment {
            granted,
            nearest: left.map(|left_secs| Nearest {
                id: 1,
                name: "pg-main".into(),
                left_secs,
            }),
            pending,
            approvals,
        }
    }

    #[test]
    fn the_segment_says_the_nearest_expiry_and_what_else_is_open() {
        assert_eq!(render(&seg(0, None, 0, None), false), "");
        assert_eq!(render(&seg(1, Some(720), 0, None), false), "⏳ pg-main 12m");
        assert_eq!(
            render(&seg(3, Some(45), 0, None), true),
            "jit pg-main 45s +2"
        );
        assert_eq!(
            render(&seg(1, Some(3600), 1, Some(2)), false),
            "⏳ pg-main 1h · 1 pending · 2 to approve"
        );
        assert_eq!(render(&seg(0, None, 2, None), false), "⌛ 2 pending");
        assert_eq!(render(&seg(0, None, 0, Some(0)), false), "");
    }
}
