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

use crate::engine::{Engine, from_ms};

/// Runs until the daemon stops.
pub async fn run(engine: Arc<Engine>, deadline_added: Arc<Notify>) {
    let fired = Arc::new(Notify::new());
    let timer = match timer::WallTimer::start(fired.clone()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot create the wall-clock timer; deadlines will not fire");
            return;
        }
    };
    loop {
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
