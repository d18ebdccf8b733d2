//! One connection's outgoing lines and its event subscriptions.
//!
//! Every line a connection sends — answers and event notifications — goes through one
//! bounded queue ([`Outbox`]) to one writer task, so lines never interleave and answers keep
//! their order. Answers wait for room (a client that does not read holds up only its own
//! calls); notifications never wait: when the queue is full they are dropped and counted,
//! and the subscriber gets a `lagged` event with the count as soon as there is room. So a
//! subscriber that stops reading never slows the daemon, and its memory is bounded by the
//! queue.
//!
//! Subscriptions belong to the connection that made them: `events.unsubscribe` looks only
//! in its own connection's table. (jsonrpsee's own subscriptions are not used: on the NDJSON
//! path every call sees `ConnectionId(0)`, so its table would let one connection end
//! another's subscription, and its unsubscribe takes positional parameters.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use jit_api::{Event, EventKind, RequestId, SubscriptionId};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::engine::Caller;
use crate::engine::events::Watch;

/// Lines waiting to be written on one connection.
pub const OUTBOX_LINES: usize = 128;

/// The most subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 16;

/// Subscription numbers, unique for as long as the daemon runs.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The sending side of a connection's line queue; each line ends with `\n`.
pub type Outbox = mpsc::Sender<String>;

/// One subscription's state shared with its forwarding task.
#[derive(Debug, Default)]
struct Gate {
    /// Set (under the lock) by `events.unsubscribe`: no line of it is queued afterwards.
    closed: Mutex<bool>,
}

impl Gate {
    /// Queues a line unless the subscription was ended; false once it was.
    fn pass(&self, send: impl FnOnce()) -> bool {
        let closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        if *closed {
            return false;
        }
        send();
        true
    }

    fn close(&self) {
        *self.closed.lock().unwrap_or_else(PoisonError::into_inner) = true;
    }
}

#[derive(Debug)]
struct Sub {
    gate: Arc<Gate>,
    task: JoinHandle<()>,
}

/// A connection's subscriptions, and the queue their events go to.
#[derive(Debug)]
pub struct Subscriptions {
    outbox: Outbox,
    subs: Mutex<HashMap<SubscriptionId, Sub>>,
    /// Subscriptions made by the call being answered: they start once the answer is queued,
    /// so that no event comes before the answer that names its subscription.
    starting: Mutex<Vec<oneshot::Sender<()>>>,
}

/// Why `events.subscribe` or `events.unsubscribe` was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// Too many subscriptions on one connection.
    #[error(
        "this connection already has {MAX_SUBSCRIPTIONS} subscriptions, the most allowed: end one, or filter less"
    )]
    TooMany,
    /// No such subscription on this connection.
    #[error(
        "no subscription {0} on this connection: a subscription is ended only on the connection that made it (or by closing that connection)"
    )]
    Unknown(SubscriptionId),
}

impl Subscriptions {
    /// A connection whose lines go to `outbox`.
    pub fn new(outbox: Outbox) -> Subscriptions {
        Subscriptions {
            outbox,
            subs: Mutex::new(HashMap::new()),
            starting: Mutex::new(Vec::new()),
        }
    }

