//! `jit-bench`: the benchmarks behind the README's Performance table, run against the real
//! `jitd` binary over the real socket.
//!
//! ```text
//! cargo build --release --workspace --bins && target/release/jit-bench [SUBCOMMAND] [--secs N] [--clients N]
//! ```
//!
//! - `rtt`: round trip of the cheapest read calls vs a raw Unix-socket echo, same client, same run;
//! - `calls`: calls per second from 50 concurrent clients making cheap reads (`catalog.list`,
//!   `request.get`, `request.list`), with p50/p99;
//! - `creates`: durable request creates per second from 50 concurrent clients (dry-run, auto);
//! - `expiry`: expiry lag (deadline → access gone and recorded) of probe grants while 100,000
//!   dry-run grants are active, and the daemon's RSS at that point;
//! - `restart`: time from starting jitd to its first answer, on a store of 1,000,000 requests;
//! - `pg-grant`: auto-approved PostgreSQL request → granted → a real login works, vs the
//!   integration's SQL run directly over open connections (and the same login), same run;
//! - `due-burst`: 1,000 grants due within the same second, dry-run and PostgreSQL: time until
//!   the last is recorded expired (and, for PostgreSQL, until no role is left);
//! - `ls`: wall time of the real `jit ls` process with 50 open requests, vs `/bin/true` and a
//!   Rust hello-world, same run; then again once the caller also has 10,000 closed requests;
//! - `session-kill`: `grant.revoke` sent → a live `psql` session of the granted role is gone;
//! - `load`: 50 clients (`--clients`), each its own Unix user, for 60 s (`--secs`) of mixed
//!   calls on a dry-run integration; every acknowledged create read back; exits 1 on any error
//!   or loss (see `jit_tests::load`);
//! - `all`: every one of the above, in this order.
//!
//! `load-worker` is internal: one load client, started by `load` as its user.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use jit_api::methods::{
    CatalogList, CreateParams, CredentialsReveal, DecideParams, Empty, EventsSubscribe,
    GrantRevoke, IdParams, ListParams, RequestCreate, RequestGet, RequestList, RequestWait,
    SubscribeParams, WaitFor, WaitParams,
};
use jit_api::{Request, Status};
use jit_tests::stats::{summary, summary_ms};
use jit_tests::support::Conn;
use jit_tests::{Daemon, load, pg, wait_until};
use tokio_postgres::NoTls;

const CONFIG: &str = r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = { database = ["read", "write"] }

[[flows]]
name = "demo-any"
requesters = ["*"]
integration = "demo"
max_duration = "8h"
"#;

fn create(resource: &str, secs: u64) -> CreateParams {
    create_on("demo", resource, secs)
}

fn create_on(integration: &str, resource: &str, secs: u64) -> CreateParams {
    CreateParams {
        integration: integration.into(),
        resource_type: "database".into(),
        resources: vec![resource.into()],
        permissions: vec!["read".into()],
        duration_secs: Some(secs),
        justification: None,
        ..CreateParams::default()
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rtt() {
    println!("\n# rtt: 20,000 sequential calls each, one connection");
    let dir = tempfile::tempdir().expect("dir");
    let echo_path = dir.path().join("echo.sock");
    let listener = UnixListener::bind(&echo_path).expect("bind");
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                let mut w = s;
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if w.write_all(line.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
            });
        }
    });
    let n = 20_000;
    let payload = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"catalog.list\",\"params\":{}}\n";
    let s = UnixStream::connect(&echo_path).expect("connect");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = s;
    let mut raw = Vec::with_capacity(n);
    let mut line = String::new();
    for _ in 0..n {
        let t = Instant::now();
        w.write_all(payload.as_bytes()).expect("write");
        line.clear();
        r.read_line(&mut line).expect("read");
        raw.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (e50, e99) = summary("raw unix-socket echo (same client)", raw);
    let d = Daemon::start_logging(CONFIG, "info");
    let mut c = d.connect();
    let id = c
        .call::<RequestCreate>(&create("rtt", 3600))
        .expect("create")
        .id;
    let mut get = Vec::with_capacity(n);
    let mut cat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        c.call::<RequestGet>(&IdParams { id }).expect("get");
        get.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        c.call::<CatalogList>(&Empty {}).expect("catalog");
        cat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (g50, g99) = summary("jitd request.get (store read)", get);
    let (c50, c99) = summary("jitd catalog.list (no store)", cat);
    println!(
        "ratio to echo: request.get {:.2}x p50 / {:.2}x p99; catalog.list {:.2}x p50 / {:.2}x p99",
        g50 / e50,
        g99 / e99,
        c50 / e50,
        c99 / e99
    );
}

