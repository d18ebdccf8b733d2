//! The daemon's metrics: counters and histograms kept in atomics as things happen, and the
//! Prometheus text exposition (format 0.0.4) of them with the gauges read from the store at
//! the time of asking (`daemon.metrics`, and the node_exporter textfile [`write_textfile`]
//! rewrites every `[daemon] metrics_interval`).
//!
//! Every name is documented in `docs/api.md` (`daemon.metrics`); a unit test checks the
//! exposition's shape. No label holds a user name, a resource or anything secret: labels are
//! method names, statuses, integration and channel names from the config.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the RPC latency histogram's buckets.
const RPC_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10.0,
];
/// Upper bounds (seconds) of the expiry lag histogram's buckets.
const LAG_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 300.0];

/// A histogram of durations over fixed buckets, lock-free.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound (not cumulative), then the count above the last bound.
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Counts one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines, with `labels` (`method="x"` or empty).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts.get(i).map_or(0, |c| c.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self.counts.last().map_or(0, |c| c.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// What the daemon counts as it runs. Lives in the engine, one per daemon.
#[derive(Debug)]
pub struct Metrics {
    requests_created: AtomicU64,
    revoke_retries: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    expiry_lag: Histogram,
    rpc: HashMap<&'static str, Histogram>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests_created: AtomicU64::new(0),
            revoke_retries: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            expiry_lag: Histogram::new(&LAG_BUCKETS),
            rpc: jit_api::methods::ALL
                .iter()
                .map(|m| (*m, Histogram::new(&RPC_BUCKETS)))
                .collect(),
        }
    }
}

/// What is read from the store (and the config) when the metrics are asked for.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Open requests by status (`pending`, `scheduled`, `granting`, `granted`, `revoking`).
    pub open_by_status: Vec<(&'static str, u64)>,
    /// Granted requests (access exists), by integration.
    pub grants_by_integration: Vec<(String, u64)>,
    /// Notifications waiting in the outbox, by channel.
    pub notifications_pending: Vec<(String, u64)>,
    /// Seconds since the epoch of the earliest deadline, if any.
    pub next_deadline: Option<f64>,
    /// Seconds since the epoch when the config in force was loaded.
    pub config_loaded: f64,
}

impl Metrics {
    /// A request was created.
    pub fn request_created(&self) {
        self.requests_created.fetch_add(1, Ordering::Relaxed);
    }

