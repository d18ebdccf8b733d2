//! The load run (issue 6, point 7): many clients, each its own Unix user and its own
//! connection, mixing create, list, get, approve, revoke and reveal against a dry-run
//! integration; afterwards every acknowledged create is read back — live, and again after
//! `kill -9` and a restart — and must hold exactly the status that the clients'
//! acknowledged calls imply.
//!
//! One implementation for `jit-bench load` and the e2e test `load`: [`run`] makes the users,
//! starts jitd and the workers, and checks the store; [`worker_main`] is one client. jitd
//! knows a caller only by the socket's peer credentials, which belong to a process, so each
//! client is a process of its own (`jit-bench load-worker`) started as its user.
//!
//! Every status is the clients' doing: grants last an hour (nothing expires during a run)
//! and nobody cancels. Client `i` approves only the requests of client `i - 1`, so no two
//! approvers race for one request, and an error is always a fault, never a lost race.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use jit_api::methods::{
    CreateParams, CredentialsReveal, DecideParams, GrantRevoke, IdParams, ListParams, Method,
    RequestApprove, RequestCreate, RequestGet, RequestList, RequestWait, Scope, WaitFor,
    WaitParams,
};
use jit_api::wire::RpcError;
use jit_api::{ErrorCode, Request, RequestId, Status};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::support::{Conn, Daemon};
use crate::users::{Group, User};

/// The dry-run integration every request names.
pub const INTEGRATION: &str = "demo";
/// Open requests (pending included) a client keeps at most. `request.list --review` reads
/// every open request in the store, so the total is kept to a few hundred.
const MAX_OPEN: usize = 10;
/// Pending requests a client keeps at most, so that all pending requests fit in one review
/// list and no approver starves.
const MAX_PENDING: usize = 2;
/// Long enough that nothing expires during a run.
const DURATION_SECS: u64 = 3600;
/// Error messages kept per worker (all errors are counted).
const SAMPLES: usize = 20;

/// jitd's config for a load run: an auto-approved flow (`read`) and a flow needing one
/// approval from another member of `group` (`write`), both on the dry-run integration.
pub fn config(group: &str) -> String {
    format!(
        r#"
[daemon]
admins = ["root"]
pending_ttl = "2h"

[[integrations]]
name = "{INTEGRATION}"
kind = "dry-run"
resource_types = {{ database = ["read", "write"] }}

[[flows]]
name = "load-auto"
requesters = ["%{group}"]
integration = "{INTEGRATION}"
permissions = ["read"]
approval = "auto"
max_duration = "8h"

[[flows]]
name = "load-approve"
requesters = ["%{group}"]
integration = "{INTEGRATION}"
permissions = ["write"]
approvers = ["%{group}"]
approvals_required = 1
max_duration = "8h"
"#
    )
}

/// What one worker is told on its stdin (one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// jitd's socket.
    pub socket: PathBuf,
    /// The client's number; it names the resources it asks for (`c<client>-<n>`).
    pub client: usize,
    /// The worker's own user name (what jitd should see).
    pub user: String,
    /// The user whose pending requests this worker approves.
    pub peer: String,
    /// How long to run after `go`.
    pub secs: f64,
    /// The `limit` of its review lists (large enough for every pending request).
    pub review_limit: u32,
}

/// One acknowledged create.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Created {
    /// The request's number.
    pub id: RequestId,
    /// The one resource asked for.
    pub resource: String,
    /// Whether it needed an approval (`write`) rather than being automatic (`read`).
    pub manual: bool,
}

/// What one worker did, printed as one JSON line on its stdout.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Calls made.
    pub calls: u64,
    /// Time from `go` to the end of the last call.
    pub elapsed_secs: f64,
    /// Latency of every call in µs, by method name.
    pub latencies_us: BTreeMap<String, Vec<u32>>,
    /// Calls that failed or answered something inconsistent.
    pub errors: u64,
    /// The first few error messages.
    pub error_samples: Vec<String>,
    /// Every create jitd acknowledged.
    pub created: Vec<Created>,
    /// Requests of the peer this worker approved (acknowledged).
    pub approved: Vec<RequestId>,
    /// Own requests this worker revoked (acknowledged).
    pub revoked: Vec<RequestId>,
    /// `credentials.reveal` calls refused because a dry-run grant has no credentials (the
    /// expected answer: jitd went through its checks and handed out nothing).
    pub reveals_refused: u64,
}

