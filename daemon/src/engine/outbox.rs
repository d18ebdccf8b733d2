//! The notification outbox, the engine's side: which channels an event goes to, the rows
//! written in the transaction that made the event (each with a random delivery id), and what
//! the notifier ([`crate::notify`]) may do with them — list a page of a channel's keys, read
//! one, set when one that failed on its own is tried next, mark it delivered, give it up — and
//! the counts `daemon.status` shows.
//!
//! Invariant: a notification exists in the store before its transition is acknowledged: the
//! rows are written by `Engine::write`, in the same transaction, whether or not anyone
//! subscribes to events. The notifier learns of them once they are durable (or at start), and
//! removes each in a later transaction after it was delivered or given up.
//!
//! Invariant: removing or rescheduling a row goes by its key and never needs to decode it, so
//! a row that cannot be read (damaged, or written by a newer jitd) is given up on its own —
//! logged once, audited, counted — and fails no other write of its transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jit_api::{ChannelStatus, Event, EventKind};
use jit_config::Config;
use tokio::sync::mpsc;

use super::events::{Change, kinds};
use super::views::ts;
use super::{Engine, EngineError};
use crate::store::model::{AuditEntry, Millis, OutboxRecord};
use crate::store::{OutboxPage, OutboxRow, WriteTx};

/// The audit action of a notification given up.
pub const DROPPED: &str = "notification.dropped";

/// A new row of the outbox: `(channel, seq)`.
pub type Queued = (String, u64);

/// Which channels want which events, from the config (shared with the writer thread).
#[derive(Debug, Default)]
pub struct Plan {
    channels: Vec<PlannedChannel>,
    /// Flow name → indexes in `channels` of the channels it names in `notify`.
    by_flow: HashMap<String, Vec<usize>>,
    /// Tests: the next [`fill`] with this plan fails as a storage error would (per engine,
    /// so tests running side by side in one process do not trip each other).
    #[cfg(test)]
    pub(crate) fail_next: std::sync::atomic::AtomicBool,
}

#[derive(Debug)]
struct PlannedChannel {
    name: String,
    events: Vec<EventKind>,
    global: bool,
    max_pending: u64,
}

