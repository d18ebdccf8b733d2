//! The provisioner: carries out the engine's actions (grant, revoke) against the
//! integrations, one queue per integration, and reports each outcome back to the engine.
//!
//! Each integration has a semaphore sized by its `concurrency()`: PostgreSQL DDL on one
//! server is serialized (concurrent GRANT/REVOKE on the same objects fails), while
//! `dry-run` runs wide. A provisioning call never holds anything the rest of the daemon needs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jit_api::Status;
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::engine::{Action, Engine, from_ms, pending_key};
use crate::integrations::{
    GrantEntry, GrantSpec, Integration, IntegrationError, Registry, RevokeSpec, SecretSource,
    SessionSecret,
};
use crate::store::model::{Millis, RequestRecord};

/// Length of generated passwords (alphanumeric: about 190 bits).
const SECRET_LEN: usize = 32;

/// A new random password.
pub fn generate_secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), SECRET_LEN)
}

/// Crash-test hook, in debug builds only: with `JITD_FAILPOINT=after-grant:0.2,after-revoke:0.1`
/// jitd aborts (as `kill -9` would stop it) at that point with that probability — after an
/// integration changed the target and before the store recorded it, the window recovery must
/// close. The crash campaign (`jit-crash`) sets it; release builds ignore it.
#[cfg(debug_assertions)]
fn failpoint(name: &str) {
    static POINTS: std::sync::OnceLock<Vec<(String, f64)>> = std::sync::OnceLock::new();
    let points = POINTS.get_or_init(|| {
        std::env::var("JITD_FAILPOINT")
            .unwrap_or_default()
            .split(',')
            .filter_map(|p| {
                let (n, prob) = p.split_once(':')?;
                Some((n.trim().to_owned(), prob.trim().parse().ok()?))
            })
            .collect()
    });
    if let Some((_, p)) = points.iter().find(|(n, _)| n == name)
        && rand::random::<f64>() < *p
    {
        eprintln!("jitd: failpoint {name}: aborting");
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
fn failpoint(_name: &str) {}

/// One lane per integration, shared by everything that calls it (actions and orphan
/// removal): a semaphore sized by its `concurrency()`, and the revokes waiting for it.
pub type Limits = Arc<Lanes>;

/// The lanes by integration name.
///
/// A lane belongs to the name, not to one build of the integration, and outlives reloads: a
/// reload that changes an integration's settings builds a new instance while calls on the old
/// one may still run, and both take their turns in the same lane, so `concurrency = 1` (one
/// DDL at a time on a PostgreSQL server) holds across the reload. A lane whose integration's
/// concurrency changed is resized in place ([`Lanes::update`]). Lanes of integrations that
/// are gone stay: a name that comes back queues behind any call still running under it.
#[derive(Debug, Default)]
pub struct Lanes(std::sync::RwLock<HashMap<String, Arc<Lane>>>);

impl Lanes {
    /// The lane of `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<Arc<Lane>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The lane of `name`, made with `size` permits if it has none yet (an integration a
    /// reload added, called before [`Lanes::update`] ran).
    pub fn lane(&self, name: &str, size: usize) -> Arc<Lane> {
        if let Some(lane) = self.get(name) {
            return lane;
        }
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Lane::new(size)))
            .clone()
    }

    /// Gives every integration of `registry` a lane sized by its `concurrency()`: a new one
    /// for those without one; the one it has, queue and holders included, for the others —
    /// resized in place when the concurrency changed (shrinking waits for the calls over the
    /// new size to end). Call it in a runtime.
    pub fn update(&self, registry: &Registry) {
        for (name, i) in registry {
            self.lane(name, i.concurrency()).resize(i.concurrency());
        }
    }

    /// Calls running on `name` now, and revokes waiting for their turn.
    pub fn depth(&self, name: &str) -> (u64, u64) {
        let Some(lane) = self.get(name) else {
            return (0, 0);
        };
        let size = *lane
            .size
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // While a shrink waits for holders, fewer permits exist than `size`: never below 0.
        let running = size.saturating_sub(lane.permits.available_permits());
        let queued = lane
            .revokes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        (running as u64, queued as u64)
    }
}

