//! The crash campaign: request → grant → use → revoke or expire, against real PostgreSQL,
//! MariaDB and Redis, with jitd killed at random points and restarted; after every restart
//! it checks that nothing acknowledged was lost and that nothing jit made outlives its grant.
//!
//! Kills come two ways: `kill -9` at a random moment (inside granting, revoking, between
//! calls), and, for some lives, the debug build's failpoints (`JITD_FAILPOINT`), which abort
//! jitd right after an integration changed the target and before the store recorded it —
//! the window a random kill rarely hits. After each restart:
//!
//! - every request a client was told about is still there, and a request once seen closed
//!   has not changed;
//! - within 5 s, every PostgreSQL role, MariaDB account and Redis ACL user with the
//!   campaign's prefix belongs to a request that is still open (`granting`, `granted`,
//!   `revoking`): a principal of a closed request or of no request is a leak.
//!
//! At the end every grant is left to expire and nothing with the prefix may remain.
//! `jit-crash --kills N` runs it from the command line; an e2e test runs a short one.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jit_api::methods::{
    CreateParams, CredentialsReveal, DecideParams, GrantRevoke, IdParams, ListParams,
    RequestCreate, RequestGet, RequestList, RequestWait, Scope, WaitFor, WaitParams,
};
use jit_api::wire::{RpcError, decode_response, encode_call};
use jit_api::{Method, Status};
use rand::Rng;

use crate::Daemon;
use crate::pg::{self, TestDb};

/// What a campaign found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// jitd lives ended by `kill -9`.
    pub kills: usize,
    /// jitd lives ended by a failpoint's abort (also a kill: no cleanup ran).
    pub aborts: usize,
    /// Requests acknowledged to a client.
    pub cycles: usize,
    /// Logins with handed-out credentials that worked while granted.
    pub logins: usize,
    /// Acknowledged requests missing or changed after a restart.
    pub lost: usize,
    /// Principals that outlived their grant (or had none) 5 s after a restart.
    pub leaks: usize,
    /// What went wrong, in words.
    pub problems: Vec<String>,
}

const MARIADB_ADMIN: &str = "mysql://root@127.0.0.1:3306";

/// The three integrations the campaign cycles through.
const INTEGRATIONS: [&str; 3] = ["pg", "maria", "cache"];

/// A client that reports a dead daemon instead of panicking.
struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next: u64,
}

impl Client {
    fn open(path: &Path) -> Option<Client> {
        let s = UnixStream::connect(path).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        Some(Client {
            reader: BufReader::new(s.try_clone().ok()?),
            writer: s,
            next: 1,
        })
    }

    /// `None` when the daemon went away; `Some(Err)` when it refused.
    fn call<M: Method>(&mut self, p: &M::Params) -> Option<Result<M::Output, RpcError>> {
        let id = self.next;
        self.next += 1;
        self.writer
            .write_all(encode_call::<M>(id, p).as_bytes())
            .ok()?;
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(n) if n > 0 => Some(decode_response::<M>(id, &line)),
            _ => None,
        }
    }
}

/// What clients were told, shared by the worker and the checker.
#[derive(Debug, Default)]
struct Ledger {
    /// Every acknowledged request: its integration.
    acked: HashMap<u64, &'static str>,
    /// Requests seen closed, with the status they closed with.
    closed: HashMap<u64, Status>,
}

fn run_sql(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run client");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn maria_admin(sql: &str) -> String {
    run_sql(
        Command::new("mysql")
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                "3306",
                "-u",
                "root",
                "-N",
                "-B",
                "-e",
            ])
            .arg(sql),
    )
}

fn redis_admin(args: &[&str]) -> String {
    run_sql(
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", "6379"])
            .args(args),
    )
}

/// Every principal with `prefix` in the three servers: (integration, name).
fn principals(prefix: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for r in pg::roles_with_prefix(prefix) {
        out.push(("pg", r));
    }
    for u in maria_admin(&format!(
        "SELECT DISTINCT User FROM mysql.user WHERE User LIKE '{prefix}%'"
    ))
    .lines()
    {
        out.push(("maria", u.trim().to_owned()));
    }
    for u in redis_admin(&["ACL", "USERS"]).lines() {
        if u.starts_with(prefix) {
            out.push(("cache", u.trim().to_owned()));
        }
    }
    out
}

