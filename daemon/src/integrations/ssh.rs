//! The `ssh` kind: short-lived OpenSSH user certificates signed by a CA key jitd holds.
//!
//! **Grant**: a fresh key pair (ed25519, or ecdsa P-256) and a user certificate for it, signed
//! by the CA, whose principals are the granted logins and whose validity ends exactly when the
//! grant ends (it starts a minute early, for clocks a little behind). sshd trusts the CA
//! (`TrustedUserCAKeys`), so the certificate's own validity ends the access even when jitd is
//! down. The private key is the session's secret: returned from the grant and sealed by the
//! engine, never written anywhere by this module. The certificate (not secret) is the
//! session's material. Its key id names the integration, the request and the requester, so
//! sshd's log (`Accepted publickey … ID …`) says which grant logged in.
//!
//! **Revoke** adds the serials of every certificate the grant was given to the key revocation
//! list (KRL) that sshd reads (`RevokedKeys`): `ssh-keygen -k -u` updates a copy, which then
//! replaces the file atomically (rename). Only public data reaches ssh-keygen: the CA's public
//! key and serial numbers. The processes `jit connect` launched end as for every kind; an SSH
//! connection does not notice a KRL change, so that is what ends live sessions.
//!
//! **The ledger.** Every certificate is recorded *before* it is signed, in
//! `<state dir>/ssh/<integration>/issued` (serial, grant principal, end of validity, logins,
//! key id, public key), and its line becomes a `revoked` line (serial, end of validity) only
//! once its serial is in the KRL; that stays until a day after the certificate's end, so a
//! KRL that is lost or unreadable is rebuilt with it (an empty one would bring revoked
//! certificates back), with an error in the log. So a
//! crash at any point leaves a line that the redone grant, the revoke or the orphan check at
//! start (`list_principals`) finishes: a redone grant revokes the certificates of the first
//! attempt (their private keys died with the process) before it issues a new one.
//!
//! **Reset** issues a new key pair and certificate for the same window and logins, then
//! revokes the old ones. **Extend** signs a new certificate for the same public key with the
//! new end (a certificate's validity cannot change); the session's material holds the newest,
//! which `jit connect` uses and `jit show` shows. The old one stays valid until its own,
//! earlier end.
//!
//! The CA key is created (ed25519, mode 0600) on first start unless the config names one;
//! its public key is written to `<state dir>/ssh/<integration>/ca.pub` for `sshd_config`.

use std::collections::BTreeSet;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use jit_api::{ConnectKind, RequestId, SecretKind};
use jit_config::SshSettings;
use ssh_key::certificate::{Builder, CertType};
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, EcdsaCurve, HashAlg, LineEnding, PrivateKey, PublicKey};
use tokio::sync::Mutex;

use super::{
    AccessDetails, ConnectTarget, GrantSpec, Integration, IntegrationError, Issued, Material,
    PublicFile, RevokeSpec, SecretSource, SessionSecret, SessionView, fill_template,
};

/// How long `ssh-keygen` may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);
/// `PATH` for `ssh-keygen`.
const TOOL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Certificates start this much before they are issued: a server whose clock is a little
/// behind must not refuse a fresh certificate. They end exactly when the grant ends.
const CLOCK_SLACK: Duration = Duration::from_secs(60);
/// The first line of a ledger. v1 had no `revoked` lines; it reads as v2.
const LEDGER_HEADER: &str = "# jitd ssh ledger v2: serial principal valid_before logins key_id key_type key | revoked serial valid_before";
/// A revoked certificate stays in the ledger this long after its own end (for servers whose
/// clock is behind), so that a lost KRL can be rebuilt with it.
const REVOKED_KEPT: u64 = 24 * 3600;
/// Principals of this kind start with this (as `exec`'s do).
const PRINCIPAL_PREFIX: &str = "jit_";
/// The extensions every certificate carries: a terminal, nothing else (no forwarding).
const EXTENSIONS: [&str; 1] = ["permit-pty"];

/// The `ssh` options that take an argument (OpenSSH's getopt string, letters with `:`).
const SSH_OPTIONS_WITH_ARG: &str = "bceilmopBDEFIJLOPQRSwW";
/// `-o` keywords (lower case) that let an ssh outlive the process `jit connect` registers:
/// a connection master that stays behind, or a fork into the background.
const ESCAPING_KEYWORDS: [&str; 4] = [
    "controlmaster",
    "controlpath",
    "controlpersist",
    "forkafterauthentication",
];

/// Serializes KRL updates in this process: several integrations may share one KRL file.
static KRL_LOCK: Mutex<()> = Mutex::const_new(());

/// What the ledger holds: the certificates jit issued that are not revoked yet, and those it
/// revoked whose own validity has not passed (what a KRL must list; see [`REVOKED_KEPT`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Ledger {
    live: Vec<Record>,
    /// (serial, valid_before) of revoked certificates.
    revoked: Vec<(u64, u64)>,
}

impl Ledger {
    /// Moves the live records `which` picks to the revoked ones (once the KRL has them).
    fn retire(&mut self, which: impl Fn(&Record) -> bool) {
        let (gone, kept): (Vec<Record>, Vec<Record>) =
            std::mem::take(&mut self.live).into_iter().partition(which);
        self.live = kept;
        for r in gone {
            if !self.revoked.iter().any(|(s, _)| *s == r.serial) {
                self.revoked.push((r.serial, r.valid_before));
            }
        }
    }

    /// Forgets revoked certificates that ended more than [`REVOKED_KEPT`] ago.
    fn prune(&mut self, now: u64) {
        self.revoked
            .retain(|(_, before)| before.saturating_add(REVOKED_KEPT) > now);
    }

    /// The serials a KRL must list: every revoked certificate still kept.
    fn revoked_serials(&self) -> Vec<u64> {
        self.revoked.iter().map(|(s, _)| *s).collect()
    }
}

/// One line of the ledger: a certificate jit issued whose serial is not in the KRL yet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    serial: u64,
    principal: String,
    valid_before: u64,
    logins: Vec<String>,
    key_id: String,
    /// The certified public key, `<type> <base64>` as in `authorized_keys`.
    public_key: String,
}

/// SSH certificates signed by jitd's CA.
pub struct Ssh {
    name: String,
    logins: Vec<String>,
    client_host: String,
    client_port: u16,
    key_type: Algorithm,
    krl: PathBuf,
    /// `<state dir>/ssh/<integration>`: the ledger, the CA's public key, temp files.
    dir: PathBuf,
    /// The CA; `None` in `--check-config`, which touches no file.
    ca: Option<PrivateKey>,
    tag: String,
    /// Serializes this integration's ledger changes with the signing they record.
    lock: Mutex<()>,
}

