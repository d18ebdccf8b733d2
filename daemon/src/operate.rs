//! Operating jitd while it runs: reloading the config (SIGHUP and `admin.reload`),
//! `admin.status` (which probes the integrations' servers), and the node_exporter textfile
//! of the metrics.
//!
//! A reload reads and checks the whole file first and changes nothing when it is invalid: the
//! error is the config crate's `file:line` list. Then it compares integrations by name and
//! settings: an added or changed one is built anew (a changed one's connection pool is
//! replaced; calls running on the old one finish there, in the same provisioning lane as the
//! new one's, see [`crate::provision::Lanes`]), an unchanged one keeps its pool. A removed integration that still has open requests is refused, naming them, unless
//! `revoke_orphans`: then they are revoked (or rejected, when nothing is granted yet) with
//! the reason "integration removed", and the integration is kept, retired, until its revokes
//! are done. The new config and registry replace the old in one swap
//! ([`Engine::swap_config`]): a call already running finishes with the config it read, the
//! next one sees the new flows. Every reload, refused or not, is logged; every reload done is
//! in the audit log as `daemon.config_reloaded` with the file's SHA-256.
//!
//! What a reload does not change: the socket, its mode, the log filter and the notification
//! channels (their delivery tasks) take effect at the next start; the reload says so in the
//! log when they changed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jit_api::methods::DecideParams;
use jit_api::{AdminStatusReport, IntegrationHealth, ReloadReport, Status};
use jit_config::Config;

use crate::engine::{Caller, Engine, EngineError};
use crate::integrations::Registry;
use crate::provision::Limits;

/// The reason recorded on requests a reload revoked or rejected.
pub const REMOVED_REASON: &str = "integration removed";

/// How long `admin.status` waits for one integration's server to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Reloads and reports; one per daemon.
pub struct Operator {
    engine: Arc<Engine>,
    limits: Limits,
    state_dir: PathBuf,
    /// One reload at a time (held across the reload's I/O; nothing else takes it).
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator").finish_non_exhaustive()
    }
}

/// The daemon itself, acting on its open requests during a reload.
fn daemon_caller() -> Caller {
    Caller {
        uid: 0,
        user: "jitd".to_owned(),
        groups: Vec::new(),
        admin: true,
        pid: 0,
    }
}

