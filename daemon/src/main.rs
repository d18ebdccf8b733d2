//! `jitd`: parses arguments, sets up logging, the socket and signals, and calls
//! [`jitd::run`].

mod manual;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser};
use jitd::paths::{self, Mode};

// mimalloc: the daemon allocates many small, short-lived buffers per call (JSON, records);
// measured faster than glibc malloc on the create benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The jit daemon: grants just-in-time access and takes it away on time.
///
/// As root (system mode) jitd serves every user of the host on /run/jit/jitd.sock, usually
/// under systemd (jitd.socket, jitd.service); run as anyone else, or with --user, it is a
/// personal broker on $XDG_RUNTIME_DIR/jit/jitd.sock. Callers are identified by the socket's
/// peer credentials; the config's access flows decide what each may request and who approves.
/// `jit` is its command line.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Config file [default: /etc/jit/jit.toml, or ~/.config/jit/jit.toml with --user]
    #[arg(long, env = "JIT_CONFIG")]
    config: Option<PathBuf>,
    /// Socket path [default: /run/jit/jitd.sock, or $XDG_RUNTIME_DIR/jit/jitd.sock with --user]
    #[arg(long, env = "JIT_SOCKET")]
    socket: Option<PathBuf>,
    /// State directory (store and secret key) [default: /var/lib/jit, or ~/.local/state/jit with --user]
    #[arg(long, env = "JIT_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Run as a personal broker for the invoking user (the default when not root)
    #[arg(long, conflicts_with = "system")]
    user: bool,
    /// Run as the host's daemon for every user (the default as root)
    #[arg(long)]
    system: bool,
    /// Check the config file and exit: 0 when valid, 1 with file:line errors otherwise
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
    check_config: Option<PathBuf>,
    /// Print a shell completion script for jitd and exit
    #[arg(long, value_name = "SHELL")]
    completions: Option<clap_complete::Shell>,
    /// Print the jitd(8) manual page (roff: `jitd --man | man -l -`) and exit
    #[arg(long)]
    man: bool,
}

fn main() -> ExitCode {
    // Everything jitd creates (store, key, state dir) is its own; the socket's mode is set
    // explicitly after binding.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let args = Args::parse();
    if args.man || args.completions.is_some() {
        let text = match args.completions {
            Some(shell) => manual::completions(Args::command(), shell),
            None => manual::page(Args::command()),
        };
        return match text {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("jitd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mode = if args.user {
        Mode::User
    } else if args.system || nix::unistd::geteuid().is_root() {
        Mode::System
    } else {
        Mode::User
    };
    if let Some(file) = &args.check_config {
        let file = if file.as_os_str().is_empty() {
            args.config
                .clone()
                .unwrap_or_else(|| paths::config_file(mode))
        } else {
            file.clone()
        };
        return match jit_config::load(&file)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|c| jitd::check(&c).map(|()| c))
        {
            Ok(cfg) => {
                println!(
                    "{}: ok ({} integrations, {} access flows)",
                    file.display(),
                    cfg.integrations.len(),
                    cfg.flows.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    match start(&args, mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprint!("jitd: {e}");
            for cause in e.chain().skip(1) {
                eprint!(": {cause}");
            }
            eprintln!();
            ExitCode::FAILURE
        }
    }
}

fn start(args: &Args, mode: Mode) -> anyhow::Result<()> {
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| paths::config_file(mode));
    let config = jit_config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    init_tracing(config.daemon.log.as_deref());
    jitd::check(&config)?;
    raise_fd_limit();
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| paths::state_dir(mode));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&state_dir)
        .with_context(|| format!("create state directory {}", state_dir.display()))?;
    // Socket activation hands us the listener; read it before any thread starts.
    let mut fds = listenfd::ListenFd::from_env();
    let activated = fds
        .take_unix_listener(0)
        .context("socket from systemd (LISTEN_FDS)")?;
    let std_listener = match activated {
        Some(l) => {
            tracing::info!("using the socket passed by systemd");
            l
        }
        None => bind(
            &args.socket.clone().unwrap_or_else(|| paths::socket(mode)),
            config.daemon.socket_mode,
            mode,
        )?,
    };
    std_listener.set_nonblocking(true).context("socket")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let result = runtime.block_on(async move {
        let listener = tokio::net::UnixListener::from_std(std_listener).context("socket")?;
        let ready = || {
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
        };
        jitd::run(
            config,
            listener,
            jitd::Options { state_dir, mode },
            ready,
            shutdown_signal(),
        )
        .await
    });
    // Dropping the runtime drops every task and with them the store's handles; then wait for
    // the store's writer to close the file, so the next start finds it closed cleanly and
    // need not check it (redb repairs a file that was not closed).
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    jitd::store::wait_for_writers(std::time::Duration::from_secs(10));
    result
}

fn bind(
    path: &Path,
    mode_bits: u32,
    mode: Mode,
) -> anyhow::Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        let dir_mode = if mode == Mode::System { 0o755 } else { 0o700 };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(dir_mode)
            .create(dir)
            .with_context(|| format!("create socket directory {}", dir.display()))?;
        // The umask is 077; other users must reach a system socket.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode))
            .with_context(|| format!("chmod socket directory {}", dir.display()))?;
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            bail!(
                "{} exists and is not a socket: move it away or choose another --socket",
                path.display()
            );
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("another jitd is already listening on {}", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("remove stale socket {}", path.display()))?;
    }
    let l = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode_bits))
        .with_context(|| format!("chmod socket {}", path.display()))?;
    tracing::info!(socket = %path.display(), "listening");
    Ok(l)
}

