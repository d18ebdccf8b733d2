//! A wall-clock timer: a timerfd on `CLOCK_REALTIME`, waited on by one dedicated thread.
//!
//! `TimerFd` implements `AsFd` but not `AsRawFd`, and tokio's safe `AsyncFd::new` is
//! deprecated in favour of an `unsafe` constructor, so the simple safe shape is a thread
//! blocked in `TimerFd::wait()` that notifies the async side. Re-arming from any thread
//! (`set`) replaces the expiry, and the blocked thread wakes at the new one. A clock step
//! (`TFD_TIMER_CANCEL_ON_SET`) also wakes it, so the scheduler recomputes.

use std::sync::Arc;
use std::time::SystemTime;

use nix::sys::time::{TimeSpec, TimeValLike};
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::sync::Notify;

/// The timer. Dropping it leaves the thread parked on a disarmed timer until exit.
pub struct WallTimer {
    fd: Arc<TimerFd>,
}

impl crate::clock::Timer for WallTimer {
    fn arm(&self, at: SystemTime) {
        WallTimer::arm(self, at);
    }

    fn disarm(&self) {
        WallTimer::disarm(self);
    }
}

impl WallTimer {
    /// Creates the timerfd and its waiting thread, which calls `fired.notify_one()`.
    pub fn start(fired: Arc<Notify>) -> nix::Result<WallTimer> {
        let fd = Arc::new(TimerFd::new(
            ClockId::CLOCK_REALTIME,
            TimerFlags::TFD_CLOEXEC,
        )?);
        let waiter = fd.clone();
        std::thread::Builder::new()
            .name("jitd-timer".into())
            .spawn(move || {
                loop {
                    match waiter.wait() {
                        Ok(()) => fired.notify_one(),
                        // The clock was stepped (TFD_TIMER_CANCEL_ON_SET): the scheduler
                        // looks at the clock again and re-arms.
                        Err(nix::Error::ECANCELED) => fired.notify_one(),
                        Err(e) => {
                            tracing::error!(error = %e, "wall-clock timer failed");
                            std::thread::sleep(std::time::Duration::from_millis(100));
                            fired.notify_one();
                        }
                    }
                }
            })
            .map_err(|_| nix::Error::EAGAIN)?;
        Ok(WallTimer { fd })
    }

    /// Fires at `at` (at once if it has passed).
    pub fn arm(&self, at: SystemTime) {
        let since = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        // An absolute time of zero would disarm the timer: use 1 ns for "already due".
        let mut spec = TimeSpec::from_duration(since);
        if spec.num_nanoseconds() <= 0 {
            spec = TimeSpec::new(0, 1);
        }
        let flags =
            TimerSetTimeFlags::TFD_TIMER_ABSTIME | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET;
        if let Err(e) = self.fd.set(Expiration::OneShot(spec), flags) {
            tracing::error!(error = %e, "cannot arm the wall-clock timer");
        }
    }

    /// Stops the timer (no deadline pending).
    pub fn disarm(&self) {
        if let Err(e) = self.fd.unset() {
            tracing::error!(error = %e, "cannot disarm the wall-clock timer");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn fires_at_the_wall_clock_instant_and_rearms_earlier() {
        let fired = Arc::new(Notify::new());
        let t = WallTimer::start(fired.clone()).unwrap();
        t.arm(SystemTime::now() + Duration::from_secs(3600));
        let start = std::time::Instant::now();
        t.arm(SystemTime::now() + Duration::from_millis(50));
        tokio::time::timeout(Duration::from_secs(5), fired.notified())
            .await
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(45));
        t.arm(SystemTime::now() - Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), fired.notified())
            .await
            .unwrap();
    }
}
