//! Where things live in system mode and user mode, with the environment's overrides.
//!
//! System mode: `/etc/jit/jit.toml`, `/var/lib/jit/`, `/run/jit/jitd.sock`.
//! User mode: the XDG base directories (`~/.config/jit/jit.toml`, `~/.local/state/jit/`,
//! `$XDG_RUNTIME_DIR/jit/jitd.sock`). In both, systemd's `$STATE_DIRECTORY` and
//! `$RUNTIME_DIRECTORY` win over the defaults (the `directories` crate ignores them), and
//! `--config`/`JIT_CONFIG`, `--state-dir`/`JIT_STATE_DIR`, `--socket`/`JIT_SOCKET` win
//! over everything.

use std::path::PathBuf;

/// How jitd runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// As root, for every user of the host.
    System,
    /// As one user, for that user.
    User,
}

impl Mode {
    /// `system` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::System => "system",
            Mode::User => "user",
        }
    }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    // systemd may list several directories separated by ':'; the first is ours.
    let v = std::env::var_os(var)?;
    let first = v.to_str().map_or_else(
        || PathBuf::from(&v),
        |s| PathBuf::from(s.split(':').next().unwrap_or(s)),
    );
    (!first.as_os_str().is_empty()).then_some(first)
}

fn user_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "jit")
}

/// The default config file.
pub fn config_file(mode: Mode) -> PathBuf {
    match mode {
        Mode::System => PathBuf::from("/etc/jit/jit.toml"),
        Mode::User => user_dirs().map_or_else(
            || PathBuf::from("jit.toml"),
            |d| d.config_dir().join("jit.toml"),
        ),
    }
}

/// The default state directory.
pub fn state_dir(mode: Mode) -> PathBuf {
    if let Some(d) = env_dir("STATE_DIRECTORY") {
        return d;
    }
    match mode {
        Mode::System => PathBuf::from("/var/lib/jit"),
        Mode::User => user_dirs()
            .map(|d| {
                d.state_dir()
                    .unwrap_or_else(|| d.data_local_dir())
                    .to_path_buf()
            })
            .unwrap_or_else(|| PathBuf::from(".jit")),
    }
}

/// The default socket path.
pub fn socket(mode: Mode) -> PathBuf {
    if let Some(d) = env_dir("RUNTIME_DIRECTORY") {
        return d.join("jitd.sock");
    }
    match mode {
        Mode::System => PathBuf::from("/run/jit/jitd.sock"),
        Mode::User => user_dirs()
            .and_then(|d| d.runtime_dir().map(std::path::Path::to_path_buf))
            .unwrap_or_else(|| state_dir(Mode::User))
            .join("jitd.sock"),
    }
}
