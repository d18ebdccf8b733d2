//! Durations as written in the config (`"30m"`, `"1h 30m"`, `"2d"`), with their bounds.

use std::time::Duration;

use crate::error::Problems;
use crate::raw::Str;
use crate::suggest;

/// The longest duration any key accepts.
pub(crate) const MAX: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Parses a duration key, reporting a problem (and returning `None`) when it is not a positive
/// duration of at most 366 days. `label` names the table (`flow "pg-read"`).
pub(crate) fn parse(
    value: &Str,
    key: &str,
    label: &str,
    problems: &mut Problems<'_>,
) -> Option<Duration> {
    let text = value.get_ref().trim();
    let example = "write a duration like \"30m\", \"1h 30m\", \"4h\" or \"2d\"";
    match humantime::parse_duration(text) {
        Err(error) => {
            // humantime goes on to list every unit it knows; the fix says enough.
            let error = error.to_string();
            let error = error.split(", supported units").next().unwrap_or_default();
            problems.at(
                &value.span(),
                format!(
                    "{label}: {key} \"{}\" is not a duration ({error})",
                    suggest::clip(value.get_ref())
                ),
                example,
            );
            None
        }
        Ok(d) if d.is_zero() => {
            problems.at(
                &value.span(),
                format!("{label}: {key} is zero"),
                format!("{example}; it must be more than zero"),
            );
            None
        }
        Ok(d) if d > MAX => {
            problems.at(
                &value.span(),
                format!(
                    "{label}: {key} \"{}\" is longer than 366 days",
                    suggest::clip(text)
                ),
                "use a duration of at most 366 days",
            );
            None
        }
        Ok(d) => Some(d),
    }
}

/// A duration for a message: `4h`, `1h 30m`.
pub(crate) fn format(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