/// An integration's queue.
#[derive(Debug)]
pub struct Lane {
    permits: Arc<Semaphore>,
    /// How many permits it has (or will have, once a shrink has taken back what calls still
    /// running hold).
    size: std::sync::Mutex<usize>,
    /// Revokes waiting for a permit. Whoever gets one takes all of them to the integration
    /// at once (`Integration::revoke_many`), so a burst of expiries on a serialized
    /// integration costs a few batches, not one round trip after another.
    revokes: std::sync::Mutex<Vec<QueuedRevoke>>,
}

impl Lane {
    fn new(size: usize) -> Lane {
        Lane {
            permits: Arc::new(Semaphore::new(size)),
            size: std::sync::Mutex::new(size),
            revokes: std::sync::Mutex::default(),
        }
    }

    /// A permit to call the integration; waits for its turn.
    async fn permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.permits.clone().acquire_owned().await.ok()
    }

    /// Gives the lane `want` permits. Growing adds them at once. Shrinking takes back the
    /// free ones at once and the rest as the calls holding them finish, ahead of every call
    /// that asks after this point: the semaphore is fair (first come, first served) and the
    /// take-back waits in line from here. Calls that were already waiting when it shrank
    /// still run under the old size; none that come later do.
    fn resize(&self, want: usize) {
        let mut size = self
            .size
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if want > *size {
            self.permits.add_permits(want - *size);
        } else if want < *size {
            let excess = *size - want;
            let taken = self.permits.forget_permits(excess);
            if taken < excess {
                let rest = u32::try_from(excess - taken).unwrap_or(u32::MAX);
                // Polled once here, so that it is in line now (unconstrained: tokio's budget
                // could otherwise answer "later" without queueing it), then left to a task.
                let mut take = Box::pin(tokio::task::unconstrained(
                    self.permits.clone().acquire_many_owned(rest),
                ));
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                match take.as_mut().poll(&mut cx) {
                    std::task::Poll::Ready(got) => {
                        if let Ok(p) = got {
                            p.forget();
                        }
                    }
                    std::task::Poll::Pending => {
                        tokio::spawn(async move {
                            if let Ok(p) = take.await {
                                p.forget();
                            }
                        });
                    }
                }
            }
        }
        *size = want;
    }
}

/// A revoke waiting in a [`Lane`], and where its outcome goes.
type QueuedRevoke = (RevokeSpec, oneshot::Sender<Result<(), IntegrationError>>);

/// The most revokes handed to an integration in one call.
const REVOKE_BATCH: usize = 200;

/// The lanes for the engine's integrations.
pub fn limits(engine: &Engine) -> Limits {
    let lanes = Lanes::default();
    lanes.update(&engine.integrations());
    Arc::new(lanes)
}

/// Runs actions until the channel closes.
pub async fn run(
    engine: Arc<Engine>,
    mut actions: mpsc::UnboundedReceiver<Action>,
    limits: Limits,
    watched: Watched,
) {
    // One grant per request at a time: the scheduler's guard may send a grant again while a
    // slow one is still running, and two would race each other's ALTER ROLE.
    let granting: Arc<std::sync::Mutex<std::collections::HashSet<u64>>> = Arc::default();
    while let Some(action) = actions.recv().await {
        let engine = engine.clone();
        let limits = limits.clone();
        let granting = granting.clone();
        let watched = watched.clone();
        tokio::spawn(async move {
            match action {
                Action::Grant(id) => {
                    let first = granting
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(id);
                    if first {
                        grant(&engine, &limits, id).await;
                        granting
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&id);
                    }
                }
                Action::Revoke(id) => {
                    if let Some(failed_on) = revoke(&engine, &limits, id).await {
                        watch(&engine, &watched, failed_on);
                    }
                }
                Action::Reset(id) => reset(&engine, &limits, id).await,
                Action::Extend(id) => extend(&engine, &limits, id).await,
            }
        });
    }
}

