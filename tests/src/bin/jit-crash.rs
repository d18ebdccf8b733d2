//! `jit-crash`: the crash campaign ([`jit_tests::crash`]) from the command line.
//!
//! ```text
//! cargo build --workspace --bins && target/debug/jit-crash --kills 1000
//! ```
//!
//! Use the debug build: its jitd honours the failpoints (`JITD_FAILPOINT`) that abort it
//! between an integration's change and the store's record. Needs root (it runs jitd as in
//! system mode) and the local PostgreSQL, MariaDB and Redis. Exits 1 when anything was lost
//! or left behind.

fn main() {
    let mut kills = 50;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--kills" => {
                kills = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage("--kills needs a number"));
            }
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let start = std::time::Instant::now();
    let r = jit_tests::crash::run(kills, |line| println!("{line}"));
    println!(
        "\ncrash campaign: {} kills (kill -9) + {} aborts at failpoints, {} requests, {} logins with handed-out credentials, lost {}, leaks {} ({:.0} s)",
        r.kills,
        r.aborts,
        r.cycles,
        r.logins,
        r.lost,
        r.leaks,
        start.elapsed().as_secs_f64()
    );
    for p in &r.problems {
        println!("  {p}");
    }
    if r.lost > 0 || r.leaks > 0 || !r.problems.is_empty() {
        std::process::exit(1);
    }
}

fn usage(why: &str) -> ! {
    if !why.is_empty() {
        eprintln!("jit-crash: {why}");
    }
    eprintln!("usage: jit-crash [--kills N]   (default 50)");
    std::process::exit(2);
}