/// Refuses a KRL in a directory another user may write, or under one: jitd (root) writes a
/// temp file next to the KRL and renames it over it, so whoever else may write there could
/// swap either for a symlink and have root write through it, or put back an older KRL; and
/// whoever may write a directory above it could move the KRL's directory away and put one of
/// their own in its place. Every directory from `/` down (as written and as resolved) must
/// belong to root or jitd's user and be writable by no one else — above the KRL's own
/// directory, a root-owned sticky one (`/tmp`) is fine: nobody else may rename what is in it.
fn krl_dir_is_private(krl: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let dir = match krl.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let resolved = std::fs::canonicalize(&dir).map_err(|e| {
        format!(
            "cannot read the KRL's directory {}: {e} (fix: create it, owned by root, mode 0755)",
            dir.display()
        )
    })?;
    let me = nix::unistd::geteuid().as_raw();
    for chain in [dir.as_path(), resolved.as_path()] {
        for (depth, d) in chain.ancestors().enumerate() {
            if d.as_os_str().is_empty() {
                continue;
            }
            let meta =
                std::fs::metadata(d).map_err(|e| format!("cannot read {}: {e}", d.display()))?;
            let (uid, mode) = (meta.uid(), meta.mode());
            let what = if depth == 0 {
                "the KRL's directory".to_owned()
            } else {
                format!("{}, a directory above the KRL,", d.display())
            };
            let shown = if depth == 0 {
                format!("{what} {}", d.display())
            } else {
                what
            };
            if uid != 0 && uid != me {
                return Err(format!(
                    "{shown} belongs to uid {uid}: that user could replace the KRL (fix: put the KRL in a directory only root writes, like /etc/ssh)"
                ));
            }
            let sticky_above = depth > 0 && uid == 0 && mode & 0o1000 != 0;
            if mode & 0o022 != 0 && !sticky_above {
                return Err(format!(
                    "{shown} is writable by other users (mode {:04o}): they could replace the KRL or the file jitd writes next to it (fix: chmod go-w {}, or put the KRL in a directory only root writes, like /etc/ssh)",
                    mode & 0o7777,
                    d.display()
                ));
            }
        }
    }
    Ok(())
}

impl Ssh {
    /// Prepares the integration: loads the CA key (creating it, 0600, when missing), writes
    /// its public key beside the ledger, and checks the KRL against the ledger ([`Ssh::check_krl`]:
    /// sshd refuses every key while the file it names in `RevokedKeys` is missing). With the
    /// marker `check` (`--check-config`) nothing is read or written.
    pub fn new(
        name: &str,
        settings: &SshSettings,
        marker: &str,
        state_dir: &Path,
    ) -> Result<Ssh, IntegrationError> {
        let err = |msg: String| IntegrationError::new(format!("integration {name}: {msg}"));
        let key_type = match settings.key_type.as_str() {
            "ed25519" => Algorithm::Ed25519,
            "ecdsa" => Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
            other => {
                return Err(err(format!(
                    "key_type {other} is not one jit generates (fix: \"ed25519\" or \"ecdsa\")"
                )));
            }
        };
        let dir = state_dir.join("ssh").join(name);
        let mut ssh = Ssh {
            name: name.to_owned(),
            logins: settings.principals.clone(),
            client_host: settings.client_host.clone(),
            client_port: settings.client_port,
            key_type,
            krl: settings.krl.clone(),
            dir,
            ca: None,
            tag: tag(marker),
            lock: Mutex::new(()),
        };
        // Read-only, so `--check-config` finds it too.
        krl_dir_is_private(&ssh.krl).map_err(err)?;
        if marker == "check" {
            return Ok(ssh);
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&ssh.dir)
            .map_err(|e| err(format!("cannot create {}: {e}", ssh.dir.display())))?;
        let ca_path = settings
            .ca_key
            .clone()
            .unwrap_or_else(|| ssh.dir.join("ca"));
        let ca = load_or_create_ca(&ca_path, name).map_err(err)?;
        let public = ca
            .public_key()
            .to_openssh()
            .map_err(|e| err(format!("cannot encode the CA's public key: {e}")))?;
        write_if_changed(&ssh.ca_pub(), &format!("{public}\n"), 0o644).map_err(|e| {
            err(format!(
                "cannot write the CA's public key {}: {e}",
                ssh.ca_pub().display()
            ))
        })?;
        tracing::info!(
            integration = name,
            ca_key = %ca_path.display(),
            public_key = %ssh.ca_pub().display(),
            fingerprint = %ca.fingerprint(HashAlg::Sha256),
            "ssh: sshd must trust this CA (TrustedUserCAKeys) and read the KRL (RevokedKeys)"
        );
        ssh.ca = Some(ca);
        ssh.check_krl().map_err(err)?;
        Ok(ssh)
    }

    fn err(&self, msg: impl std::fmt::Display) -> IntegrationError {
        IntegrationError::new(format!("{}: {msg}", self.name))
    }

    fn ca(&self) -> Result<&PrivateKey, IntegrationError> {
        self.ca
            .as_ref()
            .ok_or_else(|| self.err("the CA key is not loaded"))
    }

    fn ca_pub(&self) -> PathBuf {
        self.dir.join("ca.pub")
    }

    fn ledger(&self) -> PathBuf {
        self.dir.join("issued")
    }

    /// The temp file next to the KRL that replaces it (same directory: rename is atomic).
    fn krl_tmp(&self) -> PathBuf {
        let base = self
            .krl
            .file_name()
            .map_or_else(|| "krl".into(), |n| n.to_string_lossy().into_owned());
        self.krl.with_file_name(format!(".{base}.jitd-tmp"))
    }

    /// At start: makes sure the KRL exists, can be read, and lists every certificate the
    /// ledger says was revoked and has not ended. A KRL that is missing (with a ledger
    /// behind it), unreadable or short of those is rebuilt or completed, and that is logged
    /// as an error: until then sshd accepted revoked certificates (or, missing, refused all).
    fn check_krl(&self) -> Result<(), String> {
        let ledger_path = self.ledger();
        let ledger = match std::fs::read_to_string(&ledger_path) {
            Ok(text) => parse_ledger(&text).map_err(|line| {
                format!(
                    "the ledger {} has a line jitd does not understand (line {line}): fix or remove that line",
                    ledger_path.display()
                )
            })?,
            Err(e) if e.kind() == ErrorKind::NotFound => Ledger::default(),
            Err(e) => return Err(format!("cannot read the ledger {}: {e}", ledger_path.display())),
        };
        let mut ledger = ledger;
        ledger.prune(unix_secs(SystemTime::now()));
        let revoked = ledger.revoked_serials();
        let known = !ledger.live.is_empty() || !ledger.revoked.is_empty();
        let listed = if self.krl.exists() {
            Some(self.listed_serials_sync(&self.krl))
        } else {
            None
        };
        match listed {
            None => {
                if known {
                    tracing::error!(integration = %self.name, krl = %self.krl.display(), revoked = revoked.len(), "ssh: the KRL is missing: rebuilding it from the ledger's revoked certificates");
                }
                self.write_krl_sync(&revoked, false)
            }
            Some(Err(e)) => {
                tracing::error!(integration = %self.name, krl = %self.krl.display(), error = %e, revoked = revoked.len(), "ssh: the KRL cannot be read: replacing it with one rebuilt from the ledger's revoked certificates");
                self.write_krl_sync(&revoked, false)
            }
            Some(Ok(ranges)) => {
                let missing: Vec<u64> = revoked
                    .into_iter()
                    .filter(|s| !ranges.iter().any(|(lo, hi)| lo <= s && s <= hi))
                    .collect();
                if missing.is_empty() {
                    return Ok(());
                }
                tracing::error!(integration = %self.name, krl = %self.krl.display(), serials = ?missing, "ssh: the KRL lacks certificates jit revoked (replaced by an older copy?): adding them");
                self.write_krl_sync(&missing, true)
            }
        }
    }

