//! `jit-portal`: a local web UI for jitd, served on 127.0.0.1 as the user who starts it.
//!
//! The portal is a small HTTP server ([`bind`], then [`Bound::serve`]) that turns the
//! page's calls into jitd calls on the Unix socket, as the invoking user (jitd reads the
//! portal process's peer credentials), and pushes jitd's events to the page as Server-Sent
//! Events from one `events.subscribe` connection. The page is plain HTML, CSS and JavaScript
//! embedded in the binary (`assets/`).
//!
//! Nobody else can use it: it binds loopback only and serves only the user's own processes
//! ([`peer`]), the link's one-time token becomes an `HttpOnly`, `SameSite=Strict` cookie,
//! and every change needs a CSRF token and the portal's own `Origin` ([`auth`]). It stops on
//! Ctrl-C or after an idle time. See `docs/portal.md`.
//!
//! Invariant: the portal never handles a terminal connect's secret (the page shows the `jit
//! connect` command, or launches it); the only secret it passes on is what
//! `credentials.reveal` returns, to the page once, with `Cache-Control: no-store`.

pub mod api;
pub mod assets;
pub mod auth;
pub mod daemon;
pub mod launch;
pub mod open;
pub mod peer;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{broadcast, watch};

use crate::auth::Auth;
use crate::daemon::Daemon;

/// How the portal runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// jitd's socket.
    pub socket: PathBuf,
    /// The port on 127.0.0.1; 0 for one the kernel picks.
    pub port: u16,
    /// Stop after this long without a request from the browser.
    pub idle_timeout: Duration,
    /// How to open a terminal running `jit connect`, when the portal can.
    pub launcher: Option<launch::Launcher>,
}

/// What every handler shares.
pub struct State {
    /// The link token, cookie and CSRF token.
    pub auth: Auth,
    /// jitd.
    pub daemon: Daemon,
    /// jitd's events, as the JSON of each event.
    pub events: broadcast::Sender<String>,
    /// Whether the portal is subscribed to jitd's events right now.
    pub live: Arc<AtomicBool>,
    /// Becomes true when the portal stops, ending the event streams.
    pub stopping: watch::Receiver<bool>,
    /// How to open a terminal, if the portal can.
    pub launcher: Option<launch::Launcher>,
    /// The idle timeout, shown on the page.
    pub idle_timeout: Duration,
}

/// The shared state, cheap to clone.
pub type Shared = Arc<State>;

/// A portal bound to its port, not yet serving.
pub struct Bound {
    listener: peer::UidListener,
    shared: Shared,
    stop: watch::Sender<bool>,
    addr: SocketAddr,
}

/// Binds 127.0.0.1:`options.port` and makes the portal's secrets.
pub async fn bind(options: Options) -> anyhow::Result<Bound> {
    let tcp = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", options.port))?;
    let addr = tcp.local_addr().context("reading the bound address")?;
    let me = nix::unistd::getuid().as_raw();
    let listener = peer::UidListener::new(tcp, vec![me, 0]).context("reading the bound address")?;
    let (events, _) = broadcast::channel(256);
    let (stop, stopping) = watch::channel(false);
    let shared = Arc::new(State {
        auth: Auth::new(addr.port()),
        daemon: Daemon::new(options.socket),
        events,
        live: Arc::new(AtomicBool::new(false)),
        stopping,
        launcher: options.launcher,
        idle_timeout: options.idle_timeout,
    });
    Ok(Bound {
        listener,
        shared,
        stop,
        addr,
    })
}

impl Bound {
    /// The link that opens the portal, with its one-time token. Show it only to the user.
    pub fn link(&self) -> String {
        self.shared.auth.link()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes or the portal has been idle for its timeout.
    /// Returns why it stopped.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<String> {
        let Bound {
            listener,
            shared,
            stop,
            ..
        } = self;
        let follower = tokio::spawn(
            shared
                .daemon
                .clone()
                .follow_events(shared.events.clone(), shared.live.clone()),
        );
        let idle = {
            let shared = shared.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if shared.auth.idle_for() >= shared.idle_timeout {
                        return;
                    }
                }
            }
        };
        let (why_tx, mut why_rx) = watch::channel(String::new());
        let idle_timeout = shared.idle_timeout;
        let stop_signal = {
            let stop = stop.clone();
            async move {
                let reason = tokio::select! {
                    () = shutdown => "stopped".to_owned(),
                    () = idle => format!(
                        "stopped: nothing came from the browser for {}",
                        describe(idle_timeout)
                    ),
                };
                let _ = why_tx.send(reason);
                // Ends the event streams, so that the graceful shutdown does not wait on
                // pages that stay open.
                let _ = stop.send(true);
            }
        };
        let app = api::router(shared.clone());
        let server = axum::serve(listener, app).with_graceful_shutdown(stop_signal);
        let result = server.await.context("serving the portal");
        follower.abort();
        result?;
        let reason = why_rx.borrow_and_update().clone();
        Ok(reason)
    }
}

/// A duration in words for messages ("30m", "45s").
pub fn describe(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}
