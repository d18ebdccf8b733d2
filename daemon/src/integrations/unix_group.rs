//! The `unix-group` kind: temporary membership of local Unix groups, for the requester's
//! own account (jitd in system mode, as root). No secret: the access is the user's.
//!
//! Grant: `gpasswd -a <user> <group>` for each granted group; revoke: `gpasswd -d`. The
//! system's own tool edits `/etc/group` and `/etc/gshadow` under their locks, so jitd never
//! writes them itself. Tools run without a shell, with a clean environment (`LC_ALL=C`) and a
//! timeout; what they print on standard error is part of the error.
//!
//! **The ledger.** Group membership carries no mark, so jitd records every membership it
//! grants in a ledger file of its own: one line per (integration, principal, group) with the
//! user and whether jit made the membership (`owned`) or found it there already
//! (`preexisting`). The ledger gives
//! - reference counting: overlapping grants of one user and group each hold a line, and the
//!   membership is removed only when the last line goes;
//! - "never touch what jit did not make": a membership the user had before the first grant is
//!   never removed;
//! - orphans: `list_principals` returns the ledger's principals, so grants no open request
//!   owns (a store restored from a backup) are found and removed at start.
//!
//! The ledger lives in `<system state dir>/unix-group/<instance id>.ledger` (mode 0600 in a
//! 0700 directory; `/var/lib/jit/unix-group/`, or under `$STATE_DIRECTORY`), is rewritten
//! atomically (temp file, fsync, rename, fsync of the directory), and is deleted when it is
//! empty. A line is written *before* the membership is added and removed *after* it is gone,
//! so a crash at any point leaves a line that the redone grant or revoke (or the orphan check
//! at start) finishes. One lock per process serializes every ledger change with its
//! `gpasswd` runs.
//!
//! Live sessions: processes keep their supplementary groups until they exit (kernel
//! semantics). Processes `jit connect` launched are ended by the provisioner; this kind
//! offers no connect (`sg`/`newgrp` fork, and their child would outlive the tracked
//! parent), so at revoke it logs a warning naming the user's processes that still hold the
//! group.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use jit_api::RequestId;
use jit_config::UnixGroupSettings;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{
    AccessDetails, GrantSpec, Integration, IntegrationError, Issued, RevokeSpec, SecretSource,
    SessionView,
};

/// The group file `gpasswd` edits; memberships are read from it, not through NSS.
const GROUP_FILE: &str = "/etc/group";
/// How long one `gpasswd` run may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);
/// `PATH` for the tools.
const TOOL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The first line of a ledger.
const LEDGER_HEADER: &str =
    "# jitd unix-group ledger v1: integration principal user group owned|preexisting";
/// Groups whose membership is as good as root on a usual Linux host.
const ROOTISH: [&str; 8] = [
    "root", "sudo", "wheel", "disk", "docker", "lxd", "shadow", "adm",
];

/// Serializes every ledger change (and the `gpasswd` runs it records) in this process: two
/// integrations of this kind share one ledger.
static LEDGER_LOCK: Mutex<()> = Mutex::const_new(());

/// One line of the ledger: a membership one grant holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    integration: String,
    principal: String,
    user: String,
    group: String,
    /// True when jit added the membership (it is removed when the last grant holding it
    /// ends); false when the user was a member before the first grant (never removed).
    owned: bool,
}

/// Membership of local groups.
pub struct UnixGroup {
    name: String,
    groups: Vec<String>,
    ledger: PathBuf,
}

