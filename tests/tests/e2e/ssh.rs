//! The `ssh` kind against a real sshd (started by the test on a loopback port, trusting jit's
//! CA and reading jit's KRL) and the real `ssh` client logging in as a real Unix user: the
//! certificate `jit connect` and `jit creds` hand out logs in during the grant; revoke puts it
//! in the KRL and ends the live session; expiry ends it, and the certificate's own validity
//! ends it while jitd is down; reset revokes the old key; extend signs a new certificate for
//! the longer window; kill -9 during a grant and during a revoke leaves no usable certificate;
//! a certificate no request owns is revoked at start.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use jit_tests::sshd::{CLIENT_OPTIONS, LoginUser, Sshd, ssh};
use jit_tests::users::{Group, User};
use jit_tests::{Daemon, bin, wait_until};
use serde_json::Value;

/// The integration's name in the tests' config.
const NAME: &str = "ssh-test";

/// A requester (alice, in `dev`), a login user on the server, sshd, and jitd.
struct Setup {
    _dev: Group,
    alice: User,
    login: LoginUser,
    tmp: tempfile::TempDir,
    krl: PathBuf,
    sshd: Sshd,
    d: Daemon,
}

impl Setup {
    fn start() -> Setup {
        let dev = Group::create("dev");
        let alice = User::create("a", &[&dev]);
        let login = LoginUser::create();
        let tmp = tempfile::Builder::new()
            .prefix("jit-ssh-")
            .tempdir()
            .expect("temp dir");
        let krl = tmp.path().join("revoked.krl");
        // sshd reads the CA list and the KRL at every login, so it may start before jitd
        // has made them: the CA's public key is copied where sshd looks once jitd has made
        // it, as an admin would.
        let ca_pub = tmp.path().join("trusted_ca.pub");
        let sshd = Sshd::start(&ca_pub, &krl, &login.name);
        let config = format!(
            r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "{NAME}"
kind = "ssh"
krl = "{krl}"
principals = ["{login}"]
client_host = "127.0.0.1"
client_port = {port}
message = "Log in with jit connect."

[[flows]]
name = "ssh"
requesters = ["%{dev}"]
integration = "{NAME}"
max_duration = "1h"
max_extensions = 2
"#,
            krl = krl.display(),
            login = login.name,
            port = sshd.port,
            dev = dev.name,
        );
        let d = Daemon::start(&config);
        let made = d.state.join("ssh").join(NAME).join("ca.pub");
        std::fs::copy(&made, &ca_pub).expect("copy the CA's public key");
        Setup {
            _dev: dev,
            alice,
            login,
            tmp,
            krl,
            sshd,
            d,
        }
    }

    /// `jit --json request ssh-test/login LOGIN --perm login …` as alice.
    fn request(&self, more: &[&str]) -> Value {
        let mut args = vec![
            "--json",
            "request",
            "ssh-test/login",
            &self.login.name,
            "--perm",
            "login",
            "--reason",
            "ssh test",
        ];
        args.extend_from_slice(more);
        let out = self.d.jit(Some(&self.alice), &args);
        json(&out, &args)
    }

    fn show(&self, id: &str) -> Value {
        self.d.jit_json(None, &["show", id])
    }

    fn status(&self, id: &str) -> String {
        self.show(id)["status"].as_str().expect("status").to_owned()
    }

    fn wait_status(&self, id: &str, want: &str) {
        wait_until(
            Duration::from_secs(20),
            &format!("request {id} {want}"),
            || (self.status(id) == want).then_some(()),
        );
    }

    /// `jit connect ID -- <unattended ssh options> ARGS` as alice.
    fn connect(&self, id: &str, remote: &[&str]) -> Output {
        let mut args = vec!["connect", id, "--"];
        args.extend(CLIENT_OPTIONS);
        args.extend_from_slice(remote);
        self.d.jit(Some(&self.alice), &args)
    }

