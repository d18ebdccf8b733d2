//! `jit man`: jit's manual pages, rendered from this command line (clap_mangen) with the
//! sections clap does not know (exit status, environment, files). The Debian package runs it
//! at build time (`scripts/package`); from a source build, `jit man | man -l -` shows the
//! page. Needs no jitd.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;
use clap_mangen::Man;

use super::{Cli, Outcome};
use crate::output::Out;

/// Print jit's manual page (roff: `jit man | man -l -`)
///
/// With --dir, write jit.1 and a jit-COMMAND.1 page per command into a directory instead.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write jit.1 and every jit-COMMAND.1 into this directory (created if missing)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs `jit man`.
pub fn run(out: &Out, args: &Args) -> anyhow::Result<Outcome> {
    match &args.dir {
        None => out.print(&main_page()?)?,
        Some(dir) => {
            for path in write_all(dir)? {
                out.note(&format!("wrote {}", path.display()));
            }
        }
    }
    Ok(Outcome::Done)
}

/// The exit status, environment, files and see-also sections of jit(1), in roff.
const EXTRA: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success (also when stdout was closed by its reader).
.TP
\fB1\fR
jitd refused: it answered with one of jit's errors (not found, forbidden, no flow, invalid state, ...).
.TP
\fB2\fR
Usage error: unknown command or flag, missing or malformed value.
.TP
\fB3\fR
The request ended badly while jit followed it: Failed, Rejected or Canceled.
.TP
\fB4\fR
Not there yet: \fB\-\-wait\fR timed out, or a revoke is still being retried.
.TP
\fB5\fR
\fBjit audit verify\fR found the audit log broken.
.TP
\fB69\fR
jitd is not running, or did not answer in time.
.TP
\fB70\fR
Protocol or internal error: an answer jit cannot read.
.TP
\fB77\fR
Permission denied on the socket.
.PP
\fBjit connect\fR exits with the launched program's own exit code once it has started.
.SH ENVIRONMENT
.TP
\fBJIT_SOCKET\fR
The jitd socket, as \fB\-\-socket\fR.
.TP
\fBNO_COLOR\fR
When set and not empty, no colour.
.SH FILES
.TP
\fI$XDG_RUNTIME_DIR/jit/jitd.sock\fR
A personal broker's socket (\fBjitd \-\-user\fR), tried first when it exists.
.TP
\fI/run/jit/jitd.sock\fR
The host's jitd (system mode).
.SH "SEE ALSO"
\fBjitd\fR(8), \fBjit\-request\fR(1), \fBjit\-ls\fR(1), \fBjit\-connect\fR(1), \fBjit\-watch\fR(1).
The full reference (every command, \fB\-\-json\fR, exit codes) is \fI/usr/share/doc/jit/cli.md\fR
in the package and \fIdocs/cli.md\fR in the source.
"#;

/// jit(1): the command, its options and commands, then [`EXTRA`].
pub fn main_page() -> anyhow::Result<String> {
    let mut buf = Vec::new();
    Man::new(Cli::command())
        .manual("jit manual")
        .render(&mut buf)?;
    buf.write_all(EXTRA.as_bytes())?;
    Ok(String::from_utf8(buf)?)
}

/// Writes jit.1 and one jit-COMMAND.1 per visible command into `dir`; returns the files.
pub fn write_all(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let main = dir.join("jit.1");
    std::fs::write(&main, main_page()?).with_context(|| format!("write {}", main.display()))?;
    let mut written = vec![main];
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    for sub in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        let man = Man::new(sub.clone())
            .manual("jit manual")
            .source(format!("jit {}", env!("CARGO_PKG_VERSION")));
        let path = dir.join(man.get_filename());
        let mut page = Vec::new();
        man.render(&mut page)?;
        writeln!(page, ".SH \"SEE ALSO\"\n\\fBjit\\fR(1), \\fBjitd\\fR(8)")?;
        std::fs::write(&path, page).with_context(|| format!("write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_visible_command_named_as_man_finds_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = write_all(dir.path()).expect("write");
        let mut names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(names.contains(&"jit.1".to_owned()));
        for sub in Cli::command().get_subcommands() {
            let page = format!("jit-{}.1", sub.get_name());
            assert_eq!(names.contains(&page), !sub.is_hide_set(), "{page}");
        }
        assert_eq!(names.len(), Cli::command().get_subcommands().count() + 1);
        let request = std::fs::read_to_string(dir.path().join("jit-request.1")).expect("read");
        assert!(
            request.starts_with(".ie \\n(.g .ds Aq"),
            "not roff: {request:.80}"
        );
        assert!(
            request.contains(&format!(
                ".TH jit-request 1  \"jit {}\"",
                env!("CARGO_PKG_VERSION")
            )),
            "{request:.300}"
        );
        assert!(request.contains("\\-\\-for"), "no --for in jit-request.1");
    }

    #[test]
    fn the_main_page_lists_the_commands_and_every_exit_code() {
        let page = main_page().expect("page");
        assert!(page.contains(".TH jit 1"), "{page:.300}");
        assert!(page.contains("jit\\-request(1)") || page.contains("jit-request(1)"));
        for code in [
            crate::error::exit::OK,
            crate::error::exit::REFUSED,
            crate::error::exit::USAGE,
            crate::error::exit::ENDED_BADLY,
            crate::error::exit::STILL_WAITING,
            crate::error::exit::TAMPERED,
            crate::error::exit::UNAVAILABLE,
            crate::error::exit::INTERNAL,
            crate::error::exit::NO_PERMISSION,
        ] {
            assert!(
                page.contains(&format!("\\fB{code}\\fR")),
                "exit code {code} missing"
            );
        }
    }
}
