//! jitd running inside the test process on a [`ManualClock`] the test moves, serving the real
//! socket: for tests that need time to pass (or step) without sleeping, and for stores
//! opened at a chosen instant (the golden fixtures of older schemas).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jitd::clock::ManualClock;

use jit_api::methods::{DaemonStatusMethod, Empty};

use crate::support::Conn;

/// jitd running in this process on a clock the test moves.
pub struct InProcess {
    /// The clock jitd reads.
    pub clock: ManualClock,
    /// Its socket.
    pub socket: PathBuf,
    /// Its state directory (the store and the secret key).
    pub state: PathBuf,
    dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    rt: Option<tokio::runtime::Runtime>,
}

impl InProcess {
    /// Starts jitd on `config` with a fresh store, its clock at the host's time.
    pub fn start(config: &str) -> InProcess {
        Self::start_on(config, None, SystemTime::now()).expect("jitd starts")
    }

    /// Starts jitd on `config`, its state directory a copy of `state` (if given), its clock
    /// at `now`. The error is jitd's own when it refuses to start.
    pub fn start_on(
        config: &str,
        state: Option<&Path>,
        now: SystemTime,
    ) -> Result<InProcess, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("jit.toml");
        std::fs::write(&config_path, config).expect("config");
        let config = jit_config::load(&config_path).expect("valid config");
        let state_dir = dir.path().join("state");
        std::fs::create_dir(&state_dir).expect("state dir");
        if let Some(from) = state {
            for e in std::fs::read_dir(from).expect("fixture dir") {
                let e = e.expect("fixture entry");
                let to = state_dir.join(e.file_name());
                std::fs::copy(e.path(), &to).expect("copy fixture");
                // A checkout leaves files 0644; jitd refuses a secret key others can read.
                std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                    .expect("chmod fixture");
            }
        }
        let socket = dir.path().join("jitd.sock");
        let clock = ManualClock::new(now);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = {
            let _guard = rt.enter();
            tokio::net::UnixListener::bind(&socket).expect("bind")
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = rt.spawn(jitd::run_with_clock(
            config,
            listener,
            jitd::Options {
                state_dir: state_dir.clone(),
                mode: jitd::paths::Mode::System,
            },
            Arc::new(clock.clone()),
            || {},
            async {
                let _ = stopped.await;
            },
        ));
        let d = InProcess {
            clock,
            socket,
            state: state_dir,
            dir: Some(dir),
            stop: Some(stop),
            running: None,
            rt: None,
        };
        let started = std::time::Instant::now();
        loop {
            if running.is_finished() {
                let result = rt.block_on(running).expect("jitd task");
                return Err(match result {
                    Ok(()) => "jitd stopped at once".to_owned(),
                    Err(e) => format!("{e:#}"),
                });
            }
            // The listener is bound before jitd opens its store, so a connection alone
            // proves nothing: wait for an answer.
            if let Ok(mut c) = Conn::try_open(&d.socket)
                && matches!(c.try_call::<DaemonStatusMethod>(&Empty {}), Ok(Ok(_)))
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "jitd did not serve within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut d = d;
        d.running = Some(running);
        d.rt = Some(rt);
        Ok(d)
    }

    /// A connection to it.
    pub fn conn(&self) -> Conn {
        Conn::open(&self.socket)
    }

    /// Stops jitd and keeps its temp dir: the state directory inside (`state`) can start
    /// another jitd ([`InProcess::start_on`]), as after a restart.
    pub fn stop_keeping_state(mut self) -> tempfile::TempDir {
        self.shut_down();
        self.dir.take().expect("temp dir")
    }

    fn shut_down(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(rt) = self.rt.take() {
            // jitd's own shutdown (the store closed) before the runtime goes.
            if let Some(running) = self.running.take() {
                let _ = rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), running).await
                });
            }
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shut_down();
    }
}