    /// Writes a KRL listing `serials` (or, with `update`, adds them to the current one) at
    /// start, through a temp file renamed over it.
    fn write_krl_sync(&self, serials: &[u64], update: bool) -> Result<(), String> {
        let tmp = self.krl_tmp();
        let spec = self.dir.join("krl-spec");
        let text: String = serials.iter().map(|s| format!("serial: {s}\n")).collect();
        write_file(&spec, &text, 0o600)
            .map_err(|e| format!("cannot write {}: {e}", spec.display()))?;
        let _ = std::fs::remove_file(&tmp);
        if update {
            std::fs::copy(&self.krl, &tmp)
                .map_err(|e| format!("cannot copy the KRL {}: {e}", self.krl.display()))?;
        }
        let mut cmd = std::process::Command::new("ssh-keygen");
        cmd.arg("-q").arg("-k");
        if update {
            cmd.arg("-u");
        }
        let out = cmd
            .arg("-s")
            .arg(self.ca_pub())
            .arg("-f")
            .arg(&tmp)
            .arg(&spec)
            .env_clear()
            .env("PATH", TOOL_PATH)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                format!(
                    "cannot run ssh-keygen to write the KRL {}: {e} (fix: install openssh-client)",
                    self.krl.display()
                )
            });
        let _ = std::fs::remove_file(&spec);
        let out = out?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!(
                "cannot write the KRL {}: ssh-keygen: {} (fix: create its directory, writable by jitd)",
                self.krl.display(),
                clean(&String::from_utf8_lossy(&out.stderr))
            ));
        }
        // Public data: readable by all, like sshd's other files.
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
            .and_then(|()| install(&tmp, &self.krl))
            .map_err(|e| format!("cannot write the KRL {}: {e}", self.krl.display()))?;
        tracing::info!(integration = %self.name, krl = %self.krl.display(), serials = serials.len(), "ssh: wrote the KRL");
        Ok(())
    }

    /// [`listed_serials`](Self::listed_serials), at start.
    fn listed_serials_sync(&self, krl: &Path) -> Result<Vec<(u64, u64)>, String> {
        let out = std::process::Command::new("ssh-keygen")
            .args(["-Q", "-l", "-f"])
            .arg(krl)
            .env_clear()
            .env("PATH", TOOL_PATH)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run ssh-keygen: {e}"))?;
        if !out.status.success() {
            return Err(clean(&String::from_utf8_lossy(&out.stderr)));
        }
        let fingerprint = self
            .ca()
            .map_err(|e| e.message)?
            .fingerprint(HashAlg::Sha256)
            .to_string();
        Ok(krl_serials(
            &String::from_utf8_lossy(&out.stdout),
            &fingerprint,
        ))
    }

    /// Adds `serials` (certificates of this CA) to the KRL: a copy is updated with
    /// `ssh-keygen -k -u`, checked, and renamed over the KRL. Idempotent.
    ///
    /// A KRL that is missing or cannot be read is rebuilt with every revoked certificate of
    /// `ledger` that has not ended, and that is logged as an error.
    async fn revoke_serials(
        &self,
        serials: &[u64],
        ledger: &Ledger,
    ) -> Result<(), IntegrationError> {
        if serials.is_empty() {
            return Ok(());
        }
        let _guard = KRL_LOCK.lock().await;
        let what = |e: &dyn std::fmt::Display| {
            self.err(format!("cannot update the KRL {}: {e}", self.krl.display()))
        };
        let tmp = self.krl_tmp();
        let _ = tokio::fs::remove_file(&tmp).await;
        let broken = match tokio::fs::metadata(&self.krl).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Some("missing".to_owned()),
            Err(e) => return Err(what(&e)),
            Ok(_) => self.listed_serials(&self.krl).await.err(),
        };
        let mut all: Vec<u64> = serials.to_vec();
        let update = match broken {
            None => {
                tokio::fs::copy(&self.krl, &tmp)
                    .await
                    .map_err(|e| what(&e))?;
                true
            }
            Some(why) => {
                // Rebuilt, not started empty: that would bring revoked certificates back.
                let mut pruned = ledger.clone();
                pruned.prune(unix_secs(SystemTime::now()));
                for s in pruned.revoked_serials() {
                    if !all.contains(&s) {
                        all.push(s);
                    }
                }
                tracing::error!(integration = %self.name, krl = %self.krl.display(), why = %why, serials = all.len(), "ssh: the KRL is missing or unreadable: rebuilding it from the ledger's revoked certificates");
                false
            }
        };
        let spec = self.dir.join("krl-spec");
        let text: String = all.iter().map(|s| format!("serial: {s}\n")).collect();
        write_file(&spec, &text, 0o600).map_err(|e| what(&e))?;
        let mut args: Vec<&std::ffi::OsStr> = vec!["-q".as_ref(), "-k".as_ref()];
        if update {
            args.push("-u".as_ref());
        }
        let ca_pub = self.ca_pub();
        args.extend([
            "-s".as_ref(),
            ca_pub.as_os_str(),
            "-f".as_ref(),
            tmp.as_os_str(),
            spec.as_os_str(),
        ]);
        let result = ssh_keygen(&args).await;
        let _ = tokio::fs::remove_file(&spec).await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(what(&e));
        }
        // Trust, but check: the new list must name every serial before it replaces the old.
        let listed = self.listed_serials(&tmp).await;
        let missing: Vec<u64> = match &listed {
            Ok(ranges) => all
                .iter()
                .copied()
                .filter(|s| !ranges.iter().any(|(lo, hi)| lo <= s && s <= hi))
                .collect(),
            Err(_) => all.clone(),
        };
        if !missing.is_empty() {
            let _ = tokio::fs::remove_file(&tmp).await;
            let why = listed
                .err()
                .unwrap_or_else(|| format!("serials {missing:?} are not in it"));
            return Err(what(&format!(
                "ssh-keygen made a list jitd cannot confirm: {why}"
            )));
        }
        let (tmp2, krl) = (tmp.clone(), self.krl.clone());
        tokio::task::spawn_blocking(move || {
            std::fs::set_permissions(&tmp2, std::fs::Permissions::from_mode(0o644))?;
            install(&tmp2, &krl)
        })
        .await
        .map_err(|e| what(&e))?
        .map_err(|e| what(&e))?;
        tracing::info!(integration = %self.name, krl = %self.krl.display(), serials = ?serials, "ssh: certificates revoked in the KRL");
        Ok(())
    }

    /// The serial ranges a KRL revokes for this integration's CA (`ssh-keygen -Q -l`).
    async fn listed_serials(&self, krl: &Path) -> Result<Vec<(u64, u64)>, String> {
        let out =
            ssh_keygen(&["-Q".as_ref(), "-l".as_ref(), "-f".as_ref(), krl.as_os_str()]).await?;
        let fingerprint = self
            .ca()
            .map_err(|e| e.message)?
            .fingerprint(HashAlg::Sha256)
            .to_string();
        Ok(krl_serials(&out, &fingerprint))
    }

    /// Reads the ledger; a missing file is an empty ledger.
    async fn load(&self) -> Result<Ledger, IntegrationError> {
        let path = self.ledger();
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Ledger::default()),
            Err(e) => {
                return Err(self.err(format!("cannot read the ledger {}: {e}", path.display())));
            }
        };
        parse_ledger(&text).map_err(|line| {
            self.err(format!(
                "the ledger {} has a line jitd does not understand (line {line}); it lists the certificates jit issued, and those it revoked that have not ended: fix or remove that line",
                path.display()
            ))
        })
    }

    /// Replaces the ledger atomically (temp file, fsync, rename, fsync of the directory),
    /// without the revoked certificates that ended long enough ago.
    async fn save(&self, ledger: &Ledger) -> Result<(), IntegrationError> {
        let path = self.ledger();
        let mut ledger = ledger.clone();
        ledger.prune(unix_secs(SystemTime::now()));
        let mut text = format!("{LEDGER_HEADER}\n");
        for (serial, valid_before) in &ledger.revoked {
            text.push_str(&format!("revoked {serial} {valid_before}\n"));
        }
        for r in &ledger.live {
            text.push_str(&format!(
                "{} {} {} {} {} {}\n",
                r.serial,
                r.principal,
                r.valid_before,
                r.logins.join(","),
                r.key_id,
                r.public_key
            ));
        }
        let tmp = path.with_extension("tmp");
        let p2 = path.clone();
        tokio::task::spawn_blocking(move || {
            write_file(&tmp, &text, 0o600)?;
            install(&tmp, &p2)
        })
        .await
        .map_err(|e| self.err(format!("cannot write the ledger: {e}")))?
        .map_err(|e| self.err(format!("cannot write the ledger {}: {e}", path.display())))
    }

    /// A new key pair and a record for its certificate (not yet saved).
    fn new_key(
        &self,
        principal: &str,
        logins: &[String],
        key_id: &str,
        valid_before: u64,
        taken: &Ledger,
    ) -> Result<(PrivateKey, Record), IntegrationError> {
        let mut key = PrivateKey::random(&mut OsRng, self.key_type.clone())
            .map_err(|e| self.err(format!("cannot generate a key pair: {e}")))?;
        key.set_comment(principal);
        let public_key = public_text(key.public_key()).map_err(|e| self.err(e))?;
        Ok((
            key,
            Record {
                serial: new_serial(taken),
                principal: principal.to_owned(),
                valid_before,
                logins: logins.to_vec(),
                key_id: key_id.to_owned(),
                public_key,
            },
        ))
    }

    /// Signs the certificate a record describes, valid from a minute ago to its end.
    fn sign(&self, r: &Record) -> Result<String, IntegrationError> {
        let public = PublicKey::from_openssh(&r.public_key).map_err(|e| {
            self.err(format!(
                "cannot read the public key of serial {}: {e}",
                r.serial
            ))
        })?;
        let ca = self.ca()?;
        let after = unix_secs(
            SystemTime::now()
                .checked_sub(CLOCK_SLACK)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        let signed = (|| {
            let mut b = Builder::new_with_random_nonce(
                &mut OsRng,
                public.key_data().clone(),
                after,
                r.valid_before,
            )?;
            b.serial(r.serial)?;
            b.key_id(r.key_id.clone())?;
            b.cert_type(CertType::User)?;
            for login in &r.logins {
                b.valid_principal(login.clone())?;
            }
            for ext in EXTENSIONS {
                b.extension(ext, "")?;
            }
            b.comment(r.principal.clone())?;
            b.sign(ca)?.to_openssh()
        })();
        signed.map_err(|e: ssh_key::Error| self.err(format!("cannot sign the certificate: {e}")))
    }

    /// The session's material: the certificate.
    fn material(principal: &str, certificate: &str) -> Material {
        Material {
            files: vec![PublicFile {
                name: format!("{principal}-cert.pub"),
                contents: format!("{certificate}\n"),
            }],
            ..Material::default()
        }
    }

    /// The certificate in a session's material.
    fn certificate<'a>(session: &'a SessionView<'_>) -> Option<&'a str> {
        session
            .material?
            .files
            .iter()
            .find(|f| f.name.ends_with("-cert.pub"))
            .map(|f| f.contents.as_str())
    }

    /// The logins a grant names, each checked against `principals`.
    fn granted_logins(&self, spec: &GrantSpec) -> Result<Vec<String>, IntegrationError> {
        let mut logins: Vec<String> = Vec::new();
        for r in spec.entries.iter().flat_map(|e| e.resources.iter()) {
            if !self.logins.contains(r) {
                return Err(self
                    .err(format!(
                        "login {r} is not one of this integration's principals ({})",
                        self.logins.join(", ")
                    ))
                    .untouched());
            }
            if !logins.contains(r) {
                logins.push(r.clone());
            }
        }
        if logins.is_empty() {
            return Err(self.err("the grant names no login").untouched());
        }
        Ok(logins)
    }
}

