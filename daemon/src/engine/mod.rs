//! The engine: the request state machine. It authorizes, matches access flows, and makes
//! every transition as one durable store write with its audit entry, then tells the
//! provisioner and the scheduler what to do next.
//!
//! Invariant: the engine does no I/O but the store. Provisioning happens elsewhere
//! ([`crate::provision`]), which reports back through [`Engine::record_granted`] and
//! [`Engine::record_revoked`]; deadlines fire through [`Engine::fire_due`].
//!
//! Invariant: every write goes through `Engine::write`, so that what it did reaches the
//! subscribers of [`events`] once it is durable, in commit order.

mod access;
pub mod authz;
pub mod events;
mod lifecycle;
pub mod operate;
pub mod outbox;
mod requests;
pub mod saved;
#[cfg(test)]
pub(crate) mod testing;
mod views;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jit_api::{ErrorCode, RequestId};
use jit_config::Config;
use tokio::sync::{Notify, broadcast, mpsc};

use crate::clock::Clock;
use crate::integrations::{Material, PublicFile, Registry, TerminalTemplate};
use crate::secrets::Sealer;
use crate::store::model::{MaterialRecord, Millis, TerminalRecord};
use crate::store::{Store, StoreError};

pub use access::{kind_name, pending_key};
pub use authz::Caller;
pub use lifecycle::{Expiry, Fired, GrantOutcome};
pub use operate::{Reload, Reloaded};

/// Work for the provisioner, sent after the transition that calls for it is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Provision a request that is `granting`.
    Grant(RequestId),
    /// Remove a request's access (it is `revoking`).
    Revoke(RequestId),
    /// Give a granted request's sessions their pending new secrets.
    Reset(RequestId),
    /// Move the target's own end of access to the request's new deadline.
    Extend(RequestId),
}

/// Why an engine operation was refused. Messages are for people: lower-case, they say what
/// to do, and they never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Not found, or not visible to the caller.
    #[error("no request {0} that you can see")]
    NotFound(RequestId),
    /// Visible but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No flow allows it.
    #[error("{0}")]
    NoFlow(String),
    /// Wrong status for this.
    #[error("{0}")]
    InvalidState(String),
    /// Unknown integration, resource type or permission.
    #[error("{0}")]
    UnknownName(String),
    /// A value out of bounds.
    #[error("{0}")]
    InvalidInput(String),
    /// Already revealed.
    #[error("{0}")]
    AlreadyRevealed(String),
    /// Storage failed.
    #[error("the daemon could not save this: {0}")]
    Store(#[from] StoreError),
}

impl EngineError {
    /// The protocol error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::NotFound(_) => ErrorCode::NotFound,
            EngineError::Forbidden(_) => ErrorCode::Forbidden,
            EngineError::NoFlow(_) => ErrorCode::NoFlow,
            EngineError::InvalidState(_) => ErrorCode::InvalidState,
            EngineError::UnknownName(_) => ErrorCode::UnknownName,
            EngineError::InvalidInput(_) => ErrorCode::InvalidInput,
            EngineError::AlreadyRevealed(_) => ErrorCode::AlreadyRevealed,
            EngineError::Store(_) => ErrorCode::Unavailable,
        }
    }
}

/// How long a revoke attempt may be in flight before the scheduler starts another.
pub const REVOKE_GUARD: Duration = Duration::from_secs(60);

/// The configuration in force and the integrations built from it (with those a reload
/// removed while they still had open requests), read together: a call takes one snapshot and
/// decides everything with it.
#[derive(Clone)]
pub struct Snapshot {
    /// The configuration.
    pub config: Arc<Config>,
    /// The integrations.
    pub integrations: Arc<Registry>,
}

/// What is in force, replaced whole by a reload.
struct Current {
    snapshot: Snapshot,
    loaded_at: SystemTime,
}

/// The engine. Shared as `Arc<Engine>`.
pub struct Engine {
    /// Read per call (a clone of the `Arc`s), never held across I/O or an await; replaced
    /// whole by a reload ([`Engine::apply_reload`]).
    current: std::sync::RwLock<Current>,
    store: Store,
    clock: Arc<dyn Clock>,
    sealer: Sealer,
    actions: mpsc::UnboundedSender<Action>,
    deadline_added: Arc<Notify>,
    updates: broadcast::Sender<RequestId>,
    events: events::Hub,
    outbox: outbox::Outbox,
    mode: &'static str,
    started_at: SystemTime,
    metrics: crate::metrics::Metrics,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What [`Engine::new`] needs.
pub struct EngineParts {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The store.
    pub store: Store,
    /// The integrations.
    pub integrations: Registry,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The secret sealer.
    pub sealer: Sealer,
    /// Where actions go.
    pub actions: mpsc::UnboundedSender<Action>,
    /// Notified when a deadline earlier than the scheduler knows may have been added.
    pub deadline_added: Arc<Notify>,
    /// Where what durable transactions did goes, for [`events::run`].
    pub events: mpsc::Sender<Vec<events::Change>>,
    /// Where new outbox rows are announced, for [`crate::notify::run`].
    pub notifications: mpsc::UnboundedSender<Vec<outbox::Queued>>,
    /// `system` or `user`.
    pub mode: &'static str,
}

impl Engine {
    /// Builds the engine.
    pub fn new(parts: EngineParts) -> Engine {
        let (updates, _) = broadcast::channel(4096);
        let started_at = parts.clock.now();
        Engine {
            current: std::sync::RwLock::new(Current {
                snapshot: Snapshot {
                    config: parts.config.clone(),
                    integrations: Arc::new(parts.integrations),
                },
                loaded_at: started_at,
            }),
            store: parts.store,
            clock: parts.clock,
            sealer: parts.sealer,
            actions: parts.actions,
            deadline_added: parts.deadline_added,
            updates,
            events: events::Hub::new(parts.events),
            outbox: outbox::Outbox::new(&parts.config, parts.notifications),
            mode: parts.mode,
            started_at,
            metrics: crate::metrics::Metrics::default(),
        }
    }