impl WorkerReport {
    fn error(&mut self, msg: String) {
        self.errors += 1;
        if self.error_samples.len() < SAMPLES {
            self.error_samples.push(msg);
        }
    }
}

/// One of the worker's own open requests, with the last status it saw.
struct Mine {
    id: RequestId,
    manual: bool,
    status: Status,
}

/// Lifecycle order, to catch a status going backwards.
fn rank(s: Status) -> u8 {
    match s {
        Status::Pending | Status::Scheduled => 0,
        Status::Granting => 1,
        Status::Granted => 2,
        Status::Revoking => 3,
        _ => 4,
    }
}

struct Worker {
    spec: WorkerSpec,
    conn: Conn,
    report: WorkerReport,
    open: Vec<Mine>,
    mine: HashSet<RequestId>,
    revoked: HashSet<RequestId>,
    next: u64,
}

impl Worker {
    /// Calls `M`, timing it; a socket failure is an error (and the worker reconnects).
    fn call<M: Method>(&mut self, params: &M::Params) -> Option<Result<M::Output, RpcError>> {
        self.call_as::<M>(M::NAME, params)
    }

    /// Like [`call`](Self::call), with its latency reported under `label`.
    fn call_as<M: Method>(
        &mut self,
        label: &str,
        params: &M::Params,
    ) -> Option<Result<M::Output, RpcError>> {
        let t = Instant::now();
        let r = self.conn.try_call::<M>(params);
        let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.report.calls += 1;
        self.report
            .latencies_us
            .entry(label.to_owned())
            .or_default()
            .push(us);
        match r {
            Ok(answer) => Some(answer),
            Err(e) => {
                self.report.error(format!("{}: socket: {e}", M::NAME));
                match Conn::try_open(&self.spec.socket) {
                    Ok(c) => self.conn = c,
                    Err(e) => self.report.error(format!("reconnect: {e}")),
                }
                None
            }
        }
    }

    /// Checks a status jitd showed for one of this worker's requests against what the
    /// worker knows, and remembers it.
    fn observe(&mut self, id: RequestId, status: Status, via: &str) {
        if self.revoked.contains(&id) {
            if !matches!(status, Status::Revoking | Status::Revoked) {
                self.report.error(format!(
                    "{via}: request {id} was revoked (acknowledged) but shows {status}"
                ));
            }
            return;
        }
        let Some(m) = self.open.iter_mut().find(|m| m.id == id) else {
            self.report
                .error(format!("{via}: request {id} is not one of this client's"));
            return;
        };
        let allowed = if m.manual {
            matches!(status, Status::Pending | Status::Granting | Status::Granted)
        } else {
            matches!(status, Status::Granting | Status::Granted)
        };
        if !allowed || rank(status) < rank(m.status) {
            let was = m.status;
            self.report.error(format!(
                "{via}: request {id} ({}) went from {was} to {status}",
                if m.manual { "manual" } else { "auto" }
            ));
            return;
        }
        m.status = status;
    }

    fn pick(&self, status: Option<Status>) -> Option<RequestId> {
        let candidates: Vec<RequestId> = self
            .open
            .iter()
            .filter(|m| status.is_none_or(|s| m.status == s))
            .map(|m| m.id)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        Some(candidates[rand::rng().random_range(0..candidates.len())])
    }

    fn step(&mut self) {
        match rand::rng().random_range(0..100) {
            0..20 => self.create(),
            20..45 => self.list(),
            45..70 => self.get(),
            70..75 => self.approve(),
            75..90 => self.revoke(),
            _ => self.reveal(),
        }
    }