impl UnixGroup {
    /// Prepares the integration. `state_dir` is where the ledger directory goes. Unless this
    /// is the config check (`marker` = `check`), every listed group must exist in
    /// `/etc/group`: jitd refuses to start otherwise.
    pub fn new(
        name: &str,
        settings: &UnixGroupSettings,
        marker: &str,
        state_dir: &Path,
    ) -> Result<UnixGroup, IntegrationError> {
        // `jitd::check` (--check-config) builds with the marker "check": the config alone is
        // judged there, not the host.
        if marker != "check" {
            let text = std::fs::read_to_string(GROUP_FILE).map_err(|e| {
                IntegrationError::new(format!("integration {name}: cannot read {GROUP_FILE}: {e}"))
            })?;
            let missing: Vec<&str> = settings
                .groups
                .iter()
                .filter(|g| members(&text, g).is_none())
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(IntegrationError::new(format!(
                    "integration {name}: group(s) {} do not exist in {GROUP_FILE} (fix: create them with `groupadd NAME`, or remove them from `groups`; jit grants local groups only)",
                    missing.join(", ")
                )));
            }
        }
        Ok(UnixGroup {
            name: name.to_owned(),
            groups: settings.groups.clone(),
            ledger: state_dir
                .join("unix-group")
                .join(format!("{}.ledger", file_safe(marker))),
        })
    }

    fn err(&self, msg: impl std::fmt::Display) -> IntegrationError {
        IntegrationError::new(format!("{}: {msg}", self.name))
    }

    /// Reads the ledger; a missing file is an empty ledger.
    async fn load(&self) -> Result<Vec<Record>, IntegrationError> {
        let text = match tokio::fs::read_to_string(&self.ledger).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(self.err(format!(
                    "cannot read the ledger {}: {e}",
                    self.ledger.display()
                )));
            }
        };
        parse_ledger(&text).map_err(|line| {
            self.err(format!(
                "the ledger {} has a line jitd does not understand (line {line}); it lists the group memberships jit made: fix or remove that line",
                self.ledger.display()
            ))
        })
    }

    /// Replaces the ledger atomically; an empty ledger is deleted.
    async fn save(&self, records: &[Record]) -> Result<(), IntegrationError> {
        let what = |e: std::io::Error| {
            self.err(format!(
                "cannot write the ledger {}: {e}",
                self.ledger.display()
            ))
        };
        let dir = self
            .ledger
            .parent()
            .ok_or_else(|| self.err("the ledger has no directory"))?;
        if records.is_empty() {
            match tokio::fs::remove_file(&self.ledger).await {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(what(e)),
            }
            return sync_dir(dir).await.map_err(what);
        }
        tokio::fs::create_dir_all(dir).await.map_err(what)?;
        tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .await
            .map_err(what)?;
        let mut text = format!("{LEDGER_HEADER}\n");
        for r in records {
            text.push_str(&format!(
                "{} {} {} {} {}\n",
                r.integration,
                r.principal,
                r.user,
                r.group,
                if r.owned { "owned" } else { "preexisting" }
            ));
        }
        let tmp = self.ledger.with_extension("ledger.tmp");
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .await
            .map_err(what)?;
        f.write_all(text.as_bytes()).await.map_err(what)?;
        f.sync_all().await.map_err(what)?;
        drop(f);
        tokio::fs::rename(&tmp, &self.ledger).await.map_err(what)?;
        sync_dir(dir).await.map_err(what)
    }

    /// Runs `gpasswd FLAG USER GROUP`; on failure, says what it printed.
    async fn gpasswd(&self, flag: &str, user: &str, group: &str) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new("gpasswd");
        cmd.arg(flag)
            .arg(user)
            .arg(group)
            .env_clear()
            .env("PATH", TOOL_PATH)
            .env("LC_ALL", "C")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = match tokio::time::timeout(TOOL_TIMEOUT, cmd.output()).await {
            Err(_) => return Err(format!("gpasswd did not finish within {TOOL_TIMEOUT:?}")),
            Ok(Err(e)) if e.kind() == ErrorKind::NotFound => {
                return Err("gpasswd is not installed (fix: install the passwd package)".into());
            }
            Ok(Err(e)) => return Err(format!("cannot run gpasswd: {e}")),
            Ok(Ok(out)) => out,
        };
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "gpasswd {flag} failed ({}): {}",
            out.status,
            clean(&String::from_utf8_lossy(&out.stderr))
        ))
    }

    /// Warns about `user`'s processes that still carry `group` (they keep it until they exit).
    fn warn_holders(&self, user: &str, group: &str, gid: Option<u32>) {
        let (Some(gid), Ok(Some(pw))) = (gid, nix::unistd::User::from_name(user)) else {
            return;
        };
        let pids = holders(pw.uid.as_raw(), gid);
        if !pids.is_empty() {
            let shown: Vec<String> = pids.iter().take(10).map(u32::to_string).collect();
            tracing::warn!(
                integration = %self.name,
                user,
                group,
                count = pids.len(),
                pids = %shown.join(","),
                "membership removed, but processes started while it lasted keep the group until they exit"
            );
        }
    }
}

