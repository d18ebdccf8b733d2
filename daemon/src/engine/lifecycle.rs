//! Transitions the daemon makes on its own: recording what provisioning did, firing
//! deadlines (pending timeout, expiry, revoke retries), and recovery at start.

use std::sync::Arc;
use std::time::SystemTime;

use jit_api::{RequestId, Status};

use super::events::{EXPIRY_WARNING, Tx};
use super::requests::{audit, close, reject, start_revoking};
use super::{Action, Engine, EngineError, to_ms};
use crate::integrations::Issued;
use crate::store::model::{Deadline, DeadlineKind, Millis, ProcessRecord, RequestRecord};

/// Retry delay after `attempts` failed revokes: 1 s doubling to 30 s, with ±20 % jitter.
pub fn backoff_ms(attempts: u32) -> Millis {
    let base: u64 = 1000u64
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(5))
        .min(30_000);
    let jitter = rand::random_range(0..=base / 5 * 2);
    base - base / 5 + jitter
}

/// Applies a revoke attempt's outcome to a `revoking` record: closed as its outcome
/// (credentials erased) once the access is gone; otherwise the error, the attempt and the
/// next retry are kept, and the access is still reported there.
fn apply_revoke_outcome(
    wtx: &mut Tx<'_, '_>,
    rec: &mut RequestRecord,
    outcome: Result<(), String>,
    now: Millis,
) -> Result<(), EngineError> {
    let id = rec.id;
    let Some(revoking) = rec.revoking.clone() else {
        return Ok(());
    };
    match outcome {
        Ok(()) => {
            close(rec, revoking.outcome, now, revoking.reason.clone());
            for s in &mut rec.sessions {
                if s.credentials == jit_api::CredentialState::Unrevealed {
                    s.credentials = jit_api::CredentialState::None;
                }
            }
            wtx.delete_secrets(id)?;
            let action = match revoking.outcome {
                Status::Expired => "grant.expired",
                Status::Failed => "request.failed",
                _ => "grant.revoked",
            };
            audit(
                wtx,
                now,
                "jitd",
                action,
                Some(rec),
                Some(&revoking.reason),
                None,
            )?;
        }
        Err(e) => {
            let attempts = revoking.attempts + 1;
            let next = now.saturating_add(backoff_ms(attempts));
            rec.revoking = Some(crate::store::model::RevokingRecord {
                attempts,
                error: Some(e.clone()),
                next_retry: next,
                ..revoking
            });
            rec.deadline = Some(Deadline {
                at: next,
                kind: DeadlineKind::RetryRevoke,
            });
            // The audit log keeps the first failure; subscribers hear of each, since the
            // access is still there.
            if attempts == 1 {
                audit(
                    wtx,
                    now,
                    "jitd",
                    "grant.revoke_failed",
                    Some(rec),
                    None,
                    Some(e),
                )?;
            } else {
                wtx.note(id, "grant.revoke_failed", "jitd", now, None, Some(e));
            }
        }
    }
    Ok(())
}

/// Whether two states of a request hold the same access: what a revoke saw is all there
/// is. A reveal (or anything else that adds no access) does not count as a change.
fn same_access(a: &RequestRecord, b: &RequestRecord) -> bool {
    fn sessions(r: &RequestRecord) -> Vec<(&String, &Option<String>, bool, &Vec<ProcessRecord>)> {
        r.sessions
            .iter()
            .map(|s| (&s.integration, &s.principal, s.provisioned, &s.processes))
            .collect()
    }
    a.status == b.status
        && a.expires_at == b.expires_at
        && a.deadline == b.deadline
        && a.resetting == b.resetting
        && sessions(a) == sessions(b)
}

