//! jitd as a library: [`run`] takes a validated config, a bound listener and a shutdown
//! future, so tests and benchmarks run the same daemon the binary does.
//!
//! Data flows one way: RPC handler → engine (decides, writes the store in one durable
//! transaction) → provisioner and scheduler act → engine records the outcome → waiters
//! are told, events fan out to subscribers, and the notifier delivers the outbox. Nothing reaches around the engine to the store. See `docs/architecture.md`.

pub mod clock;
pub mod engine;
#[doc(hidden)]
pub mod fuzz;
pub mod integrations;
pub mod metrics;
pub mod notify;
pub mod operate;
pub mod paths;
pub mod procs;
pub mod provision;
pub mod rpc;
pub mod scheduler;
pub mod secrets;
pub mod store;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use jit_config::Config;
use tokio::net::UnixListener;
use tokio::sync::{Notify, mpsc};

use engine::{Engine, EngineParts};

/// Where the daemon keeps its state, and how it runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory of the store (`jit.redb`) and the secret key (`secret.key`).
    pub state_dir: PathBuf,
    /// `system` or `user`.
    pub mode: paths::Mode,
}

/// Checks what the config crate cannot: that every integration can be built from its
/// settings (a PostgreSQL URL that parses, …). Nothing is connected to.
pub fn check(config: &Config) -> anyhow::Result<()> {
    integrations::build(config, "check", std::path::Path::new(""))
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.path.display()))
}

/// Opens the store, starts the provisioner and the scheduler, recovers what a stop
/// interrupted, calls `ready`, and serves `listener` until `shutdown` resolves.
pub async fn run(
    config: Config,
    listener: UnixListener,
    options: Options,
    ready: impl FnOnce(),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    run_with_clock(
        config,
        listener,
        options,
        Arc::new(clock::SystemClock),
        ready,
        shutdown,
    )
    .await
}

/// [`run`] on a clock of the caller's choosing (tests step and rewind a
/// [`clock::ManualClock`]).
pub async fn run_with_clock(
    config: Config,
    listener: UnixListener,
    options: Options,
    clock: Arc<dyn clock::Clock>,
    ready: impl FnOnce(),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let store_path = options.state_dir.join("jit.redb");
    let store = store::Store::open(&store_path)?;
    let sealer = secrets::Sealer::load_or_create(&options.state_dir.join("secret.key"))?;
    let integrations = integrations::build(&config, store.instance_id(), &options.state_dir)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("integrations")?;
    let (actions_tx, actions_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::channel(engine::events::PENDING_CHANGES);
    let (queued_tx, queued_rx) = mpsc::unbounded_channel();
    let deadline_added = Arc::new(Notify::new());
    let engine = Arc::new(Engine::new(EngineParts {
        config: Arc::new(config),
        store,
        integrations,
        clock,
        sealer,
        actions: actions_tx,
        deadline_added: deadline_added.clone(),
        events: events_tx,
        notifications: queued_tx,
        mode: options.mode.as_str(),
    }));
    tokio::spawn(engine::events::run(engine.clone(), events_rx));
    // The notifier reads each channel's rows from the store, a window at a time: what the
    // outbox holds now, and what later writes announce on `queued_rx`.
    let mut pending = 0;
    for channel in engine.outbox_channels()? {
        pending += engine.outbox_len(&channel)?;
    }
    if pending > 0 {
        tracing::info!(
            notifications = pending,
            "resuming the delivery of notifications left in the outbox"
        );
    }
    tokio::spawn(notify::run(engine.clone(), queued_rx));
    let limits = provision::limits(&engine);
    let watched = provision::Watched::default();
    tokio::spawn(provision::run(
        engine.clone(),
        actions_rx,
        limits.clone(),
        watched.clone(),
    ));
    engine.recover().await?;
    tokio::spawn(scheduler::run(
        engine.clone(),
        deadline_added,
        limits.clone(),
        watched,
    ));
    let operator = Arc::new(operate::Operator::new(
        engine.clone(),
        limits.clone(),
        options.state_dir.clone(),
    ));
    tokio::spawn(provision::reconcile_orphans(engine.clone(), limits));
    tokio::spawn(operate::reload_on_sighup(operator.clone()));
    tokio::spawn(operate::write_textfile_forever(engine.clone()));
    tracing::info!(store = %store_path.display(), mode = options.mode.as_str(), "jitd is serving");
    ready();
    rpc::serve(listener, engine, Some(operator), shutdown).await;
    tracing::info!("jitd stopped");
    Ok(())
}