    fn create(&mut self) {
        if self.open.len() >= MAX_OPEN {
            return self.revoke();
        }
        let pending = self
            .open
            .iter()
            .filter(|m| m.status == Status::Pending)
            .count();
        let manual = pending < MAX_PENDING && rand::rng().random_bool(0.5);
        self.next += 1;
        let resource = format!("c{}-{}", self.spec.client, self.next);
        let params = CreateParams {
            integration: INTEGRATION.into(),
            resource_type: "database".into(),
            resources: vec![resource.clone()],
            permissions: vec![if manual { "write" } else { "read" }.into()],
            duration_secs: Some(DURATION_SECS),
            justification: Some("load".into()),
            ..CreateParams::default()
        };
        match self.call::<RequestCreate>(&params) {
            None => {}
            Some(Err(e)) => self.report.error(format!("request.create: {e}")),
            Some(Ok(r)) => {
                // Acknowledged: it must be there afterwards, whatever else is wrong with it.
                self.report.created.push(Created {
                    id: r.id,
                    resource: resource.clone(),
                    manual,
                });
                self.mine.insert(r.id);
                if r.requester != self.spec.user
                    || r.entries.len() != 1
                    || r.entries[0].resources != [resource]
                {
                    self.report.error(format!(
                        "request.create: request {} came back as {}'s {:?}",
                        r.id, r.requester, r.entries
                    ));
                }
                self.open.push(Mine {
                    id: r.id,
                    manual,
                    status: if manual {
                        Status::Pending
                    } else {
                        Status::Granting
                    },
                });
                if manual && r.status != Status::Pending {
                    self.report.error(format!(
                        "request.create: request {} needs an approval but is {}",
                        r.id, r.status
                    ));
                } else {
                    self.observe(r.id, r.status, "request.create");
                }
            }
        }
    }

    fn list(&mut self) {
        let params = ListParams {
            limit: Some(1000),
            ..ListParams::default()
        };
        let Some(answer) = self.call_as::<RequestList>("request.list (own)", &params) else {
            return;
        };
        let list = match answer {
            Ok(list) => list,
            Err(e) => return self.report.error(format!("request.list: {e}")),
        };
        let shown: HashMap<RequestId, Status> = list.iter().map(|r| (r.id, r.status)).collect();
        for r in &list {
            if !self.mine.contains(&r.id) {
                self.report.error(format!(
                    "request.list: shows request {} of {}, which this client never made",
                    r.id, r.requester
                ));
            }
        }
        let ids: Vec<RequestId> = self.open.iter().map(|m| m.id).collect();
        for id in ids {
            match shown.get(&id) {
                Some(s) => self.observe(id, *s, "request.list"),
                None => self.report.error(format!(
                    "request.list: open request {id} (acknowledged) is missing"
                )),
            }
        }
    }

    fn get(&mut self) {
        let Some(id) = self.pick(None) else {
            return self.create();
        };
        match self.call::<RequestGet>(&IdParams { id }) {
            None => {}
            Some(Ok(r)) => self.observe(id, r.status, "request.get"),
            Some(Err(e)) => self.report.error(format!("request.get {id}: {e}")),
        }
    }

    fn approve(&mut self) {
        let params = ListParams {
            scope: Scope::Review,
            limit: Some(self.spec.review_limit),
            ..ListParams::default()
        };
        let list = match self.call_as::<RequestList>("request.list (review)", &params) {
            None => return,
            Some(Err(e)) => return self.report.error(format!("request.list review: {e}")),
            Some(Ok(list)) => list,
        };
        let mut todo = Vec::new();
        for r in &list {
            if r.requester == self.spec.user {
                self.report.error(format!(
                    "request.list review: offers the caller's own request {}",
                    r.id
                ));
            } else if r.requester == self.spec.peer && r.status == Status::Pending {
                todo.push(r.id);
            }
        }
        for id in todo {
            let params = DecideParams {
                id,
                reason: Some("load".into()),
            };
            match self.call::<RequestApprove>(&params) {
                None => {}
                Some(Err(e)) => self.report.error(format!("request.approve {id}: {e}")),
                Some(Ok(r)) => {
                    self.report.approved.push(id);
                    if !matches!(r.status, Status::Granting | Status::Granted)
                        || !r.approval.approvals.iter().any(|a| a.by == self.spec.user)
                    {
                        self.report.error(format!(
                            "request.approve {id}: answered {} with approvals {:?}",
                            r.status, r.approval.approvals
                        ));
                    }
                }
            }
        }
    }

    fn revoke(&mut self) {
        let Some(id) = self.pick(Some(Status::Granted)) else {
            return self.list();
        };
        let params = DecideParams {
            id,
            reason: Some("load".into()),
        };
        match self.call::<GrantRevoke>(&params) {
            None => {}
            Some(Err(e)) => self.report.error(format!("grant.revoke {id}: {e}")),
            Some(Ok(r)) => {
                self.open.retain(|m| m.id != id);
                self.revoked.insert(id);
                self.report.revoked.push(id);
                self.observe(id, r.status, "grant.revoke");
            }
        }
    }