/// An expiry whose access the scheduler took away (or is taking away) before recording it:
/// the record as it was read when the revoke started, and, once the revoke finished, its
/// outcome and when it finished. One commit then records the request `expired` — where the
/// usual path would commit `revoking`, revoke, and commit again. A crash before that commit
/// leaves the request granted with its expiry due, so it is revoked again at start (revokes
/// are idempotent).
#[derive(Debug)]
pub struct Expiry {
    /// The request as read before its revoke started.
    pub rec: RequestRecord,
    /// When the scheduler took it up.
    pub started: Millis,
    /// The revoke's outcome and the time it finished; `None` while it still runs.
    pub done: Option<(Result<(), String>, Millis)>,
}

/// What [`Engine::fire_due`] did.
#[derive(Debug, Default)]
pub struct Fired {
    /// How many deadlines it handled (a full batch means more may be due).
    pub handled: usize,
    /// Expiries still being revoked that are now durably `revoking`: their revoke records
    /// its outcome itself when it finishes. The others' outcomes are not to be recorded.
    pub record_later: std::collections::HashSet<RequestId>,
}

/// What provisioning a request came to: per session (by integration) what its grant handed
/// back; or the error and the sessions that were never provisioned.
pub type GrantOutcome = Result<Vec<(String, Issued)>, (String, Vec<String>)>;

/// How many due deadlines one write handles.
const DUE_BATCH: usize = 1000;

/// How late an expiry warning may be and still be sent.
const WARNING_GRACE_MS: Millis = 5_000;

impl Engine {
    /// Records the outcome of provisioning a `granting` request.
    /// On failure, `untouched` names the sessions that were never provisioned (not attempted,
    /// or refused before any change): the rollback leaves them alone.
    pub async fn record_granted(
        self: &Arc<Self>,
        id: RequestId,
        granted_at: SystemTime,
        expires_at: SystemTime,
        outcome: GrantOutcome,
    ) -> Result<(), EngineError> {
        let now = self.now_ms();
        let this = self.clone();
        let (changed, action) = self
            .write(move |wtx| {
                let Some(old) = wtx.request(id)? else {
                    return Ok((false, None));
                };
                if old.status != Status::Granting {
                    return Ok((false, None));
                }
                let mut rec = old.clone();
                let action = match outcome {
                    Ok(issued) => {
                        // What the integrations handed back: a secret is sealed exactly like
                        // a generated one, in this same transaction; material is kept as is.
                        for (integration, issued) in issued {
                            let Some(s) = rec
                                .sessions
                                .iter_mut()
                                .find(|s| s.integration == integration)
                            else {
                                continue;
                            };
                            if let Some(secret) = issued.secret {
                                wtx.put_secret(id, &integration, &this.sealer.seal(&secret.0))?;
                                s.credentials = jit_api::CredentialState::Unrevealed;
                            }
                            if let Some(m) = issued.material {
                                s.material = Some(super::material_record(m));
                            }
                        }
                        rec.status = Status::Granted;
                        rec.granted_at = Some(to_ms(granted_at));
                        rec.expires_at = Some(to_ms(expires_at));
                        rec.next_rotation = this
                            .rotation_every(&rec)
                            .map(|every| to_ms(granted_at).saturating_add(every));
                        rec.next_warning = this.next_warning(&rec, now);
                        rec.deadline = super::access::granted_deadline(&rec);
                        audit(wtx, now, "jitd", "grant.granted", Some(&rec), None, None)?;
                        None
                    }
                    Err(e) => {
                        // All or nothing: roll back whatever part was provisioned, and only
                        // then call the request failed.
                        let (e, untouched) = e;
                        for s in &mut rec.sessions {
                            if untouched.contains(&s.integration) {
                                s.provisioned = false;
                            }
                        }
                        rec.error = Some(e.clone());
                        start_revoking(&mut rec, Status::Failed, format!("failed: {e}"), now);
                        audit(wtx, now, "jitd", "grant.failed", Some(&rec), None, Some(e))?;
                        Some(Action::Revoke(id))
                    }
                };
                wtx.put_request(&rec, Some(&old))?;
                Ok::<_, EngineError>((true, action))
            })
            .await?;
        if changed {
            self.after_commit(&[id], action.into_iter().collect(), true);
        }
        Ok(())
    }