/// The request a principal `<prefix><user>_<id>_<tag>` was made for.
fn request_of(prefix: &str, principal: &str) -> Option<u64> {
    let rest = principal.strip_prefix(prefix)?;
    let mut parts = rest.rsplitn(3, '_');
    let _tag = parts.next()?;
    parts.next()?.parse().ok()
}

/// Logs in with handed-out credentials; true when the server let it in.
fn login(integration: &str, user: &str, secret: &str, setup: &Setup) -> bool {
    let (pg_db, maria_db) = (setup.pg_db.name.as_str(), setup.maria_db.as_str());
    let key = setup.keys.replace('*', "probe");
    let out = match integration {
        "pg" => Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                user,
                "-d",
                pg_db,
                "-Atc",
                "select 1",
            ])
            .env("PGPASSWORD", secret)
            .env("PGCONNECT_TIMEOUT", "5")
            .output(),
        "maria" => Command::new("mysql")
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                "3306",
                "-u",
                user,
                maria_db,
                "-N",
                "-e",
            ])
            .arg("select 1")
            .env("MYSQL_PWD", secret)
            .output(),
        _ => Command::new("redis-cli")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                "6379",
                "--user",
                user,
                "--no-auth-warning",
            ])
            .args(["EXISTS", &key])
            .env("REDISCLI_AUTH", secret)
            .output(),
    };
    out.is_ok_and(|o| {
        let text = String::from_utf8_lossy(&o.stdout);
        // `select 1` answers 1; EXISTS on the never-written probe key answers 0.
        o.status.success() && (text.trim() == "1" || text.trim() == "0")
    })
}

struct Setup {
    prefix: String,
    pg_db: TestDb,
    maria_db: String,
    keys: String,
}

impl Setup {
    fn new() -> Setup {
        let tag = crate::unique();
        let maria_db = format!("jc{tag}");
        maria_admin(&format!("CREATE DATABASE {maria_db}"));
        Setup {
            prefix: format!("jc{tag}_"),
            pg_db: TestDb::create(),
            maria_db,
            keys: format!("jc{tag}:*"),
        }
    }

    fn config(&self) -> String {
        format!(
            r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "pg"
kind = "postgres"
url = "{pg}"
role_prefix = "{p}"

[[integrations]]
name = "maria"
kind = "mariadb"
url = "{maria}"
user_prefix = "{p}"

[[integrations]]
name = "cache"
kind = "redis"
url = "redis://127.0.0.1:6379"
user_prefix = "{p}"

[[flows]]
name = "pg"
requesters = ["root"]
integration = "pg"
permissions = ["read"]
max_duration = "1h"

[[flows]]
name = "maria"
requesters = ["root"]
integration = "maria"
permissions = ["read"]
max_duration = "1h"

[[flows]]
name = "cache"
requesters = ["root"]
integration = "cache"
permissions = ["read"]
max_duration = "1h"
"#,
            pg = pg::ADMIN_URL,
            maria = MARIADB_ADMIN,
            p = self.prefix,
        )
    }

