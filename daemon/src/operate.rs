//! Operating jitd while it runs: reloading the config (SIGHUP and `admin.reload`),
//! `admin.status` (which probes the integrations' servers), and the node_exporter textfile
//! of the metrics.
//!
//! A reload reads and checks the whole file first and changes nothing when it is invalid: the
//! error is the config crate's `file:line` list. Then it compares integrations by name and
//! settings: an added or changed one is built anew (a changed one's connection pool is
//! replaced; calls running on the old one finish there, in the same provisioning lane as the
//! new one's, see [`crate::provision::Lanes`]), an unchanged one keeps its pool. Then the
//! engine puts it in force in one store job ([`Engine::apply_reload`]): a removed
//! integration that still has open requests is refused, naming them, unless
//! `revoke_orphans`: then they are revoked (or rejected, when nothing is granted yet) with the
//! reason "integration removed", and the integration is kept, retired, until its revokes are
//! done. The new config and registry replace the old in one swap, in the same job as that
//! check and the audit entry (`daemon.config_reloaded`, with the file's SHA-256): a call
//! already running finishes with the config it read, the next one sees the new flows, and a
//! request cannot slip onto a removed integration between the check and the swap. Every
//! reload, refused or not, is logged.
//!
//! What a reload does not change: the socket, its mode, the log filter and the notification
//! channels (their delivery tasks) take effect at the next start; the reload says so in the
//! log when they changed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jit_api::{AdminStatusReport, IntegrationHealth, ReloadReport};
use jit_config::Config;

use crate::engine::{Caller, Engine, EngineError, Reload};
use crate::integrations::Registry;
use crate::provision::Limits;

