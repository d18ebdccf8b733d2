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
use tokio::sync::{Semaphore, mpsc};

use crate::engine::{Action, Engine};
use crate::integrations::{GrantSpec, RevokeSpec, SessionSecret};

/// Length of generated passwords (alphanumeric: about 190 bits).
const SECRET_LEN: usize = 32;

/// A new random password.
pub fn generate_secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), SECRET_LEN)
}

/// Runs actions until the channel closes.
pub async fn run(engine: Arc<Engine>, mut actions: mpsc::UnboundedReceiver<Action>) {
    let limits: HashMap<String, Arc<Semaphore>> = engine
        .integrations()
        .iter()
        .map(|(name, i)| (name.clone(), Arc::new(Semaphore::new(i.concurrency()))))
        .collect();
    while let Some(action) = actions.recv().await {
        let engine = engine.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            match action {
                Action::Grant(id) => grant(&engine, &limits, id).await,
                Action::Revoke(id) => revoke(&engine, &limits, id).await,
            }
        });
    }
}

async fn grant(engine: &Arc<Engine>, limits: &HashMap<String, Arc<Semaphore>>, id: u64) {
    let rec = match engine.store().read(|r| r.request(id)) {
        Ok(Some(rec)) if rec.status == Status::Granting => rec,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(id, error = %e, "cannot read request to grant; it stays granting until the next start");
            return;
        }
    };
    let Some(integ) = engine.integrations().get(&rec.integration).cloned() else {
        let _ = engine
            .record_granted(
                id,
                engine.clock().now(),
                engine.clock().now(),
                Err(format!("integration {} is not configured", rec.integration)),
            )
            .await;
        return;
    };
    let _permit = match limits.get(&rec.integration) {
        Some(s) => s.clone().acquire_owned().await.ok(),
        None => None,
    };
    let mut outcome = Ok(());
    let start = engine.clock().now();
    let end = start + Duration::from_secs(rec.duration_secs);
    for s in &rec.sessions {
        let secret = if integ.uses_secret() {
            let sealed = engine.store().read(|r| r.secret(id, &s.integration));
            match sealed {
                Ok(Some(b)) => engine.sealer().open(&b).map(SessionSecret),
                _ => None,
            }
        } else {
            None
        };
        if integ.uses_secret() && secret.is_none() {
            outcome = Err("the session's secret is missing or cannot be opened".to_owned());
            break;
        }
        let spec = GrantSpec {
            request: id,
            requester: rec.requester.clone(),
            principal: s.principal.clone(),
            resource_type: rec.resource_type.clone(),
            resources: rec.resources.clone(),
            permissions: rec.permissions.clone(),
            secret,
            valid_until: end,
        };
        if let Err(e) = integ.grant(&spec).await {
            tracing::warn!(id, integration = %rec.integration, error = %e, "grant failed; rolling back");
            outcome = Err(e.message);
            break;
        }
    }
    if let Err(e) = engine.record_granted(id, start, end, outcome).await {
        tracing::error!(id, error = %e, "cannot record grant outcome; it is redone at the next start");
    }
}

async fn revoke(engine: &Arc<Engine>, limits: &HashMap<String, Arc<Semaphore>>, id: u64) {
    let rec = match engine.store().read(|r| r.request(id)) {
        Ok(Some(rec)) if rec.status == Status::Revoking => rec,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(id, error = %e, "cannot read request to revoke; retried by the scheduler");
            return;
        }
    };
    let Some(integ) = engine.integrations().get(&rec.integration).cloned() else {
        let _ = engine
            .record_revoked(
                id,
                Err(format!(
                    "integration {} is not configured; restore it so the access can be removed",
                    rec.integration
                )),
            )
            .await;
        return;
    };
    let _permit = match limits.get(&rec.integration) {
        Some(s) => s.clone().acquire_owned().await.ok(),
        None => None,
    };
    let mut outcome = Ok(());
    for s in &rec.sessions {
        let spec = RevokeSpec {
            request: Some(id),
            principal: s.principal.clone(),
            resources: rec.resources.clone(),
        };
        if let Err(e) = integ.revoke(&spec).await {
            outcome = Err(e.message);
            break;
        }
    }
    match &outcome {
        Ok(()) => tracing::info!(id, integration = %rec.integration, "access removed"),
        Err(e) => {
            tracing::warn!(id, integration = %rec.integration, error = %e, "revoke failed; will retry")
        }
    }
    if let Err(e) = engine.record_revoked(id, outcome).await {
        tracing::error!(id, error = %e, "cannot record revoke outcome; retried by the scheduler");
    }
}

/// Removes principals this daemon made that no open request owns, on every integration.
pub async fn reconcile_orphans(engine: Arc<Engine>) {
    for (name, integ) in engine.integrations().clone() {
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
            let outcome = integ.revoke(&spec).await.map_err(|e| e.message);
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
