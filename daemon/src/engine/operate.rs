//! What admins read and record to operate jitd: the metrics' gauges, the parts of
//! `admin.status` the store knows, what orphan reconciliation did, and putting a reloaded
//! config in force ([`Engine::apply_reload`]). The I/O of a reload (reading the file,
//! building integrations) is in [`crate::operate`].
//!
//! A reload is one store job: it reads the open requests, refuses (or, with
//! `revoke_orphans`, revokes and rejects) those of removed integrations, writes its audit
//! entry and swaps the config, all in one transaction. Jobs run one after the other, so
//! every other write — a request created, approved, started — runs wholly before the reload
//! (and its request is seen by the check) or wholly after it (and sees the new config: a
//! request decided with the old one is decided again, see `Engine::create_inner`). If the
//! transaction is not committed the swap is undone before any later job runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use jit_api::methods::OrphansParams;
use jit_api::{AuditRecord, Counts, Request, RequestId, Status};
use jit_config::Config;

use super::events::Undo;
use super::requests::{audit, ended_by, reject, start_revoking};
use super::views::ts;
use super::{Action, Caller, Engine, EngineError, Snapshot, from_ms};
use crate::integrations::Registry;
use crate::metrics::Gauges;
use crate::store::model::RequestRecord;

/// The audit action of a reload.
pub const CONFIG_RELOADED: &str = "daemon.config_reloaded";

/// The reason recorded on requests a reload revoked or rejected.
pub const REMOVED_REASON: &str = "integration removed";

/// A checked config to put in force, and what it changes (made by
/// [`crate::operate::Operator`]).
pub struct Reload {
    /// The new config.
    pub config: Arc<Config>,
    /// Its integrations: built anew for those added or changed, the running ones for the
    /// others.
    pub integrations: Registry,
    /// Integrations in force (configured, or retired by an earlier reload) that the new
    /// config does not have.
    pub removed: Vec<String>,
    /// Revoke (or reject) the open requests of integrations the config in force has and the
    /// new one removes, instead of refusing the reload.
    pub revoke_orphans: bool,
    /// Who reloads (`jitd` for SIGHUP).
    pub actor: String,
    /// What changes, for the audit entry: the file, and the integrations added, changed and
    /// removed.
    pub details: String,
}

/// What a reload did.
#[derive(Debug, Clone, Default)]
pub struct Reloaded {
    /// Requests revoked or rejected because their integration was removed.
    pub revoked: Vec<RequestId>,
    /// Removed integrations kept, retired, because open requests still need them to revoke.
    pub retired: Vec<String>,
}

/// What the store says about an integration, for `admin.status`.
#[derive(Debug, Default, Clone)]
pub struct StoreView {
    /// Counts over every open request.
    pub counts: Counts,
    /// Requests whose revoke is being retried.
    pub revoking: Vec<Request>,
    /// The earliest deadline.
    pub next_deadline: Option<jit_api::Timestamp>,
    /// Open requests per integration.
    pub open_by_integration: BTreeMap<String, u64>,
    /// Notifications waiting, all channels.
    pub notifications_pending: u64,
}

impl Engine {
    /// Refuses anyone but an admin.
    pub(crate) fn require_admin(&self, caller: &Caller, what: &str) -> Result<(), EngineError> {
        if caller.admin {
            Ok(())
        } else {
            Err(EngineError::Forbidden(format!(
                "only admins can {what} (root, and the daemon's admins list in the config)"
            )))
        }
    }

    /// `daemon.metrics`: the exposition, with gauges read now.
    pub fn metrics_text(&self, caller: &Caller) -> Result<String, EngineError> {
        self.require_admin(caller, "read the metrics")?;
        self.metrics_exposition()
    }