#[async_trait]
impl Integration for Ssh {
    fn kind(&self) -> &'static str {
        "ssh"
    }

    fn principal_for(&self, requester: &str, request: RequestId) -> Option<String> {
        // The grant's name in the ledger; the logins are the certificate's principals.
        Some(format!(
            "{PRINCIPAL_PREFIX}{}_{request}_{}",
            super::name_part(requester),
            self.tag
        ))
    }

    fn secret_source(&self) -> SecretSource {
        SecretSource::Issued
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<Issued, IntegrationError> {
        let principal = spec
            .principal
            .as_deref()
            .ok_or_else(|| self.err("no principal").untouched())?;
        let logins = self.granted_logins(spec)?;
        let valid_before = unix_secs(spec.valid_until);
        if valid_before <= unix_secs(SystemTime::now()) {
            return Err(self.err("the grant has already ended").untouched());
        }
        let key_id = format!(
            "jit:{}:request-{}:{}:{}",
            self.name,
            spec.request,
            sanitize_id(&spec.requester),
            self.tag
        );
        let _guard = self.lock.lock().await;
        let mut ledger = self.load().await.map_err(IntegrationError::untouched)?;
        // A grant redone after a crash: the first attempt's certificates were never handed
        // out and their keys are gone; make sure they can never be used.
        let earlier: Vec<u64> = ledger
            .live
            .iter()
            .filter(|r| r.principal == principal)
            .map(|r| r.serial)
            .collect();
        if !earlier.is_empty() {
            self.revoke_serials(&earlier, &ledger).await?;
            ledger.retire(|r| r.principal == principal);
            self.save(&ledger).await?;
        }
        let (key, record) = self.new_key(principal, &logins, &key_id, valid_before, &ledger)?;
        // Recorded before it exists: no certificate jit signs is ever without a line.
        ledger.live.push(record.clone());
        self.save(&ledger).await?;
        let certificate = self.sign(&record)?;
        let secret = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| self.err(format!("cannot encode the private key: {e}")))?;
        tracing::debug!(integration = %self.name, principal, serial = record.serial, logins = ?logins, "ssh certificate issued");
        Ok(Issued {
            secret: Some(SessionSecret(secret.to_string())),
            material: Some(Self::material(principal, &certificate)),
        })
    }

    async fn revoke(&self, spec: &RevokeSpec) -> Result<(), IntegrationError> {
        let Some(principal) = spec.principal.as_deref() else {
            return Ok(());
        };
        let _guard = self.lock.lock().await;
        let mut ledger = self.load().await?;
        let serials: Vec<u64> = ledger
            .live
            .iter()
            .filter(|r| r.principal == principal)
            .map(|r| r.serial)
            .collect();
        if serials.is_empty() {
            // Never issued, or revoked already.
            return Ok(());
        }
        // First the KRL, then the ledger: a crash in between is finished by the redone
        // revoke (adding a serial twice is harmless).
        self.revoke_serials(&serials, &ledger).await?;
        ledger.retire(|r| r.principal == principal);
        self.save(&ledger).await
    }

    async fn reset(
        &self,
        principal: &str,
        _secret: Option<&SessionSecret>,
        _end_sessions: bool,
    ) -> Result<Issued, IntegrationError> {
        let _guard = self.lock.lock().await;
        let mut ledger = self.load().await?;
        let Some(last) = ledger
            .live
            .iter()
            .rfind(|r| r.principal == principal)
            .cloned()
        else {
            return Err(self.err(format!(
                "no certificate of {principal} is on record in {}: revoke the grant and request again",
                self.ledger().display()
            )));
        };
        if last.valid_before <= unix_secs(SystemTime::now()) {
            return Err(self.err("the grant has ended"));
        }
        let old: Vec<u64> = ledger
            .live
            .iter()
            .filter(|r| r.principal == principal)
            .map(|r| r.serial)
            .collect();
        let (key, record) = self.new_key(
            principal,
            &last.logins,
            &last.key_id,
            last.valid_before,
            &ledger,
        )?;
        ledger.live.push(record.clone());
        self.save(&ledger).await?;
        let certificate = self.sign(&record)?;
        // The old certificates stop working now; a crash before this is finished by the redone
        // reset, which revokes every certificate but the newest.
        self.revoke_serials(&old, &ledger).await?;
        ledger.retire(|r| r.principal == principal && r.serial != record.serial);
        self.save(&ledger).await?;
        let secret = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| self.err(format!("cannot encode the private key: {e}")))?;
        Ok(Issued {
            secret: Some(SessionSecret(secret.to_string())),
            material: Some(Self::material(principal, &certificate)),
        })
    }

    fn reset_ends_processes(&self) -> bool {
        // An SSH connection outlives its certificate: only ending the client ends it.
        true
    }

    async fn extend(
        &self,
        principal: &str,
        valid_until: SystemTime,
    ) -> Result<Option<Material>, IntegrationError> {
        let _guard = self.lock.lock().await;
        let mut ledger = self.load().await?;
        let Some(last) = ledger
            .live
            .iter()
            .rfind(|r| r.principal == principal)
            .cloned()
        else {
            return Err(self.err(format!("no certificate of {principal} is on record")));
        };
        let valid_before = unix_secs(valid_until);
        if valid_before <= last.valid_before {
            return Ok(None);
        }
        // A certificate's validity cannot change: the same key gets a new certificate for the
        // new end. The old one stays valid until its own, earlier end; both are revoked
        // together.
        let record = Record {
            serial: new_serial(&ledger),
            valid_before,
            ..last
        };
        ledger.live.push(record.clone());
        self.save(&ledger).await?;
        let certificate = self.sign(&record)?;
        Ok(Some(Self::material(principal, &certificate)))
    }

    fn connect_kinds(&self, session: &SessionView<'_>) -> Vec<ConnectKind> {
        let mut k = vec![ConnectKind::Terminal];
        if session.browser_url.is_some() {
            k.push(ConnectKind::Browser);
        }
        k
    }

    fn connect(&self, kind: ConnectKind, session: &SessionView<'_>) -> Option<ConnectTarget> {
        let login = session.resources.first()?;
        match kind {
            ConnectKind::Terminal => {
                let key = session.secret?;
                let certificate = Self::certificate(session)?;
                // The key and certificate go in files the client writes (0600, in a private
                // directory) and removes when ssh exits: ssh reads keys from files only.
                Some(ConnectTarget {
                    argv: vec![
                        "ssh".into(),
                        "-i".into(),
                        "{files}/id".into(),
                        "-o".into(),
                        "CertificateFile={files}/id-cert.pub".into(),
                        "-o".into(),
                        "IdentitiesOnly=yes".into(),
                        // No connection sharing, whatever the user's ~/.ssh/config says (ssh
                        // keeps the first value it reads, and these come first): a master
                        // would carry the session on after this ssh is ended at revoke.
                        "-o".into(),
                        "ControlMaster=no".into(),
                        "-o".into(),
                        "ControlPath=none".into(),
                        "-o".into(),
                        "ControlPersist=no".into(),
                        "-p".into(),
                        self.client_port.to_string(),
                        format!("{login}@{}", self.client_host),
                    ],
                    env: Vec::new(),
                    url: None,
                    files: vec![
                        ("id".into(), key.0.clone()),
                        ("id-cert.pub".into(), certificate.to_owned()),
                    ],
                })
            }
            ConnectKind::Browser => session.browser_url.map(|t| ConnectTarget {
                url: Some(fill_template(
                    t,
                    &self.client_host,
                    self.client_port,
                    login,
                    "",
                )),
                ..ConnectTarget::default()
            }),
            ConnectKind::App => None,
        }
    }

    fn refuse_connect_args(&self, args: &[String]) -> Option<String> {
        let option = escaping_ssh_option(args)?;
        Some(format!(
            "the ssh option {option} would outlive the access: jit ends the ssh it starts when the access ends, and -f (ssh in the background), -M, -S, -O and -o ControlMaster, ControlPath, ControlPersist or ForkAfterAuthentication (a shared connection) escape that (fix: leave it out)"
        ))
    }

    async fn preflight(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !TOOL_PATH
            .split(':')
            .any(|d| Path::new(d).join("ssh-keygen").is_file())
        {
            out.push(
                "ssh-keygen is not installed: every revoke will fail (fix: install openssh-client)"
                    .to_owned(),
            );
        }
        match std::fs::metadata(&self.krl) {
            Err(e) => out.push(format!("the KRL {}: {e}", self.krl.display())),
            Ok(m) => {
                if m.mode() & 0o022 != 0 {
                    out.push(format!(
                        "the KRL {} is writable by group or others, who could take revocations back (fix: chmod 644 {})",
                        self.krl.display(),
                        self.krl.display()
                    ));
                }
                if let Err(e) = self.listed_serials(&self.krl).await {
                    out.push(format!(
                        "the KRL {} cannot be read as a KRL ({e}): the next revoke replaces it with one rebuilt from the ledger, and anything else it held is lost",
                        self.krl.display()
                    ));
                }
            }
        }
        if self.logins.iter().any(|l| l == "root") {
            out.push("principal root can be granted: that is a root login on every server that trusts this CA".to_owned());
        }
        out
    }

    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError> {
        let _guard = self.lock.lock().await;
        let set: BTreeSet<String> = self
            .load()
            .await?
            .live
            .into_iter()
            .map(|r| r.principal)
            .collect();
        Ok(set.into_iter().collect())
    }

    fn access_details(&self, session: &SessionView<'_>) -> AccessDetails {
        let login = session.resources.first().map_or("LOGIN", String::as_str);
        let key = format!("~/.ssh/{}", session.principal);
        let port = if self.client_port == 22 {
            String::new()
        } else {
            format!(" -p {}", self.client_port)
        };
        // Elsewhere, a revoke takes effect once the server's copy of the KRL has it.
        let remote = if matches!(self.client_host.as_str(), "localhost" | "127.0.0.1" | "::1") {
            String::new()
        } else {
            format!(
                " (on {}, once the admin's copy of jitd's revocation list reaches it)",
                self.client_host
            )
        };
        AccessDetails {
            user: Some(session.resources.join(", ")),
            host: Some(self.client_host.clone()),
            port: Some(self.client_port),
            secret_kind: Some(SecretKind::PrivateKey),
            files: session
                .material
                .map(|m| m.files.clone())
                .unwrap_or_default(),
            instructions: format!(
                "save the private key as {key} (mode 0600) and the certificate as {key}-cert.pub: ssh uses a certificate saved beside its key. Log in as {} on {} port {}. The certificate ends with the access (after `jit extend`, `jit show` has the new one) and stops working at once when the access is revoked{remote}",
                session.resources.join(" or "),
                self.client_host,
                self.client_port
            ),
            example: Some(format!(
                "ssh -i {key} -o IdentitiesOnly=yes{port} {login}@{}",
                self.client_host
            )),
        }
    }
}

