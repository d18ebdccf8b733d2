//! The clocks jitd reads and sleeps on, behind a trait so tests can step, rewind and jump
//! time without touching the host's clock.
//!
//! Two clocks matter. The wall clock says when a grant ends (14:05, whatever happens in
//! between) and is what a timer fires on. The steady clock (`CLOCK_BOOTTIME`) is never
//! stepped and counts suspended time; comparing the two tells the scheduler that the wall
//! clock was stepped, and by how much, so a step backward can be taken out of every grant's
//! end instead of lengthening it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

/// A source of time.
pub trait Clock: Send + Sync {
    /// The wall clock now.
    fn now(&self) -> SystemTime;
    /// Time on a clock that is never stepped and counts suspend; only differences matter.
    fn steady(&self) -> Duration;
    /// A one-shot timer on the wall clock that calls `fired.notify_one()` when it fires, and
    /// also when the wall clock is stepped (so the caller recomputes).
    fn timer(&self, fired: Arc<Notify>) -> std::io::Result<Box<dyn Timer>>;
}

/// A one-shot wall-clock timer from [`Clock::timer`].
pub trait Timer: Send + Sync {
    /// Fires at `at` (at once if it has passed); replaces any earlier arming.
    fn arm(&self, at: SystemTime);
    /// Nothing pending.
    fn disarm(&self);
}

/// The host's clocks: `CLOCK_REALTIME` and `CLOCK_BOOTTIME`, with a timerfd.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn steady(&self) -> Duration {
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
            .map(Duration::from)
            .unwrap_or_default()
    }

    fn timer(&self, fired: Arc<Notify>) -> std::io::Result<Box<dyn Timer>> {
        let t = crate::scheduler::timer::WallTimer::start(fired).map_err(std::io::Error::from)?;
        Ok(Box::new(t))
    }
}

/// A clock tests move by hand. Time stands still until [`ManualClock::advance`] (time
/// passes: both clocks move, like a suspend and resume when nothing ran meanwhile) or
/// [`ManualClock::step`] (the wall clock is set, the steady clock is not, like `date -s`).
/// Either wakes a timer that is due, or (a step) any armed timer, as the real one does.
#[derive(Debug, Clone)]
pub struct ManualClock {
    state: Arc<Mutex<Manual>>,
}

#[derive(Debug)]
struct Manual {
    wall: SystemTime,
    steady: Duration,
    armed: Option<SystemTime>,
    fired: Vec<Arc<Notify>>,
}

impl ManualClock {
    /// A clock reading `wall`.
    pub fn new(wall: SystemTime) -> ManualClock {
        ManualClock {
            state: Arc::new(Mutex::new(Manual {
                wall,
                steady: Duration::from_secs(1_000),
                armed: None,
                fired: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Manual> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets `by` pass.
    pub fn advance(&self, by: Duration) {
        let mut s = self.lock();
        s.wall += by;
        s.steady += by;
        if s.armed.is_some_and(|at| at <= s.wall) {
            s.armed = None;
            s.fired.iter().for_each(|f| f.notify_one());
        }
    }

    /// Sets the wall clock to `to` (forward or back); the steady clock does not move.
    pub fn step(&self, to: SystemTime) {
        let mut s = self.lock();
        s.wall = to;
        s.armed = None;
        s.fired.iter().for_each(|f| f.notify_one());
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.lock().wall
    }

    fn steady(&self) -> Duration {
        self.lock().steady
    }

    fn timer(&self, fired: Arc<Notify>) -> std::io::Result<Box<dyn Timer>> {
        self.lock().fired.push(fired);
        Ok(Box::new(self.clone()))
    }
}

impl Timer for ManualClock {
    fn arm(&self, at: SystemTime) {
        let mut s = self.lock();
        if at <= s.wall {
            s.armed = None;
            s.fired.iter().for_each(|f| f.notify_one());
        } else {
            s.armed = Some(at);
        }
    }

    fn disarm(&self) {
        self.lock().armed = None;
    }
}

/// How far the wall clock must fall behind the steady clock between two looks before it
/// counts as stepped back; smaller differences are NTP slewing a drifting clock.
pub const STEP_TOLERANCE: Duration = Duration::from_secs(2);

/// Watches the wall clock against the steady clock.
#[derive(Debug, Clone, Copy)]
pub struct StepWatch {
    wall: SystemTime,
    steady: Duration,
}

impl StepWatch {
    /// Starts watching from now.
    pub fn new(clock: &dyn Clock) -> StepWatch {
        StepWatch {
            wall: clock.now(),
            steady: clock.steady(),
        }
    }

    /// How far the wall clock was stepped back since the last look (more than
    /// [`STEP_TOLERANCE`]), if it was.
    pub fn stepped_back(&mut self, clock: &dyn Clock) -> Option<Duration> {
        let (wall, steady) = (clock.now(), clock.steady());
        let expected = self.wall + steady.saturating_sub(self.steady);
        *self = StepWatch { wall, steady };
        expected
            .duration_since(wall)
            .ok()
            .filter(|back| *back > STEP_TOLERANCE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_back_are_told_apart_from_time_passing_and_steps_forward() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let c = ManualClock::new(t0);
        let mut w = StepWatch::new(&c);
        c.advance(Duration::from_secs(3600));
        assert_eq!(w.stepped_back(&c), None, "time passing is not a step");
        c.step(c.now() + Duration::from_secs(600));
        assert_eq!(
            w.stepped_back(&c),
            None,
            "a step forward is wall-clock time"
        );
        c.step(c.now() - Duration::from_secs(1));
        assert_eq!(w.stepped_back(&c), None, "within the slewing tolerance");
        c.step(c.now() - Duration::from_secs(1800));
        assert_eq!(w.stepped_back(&c), Some(Duration::from_secs(1800)));
        assert_eq!(w.stepped_back(&c), None, "told once");
    }

    #[test]
    fn the_real_steady_clock_moves() {
        let a = SystemClock.steady();
        std::thread::sleep(Duration::from_millis(5));
        assert!(SystemClock.steady() > a);
    }
}
