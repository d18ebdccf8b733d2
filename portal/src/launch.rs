//! Open in my Terminal: a terminal window running `jit connect ID --session S`, when the
//! portal runs on a desktop (a display and a terminal emulator). `jit connect` fetches the
//! secret itself and hands it to the client it launches; the portal never sees it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use jit_api::RequestId;

/// How to open a terminal running `jit connect`.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The terminal emulator (`$TERMINAL`, else `x-terminal-emulator`), run as `TERM -e …`.
    terminal: PathBuf,
    /// The `jit` to run in it.
    jit: PathBuf,
}

impl Launcher {
    /// A launcher when there is a display and a terminal emulator; `None` otherwise (the
    /// page then shows the command to run instead).
    pub fn detect(var: impl Fn(&str) -> Option<OsString>) -> Option<Launcher> {
        let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
            return None;
        }
        let path = var("PATH").unwrap_or_default();
        let terminal = var("TERMINAL")
            .filter(|t| !t.is_empty())
            .map(PathBuf::from)
            .and_then(|t| find(&t, &path))
            .or_else(|| find(Path::new("x-terminal-emulator"), &path))?;
        Some(Launcher {
            terminal,
            jit: jit_beside_me().unwrap_or_else(|| PathBuf::from("jit")),
        })
    }

    /// Opens the terminal; it runs on its own (the portal does not wait for it).
    pub fn launch(
        &self,
        id: RequestId,
        session: Option<&str>,
        socket: &Path,
    ) -> anyhow::Result<()> {
        let mut cmd = Command::new(&self.terminal);
        cmd.arg("-e")
            .arg(&self.jit)
            .arg("connect")
            .arg(id.to_string());
        if let Some(s) = session {
            // One argument, `--session=NAME`: a name cannot turn into an option.
            cmd.arg(format!("--session={s}"));
        }
        let mut child = cmd
            .env("JIT_SOCKET", socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.terminal.display()))?;
        // Reap it when it exits, so that it leaves no zombie behind.
        std::thread::spawn(move || child.wait());
        Ok(())
    }
}

/// `name` if it is a path, else the first executable of that name on `path`.
fn find(name: &Path, path: &std::ffi::OsStr) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return is_executable(name).then(|| name.to_path_buf());
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The `jit` installed beside this program, as `cargo build` and packages put them.
fn jit_beside_me() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let jit = me.parent()?.join("jit");
    is_executable(&jit).then_some(jit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_display_no_launcher() {
        let env = |k: &str| match k {
            "PATH" => Some(OsString::from("/usr/bin:/bin")),
            "TERMINAL" => Some(OsString::from("/bin/sh")),
            _ => None,
        };
        assert!(Launcher::detect(env).is_none());
    }

    #[test]
    fn a_display_and_a_terminal_make_a_launcher() {
        let env = |k: &str| match k {
            "DISPLAY" => Some(OsString::from(":0")),
            "TERMINAL" => Some(OsString::from("/bin/sh")),
            _ => None,
        };
        let l = Launcher::detect(env).expect("launcher");
        assert_eq!(l.terminal, PathBuf::from("/bin/sh"));
        let missing = |k: &str| match k {
            "DISPLAY" => Some(OsString::from(":0")),
            "TERMINAL" => Some(OsString::from("no-such-terminal-here")),
            "PATH" => Some(OsString::from("/nonexistent")),
            _ => None,
        };
        assert!(Launcher::detect(missing).is_none());
    }
}