/// Loads the CA key at `path`, or creates one (ed25519, mode 0600) when there is none.
fn load_or_create_ca(path: &Path, name: &str) -> Result<PrivateKey, String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) => {
            if meta.mode() & 0o077 != 0 {
                return Err(format!(
                    "the CA key {shown} can be read or written by others (mode {:o}) (fix: chmod 600 {shown})",
                    meta.mode() & 0o777
                ));
            }
            let me = nix::unistd::geteuid().as_raw();
            if meta.uid() != me {
                return Err(format!(
                    "the CA key {shown} belongs to uid {}, not to jitd (uid {me}) (fix: chown it to the user jitd runs as)",
                    meta.uid()
                ));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the CA key {shown}: {e}"))?;
            let key = PrivateKey::from_openssh(text.as_bytes()).map_err(|_| {
                format!("the CA key {shown} is not an OpenSSH private key (fix: make one with `ssh-keygen -t ed25519 -N '' -f {shown}`, or remove ca_key and jitd makes one)")
            })?;
            if key.is_encrypted() {
                return Err(format!(
                    "the CA key {shown} is protected by a passphrase, and jitd signs unattended (fix: use a key without one, mode 0600)"
                ));
            }
            match key.algorithm() {
                Algorithm::Ed25519
                | Algorithm::Ecdsa {
                    curve: EcdsaCurve::NistP256,
                } => Ok(key),
                other => Err(format!(
                    "the CA key {shown} is {other}, which jit does not sign with (fix: an ed25519 key, `ssh-keygen -t ed25519`)"
                )),
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)
                .map_err(|e| format!("cannot generate the CA key: {e}"))?;
            key.set_comment(format!("jitd ssh CA of integration {name}"));
            let text = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| format!("cannot encode the CA key: {e}"))?;
            let tmp = path.with_extension("jitd-new");
            let _ = std::fs::remove_file(&tmp);
            write_file(&tmp, &text, 0o600)
                .and_then(|()| install(&tmp, path))
                .map_err(|e| format!("cannot create the CA key {shown}: {e}"))?;
            tracing::info!(integration = name, ca_key = %shown, "ssh: created a new CA key");
            Ok(key)
        }
        Err(e) => Err(format!("cannot read the CA key {shown}: {e}")),
    }
}