    /// A dry-run grant has no credentials: the requester's reveal goes through every check
    /// (owner, granted, not being reset) and must then be refused for that reason alone.
    fn reveal(&mut self) {
        let Some(id) = self.pick(Some(Status::Granted)) else {
            return self.get();
        };
        match self.call::<CredentialsReveal>(&IdParams { id }) {
            None => {}
            Some(Ok(_)) => self.report.error(format!(
                "credentials.reveal {id}: a dry-run grant handed out credentials"
            )),
            Some(Err(e))
                if e.kind() == Some(ErrorCode::InvalidState) && e.message.contains("dry-run") =>
            {
                self.report.reveals_refused += 1;
            }
            Some(Err(e)) => self.report.error(format!("credentials.reveal {id}: {e}")),
        }
    }
}

/// One load client: reads its [`WorkerSpec`] line from stdin, connects, prints `ready`,
/// waits for `go`, runs, and prints its [`WorkerReport`] as one JSON line.
pub fn worker_main() -> anyhow::Result<()> {
    let mut stdin = std::io::stdin().lock();
    let mut line = String::new();
    stdin.read_line(&mut line).context("reading the spec")?;
    let spec: WorkerSpec = serde_json::from_str(&line).context("parsing the spec")?;
    let conn = Conn::try_open(&spec.socket)
        .with_context(|| format!("connecting to {}", spec.socket.display()))?;
    let mut w = Worker {
        spec,
        conn,
        report: WorkerReport::default(),
        open: Vec::new(),
        mine: HashSet::new(),
        revoked: HashSet::new(),
        next: 0,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    line.clear();
    stdin.read_line(&mut line).context("waiting for go")?;
    anyhow::ensure!(line.trim() == "go", "expected go, got {line:?}");
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(w.spec.secs);
    while Instant::now() < end {
        w.step();
    }
    w.report.elapsed_secs = start.elapsed().as_secs_f64();
    serde_json::to_writer(&mut out, &w.report)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// How to run the load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Concurrent clients, each its own Unix user and connection (at least 2).
    pub clients: usize,
    /// How long they run.
    pub secs: f64,
    /// The executable that runs a worker when given `load-worker` (`jit-bench`).
    pub worker: PathBuf,
    /// jitd's `RUST_LOG`.
    pub log: String,
}

/// What a load run did and found.
#[derive(Debug, Clone, Default)]
pub struct LoadOutcome {
    /// Clients that ran.
    pub clients: usize,
    /// The longest client's running time.
    pub elapsed_secs: f64,
    /// Calls made by all clients.
    pub calls: u64,
    /// Latencies in µs by method, over all clients.
    pub latencies_us: BTreeMap<String, Vec<f64>>,
    /// Calls that failed or answered something inconsistent, and workers that failed.
    pub errors: u64,
    /// The first few error messages.
    pub error_samples: Vec<String>,
    /// Acknowledged creates.
    pub created: usize,
    /// Of which needed an approval.
    pub created_manual: usize,
    /// Acknowledged approvals.
    pub approved: usize,
    /// Acknowledged revokes.
    pub revoked: usize,
    /// Reveals refused because dry-run has no credentials.
    pub reveals_refused: u64,
    /// Acknowledged requests missing or with the wrong status when read back, and requests
    /// in the store that no client made.
    pub lost: Vec<String>,
}

impl LoadOutcome {
    /// No errors and nothing lost.
    pub fn ok(&self) -> bool {
        self.errors == 0 && self.lost.is_empty()
    }

    /// Prints the outcome in `jit-bench`'s style.
    pub fn print(&self) {
        println!(
            "{} calls in {:.1} s: {:.0} calls/s; {} creates ({} needing approval), {} approvals, {} revokes, {} reveals refused (dry-run has no credentials)",
            self.calls,
            self.elapsed_secs,
            self.calls as f64 / self.elapsed_secs,
            self.created,
            self.created_manual,
            self.approved,
            self.revoked,
            self.reveals_refused
        );
        for (method, us) in &self.latencies_us {
            crate::stats::summary(method, us.clone());
        }
        println!(
            "errors: {}; lost or inconsistent: {} (of {} acknowledged creates, read back live and after kill -9 + restart)",
            self.errors,
            self.lost.len(),
            self.created
        );
        for e in self.error_samples.iter().take(SAMPLES) {
            println!("  error: {e}");
        }
        for l in self.lost.iter().take(SAMPLES) {
            println!("  lost: {l}");
        }
    }
}

fn fail(out: &mut LoadOutcome, msg: String) {
    out.errors += 1;
    if out.error_samples.len() < SAMPLES {
        out.error_samples.push(msg);
    }
}

/// A started worker process.
struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Running {
    fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        anyhow::ensure!(!line.is_empty(), "the worker ended without a word");
        Ok(line)
    }

    /// The worker's stderr and exit status, after it ended (or was killed).
    fn end(mut self) -> String {
        drop(self.stdin);
        let _ = self.child.kill();
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        format!("{status}: {}", err.trim())
    }
}

