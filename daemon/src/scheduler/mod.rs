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

pub mod timer;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::StepWatch;
use crate::engine::{Engine, from_ms};

/// Runs until the daemon stops.
pub async fn run(engine: Arc<Engine>, deadline_added: Arc<Notify>) {
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
            match engine.fire_due().await {
                Ok(n) if n >= 1000 => continue,
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
