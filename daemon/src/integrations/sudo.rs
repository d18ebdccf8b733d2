//! The `sudo` kind: running admin-defined commands with `sudo`, for the requester's own
//! account (jitd in system mode, as root). No secret: the access is the user's.
//!
//! Grant writes one drop-in file per session into `sudoers_dir`, named after the principal
//! (`jit-<user>-<request>-<tag>`), with one rule per granted command:
//!
//! ```text
//! # managed by jitd <instance> integration <name> request <id> user <user>
//! <user> ALL=(<run_as>) NOTAFTER=<end, UTC> NOPASSWD: <command line>
//! ```
//!
//! The file is written to a temp file in the same directory (a name with a `.`, which sudo's
//! `@includedir` skips), mode 0440, fsynced, checked with `visudo -cf`, and only then renamed
//! into place (and the directory fsynced): a rule `visudo` rejects never lands, and the grant
//! fails having changed nothing. `NOTAFTER` is sudo's own clock: the rules stop matching at
//! the grant's end even when jitd is down.
//!
//! Revoke renames the drop-in out of sudo's sight (`.<name>.revoking`), ends the granted
//! commands still running under the user's `sudo` (SIGTERM, then SIGKILL, with what they
//! started), removes the user's sudo timestamp (what `sudo -K` removes), then deletes the
//! file. Each step is idempotent; the renamed file keeps what a redone revoke needs after a
//! crash. Only files whose first line carries this jitd's instance and integration are ever
//! touched; those are also what `list_principals` reports for orphan removal at start.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use jit_api::{ConnectKind, RequestId};
use jit_config::SudoSettings;
use tokio::io::AsyncWriteExt;

use super::{
    AccessDetails, ConnectTarget, GrantSpec, Integration, IntegrationError, Issued, Material,
    RevokeSpec, SecretSource, SessionView,
};

/// How long one `visudo` run may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);
/// `PATH` for the tools.
const TOOL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Drop-ins jit writes start with this.
const PREFIX: &str = "jit-";
/// Where sudo keeps its per-user timestamps on the usual builds (Debian: `/run/sudo/ts`).
const TS_DIRS: [&str; 4] = [
    "/run/sudo/ts",
    "/var/run/sudo/ts",
    "/var/lib/sudo/ts",
    "/var/db/sudo/ts",
];
/// The main sudoers file, read at start to check that `sudoers_dir` is included.
const SUDOERS: &str = "/etc/sudoers";
/// How long a running command gets between SIGTERM and SIGKILL at revoke.
const GRACE: Duration = Duration::from_millis(500);

/// Admin-defined commands run with sudo.
pub struct Sudo {
    name: String,
    commands: Vec<(String, String)>,
    dir: PathBuf,
    run_as: String,
    marker: String,
    tag: String,
}

/// The first line of a drop-in, parsed.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    marker: String,
    integration: String,
    request: u64,
    user: String,
}

impl Sudo {
    /// Prepares the integration; nothing is read or written until needed.
    pub fn new(name: &str, settings: &SudoSettings, marker: &str) -> Sudo {
        Sudo {
            name: name.to_owned(),
            commands: settings.commands.clone(),
            dir: settings.sudoers_dir.clone(),
            run_as: settings.run_as.clone(),
            marker: marker.to_owned(),
            tag: marker
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(4)
                .collect(),
        }
    }

    fn err(&self, msg: impl std::fmt::Display) -> IntegrationError {
        IntegrationError::new(format!("{}: {msg}", self.name))
    }

    fn header_line(&self, request: u64, user: &str) -> String {
        format!(
            "# managed by jitd {} integration {} request {request} user {user}",
            self.marker, self.name
        )
    }

    /// Whether a drop-in's text starts with this jitd's and this integration's header.
    fn ours(&self, text: &str) -> Option<Header> {
        parse_header(text.lines().next()?)
            .filter(|h| h.marker == self.marker && h.integration == self.name)
    }

