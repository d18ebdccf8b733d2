//! `jit-bench`: the benchmarks behind the README's Performance table, run against the real
//! `jitd` binary over the real socket.
//!
//! ```text
//! cargo build --release --workspace --bins && target/release/jit-bench [SUBCOMMAND] [--secs N] [--clients N]
//! ```
//!
//! - `rtt`: round trip of the cheapest read calls vs a raw Unix-socket echo, same client, same run;
//! - `creates`: durable request creates per second from 50 concurrent clients (dry-run, auto);
//! - `expiry`: expiry lag (deadline → access gone and recorded) of probe grants while 100,000
//!   dry-run grants are active, and the daemon's RSS at that point;
//! - `restart`: time from starting jitd to its first answer, on a store of 1,000,000 requests;
//! - `load`: 50 clients (`--clients`), each its own Unix user, for 60 s (`--secs`) of mixed
//!   calls on a dry-run integration; every acknowledged create read back; exits 1 on any error
//!   or loss (see `jit_tests::load`);
//! - `all`: every one of the above, in this order.
//!
//! `load-worker` is internal: one load client, started by `load` as its user.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use jit_api::methods::{CatalogList, CreateParams, Empty, IdParams, RequestCreate, RequestGet};
use jit_api::{Request, Status};
use jit_tests::stats::summary;
use jit_tests::support::Conn;
use jit_tests::{Daemon, load};

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
    CreateParams {
        integration: "demo".into(),
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
    let per = total / clients;
    let socket = Arc::new(d.socket.clone());
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|k| {
            let socket = socket.clone();
            let tag = tag.to_owned();
            std::thread::spawn(move || {
                let mut c = Conn::open(&socket);
                (0..per)
                    .map(|i| {
                        c.call::<RequestCreate>(&create(&format!("{tag}{k}-{i}"), secs))
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
    for id in probes {
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
    }
    summary("expiry lag (deadline → expired recorded)", lags);
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

const SUBCOMMANDS: [&str; 6] = ["rtt", "creates", "expiry", "restart", "load", "all"];

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
    if all || what == "creates" {
        creates();
    }
    if all || what == "expiry" {
        expiry();
    }
    if all || what == "restart" {
        restart();
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