/// Writes `text` to a new file `path` with `mode`, and syncs it.
fn write_file(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Renames `tmp` over `path` and syncs the directory, so the new file survives a crash.
fn install(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes a public file when its contents differ (the CA's public key).
fn write_if_changed(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    let tmp = path.with_extension("jitd-new");
    write_file(&tmp, text, mode)?;
    install(&tmp, path)
}

/// Runs `ssh-keygen ARGS` (public data only: no key material, no secret) and returns what it
/// printed; on failure, what it said.
async fn ssh_keygen(args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new("ssh-keygen");
    cmd.args(args)
        .env_clear()
        .env("PATH", TOOL_PATH)
        .env("LC_ALL", "C")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(TOOL_TIMEOUT, cmd.output()).await {
        Err(_) => return Err(format!("ssh-keygen did not finish within {TOOL_TIMEOUT:?}")),
        Ok(Err(e)) if e.kind() == ErrorKind::NotFound => {
            return Err("ssh-keygen is not installed (fix: install openssh-client)".into());
        }
        Ok(Err(e)) => return Err(format!("cannot run ssh-keygen: {e}")),
        Ok(Ok(out)) => out,
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ssh-keygen failed ({}): {}",
            out.status,
            clean(&String::from_utf8_lossy(&out.stderr))
        ))
    }
}

/// The serial ranges `ssh-keygen -Q -l` lists under the CA with this fingerprint.
fn krl_serials(listing: &str, ca_fingerprint: &str) -> Vec<(u64, u64)> {
    let mut ours = false;
    let mut out = Vec::new();
    for line in listing.lines().map(str::trim) {
        if let Some(ca) = line.strip_prefix("# CA key ") {
            ours = ca.split_whitespace().any(|w| w == ca_fingerprint);
            continue;
        }
        if !ours {
            continue;
        }
        let Some(range) = line.strip_prefix("serial: ") else {
            continue;
        };
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(lo), Ok(hi)) = (lo.trim().parse(), hi.trim().parse()) {
            out.push((lo, hi));
        }
    }
    out
}

/// The first of `args` (what follows the destination on ssh's command line) that would let
/// ssh outlive its own process: `-f`, `-M`, `-S`, `-O`, or an `-o` of [`ESCAPING_KEYWORDS`].
/// ssh reads options after the destination up to the first other word (the remote command,
/// whose own arguments are not ssh's) or `--`, as its getopt does: flags may be grouped
/// (`-fN`), an option's argument may be joined (`-oControlPath=x`) or the next word.
fn escaping_ssh_option(args: &[String]) -> Option<String> {
    let mut words = args.iter();
    while let Some(word) = words.next() {
        // The first other word is the remote command: ssh reads no option after it.
        let flags = word
            .strip_prefix('-')
            .filter(|f| !f.is_empty() && *f != "-")?;
        for (at, flag) in flags.char_indices() {
            if matches!(flag, 'f' | 'M') {
                return Some(format!("-{flag}"));
            }
            if !SSH_OPTIONS_WITH_ARG.contains(flag) {
                continue;
            }
            let joined = &flags[at + flag.len_utf8()..];
            let value = if joined.is_empty() {
                words.next().map_or("", String::as_str)
            } else {
                joined
            };
            match flag {
                'S' | 'O' => return Some(format!("-{flag}")),
                'o' => {
                    let keyword = value
                        .trim_start()
                        .split(|c: char| c == '=' || c.is_whitespace())
                        .next()
                        .unwrap_or_default();
                    if ESCAPING_KEYWORDS.contains(&keyword.to_ascii_lowercase().as_str()) {
                        return Some(format!("-o {keyword}"));
                    }
                }
                _ => {}
            }
            break;
        }
    }
    None
}

