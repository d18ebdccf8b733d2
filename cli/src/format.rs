//! Pure formatting for people: durations, relative and absolute times, colour, aligned
//! tables and truncated lists. No I/O here, so every rule is unit-tested.

use std::time::Duration;

use jit_api::{Status, Timestamp};
use time::{UtcOffset, macros::format_description};

/// "Now" and the local UTC offset, fixed once per invocation so that every time printed
/// by one command agrees with the others.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The current time.
    pub now: Timestamp,
    /// The local offset, or `None` when it could not be determined (then times are UTC and
    /// say so).
    pub offset: Option<UtcOffset>,
}

impl Clock {
    /// The real clock. Must be called while the process has one thread: on Unix the local
    /// offset is only available then (reading it races with `setenv` in other threads).
    pub fn system() -> Clock {
        Clock {
            now: Timestamp::now_utc(),
            offset: UtcOffset::current_local_offset().ok(),
        }
    }

    /// A relative time: "in 30m", "3h ago", "just now".
    pub fn relative(&self, t: Timestamp) -> String {
        let delta = t - self.now;
        let secs = delta.whole_seconds();
        if secs == 0 {
            return if delta.is_negative() {
                "just now"
            } else {
                "now"
            }
            .into();
        }
        let span = span(Duration::from_secs(secs.unsigned_abs()));
        if secs > 0 {
            format!("in {span}")
        } else {
            format!("{span} ago")
        }
    }

    /// The span between now and `t`, whichever comes first ("30m").
    pub fn span_to(&self, t: Timestamp) -> String {
        span(Duration::from_secs(
            (t - self.now).whole_seconds().unsigned_abs(),
        ))
    }

    /// An absolute local time, short when it is today: "14:05", otherwise
    /// "2025-11-24 14:05". Followed by " UTC" when the local offset is unknown.
    pub fn absolute(&self, t: Timestamp) -> String {
        let offset = self.offset.unwrap_or(UtcOffset::UTC);
        let local = t.to_offset(offset);
        let today = self.now.to_offset(offset).date();
        let text = if local.date() == today {
            local.format(format_description!("[hour]:[minute]"))
        } else {
            local.format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
        };
        let mut text = text.unwrap_or_else(|_| t.to_string());
        if self.offset.is_none() {
            text.push_str(" UTC");
        }
        text
    }

    /// A full local timestamp with seconds ("2025-11-24 14:05:09"), for logs.
    pub fn timestamp(&self, t: Timestamp) -> String {
        let local = t.to_offset(self.offset.unwrap_or(UtcOffset::UTC));
        let mut text = local
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .unwrap_or_else(|_| t.to_string());
        if self.offset.is_none() {
            text.push_str(" UTC");
        }
        text
    }

    /// The local time of day with seconds ("14:05:09"), for lines printed as things happen.
    pub fn time_of_day(&self, t: Timestamp) -> String {
        let local = t.to_offset(self.offset.unwrap_or(UtcOffset::UTC));
        local
            .format(format_description!("[hour]:[minute]:[second]"))
            .unwrap_or_else(|_| t.to_string())
    }

    /// Relative and absolute together: "in 30m (14:05)".
    pub fn both(&self, t: Timestamp) -> String {
        format!("{} ({})", self.relative(t), self.absolute(t))
    }
}

/// A duration in the largest units that matter: "45s", "30m", "1h 30m", "2d 3h".
///
/// Minutes are rounded to the nearest one so that a 30-minute grant shown a second after
/// it started still reads "30m".
pub fn span(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{secs}s");
    }
    let minutes = (secs + 30) / 60;
    if minutes < 60 {
        return format!("{minutes}m");
    }
    let (hours, minutes) = (minutes / 60, minutes % 60);
    if hours < 24 {
        return if minutes == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h {minutes}m")
        };
    }
    let (days, hours) = (hours / 24, hours % 24);
    if hours == 0 {
        format!("{days}d")
    } else {
        format!("{days}d {hours}h")
    }
}

/// [`span`] of a number of seconds, as the API sends durations.
pub fn span_secs(secs: u64) -> String {
    span(Duration::from_secs(secs))
}

/// How a piece of text is painted when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// As is.
    Plain,
    /// Headers, names.
    Bold,
    /// Closed, secondary.
    Dim,
    /// Access exists.
    Green,
    /// Waiting for something.
    Yellow,
    /// Failed, or access that should be gone but is not yet.
    Red,
    /// In progress.
    Cyan,
}