    /// Records the outcome of a revoke attempt on a `revoking` request.
    pub async fn record_revoked(
        self: &Arc<Self>,
        id: RequestId,
        outcome: Result<(), String>,
    ) -> Result<(), EngineError> {
        let now = self.now_ms();
        let changed = self
            .write(move |wtx| {
                let Some(old) = wtx.request(id)? else {
                    return Ok(false);
                };
                if old.status != Status::Revoking || old.revoking.is_none() {
                    return Ok(false);
                }
                let mut rec = old.clone();
                apply_revoke_outcome(wtx, &mut rec, outcome, now)?;
                wtx.put_request(&rec, Some(&old))?;
                Ok::<_, EngineError>(true)
            })
            .await?;
        if changed {
            self.after_commit(&[id], Vec::new(), true);
        }
        Ok(())
    }

    /// Granted requests whose expiry is due at `now`, as stored, at most `DUE_BATCH`: the
    /// scheduler takes their access away before it records anything (see [`Expiry`]).
    pub fn due_expiries(&self, now: Millis) -> Result<Vec<RequestRecord>, EngineError> {
        Ok(self.store.read(|r| {
            let mut out = Vec::new();
            for (at, id, kind) in r.due(now, DUE_BATCH)? {
                if kind != DeadlineKind::Expire {
                    continue;
                }
                if let Some(rec) = r.request(id)?
                    && rec.status == Status::Granted
                    && rec.deadline == Some(Deadline { at, kind })
                {
                    out.push(rec);
                }
            }
            Ok(out)
        })?)
    }