    fn command_line(&self, name: &str) -> Option<&str> {
        self.commands
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_str())
    }

    fn content(&self, request: u64, user: &str, commands: &[&str], until: SystemTime) -> String {
        let mut text = self.header_line(request, user);
        text.push_str(
            "\n# Written by jitd for this request; removed when the access ends. Do not edit.\n",
        );
        let until = not_after(until);
        for c in commands {
            text.push_str(&format!(
                "{user} ALL=({}) NOTAFTER={until} NOPASSWD: {c}\n",
                self.run_as
            ));
        }
        text
    }

    /// Writes `content` as the drop-in `principal`: temp file, `visudo -cf`, rename. A
    /// rejected file is removed and the error is marked as having changed nothing.
    async fn install(&self, principal: &str, content: &str) -> Result<(), IntegrationError> {
        let tmp = self.dir.join(format!(".{principal}.tmp"));
        let target = self.dir.join(principal);
        let io = |what: &str, e: std::io::Error| {
            self.err(format!("cannot {what} {}: {e}", tmp.display()))
                .untouched()
        };
        remove_if_present(&tmp).await.map_err(|e| io("remove", e))?;
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o440)
            .open(&tmp)
            .await
            .map_err(|e| io("create", e))?;
        let written = async {
            // 0440 whatever jitd's umask is: sudo wants exactly that.
            f.set_permissions(std::fs::Permissions::from_mode(0o440))
                .await?;
            f.write_all(content.as_bytes()).await?;
            f.sync_all().await
        }
        .await;
        drop(f);
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io("write", e));
        }
        if let Err(e) = self.visudo(&tmp).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(self.err(e).untouched());
        }
        tokio::fs::rename(&tmp, &target).await.map_err(|e| {
            self.err(format!(
                "cannot move the checked drop-in into place as {}: {e}",
                target.display()
            ))
        })?;
        sync_dir(&self.dir)
            .await
            .map_err(|e| self.err(format!("cannot sync {}: {e}", self.dir.display())))
    }

    /// `visudo -cf FILE`: the drop-in must parse on its own.
    async fn visudo(&self, file: &Path) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new("visudo");
        cmd.arg("-c")
            .arg("-f")
            .arg(file)
            .env_clear()
            .env("PATH", TOOL_PATH)
            .env("LC_ALL", "C")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = match tokio::time::timeout(TOOL_TIMEOUT, cmd.output()).await {
            Err(_) => return Err(format!("visudo did not finish within {TOOL_TIMEOUT:?}")),
            Ok(Err(e)) if e.kind() == ErrorKind::NotFound => {
                return Err(
                    "visudo is not installed, so the drop-in cannot be checked (fix: install the sudo package)"
                        .into(),
                );
            }
            Ok(Err(e)) => return Err(format!("cannot run visudo: {e}")),
            Ok(Ok(out)) => out,
        };
        if out.status.success() {
            return Ok(());
        }
        let said = format!(
            "{} {}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        )
        .replace(&file.display().to_string(), "drop-in");
        Err(format!(
            "visudo rejected the rule, so nothing was installed ({}): {} (fix: change the command line in the config)",
            out.status,
            clean(&said)
        ))
    }

    /// The drop-in file names (principals) of this jitd and integration in `sudoers_dir`,
    /// including files a crash left half-written or half-removed.
    async fn scan(&self) -> Result<Vec<String>, IntegrationError> {
        let mut dir = match tokio::fs::read_dir(&self.dir).await {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(self.err(format!("cannot list {}: {e}", self.dir.display())));
            }
        };
        let mut out = BTreeSet::new();
        while let Some(entry) = dir
            .next_entry()
            .await
            .map_err(|e| self.err(format!("cannot list {}: {e}", self.dir.display())))?
        {
            let Ok(file) = entry.file_name().into_string() else {
                continue;
            };
            let principal = file
                .strip_prefix('.')
                .and_then(|f| {
                    f.strip_suffix(".tmp")
                        .or_else(|| f.strip_suffix(".revoking"))
                })
                .unwrap_or(&file);
            if !safe_name(principal) {
                continue;
            }
            if let Ok(text) = read_head(&entry.path()).await
                && self.ours(&text).is_some()
            {
                out.insert(principal.to_owned());
            }
        }
        Ok(out.into_iter().collect())
    }
}

