//! PostgreSQL stopped when a revoke is due: the request shows revoking with the error, and
//! the role goes within seconds of the server coming back. Uses a private cluster, so the
//! shared server other tests use is never stopped.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use jit_tests::users::Group;
use jit_tests::{Daemon, wait_until};

struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

fn pg_bin(name: &str) -> String {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("pg_config");
    format!("{}/{name}", String::from_utf8_lossy(&out.stdout).trim())
}

fn as_postgres(args: &[&str]) {
    let out = Command::new("runuser")
        .arg("-u")
        .arg("postgres")
        .arg("--")
        .args(args)
        .output()
        .expect("runuser");
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("jit-pg-")
            .tempdir()
            .expect("dir");
        nix::unistd::chown(
            dir.path(),
            Some(
                nix::unistd::User::from_name("postgres")
                    .expect("pw")
                    .expect("postgres")
                    .uid,
            ),
            None,
        )
        .expect("chown");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let data = dir.path().join("data");
        as_postgres(&[
            &pg_bin("initdb"),
            "-D",
            data.to_str().expect("utf8"),
            "-A",
            "trust",
            "-U",
            "postgres",
        ]);
        let c = Cluster { dir, port };
        c.up();
        c
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").to_string_lossy().into_owned();
        as_postgres(&[
            &pg_bin("pg_ctl"),
            "-D",
            &self.data(),
            "-o",
            &opts,
            "-l",
            &log,
            "-w",
            "start",
        ]);
    }

    fn down(&self) {
        as_postgres(&[
            &pg_bin("pg_ctl"),
            "-D",
            &self.data(),
            "-m",
            "fast",
            "-w",
            "stop",
        ]);
    }

    fn roles(&self, like: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-Atc",
            ])
            .arg(format!(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE '{like}%'"
            ))
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &pg_bin("pg_ctl"),
                "-D",
                &self.data(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

/// How long the server stays down.
const OUTAGE: Duration = Duration::from_secs(60);

#[test]
fn revoke_waits_out_a_postgres_outage_and_never_reports_gone_early() {
    let pg = Cluster::start();
    let dev = Group::create("dev");
    let dba = Group::create("dba");
    let prefix = crate::prefix();
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
    let d = Daemon::start(&crate::config(&prefix, &url, &dev, &dba));
    let r = d.jit_json(
        None,
        &[
            "request",
            "pg-main/database",
            "postgres",
            "--perm",
            "read",
            "--for",
            "2s",
            "--reason",
            "outage",
        ],
    );
    assert_eq!(r["status"], "granted", "{r}");
    let id = r["id"].as_u64().expect("id").to_string();
    let role = r["sessions"][0]["principal"]
        .as_str()
        .expect("role")
        .to_owned();
    pg.down();
    let v = wait_until(Duration::from_secs(20), "revoking with an error", || {
        let v = d.jit_json(None, &["show", &id]);
        (v["status"] == "revoking" && v["revoking"]["error"].is_string()).then_some(v)
    });
    assert_eq!(v["revoking"]["outcome"], "expired");
    assert!(v["revoking"]["next_retry_at"].is_string());
    let human = String::from_utf8_lossy(&d.jit(None, &["show", &id]).stdout).into_owned();
    assert!(human.to_lowercase().contains("revoking"), "{human}");
    // A minute down: the revoke's backoff grows to its 30 s cap meanwhile, and nothing may
    // be reported gone while the role still exists.
    let outage = Instant::now();
    while outage.elapsed() < OUTAGE {
        assert_eq!(
            d.jit_json(None, &["show", &id])["status"],
            "revoking",
            "must not be reported gone while the server is down"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let attempts = |v: &serde_json::Value| v["revoking"]["attempts"].as_u64().unwrap_or(0);
    let seen = attempts(&d.jit_json(None, &["show", &id]));
    assert!(
        seen >= 4,
        "retried with backoff during the outage: {seen} attempts"
    );
    // Come back just after a failed retry: the next one by backoff is 24 s or more away, so
    // only noticing the server's return can meet the 2 s goal.
    wait_until(Duration::from_secs(45), "another failed retry", || {
        (attempts(&d.jit_json(None, &["show", &id])) > seen).then_some(())
    });
    pg.up();
    let back = SystemTime::now();
    assert_eq!(
        pg.roles(&role),
        role,
        "the role outlived the outage, as it should until revoked"
    );
    let done = wait_until(
        Duration::from_secs(30),
        "expired after the server returned",
        || {
            let v = d.jit_json(None, &["show", &id]);
            (v["status"] == "expired").then_some(v)
        },
    );
    let ended = time::OffsetDateTime::parse(
        done["ended_at"].as_str().expect("ended_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    let after = (ended - time::OffsetDateTime::from(back)).max(time::Duration::ZERO);
    assert!(
        after < Duration::from_secs(2),
        "revoke completed {after:?} after the server returned; the goal is under 2 s"
    );
    assert_eq!(pg.roles(&prefix), "", "role must be gone");
}