#[async_trait]
impl Integration for UnixGroup {
    fn kind(&self) -> &'static str {
        "unix-group"
    }

    fn principal_for(&self, requester: &str, request: RequestId) -> Option<String> {
        // The requester's own account; the request number makes each grant's hold on it
        // distinct, so orphans can be told from live grants.
        Some(format!("{requester}#{request}"))
    }

    fn secret_source(&self) -> SecretSource {
        SecretSource::None
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<Issued, IntegrationError> {
        let principal = spec
            .principal
            .as_deref()
            .ok_or_else(|| self.err("no principal").untouched())?;
        let user = spec.requester.as_str();
        if !valid_user(user) {
            return Err(self
                .err(format!(
                    "user name {user:?} cannot be given a group by jit (it allows letters, digits, `_`, `.`, `-`)"
                ))
                .untouched());
        }
        match nix::unistd::User::from_name(user) {
            Ok(Some(_)) => {}
            _ => {
                return Err(self
                    .err(format!("user {user} does not exist on this host"))
                    .untouched());
            }
        }
        let groups: BTreeSet<&str> = spec
            .entries
            .iter()
            .flat_map(|e| e.resources.iter().map(String::as_str))
            .collect();
        if let Some(g) = groups.iter().find(|g| !self.groups.iter().any(|x| x == *g)) {
            return Err(self
                .err(format!(
                    "group {g} is not one of this integration's groups ({})",
                    self.groups.join(", ")
                ))
                .untouched());
        }
        let text = read_groups().await.map_err(|e| self.err(e).untouched())?;
        if let Some(g) = groups.iter().find(|g| members(&text, g).is_none()) {
            return Err(self
                .err(format!(
                    "group {g} does not exist in {GROUP_FILE} (fix: create it with `groupadd {g}`)"
                ))
                .untouched());
        }

        let _guard = LEDGER_LOCK.lock().await;
        // First the ledger (durable), then the membership: a crash in between leaves a line
        // that the redone grant, the revoke or the orphan check finishes.
        let mut ledger = self.load().await.map_err(IntegrationError::untouched)?;
        let mut changed = false;
        for g in &groups {
            if ledger
                .iter()
                .any(|r| r.integration == self.name && r.principal == principal && r.group == *g)
            {
                continue;
            }
            // Every line of one user and group says the same about whose the membership is:
            // another grant's line decides, unless the membership is gone (removed by hand),
            // in which case jit adds it now and it is jit's for all of them. With no other
            // line, it is jit's unless the user is a member already.
            let member = is_member(&text, user, g);
            let owned = match ledger.iter().find(|r| r.user == user && r.group == *g) {
                Some(r) => r.owned || !member,
                None => !member,
            };
            for r in ledger
                .iter_mut()
                .filter(|r| r.user == user && r.group == *g)
            {
                r.owned = owned;
            }
            ledger.push(Record {
                integration: self.name.clone(),
                principal: principal.to_owned(),
                user: user.to_owned(),
                group: (*g).to_owned(),
                owned,
            });
            changed = true;
        }
        if changed {
            self.save(&ledger)
                .await
                .map_err(IntegrationError::untouched)?;
        }
        let mine: Vec<&Record> = ledger
            .iter()
            .filter(|r| r.integration == self.name && r.principal == principal && r.owned)
            .collect();
        for r in &mine {
            if !is_member(&text, user, &r.group) {
                self.gpasswd("-a", user, &r.group).await.map_err(|e| {
                    self.err(format!("cannot add {user} to group {}: {e}", r.group))
                })?;
            }
        }
        // Trust, but check: the group file must now list the user in every group.
        let text = read_groups().await.map_err(|e| self.err(e))?;
        if let Some(g) = groups.iter().find(|g| !is_member(&text, user, g)) {
            return Err(self.err(format!(
                "{user} is not listed in group {g} in {GROUP_FILE} after gpasswd ran (is the group managed elsewhere, e.g. by a directory service?)"
            )));
        }
        tracing::debug!(integration = %self.name, user, groups = ?groups, "group membership granted");
        Ok(Issued::default())
    }

    async fn revoke(&self, spec: &RevokeSpec) -> Result<(), IntegrationError> {
        let Some(principal) = spec.principal.as_deref() else {
            return Ok(());
        };
        let _guard = LEDGER_LOCK.lock().await;
        let mut ledger = self.load().await?;
        let mine: Vec<Record> = ledger
            .iter()
            .filter(|r| r.integration == self.name && r.principal == principal)
            .cloned()
            .collect();
        if mine.is_empty() {
            // Never granted, or already revoked: nothing of this grant is left.
            return Ok(());
        }
        let mut removed = Vec::new();
        for r in &mine {
            let held_by: Vec<&str> = ledger
                .iter()
                .filter(|o| {
                    !(o.integration == self.name && o.principal == principal)
                        && o.user == r.user
                        && o.group == r.group
                })
                .map(|o| o.principal.as_str())
                .collect();
            if !r.owned {
                tracing::debug!(integration = %self.name, user = %r.user, group = %r.group, "membership predates jit: left alone");
                continue;
            }
            if !held_by.is_empty() {
                tracing::info!(integration = %self.name, user = %r.user, group = %r.group, held_by = %held_by.join(","), "membership kept: another grant holds it");
                continue;
            }
            let text = read_groups().await.map_err(|e| self.err(e))?;
            if !is_member(&text, &r.user, &r.group) {
                continue;
            }
            if let Err(e) = self.gpasswd("-d", &r.user, &r.group).await {
                // Gone anyway (removed by hand, or the group was deleted): that is success.
                let text = read_groups().await.map_err(|e| self.err(e))?;
                if is_member(&text, &r.user, &r.group) {
                    return Err(self.err(format!(
                        "cannot remove {} from group {}: {e}",
                        r.user, r.group
                    )));
                }
            }
            removed.push((r.user.clone(), r.group.clone(), gid_of(&text, &r.group)));
        }
        ledger.retain(|r| !(r.integration == self.name && r.principal == principal));
        self.save(&ledger).await?;
        for (user, group, gid) in removed {
            self.warn_holders(&user, &group, gid);
        }
        Ok(())
    }

    async fn preflight(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !nix::unistd::geteuid().is_root() {
            out.push("jitd is not running as root: it cannot change group membership (the unix-group kind needs system mode)".to_owned());
        }
        if !TOOL_PATH
            .split(':')
            .any(|d| Path::new(d).join("gpasswd").is_file())
        {
            out.push("gpasswd is not installed: every grant and revoke will fail (fix: install the passwd package)".to_owned());
        }
        for g in self.groups.iter().filter(|g| ROOTISH.contains(&g.as_str())) {
            out.push(format!(
                "group {g} is as good as root on most hosts: granting it grants that"
            ));
        }
        out
    }

    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError> {
        let _guard = LEDGER_LOCK.lock().await;
        let ledger = self.load().await?;
        let set: BTreeSet<String> = ledger
            .into_iter()
            .filter(|r| r.integration == self.name)
            .map(|r| r.principal)
            .collect();
        Ok(set.into_iter().collect())
    }

    fn access_details(&self, session: &SessionView<'_>) -> AccessDetails {
        let principal = session.principal;
        let resources = session.resources;
        let user = principal.split('#').next().unwrap_or(principal);
        let groups = resources.join(", ");
        let first = resources.first().map_or("GROUP", String::as_str);
        AccessDetails {
            host: None,
            port: None,
            instructions: format!(
                "Your account {user} is a member of {groups} while the access lasts. Processes started before the grant do not have it: log in again, or use `newgrp {first}` (a new shell) or `sg {first} -c 'COMMAND'`. `id -nG` lists your groups. When the access ends the membership is removed; processes started with it keep the group until they exit."
            ),
            example: Some(format!("sg {first} -c 'id -nG'")),
            ..AccessDetails::default()
        }
    }
}