    fn current(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The configuration in force now. A call keeps the one it read for its whole length.
    pub fn config(&self) -> Arc<Config> {
        self.current().snapshot.config.clone()
    }

    /// The configuration and the integrations in force now, read as one.
    pub fn snapshot(&self) -> Snapshot {
        self.current().snapshot.clone()
    }

    /// Whether `snapshot` is still the one in force (no reload came since it was read).
    fn in_force(&self, snapshot: &Snapshot) -> bool {
        Arc::ptr_eq(&self.current().snapshot.config, &snapshot.config)
    }

    /// When the configuration in force was loaded (the start, or the last reload).
    pub fn config_loaded_at(&self) -> SystemTime {
        self.current().loaded_at
    }

    /// Puts `next` in force and returns what it replaced (for [`Engine::restore`]). Only a
    /// reload's store job calls this, so that every other job runs wholly before or wholly
    /// after it.
    fn swap_config(&self, next: Snapshot) -> Replaced {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = Current {
            snapshot: next,
            loaded_at: self.clock.now(),
        };
        Replaced(std::mem::replace(&mut *current, next))
    }

    /// Puts back what a swap replaced (its transaction was not committed).
    fn restore(&self, replaced: Replaced) {
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = replaced.0;
    }

    /// The daemon's metrics.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The store (read side, for the scheduler).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The integrations in force now (with those a reload removed while they still had
    /// open requests).
    pub fn integrations(&self) -> Arc<Registry> {
        self.current().snapshot.integrations.clone()
    }

    /// The sealer.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Subscribes to "request N changed" notices.
    pub fn subscribe(&self) -> broadcast::Receiver<RequestId> {
        self.updates.subscribe()
    }

    /// Builds the caller for a peer, deciding admin rights from the config.
    pub fn caller(&self, uid: u32, pid: u32, user: String, groups: Vec<String>) -> Caller {
        let admin = self.is_admin(uid, &user, &groups);
        Caller {
            uid,
            pid,
            user,
            groups,
            admin,
        }
    }

    /// Whether a peer is an admin under the config in force now: root, the daemon's own
    /// user in user mode, and whom `[daemon] admins` names.
    fn is_admin(&self, uid: u32, user: &str, groups: &[String]) -> bool {
        uid == 0
            || (self.mode == "user" && uid == nix::unistd::geteuid().as_raw())
            || self
                .current()
                .snapshot
                .config
                .daemon
                .admins
                .iter()
                .any(|p| p.matches(user, groups))
    }

    /// `caller` with its admin rights as the config in force now decides them: a connection
    /// keeps its identity, but a reload that adds or removes an admin applies to its next
    /// call (and its subscriptions' next event). The same `Arc` when nothing changed.
    pub fn current_caller(&self, caller: Arc<Caller>) -> Arc<Caller> {
        let admin = self.is_admin(caller.uid, &caller.user, &caller.groups);
        if admin == caller.admin {
            caller
        } else {
            Arc::new(Caller {
                admin,
                ..(*caller).clone()
            })
        }
    }

    /// The clock's time now, as stored.
    pub fn now_ms(&self) -> Millis {
        to_ms(self.clock.now())
    }

    /// Tells the provisioner, the scheduler and waiters what a durable transition implies.
    fn after_commit(&self, changed: &[RequestId], actions: Vec<Action>, new_deadline: bool) {
        for a in actions {
            // The provisioner lives as long as the daemon; a send fails only at shutdown,
            // and then recovery at the next start redoes the work.
            let _ = self.actions.send(a);
        }
        if new_deadline {
            self.deadline_added.notify_one();
        }
        for id in changed {
            let _ = self.updates.send(*id);
        }
    }
}

/// What a config swap replaced, to put back if its transaction is not committed.
struct Replaced(Current);

/// The stored form of what an integration handed back (see `integrations::Material`).
pub(crate) fn material_record(m: Material) -> MaterialRecord {
    MaterialRecord {
        user: m.user,
        host: m.host,
        port: m.port,
        secret_kind: m.secret_kind,
        instructions: m.instructions,
        example: m.example,
        files: m.files.into_iter().map(|f| (f.name, f.contents)).collect(),
        terminal: m.terminal.map(|t| TerminalRecord {
            argv: t.argv,
            env: t.env,
        }),
        app_url: m.app_url,
        browser_url: m.browser_url,
    }
}

/// The integration's view of a stored material.
pub(crate) fn material_of(r: &MaterialRecord) -> Material {
    Material {
        user: r.user.clone(),
        host: r.host.clone(),
        port: r.port,
        secret_kind: r.secret_kind,
        instructions: r.instructions.clone(),
        example: r.example.clone(),
        files: r
            .files
            .iter()
            .map(|(name, contents)| PublicFile {
                name: name.clone(),
                contents: contents.clone(),
            })
            .collect(),
        terminal: r.terminal.as_ref().map(|t| TerminalTemplate {
            argv: t.argv.clone(),
            env: t.env.clone(),
        }),
        app_url: r.app_url.clone(),
        browser_url: r.browser_url.clone(),
    }
}

/// Milliseconds since the epoch.
pub fn to_ms(t: SystemTime) -> Millis {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The instant for milliseconds since the epoch.
pub fn from_ms(ms: Millis) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}