    /// Handles every deadline at or before now; returns how many were handled (the scheduler
    /// calls again while a full batch came back).
    ///
    /// `expiries` are those whose access the scheduler took away first (see [`Expiry`]):
    /// each is recorded `expired` (or, if its revoke failed, `revoking` with the error and
    /// the next retry), or `revoking` while its revoke still runs. One that changed since
    /// it was read — revoked, extended, a session launched for it — goes the usual way
    /// instead: `revoking`, and a revoke that sees the record as it is now.
    pub async fn fire_due(self: &Arc<Self>, expiries: Vec<Expiry>) -> Result<Fired, EngineError> {
        let now = self.now_ms();
        let this = self.clone();
        let (changed, actions, record_later) = self
            .write(move |wtx| {
                let mut changed = Vec::new();
                let mut actions = Vec::new();
                let mut record_later = std::collections::HashSet::new();
                for e in expiries {
                    let id = e.rec.id;
                    let Some(old) = wtx.request(id)? else {
                        continue;
                    };
                    if !same_access(&old, &e.rec) {
                        // Whoever changed it owns it now if it is no longer granted (a
                        // revoke takes it away itself); if it is, take it away again, seeing
                        // everything added meanwhile.
                        if old.status == Status::Granted {
                            let mut rec = old.clone();
                            start_revoking(&mut rec, Status::Expired, "expired".into(), now);
                            audit(wtx, now, "jitd", "grant.expiring", Some(&rec), None, None)?;
                            actions.push(Action::Revoke(id));
                            wtx.put_request(&rec, Some(&old))?;
                            changed.push(id);
                        }
                        continue;
                    }
                    let mut rec = old.clone();
                    start_revoking(&mut rec, Status::Expired, "expired".into(), e.started);
                    audit(
                        wtx,
                        e.started,
                        "jitd",
                        "grant.expiring",
                        Some(&rec),
                        None,
                        None,
                    )?;
                    match e.done {
                        Some((outcome, gone_at)) => {
                            apply_revoke_outcome(wtx, &mut rec, outcome, gone_at)?;
                        }
                        None => {
                            record_later.insert(id);
                        }
                    }
                    wtx.put_request(&rec, Some(&old))?;
                    changed.push(id);
                }
                let due = wtx.due(now, DUE_BATCH)?;
                for (at, id, kind) in due {
                    let Some(old) = wtx.request(id)? else {
                        continue;
                    };
                    let mut rec = old.clone();
                    if rec.deadline != Some(Deadline { at, kind }) {
                        // An index entry the record no longer points at: drop it.
                        wtx.remove_deadline(at, id)?;
                        continue;
                    }
                    match (kind, rec.status) {
                        (DeadlineKind::PendingTimeout, Status::Pending) => {
                            let ttl = rec
                                .pending_until
                                .unwrap_or(now)
                                .saturating_sub(rec.created_at);
                            let reason = format!(
                                "timed out: no decision within {}",
                                humantime::format_duration(std::time::Duration::from_secs(
                                    ttl / 1000
                                ))
                            );
                            close(&mut rec, Status::Rejected, now, reason.clone());
                            audit(
                                wtx,
                                now,
                                "jitd",
                                "request.timed_out",
                                Some(&rec),
                                Some(&reason),
                                None,
                            )?;
                        }
                        (DeadlineKind::Expire, Status::Granted) => {
                            start_revoking(&mut rec, Status::Expired, "expired".into(), now);
                            audit(wtx, now, "jitd", "grant.expiring", Some(&rec), None, None)?;
                            actions.push(Action::Revoke(id));
                        }
                        (DeadlineKind::RetryGrant, Status::Granting) => {
                            tracing::warn!(id, "a grant took too long; provisioning it again");
                            rec.deadline = Some(super::requests::grant_guard(now));
                            actions.push(Action::Grant(id));
                        }
                        (DeadlineKind::Start, Status::Scheduled)
                            if now >= at.saturating_add(rec.duration_secs.saturating_mul(1000)) =>
                        {
                            // jitd was down through the whole approved window: grant nothing.
                            let reason =
                                "expired: the scheduled window passed while jitd was not running"
                                    .to_owned();
                            close(&mut rec, Status::Expired, now, reason.clone());
                            audit(
                                wtx,
                                now,
                                "jitd",
                                "request.window_missed",
                                Some(&rec),
                                Some(&reason),
                                None,
                            )?;
                        }
                        (DeadlineKind::Start, Status::Scheduled) => {
                            let integrations = this.integrations();
                            let config = this.config();
                            // Gone from the config, or only kept (retired) to revoke.
                            if let Some(gone) = rec.integrations().into_iter().find(|name| {
                                integrations.get(*name).is_none()
                                    || config.integration(name).is_none()
                            }) {
                                // Its integration left the config (a restart with a changed
                                // file): nothing to start on. Refused here, alone — an error
                                // would fail this whole batch of deadlines, again and again.
                                let reason = format!(
                                    "integration {gone} is no longer configured: the scheduled start could not happen"
                                );
                                reject(&mut rec, "jitd", now, Some(&reason));
                                wtx.delete_secrets(rec.id)?;
                                audit(
                                    wtx,
                                    now,
                                    "jitd",
                                    "request.rejected",
                                    Some(&rec),
                                    Some(&reason),
                                    None,
                                )?;
                                wtx.put_request(&rec, Some(&old))?;
                                changed.push(id);
                                continue;
                            }
                            // Late (jitd was down at the start): the access still ends where the
                            // approved window ends.
                            let late_secs = now.saturating_sub(at) / 1000;
                            rec.duration_secs = rec.duration_secs.saturating_sub(late_secs).max(1);
                            this.begin_granting(wtx, &mut rec, now, &integrations)?;
                            audit(
                                wtx,
                                now,
                                "jitd",
                                "request.started",
                                Some(&rec),
                                Some("scheduled start"),
                                None,
                            )?;
                            actions.push(Action::Grant(id));
                        }
                        (DeadlineKind::Rotate, Status::Granted) => {
                            let every = this.rotation_every(&rec);
                            rec.next_rotation = every.map(|e| now.saturating_add(e));
                            rec.deadline = super::access::granted_deadline(&rec);
                            if rec.resetting.is_none()
                                && this.begin_reset(wtx, &mut rec, "jitd", true)?
                            {
                                audit(
                                    wtx,
                                    now,
                                    "jitd",
                                    "credentials.rotation_started",
                                    Some(&rec),
                                    Some("rotation policy"),
                                    None,
                                )?;
                                actions.push(Action::Reset(id));
                            }
                        }
                        (DeadlineKind::Warn, Status::Granted) => {
                            // A warning that comes due while jitd is not running (or the
                            // machine sleeps) is dropped, not sent late as if new; the next
                            // one is sent on time.
                            if now.saturating_sub(at) <= WARNING_GRACE_MS {
                                wtx.note(id, EXPIRY_WARNING, "jitd", now, None, None);
                            } else {
                                tracing::debug!(
                                    id,
                                    late_ms = now - at,
                                    "expiry warning dropped: it came due while jitd was not running"
                                );
                            }
                            rec.next_warning = this.next_warning(&rec, now);
                            rec.deadline = super::access::granted_deadline(&rec);
                        }
                        (DeadlineKind::RetryRevoke, Status::Revoking) => {
                            let guard = now.saturating_add(super::REVOKE_GUARD.as_millis() as u64);
                            rec.deadline = Some(Deadline {
                                at: guard,
                                kind: DeadlineKind::RetryRevoke,
                            });
                            actions.push(Action::Revoke(id));
                        }
                        _ => rec.deadline = None,
                    }
                    wtx.put_request(&rec, Some(&old))?;
                    changed.push(id);
                }
                Ok::<_, EngineError>((changed, actions, record_later))
            })
            .await?;
        let handled = changed.len();
        if handled > 0 {
            self.after_commit(&changed, actions, false);
        }
        Ok(Fired {
            handled,
            record_later,
        })
    }