/// Parses a ledger; on error, the number of the line that does not parse.
fn parse_ledger(text: &str) -> Result<Ledger, usize> {
    let mut out = Ledger::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if let ["revoked", serial, valid_before] = f.as_slice() {
            let (Ok(serial), Ok(valid_before)) = (serial.parse(), valid_before.parse()) else {
                return Err(i + 1);
            };
            out.revoked.push((serial, valid_before));
            continue;
        }
        let [
            serial,
            principal,
            valid_before,
            logins,
            key_id,
            key_type,
            key,
        ] = f.as_slice()
        else {
            return Err(i + 1);
        };
        let (Ok(serial), Ok(valid_before)) = (serial.parse(), valid_before.parse()) else {
            return Err(i + 1);
        };
        let logins: Vec<String> = logins.split(',').map(str::to_owned).collect();
        let public_key = format!("{key_type} {key}");
        if !is_principal(principal)
            || logins.iter().any(|l| l.is_empty())
            || PublicKey::from_openssh(&public_key).is_err()
        {
            return Err(i + 1);
        }
        out.live.push(Record {
            serial,
            principal: (*principal).to_owned(),
            valid_before,
            logins,
            key_id: (*key_id).to_owned(),
            public_key,
        });
    }
    Ok(out)
}

/// `<type> <base64>` of a public key, without its comment.
fn public_text(key: &PublicKey) -> Result<String, String> {
    let mut key = key.clone();
    key.set_comment("");
    key.to_openssh()
        .map(|t| t.trim().to_owned())
        .map_err(|e| format!("cannot encode a public key: {e}"))
}

/// A random serial, not 0 (which KRLs cannot name) and not one the ledger has.
fn new_serial(taken: &Ledger) -> u64 {
    loop {
        let s: u64 = rand::random();
        if s != 0
            && !taken.live.iter().any(|r| r.serial == s)
            && !taken.revoked.iter().any(|(r, _)| *r == s)
        {
            return s;
        }
    }
}

