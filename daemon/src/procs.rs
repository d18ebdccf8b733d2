//! Processes launched by `jit connect`: checking who owns one, and ending them with the access.
//!
//! A process is identified by its pid, its owner and its start time (from /proc, through
//! sysinfo), so a pid reused by an unrelated process after the original exited is never
//! signalled.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sysinfo::{Pid as SPid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use crate::store::model::ProcessRecord;

/// How long a process gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_millis(500);

/// What /proc says of a live process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    /// Real uid.
    pub uid: u32,
    /// Start time (seconds since the epoch).
    pub start_time: u64,
    /// Parent pid.
    pub parent: Option<u32>,
    /// Exited, waiting for its parent to reap it: no longer running anything.
    pub zombie: bool,
}

/// What /proc says of `pid`, if it is alive.
pub fn info(pid: u32) -> Option<ProcInfo> {
    let mut sys = System::new();
    let spid = SPid::from_u32(pid);
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[spid]),
        true,
        ProcessRefreshKind::nothing().with_user(UpdateKind::Always),
    );
    let p = sys.process(spid)?;
    let uid = p.user_id().map(|u| **u)?;
    Some(ProcInfo {
        uid,
        start_time: p.start_time(),
        parent: p.parent().map(|pp| pp.as_u32()),
        zombie: p.status() == sysinfo::ProcessStatus::Zombie,
    })
}

fn still_ours(p: &ProcessRecord) -> bool {
    info(p.pid).is_some_and(|i| i.start_time == p.start_time && i.uid == p.uid && !i.zombie)
}

/// Ends the processes that are still the ones registered: SIGTERM, then SIGKILL after
/// [`GRACE`] for any that remain. Returns how many could not be ended.
pub async fn end(processes: Vec<ProcessRecord>) -> usize {
    let live: Vec<ProcessRecord> = processes.into_iter().filter(still_ours).collect();
    if live.is_empty() {
        return 0;
    }
    for p in &live {
        let _ = kill(Pid::from_raw(p.pid.cast_signed()), Signal::SIGTERM);
        tracing::info!(pid = p.pid, "ending a session process (SIGTERM)");
    }
    let deadline = tokio::time::Instant::now() + GRACE;
    while tokio::time::Instant::now() < deadline && live.iter().any(still_ours) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for p in live.iter().filter(|p| still_ours(p)) {
        let _ = kill(Pid::from_raw(p.pid.cast_signed()), Signal::SIGKILL);
        tracing::warn!(pid = p.pid, "session process ignored SIGTERM: killed");
    }
    // SIGKILL cannot be ignored; give the kernel a moment to reap.
    for _ in 0..25 {
        if !live.iter().any(still_ours) {
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    live.iter().filter(|p| still_ours(p)).count()
}