    /// Adds a subscription for `caller` (only about `request`, if given), fed by `watch`.
    /// Its events flow once [`Subscriptions::start_pending`] is called. `current` gives the
    /// caller as the config in force sees them at each event (a reload may take away or
    /// give admin rights, and with them the events of other users' requests).
    pub fn subscribe(
        &self,
        caller: Arc<Caller>,
        current: CurrentCaller,
        watch: Watch,
        request: Option<RequestId>,
    ) -> Result<SubscriptionId, SubscriptionError> {
        let mut subs = self.subs.lock().unwrap_or_else(PoisonError::into_inner);
        if subs.len() >= MAX_SUBSCRIPTIONS {
            return Err(SubscriptionError::TooMany);
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let gate = Arc::new(Gate::default());
        let (start, started) = oneshot::channel();
        let task = tokio::spawn(forward(Forward {
            id,
            caller,
            current,
            request,
            watch,
            outbox: self.outbox.clone(),
            gate: gate.clone(),
            started,
        }));
        subs.insert(id, Sub { gate, task });
        self.starting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(start);
        Ok(id)
    }

    /// Starts the subscriptions made by the call whose answer was just queued.
    pub fn start_pending(&self) {
        let mut starting = self.starting.lock().unwrap_or_else(PoisonError::into_inner);
        for s in starting.drain(..) {
            let _ = s.send(());
        }
    }

    /// Ends a subscription of this connection; after this, none of its events is queued.
    pub fn unsubscribe(&self, id: SubscriptionId) -> Result<(), SubscriptionError> {
        let sub = self
            .subs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
            .ok_or(SubscriptionError::Unknown(id))?;
        sub.gate.close();
        sub.task.abort();
        Ok(())
    }

    /// Ends every subscription (the connection is closing).
    pub fn close(&self) {
        for (_, sub) in self
            .subs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
        {
            sub.gate.close();
            sub.task.abort();
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.close();
    }
}

/// The caller as the config in force sees them now (see [`crate::engine::Engine::current_caller`]).
pub type CurrentCaller = Arc<dyn Fn(Arc<Caller>) -> Arc<Caller> + Send + Sync>;

struct Forward {
    id: SubscriptionId,
    caller: Arc<Caller>,
    current: CurrentCaller,
    request: Option<RequestId>,
    watch: Watch,
    outbox: Outbox,
    gate: Arc<Gate>,
    started: oneshot::Receiver<()>,
}

/// The `lagged` notification for subscription `id`.
fn lagged(id: SubscriptionId, missed: u64) -> String {
    let event = Event {
        kind: EventKind::Lagged,
        at: jit_api::Timestamp::now_utc(),
        request: None,
        actor: None,
        reason: None,
        error: None,
        expires_in_secs: None,
        next: Vec::new(),
        missed: Some(missed),
    };
    // Plain data: serializing it cannot fail.
    jit_api::wire::encode_event(id, &serde_json::to_string(&event).unwrap_or_default())
}

/// Moves one subscription's events to its connection's queue, without ever waiting on it.
async fn forward(mut f: Forward) {
    if (&mut f.started).await.is_err() {
        return;
    }
    // Events dropped since the subscriber last had room.
    let mut missed: u64 = 0;
    loop {
        tokio::select! {
            biased;
            // Room again after falling behind: say how much was dropped before anything else.
            permit = f.outbox.reserve(), if missed > 0 => {
                let Ok(permit) = permit else { return };
                if !f.gate.pass(|| permit.send(lagged(f.id, missed))) {
                    return;
                }
                missed = 0;
            }
            got = f.watch.rx.recv() => {
                let event = match got {
                    Ok(event) => event,
                    // jitd itself fell behind (the events of others count too).
                    Err(RecvError::Lagged(n)) => {
                        missed = missed.saturating_add(n);
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                if event.lost > 0 {
                    missed = missed.saturating_add(event.lost);
                    continue;
                }
                if f.request.is_some_and(|id| id != event.request) {
                    continue;
                }
                f.caller = (f.current)(f.caller.clone());
                if !event.visible_to(&f.caller) {
                    continue;
                }
                if missed > 0 {
                    match f.outbox.try_reserve() {
                        Ok(permit) => {
                            if !f.gate.pass(|| permit.send(lagged(f.id, missed))) {
                                return;
                            }
                            missed = 0;
                        }
                        Err(mpsc::error::TrySendError::Full(())) => {
                            missed += 1;
                            continue;
                        }
                        Err(mpsc::error::TrySendError::Closed(())) => return,
                    }
                }
                match f.outbox.try_reserve() {
                    Ok(permit) => {
                        let line = jit_api::wire::encode_event(f.id, &event.json);
                        if !f.gate.pass(|| permit.send(line)) {
                            return;
                        }
                    }
                    Err(mpsc::error::TrySendError::Full(())) => missed += 1,
                    Err(mpsc::error::TrySendError::Closed(())) => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Published;
    use tokio::sync::broadcast;

    fn alice() -> Arc<Caller> {
        Arc::new(Caller {
            uid: 1000,
            user: "alice".into(),
            groups: Vec::new(),
            admin: false,
            pid: 0,
        })
    }

    /// Admin rights that never change.
    fn same() -> CurrentCaller {
        Arc::new(|c| c)
    }

    fn event(n: u64) -> Arc<Published> {
        let json =
            format!(r#"{{"kind":"created","at":"2026-11-23T22:17:30Z","next":[],"reason":"{n}"}}"#);
        Arc::new(Published::for_test(1, "alice", &json, 0))
    }

    /// The next line queued, as (kind, reason or missed).
    async fn next(lines: &mut mpsc::Receiver<String>) -> (String, String) {
        let line = tokio::time::timeout(std::time::Duration::from_secs(5), lines.recv())
            .await
            .expect("a line in time")
            .expect("a line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        let e = &v["params"]["result"];
        let detail = e["reason"]
            .as_str()
            .map_or_else(|| e["missed"].to_string(), str::to_owned);
        (e["kind"].as_str().unwrap_or_default().to_owned(), detail)
    }

    #[tokio::test]
    async fn a_full_queue_drops_events_and_says_how_many_first_when_there_is_room() {
        let (events, _) = broadcast::channel(64);
        let (outbox, mut lines) = mpsc::channel(2);
        let conn = Subscriptions::new(outbox);
        let id = conn
            .subscribe(alice(), same(), Watch::for_test(events.subscribe()), None)
            .expect("subscribe");
        // Nothing flows before the answer is queued.
        events.send(event(0)).expect("send");
        tokio::task::yield_now().await;
        assert!(lines.try_recv().is_err());
        conn.start_pending();
        assert_eq!(next(&mut lines).await, ("created".into(), "0".into()));
        // Nobody reads: two fit, three are dropped.
        for n in 1..=5 {
            events.send(event(n)).expect("send");
        }
        // Another's request, and a loss before the fan-out: not shown, but counted.
        events
            .send(Arc::new(Published::for_test(2, "bob", "{}", 0)))
            .expect("send");
        events
            .send(Arc::new(Published::for_test(0, "", "", 4)))
            .expect("send");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(next(&mut lines).await, ("created".into(), "1".into()));
        assert_eq!(next(&mut lines).await, ("created".into(), "2".into()));
        assert_eq!(next(&mut lines).await, ("lagged".into(), "7".into()));
        events.send(event(6)).expect("send");
        assert_eq!(next(&mut lines).await, ("created".into(), "6".into()));
        // After unsubscribing, nothing more.
        conn.unsubscribe(id).expect("unsubscribe");
        events.send(event(7)).expect("send");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(lines.try_recv().is_err());
        assert!(matches!(
            conn.unsubscribe(id),
            Err(SubscriptionError::Unknown(_))
        ));
    }

    #[tokio::test]
    async fn a_connection_holds_at_most_so_many_subscriptions() {
        let (events, _) = broadcast::channel(4);
        let (outbox, _lines) = mpsc::channel(2);
        let conn = Subscriptions::new(outbox);
        for _ in 0..MAX_SUBSCRIPTIONS {
            conn.subscribe(
                alice(),
                same(),
                Watch::for_test(events.subscribe()),
                Some(1),
            )
            .expect("subscribe");
        }
        assert!(matches!(
            conn.subscribe(alice(), same(), Watch::for_test(events.subscribe()), None),
            Err(SubscriptionError::TooMany)
        ));
    }
}