/// Whether `p` has the shape of this kind's principals (`jit_…`, lower-case, digits, `_`).
fn is_principal(p: &str) -> bool {
    p.starts_with(PRINCIPAL_PREFIX)
        && p.len() <= 128
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The part of this jitd's instance id that ends its principals.
fn tag(marker: &str) -> String {
    marker
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(8)
        .collect()
}

/// A user name as it goes into a key id: no white space or control characters.
fn sanitize_id(user: &str) -> String {
    user.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_krl_in_a_directory_others_may_write_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let krl = tmp.path().join("revoked.krl");
        for mode in [0o700, 0o755] {
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
            krl_dir_is_private(&krl).expect("a private directory");
        }
        for mode in [0o775, 0o757, 0o1777] {
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
            let e = krl_dir_is_private(&krl).expect_err("writable by others");
            assert!(
                e.contains("writable by other users") && e.contains("chmod go-w"),
                "{e}"
            );
        }
        // And jitd refuses to start with it.
        let state = tempfile::tempdir().expect("state");
        let e = match Ssh::new("ssh", &settings(&krl), "t1", state.path()) {
            Ok(_) => panic!("started with a KRL in a world-writable directory"),
            Err(e) => e.message,
        };
        assert!(e.contains("writable by other users"), "{e}");
    }

    fn settings(krl: &Path) -> SshSettings {
        SshSettings {
            ca_key: None,
            krl: krl.to_path_buf(),
            principals: vec!["deploy".into(), "app".into()],
            client_host: "bastion.example.com".into(),
            client_port: 2222,
            key_type: "ed25519".into(),
        }
    }

    fn spec(principal: &str, logins: &[&str], secs: u64) -> GrantSpec {
        GrantSpec {
            request: 42,
            requester: "alice".into(),
            principal: Some(principal.into()),
            entries: vec![super::super::GrantEntry {
                resource_type: "login".into(),
                resources: logins.iter().map(|l| (*l).to_owned()).collect(),
                permissions: vec!["login".into()],
            }],
            secret: None,
            valid_until: SystemTime::now() + Duration::from_secs(secs),
        }
    }

    #[test]
    fn the_ledger_round_trips_and_refuses_what_it_does_not_understand() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDr1Eq1w9vpZ6q9L4Ch0d6hFvHwM1B3sEDT5m3Ng0KxL";
        let text = format!(
            "{LEDGER_HEADER}\n7 jit_alice_42_00c0ffee 1800000000 deploy,app jit:s:request-42:alice:00c0ffee {key}\n"
        );
        let recs = parse_ledger(&text).expect("parses").live;
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].serial, 7);
        assert_eq!(recs[0].logins, ["deploy", "app"]);
        assert_eq!(recs[0].public_key, key);
        assert_eq!(
            parse_ledger("7 jit_a_1_x 1 deploy id ssh-ed25519\n"),
            Err(1)
        );
        assert_eq!(
            parse_ledger(&format!("\nx jit_a_1_x 1 deploy id {key}\n")),
            Err(2)
        );
        assert_eq!(
            parse_ledger(&format!("7 Alice 1 deploy id {key}\n")),
            Err(1)
        );
        assert_eq!(
            parse_ledger("7 jit_a_1_x 1 deploy id ssh-ed25519 AAAA\n"),
            Err(1)
        );
    }

    #[test]
    fn ssh_options_that_escape_are_found_where_ssh_reads_options() {
        let refused = |args: &[&str]| {
            escaping_ssh_option(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
        };
        for (args, option) in [
            (&["-f", "sleep", "600"][..], "-f"),
            (&["-tt", "-fN"], "-f"),
            (&["-M"], "-M"),
            (&["-S", "/tmp/s", "true"], "-S"),
            (&["-Ocheck"], "-O"),
            (
                &["-p", "22", "-o", "ControlMaster=auto"],
                "-o ControlMaster",
            ),
            (&["-oControlPath=/tmp/x"], "-o ControlPath"),
            (&["-o", " controlpersist 600"], "-o controlpersist"),
            (
                &["-qo", "ForkAfterAuthentication=yes"],
                "-o ForkAfterAuthentication",
            ),
        ] {
            assert_eq!(refused(args).as_deref(), Some(option), "{args:?}");
        }
        for args in [
            &[][..],
            &["uptime"],
            &["echo", "-f"],
            &["-tt", "top", "-M"],
            &["--", "-f"],
            &["-i", "-f", "true"],
            &["-o", "ServerAliveInterval=5", "-l", "-M"],
            &["-", "-f"],
        ] {
            assert_eq!(refused(args), None, "{args:?}");
        }
    }

    /// Revoked certificates are kept (serial, end) until a day after their end, so that a
    /// lost KRL can be rebuilt; a v1 ledger (no such lines) still reads.
    #[test]
    fn revoked_certificates_stay_in_the_ledger_until_they_end() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDr1Eq1w9vpZ6q9L4Ch0d6hFvHwM1B3sEDT5m3Ng0KxL";
        let text = format!(
            "{LEDGER_HEADER}\nrevoked 5 1800000000\n7 jit_alice_42_00c0ffee 1800000000 deploy id {key}\n8 jit_bob_43_00c0ffee 1700000000 deploy id {key}\n"
        );
        let mut ledger = parse_ledger(&text).expect("parses");
        assert_eq!(ledger.revoked, [(5, 1_800_000_000)]);
        ledger.retire(|r| r.principal == "jit_bob_43_00c0ffee");
        assert_eq!(ledger.live.len(), 1);
        assert_eq!(ledger.revoked_serials(), [5, 8]);
        ledger.prune(1_700_000_000 + REVOKED_KEPT);
        assert_eq!(ledger.revoked_serials(), [5], "8 ended a day ago");
        assert_eq!(parse_ledger("revoked 5\n"), Err(1));
        assert_eq!(parse_ledger("revoked x 5\n"), Err(1));
    }

    #[test]
    fn krl_listings_are_read_per_ca() {
        let listing = "# KRL version 0\n# Generated at 20261124T001056\n\n\n\
                       # CA key ssh-ed25519 SHA256:ours\nserial: 12345\nserial: 7-9\n\
                       # CA key ssh-ed25519 SHA256:theirs\nserial: 1\n";
        assert_eq!(
            krl_serials(listing, "SHA256:ours"),
            [(12345, 12345), (7, 9)]
        );
        assert_eq!(krl_serials(listing, "SHA256:theirs"), [(1, 1)]);
        assert!(krl_serials(listing, "SHA256:none").is_empty());
    }

    #[test]
    fn check_touches_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ssh =
            Ssh::new("s", &settings(&dir.path().join("krl")), "check", dir.path()).expect("builds");
        assert!(ssh.ca.is_none());
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    }

    /// The CA is made once (0600) and kept; a grant returns a private key and a certificate
    /// for exactly the logins and window, recorded in the ledger; revoke puts its serial in
    /// the KRL (checked by ssh-keygen itself) and clears the ledger; extend re-signs the same
    /// key for the new end. Needs `ssh-keygen`.
    #[tokio::test]
    async fn grant_revoke_and_extend_with_a_real_krl() {
        let dir = tempfile::tempdir().expect("tempdir");
        let krl = dir.path().join("revoked.krl");
        let ssh = Ssh::new("s", &settings(&krl), "00c0ffee12345678", dir.path()).expect("builds");
        let ca_path = dir.path().join("ssh/s/ca");
        assert_eq!(
            std::fs::metadata(&ca_path).expect("ca").mode() & 0o777,
            0o600
        );
        assert!(krl.exists(), "an empty KRL is created");
        let again = Ssh::new("s", &settings(&krl), "00c0ffee12345678", dir.path()).expect("builds");
        assert_eq!(
            again.ca.as_ref().map(|k| k.fingerprint(HashAlg::Sha256)),
            ssh.ca.as_ref().map(|k| k.fingerprint(HashAlg::Sha256)),
            "the CA is kept across starts"
        );

        let principal = ssh.principal_for("Alice", 42).expect("principal");
        assert_eq!(principal, "jit_alice_42_00c0ffee");
        let refused = ssh
            .grant(&spec(&principal, &["root"], 60))
            .await
            .expect_err("not a configured login");
        assert!(refused.untouched, "{}", refused.message);

        let issued = ssh
            .grant(&spec(&principal, &["deploy"], 600))
            .await
            .expect("grant");
        let secret = issued.secret.expect("a private key");
        let key = PrivateKey::from_openssh(secret.0.as_bytes()).expect("an OpenSSH key");
        let material = issued.material.expect("material");
        let cert_text = &material.files[0].contents;
        assert_eq!(material.files[0].name, format!("{principal}-cert.pub"));
        assert!(!cert_text.contains("PRIVATE"), "no secret in the material");
        let cert = ssh_key::Certificate::from_openssh(cert_text.trim()).expect("a certificate");
        assert_eq!(cert.valid_principals(), ["deploy"]);
        assert_eq!(cert.key_id(), "jit:s:request-42:alice:00c0ffee");
        assert_eq!(cert.public_key(), key.public_key().key_data());
        let end = unix_secs(SystemTime::now() + Duration::from_secs(600));
        assert!(
            cert.valid_before().abs_diff(end) <= 2,
            "{}",
            cert.valid_before()
        );
        assert_eq!(
            ssh.list_principals().await.expect("list"),
            std::slice::from_ref(&principal)
        );

        let extended = ssh
            .extend(&principal, SystemTime::now() + Duration::from_secs(3600))
            .await
            .expect("extend")
            .expect("a new certificate");
        let newer = ssh_key::Certificate::from_openssh(extended.files[0].contents.trim())
            .expect("a certificate");
        assert_eq!(newer.public_key(), key.public_key().key_data(), "same key");
        assert!(newer.valid_before() > cert.valid_before() + 2000);
        assert_ne!(newer.serial(), cert.serial());

        ssh.revoke(&RevokeSpec {
            request: Some(42),
            principal: Some(principal.clone()),
            resources: vec!["deploy".into()],
        })
        .await
        .expect("revoke");
        assert!(ssh.list_principals().await.expect("list").is_empty());
        let listed = ssh.listed_serials(&krl).await.expect("a KRL");
        for serial in [cert.serial(), newer.serial()] {
            assert!(
                listed.iter().any(|(lo, hi)| *lo <= serial && serial <= *hi),
                "{listed:?}"
            );
        }
        let cert_file = dir.path().join("c-cert.pub");
        std::fs::write(&cert_file, cert_text).expect("write cert");
        let q = std::process::Command::new("ssh-keygen")
            .args(["-Q", "-f"])
            .arg(&krl)
            .arg(&cert_file)
            .output()
            .expect("ssh-keygen -Q");
        assert!(
            String::from_utf8_lossy(&q.stdout).contains("REVOKED"),
            "{q:?}"
        );
        // Idempotent: the same revoke again succeeds.
        ssh.revoke(&RevokeSpec {
            request: None,
            principal: Some(principal),
            resources: Vec::new(),
        })
        .await
        .expect("revoke again");
    }

    #[test]
    fn a_ca_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("ca");
        load_or_create_ca(&ca, "s").expect("created");
        std::fs::set_permissions(&ca, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let Err(e) = load_or_create_ca(&ca, "s") else {
            panic!("refused")
        };
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&ca, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::write(&ca, "not a key").expect("write");
        let Err(e) = load_or_create_ca(&ca, "s") else {
            panic!("refused")
        };
        assert!(e.contains("is not an OpenSSH private key"), "{e}");
    }
}