/// Creates `total` requests from `clients` connections at once; returns the rate and the requests.
fn flood(d: &Daemon, clients: usize, total: usize, secs: u64, tag: &str) -> (f64, Vec<Request>) {
    flood_with(d, clients, total, tag, move |r| create(&r, secs))
}

/// Like [`flood`], with the parameters of each create made by `make` from a unique name.
fn flood_with(
    d: &Daemon,
    clients: usize,
    total: usize,
    tag: &str,
    make: impl Fn(String) -> CreateParams + Send + Sync + 'static,
) -> (f64, Vec<Request>) {
    let per = total / clients;
    let make = Arc::new(make);
    let socket = Arc::new(d.socket.clone());
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|k| {
            let socket = socket.clone();
            let make = make.clone();
            let tag = tag.to_owned();
            std::thread::spawn(move || {
                let mut c = Conn::open(&socket);
                (0..per)
                    .map(|i| {
                        c.call::<RequestCreate>(&make(format!("{tag}{k}-{i}")))
                            .expect("create")
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let all: Vec<Request> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("client"))
        .collect();
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    (rate, all)
}

fn creates() {
    println!(
        "\n# creates: 50 concurrent clients, 100,000 auto-approved dry-run requests, each durable before its answer"
    );
    let d = Daemon::start_logging(CONFIG, "info");
    let (rate, all) = flood(&d, 50, 100_000, 3600, "c");
    println!("{} creates in total: {rate:.0} creates/s", all.len());
}

fn expiry() {
    println!("\n# expiry: lag of 2,000 probe grants while 100,000 dry-run grants are active");
    let d = Daemon::start_logging(CONFIG, "info");
    let (_, active) = flood(&d, 50, 100_000, 7200, "a");
    let pid = d.pid();
    let mut c = d.connect();
    // A subscriber (root sees every request) notes when each `expired` event arrives: that
    // is after the record is durable, so deadline → arrival is the lag to "recorded".
    let mut sub = d.connect();
    sub.call::<EventsSubscribe>(&SubscribeParams { request: None })
        .expect("subscribe");
    let arrived: Arc<std::sync::Mutex<std::collections::HashMap<u64, SystemTime>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = {
        let arrived = arrived.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Some(v) = sub.next_line(Duration::from_millis(200)) else {
                    continue;
                };
                let event = &v["params"]["result"];
                if event["kind"] == "expired"
                    && let Some(id) = event["request"]["id"].as_u64()
                {
                    arrived
                        .lock()
                        .expect("arrivals")
                        .insert(id, SystemTime::now());
                }
            }
        })
    };
    let mut probes = Vec::new();
    // 2,000 probes expiring over ~10 s (created 200/s with a 5 s duration).
    for i in 0..2000 {
        probes.push(
            c.call::<RequestCreate>(&create(&format!("p{i}"), 5))
                .expect("probe")
                .id,
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let rss_active = rss_kib(pid);
    let mut lags = Vec::new();
    let mut recorded = Vec::new();
    for &id in &probes {
        let r = loop {
            let r = c.call::<RequestGet>(&IdParams { id }).expect("get");
            if !r.status.is_open() {
                break r;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(r.status, Status::Expired);
        let due = SystemTime::from(r.expires_at.expect("expires"));
        let gone = SystemTime::from(r.ended_at.expect("ended"));
        lags.push(gone.duration_since(due).unwrap_or_default().as_secs_f64() * 1e6);
        let seen = wait_until(Duration::from_secs(10), "the expired event", || {
            arrived.lock().expect("arrivals").get(&id).copied()
        });
        recorded.push(seen.duration_since(due).unwrap_or_default().as_secs_f64() * 1e6);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    listener.join().expect("listener");
    summary("expiry lag (deadline → access gone)", lags);
    summary(
        "expiry lag (deadline → expired durable, event at a subscriber)",
        recorded,
    );
    println!(
        "active grants: {}; jitd RSS {:.1} MiB",
        active.len(),
        rss_active as f64 / 1024.0
    );
}

fn restart() {
    println!("\n# restart: 1,000,000 stored requests (990,000 closed, 10,000 granted)");
    let d = Daemon::start_logging(CONFIG, "info");
    let mut d = d;
    d.stop();
    let t = Instant::now();
    jit_tests::bench_store::fill(&d.state.join("jit.redb"), 990_000, 10_000);
    println!(
        "store filled in {:.1}s ({} MiB)",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(d.state.join("jit.redb"))
            .map(|m| m.len() / (1 << 20))
            .unwrap_or(0)
    );
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        d.restart();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        d.stop();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "restart to first answer: median {:.0} ms (runs: {:?})",
        times[times.len() / 2],
        times.iter().map(|t| format!("{t:.0}")).collect::<Vec<_>>()
    );
}

fn calls(secs: f64) {
    let clients = 50;
    println!(
        "\n# calls: {clients} concurrent clients, each its own connection, for {secs:.0} s: catalog.list, request.get, request.list in turn"
    );
    let d = Daemon::start_logging(CONFIG, "info");
    let mut c = d.connect();
    // What request.list returns: the caller's 5 open requests.
    let ids: Arc<Vec<u64>> = Arc::new(
        (0..5)
            .map(|i| {
                c.call::<RequestCreate>(&create(&format!("calls{i}"), 3600))
                    .expect("create")
                    .id
            })
            .collect(),
    );
    let barrier = Arc::new(std::sync::Barrier::new(clients + 1));
    let handles: Vec<_> = (0..clients)
        .map(|k| {
            let socket = d.socket.clone();
            let ids = ids.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(&socket);
                let mut lat: [Vec<f64>; 3] = Default::default();
                barrier.wait();
                let end = Instant::now() + Duration::from_secs_f64(secs);
                let mut i = k;
                while Instant::now() < end {
                    let t = Instant::now();
                    match i % 3 {
                        0 => drop(c.call::<CatalogList>(&Empty {}).expect("catalog")),
                        1 => drop(
                            c.call::<RequestGet>(&IdParams {
                                id: ids[i % ids.len()],
                            })
                            .expect("get"),
                        ),
                        _ => {
                            let list = c.call::<RequestList>(&ListParams::default()).expect("list");
                            assert_eq!(list.len(), ids.len());
                        }
                    }
                    lat[i % 3].push(t.elapsed().as_secs_f64() * 1e6);
                    i += 1;
                }
                lat
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut all: [Vec<f64>; 3] = Default::default();
    for h in handles {
        for (m, v) in h.join().expect("client").into_iter().enumerate() {
            all[m].extend(v);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let total: usize = all.iter().map(Vec::len).sum();
    let [cat, get, list] = all;
    let mixed: Vec<f64> = cat.iter().chain(&get).chain(&list).copied().collect();
    summary("catalog.list", cat);
    summary("request.get", get);
    summary("request.list (5 requests)", list);
    summary("all calls", mixed);
    println!(
        "{total} calls in {elapsed:.1} s: {:.0} calls/s (goal ≥ 20,000/s)",
        total as f64 / elapsed
    );
}

fn pg_config(prefix: &str) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "pg"
kind = "postgres"
url = "{}"
role_prefix = "{prefix}"

[[flows]]
name = "pg-auto"
requesters = ["root"]
integration = "pg"
permissions = ["read"]
approval = "auto"
max_duration = "8h"
"#,
        pg::ADMIN_URL
    )
}

/// A role prefix unique to one run.
fn pg_prefix() -> String {
    format!("jb{}_", jit_tests::unique())
}

fn pg_params(db: &str, secs: u64) -> CreateParams {
    CreateParams {
        integration: "pg".into(),
        resource_type: "database".into(),
        resources: vec![db.into()],
        permissions: vec!["read".into()],
        duration_secs: Some(secs),
        justification: None,
        ..CreateParams::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// An open connection to `db` as `user`, or the server's refusal.
async fn pg_connect(
    db: &str,
    user: &str,
    password: Option<&str>,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host("127.0.0.1").port(5432).user(user).dbname(db);
    if let Some(p) = password {
        cfg.password(p);
    }
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Logs in as `user` and reads the granted table: the role is usable.
async fn pg_use(db: &str, user: &str, password: &str) -> Result<(), tokio_postgres::Error> {
    let c = pg_connect(db, user, Some(password)).await?;
    c.query_one("SELECT count(*) FROM orders", &[]).await?;
    Ok(())
}

/// The statements `daemon/src/integrations/postgres.rs` runs for a new `read` grant on one
/// database, in its order, on open connections (`admin` to the maintenance database, `dbc` to
/// `db`), including its two look-ups and the SCRAM verifier it computes. Keep in step with it.
async fn direct_grant(
    admin: &tokio_postgres::Client,
    dbc: &tokio_postgres::Client,
    db: &str,
    role: &str,
    password: &str,
) -> Result<(), tokio_postgres::Error> {
    use postgres_protocol::escape::{escape_identifier as ident, escape_literal as lit};
    admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1 AND datallowconn AND NOT datistemplate",
            &[&db],
        )
        .await?;
    let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
    let until = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]+00"
        ))
        .expect("format");
    admin
        .query_opt(
            "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1",
            &[&role],
        )
        .await?;
    let q = ident(role);
    admin
        .batch_execute(&format!(
            "BEGIN; CREATE ROLE {q} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {} VALID UNTIL {}; \
             COMMENT ON ROLE {q} IS {}; COMMIT",
            lit(&verifier),
            lit(&until),
            lit("managed by jit-bench")
        ))
        .await?;
    admin
        .batch_execute(&format!("GRANT CONNECT ON DATABASE {} TO {q}", ident(db)))
        .await?;
    let schemas = dbc
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'",
            &[],
        )
        .await?;
    let mut sql = String::from("BEGIN;");
    for row in &schemas {
        let s = ident(row.get::<_, &str>(0));
        sql.push_str(&format!(
            "GRANT USAGE ON SCHEMA {s} TO {q}; GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {q}; \
             GRANT SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {q};"
        ));
    }
    sql.push_str("COMMIT");
    dbc.batch_execute(&sql).await
}

/// Creates an auto-approved PostgreSQL request and waits until it is granted.
fn pg_granted(c: &mut Conn, db: &str) -> Request {
    let r = c
        .call::<RequestCreate>(&pg_params(db, 3600))
        .expect("create");
    let r = if r.status == Status::Granting {
        c.call::<RequestWait>(&WaitParams {
            id: r.id,
            until: WaitFor::Settled,
            timeout_secs: Some(60),
        })
        .expect("wait")
    } else {
        r
    };
    assert_eq!(r.status, Status::Granted, "{:?}", r.error);
    r
}

fn pg_revoke(c: &mut Conn, id: u64) {
    c.call::<GrantRevoke>(&DecideParams { id, reason: None })
        .expect("revoke");
    let r = c
        .call::<RequestWait>(&WaitParams {
            id,
            until: WaitFor::Closed,
            timeout_secs: Some(60),
        })
        .expect("wait");
    assert_eq!(r.status, Status::Revoked, "{:?}", r.revoking);
}

fn pg_grant() {
    let rounds = 30;
    println!(
        "\n# pg-grant: auto-approved PostgreSQL request → role usable, vs the integration's SQL run directly; {rounds} rounds each, interleaved"
    );
    let prefix = pg_prefix();
    let _sweep = pg::RoleSweep {
        prefix: prefix.clone(),
    };
    let db = pg::TestDb::create();
    let d = Daemon::start_logging(&pg_config(&prefix), "info");
    let rt = runtime();
    let (admin, dbc) = rt.block_on(async {
        (
            pg_connect("postgres", "postgres", None)
                .await
                .expect("admin connection"),
            pg_connect(&db.name, "postgres", None)
                .await
                .expect("database connection"),
        )
    });
    let mut c = d.connect();
    let (mut jit_granted, mut jit_usable, mut sql, mut sql_usable) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Two warm-up rounds: jitd and the direct path both open their connections first.
    for round in 0..rounds + 2 {
        let t = Instant::now();
        let r = pg_granted(&mut c, &db.name);
        let granted = t.elapsed();
        let creds = c
            .call::<CredentialsReveal>(&IdParams { id: r.id })
            .expect("reveal");
        let s = &creds.sessions[0];
        rt.block_on(pg_use(&db.name, &s.user, &s.secret))
            .expect("log in with jit's credentials");
        let usable = t.elapsed();
        pg_revoke(&mut c, r.id);

        let role = format!("{prefix}direct{round}");
        let password = jit_tests::unique() + &jit_tests::unique();
        let t = Instant::now();
        rt.block_on(direct_grant(&admin, &dbc, &db.name, &role, &password))
            .expect("direct grant");
        let done = t.elapsed();
        rt.block_on(pg_use(&db.name, &role, &password))
            .expect("log in with the direct role");
        let direct_usable = t.elapsed();
        rt.block_on(async {
            dbc.batch_execute(&format!("DROP OWNED BY {role}")).await?;
            admin.batch_execute(&format!("DROP ROLE {role}")).await
        })
        .expect("drop direct role");
        if round >= 2 {
            jit_granted.push(granted.as_secs_f64() * 1e3);
            jit_usable.push(usable.as_secs_f64() * 1e3);
            sql.push(done.as_secs_f64() * 1e3);
            sql_usable.push(direct_usable.as_secs_f64() * 1e3);
        }
    }
    let (g50, g99, _) = summary_ms("jit: create sent → granted", jit_granted);
    let (u50, u99, _) = summary_ms("jit: → revealed + login + SELECT works", jit_usable);
    let (s50, s99, _) = summary_ms("direct: the integration's SQL", sql);
    let (l50, l99, _) = summary_ms("direct: SQL + login + SELECT works", sql_usable);
    println!(
        "ratio jit/direct: to granted {:.2}x p50 / {:.2}x p99; to usable {:.2}x p50 / {:.2}x p99 (goal ≤ 1.5x)",
        g50 / s50,
        g99 / s99,
        u50 / l50,
        u99 / l99
    );
    assert!(
        pg::roles_with_prefix(&prefix).is_empty(),
        "roles left behind"
    );
}

fn ms_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

/// Waits for every request in `reqs` to close and prints how late the last one was; returns
/// when the first was due.
fn burst_report(c: &mut Conn, reqs: &[Request], what: &str, goal_ms: f64) -> SystemTime {
    let mut closed = Vec::new();
    for r in reqs {
        let r = c
            .call::<RequestWait>(&WaitParams {
                id: r.id,
                until: WaitFor::Closed,
                timeout_secs: Some(300),
            })
            .expect("wait");
        assert_eq!(r.status, Status::Expired, "{:?}", r.revoking);
        closed.push(r);
    }
    let due = |r: &Request| SystemTime::from(r.expires_at.expect("expires"));
    let ended = |r: &Request| SystemTime::from(r.ended_at.expect("ended"));
    let first_due = closed.iter().map(due).min().expect("some");
    let last_due = closed.iter().map(due).max().expect("some");
    let last_end = closed.iter().map(ended).max().expect("some");
    let lags: Vec<f64> = closed
        .iter()
        .map(|r| ms_between(due(r), ended(r)))
        .collect();
    summary_ms(&format!("{what}: lag per grant"), lags);
    let total = ms_between(first_due, last_end);
    println!(
        "{what}: {} grants due within {:.0} ms; the last recorded expired {total:.0} ms after the first was due ({:.0} ms after the last) (goal < {goal_ms:.0} ms)",
        closed.len(),
        ms_between(first_due, last_due),
        ms_between(last_due, last_end)
    );
    first_due
}

fn due_burst() {
    println!("\n# due-burst: 1,000 grants due within the same second");
    {
        let d = Daemon::start_logging(CONFIG, "info");
        let (_, reqs) = flood(&d, 50, 1000, 5, "due");
        burst_report(&mut d.connect(), &reqs, "dry-run", 1000.0);
    }

    let prefix = pg_prefix();
    let _sweep = pg::RoleSweep {
        prefix: prefix.clone(),
    };
    let db = pg::TestDb::create();
    let d = Daemon::start_logging(&pg_config(&prefix), "info");
    // A grant's clock starts when its provisioning starts (right after the create), so a burst
    // of creates falls due within the burst even though PostgreSQL grants one after the other.
    let secs = 60;
    let name = db.name.clone();
    let t = Instant::now();
    let (_, reqs) = flood_with(&d, 50, 1000, "pgdue", move |_| pg_params(&name, secs));
    let created = t.elapsed();
    let mut c = d.connect();
    for r in &reqs {
        let r = c
            .call::<RequestWait>(&WaitParams {
                id: r.id,
                until: WaitFor::Settled,
                timeout_secs: Some(300),
            })
            .expect("wait");
        assert_eq!(r.status, Status::Granted, "{:?}", r.error);
    }
    let all_granted = t.elapsed();
    println!(
        "postgres: 1,000 created in {:.2} s, all granted (1,000 roles) after {:.1} s; due {secs} s after their creates",
        created.as_secs_f64(),
        all_granted.as_secs_f64()
    );
    assert!(
        all_granted < Duration::from_secs(secs),
        "granting took longer than the grants last: the burst is not a burst"
    );
    // Watch the server itself: when is the last role gone?
    let watch_prefix = prefix.clone();
    let watcher = std::thread::spawn(move || {
        let rt = runtime();
        rt.block_on(async {
            let admin = pg_connect("postgres", "postgres", None)
                .await
                .expect("admin connection");
            let give_up = Instant::now() + Duration::from_secs(secs + 300);
            loop {
                let n: i64 = admin
                    .query_one(
                        "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $1)",
                        &[&watch_prefix],
                    )
                    .await
                    .expect("count roles")
                    .get(0);
                if n == 0 || Instant::now() > give_up {
                    return (SystemTime::now(), n);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    });
    let first_due = burst_report(&mut c, &reqs, "postgres", 5000.0);
    let (gone_at, left) = watcher.join().expect("watcher");
    println!(
        "postgres: roles left in pg_roles: {left}; the last was gone {:.0} ms after the first grant was due",
        ms_between(first_due, gone_at)
    );
    let sizes: Vec<u64> = d
        .log_text()
        .lines()
        .filter(|l| l.contains("revoking in one batch"))
        .filter_map(|l| {
            let n = l.split("revokes=").nth(1)?;
            n.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .collect();
    println!(
        "postgres: {} revokes went in {} batches (sizes {:?}), the rest one by one",
        sizes.iter().sum::<u64>(),
        sizes.len(),
        sizes
    );
}

fn ls() {
    let runs = 200;
    println!(
        "\n# ls: wall time of `jit ls` (process start to exit) with 50 open requests, {runs} runs, vs /bin/true and a Rust hello-world, interleaved"
    );
    let d = Daemon::start_logging(CONFIG, "info");
    let mut c = d.connect();
    for i in 0..50 {
        c.call::<RequestCreate>(&create(&format!("ls{i}"), 3600))
            .expect("create");
    }
    let listed = d.jit_json(None, &["ls"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(50), "{listed}");
    let jit = jit_tests::bin("jit");
    let hello = jit_tests::bin("jit-hello");
    let time = |program: &std::path::Path, args: &[&str]| {
        let t = Instant::now();
        let status = Command::new(program)
            .args(args)
            .env("JIT_SOCKET", &d.socket)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(status.success(), "{} failed: {status}", program.display());
        ms
    };
    let (mut t_true, mut t_hello, mut t_ls, mut t_prompt) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        t_true.push(time(std::path::Path::new("/bin/true"), &[]));
        t_hello.push(time(&hello, &[]));
        t_ls.push(time(&jit, &["ls"]));
        t_prompt.push(time(&jit, &["prompt"]));
    }
    summary_ms("/bin/true", t_true);
    let (h50, h99, _) = summary_ms("Rust hello-world", t_hello);
    let (l50, l99, _) = summary_ms("jit ls (50 open requests)", t_ls);
    summary_ms("jit prompt (50 open requests)", t_prompt);
    println!(
        "jit ls / hello-world: {:.2}x p50 / {:.2}x p99 (goal: median < 5 ms)",
        l50 / h50,
        l99 / h99
    );

    // A requester's history grows for as long as they use jit; `jit ls` shows open requests
    // only, so its time should not grow with the closed ones. Measure it with a long history.
    let (_, history) = flood(&d, 50, 10_000, 3600, "old");
    let history = Arc::new(history);
    let handles: Vec<_> = (0..50)
        .map(|k| {
            let socket = d.socket.clone();
            let history = history.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(&socket);
                for r in history.iter().skip(k).step_by(50) {
                    c.call::<RequestWait>(&WaitParams {
                        id: r.id,
                        until: WaitFor::Settled,
                        timeout_secs: Some(60),
                    })
                    .expect("wait");
                    c.call::<GrantRevoke>(&DecideParams {
                        id: r.id,
                        reason: None,
                    })
                    .expect("revoke");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("revoker");
    }
    let listed = d.jit_json(None, &["ls"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(50), "{listed}");
    let t_long: Vec<f64> = (0..runs).map(|_| time(&jit, &["ls"])).collect();
    let (long50, _, _) = summary_ms("jit ls (50 open, 10,000 closed)", t_long);
    let t_prompt_long: Vec<f64> = (0..runs).map(|_| time(&jit, &["prompt"])).collect();
    summary_ms("jit prompt (50 open, 10,000 closed)", t_prompt_long);
    println!(
        "jit ls with 10,000 closed requests: {:.2}x the median without (goal: median < 5 ms)",
        long50 / l50
    );
}

fn session_kill() {
    let rounds = 20;
    println!(
        "\n# session-kill: grant.revoke sent → a live psql session of the granted role is gone; {rounds} rounds"
    );
    let prefix = pg_prefix();
    let _sweep = pg::RoleSweep {
        prefix: prefix.clone(),
    };
    let db = pg::TestDb::create();
    let d = Daemon::start_logging(&pg_config(&prefix), "info");
    let rt = runtime();
    let admin = rt
        .block_on(pg_connect("postgres", "postgres", None))
        .expect("admin connection");
    let mut c = d.connect();
    let (mut acked, mut backend_gone, mut psql_exit, mut recorded) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let r = pg_granted(&mut c, &db.name);
        let creds = c
            .call::<CredentialsReveal>(&IdParams { id: r.id })
            .expect("reveal");
        let s = &creds.sessions[0];
        let mut psql = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                "5432",
                "-U",
                &s.user,
                "-d",
                &db.name,
            ])
            .args(["-w", "-X", "-Atc", "select pg_sleep(600)"])
            .env("PGPASSWORD", &s.secret)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql");
        let user = s.user.clone();
        let backend: i32 = wait_until(Duration::from_secs(10), "psql to be logged in", || {
            rt.block_on(admin.query_opt(
                "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND state = 'active' AND query LIKE '%pg_sleep%'",
                &[&user],
            ))
            .expect("pg_stat_activity")
            .map(|row| row.get(0))
        });
        let psql_pid = psql.id();
        let (tx, rx) = std::sync::mpsc::channel();
        let reaper = std::thread::spawn(move || {
            let status = psql.wait();
            let _ = tx.send(Instant::now());
            status
        });
        let sent_at = SystemTime::now();
        let t = Instant::now();
        c.call::<GrantRevoke>(&DecideParams {
            id: r.id,
            reason: None,
        })
        .expect("revoke");
        acked.push(t.elapsed().as_secs_f64() * 1e3);
        loop {
            let alive = rt
                .block_on(
                    admin.query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&backend]),
                )
                .expect("pg_stat_activity");
            if alive.is_none() {
                backend_gone.push(t.elapsed().as_secs_f64() * 1e3);
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the session survived its revoke"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(at) => psql_exit.push(at.duration_since(t).as_secs_f64() * 1e3),
            Err(_) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(i32::try_from(psql_pid).expect("pid")),
                    nix::sys::signal::Signal::SIGKILL,
                );
                panic!("psql still runs 30 s after the revoke");
            }
        }
        let status = reaper.join().expect("reaper").expect("psql status");
        assert!(!status.success(), "psql ended normally: {status}");
        let done = c
            .call::<RequestWait>(&WaitParams {
                id: r.id,
                until: WaitFor::Closed,
                timeout_secs: Some(60),
            })
            .expect("wait");
        assert_eq!(done.status, Status::Revoked);
        recorded.push(ms_between(
            sent_at,
            SystemTime::from(done.ended_at.expect("ended")),
        ));
    }
    summary_ms("grant.revoke answered (revoking)", acked);
    summary_ms("backend gone from pg_stat_activity", backend_gone);
    let (p50, p99, _) = summary_ms("psql process exited", psql_exit);
    summary_ms("revoked recorded (ms resolution)", recorded);
    println!("session gone after revoke: p50 {p50:.1} ms, p99 {p99:.1} ms (goal < 500 ms)");
}

fn load(secs: f64, clients: usize) -> bool {
    println!(
        "\n# load: {clients} clients, each its own Unix user and connection, for {secs:.0} s: create, list, get, approve, revoke, reveal on a dry-run integration"
    );
    let outcome = load::run(&load::LoadOptions {
        clients,
        secs,
        worker: std::env::current_exe().expect("current exe"),
        log: "info".into(),
    });
    outcome.print();
    outcome.ok()
}

/// The value after `--name` on the command line.
fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let i = args.iter().position(|a| a == name)?;
    let v = args.get(i + 1)?;
    Some(v.parse().unwrap_or_else(|_| {
        eprintln!("jit-bench: {name} wants a number, not {v:?}");
        std::process::exit(2)
    }))
}

const SUBCOMMANDS: [&str; 11] = [
    "rtt",
    "calls",
    "creates",
    "expiry",
    "restart",
    "pg-grant",
    "due-burst",
    "ls",
    "session-kill",
    "load",
    "all",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map_or("all", String::as_str);
    if what == "load-worker" {
        return match load::worker_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("jit-bench load-worker: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if !SUBCOMMANDS.contains(&what) {
        eprintln!(
            "usage: jit-bench [{}] [--secs N] [--clients N]",
            SUBCOMMANDS.join("|")
        );
        return ExitCode::from(2);
    }
    let secs: f64 = flag(&args, "--secs").unwrap_or(60.0);
    let clients: usize = flag(&args, "--clients").unwrap_or(50);
    let all = what == "all";
    let mut ok = true;
    if all || what == "rtt" {
        rtt();
    }
    if all || what == "calls" {
        calls(10.0);
    }
    if all || what == "creates" {
        creates();
    }
    if all || what == "expiry" {
        expiry();
    }
    if all || what == "restart" {
        restart();
    }
    if all || what == "pg-grant" {
        pg_grant();
    }
    if all || what == "due-burst" {
        due_burst();
    }
    if all || what == "ls" {
        ls();
    }
    if all || what == "session-kill" {
        session_kill();
    }
    if all || what == "load" {
        ok &= load(secs, clients);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
