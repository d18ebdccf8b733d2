//! What admins read and record to operate jitd: the metrics' gauges, the parts of
//! `admin.status` the store knows, what orphan reconciliation did, which open requests a
//! reload would strand, and the audit entry of a reload. The I/O of a reload (reading the
//! file, building integrations) is in [`crate::operate`].

use std::collections::BTreeMap;

use jit_api::methods::OrphansParams;
use jit_api::{AuditRecord, Counts, Request, Status};

use super::requests::audit;
use super::views::ts;
use super::{Caller, Engine, EngineError, from_ms};
use crate::metrics::Gauges;

/// The audit action of a reload.
pub const CONFIG_RELOADED: &str = "daemon.config_reloaded";

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
        Ok(found
            .into_iter()
            .map(|e| AuditRecord {
                seq: e.seq,
                at: ts(e.at),
                actor: e.actor,
                action: e.action,
                request: e.request,
                status: e.status,
                reason: e.reason,
                details: e.details,
                prev_hash: e.prev_hash,
                hash: e.hash,
            })
            .collect())
    }

    /// The open requests with a session on `integration`: (id, status), oldest first.
    pub fn open_on(&self, integration: &str) -> Result<Vec<(u64, Status)>, EngineError> {
        let mut out: Vec<_> = self
            .open_records()?
            .into_iter()
            .filter(|r| r.integrations().contains(&integration))
            .map(|r| (r.id, r.status))
            .collect();
        out.sort_unstable_by_key(|(id, _)| *id);
        Ok(out)
    }

    /// Records a reload in the audit log: who, the file's digest, what changed.
    pub async fn record_reload(
        &self,
        actor: &str,
        digest: &str,
        details: String,
    ) -> Result<(), EngineError> {
        let now = self.now_ms();
        let actor = actor.to_owned();
        let details = format!("sha256 {digest}; {details}");
        self.write(move |wtx| audit(wtx, now, &actor, CONFIG_RELOADED, None, None, Some(details)))
            .await
    }
}