    fn create_params(&self, integration: &str, secs: u64) -> CreateParams {
        let (rt, res) = match integration {
            "pg" => ("database", self.pg_db.name.clone()),
            "maria" => ("database", self.maria_db.clone()),
            _ => ("keys", self.keys.clone()),
        };
        CreateParams {
            integration: integration.into(),
            resource_type: rt.into(),
            resources: vec![res],
            permissions: vec!["read".into()],
            duration_secs: Some(secs),
            justification: Some("crash campaign".into()),
            ..CreateParams::default()
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        maria_admin(&format!("DROP DATABASE IF EXISTS {}", self.maria_db));
        // Anything left behind is reported as a leak first; this only keeps reruns clean.
        for (integ, name) in principals(&self.prefix) {
            match integ {
                "pg" => {
                    pg::admin_sql("postgres", &format!("DROP ROLE IF EXISTS \"{name}\""));
                }
                "maria" => {
                    maria_admin(&format!("DROP USER IF EXISTS '{name}'@'%'"));
                }
                _ => {
                    redis_admin(&["ACL", "DELUSER", &name]);
                }
            }
        }
    }
}

/// One cycle after another until the daemon goes away or `stop` is set.
fn worker(
    socket: &Path,
    setup: &Setup,
    ledger: &std::sync::Mutex<Ledger>,
    stop: &AtomicBool,
    report: &std::sync::Mutex<Report>,
) {
    let Some(mut c) = Client::open(socket) else {
        return;
    };
    let mut rng = rand::rng();
    let mut n = rng.random_range(0..INTEGRATIONS.len());
    while !stop.load(Ordering::Relaxed) {
        n = (n + 1) % INTEGRATIONS.len();
        let integ = INTEGRATIONS[n];
        let secs = rng.random_range(1..=3);
        let Some(created) = c.call::<RequestCreate>(&setup.create_params(integ, secs)) else {
            return;
        };
        let Ok(r) = created else {
            continue;
        };
        lock(ledger).acked.insert(r.id, integ);
        lock(report).cycles += 1;
        let Some(Ok(settled)) = c.call::<RequestWait>(&WaitParams {
            id: r.id,
            until: WaitFor::Settled,
            timeout_secs: Some(10),
        }) else {
            return;
        };
        if settled.status == Status::Granted && rng.random_bool(0.25) {
            // Use the access with a real client, as a person would.
            let Some(Ok(creds)) = c.call::<CredentialsReveal>(&IdParams { id: r.id }) else {
                continue;
            };
            for s in &creds.sessions {
                let ok = login(integ, &s.user, &s.secret, setup);
                let still = c
                    .call::<RequestGet>(&IdParams { id: r.id })
                    .and_then(Result::ok)
                    // The target's own clock (VALID UNTIL) ends access at expires_at,
                    // possibly before jitd records the expiry: only a refusal well before
                    // the end is a problem.
                    .is_some_and(|g| {
                        g.status == Status::Granted
                            && g.expires_at.is_some_and(|e| {
                                std::time::SystemTime::from(e)
                                    > std::time::SystemTime::now() + Duration::from_secs(1)
                            })
                    });
                if ok {
                    lock(report).logins += 1;
                } else if still {
                    lock(report).problems.push(format!(
                        "request {} ({integ}): login refused while granted",
                        r.id
                    ));
                }
            }
        }
        if rng.random_bool(0.5) {
            let Some(_) = c.call::<GrantRevoke>(&DecideParams {
                id: r.id,
                reason: Some("crash campaign".into()),
            }) else {
                return;
            };
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Restarts jitd; a failpoint may abort it during recovery: counted, and started again.
fn restart(d: &mut Daemon, env: Vec<(String, String)>, report: &mut Report) {
    d.env = env;
    for _ in 0..20 {
        match d.try_restart() {
            Ok(()) => return,
            Err(_) => {
                report.aborts += 1;
                d.kill9();
                d.env.clear();
            }
        }
    }
    panic!("jitd does not start:\n{}", d.log_text());
}

/// Every stored request's status, read a page of 1,000 at a time (`request.list` with
/// `before`): one call per thousand requests instead of one per request, so the check after
/// each restart stays short as the campaign's history grows.
fn all_statuses(c: &mut Client, d: &Daemon) -> HashMap<u64, Status> {
    let mut out = HashMap::new();
    for closed in [false, true] {
        let mut before = None;
        loop {
            let page = match c.call::<RequestList>(&ListParams {
                closed,
                scope: Scope::All,
                limit: Some(1000),
                before,
                ..ListParams::default()
            }) {
                Some(Ok(page)) => page,
                Some(Err(e)) => panic!("request.list: {}", e.message),
                None => panic!("jitd died during the check:\n{}", d.log_text()),
            };
            let Some(last) = page.last() else {
                break;
            };
            before = Some(last.id);
            out.extend(page.iter().map(|r| (r.id, r.status)));
        }
    }
    out
}

/// After a restart: nothing acknowledged lost, nothing left behind within 5 s.
fn check(d: &Daemon, setup: &Setup, ledger: &std::sync::Mutex<Ledger>, report: &mut Report) {
    let mut c = Client::open(&d.socket).expect("jitd answers after restart");
    let stored = all_statuses(&mut c, d);
    let acked: Vec<(u64, &'static str)> =
        lock(ledger).acked.iter().map(|(k, v)| (*k, *v)).collect();
    for (id, integ) in acked {
        let Some(&status) = stored.get(&id) else {
            report.lost += 1;
            report
                .problems
                .push(format!("request {id} ({integ}) acknowledged, then lost"));
            continue;
        };
        let mut l = lock(ledger);
        if let Some(was) = l.closed.get(&id)
            && *was != status
        {
            report.lost += 1;
            report.problems.push(format!(
                "request {id} ({integ}) was {} and is now {}",
                was.as_str(),
                status.as_str()
            ));
        }
        if !status.is_open() {
            l.closed.insert(id, status);
        }
    }
    // Orphans and grants that came due while jitd was down are removed at start; give that
    // the 5 s the issue allows, then every remaining principal must have an open request.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut bad = Vec::new();
        for (integ, name) in principals(&setup.prefix) {
            let owner = request_of(&setup.prefix, &name);
            let open = match owner {
                Some(id) => match c.call::<RequestGet>(&IdParams { id }) {
                    Some(Ok(r)) => r.status.is_open(),
                    Some(Err(_)) => false,
                    None => panic!("jitd died during the check:\n{}", d.log_text()),
                },
                None => false,
            };
            if !open {
                bad.push(format!(
                    "{integ} principal {name} (request {owner:?}) outlived its grant"
                ));
            }
        }
        if bad.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            report.leaks += bad.len();
            report.problems.extend(bad);
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a campaign of `kills` kills (abort by failpoint included), telling `progress` as it
/// goes.
pub fn run(kills: usize, progress: impl Fn(&str)) -> Report {
    let setup = Arc::new(Setup::new());
    let mut d = Daemon::start_logging(&setup.config(), "info");
    let ledger = Arc::new(std::sync::Mutex::new(Ledger::default()));
    let shared = Arc::new(std::sync::Mutex::new(Report::default()));
    let mut report = Report::default();
    let mut rng = rand::rng();
    let started = Instant::now();
    while report.kills + report.aborts < kills {
        // Half the lives run with a failpoint armed.
        let env = match rng.random_range(0..4) {
            0 => vec![("JITD_FAILPOINT".to_owned(), "after-grant:0.15".to_owned())],
            1 => vec![("JITD_FAILPOINT".to_owned(), "after-revoke:0.15".to_owned())],
            _ => Vec::new(),
        };
        d.kill9();
        restart(&mut d, env, &mut report);
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (socket, setup, ledger, stop, shared) = (
                    d.socket.clone(),
                    setup.clone(),
                    ledger.clone(),
                    stop.clone(),
                    shared.clone(),
                );
                std::thread::spawn(move || worker(&socket, &setup, &ledger, &stop, &shared))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.random_range(100..900)));
        if d.exited() {
            report.aborts += 1;
        } else {
            report.kills += 1;
        }
        d.kill9();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let _ = t.join();
        }
        restart(&mut d, Vec::new(), &mut report);
        check(&d, &setup, &ledger, &mut report);
        if (report.kills + report.aborts) % 10 == 0 {
            let s = lock(&shared);
            progress(&format!(
                "{} kills + {} aborts, {} requests, {} logins, lost {}, leaks {} ({:.0}s)",
                report.kills,
                report.aborts,
                s.cycles,
                s.logins,
                report.lost,
                report.leaks,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    // The last grants expire on their own (at most 3 s): then nothing may remain.
    let open_left = || {
        lock(&ledger)
            .acked
            .keys()
            .copied()
            .collect::<Vec<_>>()
            .into_iter()
            .filter(|id| {
                Client::open(&d.socket)
                    .and_then(|mut c| c.call::<RequestGet>(&IdParams { id: *id }))
                    .and_then(Result::ok)
                    .is_some_and(|r| r.status.is_open())
            })
            .count()
    };
    let until = Instant::now() + Duration::from_secs(30);
    while open_left() > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    let left = principals(&setup.prefix);
    if !left.is_empty() {
        report.leaks += left.len();
        report.problems.extend(
            left.into_iter()
                .map(|(i, n)| format!("{i} principal {n} left after every grant ended")),
        );
    }
    d.stop();
    let s = lock(&shared);
    report.cycles = s.cycles;
    report.logins = s.logins;
    report.problems.extend(s.problems.iter().cloned());
    report
}