#[async_trait]
impl Integration for Sudo {
    fn kind(&self) -> &'static str {
        "sudo"
    }

    fn principal_for(&self, requester: &str, request: RequestId) -> Option<String> {
        // The drop-in's file name: jit-<user>-<request>-<instance tag>. Letters, digits, `-`
        // and `_` only: sudo skips files whose name has a `.` (or ends in `~`).
        Some(format!(
            "{PREFIX}{}-{request}-{}",
            sanitize(requester),
            self.tag
        ))
    }

    fn secret_source(&self) -> SecretSource {
        SecretSource::None
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<Issued, IntegrationError> {
        let principal = spec
            .principal
            .as_deref()
            .filter(|p| safe_name(p))
            .ok_or_else(|| self.err("no valid drop-in name").untouched())?;
        let user = spec.requester.as_str();
        if !valid_user(user) {
            return Err(self
                .err(format!(
                    "user name {user:?} cannot be written into a sudoers rule by jit (it allows letters, digits, `_`, `.`, `-`)"
                ))
                .untouched());
        }
        if !matches!(nix::unistd::User::from_name(user), Ok(Some(_))) {
            return Err(self
                .err(format!("user {user} does not exist on this host"))
                .untouched());
        }
        let mut commands: Vec<&str> = Vec::new();
        for name in spec.entries.iter().flat_map(|e| e.resources.iter()) {
            let line = self.command_line(name).ok_or_else(|| {
                self.err(format!(
                    "command {name} is not one of this integration's commands"
                ))
                .untouched()
            })?;
            if !commands.contains(&line) {
                commands.push(line);
            }
        }
        match tokio::fs::metadata(&self.dir).await {
            Ok(m) if m.is_dir() => {}
            _ => {
                return Err(self
                    .err(format!(
                        "sudoers_dir {} is not a directory (fix: create it, and include it from /etc/sudoers with `@includedir {}`)",
                        self.dir.display(),
                        self.dir.display()
                    ))
                    .untouched());
            }
        }
        let content = self.content(spec.request, user, &commands, spec.valid_until);
        let target = self.dir.join(principal);
        match tokio::fs::read_to_string(&target).await {
            Ok(existing) => {
                if self.ours(&existing).is_none() {
                    return Err(self
                        .err(format!(
                            "{} already exists and was not written by this jitd; refusing to replace it",
                            target.display()
                        ))
                        .untouched());
                }
                if existing == content {
                    return Ok(Issued::default());
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                return Err(self
                    .err(format!("cannot read {}: {e}", target.display()))
                    .untouched());
            }
        }
        self.install(principal, &content).await?;
        tracing::debug!(integration = %self.name, file = %target.display(), "sudoers drop-in installed");
        Ok(Issued::default())
    }

    async fn revoke(&self, spec: &RevokeSpec) -> Result<(), IntegrationError> {
        let Some(principal) = spec.principal.as_deref() else {
            return Ok(());
        };
        if !safe_name(principal) {
            return Err(self.err(format!(
                "{principal:?} is not the name of a drop-in jit writes; nothing was removed"
            )));
        }
        let target = self.dir.join(principal);
        let revoking = self.dir.join(format!(".{principal}.revoking"));
        let tmp = self.dir.join(format!(".{principal}.tmp"));
        // 1. Out of sudo's sight at once (sudo skips names with a `.`).
        match tokio::fs::read_to_string(&target).await {
            Ok(text) => {
                if self.ours(&text).is_none() {
                    return Err(self.err(format!(
                        "{} was not written by this jitd (its first line says otherwise); it was left in place: check it and remove it by hand",
                        target.display()
                    )));
                }
                tokio::fs::rename(&target, &revoking)
                    .await
                    .map_err(|e| self.err(format!("cannot remove {}: {e}", target.display())))?;
                sync_dir(&self.dir)
                    .await
                    .map_err(|e| self.err(format!("cannot sync {}: {e}", self.dir.display())))?;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(self.err(format!("cannot read {}: {e}", target.display()))),
        }
        // 2. What is still running under it, and the user's timestamp; the renamed file
        // says who and what, so a crash here is finished by the redone revoke.
        match tokio::fs::read_to_string(&revoking).await {
            Ok(text) => {
                if let Some(h) = self.ours(&text) {
                    let programs = programs(&text);
                    if let Ok(Some(pw)) = nix::unistd::User::from_name(&h.user) {
                        let uid = pw.uid.as_raw();
                        let left =
                            tokio::task::spawn_blocking(move || end_commands(uid, &programs))
                                .await
                                .unwrap_or(0);
                        if left > 0 {
                            return Err(self.err(format!(
                                "{left} command(s) {} started with this grant could not be ended",
                                h.user
                            )));
                        }
                    }
                    clear_timestamp(&h.user).await.map_err(|e| {
                        self.err(format!(
                            "cannot remove the sudo timestamp of {}: {e}",
                            h.user
                        ))
                    })?;
                    remove_if_present(&revoking).await.map_err(|e| {
                        self.err(format!("cannot remove {}: {e}", revoking.display()))
                    })?;
                    sync_dir(&self.dir).await.map_err(|e| {
                        self.err(format!("cannot sync {}: {e}", self.dir.display()))
                    })?;
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(self.err(format!("cannot read {}: {e}", revoking.display()))),
        }
        // 3. A temp file a crashed grant left (sudo never read it).
        if let Ok(text) = read_head(&tmp).await
            && self.ours(&text).is_some()
        {
            remove_if_present(&tmp)
                .await
                .map_err(|e| self.err(format!("cannot remove {}: {e}", tmp.display())))?;
        }
        Ok(())
    }

    async fn extend(
        &self,
        principal: &str,
        valid_until: SystemTime,
    ) -> Result<Option<Material>, IntegrationError> {
        if !safe_name(principal) {
            return Err(self.err(format!("{principal:?} is not a drop-in jit writes")));
        }
        let target = self.dir.join(principal);
        let text = match tokio::fs::read_to_string(&target).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(format!("cannot read {}: {e}", target.display()))),
        };
        if self.ours(&text).is_none() {
            return Err(self.err(format!("{} was not written by this jitd", target.display())));
        }
        let content = with_not_after(&text, valid_until);
        if content == text {
            return Ok(None);
        }
        self.install(principal, &content).await?;
        Ok(None)
    }

    fn connect_kinds(&self, _session: &SessionView<'_>) -> Vec<ConnectKind> {
        vec![ConnectKind::Terminal]
    }

    fn connect(&self, kind: ConnectKind, session: &SessionView<'_>) -> Option<ConnectTarget> {
        let resources = session.resources;
        if kind != ConnectKind::Terminal {
            return None;
        }
        // The session's first command, through `sudo -n` (never a password prompt); jit
        // connect registers the sudo process, and ending it ends the command (sudo relays
        // the signal).
        let line = self.command_line(resources.first()?)?;
        let mut argv = vec!["sudo".to_owned(), "-n".to_owned()];
        if self.run_as != "root" {
            argv.extend(["-u".to_owned(), self.run_as.clone()]);
        }
        argv.push("--".to_owned());
        argv.extend(command_argv(line));
        Some(ConnectTarget {
            argv,
            env: Vec::new(),
            url: None,
            files: Vec::new(),
        })
    }

    async fn preflight(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !nix::unistd::geteuid().is_root() {
            out.push("jitd is not running as root: it cannot write sudoers drop-ins (the sudo kind needs system mode)".to_owned());
        }
        if !TOOL_PATH
            .split(':')
            .any(|d| Path::new(d).join("visudo").is_file())
        {
            out.push(
                "visudo is not installed: every grant will fail (fix: install the sudo package)"
                    .to_owned(),
            );
        }
        match std::fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => {
                if m.uid() != 0 || m.mode() & 0o022 != 0 {
                    out.push(format!(
                        "sudoers_dir {} must be owned by root and writable only by root (sudo ignores what others could have written)",
                        self.dir.display()
                    ));
                }
            }
            _ => out.push(format!(
                "sudoers_dir {} is not a directory: every grant will fail (fix: create it and include it from /etc/sudoers)",
                self.dir.display()
            )),
        }
        match std::fs::read_to_string(SUDOERS) {
            Ok(text) if includes(&text, &self.dir) => {}
            Ok(_) => out.push(format!(
                "{SUDOERS} has no `@includedir {}` line: the rules jit writes there take no effect (fix: add that line with visudo)",
                self.dir.display()
            )),
            Err(e) => out.push(format!("cannot read {SUDOERS}: {e}")),
        }
        if !matches!(nix::unistd::User::from_name(&self.run_as), Ok(Some(_))) {
            out.push(format!(
                "run_as user {} does not exist: sudo will refuse every command",
                self.run_as
            ));
        }
        for (name, line) in &self.commands {
            let program = line.split_whitespace().next().unwrap_or(line);
            if !Path::new(program).is_file() {
                out.push(format!(
                    "command {name}: {program} does not exist (sudo refuses what it cannot find)"
                ));
            }
        }
        out
    }

    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError> {
        self.scan().await
    }

    fn access_details(&self, session: &SessionView<'_>) -> AccessDetails {
        let resources = session.resources;
        let as_user = if self.run_as == "root" {
            String::new()
        } else {
            format!("-u {} ", self.run_as)
        };
        let lines: Vec<String> = resources
            .iter()
            .filter_map(|r| self.command_line(r))
            .map(|c| format!("sudo -n {as_user}{}", command_argv(c).join(" ")))
            .collect();
        AccessDetails {
            host: None,
            port: None,
            instructions: format!(
                "Run the granted commands with sudo, without a password, exactly as written (arguments included): {}. `sudo -l` lists them. They stop working when the access ends; a command still running then is ended.",
                lines.join("; ")
            ),
            example: lines.first().cloned(),
            ..AccessDetails::default()
        }
    }
}

/// Parses `# managed by jitd <marker> integration <name> request <id> user <user>`.
fn parse_header(line: &str) -> Option<Header> {
    let f: Vec<&str> = line.split(' ').collect();
    match f.as_slice() {
        [
            "#",
            "managed",
            "by",
            "jitd",
            marker,
            "integration",
            name,
            "request",
            id,
            "user",
            user,
        ] => Some(Header {
            marker: (*marker).to_owned(),
            integration: (*name).to_owned(),
            request: id.parse().ok()?,
            user: (*user).to_owned(),
        }),
        _ => None,
    }
}

/// The programs (absolute paths) of a drop-in's rules.
fn programs(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once("NOPASSWD: "))
        .filter_map(|(_, c)| c.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// A config command line as the argv sudo is given: split at white space (sudoers has no
/// quoting in command lines), and `""` (no arguments allowed) dropped.
fn command_argv(line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.len() == 2 && words[1] == "\"\"" {
        return vec![words[0].to_owned()];
    }
    words.into_iter().map(str::to_owned).collect()
}

/// A drop-in's text with every rule's `NOTAFTER` moved to `until`.
fn with_not_after(text: &str, until: SystemTime) -> String {
    let until = not_after(until);
    text.lines()
        .map(|l| {
            let words: Vec<String> = l
                .split(' ')
                .map(|w| {
                    if w.starts_with("NOTAFTER=") {
                        format!("NOTAFTER={until}")
                    } else {
                        w.to_owned()
                    }
                })
                .collect();
            words.join(" ") + "\n"
        })
        .collect()
}

/// `NOTAFTER`'s format: generalized time in UTC.
fn not_after(t: SystemTime) -> String {
    let odt = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    odt.format(&fmt)
        .unwrap_or_else(|_| "20000101000000Z".into())
}

/// Whether a sudoers text includes `dir` with `@includedir` (or the old `#includedir`).
fn includes(text: &str, dir: &Path) -> bool {
    let want = dir.to_string_lossy();
    let want = want.trim_end_matches('/');
    text.lines().any(|l| {
        let mut w = l.split_whitespace();
        matches!(w.next(), Some("@includedir" | "#includedir"))
            && w.next().is_some_and(|d| d.trim_end_matches('/') == want)
    })
}

/// A file name jit gives a drop-in: `jit-` then letters, digits, `-`, `_` (no `.`: sudo
/// would skip it; no `/`).
fn safe_name(name: &str) -> bool {
    name.starts_with(PREFIX)
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn sanitize(user: &str) -> String {
    user.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect()
}

/// A user name jit writes into a rule: 1 to 32 of `A-Za-z0-9_.-`, starting with a letter,
/// a digit or `_` (never `#`, `%`, `+`, which sudoers reads as a uid, a group, a netgroup),
/// optionally ending in `$`.
fn valid_user(user: &str) -> bool {
    let body = user.strip_suffix('$').unwrap_or(user);
    !body.is_empty()
        && user.len() <= 32
        && body
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The first 4 KiB of a file, as text.
async fn read_head(path: &Path) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    while n < buf.len() {
        let got = f.read(&mut buf[n..]).await?;
        if got == 0 {
            break;
        }
        n += got;
    }
    buf.truncate(n);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

async fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    tokio::fs::File::open(dir).await?.sync_all().await
}

/// Removes `user`'s sudo timestamp (what `sudo -K` run by that user removes).
async fn clear_timestamp(user: &str) -> std::io::Result<()> {
    for d in TS_DIRS {
        remove_if_present(&Path::new(d).join(user)).await?;
    }
    Ok(())
}

/// A tool's message on one line, control characters replaced, bounded.
fn clean(s: &str) -> String {
    let one: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    one.chars().take(800).collect()
}

/// What /proc says of one process.
#[derive(Debug, Clone)]
struct Proc {
    pid: u32,
    ppid: u32,
    start: u64,
    ruid: u32,
    comm: String,
}

fn read_proc(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the command: state (field 3), ppid (4), …, starttime (22).
    if rest.first() == Some(&"Z") {
        return None;
    }
    let ppid = rest.get(1)?.parse().ok()?;
    let start = rest.get(19)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let ruid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(Proc {
        pid,
        ppid,
        start,
        ruid,
        comm,
    })
}

fn all_procs() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_proc)
        .collect()
}

/// Whether process `pid` runs `program` (its executable, or the script an interpreter runs).
fn runs(pid: u32, program: &Path) -> bool {
    if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == program) {
        return true;
    }
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        c.split(|b| *b == 0)
            .take(3)
            .any(|a| Path::new(std::ffi::OsStr::from_bytes(a)) == program)
    })
}