    /// The exposition, for the textfile writer (no caller).
    pub fn metrics_exposition(&self) -> Result<String, EngineError> {
        let mut by_status: BTreeMap<&'static str, u64> = [
            Status::Pending,
            Status::Scheduled,
            Status::Granting,
            Status::Granted,
            Status::Revoking,
        ]
        .iter()
        .map(|s| (s.as_str(), 0))
        .collect();
        let mut grants: BTreeMap<String, u64> = self
            .config()
            .integrations
            .iter()
            .map(|i| (i.name.clone(), 0))
            .collect();
        for rec in self.open_records()? {
            *by_status.entry(rec.status.as_str()).or_default() += 1;
            if rec.status == Status::Granted {
                for name in rec.integrations() {
                    *grants.entry(name.to_owned()).or_default() += 1;
                }
            }
        }
        let mut pending = Vec::new();
        for c in &self.config().notifications {
            pending.push((c.name.clone(), self.store.read(|r| r.outbox_len(&c.name))?));
        }
        let secs = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        };
        let next = self.store.read(|r| r.earliest_deadline())?;
        Ok(self.metrics.render(&Gauges {
            open_by_status: by_status.into_iter().collect(),
            grants_by_integration: grants.into_iter().collect(),
            notifications_pending: pending,
            next_deadline: next.map(|ms| secs(from_ms(ms))),
            config_loaded: secs(self.config_loaded_at()),
        }))
    }

    /// What the store says for `admin.status` (the caller must be an admin).
    pub fn store_view(&self, caller: &Caller) -> Result<StoreView, EngineError> {
        self.require_admin(caller, "read the daemon's status for admins")?;
        let mut view = StoreView::default();
        for rec in self.open_records()? {
            view.counts.open += 1;
            match rec.status {
                Status::Pending => view.counts.pending += 1,
                Status::Granted => view.counts.granted += 1,
                Status::Revoking => {
                    view.counts.revoking += 1;
                    view.revoking.push(self.view(&rec));
                }
                _ => {}
            }
            for name in rec.integrations() {
                *view.open_by_integration.entry(name.to_owned()).or_default() += 1;
            }
        }
        view.next_deadline = self.store.read(|r| r.earliest_deadline())?.map(ts);
        for c in &self.config().notifications {
            view.notifications_pending += self.store.read(|r| r.outbox_len(&c.name))?;
        }
        Ok(view)
    }

    /// `admin.orphans`: the audit entries of orphan reconciliation, newest first.
    pub fn orphans(
        &self,
        caller: &Caller,
        p: &OrphansParams,
    ) -> Result<Vec<AuditRecord>, EngineError> {
        self.require_admin(caller, "read what orphan reconciliation did")?;
        let limit = p.limit.unwrap_or(100).clamp(1, 1000) as usize;
        // Reads the whole log: an admin's occasional look, not a hot path.
        let mut found = self
            .store
            .read(|r| r.audit(0, usize::MAX, |e| e.action.starts_with("orphan.")))?;
        found.reverse();
        found.truncate(limit);
        Ok(found.into_iter().map(super::views::audit_record).collect())
    }

    /// Puts `r` in force, or refuses it and changes nothing (see the module's comment). A
    /// removed integration that the config in force has and that still has open requests
    /// refuses the reload unless `r.revoke_orphans`: then its granted requests are revoked and
    /// its pending and scheduled ones rejected, with the reason [`REMOVED_REASON`]; one that
    /// is being granted refuses it either way. Every removed integration that still has open
    /// requests afterwards (being revoked) stays in the registry, retired: revoking needs it,
    /// and no new request can name it.
    pub async fn apply_reload(self: &Arc<Self>, r: Reload) -> Result<Reloaded, EngineError> {
        let this = self.clone();
        let now = self.now_ms();
        let (reloaded, changed, actions) = self
            .write_or_undo(move |wtx| {
                let old = this.snapshot();
                let removed = |name: &str| r.removed.iter().any(|n| n == name);
                // Removed from the config in force now; the others were retired by an earlier
                // reload, which already settled what becomes of their requests.
                let newly = |name: &str| removed(name) && old.config.integration(name).is_some();
                let mut open: Vec<RequestRecord> = wtx
                    .open_requests()?
                    .into_iter()
                    .filter(|rec| rec.integrations().into_iter().any(removed))
                    .collect();
                open.sort_unstable_by_key(|rec| rec.id);
                let on_newly = |rec: &RequestRecord| {
                    rec.integrations()
                        .into_iter()
                        .find(|i| newly(i))
                        .map(str::to_owned)
                };
                let stranded: Vec<(usize, String)> = open
                    .iter()
                    .enumerate()
                    .filter_map(|(i, rec)| on_newly(rec).map(|name| (i, name)))
                    .collect();
                if !stranded.is_empty() && !r.revoke_orphans {
                    let list = stranded
                        .iter()
                        .map(|(i, name)| format!("{} ({} on {name})", open[*i].id, open[*i].status))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(EngineError::InvalidState(format!(
                        "the new config removes integrations that still have open requests: \
                         {list}; revoke them first, or reload with --revoke-orphans (revokes \
                         them with reason \"{REMOVED_REASON}\"); the running config stays"
                    )));
                }
                if let Some((i, name)) = stranded
                    .iter()
                    .find(|(i, _)| open[*i].status == Status::Granting)
                {
                    return Err(EngineError::InvalidState(format!(
                        "request {} is being granted on {name}, which the new config removes; \
                         reload again in a moment, once it is granted; the running config stays",
                        open[*i].id
                    )));
                }
                // The flows no longer name them: take their access away.
                let mut revoked = Vec::new();
                let mut actions = Vec::new();
                for (i, _) in &stranded {
                    let rec = &mut open[*i];
                    let old_rec = rec.clone();
                    let action = match rec.status {
                        Status::Granted => {
                            let why = ended_by("revoked", "jitd", Some(REMOVED_REASON));
                            start_revoking(rec, Status::Revoked, why, now);
                            actions.push(Action::Revoke(rec.id));
                            "grant.revoke_requested"
                        }
                        Status::Pending | Status::Scheduled => {
                            reject(rec, "jitd", now, Some(REMOVED_REASON));
                            "request.rejected"
                        }
                        // Already being taken away.
                        _ => continue,
                    };
                    audit(
                        wtx,
                        now,
                        "jitd",
                        action,
                        Some(rec),
                        Some(REMOVED_REASON),
                        None,
                    )?;
                    wtx.put_request(rec, Some(&old_rec))?;
                    revoked.push(rec.id);
                }
                let mut retired: Vec<String> = r
                    .removed
                    .iter()
                    .filter(|name| {
                        open.iter().any(|rec| {
                            rec.status.is_open() && rec.integrations().contains(&name.as_str())
                        })
                    })
                    .cloned()
                    .collect();
                retired.sort();
                let mut integrations = r.integrations;
                for name in &retired {
                    if let Some(i) = old.integrations.get(name) {
                        integrations.insert(name.clone(), i.clone());
                    }
                }
                let ids = revoked
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let details = format!("sha256 {}; {}, revoked [{ids}]", r.config.digest, r.details);
                audit(
                    wtx,
                    now,
                    &r.actor,
                    CONFIG_RELOADED,
                    None,
                    None,
                    Some(details),
                )?;
                let replaced = this.swap_config(Snapshot {
                    config: r.config,
                    integrations: Arc::new(integrations),
                });
                let undo_on = this.clone();
                let undo: Undo = Box::new(move || undo_on.restore(replaced));
                let changed = revoked.clone();
                Ok((
                    (Reloaded { revoked, retired }, changed, actions),
                    Some(undo),
                ))
            })
            .await?;
        self.after_commit(&changed, actions, !changed.is_empty());
        Ok(reloaded)
    }
}