/// Parses a ledger; on error, the number of the line that does not parse.
fn parse_ledger(text: &str) -> Result<Vec<Record>, usize> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let [integration, principal, user, group, owned] = f.as_slice() else {
            return Err(i + 1);
        };
        let owned = match *owned {
            "owned" => true,
            "preexisting" => false,
            _ => return Err(i + 1),
        };
        if !valid_user(user) {
            return Err(i + 1);
        }
        out.push(Record {
            integration: (*integration).to_owned(),
            principal: (*principal).to_owned(),
            user: (*user).to_owned(),
            group: (*group).to_owned(),
            owned,
        });
    }
    Ok(out)
}

/// A user name jit passes to the tools: 1 to 32 of `A-Za-z0-9_.-`, not starting with `-` or
/// `.`, optionally ending in `$` (machine accounts). Never an option, never white space.
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

/// The ledger's file name part for an instance id (hex in practice).
fn file_safe(marker: &str) -> String {
    marker
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

async fn read_groups() -> Result<String, String> {
    tokio::fs::read_to_string(GROUP_FILE)
        .await
        .map_err(|e| format!("cannot read {GROUP_FILE}: {e}"))
}

/// The member list of `group` in a group file's text, or `None` when it has no such group.
fn members<'a>(text: &'a str, group: &str) -> Option<Vec<&'a str>> {
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        (f.next() == Some(group)).then(|| {
            f.nth(2)
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .collect()
        })
    })
}

