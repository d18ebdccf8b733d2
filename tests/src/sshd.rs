//! A real OpenSSH server for tests: `/usr/sbin/sshd` on a loopback port of its own, with its
//! own `sshd_config` and host key in a temp dir, trusting a CA (`TrustedUserCAKeys`) and
//! reading a KRL (`RevokedKeys`); login users made with `useradd`; and the real `ssh` client.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::wait_until;

/// The server binary (Debian's openssh-server).
pub const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd, stopped when dropped.
pub struct Sshd {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its log (`-e`: what it would send to syslog).
    pub log: PathBuf,
    dir: tempfile::TempDir,
    child: Child,
}

impl Sshd {
    /// Starts sshd trusting the CA public key `ca_pub`, reading the KRL `krl`, letting only
    /// `user` log in, with certificates only (no passwords, no `authorized_keys`, no PAM).
    /// Panics (never skips) when sshd is not installed.
    pub fn start(ca_pub: &Path, krl: &Path, user: &str) -> Sshd {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} is missing: install openssh-server (scripts/test does: apt-get install openssh-server)"
        );
        // sshd's privilege separation directory (Debian's service creates it at boot).
        std::fs::create_dir_all("/run/sshd").expect("mkdir /run/sshd");
        let dir = tempfile::Builder::new()
            .prefix("jit-sshd-")
            .tempdir()
            .expect("temp dir");
        let host_key = dir.path().join("host_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "jit test host", "-f"])
            .arg(&host_key)
            .output()
            .expect("ssh-keygen for the host key");
        assert!(out.status.success(), "host key: {out:?}");
        let log = dir.path().join("sshd.log");
        // A free port can be taken between asking and binding: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let config = dir.path().join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\n\
                     ListenAddress 127.0.0.1\n\
                     HostKey {host_key}\n\
                     PidFile none\n\
                     UsePAM no\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     PubkeyAuthentication yes\n\
                     AuthorizedKeysFile none\n\
                     TrustedUserCAKeys {ca_pub}\n\
                     RevokedKeys {krl}\n\
                     StrictModes no\n\
                     PermitRootLogin no\n\
                     AllowUsers {user}\n\
                     LogLevel VERBOSE\n\
                     MaxStartups 100\n",
                    host_key = host_key.display(),
                    ca_pub = ca_pub.display(),
                    krl = krl.display(),
                ),
            )
            .expect("write sshd_config");
            let test = Command::new(SSHD)
                .arg("-t")
                .arg("-f")
                .arg(&config)
                .output()
                .expect("sshd -t");
            assert!(
                test.status.success(),
                "sshd -t refused the config: {}",
                String::from_utf8_lossy(&test.stderr)
            );
            let log_file = std::fs::File::create(&log).expect("sshd log");
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("spawn sshd");
            let up = wait_until(Duration::from_secs(10), "sshd to listen", || {
                if let Ok(Some(_)) = child.try_wait() {
                    return Some(false);
                }
                let s = TcpStream::connect(("127.0.0.1", port)).ok()?;
                s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                let mut banner = String::new();
                BufReader::new(s).read_line(&mut banner).ok()?;
                banner.starts_with("SSH-2.0-").then_some(true)
            });
            if up {
                return Sshd {
                    port,
                    log,
                    dir,
                    child,
                };
            }
            let _ = child.wait();
        }
        panic!(
            "sshd did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// The temp dir of its config and host key.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What sshd logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Unix user that can log in over SSH (a shell, an account that is not locked), and no
/// home directory; removed when dropped.
pub struct LoginUser {
    /// Its name: the principal certificates name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
}

impl LoginUser {
    /// Creates `jt<random>l`.
    pub fn create() -> LoginUser {
        let name = format!("jt{}l", crate::unique());
        for (cmd, args) in [
            (
                "useradd",
                vec!["-M", "-N", "-g", "nogroup", "-s", "/bin/sh", name.as_str()],
            ),
            // Without PAM, sshd refuses accounts whose password field is locked (`!`); `*`
            // allows no password login but is not locked.
            ("usermod", vec!["-p", "*", name.as_str()]),
        ] {
            let out = Command::new(cmd).args(&args).output().expect(cmd);
            assert!(out.status.success(), "{cmd} {args:?}: {out:?}");
        }
        let uid = nix::unistd::User::from_name(&name)
            .expect("getpwnam")
            .expect("user exists")
            .uid
            .as_raw();
        LoginUser { name, uid }
    }
}

impl Drop for LoginUser {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .output();
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// The options that make the `ssh` client usable unattended against a test server: no
/// prompts, no user config, no known-hosts file (the host key is the test's own).
pub const CLIENT_OPTIONS: [&str; 12] = [
    "-F",
    "/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=10",
];

/// Runs the real `ssh` with a private key and its certificate (files, 0600) as `login` on
/// the server, running `command` there.
pub fn ssh(port: u16, key: &Path, cert: &Path, login: &str, command: &str) -> Output {
    Command::new("ssh")
        .args(CLIENT_OPTIONS)
        .arg("-i")
        .arg(key)
        .arg("-o")
        .arg(format!("CertificateFile={}", cert.display()))
        .args(["-o", "IdentitiesOnly=yes", "-p"])
        .arg(port.to_string())
        .arg(format!("{login}@127.0.0.1"))
        .arg(command)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh")
}