impl Paint {
    /// The colour of a status.
    pub fn of(status: Status) -> Paint {
        match status {
            Status::Pending | Status::Scheduled => Paint::Yellow,
            Status::Granting => Paint::Cyan,
            Status::Granted => Paint::Green,
            Status::Revoking | Status::Rejected | Status::Failed => Paint::Red,
            Status::Expired | Status::Revoked | Status::Canceled => Paint::Dim,
        }
    }

    const fn code(self) -> Option<&'static str> {
        match self {
            Paint::Plain => None,
            Paint::Bold => Some("1"),
            Paint::Dim => Some("2"),
            Paint::Green => Some("32"),
            Paint::Yellow => Some("33"),
            Paint::Red => Some("31"),
            Paint::Cyan => Some("36"),
        }
    }
}

/// Whether to colour, decided once from the terminal and `NO_COLOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Emit ANSI colour codes.
    pub color: bool,
}

impl Style {
    /// No colour.
    #[cfg(test)]
    pub const PLAIN: Style = Style { color: false };

    /// `text` painted, or unchanged without colour.
    pub fn paint(&self, paint: Paint, text: &str) -> String {
        match (self.color, paint.code()) {
            (true, Some(code)) => format!("\x1b[{code}m{text}\x1b[0m"),
            _ => text.to_owned(),
        }
    }

    /// A status label in its colour ("Granted").
    pub fn status(&self, status: Status) -> String {
        self.paint(Paint::of(status), status.label())
    }
}

/// One table cell: its text and how to paint it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    text: String,
    paint: Paint,
}

