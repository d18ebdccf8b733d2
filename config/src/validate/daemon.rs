//! The `[daemon]` table.

use std::time::Duration;

use toml::Spanned;

use super::{Checker, principals};
use crate::raw::{RawDaemon, Str, StrList};
use crate::{DaemonSection, duration, suggest};

/// `pending_ttl` when the file gives none.
const DEFAULT_PENDING_TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// `socket_mode` when the file gives none: every local user may connect; the engine decides
/// what each may do.
const DEFAULT_SOCKET_MODE: u32 = 0o666;
/// `expiry_warnings` when the file gives none: 10 minutes and 1 minute before expiry.
const DEFAULT_EXPIRY_WARNINGS: [Duration; 2] =
    [Duration::from_secs(10 * 60), Duration::from_secs(60)];
/// `metrics_textfile_mode` when the file gives none: readable by all, since node_exporter
/// usually runs as a user of its own.
const DEFAULT_METRICS_TEXTFILE_MODE: u32 = 0o644;
/// `metrics_interval` when the file gives none.
const DEFAULT_METRICS_INTERVAL: Duration = Duration::from_secs(15);
/// The bounds of `metrics_interval`.
const METRICS_INTERVAL_BOUNDS: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(60 * 60));
/// The most expiry warnings one grant gets.
const MAX_EXPIRY_WARNINGS: usize = 8;

/// Checks `[daemon]` (absent: all defaults).
pub(super) fn check(
    raw: Option<&Spanned<RawDaemon>>,
    ck: &mut Checker<'_>,
) -> Option<DaemonSection> {
    let Some(raw) = raw else {
        return Some(DaemonSection {
            admins: Vec::new(),
            pending_ttl: DEFAULT_PENDING_TTL,
            socket_mode: DEFAULT_SOCKET_MODE,
            log: None,
            expiry_warnings: DEFAULT_EXPIRY_WARNINGS.to_vec(),
            metrics_textfile: None,
            metrics_textfile_mode: DEFAULT_METRICS_TEXTFILE_MODE,
            metrics_interval: DEFAULT_METRICS_INTERVAL,
        });
    };
    let raw = raw.get_ref();
    let label = "[daemon]";

    let admins = match &raw.admins {
        Some(list) => principals(list, "admins", label, ck),
        None => Some(Vec::new()),
    };
    let pending_ttl = match &raw.pending_ttl {
        Some(v) => duration::parse(v, "pending_ttl", label, &mut ck.problems),
        None => Some(DEFAULT_PENDING_TTL),
    };
    let socket_mode = match &raw.socket_mode {
        Some(v) => mode(v, "socket_mode", "0660", label, ck),
        None => Some(DEFAULT_SOCKET_MODE),
    };
    let log = match &raw.log {
        Some(v) if v.get_ref().trim().is_empty() => {
            ck.problems.at(
                &v.span(),
                format!("{label}: log is empty"),
                "write a filter like \"info\" or \"jitd=debug\", or remove log",
            );
            None
        }
        Some(v) => Some(Some(v.get_ref().trim().to_owned())),
        None => Some(None),
    };

    let expiry_warnings = match &raw.expiry_warnings {
        Some(list) => expiry_warnings(list, label, ck),
        None => Some(DEFAULT_EXPIRY_WARNINGS.to_vec()),
    };

    let metrics_textfile = match &raw.metrics_textfile {
        Some(v) => {
            let path = std::path::Path::new(v.get_ref());
            if path.is_absolute() && path.extension().is_some_and(|e| e == "prom") {
                Some(Some(path.to_owned()))
            } else {
                ck.problems.at(
                    &v.span(),
                    format!(
                        "{label}: metrics_textfile \"{}\" is not an absolute path ending in .prom",
                        suggest::clip(v.get_ref())
                    ),
                    "write an absolute path that node_exporter reads, like \"/var/lib/node_exporter/textfile/jit.prom\"",
                );
                None
            }
        }
        None => Some(None),
    };
    let metrics_textfile_mode = match &raw.metrics_textfile_mode {
        Some(v) => mode(v, "metrics_textfile_mode", "0640", label, ck),
        None => Some(DEFAULT_METRICS_TEXTFILE_MODE),
    };
    let metrics_interval = match &raw.metrics_interval {
        Some(v) => match duration::parse(v, "metrics_interval", label, &mut ck.problems) {
            Some(d) if d < METRICS_INTERVAL_BOUNDS.0 || d > METRICS_INTERVAL_BOUNDS.1 => {
                ck.problems.at(
                    &v.span(),
                    format!(
                        "{label}: metrics_interval \"{}\" is out of bounds",
                        suggest::clip(v.get_ref())
                    ),
                    "write a duration from \"1s\" to \"1h\", like \"15s\"",
                );
                None
            }
            other => other,
        },
        None => Some(DEFAULT_METRICS_INTERVAL),
    };

    Some(DaemonSection {
        admins: admins?,
        pending_ttl: pending_ttl?,
        socket_mode: socket_mode?,
        log: log?,
        expiry_warnings: expiry_warnings?,
        metrics_textfile: metrics_textfile?,
        metrics_textfile_mode: metrics_textfile_mode?,
        metrics_interval: metrics_interval?,
    })
}

/// Checks a file mode written as a string (`key`), with `example` in the fix.
fn mode(v: &Str, key: &str, example: &str, label: &str, ck: &mut Checker<'_>) -> Option<u32> {
    let mode = parse_mode(v.get_ref());
    if mode.is_none() {
        ck.problems.at(
            &v.span(),
            format!(
                "{label}: {key} \"{}\" is not a file mode",
                suggest::clip(v.get_ref())
            ),
            format!("write 3 or 4 octal digits, at most \"0777\", like \"{example}\""),
        );
    }
    mode
}

/// Checks `expiry_warnings`: durations, at most [`MAX_EXPIRY_WARNINGS`], no repeats; sorted
/// longest first.
fn expiry_warnings(list: &StrList, label: &str, ck: &mut Checker<'_>) -> Option<Vec<Duration>> {
    let mut out = Vec::new();
    let mut ok = true;
    for item in list.get_ref() {
        match duration::parse(item, "expiry_warnings entry", label, &mut ck.problems) {
            Some(d) if out.contains(&d) => {
                ok = false;
                ck.problems.at(
                    &item.span(),
                    format!(
                        "{label}: expiry_warnings names \"{}\" twice",
                        suggest::clip(item.get_ref())
                    ),
                    "remove the repeated duration",
                );
            }
            Some(d) => out.push(d),
            None => ok = false,
        }
    }
    if out.len() > MAX_EXPIRY_WARNINGS {
        ok = false;
        ck.problems.at(
            &list.span(),
            format!(
                "{label}: expiry_warnings has {} durations; at most {MAX_EXPIRY_WARNINGS} are allowed",
                out.len()
            ),
            "keep the warnings people act on, like [\"10m\", \"1m\"]",
        );
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    ok.then_some(out)
}

/// `"0666"`, `"666"` or `"0o666"` → 0o666; permission bits only.
fn parse_mode(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|&m| m <= 0o777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0666"), Some(0o666));
        assert_eq!(parse_mode("660"), Some(0o660));
        assert_eq!(parse_mode("0o600"), Some(0o600));
        for bad in ["", "0999", "4755", "rw-rw-rw-", "00666", "0o", "-1"] {
            assert_eq!(parse_mode(bad), None, "{bad:?}");
        }
    }
}