fn start_worker(worker: &Path, user: &User, spec: &WorkerSpec) -> anyhow::Result<Running> {
    let mut child = Command::new(worker)
        .arg("load-worker")
        .uid(user.uid)
        .gid(user.gid)
        .env("HOME", "/")
        .env("USER", &user.name)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", worker.display()))?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let stdout = BufReader::new(child.stdout.take().context("stdout")?);
    writeln!(stdin, "{}", serde_json::to_string(spec)?)?;
    stdin.flush()?;
    Ok(Running {
        child,
        stdin,
        stdout,
    })
}

/// The status a request must have once the run is over, from the acknowledged calls.
struct Expected {
    id: RequestId,
    requester: String,
    resource: String,
    status: Status,
}

/// Runs the load: `opts.clients` users in one group, jitd, one worker per user; then reads
/// every acknowledged create back, live and after `kill -9` and a restart.
pub fn run(opts: &LoadOptions) -> LoadOutcome {
    assert!(opts.clients >= 2, "approvals need at least two clients");
    let n = opts.clients;
    let group = Group::create("ld");
    let users: Vec<User> = (0..n).map(|_| User::create("ld", &[&group])).collect();
    let mut d = Daemon::start_logging(&config(&group.name), &opts.log);
    let mut out = LoadOutcome {
        clients: n,
        ..LoadOutcome::default()
    };
    let review_limit = u32::try_from(n * MAX_PENDING + 10)
        .unwrap_or(1000)
        .min(1000);
    let mut running = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let spec = WorkerSpec {
            socket: d.socket.clone(),
            client: i,
            user: user.name.clone(),
            peer: users[(i + n - 1) % n].name.clone(),
            secs: opts.secs,
            review_limit,
        };
        match start_worker(&opts.worker, user, &spec) {
            Ok(r) => running.push((i, r)),
            Err(e) => fail(&mut out, format!("worker {i}: {e:#}")),
        }
    }
    // Everyone connected before anyone starts.
    let mut ready = Vec::new();
    for (i, mut r) in running {
        match r.line() {
            Ok(l) if l.trim() == "ready" => ready.push((i, r)),
            Ok(l) => fail(&mut out, format!("worker {i} said {l:?}: {}", r.end())),
            Err(e) => fail(&mut out, format!("worker {i}: {e}: {}", r.end())),
        }
    }
    for (_, r) in &mut ready {
        let _ = writeln!(r.stdin, "go").and_then(|()| r.stdin.flush());
    }
    let mut reports: Vec<Option<WorkerReport>> = vec![None; n];
    for (i, mut r) in ready {
        let report = r
            .line()
            .and_then(|l| serde_json::from_str::<WorkerReport>(&l).map_err(Into::into));
        let ended = r.end();
        match report {
            Ok(rep) => reports[i] = Some(rep),
            Err(e) => fail(&mut out, format!("worker {i}: {e}: {ended}")),
        }
    }

    // What each request must be now, from what was acknowledged.
    let approved: Vec<HashSet<RequestId>> = (0..n)
        .map(|i| {
            reports[(i + 1) % n]
                .as_ref()
                .map(|r| r.approved.iter().copied().collect())
                .unwrap_or_default()
        })
        .collect();
    let mut expected = Vec::new();
    for (i, rep) in reports.iter().enumerate() {
        let Some(rep) = rep else { continue };
        out.calls += rep.calls;
        out.elapsed_secs = out.elapsed_secs.max(rep.elapsed_secs);
        out.errors += rep.errors;
        for s in &rep.error_samples {
            if out.error_samples.len() < SAMPLES {
                out.error_samples.push(format!("client {i}: {s}"));
            }
        }
        for (m, us) in &rep.latencies_us {
            out.latencies_us
                .entry(m.clone())
                .or_default()
                .extend(us.iter().map(|&u| f64::from(u)));
        }
        out.created += rep.created.len();
        out.created_manual += rep.created.iter().filter(|c| c.manual).count();
        out.approved += rep.approved.len();
        out.revoked += rep.revoked.len();
        out.reveals_refused += rep.reveals_refused;
        let revoked: HashSet<RequestId> = rep.revoked.iter().copied().collect();
        let manual: HashSet<RequestId> = rep
            .created
            .iter()
            .filter(|c| c.manual)
            .map(|c| c.id)
            .collect();
        for id in &approved[i] {
            if !manual.contains(id) {
                out.lost.push(format!(
                    "client {} approved request {id}, which client {i} never made as one needing approval",
                    (i + 1) % n
                ));
            }
        }
        for c in &rep.created {
            let status = if revoked.contains(&c.id) {
                Status::Revoked
            } else if c.manual && !approved[i].contains(&c.id) {
                Status::Pending
            } else {
                Status::Granted
            };
            expected.push(Expected {
                id: c.id,
                requester: users[i].name.clone(),
                resource: c.resource.clone(),
                status,
            });
        }
    }

    out.lost.extend(verify(&d, &expected, "live"));
    d.kill9();
    d.restart();
    out.lost
        .extend(verify(&d, &expected, "after kill -9 and restart"));
    out
}

