//! An engine for unit tests: a store and a config file in a temp dir, a manual clock, and
//! the provisioner's queue handed to the test (nothing provisions: tests record outcomes
//! themselves).

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{Notify, mpsc};

use super::{Action, Caller, Engine, EngineParts};
use crate::clock::ManualClock;

/// An engine on `config` (written to `dir/jit.toml`, where a reload reads it again) with a
/// store in `dir`, its clock, and its provisioning actions. Call it inside a runtime.
pub(crate) fn engine(
    dir: &Path,
    config: &str,
) -> (Arc<Engine>, ManualClock, mpsc::UnboundedReceiver<Action>) {
    let path = dir.join("jit.toml");
    std::fs::write(&path, config).expect("config file");
    let config = jit_config::load(&path).expect("config");
    let store = crate::store::Store::open(&dir.join("jit.redb")).expect("store");
    let integrations =
        crate::integrations::build(&config, store.instance_id(), dir).expect("registry");
    let clock = ManualClock::new(SystemTime::now());
    let (actions, actions_rx) = mpsc::unbounded_channel();
    let (events, events_rx) = mpsc::channel(super::events::PENDING_CHANGES);
    let engine = Arc::new(Engine::new(EngineParts {
        config: Arc::new(config),
        store,
        integrations,
        clock: Arc::new(clock.clone()),
        sealer: crate::secrets::Sealer::ephemeral(),
        actions,
        deadline_added: Arc::new(Notify::new()),
        mode: "system",
        events,
        notifications: mpsc::unbounded_channel().0,
    }));
    tokio::spawn(super::events::run(engine.clone(), events_rx));
    (engine, clock, actions_rx)
}

/// A local user who is not an admin.
pub(crate) fn user(name: &str, uid: u32) -> Caller {
    Caller {
        uid,
        user: name.into(),
        groups: vec![name.into()],
        admin: false,
        pid: 0,
    }
}