/// Ends the granted commands running under `uid`'s sudo, with everything they started:
/// SIGTERM, then SIGKILL after [`GRACE`]. Returns how many could not be ended.
fn end_commands(uid: u32, programs: &[String]) -> usize {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let programs: Vec<PathBuf> = programs
        .iter()
        .flat_map(|p| {
            let p = PathBuf::from(p);
            let real = std::fs::canonicalize(&p).ok();
            std::iter::once(p).chain(real)
        })
        .collect();
    let procs = all_procs();
    let fronts: BTreeSet<u32> = procs
        .iter()
        .filter(|p| p.comm == "sudo" && p.ruid == uid)
        .map(|p| p.pid)
        .collect();
    if fronts.is_empty() {
        return 0;
    }
    let parent = |pid: u32| procs.iter().find(|p| p.pid == pid).map(|p| p.ppid);
    let under_sudo = |p: &Proc| {
        let mut at = p.ppid;
        for _ in 0..4 {
            if fronts.contains(&at) {
                return true;
            }
            match parent(at) {
                Some(pp) if pp > 1 => at = pp,
                _ => return false,
            }
        }
        false
    };
    let mut targets: Vec<&Proc> = procs
        .iter()
        .filter(|p| p.comm != "sudo" && under_sudo(p))
        .filter(|p| programs.iter().any(|prog| runs(p.pid, prog)))
        .collect();
    if targets.is_empty() {
        return 0;
    }
    // And everything they started (a shell escape must not outlive the command).
    let mut i = 0;
    while i < targets.len() {
        let pid = targets[i].pid;
        for child in procs.iter().filter(|p| p.ppid == pid) {
            if !targets.iter().any(|t| t.pid == child.pid) {
                targets.push(child);
            }
        }
        i += 1;
    }
    let alive = |t: &Proc| read_proc(t.pid).is_some_and(|now| now.start == t.start);
    for t in &targets {
        tracing::info!(pid = t.pid, command = %t.comm, "ending a command started with a revoked sudo grant (SIGTERM)");
        let _ = kill(Pid::from_raw(t.pid.cast_signed()), Signal::SIGTERM);
    }
    let deadline = std::time::Instant::now() + GRACE;
    while std::time::Instant::now() < deadline && targets.iter().any(|t| alive(t)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for t in targets.iter().filter(|t| alive(t)) {
        tracing::warn!(pid = t.pid, "command ignored SIGTERM: killed");
        let _ = kill(Pid::from_raw(t.pid.cast_signed()), Signal::SIGKILL);
    }
    for _ in 0..25 {
        if !targets.iter().any(|t| alive(t)) {
            return 0;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    targets.iter().filter(|t| alive(t)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sudo(dir: &Path) -> Sudo {
        Sudo::new(
            "ops",
            &SudoSettings {
                commands: vec![
                    ("whoami".into(), "/usr/bin/id -u".into()),
                    ("reboot".into(), "/usr/sbin/reboot \"\"".into()),
                ],
                sudoers_dir: dir.to_path_buf(),
                run_as: "root".into(),
            },
            "0123456789abcdef",
        )
    }

    #[test]
    fn the_header_names_the_instance_integration_request_and_user() {
        let s = sudo(Path::new("/nonexistent"));
        let text = s.content(7, "alice", &["/usr/bin/id -u"], SystemTime::UNIX_EPOCH);
        let h = s.ours(&text).expect("ours");
        assert_eq!(h.request, 7);
        assert_eq!(h.user, "alice");
        assert!(
            text.contains("alice ALL=(root) NOTAFTER=19700101000000Z NOPASSWD: /usr/bin/id -u\n")
        );
        assert_eq!(programs(&text), vec!["/usr/bin/id".to_owned()]);
        let other = text.replace("0123456789abcdef", "fedcba9876543210");
        assert!(s.ours(&other).is_none(), "another jitd's file is not ours");
        assert!(s.ours("alice ALL=(ALL) ALL\n").is_none());
    }

    #[test]
    fn drop_in_names_are_files_sudo_reads_and_never_paths() {
        let s = sudo(Path::new("/nonexistent"));
        let p = s.principal_for("a.b", 12).expect("principal");
        assert_eq!(p, "jit-a_b-12-0123");
        assert!(safe_name(&p));
        assert!(!safe_name("jit-../x"));
        assert!(!safe_name("jit-a.b"));
        assert!(!safe_name("other"));
        assert!(!valid_user("%admins"));
        assert!(!valid_user("#0"));
        assert!(valid_user("a.b"));
    }

    #[test]
    fn extend_moves_every_notafter_and_nothing_else() {
        let s = sudo(Path::new("/nonexistent"));
        let text = s.content(
            3,
            "alice",
            &["/usr/bin/id -u", "/usr/sbin/reboot \"\""],
            SystemTime::UNIX_EPOCH,
        );
        let later = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400);
        let moved = with_not_after(&text, later);
        assert_eq!(moved, text.replace("19700101000000Z", "19700102000000Z"));
        assert_eq!(moved.matches("NOTAFTER=19700102000000Z").count(), 2);
    }

    #[test]
    fn includedir_lines_are_recognized() {
        let d = Path::new("/etc/sudoers.d");
        assert!(includes("@includedir /etc/sudoers.d\n", d));
        assert!(includes("#includedir /etc/sudoers.d/\n", d));
        assert!(!includes("# @includedir /etc/sudoers.d\n", d));
        assert!(!includes("@includedir /etc/sudoers.d2\n", d));
    }

    #[test]
    fn connect_runs_the_first_command_through_sudo_n() {
        let s = sudo(Path::new("/nonexistent"));
        let t = s
            .connect(
                ConnectKind::Terminal,
                &SessionView {
                    principal: "p",
                    resources: &["reboot".into()],
                    ..SessionView::default()
                },
            )
            .expect("terminal");
        assert_eq!(t.argv, ["sudo", "-n", "--", "/usr/sbin/reboot"]);
        let t = s
            .connect(
                ConnectKind::Terminal,
                &SessionView {
                    principal: "p",
                    resources: &["whoami".into()],
                    ..SessionView::default()
                },
            )
            .expect("terminal");
        assert_eq!(t.argv, ["sudo", "-n", "--", "/usr/bin/id", "-u"]);
    }

    /// The validator itself: a rule visudo rejects is never installed, and the directory is
    /// left as it was. (Needs `visudo`; the end-to-end test covers this through jitd.)
    #[tokio::test]
    async fn a_rule_visudo_rejects_never_lands() {
        assert!(
            Path::new("/usr/sbin/visudo").exists(),
            "visudo is not installed: install the sudo package (scripts/test does)"
        );
        let dir = std::env::temp_dir().join(format!("jit-sudo-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let s = sudo(&dir);
        let bad = s.content(1, "alice", &["/usr/bin/id ^"], SystemTime::UNIX_EPOCH);
        let e = s
            .install("jit-alice-1-0123", &bad)
            .await
            .expect_err("rejected");
        assert!(e.untouched, "{e}");
        assert!(e.message.contains("visudo rejected"), "{e}");
        let left: Vec<_> = std::fs::read_dir(&dir).expect("ls").collect();
        assert!(left.is_empty(), "nothing left behind: {left:?}");
        let good = s.content(1, "alice", &["/usr/bin/id -u"], SystemTime::UNIX_EPOCH);
        s.install("jit-alice-1-0123", &good)
            .await
            .expect("installed");
        assert_eq!(
            std::fs::read_to_string(dir.join("jit-alice-1-0123")).expect("read"),
            good
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