    /// A revoke failed and will be tried again.
    pub fn revoke_retry(&self) {
        self.revoke_retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A reload was done (`ok`) or refused.
    pub fn reload(&self, ok: bool) {
        let c = if ok {
            &self.reloads
        } else {
            &self.reload_failures
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// An expiry took the access away `lag` after the grant's end.
    pub fn expiry_lag(&self, lag: Duration) {
        self.expiry_lag.observe(lag);
    }

    /// A call of `method` took `d` to answer.
    pub fn rpc(&self, method: &str, d: Duration) {
        if let Some(h) = self.rpc.get(method) {
            h.observe(d);
        }
    }

    /// The Prometheus text exposition of everything, with `gauges` read just now.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let header = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        counter(
            &mut out,
            "jit_requests_created_total",
            "Requests created since jitd started.",
            self.requests_created.load(Ordering::Relaxed),
        );
        header(
            &mut out,
            "jit_requests",
            "gauge",
            "Open requests by status.",
        );
        for (status, n) in &gauges.open_by_status {
            let _ = writeln!(out, "jit_requests{{status=\"{status}\"}} {n}");
        }
        header(
            &mut out,
            "jit_grants_active",
            "gauge",
            "Granted requests (access exists now), by integration.",
        );
        for (integration, n) in &gauges.grants_by_integration {
            let _ = writeln!(
                out,
                "jit_grants_active{{integration=\"{}\"}} {n}",
                escape(integration)
            );
        }
        counter(
            &mut out,
            "jit_revoke_retries_total",
            "Revokes that failed and are tried again.",
            self.revoke_retries.load(Ordering::Relaxed),
        );
        header(
            &mut out,
            "jit_notifications_pending",
            "gauge",
            "Notifications waiting in the outbox, by channel.",
        );
        for (channel, n) in &gauges.notifications_pending {
            let _ = writeln!(
                out,
                "jit_notifications_pending{{channel=\"{}\"}} {n}",
                escape(channel)
            );
        }
        header(
            &mut out,
            "jit_expiry_lag_seconds",
            "histogram",
            "How long after a grant's end its access was taken away.",
        );
        self.expiry_lag
            .render(&mut out, "jit_expiry_lag_seconds", "");
        header(
            &mut out,
            "jit_rpc_duration_seconds",
            "histogram",
            "Time to answer a call, by method.",
        );
        let mut names: Vec<_> = self.rpc.keys().copied().collect();
        names.sort_unstable();
        for name in names {
            if let Some(h) = self.rpc.get(name) {
                h.render(
                    &mut out,
                    "jit_rpc_duration_seconds",
                    &format!("method=\"{name}\""),
                );
            }
        }
        counter(
            &mut out,
            "jit_config_reloads_total",
            "Config reloads done.",
            self.reloads.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "jit_config_reload_failures_total",
            "Config reloads refused (an invalid file, an integration with open requests).",
            self.reload_failures.load(Ordering::Relaxed),
        );
        header(
            &mut out,
            "jit_config_loaded_timestamp_seconds",
            "gauge",
            "When the config in force was loaded.",
        );
        let _ = writeln!(
            out,
            "jit_config_loaded_timestamp_seconds {}",
            gauges.config_loaded
        );
        if let Some(next) = gauges.next_deadline {
            header(
                &mut out,
                "jit_next_deadline_timestamp_seconds",
                "gauge",
                "The earliest deadline the scheduler waits for.",
            );
            let _ = writeln!(out, "jit_next_deadline_timestamp_seconds {next}");
        }
        out
    }
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `text` to `path` atomically: a temporary file beside it, fsynced, renamed over it.
/// node_exporter never reads half a file. The file gets `mode` exactly (set after creation,
/// so jitd's umask does not change it); its group is jitd's, or the directory's when the
/// directory is set-group-ID.
///
/// jitd runs as root and the directory usually belongs to another user (node_exporter's):
/// the temporary file gets a random name and is created with `O_CREAT | O_EXCL |
/// O_NOFOLLOW`, so a file or symlink planted there is never opened, and the rename replaces
/// a symlink at `path` rather than following it.
pub fn write_textfile(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let dir = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0;
    let (tmp, mut f) = loop {
        // node_exporter reads only `*.prom`: the temporary file is not one.
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let result = (|| {
        f.write_all(text.as_bytes())?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_textfile_never_writes_through_a_symlink() {
        let dir = tempfile::tempdir().expect("dir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        let path = dir.path().join("jit.prom");
        std::os::unix::fs::symlink(&victim, &path).expect("planted symlink");
        write_textfile(&path, "jit_up 1\n", 0o644).expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        let meta = std::fs::symlink_metadata(&path).expect("meta");
        assert!(
            meta.file_type().is_file(),
            "the symlink was replaced, not followed"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "jit_up 1\n");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "no temporary file left");
    }

    #[test]
    fn exposition_has_every_documented_family_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request_created();
        m.rpc("request.create", Duration::from_micros(300));
        m.rpc("request.create", Duration::from_secs(20));
        m.expiry_lag(Duration::from_millis(3));
        let text = m.render(&Gauges {
            open_by_status: vec![("granted", 2)],
            grants_by_integration: vec![("pg \"main\"".into(), 2)],
            notifications_pending: vec![("ops".into(), 1)],
            next_deadline: Some(1.5),
            config_loaded: 1.0,
        });
        for needle in [
            "jit_requests_created_total 1",
            "jit_requests{status=\"granted\"} 2",
            "jit_grants_active{integration=\"pg \\\"main\\\"\"} 2",
            "jit_notifications_pending{channel=\"ops\"} 1",
            "jit_rpc_duration_seconds_bucket{method=\"request.create\",le=\"0.0005\"} 1",
            "jit_rpc_duration_seconds_bucket{method=\"request.create\",le=\"10\"} 1",
            "jit_rpc_duration_seconds_bucket{method=\"request.create\",le=\"+Inf\"} 2",
            "jit_rpc_duration_seconds_count{method=\"request.create\"} 2",
            "jit_expiry_lag_seconds_bucket{le=\"0.005\"} 1",
            "jit_expiry_lag_seconds_count 1",
            "jit_revoke_retries_total 0",
            "jit_next_deadline_timestamp_seconds 1.5",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        // Every sample line belongs to a family declared by # TYPE before it.
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                declared.push(rest.split(' ').next().unwrap_or_default().to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                assert!(
                    declared.iter().any(|d| name == d
                        || name.strip_suffix("_bucket") == Some(d)
                        || name.strip_suffix("_sum") == Some(d)
                        || name.strip_suffix("_count") == Some(d)),
                    "{name} has no # TYPE"
                );
            }
        }
    }

    #[test]
    fn textfile_is_replaced_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jit.prom");
        write_textfile(&path, "a 1\n", 0o644).expect("write");
        write_textfile(&path, "a 2\n", 0o644).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "a 2\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn the_textfile_has_the_mode_asked_for_and_a_setgid_directory_s_group() {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jit.prom");
        // 0664 as well: a umask (022, usually) must not take the group's write bit away.
        for mode in [0o640, 0o600, 0o664, 0o644] {
            write_textfile(&path, "a 1\n", mode).expect("write");
            let meta = std::fs::metadata(&path).expect("meta");
            assert_eq!(meta.permissions().mode() & 0o7777, mode, "{mode:o}");
        }
        // The documented way to let node_exporter's group read a 0640 file: a set-group-ID
        // directory of that group (here a group jitd is not in).
        let group = 4_000_000_u32;
        nix::unistd::chown(dir.path(), None, Some(nix::unistd::Gid::from_raw(group)))
            .expect("chgrp (the tests run as root)");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o2755))
            .expect("chmod g+s");
        write_textfile(&path, "a 2\n", 0o640).expect("write");
        let meta = std::fs::metadata(&path).expect("meta");
        assert_eq!(meta.gid(), group);
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    }
}
