//! Events: what each durable transition tells subscribers, who may see it, and the fan-out.
//!
//! Every engine write goes through `Engine::write` with a [`Tx`], which remembers what the
//! transaction did — the audit actions (and a few notes that are not audited: later revoke
//! failures, expiry warnings) and the record each request was left in. Once the transaction
//! is durable, the store's writer thread hands that to [`run`] in commit order; `run` turns
//! it into [`Published`] events (the wire [`jit_api::Event`], serialized once) and
//! broadcasts them. Subscribers (`rpc/`) keep the ones [`Published::visible_to`] their
//! caller.
//!
//! Nothing is noted while nobody listens and no notification channel is configured (a write
//! costs what it did before events); with channels, every write notes what it did for the
//! outbox ([`super::outbox`]), and hands it to the fan-out only while someone listens. The
//! flag is read by each job on the writer thread, and [`Engine::watch`] waits for a no-op
//! write after raising it: every job that ran before is durable by then, so a subscriber
//! that reads a request after subscribing gets every later change of it — none falls between
//! its read and its first event.
//!
//! Nothing here waits on a subscriber, and every queue is bounded: the broadcast channel
//! drops the oldest events for a subscriber that falls behind, and should the fan-out itself
//! fall behind the writer, the writer drops what it would have handed over and counts it;
//! either way subscribers are told how many with a `lagged` event.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use jit_api::{CredentialState, Event, EventKind, Request, RequestId, Status};
use jit_config::Principal;
use tokio::sync::{broadcast, mpsc};

use super::authz::{Caller, parse_principal};
use super::views::ts;
use super::{Engine, EngineError};
use crate::store::WriteTx;
use crate::store::model::{Millis, RequestRecord};

/// How many events the broadcast channel keeps for subscribers that fall behind.
const BACKLOG: usize = 1024;

/// How many transactions' changes may wait for the fan-out.
pub const PENDING_CHANGES: usize = 4096;

/// The audit action of an expiry warning (sent, not audited).
pub(crate) const EXPIRY_WARNING: &str = "grant.expiry_warning";

/// What puts back the in-memory side of a write whose transaction was not committed (see
/// [`Engine::write_or_undo`]).
pub(crate) type Undo = Box<dyn FnOnce() + Send>;

/// One thing a transaction did to a request: an audit action, or a note that is not audited.
#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub(super) action: String,
    pub(super) actor: String,
    pub(super) at: Millis,
    pub(super) reason: Option<String>,
    pub(super) details: Option<String>,
}

/// What one transaction did to one request, and the record it left.
#[derive(Debug)]
pub struct Change {
    pub(super) notes: Vec<Note>,
    pub(super) rec: Option<RequestRecord>,
}

/// The engine's view of a write transaction: the store's, plus what it did, for events.
pub struct Tx<'a, 't> {
    inner: &'a mut WriteTx<'t>,
    /// Whether anyone listens, or a notification channel is configured; nothing is noted
    /// otherwise.
    capture: bool,
    changes: Vec<Change>,
    /// Where each request's change is in `changes` (a batch of due deadlines has many).
    index: HashMap<RequestId, usize>,
}

impl<'t> Deref for Tx<'_, 't> {
    type Target = WriteTx<'t>;
    fn deref(&self) -> &WriteTx<'t> {
        self.inner
    }
}

impl<'t> DerefMut for Tx<'_, 't> {
    fn deref_mut(&mut self) -> &mut WriteTx<'t> {
        self.inner
    }
}

impl Tx<'_, '_> {
    fn change(&mut self, id: RequestId) -> &mut Change {
        let changes = &mut self.changes;
        let i = *self.index.entry(id).or_insert_with(|| {
            changes.push(Change {
                notes: Vec::new(),
                rec: None,
            });
            changes.len() - 1
        });
        &mut self.changes[i]
    }

    /// Writes a request (see [`WriteTx::put_request`]) and remembers the record for events.
    pub fn put_request(
        &mut self,
        new: &RequestRecord,
        old: Option<&RequestRecord>,
    ) -> Result<(), crate::store::StoreError> {
        self.inner.put_request(new, old)?;
        if self.capture {
            self.change(new.id).rec = Some(new.clone());
        }
        Ok(())
    }

