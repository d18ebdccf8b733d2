//! `jit connect`: use a session without seeing its secret (`session.connect`).
//!
//! jitd says what to launch (a [`ConnectPlan`]); jit launches it. For a terminal that is
//! the integration's client (`psql`, `ssh`) with the secret in its environment or in files
//! of the plan (written 0600 into a private directory, removed when it exits) — never on its
//! command line, never printed — registered with jitd (`session.register`) so that it ends
//! with the access. For a browser or an app it is a URL, opened or printed.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use jit_api::methods::{ConnectParams, RegisterParams, SessionConnect, SessionRegister};
use jit_api::{ConnectKind, ConnectPlan, SessionFile};
use tokio::signal::unix::{SignalKind, signal};

use super::{Ctx, Outcome, shared};
use crate::error::{CliError, Failure};

/// How long an opener (`xdg-open`, `$BROWSER`) may run before jit stops watching it and
/// takes it as having opened the URL (a browser started fresh runs until it is closed).
const OPENER_GRACE: Duration = Duration::from_secs(3);

/// What replaces each environment value in `--json` output.
pub const REDACTED: &str = "<redacted>";

/// Use a granted session without seeing its secret.
///
/// --terminal runs the integration's client (psql for PostgreSQL, ssh for SSH) with the
/// credentials in its environment or in files only you can read (an SSH key, removed when it
/// exits), never on its command line; ARGS after `--` are passed to it, so
/// `jit connect 42 -- -c 'select 1'` runs one query, and `jit connect 43 -- uptime` one
/// remote command. The program is registered with jitd
/// and is ended when the access ends. jit exits with the program's exit code.
///
/// --browser opens the page your admin configured, --app a connection URI (postgres://…,
/// without the secret) in the desktop app that handles it; without a display the URL is
/// printed instead. Without any of the three, the session's first way to connect is used
/// (`jit show ID` lists them).
///
/// Connect needs the secret jitd still holds: after `jit creds` showed it, run
/// `jit reset ID` first.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    jit connect 42\n  \
    jit connect 42 -- -c 'select current_user'\n  \
    jit connect 46 --session pg-reports --app\n\n\
    Exit code: the program's own (128+N when a signal N ended it); 127 when it cannot be found.")]
pub struct Args {
    /// The request's number
    #[arg(value_name = "ID")]
    pub id: u64,

    /// The session (integration name) to use; needed when the request has several
    #[arg(long, short = 's', value_name = "INTEGRATION")]
    pub session: Option<String>,

    /// Run the integration's client in this terminal
    #[arg(long, conflicts_with_all = ["browser", "app"])]
    pub terminal: bool,

    /// Open the page your admin configured in a browser
    #[arg(long, conflicts_with_all = ["app", "args"])]
    pub browser: bool,

    /// Open a connection URI in a desktop app
    #[arg(long, conflicts_with = "args")]
    pub app: bool,

    /// Arguments for the terminal client, after `--` (implies --terminal)
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

impl Args {
    /// The way asked for: a flag, --terminal when ARGS are given, else jitd's choice.
    pub fn kind(&self) -> Option<ConnectKind> {
        if self.browser {
            Some(ConnectKind::Browser)
        } else if self.app {
            Some(ConnectKind::App)
        } else if self.terminal || !self.args.is_empty() {
            Some(ConnectKind::Terminal)
        } else {
            None
        }
    }
}

/// Runs `jit connect`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let params = ConnectParams {
        id: args.id,
        session: args.session.clone(),
        kind: args.kind(),
        // jitd refuses those that would outlive the access (`ssh -f`).
        args: args.args.clone(),
    };
    let plan = ctx.client.call::<SessionConnect>(&params).await?;
    if ctx.out.json {
        // A plan for programs that launch it themselves: nothing is launched here.
        ctx.out.json(&redacted(&plan))?;
        return Ok(Outcome::Done);
    }
    if let Some(message) = &plan.message {
        // stderr, so that the client's own output stays clean.
        ctx.out.note(&format!(
            "Message from your admin about {}: {message}",
            plan.integration
        ));
    }
    match plan.kind {
        ConnectKind::Terminal => terminal(ctx, &plan, &args.args).await,
        ConnectKind::Browser | ConnectKind::App => open(ctx, &plan).await,
    }
}