/// A permit to call `integ`, named `name`, in its lane.
async fn permit(
    limits: &Limits,
    name: &str,
    integ: &Arc<dyn Integration>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    limits.lane(name, integ.concurrency()).permit().await
}

/// Revokes `spec` on `integ` through its lane: queued, then taken — with every other revoke
/// waiting — by the first caller to get a permit.
async fn revoke_queued(
    limits: &Limits,
    name: &str,
    integ: &Arc<dyn Integration>,
    spec: RevokeSpec,
) -> Result<(), IntegrationError> {
    let lane = limits.lane(name, integ.concurrency());
    let (tx, mut rx) = oneshot::channel();
    lane.revokes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((spec, tx));
    let permit = lane.permit().await;
    // Ours may have been taken by an earlier holder; if not, it is in what we drain. Drain
    // until the queue is empty, so nothing queued before we held the permit is left behind.
    let dropped = || Err(IntegrationError::new("the revoke was dropped; retrying"));
    let mine = loop {
        match rx.try_recv() {
            Ok(r) => break Some(r),
            Err(oneshot::error::TryRecvError::Closed) => break Some(dropped()),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let batch: Vec<_> = {
            let mut q = lane
                .revokes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = q.len().min(REVOKE_BATCH);
            q.drain(..n).collect()
        };
        if batch.is_empty() {
            // Taken by another holder (of another permit), whose answer is on its way.
            break None;
        }
        if batch.len() > 1 {
            tracing::info!(
                integration = name,
                revokes = batch.len(),
                "revoking in one batch"
            );
        }
        let (specs, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let results = integ.revoke_many(&specs).await;
        let mut results = results.into_iter();
        for reply in replies {
            let r = results.next().unwrap_or_else(|| {
                Err(IntegrationError::new(
                    "the integration returned too few results",
                ))
            });
            let _ = reply.send(r);
        }
    };
    drop(permit);
    match mine {
        Some(r) => r,
        None => rx.await.unwrap_or_else(|_| dropped()),
    }
}

fn unseal(engine: &Engine, id: u64, key: &str) -> Option<SessionSecret> {
    match engine.store().read(|r| r.secret(id, key)) {
        Ok(Some(b)) => engine.sealer().open(&b).map(SessionSecret),
        _ => None,
    }
}

async fn grant(engine: &Arc<Engine>, limits: &Limits, id: u64) {
    let rec = match engine.store().read(|r| r.request(id)) {
        Ok(Some(rec)) if rec.status == Status::Granting => rec,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(id, error = %e, "cannot read request to grant; it stays granting until the next start");
            return;
        }
    };
    let mut outcome: Result<(), (String, usize, bool)> = Ok(());
    let mut issued = Vec::new();
    let start = engine.clock().now();
    let end = start + Duration::from_secs(rec.duration_secs);
    // All or nothing: one session after the other; the first failure stops, and the engine
    // rolls back every session that may have been provisioned.
    for (i, s) in rec.sessions.iter().enumerate() {
        let Some(integ) = engine.integrations().get(&s.integration).cloned() else {
            outcome = Err((
                format!("integration {} is not configured", s.integration),
                i,
                true,
            ));
            break;
        };
        let generated = integ.secret_source() == SecretSource::Generated;
        let secret = if generated {
            unseal(engine, id, &s.integration)
        } else {
            None
        };
        if generated && secret.is_none() {
            outcome = Err((
                format!(
                    "{}: the session's secret is missing or cannot be opened",
                    s.integration
                ),
                i,
                true,
            ));
            break;
        }
        let spec = GrantSpec {
            request: id,
            requester: rec.requester.clone(),
            principal: s.principal.clone(),
            entries: rec
                .entries_on(&s.integration)
                .map(|e| GrantEntry {
                    resource_type: e.resource_type.clone(),
                    resources: e.resources.clone(),
                    permissions: e.permissions.clone(),
                })
                .collect(),
            secret,
            valid_until: end,
        };
        let _permit = permit(limits, &s.integration, &integ).await;
        match integ.grant(&spec).await {
            Ok(mut got) => {
                if integ.secret_source() != SecretSource::Issued && got.secret.take().is_some() {
                    // Only kinds that issue secrets may hand one back; anything else is a
                    // bug, and the secret is dropped rather than stored unexpectedly.
                    tracing::error!(id, integration = %s.integration, "an integration returned a secret it does not issue; ignored");
                }
                issued.push((s.integration.clone(), got));
            }
            Err(e) => {
                tracing::warn!(id, integration = %s.integration, error = %e, "grant failed; rolling back");
                outcome = Err((e.message, i, e.untouched));
                break;
            }
        }
    }
    // Sessions after the failing one were never attempted; the failing one itself only when
    // the integration says it changed nothing.
    let outcome = outcome.map(|()| issued).map_err(|(msg, i, untouched)| {
        let skip = if untouched { i } else { i + 1 };
        (
            msg,
            rec.sessions
                .iter()
                .skip(skip)
                .map(|s| s.integration.clone())
                .collect(),
        )
    });
    failpoint("after-grant");
    if let Err(e) = engine.record_granted(id, start, end, outcome).await {
        tracing::error!(id, error = %e, "cannot record grant outcome; it is redone at the next start");
    }
}

async fn reset(engine: &Arc<Engine>, limits: &Limits, id: u64) {
    let rec = match engine.store().read(|r| r.request(id)) {
        Ok(Some(rec)) if rec.status == Status::Granted && rec.resetting.is_some() => rec,
        _ => return,
    };
    // An admin's reset or a rotation ends the sessions opened with the old secret too.
    let end_sessions = rec.resetting.as_ref().is_some_and(|r| r.rotated);
    let mut outcomes = Vec::new();
    for s in &rec.sessions {
        if s.credentials == jit_api::CredentialState::None {
            continue;
        }
        let Some(integ) = engine.integrations().get(&s.integration).cloned() else {
            outcomes.push((
                s.integration.clone(),
                Err("integration is not configured".to_owned()),
            ));
            continue;
        };
        // A generated secret waits sealed as pending; an integration that issues its own
        // makes it now and hands it back.
        let source = integ.secret_source();
        let secret = match source {
            SecretSource::Generated => unseal(engine, id, &pending_key(&s.integration)),
            _ => None,
        };
        let Some(principal) = s
            .principal
            .clone()
            .filter(|_| source != SecretSource::Generated || secret.is_some())
        else {
            outcomes.push((
                s.integration.clone(),
                Err("the new secret is missing or cannot be opened".to_owned()),
            ));
            continue;
        };
        let r = {
            let _permit = permit(limits, &s.integration, &integ).await;
            integ
                .reset(&principal, secret.as_ref(), end_sessions)
                .await
                .map_err(|e| e.message)
        };
        let r = r.and_then(|mut got| match source {
            SecretSource::Issued if got.secret.is_none() => {
                Err("the integration made no new secret".to_owned())
            }
            SecretSource::Issued => Ok(got),
            // The new secret is the pending one jitd generated; nothing else replaces it.
            _ => {
                got.secret = None;
                Ok(got)
            }
        });
        match &r {
            Err(e) => {
                tracing::warn!(id, integration = %s.integration, error = %e, "credentials reset failed");
            }
            // A session opened with the old secret outlives it (an ssh connection): the
            // processes `jit connect` launched for it end, as at revoke.
            Ok(_) if end_sessions && integ.reset_ends_processes() && !s.processes.is_empty() => {
                let survivors = crate::procs::end(s.processes.clone()).await;
                if survivors > 0 {
                    tracing::warn!(id, integration = %s.integration, survivors, "session processes outlived the reset");
                }
            }
            Ok(_) => {}
        }
        outcomes.push((s.integration.clone(), r));
    }
    if let Err(e) = engine.record_reset(id, outcomes).await {
        tracing::error!(id, error = %e, "cannot record reset outcome");
    }
}

async fn extend(engine: &Arc<Engine>, limits: &Limits, id: u64) {
    let rec = match engine.store().read(|r| r.request(id)) {
        Ok(Some(rec)) if rec.status == Status::Granted => rec,
        _ => return,
    };
    let Some(until) = rec.expires_at.map(from_ms) else {
        return;
    };
    for s in &rec.sessions {
        let (Some(integ), Some(principal)) = (
            engine.integrations().get(&s.integration).cloned(),
            s.principal.clone(),
        ) else {
            continue;
        };
        // The target's clock only ever ends access early if this fails (the old, earlier end
        // stays), so a few tries and a loud log are enough.
        for attempt in 1..=3u64 {
            let r = {
                let _permit = permit(limits, &s.integration, &integ).await;
                integ.extend(&principal, until).await
            };
            match r {
                Ok(None) => break,
                Ok(Some(material)) => {
                    if let Err(e) = engine
                        .record_material(id, s.integration.clone(), material)
                        .await
                    {
                        tracing::warn!(id, integration = %s.integration, error = %e, "cannot record what the extension handed back; connect uses the earlier one, which ends at the earlier end");
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(id, integration = %s.integration, attempt, error = %e, "cannot move the target's end of access");
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
            }
        }
    }
}

/// Integrations whose server is being probed because revokes on it failed.
/// The integrations whose server is being probed after a failed revoke.
pub type Watched = Arc<std::sync::Mutex<std::collections::HashSet<String>>>;

/// How often a server whose revokes failed is probed.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Probes `integration`'s server every second until it answers, then retries every revoke
/// waiting on it at once: access comes off within about a second of the server's return,
/// not at the end of a backoff that grew during a long outage. One prober per integration;
/// kinds without a server (`probe` is `None`) keep their backoff.
fn watch(engine: &Arc<Engine>, watched: &Watched, integration: String) {
    let Some(integ) = engine.integrations().get(&integration).cloned() else {
        return;
    };
    if !watched
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(integration.clone())
    {
        return;
    }
    let engine = engine.clone();
    let watched = watched.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            match integ.probe().await {
                None => break,
                Some(Err(_)) => {}
                Some(Ok(())) => {
                    match engine.retry_revokes_now(&integration).await {
                        Ok(n) if n > 0 => {
                            tracing::info!(
                                integration,
                                revokes = n,
                                "the server answers again; retrying its revokes now"
                            );
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(integration, error = %e, "cannot reschedule revokes; they keep their backoff");
                        }
                    }
                    break;
                }
            }
        }
        watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&integration);
    });
}