    /// Takes a backward step of the wall clock out of every open request's times: a grant
    /// ends (and a pending request times out) `back` earlier by the clock, so no grant lasts
    /// longer than it was issued for. Targets with a clock of their own (`VALID UNTIL`) are
    /// moved too. Returns how many requests changed.
    pub async fn clock_stepped_back(
        self: &Arc<Self>,
        back: std::time::Duration,
    ) -> Result<usize, EngineError> {
        let open: Vec<RequestId> = self
            .store
            .read(|r| r.open_ids())?
            .into_iter()
            .filter(|(_, status, _)| matches!(status, Status::Granted | Status::Pending))
            .map(|(id, _, _)| id)
            .collect();
        let by = u64::try_from(back.as_millis()).unwrap_or(u64::MAX);
        let now = self.now_ms();
        let (moved, actions) = self
            .write(move |wtx| {
                let mut moved = Vec::new();
                let mut actions = Vec::new();
                for id in open {
                    let Some(old) = wtx.request(id)? else {
                        continue;
                    };
                    let mut rec = old.clone();
                    match old.status {
                        Status::Granted => {
                            rec.expires_at = rec.expires_at.map(|t| t.saturating_sub(by));
                            rec.next_rotation = rec.next_rotation.map(|t| t.saturating_sub(by));
                            rec.next_warning = rec.next_warning.map(|t| t.saturating_sub(by));
                            if old.deadline.is_some_and(|d| {
                                matches!(
                                    d.kind,
                                    DeadlineKind::Expire
                                        | DeadlineKind::Rotate
                                        | DeadlineKind::Warn
                                )
                            }) {
                                rec.deadline = super::access::granted_deadline(&rec);
                            }
                            actions.push(Action::Extend(id));
                        }
                        Status::Pending => {
                            rec.pending_until = rec.pending_until.map(|t| t.saturating_sub(by));
                            if let Some(d) = rec
                                .deadline
                                .as_mut()
                                .filter(|d| d.kind == DeadlineKind::PendingTimeout)
                            {
                                d.at = d.at.saturating_sub(by);
                            }
                        }
                        _ => continue,
                    }
                    wtx.put_request(&rec, Some(&old))?;
                    moved.push(id);
                }
                audit(
                    wtx,
                    now,
                    "jitd",
                    "daemon.clock_stepped_back",
                    None,
                    None,
                    Some(format!(
                        "wall clock stepped back {}s; {} open requests end that much earlier",
                        by / 1000,
                        moved.len()
                    )),
                )?;
                Ok::<_, EngineError>((moved, actions))
            })
            .await?;
        let n = moved.len();
        self.after_commit(&moved, actions, true);
        Ok(n)
    }