/// The plan with every environment value and file content replaced by [`REDACTED`].
pub fn redacted(plan: &ConnectPlan) -> ConnectPlan {
    let mut plan = plan.clone();
    for (_, value) in &mut plan.env {
        *value = REDACTED.into();
    }
    for f in &mut plan.files {
        f.contents = REDACTED.into();
    }
    plan
}

/// What `{files}` in a plan's `argv` and `env` stands for.
const FILES_PLACEHOLDER: &str = "{files}";

/// Writes a plan's files, each 0600, into a new 0700 directory, under `$XDG_RUNTIME_DIR`
/// (memory, private to the user, emptied at logout) when there is one. The directory and the
/// files go when the returned value is dropped.
pub fn write_files(files: &[SessionFile]) -> anyhow::Result<tempfile::TempDir> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut builder = tempfile::Builder::new();
    builder.prefix("jit-connect-");
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .filter(|d| d.is_absolute());
    // One we cannot write (another user's, inherited through sudo) falls back to /tmp.
    let dir = match runtime.and_then(|d| builder.tempdir_in(d).ok()) {
        Some(dir) => dir,
        None => builder.tempdir()?,
    };
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    for f in files {
        if !plain_file_name(&f.name) {
            return Err(CliError::Protocol(format!(
                "jitd's connect plan names a file {:?} that is not a plain file name",
                f.name
            ))
            .into());
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.path().join(&f.name))?;
        out.write_all(f.contents.as_bytes())?;
    }
    Ok(dir)
}

/// A name that stays inside the directory: no `/`, not `.` or `..`, no NUL, at most 255 bytes.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0'])
}

/// `text` with `{files}` replaced by the directory's path.
fn fill_files(text: &str, dir: Option<&std::path::Path>) -> String {
    match dir {
        Some(d) => text.replace(FILES_PLACEHOLDER, &d.to_string_lossy()),
        None => text.to_owned(),
    }
}

/// Runs the plan's program with `extra` arguments, registers it, waits for it.
async fn terminal(ctx: &mut Ctx, plan: &ConnectPlan, extra: &[String]) -> anyhow::Result<Outcome> {
    let Some((program, program_args)) = plan.argv.split_first() else {
        return Err(CliError::Protocol(format!(
            "jitd's connect plan for {} names no program to run",
            plan.integration
        ))
        .into());
    };
    // Ctrl-C and Ctrl-\ reach the program too (same process group): it decides what they
    // mean (psql cancels the query). jit must not die and leave it behind. Handlers, unlike
    // an ignored disposition, are reset for the program when it starts.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    // Files (an SSH key and certificate) live as long as the program. A jit told to stop
    // passes that on to the program and waits for it, so that they are removed.
    let files = if plan.files.is_empty() {
        None
    } else {
        Some(write_files(&plan.files)?)
    };
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let dir = files.as_ref().map(tempfile::TempDir::path);
    let program = fill_files(program, dir);
    let program_args: Vec<String> = program_args.iter().map(|a| fill_files(a, dir)).collect();
    let env: Vec<(String, String)> = plan
        .env
        .iter()
        .map(|(k, v)| (k.clone(), fill_files(v, dir)))
        .collect();
    let mut child = match command(&program, &program_args, &env, extra).spawn() {
        Ok(child) => child,
        Err(e) => {
            let (code, hint) = if e.kind() == ErrorKind::NotFound {
                (127, " (is it installed and on PATH?)")
            } else {
                (126, "")
            };
            ctx.out
                .note(&format!("jit: cannot start {program}: {e}{hint}"));
            return Ok(Outcome::Exit(code));
        }
    };
    if let Some(pid) = child.id() {
        let register = RegisterParams {
            id: plan.id,
            session: plan.integration.clone(),
            pid,
        };
        if let Err(err) = ctx.client.call::<SessionRegister>(&register).await {
            // A session jitd cannot end when the access ends must not run at all.
            let _ = child.kill().await;
            ctx.out.note(&format!(
                "jit: jitd did not register {program} (pid {pid}), so it was stopped: {}",
                Failure::of(&err).message
            ));
            return Ok(Outcome::Exit(1));
        }
    }
    let pid = child.id();
    let pass_on = |sig: nix::sys::signal::Signal| {
        if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
    };
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = interrupt.recv() => {}
            _ = quit.recv() => {}
            _ = terminate.recv() => pass_on(nix::sys::signal::Signal::SIGTERM),
            _ = hangup.recv() => pass_on(nix::sys::signal::Signal::SIGHUP),
        }
    };
    drop(files);
    if let Some(n) = status.signal().filter(|n| [1, 9, 15].contains(n)) {
        ctx.out.note(&format!(
            "jit: {program} was ended by signal {n}; if the access ended, `jit show {}` says so",
            plan.id
        ));
    }
    Ok(Outcome::Exit(exit_code(status)))
}