impl Operator {
    /// The operator of `engine`, whose provisioner uses `limits`.
    pub fn new(engine: Arc<Engine>, limits: Limits, state_dir: PathBuf) -> Operator {
        Operator {
            engine,
            limits,
            state_dir,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// `admin.reload`, by an admin caller.
    pub async fn reload_by(
        &self,
        caller: &Caller,
        revoke_orphans: bool,
    ) -> Result<ReloadReport, EngineError> {
        self.engine.require_admin(caller, "reload the config")?;
        self.reload(&caller.user, revoke_orphans).await
    }

    /// Re-reads the config file; `actor` is recorded (`jitd` for SIGHUP).
    pub async fn reload(
        &self,
        actor: &str,
        revoke_orphans: bool,
    ) -> Result<ReloadReport, EngineError> {
        let _one = self.reloading.lock().await;
        let result = self.reload_locked(actor, revoke_orphans).await;
        self.engine.metrics().reload(result.is_ok());
        match &result {
            Ok(r) => tracing::info!(
                actor,
                digest = %r.digest,
                added = ?r.added,
                changed = ?r.changed,
                removed = ?r.removed,
                revoked = ?r.revoked,
                "config reloaded"
            ),
            Err(e) => {
                tracing::warn!(actor, error = %e, "config reload refused; the running config stays")
            }
        }
        result
    }

    async fn reload_locked(
        &self,
        actor: &str,
        revoke_orphans: bool,
    ) -> Result<ReloadReport, EngineError> {
        let old = self.engine.config();
        let old_registry = self.engine.integrations();
        let path = old.path.clone();
        let read = path.clone();
        // Reading the file, `url_file`s and the environment: off the async threads.
        let new = tokio::task::spawn_blocking(move || jit_config::load(&read))
            .await
            .map_err(|e| EngineError::InvalidInput(format!("reading the config failed: {e}")))?
            .map_err(|e| {
                EngineError::InvalidInput(format!(
                    "the new config is invalid; the running config stays:\n{e}"
                ))
            })?;
        let diff = Diff::of(&old, &old_registry, &new);

        // Open requests on integrations the new config no longer has.
        let mut stranded: Vec<(String, u64, Status)> = Vec::new();
        for name in &diff.removed {
            for (id, status) in self.engine.open_on(name)? {
                stranded.push((name.clone(), id, status));
            }
        }
        if !stranded.is_empty() {
            let list = stranded
                .iter()
                .map(|(name, id, status)| format!("{id} ({status} on {name})"))
                .collect::<Vec<_>>()
                .join(", ");
            if !revoke_orphans {
                return Err(EngineError::InvalidState(format!(
                    "the new config removes integrations that still have open requests: {list}; \
                     revoke them first, or reload with --revoke-orphans (revokes them with \
                     reason \"{REMOVED_REASON}\"); the running config stays"
                )));
            }
            if let Some((name, id, _)) = stranded.iter().find(|s| s.2 == Status::Granting) {
                return Err(EngineError::InvalidState(format!(
                    "request {id} is being granted on {name}, which the new config removes; \
                     reload again in a moment, once it is granted; the running config stays"
                )));
            }
        }

        // Build what is new or changed; keep the rest as it is (pools and all).
        let instance = self.engine.store().instance_id().to_owned();
        let state_dir = self.state_dir.clone();
        let new_for_build = new.clone();
        let built = tokio::task::spawn_blocking(move || {
            crate::integrations::build(&new_for_build, &instance, &state_dir)
        })
        .await
        .map_err(|e| EngineError::InvalidInput(format!("building integrations failed: {e}")))?
        .map_err(|e| {
            EngineError::InvalidInput(format!("{}: {e}; the running config stays", path.display()))
        })?;
        let mut registry: Registry = Registry::new();
        for (name, fresh) in built {
            let keep = if diff.added.contains(&name) || diff.changed.contains(&name) {
                None
            } else {
                old_registry.get(&name).cloned()
            };
            registry.insert(name, keep.unwrap_or(fresh));
        }
        // Removed integrations with open requests stay, retired, until those are closed: a
        // revoke needs the integration.
        let retired: Vec<String> = stranded.iter().map(|s| s.0.clone()).collect();
        for name in &retired {
            if let Some(i) = old_registry.get(name) {
                registry.insert(name.clone(), i.clone());
            }
        }
        if diff.channels_changed {
            tracing::warn!(
                "the notification channels changed: they apply at the next start of jitd"
            );
        }
        if old.daemon.log != new.daemon.log || old.daemon.socket_mode != new.daemon.socket_mode {
            tracing::warn!("[daemon] log and socket_mode apply at the next start of jitd");
        }

        let digest = new.digest.clone();
        let unchanged = digest == old.digest;
        let flows = new.flows.len() as u64;
        let registry = Arc::new(registry);
        self.limits.update(&registry);
        self.engine.swap_config(Arc::new(new), registry);

        // The flows no longer name them: take their access away.
        let mut revoked = Vec::new();
        let jitd = daemon_caller();
        for (name, id, status) in &stranded {
            let params = DecideParams {
                id: *id,
                reason: Some(REMOVED_REASON.to_owned()),
            };
            let done = match status {
                Status::Granted => self.engine.revoke(&jitd, params).await.map(|_| ()),
                Status::Pending | Status::Scheduled => {
                    self.engine.reject(&jitd, params).await.map(|_| ())
                }
                // Already being taken away.
                _ => Ok(()),
            };
            match done {
                Ok(()) => revoked.push(*id),
                Err(e) => {
                    tracing::error!(id, integration = %name, error = %e, "cannot revoke a request of a removed integration")
                }
            }
        }

        let details = format!(
            "{}; added [{}], changed [{}], removed [{}], revoked [{}]",
            path.display(),
            diff.added.join(", "),
            diff.changed.join(", "),
            diff.removed.join(", "),
            revoked
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.engine.record_reload(actor, &digest, details).await?;
        Ok(ReloadReport {
            path: path.display().to_string(),
            digest,
            unchanged,
            added: diff.added,
            changed: diff.changed,
            removed: diff.removed,
            revoked,
            flows,
        })
    }

    /// `admin.status`: the store's view, and each integration probed now (concurrently, each
    /// for at most a few seconds).
    pub async fn status(&self, caller: &Caller) -> Result<AdminStatusReport, EngineError> {
        let view = self.engine.store_view(caller)?;
        let config = self.engine.config();
        let registry = self.engine.integrations();
        let mut names: Vec<&String> = registry.keys().collect();
        names.sort();
        let probes = names.iter().map(|name| {
            let integ = registry.get(*name).cloned();
            async move {
                match integ {
                    Some(i) => match tokio::time::timeout(PROBE_TIMEOUT, i.probe()).await {
                        Ok(None) => (None, None),
                        Ok(Some(Ok(()))) => (Some(true), None),
                        Ok(Some(Err(e))) => (Some(false), Some(e.message)),
                        Err(_) => (
                            Some(false),
                            Some(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
                        ),
                    },
                    None => (None, None),
                }
            }
        });
        let answers = join_all(probes).await;
        let integrations = names
            .iter()
            .zip(answers)
            .map(|(name, (reachable, error))| {
                let (in_flight, queued_revokes) = self.limits.depth(name);
                IntegrationHealth {
                    name: (*name).clone(),
                    kind: registry
                        .get(*name)
                        .map_or("unknown", |i| i.kind())
                        .to_owned(),
                    reachable,
                    error,
                    open_requests: view.open_by_integration.get(*name).copied().unwrap_or(0),
                    in_flight,
                    queued_revokes,
                    retired: config.integration(name).is_none(),
                }
            })
            .collect();
        Ok(AdminStatusReport {
            config_path: config.path.display().to_string(),
            config_digest: config.digest.clone(),
            config_loaded_at: jit_api::Timestamp::from(self.engine.config_loaded_at()),
            counts: view.counts,
            integrations,
            revoking: view.revoking,
            next_deadline: view.next_deadline,
            notifications_pending: view.notifications_pending,
        })
    }
}

/// Runs futures concurrently on this task and returns their outputs in order.
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// What a new config changes about the integrations.
#[derive(Debug, Default)]
struct Diff {
    added: Vec<String>,
    changed: Vec<String>,
    removed: Vec<String>,
    channels_changed: bool,
}

impl Diff {
    fn of(old: &Config, old_registry: &Registry, new: &Config) -> Diff {
        let before: BTreeMap<&str, &jit_config::Integration> = old
            .integrations
            .iter()
            .map(|i| (i.name.as_str(), i))
            .collect();
        let mut diff = Diff::default();
        for i in &new.integrations {
            match before.get(i.name.as_str()) {
                None => diff.added.push(i.name.clone()),
                Some(o) if **o != *i => diff.changed.push(i.name.clone()),
                Some(_) => {}
            }
        }
        // Removed: in the old config, or retired by an earlier reload, and not in the new one.
        let mut gone: Vec<String> = old_registry
            .keys()
            .filter(|n| new.integration(n).is_none())
            .cloned()
            .collect();
        gone.sort();
        diff.removed = gone;
        let channels = |c: &Config| {
            c.notifications
                .iter()
                .map(|n| (n.name.clone(), n.kind.name()))
                .collect::<Vec<_>>()
        };
        diff.channels_changed = channels(old) != channels(new);
        diff
    }
}

/// Rewrites the metrics textfile every `[daemon] metrics_interval`, as long as the daemon
/// runs (the path and interval in force at each turn: a reload may change them).
pub async fn write_textfile_forever(engine: Arc<Engine>) {
    let mut warned = false;
    loop {
        let config = engine.config();
        let interval = config.daemon.metrics_interval;
        if let Some(path) = config.daemon.metrics_textfile.clone() {
            let written = match engine.metrics_exposition() {
                Ok(text) => tokio::task::spawn_blocking(move || {
                    crate::metrics::write_textfile(&path, &text)
                        .map_err(|e| format!("{}: {e}", path.display()))
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string())),
                Err(e) => Err(e.to_string()),
            };
            match written {
                Ok(()) => warned = false,
                Err(e) if !warned => {
                    tracing::warn!(error = %e, "cannot write the metrics textfile; trying again every interval");
                    warned = true;
                }
                Err(_) => {}
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// Reloads on every SIGHUP (`systemctl reload jitd`), as the daemon itself.
pub async fn reload_on_sighup(operator: Arc<Operator>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with `jit admin reload`");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the config");
        // Refusal is logged by `reload`.
        let _ = operator.reload("jitd", false).await;
    }
}
