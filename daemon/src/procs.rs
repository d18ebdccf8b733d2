//! Processes launched by `jit connect`: checking who owns one, and ending them with the access.
//!
//! A process is identified by its pid and its start time (from /proc, through sysinfo), so
//! a pid reused by an unrelated process after the original exited is never signalled.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sysinfo::{Pid as SPid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use crate::store::model::ProcessRecord;

/// How long a process gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_millis(500);

fn process(pid: u32) -> Option<(u32, u64)> {
    let mut sys = System::new();
    let spid = SPid::from_u32(pid);
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[spid]),
        true,
        ProcessRefreshKind::nothing().with_user(UpdateKind::Always),
    );
    let p = sys.process(spid)?;
    let uid = p.user_id().map(|u| **u)?;
    Some((uid, p.start_time()))
}

/// The real uid and start time of a live process.
pub fn owner_and_start(pid: u32) -> Option<(u32, u64)> {
    process(pid)
}

/// The start time of a live process.
pub fn start_time(pid: u32) -> Option<u64> {
    process(pid).map(|(_, t)| t)
}

/// Ends the processes that are still the ones registered: SIGTERM, then SIGKILL after
/// [`GRACE`] for any that remain.
pub async fn end(processes: Vec<ProcessRecord>) {
    let live: Vec<ProcessRecord> = processes
        .into_iter()
        .filter(|p| start_time(p.pid) == Some(p.start_time))
        .collect();
    if live.is_empty() {
        return;
    }
    for p in &live {
        let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGTERM);
        tracing::info!(pid = p.pid, "ended a session process (SIGTERM)");
    }
    tokio::time::sleep(GRACE).await;
    for p in live {
        if start_time(p.pid) == Some(p.start_time) {
            let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGKILL);
            tracing::warn!(pid = p.pid, "session process ignored SIGTERM: killed");
        }
    }
}
