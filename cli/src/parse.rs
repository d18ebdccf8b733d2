//! Value parsers for command-line arguments: `INTEGRATION/RESOURCE_TYPE` targets,
//! durations (`30m`, `1h30m`), `--since` and `--at` times. clap calls these, so a bad
//! value is a usage error (exit code 2) with the reason.

use std::time::Duration;

use jit_api::Timestamp;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{PrimitiveDateTime, UtcOffset};

/// What `jit request` names: an integration and one of its resource types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The integration (`pg-main`).
    pub integration: String,
    /// The resource type (`database`).
    pub resource_type: String,
}

/// Parses `pg-main/database`.
pub fn target(text: &str) -> Result<Target, String> {
    let hint =
        "expected INTEGRATION/RESOURCE_TYPE, e.g. pg-main/database (`jit catalog` lists them)";
    let Some((integration, resource_type)) = text.split_once('/') else {
        return Err(hint.into());
    };
    let (integration, resource_type) = (integration.trim(), resource_type.trim());
    if integration.is_empty() || resource_type.is_empty() || resource_type.contains('/') {
        return Err(hint.into());
    }
    Ok(Target {
        integration: integration.into(),
        resource_type: resource_type.into(),
    })
}

/// Parses a positive duration of whole seconds: `30m`, `1h30m`, `2h 15m`, `90s`, `1d`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (expected a duration like 30m, 1h30m or 2d)"))?;
    if d.as_secs() == 0 {
        return Err("a duration must be at least 1s".into());
    }
    Ok(Duration::from_secs(d.as_secs()))
}

/// A permission name from `--perm`; clap splits comma lists before this sees them.
pub fn permission(text: &str) -> Result<String, String> {
    let p = text.trim();
    if p.is_empty() {
        return Err("a permission cannot be empty (e.g. --perm read,write)".into());
    }
    Ok(p.into())
}

/// `--since`: an RFC 3339 time, or a duration meaning that long ago (`1h`, `1h ago`,
/// `1h-ago`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This instant.
    At(Timestamp),
    /// This long before now.
    Ago(Duration),
}

impl Since {
    /// The instant meant, given the current time.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            Since::At(t) => t,
            Since::Ago(d) => now - d,
        }
    }
}

/// Parses `--since`.
pub fn since(text: &str) -> Result<Since, String> {
    let text = text.trim();
    if let Ok(t) = Timestamp::parse(text, &Rfc3339) {
        return Ok(Since::At(t));
    }
    let ago = text
        .strip_suffix("-ago")
        .or_else(|| text.strip_suffix(" ago"))
        .unwrap_or(text);
    humantime::parse_duration(ago.trim())
        .map(Since::Ago)
        .map_err(|_| {
            "expected an RFC 3339 time (2025-11-23T14:05:00Z) or how long ago (1h, 30m, 2d)".into()
        })
}

/// `--at`: when a scheduled access starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// An RFC 3339 time, with its offset.
    At(Timestamp),
    /// A local date and time without an offset (`2026-12-01T02:00`): the local offset
    /// applies, known only once the clock is read.
    Local(PrimitiveDateTime),
}

impl StartAt {
    /// The instant meant, given the local offset (`None`: unknown, so UTC, as the
    /// times jit prints then are).
    pub fn resolve(self, offset: Option<UtcOffset>) -> Timestamp {
        match self {
            StartAt::At(t) => t,
            StartAt::Local(local) => local.assume_offset(offset.unwrap_or(UtcOffset::UTC)),
        }
    }
}

/// Parses `--at`: RFC 3339 (`2026-12-01T02:00:00+01:00`), or a local time written
/// `2026-12-01T02:00` or `2026-12-01 02:00` (seconds optional).
pub fn start_at(text: &str) -> Result<StartAt, String> {
    let text = text.trim();
    if let Ok(t) = Timestamp::parse(text, &Rfc3339) {
        return Ok(StartAt::At(t));
    }
    let formats = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    ];
    formats
        .iter()
        .find_map(|f| PrimitiveDateTime::parse(text, f).ok())
        .map(StartAt::Local)
        .ok_or_else(|| {
            "expected a local time (2026-12-01T02:00 or \"2026-12-01 02:00\") or RFC 3339 \
             (2026-12-01T02:00:00+01:00)"
                .into()
        })
}

/// Removes repeated values, keeping the first of each.
pub fn dedup(values: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    values
        .into_iter()
        .filter(|v| seen.insert(v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn targets_name_an_integration_and_a_resource_type() {
        assert_eq!(
            target("pg-main/database"),
            Ok(Target {
                integration: "pg-main".into(),
                resource_type: "database".into()
            })
        );
        for bad in ["pg-main", "/database", "pg-main/", "a/b/c", ""] {
            assert!(target(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn durations_are_human_and_whole_seconds() {
        assert_eq!(duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("1500ms"), Ok(Duration::from_secs(1)));
        assert!(duration("0s").is_err());
        assert!(duration("soon").is_err());
        assert!(duration("30").is_err());
    }

    #[test]
    fn since_takes_a_time_or_how_long_ago() {
        let now = datetime!(2025-11-23 14:00:00 UTC);
        assert_eq!(
            since("2025-11-23T12:00:00Z").map(|s| s.resolve(now)),
            Ok(datetime!(2025-11-23 12:00:00 UTC))
        );
        for text in ["1h", "1h ago", "1h-ago"] {
            assert_eq!(
                since(text).map(|s| s.resolve(now)),
                Ok(datetime!(2025-11-23 13:00:00 UTC)),
                "{text}"
            );
        }
        assert!(since("yesterday").is_err());
    }

    #[test]
    fn start_times_are_rfc3339_or_local() {
        let plus_one = Some(time::macros::offset!(+1));
        assert_eq!(
            start_at("2026-12-01T02:00:00Z").map(|s| s.resolve(plus_one)),
            Ok(datetime!(2026-12-01 02:00:00 UTC))
        );
        for text in [
            "2026-12-01T02:00",
            "2026-12-01 02:00",
            " 2026-12-01T02:00:00 ",
        ] {
            assert_eq!(
                start_at(text).map(|s| s.resolve(plus_one)),
                Ok(datetime!(2026-12-01 01:00:00 UTC)),
                "{text}"
            );
        }
        assert_eq!(
            start_at("2026-12-01 02:00").map(|s| s.resolve(None)),
            Ok(datetime!(2026-12-01 02:00:00 UTC))
        );
        for bad in ["tomorrow", "2026-12-01", "02:00", "2026-13-01T02:00"] {
            assert!(start_at(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn permissions_are_trimmed_and_deduplicated() {
        assert_eq!(permission(" read "), Ok("read".into()));
        assert!(permission("").is_err());
        assert_eq!(
            dedup(vec!["read".into(), "write".into(), "read".into()]),
            vec!["read".to_string(), "write".to_string()]
        );
    }
}