fn is_member(text: &str, user: &str, group: &str) -> bool {
    members(text, group).is_some_and(|m| m.contains(&user))
}

fn gid_of(text: &str, group: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        if f.next() != Some(group) {
            return None;
        }
        f.nth(1)?.parse().ok()
    })
}

/// Processes whose real uid is `uid` and that carry `gid` (as a supplementary group or as
/// their real group, which `newgrp`/`sg` set).
fn holders(uid: u32, gid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let first = |name: &str| {
            field(name)
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u32>().ok())
        };
        if field("State:").is_some_and(|s| s.starts_with('Z')) || first("Uid:") != Some(uid) {
            continue;
        }
        let in_groups = field("Groups:").is_some_and(|g| {
            g.split_whitespace()
                .any(|x| x.parse::<u32>().ok() == Some(gid))
        });
        if in_groups || first("Gid:") == Some(gid) {
            out.push(pid);
        }
    }
    out
}

/// A tool's message on one line, control characters replaced, bounded.
fn clean(s: &str) -> String {
    let one: String = s
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    one.chars().take(500).collect()
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    tokio::fs::File::open(dir).await?.sync_all().await
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &str = "root:x:0:\ndeploy:x:1001:bob,alice\nempty:x:1002:\nodd:x:1003\n";

    #[test]
    fn reads_members_from_the_group_file() {
        assert_eq!(members(GROUPS, "deploy"), Some(vec!["bob", "alice"]));
        assert_eq!(members(GROUPS, "empty"), Some(vec![]));
        assert_eq!(members(GROUPS, "odd"), Some(vec![]));
        assert_eq!(members(GROUPS, "nope"), None);
        assert_eq!(members(GROUPS, "deplo"), None);
        assert!(is_member(GROUPS, "alice", "deploy"));
        assert!(!is_member(GROUPS, "ali", "deploy"));
        assert_eq!(gid_of(GROUPS, "deploy"), Some(1001));
    }

    #[test]
    fn the_ledger_round_trips_and_refuses_what_it_does_not_understand() {
        let text = format!(
            "{LEDGER_HEADER}\ngroups alice#3 alice deploy owned\ngroups bob#4 bob deploy preexisting\n"
        );
        let recs = parse_ledger(&text).expect("parses");
        assert_eq!(recs.len(), 2);
        assert!(recs[0].owned && !recs[1].owned);
        assert_eq!(recs[1].principal, "bob#4");
        assert_eq!(parse_ledger("groups alice#3 alice deploy\n"), Err(1));
        assert_eq!(parse_ledger("\ngroups a#3 a deploy maybe\n"), Err(2));
        assert_eq!(parse_ledger("groups -x#3 -x deploy owned\n"), Err(1));
    }

    #[test]
    fn user_names_are_never_options() {
        assert!(valid_user("alice"));
        assert!(valid_user("a.b-c_d"));
        assert!(valid_user("host$"));
        assert!(!valid_user("-alice"));
        assert!(!valid_user(".x"));
        assert!(!valid_user("a b"));
        assert!(!valid_user("a:b"));
        assert!(!valid_user(""));
        assert!(!valid_user(&"a".repeat(33)));
    }
}
