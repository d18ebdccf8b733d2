//! Opening the portal in the user's browser without putting the one-time token on a
//! command line (other local users can read every process's arguments): the link goes
//! into a 0600 HTML file in a 0700 directory, and `xdg-open` gets that file's name.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};

use anyhow::Context;

/// Whether there is a display to open a browser on.
pub fn has_display(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| var(name).is_some_and(|v| !v.is_empty()))
}

/// The redirect file: kept until the portal stops (dropping it removes the directory).
pub struct Opened {
    _dir: tempfile::TempDir,
}

/// Writes the redirect file and runs `xdg-open` on it.
pub fn open_browser(link: &str) -> anyhow::Result<Opened> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    // tempfile makes the directory 0700.
    let dir = tempfile::Builder::new()
        .prefix("jit-portal-")
        .tempdir_in(&base)
        .with_context(|| format!("making a private directory in {}", base.display()))?;
    let file = dir.path().join("open.html");
    let escaped = crate::assets::escape(link);
    let page = format!(
        "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url={escaped}\">\
         <title>jit portal</title><a href=\"{escaped}\">Open the jit portal</a>\n"
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(page.as_bytes()))
        .with_context(|| format!("writing {}", file.display()))?;
    let mut child = Command::new("xdg-open")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("running xdg-open")?;
    std::thread::spawn(move || child.wait());
    Ok(Opened { _dir: dir })
}