    /// Moves the next retry of every failing revoke that waits on `integration` to now (its
    /// server answers again). Returns how many were moved.
    pub async fn retry_revokes_now(
        self: &Arc<Self>,
        integration: &str,
    ) -> Result<usize, EngineError> {
        let revoking: Vec<RequestId> = self
            .store
            .read(|r| r.open_ids())?
            .into_iter()
            .filter(|(_, status, _)| *status == Status::Revoking)
            .map(|(id, _, _)| id)
            .collect();
        if revoking.is_empty() {
            return Ok(0);
        }
        let now = self.now_ms();
        let integration = integration.to_owned();
        let moved = self
            .write(move |wtx| {
                let mut moved = Vec::new();
                for id in revoking {
                    let Some(old) = wtx.request(id)? else {
                        continue;
                    };
                    let waiting = old.status == Status::Revoking
                        && old.revoking.as_ref().is_some_and(|r| r.attempts > 0)
                        && old
                            .deadline
                            .is_some_and(|d| d.kind == DeadlineKind::RetryRevoke && d.at > now)
                        && old
                            .sessions
                            .iter()
                            .any(|s| s.provisioned && s.integration == integration);
                    if !waiting {
                        continue;
                    }
                    let mut rec = old.clone();
                    rec.deadline = Some(Deadline {
                        at: now,
                        kind: DeadlineKind::RetryRevoke,
                    });
                    if let Some(r) = rec.revoking.as_mut() {
                        r.next_retry = now;
                    }
                    wtx.put_request(&rec, Some(&old))?;
                    moved.push(id);
                }
                Ok::<_, EngineError>(moved)
            })
            .await?;
        let n = moved.len();
        if n > 0 {
            self.after_commit(&moved, Vec::new(), true);
        }
        Ok(n)
    }

    /// At start: redo what a crash interrupted (grants in Granting, revokes in Revoking).
    /// Orphans are removed separately ([`crate::provision::reconcile_orphans`]).
    pub async fn recover(self: &Arc<Self>) -> Result<(), EngineError> {
        // The open table carries each request's status, so this reads no request record:
        // start-up time does not grow with the number of active grants or with history.
        let open = self.store.read(|r| r.open_ids())?;
        let mut actions = Vec::new();
        for (id, status, resetting) in open {
            match status {
                Status::Granting => actions.push(Action::Grant(id)),
                Status::Revoking => actions.push(Action::Revoke(id)),
                // A reset interrupted by a stop still has its pending secrets: finish it.
                Status::Granted if resetting => actions.push(Action::Reset(id)),
                _ => {}
            }
        }
        if !actions.is_empty() {
            tracing::info!(
                count = actions.len(),
                "resuming grants and revokes interrupted by a stop"
            );
        }
        self.after_commit(&[], actions, true);
        Ok(())
    }

