//! Config errors: every problem found in a file, each with its path, line, column and the fix.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Why a config could not be loaded.
///
/// `Display` prints one problem per line, `path:line:column: message (fix: …)`, so editors and
/// terminals can jump to each one. No variant ever holds a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file itself could not be read.
    // The io error is part of the message rather than a `#[source]`: the message is what a
    // person reads, and printing the chain as well would say it twice.
    #[error("{}: cannot read the config file: {error} (fix: {})", path.display(), read_fix(error))]
    Read {
        /// The file that was to be read.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The file was read but is not a valid config.
    #[error("{}", ProblemLines(problems))]
    Invalid {
        /// Every problem found, in file order (never empty).
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems found in the file (empty for [`ConfigError::Read`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems } => problems,
        }
    }
}

fn read_fix(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::NotFound => {
            "create it (config/quickstart.toml is a starting point), or point --config or JIT_CONFIG at another file"
        }
        std::io::ErrorKind::PermissionDenied => "make it readable by the user jitd runs as",
        std::io::ErrorKind::InvalidData => "save it as UTF-8 text",
        _ => "check the path, or point --config or JIT_CONFIG at another file",
    }
}

struct ProblemLines<'a>(&'a [Problem]);

impl fmt::Display for ProblemLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// One thing wrong in a config file, where it is, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The config file.
    pub path: PathBuf,
    /// Line, counted from 1.
    pub line: usize,
    /// Column in characters, counted from 1.
    pub column: usize,
    /// What is wrong: lower case, no trailing period, never a secret value.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {} (fix: {})",
            self.path.display(),
            self.line,
            self.column,
            self.message,
            self.fix
        )
    }
}

/// Collects problems while a file is checked, turning byte offsets into lines and columns.
pub(crate) struct Problems<'a> {
    path: &'a Path,
    text: &'a str,
    /// Byte offset at which each line starts.
    line_starts: Vec<usize>,
    list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Problems<'a> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Problems {
            path,
            text,
            line_starts,
            list: Vec::new(),
        }
    }

    /// Records a problem at the start of `span`.
    pub(crate) fn at(
        &mut self,
        span: &Range<usize>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let (line, column) = self.position(span.start);
        self.list.push(Problem {
            path: self.path.to_owned(),
            line,
            column,
            message: message.into(),
            fix: fix.into(),
        });
    }

    /// The 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.position(offset).0
    }

    /// The 1-based line and character column of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let index = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[index.saturating_sub(1)];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (index.max(1), column + 1)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The error carrying every problem, in file order.
    pub(crate) fn into_error(mut self) -> ConfigError {
        if self.list.is_empty() {
            // Every check reports what it refuses; this is a bug, but say something.
            self.at(
                &(0..0),
                "the config was refused without a reason (a bug in jit-config)",
                "report it, with the config file (its secrets removed)",
            );
        }
        self.list.sort_by_key(|p| (p.line, p.column));
        ConfigError::Invalid {
            problems: self.list,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nbé = \"x\"\n\nz";
        let p = Problems::new(Path::new("f"), text);
        assert_eq!(p.position(0), (1, 1));
        assert_eq!(p.position(4), (1, 5));
        assert_eq!(p.position(6), (2, 1));
        // "bé = " is 5 characters but 6 bytes.
        assert_eq!(p.position(12), (2, 6));
        assert_eq!(p.position(text.len() - 1), (4, 1));
        assert_eq!(p.position(usize::MAX), (4, 2));
    }
}