/// Raises the soft limit on open files to the hard limit: every connection and every
/// database connection is a file descriptor.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::warn!(error = %e, soft, hard, "cannot raise the open-file limit");
    }
}

/// Whether stderr is the journal's stream: systemd sets `JOURNAL_STREAM=<dev>:<inode>` of the
/// stream it connects, and a child that inherited the variable but not the stream must not
/// believe it (systemd.exec(5)).
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let Ok(st) = nix::sys::stat::fstat(std::io::stderr().as_fd()) else {
        return false;
    };
    dev.parse::<u64>().ok() == Some(st.st_dev) && ino.parse::<u64>().ok() == Some(st.st_ino)
}

/// Logging: `RUST_LOG`, else `[daemon] log`, else `info`; to journald with structured
/// fields when systemd connected stderr to the journal, else plain text on stderr.
fn init_tracing(filter: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| filter.map(str::to_owned))
        .unwrap_or_else(|| "info".into());
    let (env_filter, bad) = match EnvFilter::try_new(&filter) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e)),
    };
    use tracing_subscriber::layer::{Layer, SubscriberExt};
    use tracing_subscriber::util::SubscriberInitExt;
    // Libraries that log message bodies or SQL at debug/trace would log secrets (a revealed
    // password in a JSON-RPC response, a password verifier in CREATE ROLE): whatever the
    // filter says, only jitd's own code is heard below INFO.
    let no_secrets = tracing_subscriber::filter::filter_fn(|meta| {
        *meta.level() <= tracing::Level::INFO || meta.target().starts_with("jitd")
    });
    let journal = if stderr_is_journal() {
        match tracing_journald::layer() {
            // INFO is the journal's `info` (6), as other services log it, not the crate's
            // default `notice` (5), which `journalctl -p notice` would then mix in with what
            // deserves attention. The event's fields keep the crate's `F_` prefix, so none
            // can clash with the journal's own (`PRIORITY`, `MESSAGE`, ...).
            Ok(l) => Some(
                l.with_syslog_identifier("jitd".to_owned())
                    .with_priority_mappings(tracing_journald::PriorityMappings {
                        info: tracing_journald::Priority::Informational,
                        debug: tracing_journald::Priority::Debug,
                        ..tracing_journald::PriorityMappings::new()
                    }),
            ),
            // No journald socket after all: stderr still reaches the journal as text.
            Err(_) => None,
        }
    } else {
        None
    };
    let to_journal = journal.is_some();
    let stderr = (!to_journal).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            // Colour only for a person at a terminal; log files get plain text.
            .with_ansi(
                std::io::IsTerminal::is_terminal(&std::io::stderr())
                    && std::env::var_os("NO_COLOR").is_none(),
            )
            .with_target(false)
    });
    let layer = journal
        .map(|j| j.boxed())
        .or_else(|| stderr.map(|s| s.boxed()))
        .with_filter(env_filter)
        .with_filter(no_secrets);
    let _ = tracing_subscriber::registry().with(layer).try_init();
    if let Some(e) = bad {
        tracing::warn!(filter = %filter, error = %e, "invalid log filter (RUST_LOG or [daemon] log); logging at info");
    }
    tracing::debug!(journald = to_journal, filter = %filter, "logging");
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
    }
}
