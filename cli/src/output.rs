//! Where output goes: stdout for results (text or `--json`), stderr for notes and errors.
//!
//! Every write to stdout goes through [`Out::print`], which turns a closed pipe
//! (`jit ls | head`) into [`StdoutClosed`] so that `main` can exit quietly.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::format::{Clock, Style};

/// Stdout was closed by the reader; not an error worth a message.
#[derive(Debug)]
pub struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// How this invocation prints.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// `--json`: print the method's result as JSON instead of text.
    pub json: bool,
    /// Stdout is a terminal (pretty JSON, colour when allowed).
    pub tty: bool,
    /// Colour or not.
    pub style: Style,
    /// Now and the local offset.
    pub clock: Clock,
}

impl Out {
    /// Decides from the terminal and the environment: colour only when stdout is a
    /// terminal, `NO_COLOR` is unset or empty, and `TERM` is not `dumb`.
    pub fn detect(json: bool, clock: Clock) -> Out {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Out {
            json,
            tty,
            style: Style {
                color: tty && !no_color && !dumb && !json,
            },
            clock,
        }
    }

    /// Writes text to stdout as is.
    pub fn print(&self, text: &str) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
            Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
        }
    }

    /// Prints a value as JSON: pretty on a terminal, one line otherwise.
    pub fn json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let mut text = if self.tty {
            serde_json::to_string_pretty(value)?
        } else {
            serde_json::to_string(value)?
        };
        text.push('\n');
        self.print(&text)
    }

    /// Prints values as JSON lines, one per line (for streams of records).
    pub fn json_lines<T: Serialize>(&self, values: &[T]) -> anyhow::Result<()> {
        let mut text = String::new();
        for value in values {
            text.push_str(&serde_json::to_string(value)?);
            text.push('\n');
        }
        self.print(&text)
    }

    /// A note for the person at the terminal, on stderr (never mixed into `--json` output).
    pub fn note(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}