impl Cell {
    /// A cell painted `paint`.
    pub fn painted(paint: Paint, text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            paint,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::painted(Paint::Plain, text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::painted(Paint::Plain, text)
    }
}

/// A table with a header row, columns separated by two spaces, aligned on the widths of
/// the text (colour codes are added after padding, so they never break alignment).
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            right: vec![false; header.len()],
            rows: Vec::new(),
        }
    }

    /// Right-aligns column `index` (numbers).
    pub fn align_right(mut self, index: usize) -> Table {
        if let Some(r) = self.right.get_mut(index) {
            *r = true;
        }
        self
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<Cell>) {
        let mut cells = cells;
        cells.resize(self.header.len(), Cell::from(""));
        self.rows.push(cells);
    }

    /// The table as lines, each ending with `\n`, without trailing spaces.
    pub fn render(&self, style: Style) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(&cell.text));
            }
        }
        let header: Vec<Cell> = self
            .header
            .iter()
            .map(|h| Cell::painted(Paint::Bold, *h))
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            let last = row.len().saturating_sub(1);
            for (i, cell) in row.iter().enumerate() {
                let pad = widths[i].saturating_sub(width(&cell.text));
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.push_str(&" ".repeat(pad));
                }
                line.push_str(&style.paint(cell.paint, &cell.text));
                if !self.right[i] && i < last {
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The width of text on a terminal, counting one column per character.
fn width(text: &str) -> usize {
    text.chars().count()
}

/// `text` cut to at most `max` characters, ending with "…" when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A list joined with ", " within `max` characters: "orders, payments, +998 more".
pub fn list(items: &[String], max: usize) -> String {
    let full = items.join(", ");
    if width(&full) <= max || items.len() <= 1 {
        return truncate(&full, max);
    }
    let mut shown = String::new();
    let mut count = 0;
    for (i, item) in items.iter().enumerate() {
        let rest = items.len() - i - 1;
        let candidate = if shown.is_empty() {
            item.clone()
        } else {
            format!("{shown}, {item}")
        };
        let suffix = if rest > 0 {
            format!(", +{rest} more")
        } else {
            String::new()
        };
        if width(&candidate) + width(&suffix) > max {
            break;
        }
        shown = candidate;
        count = i + 1;
    }
    if count == 0 {
        return format!("{} items", items.len());
    }
    format!("{shown}, +{} more", items.len() - count)
}

/// A sentence-friendly list of approver rules: "carol, %dba".
pub fn approvers(rules: &[String]) -> String {
    if rules.is_empty() {
        "an approver".into()
    } else {
        rules.join(", ")
    }
}

/// What a saved request asks for, in one line: `pg-main/database orders (read) for 1h`, or
/// `bundle oncall`.
pub fn saved_summary(p: &jit_api::methods::CreateParams) -> String {
    let mut s = match &p.bundle {
        Some(b) => format!("bundle {b}"),
        None => format!(
            "{}/{} {} ({})",
            p.integration,
            p.resource_type,
            list(&p.resources, 3),
            p.permissions.join(", ")
        ),
    };
    match p.duration_secs {
        Some(d) => s.push_str(&format!(" for {}", span_secs(d))),
        None => s.push_str(" for the flow's default"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    fn clock() -> Clock {
        Clock {
            now: datetime!(2025-11-23 13:35:00 UTC),
            offset: Some(offset!(+1)),
        }
    }

    #[test]
    fn spans_use_the_largest_units_that_matter() {
        assert_eq!(span_secs(0), "0s");
        assert_eq!(span_secs(45), "45s");
        assert_eq!(span_secs(60), "1m");
        assert_eq!(span_secs(30 * 60 - 1), "30m");
        assert_eq!(span_secs(42 * 60), "42m");
        assert_eq!(span_secs(3600), "1h");
        assert_eq!(span_secs(5400), "1h 30m");
        assert_eq!(span_secs(86_400), "1d");
        assert_eq!(span_secs(2 * 86_400 + 3 * 3600 + 59), "2d 3h");
    }

    #[test]
    fn relative_times_say_in_or_ago() {
        let c = clock();
        assert_eq!(
            c.relative(datetime!(2025-11-23 14:17:00 UTC)),
            "in 42m".to_string()
        );
        assert_eq!(c.relative(datetime!(2025-11-23 11:35:00 UTC)), "2h ago");
        assert_eq!(c.relative(c.now), "now");
        assert_eq!(c.relative(datetime!(2025-11-23 13:34:59.5 UTC)), "just now");
        assert_eq!(c.relative(datetime!(2025-11-23 13:34:57 UTC)), "3s ago");
    }

    #[test]
    fn absolute_times_are_local_and_short_today() {
        let c = clock();
        assert_eq!(c.absolute(datetime!(2025-11-23 14:05:00 UTC)), "15:05");
        assert_eq!(
            c.absolute(datetime!(2025-11-24 14:05:00 UTC)),
            "2025-11-24 15:05"
        );
        assert_eq!(c.both(datetime!(2025-11-23 14:05:00 UTC)), "in 30m (15:05)");
        assert_eq!(
            c.timestamp(datetime!(2025-11-23 14:05:09 UTC)),
            "2025-11-23 15:05:09"
        );
    }

    #[test]
    fn unknown_offset_says_utc() {
        let c = Clock {
            offset: None,
            ..clock()
        };
        assert_eq!(c.absolute(datetime!(2025-11-23 14:05:00 UTC)), "14:05 UTC");
        assert_eq!(
            c.timestamp(datetime!(2025-11-23 14:05:09 UTC)),
            "2025-11-23 14:05:09 UTC"
        );
    }

    #[test]
    fn tables_align_columns_without_trailing_spaces() {
        let mut t = Table::new(&["ID", "STATUS", "WHEN"]).align_right(0);
        t.row(vec!["7".into(), "Granted".into(), "expires in 42m".into()]);
        t.row(vec!["142".into(), "Pending".into(), "".into()]);
        assert_eq!(
            t.render(Style::PLAIN),
            " ID  STATUS   WHEN\n  7  Granted  expires in 42m\n142  Pending\n"
        );
    }

    #[test]
    fn colour_does_not_break_alignment() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec![Cell::painted(Paint::Green, "x"), "y".into()]);
        let out = t.render(Style { color: true });
        assert_eq!(
            out,
            "\x1b[1mA\x1b[0m  \x1b[1mB\x1b[0m\n\x1b[32mx\x1b[0m  y\n"
        );
    }

    #[test]
    fn lists_are_truncated_with_a_count() {
        let items: Vec<String> = ["orders", "payments", "users", "invoices"]
            .map(String::from)
            .to_vec();
        assert_eq!(list(&items, 60), "orders, payments, users, invoices");
        assert_eq!(list(&items, 28), "orders, payments, +2 more");
        assert_eq!(list(&items, 5), "4 items");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