    /// Remembers that `action` happened to request `id`, for events. [`super::requests::audit`]
    /// calls this for every audited action; call it directly for what is told but not audited.
    pub(crate) fn note(
        &mut self,
        id: RequestId,
        action: &str,
        actor: &str,
        at: Millis,
        reason: Option<&str>,
        details: Option<String>,
    ) {
        if self.capture {
            self.change(id).notes.push(Note {
                action: action.to_owned(),
                actor: actor.to_owned(),
                at,
                reason: reason.map(str::to_owned),
                details,
            });
        }
    }
}

/// Who gets an event, among those who may see its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Everyone who may see the request: its requester, its approvers, admins.
    All,
    /// Only its approvers (never the requester).
    Approvers,
    /// Those who may see it except its approvers (who get an `approval_needed` instead).
    NotApprovers,
}

/// One event, ready to send: who may get it, and its JSON.
#[derive(Debug)]
pub struct Published {
    /// The request it is about (0 for none).
    pub request: RequestId,
    audience: Audience,
    requester: String,
    approvers: Vec<Principal>,
    /// The [`jit_api::Event`], serialized.
    pub json: String,
    /// Not an event: this many were lost before the fan-out (every subscriber counts them
    /// as missed).
    pub lost: u64,
}

impl Published {
    /// Not an event: `n` were lost before the fan-out.
    fn lost(n: u64) -> Published {
        Published {
            request: 0,
            audience: Audience::All,
            requester: String::new(),
            approvers: Vec::new(),
            json: String::new(),
            lost: n,
        }
    }

    /// An event about `request` by `requester` that only they (and admins) may see, for
    /// tests of what carries events.
    #[cfg(test)]
    pub(crate) fn for_test(request: RequestId, requester: &str, json: &str, lost: u64) -> Self {
        Published {
            request,
            audience: Audience::All,
            requester: requester.to_owned(),
            approvers: Vec::new(),
            json: json.to_owned(),
            lost,
        }
    }

    /// Whether `caller` gets this event: the same rule as seeing the request (`request.get`),
    /// narrowed by its audience.
    pub fn visible_to(&self, caller: &Caller) -> bool {
        let approver =
            caller.user != self.requester && self.approvers.iter().any(|p| caller.matches(p));
        let sees = caller.admin || caller.user == self.requester || approver;
        match self.audience {
            Audience::All => sees,
            Audience::Approvers => approver,
            Audience::NotApprovers => sees && !approver,
        }
    }
}

/// The sending side of events, owned by the engine.
#[derive(Debug)]
pub struct Hub {
    /// Live [`Watch`]es.
    watchers: Arc<AtomicUsize>,
    changes: mpsc::Sender<Vec<Change>>,
    /// Notes dropped because the fan-out was behind, not yet told.
    lost: Arc<AtomicU64>,
    out: broadcast::Sender<Arc<Published>>,
}

/// A subscriber's receiving end: every event from when it was made, in commit order. While
/// one exists, writes note what they do.
#[derive(Debug)]
pub struct Watch {
    /// The events.
    pub rx: broadcast::Receiver<Arc<Published>>,
    watchers: Arc<AtomicUsize>,
}