impl Plan {
    /// The plan of `config`'s channels.
    pub fn new(config: &Config) -> Plan {
        let channels: Vec<PlannedChannel> = config
            .notifications
            .iter()
            .map(|c| PlannedChannel {
                name: c.name.clone(),
                events: c.events.iter().filter_map(|e| kind_named(e)).collect(),
                global: c.global,
                max_pending: u64::from(c.max_pending),
            })
            .collect();
        let by_flow = config
            .flows
            .iter()
            .map(|f| {
                let idx = f
                    .channels
                    .iter()
                    .filter_map(|n| channels.iter().position(|c| &c.name == n))
                    .collect();
                (f.name.clone(), idx)
            })
            .collect();
        Plan {
            channels,
            by_flow,
            #[cfg(test)]
            fail_next: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether any channel is configured (otherwise writes note nothing for it).
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// The channels a `kind` event of a request of `flow` goes to.
    fn channels_for(&self, flow: &str, kind: EventKind) -> impl Iterator<Item = &PlannedChannel> {
        let named = self
            .by_flow
            .get(flow)
            .map(Vec::as_slice)
            .unwrap_or_default();
        self.channels.iter().enumerate().filter_map(move |(i, c)| {
            ((c.global || named.contains(&i)) && c.events.contains(&kind)).then_some(c)
        })
    }
}

/// The event kind written `name` (`approval_needed`).
pub fn kind_named(name: &str) -> Option<EventKind> {
    EventKind::ALL.into_iter().find(|k| k.as_str() == name)
}

/// Writes the outbox rows for what a transaction did (`changes`), in that transaction.
/// A channel that overflows loses its oldest row, with an audit entry saying so.
pub(super) fn fill(
    wtx: &mut WriteTx<'_>,
    changes: &[Change],
    plan: &Plan,
) -> Result<Filled, EngineError> {
    #[cfg(test)]
    if plan
        .fail_next
        .swap(false, std::sync::atomic::Ordering::SeqCst)
    {
        wtx.fail_batch();
        return Err(crate::store::StoreError::Closed.into());
    }
    let mut queued = Vec::new();
    let mut pushed_out = Vec::new();
    let mut dropped: Vec<(String, u64, OutboxRow, Millis)> = Vec::new();
    for change in changes {
        let Some(rec) = change.rec.as_ref() else {
            continue;
        };
        for note in &change.notes {
            for (kind, _) in kinds(note, rec) {
                for channel in plan.channels_for(&rec.flow, kind) {
                    let row = OutboxRecord {
                        kind: kind.as_str().to_owned(),
                        action: note.action.clone(),
                        actor: note.actor.clone(),
                        at: note.at,
                        reason: note.reason.clone(),
                        details: note.details.clone(),
                        request: rec.clone(),
                        done: Vec::new(),
                        delivery: Some(new_delivery_id()),
                    };
                    let (seq, out) = wtx.push_outbox(&channel.name, &row, channel.max_pending)?;
                    queued.push((channel.name.clone(), seq));
                    if let Some((old, old_row)) = out {
                        dropped.push((channel.name.clone(), old, old_row, note.at));
                    }
                }
            }
        }
    }
    for (channel, seq, row, at) in dropped {
        tracing::error!(
            channel,
            seq,
            request = row.record().map(|r| r.request.id),
            event = row.record().map(|r| r.kind.as_str()),
            "the channel's outbox is full (max_pending): its oldest notification is dropped"
        );
        audit_drop(
            wtx,
            at,
            &channel,
            seq,
            row.record(),
            "the channel's outbox was full (max_pending)",
        )?;
        pushed_out.push(channel);
    }
    Ok(Filled { queued, pushed_out })
}

/// What `fill` did: the rows it wrote, and the channels that lost a row to each overflow.
#[derive(Debug, Default)]
pub struct Filled {
    /// New rows, to announce to the notifier once durable.
    pub queued: Vec<Queued>,
    /// One channel name per row pushed out of a full outbox, to count once durable.
    pub pushed_out: Vec<String>,
}

impl Filled {
    /// Announces the rows and counts the losses; called once the transaction is durable.
    pub(super) fn committed(self, outbox: &Outbox) {
        for channel in &self.pushed_out {
            outbox.count(channel, |s| s.dropped += 1);
        }
        if !self.queued.is_empty() {
            // The notifier lives as long as the daemon; rows it never hears of are found at
            // the next start.
            let _ = outbox.queued.send(self.queued);
        }
    }
}

/// A new delivery id: 128 random bits in hex. Not derived from anything in the store, so a
/// store restored from an older backup (whose counters went back) never reissues one.
fn new_delivery_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Audits that notification `seq` of `channel` was given up; `row` is `None` when it could
/// not be read (then the entry names no request).
fn audit_drop(
    wtx: &mut WriteTx<'_>,
    at: Millis,
    channel: &str,
    seq: u64,
    row: Option<&OutboxRecord>,
    why: &str,
) -> Result<(), EngineError> {
    let details = match row {
        Some(row) => format!(
            "channel {channel}, notification {seq} ({} of {})",
            row.kind,
            ts_text(row.at)
        ),
        None => format!("channel {channel}, notification {seq} (it cannot be read)"),
    };
    wtx.append_audit(AuditEntry {
        seq: 0,
        at,
        actor: "jitd".to_owned(),
        action: DROPPED.to_owned(),
        request: row.map(|r| r.request.id),
        status: None,
        reason: Some(why.to_owned()),
        details: Some(details),
        prev_hash: String::new(),
        hash: String::new(),
    })?;
    Ok(())
}

fn ts_text(at: Millis) -> String {
    ts(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The engine's outbox state: where new rows are announced, and the delivery counts.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub(super) plan: Arc<Plan>,
    queued: mpsc::UnboundedSender<Vec<Queued>>,
    stats: Arc<Mutex<HashMap<String, Stats>>>,
}

/// Counts of one channel since the daemon started.
#[derive(Debug, Default, Clone)]
struct Stats {
    delivered: u64,
    failed_attempts: u64,
    dropped: u64,
    last_error: Option<(String, Millis)>,
    /// Rows the notifier holds in memory now, and at most so far.
    held: usize,
    peak_held: usize,
}

impl Outbox {
    /// The outbox of `config`'s channels; new rows are announced on `queued`.
    pub fn new(config: &Config, queued: mpsc::UnboundedSender<Vec<Queued>>) -> Outbox {
        Outbox {
            plan: Arc::new(Plan::new(config)),
            queued,
            stats: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn count(&self, channel: &str, f: impl FnOnce(&mut Stats)) {
        let mut stats = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(stats.entry(channel.to_owned()).or_default());
    }
}

/// What an email attempt did for each recipient, recorded in the outbox row after the
/// attempt (whatever its outcome) so that a retry skips them.
#[derive(Debug, Default)]
pub struct Progress {
    /// Addresses that got the message.
    pub sent: Vec<String>,
    /// Addresses the server refused for good, with why: dropped (and audited) for them only.
    pub refused: Vec<(String, String)>,
}

impl Progress {
    /// Whether the attempt reached nobody and was refused for nobody.
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty() && self.refused.is_empty()
    }
}

/// A notification of the outbox, as the notifier finds it.
#[derive(Debug)]
pub enum Loaded {
    /// Ready to send.
    Ready(Box<Delivery>),
    /// In the outbox, but it cannot be sent (it cannot be read, or is of an event this jitd
    /// does not know): to be given up, for this reason.
    Unsendable(String),
    /// No longer in the outbox (delivered, given up, or pushed out of a full outbox).
    Gone,
}

/// One notification ready to send: its stable id, the event, and who it is for.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Stable across retries and restarts, unique across stores and restores: 128 random
    /// bits in hex, kept in the row (`<instance id>-<seq>` for rows written before).
    pub id: String,
    /// The event, as `events.subscribe` would have sent it.
    pub event: Event,
    /// The request's requester (an email's recipient for most events).
    pub requester: String,
    /// The request's approvers as configured (`alice`, `%dba`): an `approval_needed` email's
    /// recipients.
    pub approvers: Vec<String>,
    /// When the event happened (give-up ages count from here).
    pub at: Millis,
    /// Recipients already done with: an email retry skips them.
    pub done: Vec<String>,
}

impl Delivery {
    /// Whether this goes to the approvers (not the requester).
    pub fn for_approvers(&self) -> bool {
        self.event.kind == EventKind::ApprovalNeeded
    }
}

impl Engine {
    /// The channels with notifications in the outbox (configured or not).
    pub fn outbox_channels(&self) -> Result<Vec<String>, EngineError> {
        Ok(self.store.read(|r| r.outbox_channels())?)
    }

    /// How many notifications wait for `channel`.
    pub fn outbox_len(&self, channel: &str) -> Result<u64, EngineError> {
        Ok(self.store.read(|r| r.outbox_len(channel))?)
    }

    /// Up to `limit` notifications of `channel` to try at `now` (see
    /// [`crate::store::ReadTx::outbox_page`]): keys only, nothing decoded.
    pub fn outbox_page(
        &self,
        channel: &str,
        after: u64,
        now: Millis,
        limit: usize,
    ) -> Result<OutboxPage, EngineError> {
        Ok(self
            .store
            .read(|r| r.outbox_page(channel, after, now, limit))?)
    }

    /// Notes how many of `channel`'s notifications the notifier holds in memory now.
    pub fn outbox_held(&self, channel: &str, held: usize) {
        self.outbox.count(channel, |s| {
            s.held = held;
            s.peak_held = s.peak_held.max(held);
        });
    }

    /// Tests: the next transaction's outbox rows fail to be written, as a storage error
    /// would make them.
    #[cfg(test)]
    pub(crate) fn fail_next_outbox_write(&self) {
        self.outbox
            .plan
            .fail_next
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Tests: whether [`Engine::fail_next_outbox_write`] is still waiting for a write.
    #[cfg(test)]
    pub(crate) fn outbox_write_fails_next(&self) -> bool {
        self.outbox
            .plan
            .fail_next
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The most of `channel`'s notifications the notifier held in memory at once (for tests
    /// of its bound).
    #[doc(hidden)]
    pub fn outbox_peak_held(&self, channel: &str) -> usize {
        self.outbox
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(channel)
            .map_or(0, |s| s.peak_held)
    }

    /// A notification of the outbox, ready to send, or why it cannot be, or that it is gone.
    pub fn outbox_delivery(&self, channel: &str, seq: u64) -> Result<Loaded, EngineError> {
        let row = match self.store.read(|r| r.outbox(channel, seq))? {
            None => return Ok(Loaded::Gone),
            Some(OutboxRow::Unreadable(why)) => return Ok(Loaded::Unsendable(why)),
            Some(OutboxRow::Record(row)) => row,
        };
        let Some(kind) = kind_named(&row.kind) else {
            // Written by a newer jitd: this one cannot say it.
            return Ok(Loaded::Unsendable(format!(
                "it is of an event kind this jitd does not know ({})",
                row.kind
            )));
        };
        Ok(Loaded::Ready(Box::new(Delivery {
            id: row
                .delivery
                .clone()
                .unwrap_or_else(|| format!("{}-{seq}", self.store.instance_id())),
            event: self.event_of(kind, &row),
            requester: row.request.requester.clone(),
            approvers: row.request.approval.approvers.clone(),
            at: row.at,
            done: row.done.clone(),
        })))
    }

    /// Records that a notification failed on its own (the channel is fine): it is tried
    /// again at `at`, not before, across restarts; `failures` counts its failed attempts.
    /// The row is not read, so this works for any row still in the outbox.
    pub async fn outbox_retry(
        &self,
        channel: &str,
        seq: u64,
        at: Millis,
        failures: u32,
    ) -> Result<(), EngineError> {
        let ch = channel.to_owned();
        self.write(move |tx| {
            tx.outbox_retry(&ch, seq, at, failures)?;
            Ok(())
        })
        .await
    }

    fn event_of(&self, kind: EventKind, row: &OutboxRecord) -> Event {
        let view = self.view(&row.request);
        self.event(
            kind,
            row.at,
            &row.actor,
            row.reason.as_deref(),
            row.details.as_deref(),
            &row.request,
            view,
        )
    }

    /// Records that a notification was delivered: it leaves the outbox.
    pub async fn outbox_delivered(&self, channel: &str, seq: u64) -> Result<(), EngineError> {
        let ch = channel.to_owned();
        self.write(move |tx| {
            tx.remove_outbox(&ch, seq)?;
            Ok(())
        })
        .await?;
        self.outbox.count(channel, |s| s.delivered += 1);
        Ok(())
    }

    /// Records what an attempt did for each recipient: who got it (a retry skips them) and
    /// who was refused for good (skipped too, with an audit entry each, logged and counted).
    pub async fn outbox_progress(
        &self,
        channel: &str,
        seq: u64,
        progress: Progress,
    ) -> Result<(), EngineError> {
        let ch = channel.to_owned();
        let at = self.now_ms();
        let refused = progress.refused.clone();
        let mut done = progress.sent;
        done.extend(progress.refused.iter().map(|(a, _)| a.clone()));
        self.write(move |tx| {
            let Some(row) = tx.outbox_done(&ch, seq, &done)? else {
                return Ok(());
            };
            for (address, why) in &refused {
                audit_drop(
                    tx,
                    at,
                    &ch,
                    seq,
                    row.record(),
                    &format!("recipient {address}: {why}"),
                )?;
            }
            Ok(())
        })
        .await?;
        for (address, why) in progress.refused {
            tracing::error!(
                channel,
                seq,
                recipient = address,
                why,
                "a notification was given up for one recipient"
            );
            self.outbox.count(channel, |s| {
                s.dropped += 1;
                s.last_error = Some((format!("recipient {address}: {why}"), at));
            });
        }
        Ok(())
    }

    /// Gives a notification up (`why` is for people, and holds no secret): it leaves the
    /// outbox by its key (read or not) with an audit entry, and is logged and counted.
    pub async fn outbox_give_up(
        &self,
        channel: &str,
        seq: u64,
        why: String,
    ) -> Result<(), EngineError> {
        let ch = channel.to_owned();
        let at = self.now_ms();
        let reason = why.clone();
        let removed = self
            .write(move |tx| {
                let Some(row) = tx.remove_outbox(&ch, seq)? else {
                    return Ok(false);
                };
                audit_drop(tx, at, &ch, seq, row.record(), &reason)?;
                Ok(true)
            })
            .await?;
        if removed {
            tracing::error!(channel, seq, why, "a notification was given up");
            self.outbox.count(channel, |s| {
                s.dropped += 1;
                s.last_error = Some((why, at));
            });
        }
        Ok(())
    }

    /// Counts a failed delivery attempt (it will be retried); `error` holds no secret.
    pub fn outbox_failed(&self, channel: &str, error: &str) {
        let at = self.now_ms();
        self.outbox.count(channel, |s| {
            s.failed_attempts += 1;
            s.last_error = Some((error.to_owned(), at));
        });
    }

    /// The channels as `daemon.status` shows them.
    pub(crate) fn channel_statuses(&self) -> Result<Vec<ChannelStatus>, EngineError> {
        let stats = self
            .outbox
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        self.config()
            .notifications
            .iter()
            .map(|c| {
                let s = stats.get(&c.name).cloned().unwrap_or_default();
                Ok(ChannelStatus {
                    name: c.name.clone(),
                    kind: c.kind.name().to_owned(),
                    pending: self.store.read(|r| r.outbox_len(&c.name))?,
                    delivered: s.delivered,
                    failed_attempts: s.failed_attempts,
                    dropped: s.dropped,
                    last_error_at: s.last_error.as_ref().map(|(_, at)| ts(*at)),
                    last_error: s.last_error.map(|(e, _)| e),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_event_name_is_an_event_kind() {
        for name in jit_config::NOTIFY_EVENTS {
            assert!(kind_named(name).is_some(), "{name}");
        }
        // ... and every event kind about a request can be configured.
        for kind in EventKind::ALL {
            assert_eq!(
                jit_config::NOTIFY_EVENTS.contains(&kind.as_str()),
                kind != EventKind::Lagged,
                "{kind}"
            );
        }
    }
}