/// The terminal program: its arguments, then `extra`; the plan's environment added to
/// jit's; the terminal inherited. The secret travels only in `env` (e.g. PGPASSWORD):
/// never format the result, its Debug output shows the environment.
fn command(
    program: &str,
    args: &[String],
    env: &[(String, String)],
    extra: &[String],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .args(extra)
        .envs(env.iter().map(|(k, v)| (OsStr::new(k), OsStr::new(v))))
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    command
}

/// A child's exit status as jit's exit code: its own code, or 128+N for signal N.
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(n)) => u8::try_from(128 + n).unwrap_or(255),
        (None, None) => 1,
    }
}

/// Opens the plan's URL, or prints it when there is no display or nothing opens it.
async fn open(ctx: &mut Ctx, plan: &ConnectPlan) -> anyhow::Result<Outcome> {
    let Some(url) = &plan.url else {
        return Err(CliError::Protocol(format!(
            "jitd's {} plan for {} has no URL",
            shared::kind_name(plan.kind),
            plan.integration
        ))
        .into());
    };
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    let what = match plan.kind {
        ConnectKind::Browser => "in your browser",
        _ => "in your desktop app",
    };
    if display {
        let browser = std::env::var("BROWSER").ok();
        for argv in openers(plan.kind, browser.as_deref(), url) {
            if launch(&argv).await {
                ctx.out.print(&format!("Opened {url} {what}\n"))?;
                return Ok(Outcome::Done);
            }
        }
        ctx.out.note(&format!(
            "jit: could not open it {what}; open this yourself:"
        ));
    } else {
        ctx.out
            .note(&format!("no display: open this yourself {what}:"));
    }
    ctx.out.print(&format!("{url}\n"))?;
    Ok(Outcome::Done)
}

/// The programs to try, in order: `$BROWSER` (a `:`-separated list; `%s` stands for the
/// URL, else the URL is appended) for a browser, then `xdg-open`. An app URI
/// (`postgres://…`) goes to `xdg-open` only: browsers do not handle it.
pub fn openers(kind: ConnectKind, browser: Option<&str>, url: &str) -> Vec<Vec<String>> {
    let mut openers = Vec::new();
    if kind == ConnectKind::Browser {
        for entry in browser.unwrap_or_default().split(':') {
            let mut argv: Vec<String> = entry.split_whitespace().map(String::from).collect();
            if argv.is_empty() {
                continue;
            }
            if argv.iter().any(|a| a.contains("%s")) {
                for a in &mut argv {
                    *a = a.replace("%s", url);
                }
            } else {
                argv.push(url.to_owned());
            }
            openers.push(argv);
        }
    }
    openers.push(vec!["xdg-open".into(), url.to_owned()]);
    openers
}