/// Revokes a `revoking` request; returns the integration it failed on, if it did.
async fn revoke(engine: &Arc<Engine>, limits: &Limits, id: u64) -> Option<String> {
    let rec = match engine.store().read(|r| r.request(id)) {
        Ok(Some(rec)) if rec.status == Status::Revoking => rec,
        Ok(_) => return None,
        Err(e) => {
            tracing::error!(id, error = %e, "cannot read request to revoke; retried by the scheduler");
            return None;
        }
    };
    let (outcome, failed_on) = take_away(engine, limits, &rec).await;
    if let Err(e) = engine.record_revoked(id, outcome).await {
        tracing::error!(id, error = %e, "cannot record revoke outcome; retried by the scheduler");
    }
    failed_on
}

/// What an expiry's revoke came to, and when it finished.
pub type Gone = (Result<(), String>, Millis);

/// Takes away an expired grant's access before the expiry is recorded: the scheduler's fast
/// path (see `Engine::fire_due` and `engine::Expiry`). The outcome goes to `done`. If the
/// scheduler had to record the request `revoking` before the outcome came, it answers
/// `true` on `verdict` once that is durable, and the outcome is recorded here, as on the
/// usual path; `false` (or nothing) means it is not to be recorded.
pub fn expire(
    engine: &Arc<Engine>,
    limits: &Limits,
    watched: &Watched,
    rec: RequestRecord,
    done: oneshot::Sender<Gone>,
    verdict: oneshot::Receiver<bool>,
) {
    let engine = engine.clone();
    let limits = limits.clone();
    let watched = watched.clone();
    tokio::spawn(async move {
        let id = rec.id;
        let (outcome, failed_on) = take_away(&engine, &limits, &rec).await;
        let _ = done.send((outcome.clone(), engine.now_ms()));
        if let Some(integration) = failed_on {
            watch(&engine, &watched, integration);
        }
        if verdict.await == Ok(true)
            && let Err(e) = engine.record_revoked(id, outcome).await
        {
            tracing::error!(id, error = %e, "cannot record revoke outcome; retried by the scheduler");
        }
    });
}

