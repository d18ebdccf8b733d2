//! The scheduler: fires deadlines (pending timeouts, scheduled starts, expiry warnings,
//! expiries, rotations, revoke retries) at their wall-clock instant.
//!
//! All deadlines live in the store's deadline index. One task reads the earliest, arms a
//! timer for it, and sleeps until the timer fires or the engine says an earlier deadline
//! may have been added. No polling.
//!
//! The timer is a timerfd on `CLOCK_REALTIME` with `TFD_TIMER_ABSTIME |
//! TFD_TIMER_CANCEL_ON_SET` ([`timer`]): tokio's timers run on `CLOCK_MONOTONIC`, which
//! stops during suspend, so a laptop sleeping through an expiry would revoke late by the
//! length of the sleep. The timerfd fires at the wall-clock instant, counts suspended
//! time, and wakes early when the clock is stepped so the next deadline is recomputed.
//!
//! Expiries take the short way: their access is taken away first and the request recorded
//! `expired` after, in one commit with the other deadlines due (`fire`). Only a revoke that
//! takes longer than `FAST_REVOKE` (25 ms) is recorded `revoking` first, so that the state says
//! so while it runs (and while it retries).

pub mod timer;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::clock::StepWatch;
use crate::engine::{Engine, EngineError, Expiry, from_ms};
use crate::provision::{self, Limits, Watched};

/// How long the scheduler waits for expiries' revokes before it records them `revoking`.
/// Local revokes (and a PostgreSQL `DROP ROLE` on a quiet server) finish well within it.
const FAST_REVOKE: Duration = Duration::from_millis(25);

/// How many due deadlines one round handles (as the engine's batch).
const FULL: usize = 1000;

/// Runs until the daemon stops.
pub async fn run(
    engine: Arc<Engine>,
    deadline_added: Arc<Notify>,
    limits: Limits,
    watched: Watched,
) {
    let fired = Arc::new(Notify::new());
    let clock = engine.clock().clone();
    let timer = match clock.timer(fired.clone()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot create the wall-clock timer; deadlines will not fire");
            return;
        }
    };
    let mut steps = StepWatch::new(clock.as_ref());
    loop {
        // A wall clock stepped back would lengthen every grant by the step: take the step
        // out of their ends first. (A step forward is wall-clock time passing: what is due
        // fires below.)
        if let Some(back) = steps.stepped_back(clock.as_ref()) {
            match engine.clock_stepped_back(back).await {
                Ok(n) => tracing::warn!(
                    back_secs = back.as_secs(),
                    grants = n,
                    "the wall clock was stepped back; grant ends moved earlier by the step"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "the wall clock was stepped back and grant ends could not be moved")
                }
            }
        }
        // Handle everything due; a full batch means more may be waiting.
        loop {
            match fire(&engine, &limits, &watched).await {
                Ok(n) if n >= FULL => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "cannot fire deadlines; trying again in 1s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let next = match engine.store().read(|r| r.earliest_deadline()) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the deadline index; trying again in 1s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        match next {
            Some(ms) => timer.arm(from_ms(ms)),
            None => timer.disarm(),
        }
        tokio::select! {
            () = fired.notified() => {}
            () = deadline_added.notified() => {}
        }
    }
}

/// One round: takes the access of due expiries away (waiting at most [`FAST_REVOKE`]),
/// then records them and fires every other due deadline in one write. Returns how many
/// deadlines were handled.
async fn fire(
    engine: &Arc<Engine>,
    limits: &Limits,
    watched: &Watched,
) -> Result<usize, EngineError> {
    let started = engine.now_ms();
    let due = engine.due_expiries(started)?;
    let mut running = Vec::with_capacity(due.len());
    for rec in due {
        let (done_tx, done) = oneshot::channel();
        let (verdict, verdict_rx) = oneshot::channel();
        provision::expire(engine, limits, watched, rec.clone(), done_tx, verdict_rx);
        running.push((rec, done, verdict));
    }
    let until = tokio::time::Instant::now() + FAST_REVOKE;
    let mut expiries = Vec::with_capacity(running.len());
    let mut verdicts = Vec::with_capacity(running.len());
    for (rec, mut done, verdict) in running {
        let finished = match tokio::time::timeout_at(until, &mut done).await {
            Ok(Ok(gone)) => Some(gone),
            // The task ended without an answer (it panicked): nothing to record; the
            // expiry is recorded `revoking` and retried.
            Ok(Err(_)) => None,
            Err(_) => done.try_recv().ok(),
        };
        verdicts.push((rec.id, verdict));
        expiries.push(Expiry {
            rec,
            started,
            done: finished,
        });
    }
    // The lag of each expiry whose access is already gone: from the grant's end to the end
    // of its revoke (a revoke still running is recorded later and not measured here).
    let lags: Vec<Duration> = expiries
        .iter()
        .filter_map(|e| match (&e.done, e.rec.expires_at) {
            (Some((Ok(()), gone_at)), Some(end)) => {
                Some(Duration::from_millis(gone_at.saturating_sub(end)))
            }
            _ => None,
        })
        .collect();
    match engine.fire_due(expiries).await {
        Ok(fired) => {
            for lag in lags {
                engine.metrics().expiry_lag(lag);
            }
            for (id, verdict) in verdicts {
                let _ = verdict.send(fired.record_later.contains(&id));
            }
            Ok(fired.handled)
        }
        // Nothing was recorded: the expiries are still due and are taken away again (a
        // revoke is idempotent). Dropping the verdicts tells their tasks not to record.
        Err(e) => Err(e),
    }
}