    /// The same, in the background.
    fn connect_spawn(&self, id: &str, remote: &[&str]) -> Child {
        let mut args = vec!["connect", id, "--"];
        args.extend(CLIENT_OPTIONS);
        args.extend_from_slice(remote);
        self.jit_spawn(&args)
    }

    fn jit_spawn(&self, args: &[&str]) -> Child {
        Command::new(bin("jit"))
            .args(args)
            .env("JIT_SOCKET", &self.d.socket)
            .env("NO_COLOR", "1")
            .env("HOME", "/")
            .env_remove("XDG_RUNTIME_DIR")
            .current_dir("/")
            .uid(self.alice.uid)
            .gid(self.alice.gid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn jit")
    }

    /// `jit --json creds ID` as alice, saved as a key file (0600) and its certificate in a
    /// directory of root's: (key, certificate).
    fn creds(&self, id: &str, name: &str) -> (PathBuf, PathBuf) {
        let c = self.d.jit_json(Some(&self.alice), &["creds", id]);
        let s = &c["sessions"][0];
        assert_eq!(s["secret_kind"], "private_key", "{c}");
        assert_eq!(s["user"], self.login.name.as_str(), "{c}");
        let secret = s["secret"].as_str().expect("secret");
        assert!(
            secret.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"),
            "a private key"
        );
        let key = self.tmp.path().join(name);
        std::fs::write(&key, secret).expect("write key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let cert = self.tmp.path().join(format!("{name}-cert.pub"));
        let file = &s["files"][0];
        assert!(
            file["name"].as_str().expect("name").ends_with("-cert.pub"),
            "{c}"
        );
        std::fs::write(&cert, file["contents"].as_str().expect("contents")).expect("write");
        (key, cert)
    }

    /// The certificate `jit show` has now, saved under `name`.
    fn shown_cert(&self, id: &str, name: &str) -> PathBuf {
        let r = self.show(id);
        let cert = self.tmp.path().join(name);
        let text = r["sessions"][0]["files"][0]["contents"]
            .as_str()
            .unwrap_or_else(|| panic!("no certificate in {r}"));
        std::fs::write(&cert, text).expect("write cert");
        cert
    }

    fn login_works(&self, key: &Path, cert: &Path) -> bool {
        let out = ssh(self.sshd.port, key, cert, &self.login.name, "id -un");
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == self.login.name
    }

    /// The serials the ledger holds for `principal` (certificates not yet in the KRL).
    fn ledger(&self, principal: &str) -> Vec<u64> {
        let path = self.d.state.join("ssh").join(NAME).join("issued");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(1) == Some(&principal)).then(|| f[0].parse().expect("serial"))
            })
            .collect()
    }

    /// Whether the KRL revokes `serial` (as ssh-keygen lists it).
    fn krl_lists(&self, serial: u64) -> bool {
        let out = Command::new("ssh-keygen")
            .args(["-Q", "-l", "-f"])
            .arg(&self.krl)
            .output()
            .expect("ssh-keygen -Q -l");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).lines().any(|l| {
            l.strip_prefix("serial: ").is_some_and(|r| {
                let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                lo.parse::<u64>().is_ok_and(|lo| lo <= serial)
                    && hi.parse::<u64>().is_ok_and(|hi| serial <= hi)
            })
        })
    }

    /// Whether `ssh-keygen -Q` finds this certificate in the KRL.
    fn krl_revokes(&self, cert: &Path) -> bool {
        let out = Command::new("ssh-keygen")
            .args(["-Q", "-f"])
            .arg(&self.krl)
            .arg(cert)
            .output()
            .expect("ssh-keygen -Q");
        String::from_utf8_lossy(&out.stdout).contains("REVOKED")
    }

    /// A process of `uid` whose command line is exactly `argv`.
    fn process(uid: u32, argv: &[&str]) -> Option<u32> {
        let want: Vec<u8> = argv
            .iter()
            .flat_map(|a| [a.as_bytes(), b"\0"].concat())
            .collect();
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .find(|pid| {
                std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == uid)
                    && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want)
            })
    }

    /// The `ssh` client alice runs through `jit connect` whose command line ends with `tail`
    /// (a connection master, which renames itself `ssh: PATH [mux]`, included).
    fn ssh_client(&self, tail: &str) -> Option<(u32, String)> {
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .find_map(|pid| {
                let meta = std::fs::metadata(format!("/proc/{pid}")).ok()?;
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                (meta.uid() == self.alice.uid
                    && (cmd.starts_with("ssh ") || cmd.starts_with("ssh: "))
                    && cmd.trim_end().ends_with(tail))
                .then_some((pid, cmd))
            })
    }
}