/// Takes a request's access away on every integration it was provisioned on, and ends the
/// processes `jit connect` launched for it. Returns the outcome and the integration it
/// failed on, if it did.
async fn take_away(
    engine: &Arc<Engine>,
    limits: &Limits,
    rec: &RequestRecord,
) -> (Result<(), String>, Option<String>) {
    let id = rec.id;
    let mut failed_on = None;
    // Processes `jit connect` launched end with the access, alongside the integration's own
    // session kill; the revoke is not recorded until they are gone.
    let processes: Vec<_> = rec
        .sessions
        .iter()
        .flat_map(|s| s.processes.iter().copied())
        .collect();
    let ending = tokio::spawn(crate::procs::end(processes));
    let mut outcome = Ok(());
    for s in rec.sessions.iter().filter(|s| s.provisioned) {
        let Some(integ) = engine.integrations().get(&s.integration).cloned() else {
            outcome = Err(format!(
                "integration {} is not configured; restore it so the access can be removed",
                s.integration
            ));
            break;
        };
        let spec = RevokeSpec {
            request: Some(id),
            principal: s.principal.clone(),
            resources: rec.resources_on(&s.integration),
        };
        if let Err(e) = revoke_queued(limits, &s.integration, &integ, spec).await {
            outcome = Err(e.message);
            failed_on = Some(s.integration.clone());
            break;
        }
    }
    // Access is not reported gone while a launched process may still run: a task that
    // died ending them counts as a failure, retried like any other.
    let ended = match ending.await {
        Ok(0) => Ok(()),
        Ok(survivors) => Err(format!(
            "{survivors} session process(es) could not be ended"
        )),
        Err(_) => Err("ending the session processes failed".to_owned()),
    };
    if outcome.is_ok() {
        outcome = ended;
    }
    failpoint("after-revoke");
    match &outcome {
        Ok(()) => tracing::info!(id, "access removed"),
        Err(e) => {
            engine.metrics().revoke_retry();
            tracing::warn!(id, error = %e, "revoke failed; will retry");
        }
    }
    (outcome, failed_on)
}