impl Watch {
    /// A watch of a channel of its own, for tests of what carries events.
    #[cfg(test)]
    pub(crate) fn for_test(rx: broadcast::Receiver<Arc<Published>>) -> Watch {
        Watch {
            rx,
            watchers: Arc::new(AtomicUsize::new(1)),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.watchers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hub {
    /// A hub whose changes go to `changes` (read by [`run`]; at most [`PENDING_CHANGES`]).
    pub fn new(changes: mpsc::Sender<Vec<Change>>) -> Hub {
        let (out, _) = broadcast::channel(BACKLOG);
        Hub {
            watchers: Arc::new(AtomicUsize::new(0)),
            changes,
            lost: Arc::new(AtomicU64::new(0)),
            out,
        }
    }
}

impl Engine {
    /// Subscribes to every event from now on (the caller filters what it may see). Returns
    /// once every write that started before is durable: what the caller reads afterwards is
    /// followed by the events of every later change.
    pub async fn watch(&self) -> Result<Watch, EngineError> {
        self.events.watchers.fetch_add(1, Ordering::SeqCst);
        let watch = Watch {
            rx: self.events.out.subscribe(),
            watchers: self.events.watchers.clone(),
        };
        // Jobs run in order: once this one is durable, so is every job that ran before the
        // flag was up (and wrote nothing down for events).
        self.store.write(|_| Ok::<_, EngineError>(())).await?;
        Ok(watch)
    }

    /// Runs `f` in a durable store transaction (see [`crate::store::Store::write`]); once it
    /// is durable, what it did goes to the event fan-out, in commit order.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_, '_>) -> Result<T, EngineError> + Send + 'static,
    {
        self.write_or_undo(move |tx| f(tx).map(|t| (t, None))).await
    }

    /// Like [`Engine::write`], for a job that also changes something outside the store (the
    /// config a reload puts in force): `f` may hand back an [`Undo`], which runs on the
    /// writer thread if the transaction is not committed after all (a storage failure aborts
    /// its whole batch), before any later job runs.
    pub(crate) async fn write_or_undo<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_, '_>) -> Result<(T, Option<Undo>), EngineError> + Send + 'static,
    {
        let sink = self.events.changes.clone();
        let lost = self.events.lost.clone();
        let watchers = self.events.watchers.clone();
        let outbox = self.outbox.clone();
        let plan = outbox.plan.clone();
        self.store
            .write_then(
                move |wtx| {
                    // Read here, on the writer thread, in job order (see `watch`).
                    let listened = watchers.load(Ordering::SeqCst) > 0;
                    let mut tx = Tx {
                        inner: wtx,
                        capture: listened || !plan.is_empty(),
                        changes: Vec::new(),
                        index: HashMap::new(),
                    };
                    let (out, undo) = f(&mut tx)?;
                    // The notifications of this transaction are written in it: durable before
                    // anyone is told, whether or not anyone subscribes.
                    let filled = if plan.is_empty() {
                        super::outbox::Filled::default()
                    } else {
                        match super::outbox::fill(tx.inner, &tx.changes, &plan) {
                            Ok(filled) => filled,
                            Err(e) => {
                                // Nothing of this job is committed, and the store tells a
                                // failed job nothing: put back what it changed outside the
                                // store (a reload's config) now, before the next job runs.
                                if let Some(undo) = undo {
                                    undo();
                                }
                                return Err(e);
                            }
                        }
                    };
                    let changes = if listened { tx.changes } else { Vec::new() };
                    Ok((out, (changes, filled, undo)))
                },
                move |(changes, filled, undo): (
                    Vec<Change>,
                    super::outbox::Filled,
                    Option<Undo>,
                ),
                      durable| {
                    if !durable {
                        if let Some(undo) = undo {
                            undo();
                        }
                        return;
                    }
                    filled.committed(&outbox);
                    if changes.is_empty() {
                        return;
                    }
                    // Never wait for the fan-out: count what it will not get (about one
                    // event per note). It lives as long as the daemon.
                    if let Err(mpsc::error::TrySendError::Full(changes)) = sink.try_send(changes) {
                        let notes: usize = changes.iter().map(|c| c.notes.len()).sum();
                        lost.fetch_add(notes as u64, Ordering::Relaxed);
                    }
                },
            )
            .await
    }

    /// The wire event of kind `kind` for a note about `rec`, whose view is `view`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn event(
        &self,
        kind: EventKind,
        at: Millis,
        actor: &str,
        reason: Option<&str>,
        details: Option<&str>,
        rec: &RequestRecord,
        view: Request,
    ) -> Event {
        Event {
            kind,
            at: ts(at),
            next: self.next_steps(kind, &view),
            actor: Some(actor.to_owned()),
            reason: reason.map(str::to_owned),
            error: match kind {
                EventKind::RevokeFailed | EventKind::CredentialsResetFailed => {
                    details.map(str::to_owned)
                }
                EventKind::Failed | EventKind::Revoking => rec.error.clone(),
                _ => None,
            },
            expires_in_secs: (kind == EventKind::Expiring)
                .then(|| rec.expires_at.map(|e| e.saturating_sub(at) / 1000))
                .flatten(),
            missed: None,
            request: Some(view),
        }
    }

    /// The events one request's change makes, in order.
    fn events_of(&self, change: Change) -> Vec<Published> {
        let Some(rec) = change.rec else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut request = None;
        for note in &change.notes {
            for (kind, audience) in kinds(note, &rec) {
                let view: &Request = request.get_or_insert_with(|| self.view(&rec));
                let event = self.event(
                    kind,
                    note.at,
                    &note.actor,
                    note.reason.as_deref(),
                    note.details.as_deref(),
                    &rec,
                    view.clone(),
                );
                let json = match serde_json::to_string(&event) {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::error!(error = %e, id = rec.id, "cannot encode an event");
                        continue;
                    }
                };
                out.push(Published {
                    request: rec.id,
                    audience,
                    requester: rec.requester.clone(),
                    approvers: rec
                        .approval
                        .approvers
                        .iter()
                        .map(|r| parse_principal(r))
                        .collect(),
                    json,
                    lost: 0,
                });
            }
        }
        out
    }
}

/// The events an action makes, with who gets each.
pub(super) fn kinds(note: &Note, rec: &RequestRecord) -> Vec<(EventKind, Audience)> {
    use Audience::{All, Approvers, NotApprovers};
    use EventKind as K;
    match note.action.as_str() {
        // The approvers of a pending request — or the people a break-glass flow tells — get
        // `approval_needed` instead of `created`.
        "request.created" | "request.repeated"
            if rec.status == Status::Pending || rec.break_glass =>
        {
            vec![(K::Created, NotApprovers), (K::ApprovalNeeded, Approvers)]
        }
        "request.created" | "request.repeated" => vec![(K::Created, All)],
        "request.approval_added" | "grant.extension_approval_added" => {
            vec![(K::ApprovalAdded, All)]
        }
        // Approved by the flow itself: `created` already said it is granting.
        "request.approved" if note.actor == "jitd" => Vec::new(),
        "request.approved" => vec![(K::Approved, All)],
        "request.rejected" | "request.timed_out" => vec![(K::Rejected, All)],
        "request.canceled" => vec![(K::Canceled, All)],
        "request.started" => vec![(K::Started, All)],
        "request.window_missed" | "grant.expired" => vec![(K::Expired, All)],
        "grant.granted" => vec![(K::Granted, All)],
        "grant.failed" | "grant.expiring" | "grant.revoke_requested" => vec![(K::Revoking, All)],
        "grant.revoke_failed" => vec![(K::RevokeFailed, All)],
        "grant.revoked" => vec![(K::Revoked, All)],
        "request.failed" => vec![(K::Failed, All)],
        "grant.extension_requested" => vec![
            (K::ExtensionRequested, NotApprovers),
            (K::ApprovalNeeded, Approvers),
        ],
        "grant.extended" => vec![(K::Extended, All)],
        "grant.extension_rejected" => vec![(K::ExtensionRejected, All)],
        "credentials.reset" if rec.sessions.iter().any(|s| s.rotated) => {
            vec![(K::CredentialsRotated, All)]
        }
        "credentials.reset" => vec![(K::CredentialsReset, All)],
        "credentials.reset_failed" => vec![(K::CredentialsResetFailed, All)],
        EXPIRY_WARNING => vec![(K::Expiring, All)],
        // Reveals, connects, registered processes, resets under way: nothing to tell.
        _ => Vec::new(),
    }
}

impl Engine {
    /// What the people told can do now, as `jit` commands.
    fn next_steps(&self, kind: EventKind, req: &Request) -> Vec<String> {
        let id = req.id;
        match kind {
            EventKind::Granted | EventKind::CredentialsRotated => {
                let several = req.sessions.len() > 1;
                let mut next: Vec<String> = req
                    .sessions
                    .iter()
                    .filter(|s| !s.connect.is_empty())
                    .map(|s| {
                        if several {
                            format!("jit connect {id} --session {}", s.integration)
                        } else {
                            format!("jit connect {id}")
                        }
                    })
                    .collect();
                if req
                    .sessions
                    .iter()
                    .any(|s| s.credentials == CredentialState::Unrevealed)
                {
                    next.push(format!("jit creds {id}"));
                }
                next
            }
            EventKind::ApprovalNeeded if req.status == Status::Pending => {
                vec![format!("jit approve {id}"), format!("jit reject {id}")]
            }
            // Told of a break-glass grant: nothing waits for them; they review it.
            EventKind::ApprovalNeeded if req.pending_extension.is_none() => {
                vec![format!("jit show {id}")]
            }
            EventKind::ApprovalNeeded => vec![format!("jit approve {id}")],
            EventKind::Expiring => {
                let more = self
                    .config()
                    .flow(&req.flow)
                    .is_some_and(|f| (req.extensions.len() as u32) < f.max_extensions);
                if more {
                    vec![format!("jit extend {id} --for DURATION")]
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }
}

/// The fan-out: turns the changes of each durable transaction into events and broadcasts
/// them, in commit order. Runs until the daemon stops.
pub async fn run(engine: Arc<Engine>, mut changes: mpsc::Receiver<Vec<Change>>) {
    while let Some(batch) = changes.recv().await {
        // The writer dropped some while this was behind; it drops only while the queue is
        // full, so the batches still queued bring this here again soon.
        let lost = engine.events.lost.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = engine.events.out.send(Arc::new(Published::lost(lost)));
        }
        if engine.events.out.receiver_count() == 0 {
            continue;
        }
        for change in batch {
            for event in engine.events_of(change) {
                // No subscriber left is not an error: the next transaction is not captured.
                let _ = engine.events.out.send(Arc::new(event));
            }
        }
    }
}

/// The next expiry warning after `now` for access ending at `end`, given the offsets
/// before the end (longest first).
pub(crate) fn warning_after(
    end: Millis,
    offsets: &[std::time::Duration],
    now: Millis,
) -> Option<Millis> {
    offsets
        .iter()
        .map(|o| end.saturating_sub(u64::try_from(o.as_millis()).unwrap_or(u64::MAX)))
        .filter(|at| *at > now && *at < end)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn warnings_come_before_the_end_and_after_now() {
        let offsets = [Duration::from_secs(600), Duration::from_secs(60)];
        let end = 10_000_000;
        assert_eq!(warning_after(end, &offsets, 0), Some(end - 600_000));
        assert_eq!(
            warning_after(end, &offsets, end - 600_000),
            Some(end - 60_000)
        );
        // A grant shorter than the longest offset gets only the shorter warning.
        assert_eq!(
            warning_after(end, &offsets, end - 300_000),
            Some(end - 60_000)
        );
        assert_eq!(warning_after(end, &offsets, end - 60_000), None);
        assert_eq!(warning_after(end, &[], 0), None);
        // An offset longer than the whole epoch-relative end never underflows.
        assert_eq!(warning_after(5, &[Duration::from_secs(1)], 0), None);
    }

    fn caller(user: &str, groups: &[&str], admin: bool) -> Caller {
        Caller {
            uid: 1000,
            user: user.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            admin,
            pid: 0,
        }
    }

    #[test]
    fn each_audience_is_who_may_see_the_request_narrowed() {
        let published = |audience| Published {
            request: 1,
            audience,
            requester: "alice".into(),
            approvers: vec![parse_principal("carol"), parse_principal("%dba")],
            json: String::new(),
            lost: 0,
        };
        let alice = caller("alice", &["dev", "dba"], false);
        let bob = caller("bob", &["dev"], false);
        let carol = caller("carol", &[], false);
        let dave = caller("dave", &["dba"], false);
        let root = caller("root", &[], true);
        let all = published(Audience::All);
        assert!(all.visible_to(&alice) && all.visible_to(&carol) && all.visible_to(&dave));
        assert!(all.visible_to(&root) && !all.visible_to(&bob));
        let approvers = published(Audience::Approvers);
        // alice is in %dba, but never approves her own request.
        assert!(!approvers.visible_to(&alice) && !approvers.visible_to(&root));
        assert!(approvers.visible_to(&carol) && approvers.visible_to(&dave));
        assert!(!approvers.visible_to(&bob));
        let others = published(Audience::NotApprovers);
        assert!(others.visible_to(&alice) && others.visible_to(&root));
        assert!(!others.visible_to(&carol) && !others.visible_to(&bob));
    }
}
