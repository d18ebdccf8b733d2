//! jitd's shell completions and its jitd(8) manual page, rendered from the command line in
//! `main.rs` (clap_complete, clap_mangen) plus the sections clap does not know: files,
//! environment, signals, exit status. Part of the `jitd` binary only (`--completions SHELL`
//! and `--man`); the Debian package runs them at build time: see docs/packaging.md.

use std::io::Write;

use clap_complete::Shell;
use clap_mangen::Man;

/// The sections of jitd(8) after the options, in roff.
const EXTRA: &str = r#".SH FILES
.TP
\fI/etc/jit/jit.toml\fR
The config in system mode (\fI~/.config/jit/jit.toml\fR with \fB\-\-user\fR). Every key is described in \fI/usr/share/doc/jit/config.md\fR.
Check it with \fBjitd \-\-check\-config\fR before a restart.
.TP
\fI/etc/jit/jitd.env\fR
Optional environment of the system service (\fBEnvironmentFile=\fR), for example the admin URLs that \fBurl_env\fR keys name. Keep it 0600.
.TP
\fI/var/lib/jit/\fR
The state directory in system mode (\fI~/.local/state/jit/\fR with \fB\-\-user\fR): the store \fIjit.redb\fR, with every request and the hash\-chained audit log, and \fIsecret.key\fR, which encrypts credentials not yet revealed.
.TP
\fI/run/jit/jitd.sock\fR
The socket in system mode (\fI$XDG_RUNTIME_DIR/jit/jitd.sock\fR with \fB\-\-user\fR).
.SH ENVIRONMENT
.TP
\fBJIT_CONFIG\fR, \fBJIT_SOCKET\fR, \fBJIT_STATE_DIR\fR
As \fB\-\-config\fR, \fB\-\-socket\fR and \fB\-\-state\-dir\fR.
.TP
\fBSTATE_DIRECTORY\fR, \fBRUNTIME_DIRECTORY\fR
Set by systemd (\fBStateDirectory=\fR, \fBRuntimeDirectory=\fR); used when no flag or \fBJIT_*\fR variable says otherwise.
.TP
\fBLISTEN_FDS\fR, \fBLISTEN_PID\fR
Socket activation: jitd serves the socket it is passed instead of binding one.
.TP
\fBNOTIFY_SOCKET\fR
jitd sends READY=1 there once it serves the socket (\fBType=notify\fR).
.TP
\fBRUST_LOG\fR
Log filter, overriding the config's \fB[daemon] log\fR. Logs go to stderr.
.SH SIGNALS
\fBSIGTERM\fR and \fBSIGINT\fR stop jitd cleanly; grants stay in the store and their deadlines are kept at the next start. jitd does not reload its config on \fBSIGHUP\fR: restart it.
.SH "EXIT STATUS"
0 when stopped by a signal or when \fB\-\-check\-config\fR found the config valid; 1 when the config has problems (each named with its file and line) or jitd could not start.
.SH "SEE ALSO"
\fBjit\fR(1), \fBsystemd.socket\fR(5), \fI/usr/share/doc/jit/\fR (\fBsystemd.md\fR, \fBconfig.md\fR, \fBintegrations.md\fR, \fBpackaging.md\fR).
"#;

/// jitd(8), in roff.
pub fn page(cmd: clap::Command) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    Man::new(cmd)
        .section("8")
        .manual("jit manual")
        .render(&mut buf)?;
    buf.write_all(EXTRA.as_bytes())?;
    Ok(String::from_utf8(buf)?)
}

/// jitd's completion script for `shell`.
pub fn completions(mut cmd: clap::Command, shell: Shell) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "jitd", &mut buf);
    Ok(String::from_utf8(buf)?)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_page_is_section_8_with_every_option() {
        let page = page(crate::Args::command()).expect("page");
        assert!(page.contains(".TH jitd 8"), "{page:.200}");
        for arg in crate::Args::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let shown = page.contains(&format!("\\fB\\-\\-{}\\fR", long.replace('-', "\\-")));
            assert!(shown, "--{long}");
        }
        assert!(page.contains(".SH FILES") && page.contains("/etc/jit/jit.toml"));
    }

    #[test]
    fn completions_offer_the_flags_for_each_shell() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = completions(crate::Args::command(), shell).expect("script");
            for arg in crate::Args::command().get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let offered = match shell {
                    Shell::Fish => format!("-l {long} "),
                    _ => format!("--{long}"),
                };
                assert!(text.contains(&offered), "{shell}: no --{long}");
            }
        }
    }
}