/// Removes principals this daemon made that no open request owns, on every integration.
pub async fn reconcile_orphans(engine: Arc<Engine>, limits: Limits) {
    for (name, integ) in engine.integrations().iter() {
        let (name, integ) = (name.clone(), integ.clone());
        for warning in integ.preflight().await {
            tracing::warn!(integration = %name, "{warning}");
        }
        let made = match integ.list_principals().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(integration = %name, error = %e, "cannot list what jit made; orphans not checked");
                continue;
            }
        };
        if made.is_empty() {
            continue;
        }
        // Read the live set after listing: anything listed was made by a grant whose request
        // was already durable, so it is in this set unless it has closed since.
        let live = match engine.live_principals(&name) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot read open requests; orphans not checked");
                return;
            }
        };
        for principal in made.into_iter().filter(|p| !live.contains(p)) {
            let spec = RevokeSpec {
                request: None,
                principal: Some(principal.clone()),
                resources: Vec::new(),
            };
            let outcome = {
                let _permit = permit(&limits, &name, &integ).await;
                integ.revoke(&spec).await.map_err(|e| e.message)
            };
            match &outcome {
                Ok(()) => {
                    tracing::warn!(integration = %name, %principal, "removed an orphan: no open request owns it")
                }
                Err(e) => {
                    tracing::error!(integration = %name, %principal, error = %e, "cannot remove orphan")
                }
            }
            let _ = engine.record_orphan(&name, &principal, outcome).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::path::Path;

    use super::*;

    const POSTGRES: &str = "kind = \"postgres\"\nurl = \"postgres://jit@127.0.0.1:5432/postgres\"";
    const DRY_RUN: &str = "kind = \"dry-run\"\nresource_types = { database = [\"read\"] }";

    /// The integrations of a config with one integration, `pg`, of these settings.
    fn registry(settings: &str) -> Registry {
        let text = format!("[[integrations]]\nname = \"pg\"\n{settings}\n");
        let config = jit_config::parse(&text, Path::new("/jit.toml")).expect("config");
        crate::integrations::build(&config, "test", Path::new("")).expect("registry")
    }

    /// Whether `f` would wait if polled now (it is polled once).
    async fn waits<F: Future + Unpin>(f: &mut F) -> bool {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::pin::Pin::new(&mut *f).poll(cx).is_pending())
        })
        .await
    }

    #[tokio::test]
    async fn a_rebuilt_integration_takes_turns_with_calls_still_running_on_the_old_one() {
        let lanes: Limits = Arc::default();
        let old = registry(POSTGRES);
        lanes.update(&old);
        let running = permit(&lanes, "pg", &old["pg"]).await.expect("permit");
        // A reload changes its settings (another port): a new instance, the same server
        // maybe, the same one-at-a-time.
        let new = registry(&POSTGRES.replace("5432", "5433"));
        lanes.update(&new);
        let mut next = Box::pin(permit(&lanes, "pg", &new["pg"]));
        assert!(
            waits(&mut next).await,
            "a call on the new instance ran beside the one still running on the old"
        );
        assert_eq!(lanes.depth("pg"), (1, 0));
        drop(running);
        assert!(next.await.is_some());
    }

    #[tokio::test]
    async fn a_lane_made_smaller_lets_no_new_call_in_before_the_calls_over_its_size_end() {
        let lanes: Limits = Arc::default();
        let wide = registry(DRY_RUN);
        lanes.update(&wide);
        let a = permit(&lanes, "pg", &wide["pg"]).await.expect("permit");
        let b = permit(&lanes, "pg", &wide["pg"]).await.expect("permit");
        // The same name becomes a PostgreSQL integration: one call at a time.
        let narrow = registry(POSTGRES);
        lanes.update(&narrow);
        let mut next = Box::pin(permit(&lanes, "pg", &narrow["pg"]));
        assert!(waits(&mut next).await, "two calls already run");
        drop(a);
        assert!(waits(&mut next).await, "one call still runs");
        drop(b);
        let only = next.await.expect("permit");
        assert_eq!(lanes.depth("pg"), (1, 0));
        let mut another = Box::pin(permit(&lanes, "pg", &narrow["pg"]));
        assert!(waits(&mut another).await, "concurrency 1 means 1");
        drop(only);
        drop(another.await);
        // And wide again.
        lanes.update(&wide);
        let held: Vec<_> = hold(&lanes, &wide, 3).await;
        assert_eq!(held.len(), 3);
        assert_eq!(lanes.depth("pg"), (3, 0));
    }

    /// `n` permits at once on `pg`.
    async fn hold(
        lanes: &Limits,
        registry: &Registry,
        n: usize,
    ) -> Vec<tokio::sync::OwnedSemaphorePermit> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(permit(lanes, "pg", &registry["pg"]).await.expect("permit"));
        }
        out
    }
}
