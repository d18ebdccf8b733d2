//! `jit reset`: new credentials for every session of a granted request
//! (`credentials.reset`).

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use jit_api::Request;
use jit_api::methods::{CredentialsReset, DecideParams, IdParams, RequestGet};

use super::{Ctx, Outcome, shared};
use crate::error::exit;

/// How long jitd may take: it answers once every integration has the new secret.
const RESET_TIMEOUT: Duration = Duration::from_secs(120);

/// Give a granted request new credentials; the old ones stop working at once.
///
/// Every session of the request gets a new secret (a bundle is reset as a whole), which
/// `jit creds` shows once and `jit connect` uses. Run it after `jit creds` when you want
/// `jit connect` again, or when a secret may have leaked. Saved passwords and client
/// profiles stop working. When the request has several sessions, jit says so and, on a
/// terminal, asks first.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jit reset 42\n  jit reset 46 --yes --reason \"pasted in chat\""
)]
pub struct Args {
    /// The request's number
    #[arg(value_name = "ID")]
    pub id: u64,

    /// Why, recorded in the audit log
    #[arg(long, short = 'r', value_name = "TEXT")]
    pub reason: Option<String>,

    /// Do not ask, even on a terminal
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Runs `jit reset`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let req = ctx
        .client
        .call::<RequestGet>(&IdParams { id: args.id })
        .await?;
    if let Some(notice) = notice(&req) {
        ctx.out.note(&notice);
        if !args.yes {
            let stdin = std::io::stdin();
            if stdin.is_terminal() && std::io::stderr().is_terminal() {
                if !confirm(&mut stdin.lock())? {
                    ctx.out.note("Nothing was reset.");
                    return Ok(Outcome::Exit(exit::REFUSED));
                }
            } else {
                ctx.out
                    .note("No terminal to confirm on: resetting (--yes skips this note).");
            }
        }
    }
    let params = DecideParams {
        id: args.id,
        reason: args.reason,
    };
    let req = ctx
        .client
        .call_within::<CredentialsReset>(&params, RESET_TIMEOUT)
        .await?;
    if ctx.out.json {
        ctx.out.json(&req)?;
    } else {
        ctx.out.print(&render(&req))?;
    }
    Ok(Outcome::Done)
}

/// What is about to be reset, when it is more than one session; `None` for one.
pub fn notice(req: &Request) -> Option<String> {
    if req.bundle.is_none() && req.sessions.len() <= 1 {
        return None;
    }
    let bundle = req
        .bundle
        .as_ref()
        .map(|b| format!(" (bundle {b})"))
        .unwrap_or_default();
    let sessions: Vec<&str> = req
        .sessions
        .iter()
        .map(|s| s.integration.as_str())
        .collect();
    let sessions = if sessions.is_empty() {
        "no session is granted yet".to_owned()
    } else {
        sessions.join(", ")
    };
    Some(format!(
        "This resets the credentials of every session of request {}{bundle}: {sessions}. \
         The old ones stop working at once.",
        req.id
    ))
}

/// Asks on stderr and reads the answer; only "y" or "yes" go ahead.
fn confirm(input: &mut impl BufRead) -> anyhow::Result<bool> {
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "Reset them all? [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    input.read_line(&mut answer)?;
    Ok(yes(&answer))
}

/// Whether an answer means yes.
fn yes(answer: &str) -> bool {
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

/// "New credentials for request 42: `jit creds 42` shows them once, or `jit connect 42`."
pub fn render(req: &Request) -> String {
    let id = req.id;
    let connectable: Vec<&str> = req
        .sessions
        .iter()
        .filter(|s| !s.connect.is_empty())
        .map(|s| s.integration.as_str())
        .collect();
    let connect = match connectable.as_slice() {
        [] => String::new(),
        [one] => format!(", or `{}`", shared::connect_command(req, one)),
        several => format!(
            ", or `jit connect {id} --session NAME` ({})",
            several.join(", ")
        ),
    };
    format!(
        "New credentials for request {id}: `jit creds {id}` shows them once{connect}.\n\
         The old ones no longer work.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::{bundle, granted};

    #[test]
    fn one_session_needs_no_notice() {
        assert_eq!(notice(&granted()), None);
        assert_eq!(
            render(&granted()),
            "New credentials for request 42: `jit creds 42` shows them once, or \
             `jit connect 42`.\nThe old ones no longer work.\n"
        );
        let mut req = granted();
        req.sessions[0].connect.clear();
        assert!(
            render(&req)
                .starts_with("New credentials for request 42: `jit creds 42` shows them once.\n")
        );
    }

    #[test]
    fn a_bundle_is_reset_as_a_whole_and_says_so() {
        assert_eq!(
            notice(&bundle()).as_deref(),
            Some(
                "This resets the credentials of every session of request 46 (bundle oncall): \
                 pg-main, sandbox. The old ones stop working at once."
            )
        );
        assert!(
            render(&bundle()).contains("or `jit connect 46 --session pg-main`."),
            "{}",
            render(&bundle())
        );
    }

    #[test]
    fn only_yes_goes_ahead() {
        assert!(yes("y\n") && yes(" YES ") && yes("Yes"));
        assert!(!yes("") && !yes("n") && !yes("yep"));
        let mut input = std::io::Cursor::new("yes\n");
        assert!(confirm(&mut input).expect("reads"));
    }
}