/// Starts an opener; true when it succeeded or is still running after a short while.
async fn launch(argv: &[String]) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    match tokio::time::timeout(OPENER_GRACE, child.wait()).await {
        Ok(Ok(status)) => status.success(),
        Ok(Err(_)) => false,
        // Still running (a browser started fresh): left to run on its own.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Cli, Command};
    use clap::Parser;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        let cli = Cli::try_parse_from(argv)?;
        match cli.command {
            Command::Connect(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn args_after_the_separator_go_to_the_client_and_imply_terminal() {
        let args = parse(&["jit", "connect", "42", "--", "-c", "select 1"]).expect("parses");
        assert_eq!(args.args, vec!["-c".to_string(), "select 1".to_string()]);
        assert_eq!(args.kind(), Some(ConnectKind::Terminal));
        let args = parse(&["jit", "connect", "42", "-s", "pg-main", "--app"]).expect("parses");
        assert_eq!(args.session.as_deref(), Some("pg-main"));
        assert_eq!(args.kind(), Some(ConnectKind::App));
        assert_eq!(
            parse(&["jit", "connect", "42"]).expect("parses").kind(),
            None
        );
    }

    #[test]
    fn one_way_at_a_time() {
        for argv in [
            &["jit", "connect", "42", "--terminal", "--app"][..],
            &["jit", "connect", "42", "--browser", "--app"],
            &["jit", "connect", "42", "--browser", "--", "-c", "x"],
            &["jit", "connect", "42", "-c"],
            &["jit", "connect"],
        ] {
            let err = parse(argv).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
    }

    #[test]
    fn json_plans_never_hold_the_secret() {
        let plan = ConnectPlan {
            id: 42,
            integration: "pg-main".into(),
            kind: ConnectKind::Terminal,
            argv: vec!["psql".into(), "-h".into(), "db".into()],
            env: vec![
                ("PGPASSWORD".into(), "s3cret-Xy".into()),
                ("PGUSER".into(), "jit_alice_42".into()),
            ],
            url: None,
            message: None,
            files: vec![SessionFile {
                name: "key".into(),
                contents: "-----BEGIN OPENSSH PRIVATE KEY----- s3cret".into(),
            }],
        };
        let text = serde_json::to_string(&redacted(&plan)).expect("json");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains(r#"["PGPASSWORD","<redacted>"],["PGUSER","<redacted>"]"#),
            "{text}"
        );
        assert!(text.contains(r#""argv":["psql","-h","db"]"#), "{text}");
        assert!(
            text.contains(r#""files":[{"name":"key","contents":"<redacted>"}]"#),
            "{text}"
        );
        assert!(!format!("{plan:?}").contains("s3cret"));
    }

    /// Files are written 0600 into a 0700 directory, `{files}` names it, and it is gone
    /// once dropped; names that would leave the directory are refused.
    #[test]
    fn files_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let files = vec![
            SessionFile {
                name: "key".into(),
                contents: "secret key".into(),
            },
            SessionFile {
                name: "key-cert.pub".into(),
                contents: "cert".into(),
            },
        ];
        let dir = write_files(&files).expect("written");
        let path = dir.path().to_path_buf();
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o700);
        assert_eq!(mode(&path.join("key")), 0o600);
        assert_eq!(mode(&path.join("key-cert.pub")), 0o600);
        assert_eq!(
            std::fs::read_to_string(path.join("key")).expect("read"),
            "secret key"
        );
        assert_eq!(
            fill_files("CertificateFile={files}/key-cert.pub", Some(&path)),
            format!("CertificateFile={}/key-cert.pub", path.display())
        );
        drop(dir);
        assert!(!path.exists());
        for bad in ["", ".", "..", "a/b", "../key"] {
            let err = write_files(&[SessionFile {
                name: bad.into(),
                contents: "x".into(),
            }])
            .expect_err("refused");
            assert!(err.to_string().contains("not a plain file name"), "{err}");
        }
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(15)), 143);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
    }

    #[test]
    fn openers_try_browser_then_xdg_open() {
        let url = "https://db.example/q";
        assert_eq!(
            openers(ConnectKind::Browser, Some("firefox --new-tab:w3m %s"), url),
            vec![
                vec!["firefox".to_string(), "--new-tab".into(), url.into()],
                vec!["w3m".into(), url.into()],
                vec!["xdg-open".into(), url.into()],
            ]
        );
        assert_eq!(
            openers(ConnectKind::App, Some("firefox"), "postgres://u@h/db"),
            vec![vec!["xdg-open".to_string(), "postgres://u@h/db".into()]]
        );
        assert_eq!(openers(ConnectKind::Browser, None, url).len(), 1);
    }

    /// A real child: the plan's arguments, then the extra ones, and the environment arrive
    /// (the secret not among the arguments); the exit code comes back.
    #[test]
    fn the_terminal_program_gets_args_and_env() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let script = "test \"$PGPASSWORD\" = s3cret && test \"$1\" = -c && exit \"$0\"; exit 99";
        let args = vec!["-c".to_string(), script.to_string(), "7".to_string()];
        let env = vec![("PGPASSWORD".to_string(), "s3cret".to_string())];
        let extra = vec!["-c".to_string()];
        let status = rt.block_on(async {
            command("sh", &args, &env, &extra)
                .stdin(Stdio::null())
                .status()
                .await
                .expect("sh runs")
        });
        assert_eq!(exit_code(status), 7);
    }
}