fn json(out: &Output, args: &[&str]) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "jit {args:?} printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn id_of(r: &Value) -> String {
    r["id"].as_u64().expect("id").to_string()
}

fn principal_of(r: &Value) -> String {
    r["sessions"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_owned()
}

/// `ssh-keygen -L` of a certificate: (serial, key id, the "Valid:" line).
fn cert_info(cert: &Path) -> (u64, String, String) {
    let out = Command::new("ssh-keygen")
        .arg("-L")
        .arg("-f")
        .arg(cert)
        .output()
        .expect("ssh-keygen -L");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .to_owned()
    };
    (
        field("Serial:").parse().expect("serial"),
        field("Key ID:").trim_matches('"').to_owned(),
        field("Valid:"),
    )
}

/// A sleep length unique enough to find this test's remote command among the host's
/// processes.
fn nap() -> String {
    (600 + u32::from(jit_tests::unique().as_bytes()[0]) * 7 + std::process::id() % 97).to_string()
}

#[test]
fn a_certificate_logs_in_during_the_grant_and_revoke_ends_it_and_its_session() {
    let s = Setup::start();
    let ca = s.d.state.join("ssh").join(NAME).join("ca");
    assert_eq!(
        std::fs::metadata(&ca).expect("the CA key").mode() & 0o777,
        0o600,
        "the CA key is made 0600 on first start"
    );
    assert!(s.krl.exists(), "jitd made an empty KRL");

    let r = s.request(&[]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = id_of(&r);
    let principal = principal_of(&r);
    let session = &r["sessions"][0];
    assert_eq!(session["credentials"], "unrevealed", "{r}");
    assert_eq!(session["connect"], serde_json::json!(["terminal"]), "{r}");
    let shown = s.shown_cert(&id, "shown-cert.pub");
    let (serial, key_id, _) = cert_info(&shown);
    assert!(
        key_id.starts_with(&format!("jit:{NAME}:request-{id}:{}:", s.alice.name)),
        "the key id names the request: {key_id}"
    );
    assert_eq!(s.ledger(&principal), [serial]);

    // jit connect runs the real ssh with the key and certificate in private files.
    let out = s.connect(&id, &["id", "-un"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), s.login.name);
    // A plan printed for programs never shows the key.
    let plan = s.d.jit_json(Some(&s.alice), &["connect", &id]);
    assert_eq!(plan["files"][0]["name"], "id", "{plan}");
    assert_eq!(plan["files"][0]["contents"], "<redacted>", "{plan}");

    // A live session, with a terminal, through jit connect.
    let nap = nap();
    let mut live = s.connect_spawn(&id, &["-tt", "sleep", &nap]);
    wait_until(Duration::from_secs(15), "the remote command to run", || {
        Setup::process(s.login.uid, &["sleep", &nap])
    });
    let (client, cmdline) = s
        .ssh_client(&format!("sleep {nap}"))
        .expect("the ssh client jit connect started");
    assert!(
        !cmdline.contains("PRIVATE"),
        "no key on the command line: {cmdline}"
    );
    let files_dir = cmdline
        .split_whitespace()
        .skip_while(|a| *a != "-i")
        .nth(1)
        .and_then(|k| Path::new(k).parent().map(Path::to_path_buf))
        .expect("ssh -i FILE");
    let dir_meta = std::fs::metadata(&files_dir).expect("the files' directory");
    assert_eq!(dir_meta.mode() & 0o777, 0o700);
    assert_eq!(dir_meta.uid(), s.alice.uid);
    assert_eq!(
        std::fs::metadata(files_dir.join("id")).expect("key").mode() & 0o777,
        0o600
    );

    // Access details, once: the key and certificate log in with the plain ssh client.
    let (key, cert) = s.creds(&id, "alice-key");
    assert!(s.login_works(&key, &cert), "{}", s.sshd.log_text());
    let again = s.d.jit(Some(&s.alice), &["creds", &id]);
    assert!(!again.status.success(), "shown once");
    let refused = s.connect(&id, &["true"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!("jit reset {id}")),
        "{refused:?}"
    );

    let out = s.d.jit_json(Some(&s.alice), &["revoke", &id]);
    assert_eq!(out["status"], "revoked", "{out}");
    assert!(s.krl_revokes(&cert), "the certificate is in the KRL");
    assert!(s.krl_lists(serial));
    assert!(s.ledger(&principal).is_empty());
    assert!(!s.login_works(&key, &cert), "refused after revoke");
    assert!(
        s.sshd.log_text().contains("revoked"),
        "sshd refused it as revoked: {}",
        s.sshd.log_text()
    );
    // The live session is gone: the client, the remote command, and the key files.
    wait_until(Duration::from_secs(10), "jit connect to exit", || {
        live.try_wait().ok().flatten()
    });
    assert!(
        !Path::new(&format!("/proc/{client}")).exists()
            || s.ssh_client(&format!("sleep {nap}")).is_none()
    );
    wait_until(Duration::from_secs(10), "the remote command to end", || {
        Setup::process(s.login.uid, &["sleep", &nap])
            .is_none()
            .then_some(())
    });
    assert!(!files_dir.exists(), "jit connect removed the key files");

    // No secret in jitd's log (at trace level) or in the audit log.
    let key_body: String = std::fs::read_to_string(&key)
        .expect("key")
        .lines()
        .nth(1)
        .expect("a line of the key")
        .to_owned();
    assert!(!s.d.log_text().contains(&key_body), "the key is not logged");
    let audit = String::from_utf8_lossy(&s.d.jit(None, &["--json", "audit"]).stdout).into_owned();
    assert!(!audit.contains(&key_body));
}

#[test]
fn expiry_ends_access_and_the_certificate_ends_on_its_own_while_jitd_is_down() {
    let mut s = Setup::start();
    let r = s.request(&["--for", "5s"]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = id_of(&r);
    let principal = principal_of(&r);
    let (key, cert) = s.creds(&id, "short");
    assert!(s.login_works(&key, &cert));

    // jitd is down at the end: nothing is in the KRL, but the certificate itself ends.
    s.d.kill9();
    wait_until(
        Duration::from_secs(20),
        "sshd to refuse the certificate at the grant's end",
        || (!s.login_works(&key, &cert)).then_some(()),
    );
    assert!(
        !s.krl_revokes(&cert),
        "refused by its own validity, not the KRL"
    );

    s.d.restart();
    s.wait_status(&id, "expired");
    assert!(s.ledger(&principal).is_empty());
    assert!(
        s.krl_revokes(&cert),
        "revoked all the same once jitd is back"
    );
    assert!(!s.login_works(&key, &cert));
}

#[test]
fn reset_revokes_the_old_key_and_an_admins_reset_ends_the_live_session() {
    let s = Setup::start();
    let r = s.request(&[]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = id_of(&r);
    let principal = principal_of(&r);
    let (old_key, old_cert) = s.creds(&id, "old");
    assert!(s.login_works(&old_key, &old_cert));

    let out = s.d.jit_json(Some(&s.alice), &["reset", &id]);
    assert_eq!(out["sessions"][0]["credentials"], "unrevealed", "{out}");
    assert!(s.krl_revokes(&old_cert), "the old certificate is revoked");
    assert!(
        !s.login_works(&old_key, &old_cert),
        "the old key no longer logs in"
    );
    assert_eq!(s.ledger(&principal).len(), 1, "one certificate is live");
    let out = s.connect(&id, &["id", "-un"]);
    assert!(out.status.success(), "connect uses the new key: {out:?}");

    // An admin's reset also ends what was opened with the old key.
    let nap = nap();
    let mut live = s.connect_spawn(&id, &["-tt", "sleep", &nap]);
    wait_until(Duration::from_secs(15), "the remote command to run", || {
        Setup::process(s.login.uid, &["sleep", &nap])
    });
    let out =
        s.d.jit_json(None, &["reset", &id, "--reason", "suspected leak"]);
    assert_eq!(out["sessions"][0]["rotated"], true, "{out}");
    wait_until(Duration::from_secs(10), "jit connect to exit", || {
        live.try_wait().ok().flatten()
    });
    wait_until(Duration::from_secs(10), "the remote command to end", || {
        Setup::process(s.login.uid, &["sleep", &nap])
            .is_none()
            .then_some(())
    });

    let (new_key, new_cert) = s.creds(&id, "new");
    assert!(s.login_works(&new_key, &new_cert));
    assert!(!s.krl_revokes(&new_cert));
    assert!(!s.login_works(&old_key, &old_cert));
}

#[test]
fn extend_signs_a_new_certificate_for_the_longer_window() {
    let s = Setup::start();
    let r = s.request(&["--for", "6s"]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = id_of(&r);
    let (key, first) = s.creds(&id, "ext");
    let (first_serial, key_id, first_valid) = cert_info(&first);

    let out =
        s.d.jit_json(Some(&s.alice), &["extend", &id, "--for", "5m"]);
    assert_eq!(out["extensions"].as_array().map(Vec::len), Some(1), "{out}");
    let second = wait_until(Duration::from_secs(10), "the new certificate", || {
        let c = s.shown_cert(&id, "second-cert.pub");
        (cert_info(&c).0 != first_serial).then_some(c)
    });
    let (_, second_id, second_valid) = cert_info(&second);
    assert_eq!(second_id, key_id, "the same grant");
    assert!(
        second_valid > first_valid,
        "{second_valid} vs {first_valid}"
    );

    // Past the first certificate's end: it is refused, the new one (same key) logs in.
    wait_until(
        Duration::from_secs(20),
        "the first certificate to end",
        || (!s.login_works(&key, &first)).then_some(()),
    );
    assert!(s.login_works(&key, &second), "{}", s.sshd.log_text());
    assert_eq!(s.status(&id), "granted");

    let out = s.d.jit_json(Some(&s.alice), &["revoke", &id]);
    assert_eq!(out["status"], "revoked", "{out}");
    assert!(s.krl_revokes(&second) && s.krl_revokes(&first));
    assert!(!s.login_works(&key, &second));
}

/// jitd dies (a failpoint aborts it) right after the certificate is signed and before the
/// store records the grant, then right after the KRL is written and before the store records
/// the revoke: every time, not only when a kill happens to land there.
#[test]
fn kill_9_during_grant_and_during_revoke_leaves_no_usable_certificate() {
    let mut s = Setup::start();
    s.d.stop();
    s.d.env = vec![("JITD_FAILPOINT".into(), "after-grant:1".into())];
    s.d.restart();
    let mut cli = s.jit_spawn(&[
        "request",
        "ssh-test/login",
        &s.login.name,
        "--perm",
        "login",
        "--reason",
        "crash during grant",
    ]);
    wait_until(
        Duration::from_secs(15),
        "jitd to abort after the grant",
        || s.d.exited().then_some(()),
    );
    let _ = cli.wait();
    s.d.kill9();
    // jitd is down: the certificate it signed (and never recorded as handed out) is in its
    // ledger.
    let first: Vec<u64> = {
        let path = s.d.state.join("ssh").join(NAME).join("issued");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    };
    assert_eq!(first.len(), 1, "one certificate signed: {first:?}");
    assert!(!s.krl_lists(first[0]));

    s.d.env.clear();
    s.d.restart();
    let all = s.d.jit_json(None, &["ls", "--all"]);
    let id = all[0]["id"].as_u64().expect("the request").to_string();
    s.wait_status(&id, "granted");
    let r = s.show(&id);
    let principal = principal_of(&r);
    let current = cert_info(&s.shown_cert(&id, "current-cert.pub")).0;
    assert_ne!(
        current, first[0],
        "the grant was redone with a new certificate"
    );
    assert_eq!(s.ledger(&principal), [current], "one live certificate");
    assert!(
        s.krl_lists(first[0]),
        "the first attempt's certificate (its key died with jitd) is revoked"
    );
    let (key, cert) = s.creds(&id, "crash");
    assert!(s.login_works(&key, &cert));

    // Dies after the KRL is written, before the revoke is recorded.
    s.d.stop();
    s.d.env = vec![("JITD_FAILPOINT".into(), "after-revoke:1".into())];
    s.d.restart();
    let mut cli = s.jit_spawn(&["revoke", &id]);
    wait_until(
        Duration::from_secs(15),
        "jitd to abort after the revoke",
        || s.d.exited().then_some(()),
    );
    let _ = cli.wait();
    s.d.kill9();
    assert!(s.krl_revokes(&cert), "the KRL was written before the abort");
    assert!(!s.login_works(&key, &cert), "refused while jitd is down");
    s.d.env.clear();
    s.d.restart();
    s.wait_status(&id, "revoked");
    assert!(s.krl_revokes(&cert));
    assert!(s.ledger(&principal).is_empty());
    assert!(!s.login_works(&key, &cert));
}

#[test]
fn a_certificate_no_request_owns_is_revoked_at_start() {
    let mut s = Setup::start();
    // A store restored from a backup taken before a grant: the certificate is an orphan.
    s.d.stop();
    let store = s.d.state.join("jit.redb");
    let backup = s.tmp.path().join("jit.redb.backup");
    std::fs::copy(&store, &backup).expect("back up the store");
    s.d.restart();
    let r = s.request(&[]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = id_of(&r);
    let principal = principal_of(&r);
    let (key, cert) = s.creds(&id, "orphan");
    assert!(s.login_works(&key, &cert));
    s.d.kill9();
    std::fs::copy(&backup, &store).expect("restore the store");
    s.d.restart();
    wait_until(
        Duration::from_secs(15),
        "the orphan certificate to be revoked",
        || s.krl_revokes(&cert).then_some(()),
    );
    assert!(!s.login_works(&key, &cert));
    assert!(s.ledger(&principal).is_empty());
    wait_until(Duration::from_secs(10), "the audit entry", || {
        let audit =
            String::from_utf8_lossy(&s.d.jit(None, &["--json", "audit"]).stdout).into_owned();
        (audit.contains("orphan.removed") && audit.contains(&principal)).then_some(())
    });
}

/// `jit connect` must not start an ssh that outlives the access: options that fork ssh into
/// the background (`-f`) or share its connection (`-M`, `-S`, `-O`, `-o ControlMaster…`) are
/// refused, and a config that turns on connection sharing (ControlMaster auto with
/// ControlPersist, as many users have) is overridden, so revoke still ends everything.
#[test]
fn connect_refuses_ssh_options_that_escape_and_a_control_master_config_still_ends_at_revoke() {
    let s = Setup::start();
    let r = s.request(&[]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = id_of(&r);

    for extra in [
        &["-f", "sleep", "600"][..],
        &["-fN"],
        &["-M", "true"],
        &["-S", "/tmp/x", "true"],
        &["-Ocheck", "true"],
        &["-o", "ControlMaster=yes", "true"],
        &["-oControlPath=/tmp/x", "true"],
        &["-o", "controlpersist 600", "true"],
    ] {
        let out = s.connect(&id, extra);
        assert!(!out.status.success(), "{extra:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("would outlive the access"),
            "{extra:?}: a clear error: {err}"
        );
        assert!(s.ssh_client("").is_none(), "{extra:?}: no ssh was started");
    }
    // A remote command may use the same letters.
    let out = s.connect(&id, &["echo", "-f"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "-f");

    // A config of the user's that makes every ssh a persistent connection master.
    let conf_dir = tempfile::Builder::new()
        .prefix("jit-ssh-conf-")
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(conf_dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let conf = conf_dir.path().join("config");
    std::fs::write(
        &conf,
        format!(
            "Host *\n  ControlMaster auto\n  ControlPersist 600\n  ControlPath {}/cm-%C\n",
            conf_dir.path().display()
        ),
    )
    .expect("write config");
    std::os::unix::fs::chown(conf_dir.path(), Some(s.alice.uid), Some(s.alice.gid)).expect("chown");
    std::os::unix::fs::chown(&conf, Some(s.alice.uid), Some(s.alice.gid)).expect("chown");
    let nap = nap();
    let conf_text = conf.to_string_lossy().into_owned();
    let mut args = vec!["connect", id.as_str(), "--", "-F", conf_text.as_str()];
    args.extend(CLIENT_OPTIONS.iter().skip(2));
    args.extend(["-tt", "sleep", nap.as_str()]);
    let mut live = s.jit_spawn(&args);
    wait_until(Duration::from_secs(15), "the remote command to run", || {
        Setup::process(s.login.uid, &["sleep", &nap])
    });
    let out = s.d.jit_json(Some(&s.alice), &["revoke", &id]);
    assert_eq!(out["status"], "revoked", "{out}");
    wait_until(Duration::from_secs(10), "jit connect to exit", || {
        live.try_wait().ok().flatten()
    });
    wait_until(Duration::from_secs(10), "the remote command to end", || {
        Setup::process(s.login.uid, &["sleep", &nap])
            .is_none()
            .then_some(())
    });
    wait_until(
        Duration::from_secs(10),
        "no ssh of alice's (a connection master) to be left",
        || s.ssh_client("").is_none().then_some(()),
    );
    let sockets: Vec<_> = std::fs::read_dir(conf_dir.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with("cm-"))
        .collect();
    assert!(sockets.is_empty(), "no control socket: {sockets:?}");
}

/// The KRL is the only thing that stops a revoked certificate before its end: losing it (a
/// restore, a mistaken `rm`) must not bring revoked certificates back. jitd keeps what it
/// revoked until the certificates expire and rebuilds the KRL from it.
#[test]
fn a_lost_krl_is_rebuilt_and_revoked_certificates_stay_refused() {
    let mut s = Setup::start();
    let r = s.request(&[]);
    assert_eq!(r["status"], "granted", "{r}");
    let id = id_of(&r);
    let (key, cert) = s.creds(&id, "lost");
    assert!(s.login_works(&key, &cert));
    let out = s.d.jit_json(Some(&s.alice), &["revoke", &id]);
    assert_eq!(out["status"], "revoked", "{out}");
    assert!(!s.login_works(&key, &cert));

    s.d.stop();
    std::fs::remove_file(&s.krl).expect("remove the KRL");
    s.d.restart();
    assert!(s.krl.exists(), "jitd made a KRL");
    assert!(
        s.krl_revokes(&cert),
        "the rebuilt KRL has the revoked certificate"
    );
    assert!(
        s.d.log_text().contains("ERROR"),
        "a lost KRL is an error in the log"
    );
    // sshd accepts certificates again (a new grant logs in), but not the revoked one.
    let again = s.request(&[]);
    assert_eq!(again["status"], "granted", "{again}");
    let (new_key, new_cert) = s.creds(&id_of(&again), "after");
    assert!(s.login_works(&new_key, &new_cert), "{}", s.sshd.log_text());
    assert!(!s.login_works(&key, &cert), "still refused");

    // Lost again while jitd runs: the next revoke rebuilds it with both.
    std::fs::remove_file(&s.krl).expect("remove the KRL");
    let out = s.d.jit_json(Some(&s.alice), &["revoke", &id_of(&again)]);
    assert_eq!(out["status"], "revoked", "{out}");
    assert!(s.krl_revokes(&cert) && s.krl_revokes(&new_cert));
    assert!(!s.login_works(&key, &cert) && !s.login_works(&new_key, &new_cert));
}