/// Reads every expected request back as root (an admin), and lists the store's requests to
/// find any that no client made. Returns what is wrong.
fn verify(d: &Daemon, expected: &[Expected], when: &str) -> Vec<String> {
    let threads = 4;
    let chunk = expected.len().div_ceil(threads).max(1);
    let mut wrong: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = expected
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut c = d.connect();
                    let mut wrong = Vec::new();
                    for e in part {
                        if let Some(w) = check(&mut c, e) {
                            wrong.push(format!("{when}: {w}"));
                        }
                    }
                    wrong
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![format!("{when}: a reader panicked")])
            })
            .collect()
    });
    // Nothing in the store that no client made (a create answered with an error, say, but
    // committed anyway). Lists return at most 1,000: the check is exact below that.
    let known: HashSet<RequestId> = expected.iter().map(|e| e.id).collect();
    let mut c = d.connect();
    for closed in [false, true] {
        let params = ListParams {
            closed,
            scope: Scope::All,
            limit: Some(1000),
            ..ListParams::default()
        };
        match c.call::<RequestList>(&params) {
            Ok(list) => {
                for r in list.iter().filter(|r| !known.contains(&r.id)) {
                    wrong.push(format!(
                        "{when}: request {} of {} is in the store but no create of it was acknowledged",
                        r.id, r.requester
                    ));
                }
                let want = expected
                    .iter()
                    .filter(|e| e.status.is_open() != closed)
                    .count();
                if want < 1000 && list.len() != want {
                    wrong.push(format!(
                        "{when}: {} {} requests listed, {want} expected",
                        list.len(),
                        if closed { "closed" } else { "open" }
                    ));
                }
            }
            Err(e) => wrong.push(format!("{when}: request.list all: {e}")),
        }
    }
    wrong
}

/// One request read back: `None` when it is as expected.
fn check(c: &mut Conn, e: &Expected) -> Option<String> {
    let mut r: Request = match c.call::<RequestGet>(&IdParams { id: e.id }) {
        Ok(r) => r,
        Err(err) => return Some(format!("request {}: {err}", e.id)),
    };
    // A grant or revoke may still be finishing (dry-run takes microseconds, but the
    // recording is asynchronous): wait for it, bounded.
    if r.status != e.status && matches!(r.status, Status::Granting | Status::Revoking) {
        let until = if e.status.is_open() {
            WaitFor::Settled
        } else {
            WaitFor::Closed
        };
        match c.call::<RequestWait>(&WaitParams {
            id: e.id,
            until,
            timeout_secs: Some(30),
        }) {
            Ok(w) => r = w,
            Err(err) => return Some(format!("request {}: wait: {err}", e.id)),
        }
    }
    let resources: Vec<&str> = r
        .entries
        .iter()
        .flat_map(|x| x.resources.iter().map(String::as_str))
        .collect();
    (r.status != e.status || r.requester != e.requester || resources != [e.resource.as_str()]).then(
        || {
            format!(
                "request {}: {} of {} on {resources:?}, expected {} of {} on {}",
                e.id, r.status, r.requester, e.status, e.requester, e.resource
            )
        },
    )
}