    /// The shortest rotation policy among the request's integrations that have secrets, in ms.
    pub(crate) fn rotation_every(
        &self,
        rec: &crate::store::model::RequestRecord,
    ) -> Option<Millis> {
        let config = self.config();
        rec.sessions
            .iter()
            .filter(|s| s.credentials != jit_api::CredentialState::None)
            .filter_map(|s| config.integrations.iter().find(|i| i.name == s.integration))
            .filter_map(|i| i.rotate_every)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .min()
    }

    /// When a granted request's requester is next warned that the access ends, after `now`.
    pub(crate) fn next_warning(
        &self,
        rec: &crate::store::model::RequestRecord,
        now: Millis,
    ) -> Option<Millis> {
        super::events::warning_after(rec.expires_at?, &self.config().daemon.expiry_warnings, now)
    }

    /// The principals of open requests on one integration (they must not be removed).
    pub fn live_principals(&self, integration: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .open_records()?
            .into_iter()
            .flat_map(|r| r.sessions)
            .filter(|s| s.integration == integration)
            .filter_map(|s| s.principal)
            .collect())
    }

    /// Records that an orphan was found and removed (or could not be).
    pub async fn record_orphan(
        &self,
        integration: &str,
        principal: &str,
        outcome: Result<(), String>,
    ) -> Result<(), EngineError> {
        let now = self.now_ms();
        let details = match &outcome {
            Ok(()) => format!("{integration}: removed {principal}, which no open request owns"),
            Err(e) => format!("{integration}: could not remove {principal}: {e}"),
        };
        let action = if outcome.is_ok() {
            "orphan.removed"
        } else {
            "orphan.remove_failed"
        };
        self.write(move |wtx| audit(wtx, now, "jitd", action, None, None, Some(details)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use jit_api::Status;
    use jit_api::methods::CreateParams;
    use tokio::sync::mpsc;

    use super::{Expiry, backoff_ms};
    use crate::clock::ManualClock;
    use crate::engine::{Action, Caller, Engine};
    use crate::store::model::ProcessRecord;

    const CONFIG: &str = r#"
[daemon]
admins = ["root"]

[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = { database = ["read"] }

[[flows]]
name = "demo-read"
requesters = ["alice"]
integration = "demo"
permissions = ["read"]
max_duration = "1h"
"#;

    fn engine(
        dir: &std::path::Path,
    ) -> (Arc<Engine>, ManualClock, mpsc::UnboundedReceiver<Action>) {
        crate::engine::testing::engine(dir, CONFIG)
    }

    fn alice() -> Caller {
        crate::engine::testing::user("alice", 1000)
    }

    /// A granted 60 s request, its expiry now due, as the scheduler reads it.
    async fn due_grant(
        engine: &Arc<Engine>,
        clock: &ManualClock,
        actions: &mut mpsc::UnboundedReceiver<Action>,
    ) -> crate::store::model::RequestRecord {
        let r = engine
            .create(
                &alice(),
                CreateParams {
                    integration: "demo".into(),
                    resource_type: "database".into(),
                    resources: vec!["orders".into()],
                    permissions: vec!["read".into()],
                    duration_secs: Some(60),
                    ..CreateParams::default()
                },
            )
            .await
            .expect("create");
        assert_eq!(actions.recv().await, Some(Action::Grant(r.id)));
        let now = crate::clock::Clock::now(clock);
        engine
            .record_granted(r.id, now, now + Duration::from_secs(60), Ok(Vec::new()))
            .await
            .expect("granted");
        clock.advance(Duration::from_secs(61));
        let due = engine.due_expiries(engine.now_ms()).expect("due");
        assert_eq!(due.len(), 1);
        due.into_iter().next().expect("one")
    }

    fn status(engine: &Engine, id: u64) -> crate::store::model::RequestRecord {
        engine
            .store()
            .read(|r| r.request(id))
            .expect("read")
            .expect("request")
    }

    #[tokio::test]
    async fn an_expiry_taken_away_first_is_recorded_expired_in_one_write() {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, clock, mut actions) = engine(dir.path());
        let rec = due_grant(&engine, &clock, &mut actions).await;
        let id = rec.id;
        let started = engine.now_ms();
        let gone_at = started + 3;
        let fired = engine
            .fire_due(vec![Expiry {
                rec,
                started,
                done: Some((Ok(()), gone_at)),
            }])
            .await
            .expect("fire");
        assert_eq!(fired.handled, 1);
        assert!(fired.record_later.is_empty());
        let after = status(&engine, id);
        assert_eq!(after.status, Status::Expired);
        assert_eq!(
            after.ended_at,
            Some(gone_at),
            "ended when the access was gone"
        );
        assert!(actions.try_recv().is_err(), "nothing left to do");
        let audit = engine
            .store()
            .read(|r| r.audit(0, 100, |e| e.request == Some(id)))
            .expect("audit");
        let words: Vec<_> = audit.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            words[words.len() - 2..],
            ["grant.expiring", "grant.expired"]
        );
    }

    #[tokio::test]
    async fn nothing_adds_to_a_grant_once_its_end_has_come() {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, clock, mut actions) = engine(dir.path());
        // Due, and maybe being taken away already, though not yet recorded.
        let rec = due_grant(&engine, &clock, &mut actions).await;
        let err = engine
            .extend(
                &alice(),
                jit_api::methods::ExtendParams {
                    id: rec.id,
                    duration_secs: 60,
                    reason: None,
                },
            )
            .await
            .expect_err("an extension after the end");
        assert!(err.to_string().contains("reached its end"), "{err}");
        assert_eq!(status(&engine, rec.id), rec, "nothing changed");
    }

    #[tokio::test]
    async fn an_expiry_still_revoking_is_recorded_revoking_and_left_to_its_revoke() {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, clock, mut actions) = engine(dir.path());
        let rec = due_grant(&engine, &clock, &mut actions).await;
        let id = rec.id;
        let fired = engine
            .fire_due(vec![Expiry {
                rec,
                started: engine.now_ms(),
                done: None,
            }])
            .await
            .expect("fire");
        assert!(fired.record_later.contains(&id));
        assert_eq!(status(&engine, id).status, Status::Revoking);
        assert!(
            actions.try_recv().is_err(),
            "the running revoke records itself"
        );
        engine.record_revoked(id, Ok(())).await.expect("record");
        assert_eq!(status(&engine, id).status, Status::Expired);
    }

    #[tokio::test]
    async fn an_expiry_that_changed_meanwhile_is_taken_away_again_the_usual_way() {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, clock, mut actions) = engine(dir.path());
        let rec = due_grant(&engine, &clock, &mut actions).await;
        let id = rec.id;
        // A session launched while the revoke ran: the revoke did not see its process.
        engine
            .write(move |wtx| {
                let old = wtx.request(id)?.expect("request");
                let mut rec = old.clone();
                rec.sessions[0].processes.push(ProcessRecord {
                    pid: 1,
                    uid: 1000,
                    start_time: 1,
                });
                wtx.put_request(&rec, Some(&old))?;
                Ok::<_, crate::engine::EngineError>(())
            })
            .await
            .expect("launch");
        let changed = status(&engine, id) != rec;
        let fired = engine
            .fire_due(vec![Expiry {
                rec,
                started: engine.now_ms(),
                done: Some((Ok(()), engine.now_ms())),
            }])
            .await
            .expect("fire");
        assert!(fired.record_later.is_empty());
        assert!(changed, "the register changed the record");
        assert_eq!(status(&engine, id).status, Status::Revoking);
        assert_eq!(actions.try_recv().ok(), Some(Action::Revoke(id)));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..100 {
            let first = backoff_ms(1);
            assert!((800..=1200).contains(&first), "{first}");
            let late = backoff_ms(20);
            assert!((24_000..=36_000).contains(&late), "{late}");
        }
    }
}