pub use crate::engine::operate::REMOVED_REASON;

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
        let before = self.engine.config();
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
            Err(e) if Arc::ptr_eq(&before, &self.engine.config()) => {
                tracing::warn!(actor, error = %e, "config reload refused; the running config stays");
            }
            Err(e) => {
                tracing::error!(actor, error = %e, "config reload failed with the new config in force")
            }
        }
        result
    }

    async fn reload_locked(
        &self,
        actor: &str,
        revoke_orphans: bool,
    ) -> Result<ReloadReport, EngineError> {
        let old = self.engine.snapshot();
        let path = old.config.path.clone();
        let read = path.clone();
        // Reading the file, `url_file`s and the environment: off the async threads.
        let new = tokio::task::spawn_blocking(move || jit_config::load(&read))
            .await
            .map_err(|e| {
                EngineError::InvalidInput(format!(
                    "reading the config failed: {e}; the running config stays"
                ))
            })?
            .map_err(|e| {
                EngineError::InvalidInput(format!(
                    "the new config is invalid; the running config stays:\n{e}"
                ))
            })?;
        let diff = Diff::of(&old.config, &old.integrations, &new);

        // Build what is new or changed; keep the rest as it is (pools and all).
        let instance = self.engine.store().instance_id().to_owned();
        let state_dir = self.state_dir.clone();
        let new_for_build = new.clone();
        let built = tokio::task::spawn_blocking(move || {
            crate::integrations::build(&new_for_build, &instance, &state_dir)
        })
        .await
        .map_err(|e| {
            EngineError::InvalidInput(format!(
                "building integrations failed: {e}; the running config stays"
            ))
        })?
        .map_err(|e| {
            EngineError::InvalidInput(format!("{}: {e}; the running config stays", path.display()))
        })?;
        let mut registry: Registry = Registry::new();
        for (name, fresh) in built {
            let keep = if diff.added.contains(&name) || diff.changed.contains(&name) {
                None
            } else {
                old.integrations.get(&name).cloned()
            };
            registry.insert(name, keep.unwrap_or(fresh));
        }
        if diff.channels_changed {
            tracing::warn!(
                "the notification channels changed: they apply at the next start of jitd"
            );
        }
        if old.config.daemon.log != new.daemon.log
            || old.config.daemon.socket_mode != new.daemon.socket_mode
        {
            tracing::warn!("[daemon] log and socket_mode apply at the next start of jitd");
        }

        let new = Arc::new(new);
        let details = format!(
            "{}; added [{}], changed [{}], removed [{}]",
            path.display(),
            diff.added.join(", "),
            diff.changed.join(", "),
            diff.removed.join(", "),
        );
        let applied = self
            .engine
            .apply_reload(Reload {
                config: new.clone(),
                integrations: registry,
                removed: diff.removed.clone(),
                revoke_orphans,
                actor: actor.to_owned(),
                details,
            })
            .await;
        let reloaded = match applied {
            Ok(r) => r,
            // A refusal changed nothing, and neither did a transaction that was not committed
            // (the swap is undone with it). Only a store writer that stopped mid-batch could
            // leave the new config in force without its audit entry: say so if it did.
            Err(e) if Arc::ptr_eq(&self.engine.config(), &new) => {
                return Err(EngineError::InvalidState(format!(
                    "the new config is in force, but the reload could not be recorded in the \
                     audit log: {e}"
                )));
            }
            Err(e) => return Err(e),
        };
        // The lanes of integrations whose concurrency changed take their new size.
        self.limits.update(&self.engine.integrations());
        if !reloaded.retired.is_empty() {
            tracing::warn!(retired = ?reloaded.retired, "removed integrations stay, retired, until their open requests are revoked");
        }
        Ok(ReloadReport {
            path: path.display().to_string(),
            digest: new.digest.clone(),
            unchanged: new.digest == old.config.digest,
            added: diff.added,
            changed: diff.changed,
            removed: diff.removed,
            revoked: reloaded.revoked,
            flows: new.flows.len() as u64,
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
/// runs (the path, mode and interval in force at each turn: a reload may change them).
pub async fn write_textfile_forever(engine: Arc<Engine>) {
    let mut warned = false;
    loop {
        let config = engine.config();
        let interval = config.daemon.metrics_interval;
        if let Some(path) = config.daemon.metrics_textfile.clone() {
            let mode = config.daemon.metrics_textfile_mode;
            let written = match engine.metrics_exposition() {
                Ok(text) => tokio::task::spawn_blocking(move || {
                    crate::metrics::write_textfile(&path, &text, mode)
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use jit_api::Status;
    use jit_api::methods::CreateParams;

    use super::*;
    use crate::engine::testing::{engine, user};

    /// Two dry-run integrations; `extra` may be removed. Alice gets `orders` on either at
    /// once; `payments` on `extra` waits for bob.
    fn config(with_extra: bool) -> String {
        let mut c = String::from(
            r#"
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
resources = ["orders"]
permissions = ["read"]
max_duration = "1h"
"#,
        );
        if with_extra {
            c.push_str(
                r#"
[[integrations]]
name = "extra"
kind = "dry-run"
resource_types = { database = ["read"] }

[[flows]]
name = "extra-read"
requesters = ["alice"]
integration = "extra"
resources = ["orders"]
permissions = ["read"]
max_duration = "1h"

[[flows]]
name = "extra-payments"
requesters = ["alice"]
integration = "extra"
resources = ["payments"]
permissions = ["read"]
max_duration = "1h"
approval = "manual"
approvers = ["bob"]
"#,
            );
        }
        c
    }

    fn ask(integration: &str, resource: &str) -> CreateParams {
        CreateParams {
            integration: integration.into(),
            resource_type: "database".into(),
            resources: vec![resource.into()],
            permissions: vec!["read".into()],
            duration_secs: Some(600),
            ..CreateParams::default()
        }
    }

    /// Waits (bounded) until `n` jobs in all were handed to the store's writer.
    async fn queued(engine: &Engine, n: usize) {
        let start = std::time::Instant::now();
        while engine.store().jobs_sent() < n {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{n} store jobs were not queued in time ({} were)",
                engine.store().jobs_sent()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Holds the store's writer up (every later job waits behind it) until the sender is
    /// used or dropped; returns once the holding job is queued.
    async fn hold_writer(engine: &Arc<Engine>) -> std::sync::mpsc::Sender<()> {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let sent = engine.store().jobs_sent();
        let e = engine.clone();
        tokio::spawn(async move {
            e.write(move |_| {
                let _ = held.recv();
                Ok(())
            })
            .await
        });
        queued(engine, sent + 1).await;
        release
    }

    /// Every open request's integrations are in the registry: each can be revoked.
    fn revocable(engine: &Engine) {
        let registry = engine.integrations();
        for rec in engine.open_records().expect("open") {
            for name in rec.integrations() {
                assert!(
                    registry.contains_key(name),
                    "request {} is {} on {name}, which nothing can revoke now",
                    rec.id,
                    rec.status
                );
            }
        }
    }

    fn setup(dir: &std::path::Path) -> (Arc<Engine>, Arc<Operator>) {
        let (engine, _clock, actions) = engine(dir, &config(true));
        // Nothing provisions; the actions are not looked at.
        std::mem::forget(actions);
        let limits = crate::provision::limits(&engine);
        let operator = Arc::new(Operator::new(engine.clone(), limits, dir.to_owned()));
        (engine, operator)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_written_while_a_reload_removes_its_integration_stops_the_reload() {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, operator) = setup(dir.path());
        std::fs::write(dir.path().join("jit.toml"), config(false)).expect("new config");
        // One waiting for an approver, one granted at once.
        for (resource, status) in [("payments", "pending"), ("orders", "granting")] {
            let sent = engine.store().jobs_sent();
            let release = hold_writer(&engine).await;
            // The request is decided with the config in force and waits to be written; the
            // reload reads the new file meanwhile and reaches the store behind it.
            let e = engine.clone();
            let create = tokio::spawn(async move {
                e.create(&user("alice", 1000), ask("extra", resource)).await
            });
            queued(&engine, sent + 2).await;
            let op = operator.clone();
            let reload = tokio::spawn(async move { op.reload("root", false).await });
            queued(&engine, sent + 3).await;
            release.send(()).expect("release");

            let created = create.await.expect("task").expect("created");
            let refused = reload
                .await
                .expect("task")
                .expect_err("the reload must see it");
            let text = refused.to_string();
            assert!(
                text.contains(&format!("{} ({status} on extra)", created.id))
                    && text.contains("running config stays"),
                "{text}"
            );
            assert!(engine.config().integration("extra").is_some());
            revocable(&engine);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_decided_with_the_old_config_and_written_after_the_swap_is_decided_again() {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, operator) = setup(dir.path());
        std::fs::write(dir.path().join("jit.toml"), config(false)).expect("new config");
        let sent = engine.store().jobs_sent();
        let release = hold_writer(&engine).await;
        let op = operator.clone();
        let reload = tokio::spawn(async move { op.reload("root", false).await });
        queued(&engine, sent + 2).await;
        // The reload is queued, not yet done: this is decided with the old config, which
        // still has `extra`, and reaches the store after the swap.
        assert!(engine.config().integration("extra").is_some());
        let e = engine.clone();
        let create =
            tokio::spawn(
                async move { e.create(&user("alice", 1000), ask("extra", "orders")).await },
            );
        queued(&engine, sent + 3).await;
        release.send(()).expect("release");

        let report = reload.await.expect("task").expect("reloaded");
        assert_eq!(report.removed, vec!["extra".to_owned()]);
        let refused = create.await.expect("task").expect_err("extra is gone");
        assert!(
            refused
                .to_string()
                .contains("unknown integration \"extra\""),
            "{refused}"
        );
        assert!(engine.open_records().expect("open").is_empty());
        assert!(!engine.integrations().contains_key("extra"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revoke_orphans_takes_access_away_and_keeps_the_integration_until_it_is_gone() {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, operator) = setup(dir.path());
        let alice = user("alice", 1000);
        let granted = engine
            .create(&alice, ask("extra", "orders"))
            .await
            .expect("created");
        let now = SystemTime::now();
        engine
            .record_granted(
                granted.id,
                now,
                now + Duration::from_secs(600),
                Ok(Vec::new()),
            )
            .await
            .expect("granted");
        let pending = engine
            .create(&alice, ask("extra", "payments"))
            .await
            .expect("created");
        assert_eq!(pending.status, Status::Pending);
        let later = crate::clock::Clock::now(engine.clock().as_ref()) + Duration::from_secs(3600);
        let scheduled = engine
            .create(
                &alice,
                CreateParams {
                    start_at: Some(jit_api::Timestamp::from(later)),
                    ..ask("extra", "orders")
                },
            )
            .await
            .expect("created");
        assert_eq!(scheduled.status, Status::Scheduled);

        std::fs::write(dir.path().join("jit.toml"), config(false)).expect("new config");
        let refused = operator
            .reload("root", false)
            .await
            .expect_err("open requests");
        assert!(
            refused.to_string().contains("--revoke-orphans"),
            "{refused}"
        );
        let report = operator.reload("root", true).await.expect("reloaded");
        assert_eq!(report.revoked, vec![granted.id, pending.id, scheduled.id]);
        let status = |id| engine.get(&Caller::daemon(), id).expect("request").status;
        assert_eq!(status(granted.id), Status::Revoking);
        assert_eq!(status(pending.id), Status::Rejected);
        assert_eq!(status(scheduled.id), Status::Rejected);
        assert!(engine.config().integration("extra").is_none());
        assert!(
            engine.integrations().contains_key("extra"),
            "retired while its revoke runs"
        );
        revocable(&engine);
        engine
            .create(&alice, ask("extra", "orders"))
            .await
            .expect_err("a retired integration takes no new request");

        // Another reload while the revoke runs is not refused for it: its removal was
        // settled; it stays retired.
        operator.reload("jitd", false).await.expect("reloaded");
        assert!(engine.integrations().contains_key("extra"));
        engine
            .record_revoked(granted.id, Ok(()))
            .await
            .expect("revoked");
        assert_eq!(status(granted.id), Status::Revoked);
        operator.reload("jitd", false).await.expect("reloaded");
        assert!(!engine.integrations().contains_key("extra"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reload_whose_notifications_cannot_be_written_changes_nothing() {
        // A channel (never reached: nothing is delivered in this test), so that the reload's
        // revokes write outbox rows in its transaction.
        let channel = r#"
[[notifications]]
name = "hook"
kind = "slack"
url = "http://127.0.0.1:9/jit"
global = true
"#;
        let dir = tempfile::tempdir().expect("dir");
        let (engine, _clock, mut actions) =
            engine(dir.path(), &format!("{}{channel}", config(true)));
        let limits = crate::provision::limits(&engine);
        let operator = Arc::new(Operator::new(engine.clone(), limits, dir.path().to_owned()));
        let r = engine
            .create(&user("alice", 1000), ask("extra", "orders"))
            .await
            .expect("create");
        assert_eq!(
            actions.recv().await,
            Some(crate::engine::Action::Grant(r.id))
        );
        let now = SystemTime::now();
        engine
            .record_granted(r.id, now, now + Duration::from_secs(600), Ok(Vec::new()))
            .await
            .expect("granted");
        let before = engine.config();
        std::fs::write(
            dir.path().join("jit.toml"),
            format!("{}{channel}", config(false)),
        )
        .expect("new config");
        engine.fail_next_outbox_write();
        let err = operator
            .reload("root", true)
            .await
            .expect_err("the reload's transaction failed");
        assert!(
            !engine.outbox_write_fails_next(),
            "the reload wrote notifications: {err}"
        );
        assert!(
            Arc::ptr_eq(&engine.config(), &before),
            "the config of a reload that was not recorded is not in force: {err}"
        );
        assert!(engine.integrations().contains_key("extra"));
        assert!(
            !err.to_string().contains("new config is in force"),
            "the error must say what is in force: {err}"
        );
        assert_eq!(
            engine
                .store()
                .read(|rd| rd.request(r.id))
                .expect("read")
                .expect("request")
                .status,
            Status::Granted,
            "its revoke was not recorded either"
        );
    }

    #[tokio::test]
    async fn a_reload_whose_transaction_fails_says_what_is_in_force() {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, operator) = setup(dir.path());
        let before = engine.config();
        std::fs::write(dir.path().join("jit.toml"), config(false)).expect("new config");
        let sent = engine.store().jobs_sent();
        let release = hold_writer(&engine).await;
        let op = operator.clone();
        let reload = tokio::spawn(async move { op.reload("root", false).await });
        queued(&engine, sent + 2).await;
        // A job after the reload's, in the same batch, whose storage fails: the batch is not
        // committed.
        let e = engine.clone();
        let failing = tokio::spawn(async move {
            e.write(|tx| {
                tx.fail_batch();
                Ok(())
            })
            .await
        });
        queued(&engine, sent + 3).await;
        release.send(()).expect("release");
        failing.await.expect("task").expect_err("the batch failed");

        let err = reload.await.expect("task").expect_err("not recorded");
        let in_force = !Arc::ptr_eq(&engine.config(), &before);
        assert_eq!(
            err.to_string().contains("new config is in force"),
            in_force,
            "the error must say what is in force: {err}"
        );
        assert!(!in_force, "a reload that is not recorded changes nothing");
        assert!(engine.integrations().contains_key("extra"));
        let audited = engine
            .store()
            .read(|r| {
                r.audit(0, 100, |e| {
                    e.action == crate::engine::operate::CONFIG_RELOADED
                })
            })
            .expect("audit");
        assert!(audited.is_empty(), "{audited:?}");
        // The store works again, and so does the reload.
        operator.reload("root", false).await.expect("reloaded");
        assert!(engine.config().integration("extra").is_none());
    }
}
