//! The `exec` kind: the admin's executable grants and revokes, through a JSON contract.
//!
//! Every operation is one run of the configured `command` with its `args`, never through a
//! shell. jitd writes one JSON object (the request) to its standard input and closes it; the
//! command prints one JSON object (the reply) on its standard output and exits 0. A non-zero
//! exit is a failure, and the end of what it wrote to standard error (the last 4 KiB) is part
//! of the error the user sees. A run that outlasts `timeout` is killed (SIGKILL, with
//! everything in its process group) and counts as failed.
//!
//! Operations (`action`): `grant`, `revoke`, `reset`, `extend` and `list` (the principals
//! this jitd made, for orphan removal at start). A grant may return credentials (a secret,
//! with the user, host and port to use it), instructions and connect options; the secret is
//! the session's (sealed by the engine, shown once) and must appear nowhere else in the reply
//! — a reply that puts it anywhere but `credentials.secret` fails the grant. A grant that
//! returns none gives access to an identity the requester already has. `reset` makes a new
//! secret. The contract is documented, field by field, in `docs/integrations.md#exec`.
//!
//! The command's environment is not jitd's (which may hold admin URLs with passwords): it
//! is `PATH`, the config's `env`, and `JIT_ACTION`, `JIT_INTEGRATION` and `JIT_PID`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use jit_api::{ConnectKind, RequestId, SecretKind};
use jit_config::ExecSettings;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{
    AccessDetails, ConnectTarget, GrantSpec, Integration, IntegrationError, Issued, Material,
    RevokeSpec, SecretSource, SessionSecret, SessionView, TerminalTemplate,
};

/// The version of the JSON contract, sent as `version` in every request.
const CONTRACT_VERSION: u32 = 1;
/// `PATH` for the command, unless the config's `env` sets one.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The most standard output read from one run; more is a failure.
const MAX_STDOUT: usize = 1024 * 1024;
/// How much of the end of standard error goes into an error.
const STDERR_TAIL: usize = 4096;
/// How long the pipes may stay open after the command exited (and what it left running in
/// its process group was killed).
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// Principals start with this; `list` replies are filtered to names of this shape.
const PRINCIPAL_PREFIX: &str = "jit_";
/// What stands for the secret in a terminal's environment (`connect.terminal.env`).
const SECRET_PLACEHOLDER: &str = "{secret}";
/// The largest secret a reply may carry.
const MAX_SECRET: usize = 64 * 1024;
/// The longest instructions; other texts of a reply are shorter (`MAX_TEXT`).
const MAX_INSTRUCTIONS: usize = 4096;
/// The longest text of a reply (an argument, a value, a URL, a user or host name).
const MAX_TEXT: usize = 4096;
/// The most arguments, or environment variables, of a terminal.
const MAX_ITEMS: usize = 64;

/// An admin's executable.
pub struct Exec {
    name: String,
    command: PathBuf,
    args: Vec<String>,
    timeout: Duration,
    env: Vec<(String, String)>,
    instance: String,
    tag: String,
}

impl Exec {
    /// Prepares the integration; nothing is run until needed.
    pub fn new(name: &str, settings: &ExecSettings, marker: &str) -> Exec {
        Exec {
            name: name.to_owned(),
            command: settings.command.clone(),
            args: settings.args.clone(),
            timeout: settings.timeout,
            env: settings.env.clone(),
            instance: marker.to_owned(),
            tag: tag(marker),
        }
    }

    /// Whether `p` has the shape of a principal this jitd names (`jit_…_<tag>`).
    fn is_ours(&self, p: &str) -> bool {
        p.starts_with(PRINCIPAL_PREFIX)
            && p.len() <= 128
            && p.strip_suffix(&self.tag)
                .is_some_and(|rest| rest.ends_with('_'))
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    /// The request every operation sends: `version`, `action`, `integration`, `instance`,
    /// and the operation's own fields.
    fn request(&self, action: &str, fields: Value) -> Value {
        let mut m = Map::new();
        m.insert("version".into(), json!(CONTRACT_VERSION));
        m.insert("action".into(), json!(action));
        m.insert("integration".into(), json!(self.name));
        m.insert("instance".into(), json!(self.instance));
        if let Value::Object(extra) = fields {
            m.extend(extra);
        }
        Value::Object(m)
    }

    /// Runs the command for `action` with `input` on its standard input, and returns the
    /// JSON object it printed.
    async fn run(&self, action: &str, input: &Value) -> Result<Map<String, Value>, RunError> {
        let what = format!("{}: {} {action}", self.name, self.command.display());
        let bytes = serde_json::to_vec(input)
            .map_err(|e| RunError::Failed(IntegrationError::new(format!("{what}: {e}"))))?;
        let mut cmd = tokio::process::Command::new(&self.command);
        cmd.args(&self.args)
            .env_clear()
            .env("PATH", DEFAULT_PATH)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("JIT_ACTION", action)
            .env("JIT_INTEGRATION", &self.name)
            .env("JIT_PID", std::process::id().to_string())
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills what it started too.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            RunError::NotRun(IntegrationError::new(format!(
                "{}: cannot run {}: {e} (fix: install it there, executable by the user jitd runs as, or change command)",
                self.name,
                self.command.display()
            )))
        })?;
        let pgid = child.id().and_then(|id| i32::try_from(id).ok());
        let stdin = child.stdin.take();
        let writer = tokio::spawn(async move {
            if let Some(mut s) = stdin {
                // A command that does not read its input closes the pipe: not an error here.
                let _ = s.write_all(&bytes).await;
                let _ = s.shutdown().await;
            }
        });
        let stdout = child
            .stdout
            .take()
            .map(|s| tokio::spawn(read_head(s, MAX_STDOUT)));
        let stderr = child
            .stderr
            .take()
            .map(|s| tokio::spawn(read_tail(s, STDERR_TAIL)));

        let waited = tokio::time::timeout(self.timeout, child.wait()).await;
        // Whatever it left running in its group (or all of it, on a timeout) goes now.
        if let Some(pgid) = pgid {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let status = match waited {
            Ok(Ok(status)) => Some(status),
            Ok(Err(e)) => {
                writer.abort();
                return Err(RunError::Failed(IntegrationError::new(format!(
                    "{what}: cannot wait for it: {e}"
                ))));
            }
            Err(_) => {
                let _ = child.wait().await;
                None
            }
        };
        writer.abort();
        let err_tail = match stderr {
            Some(t) => match tokio::time::timeout(PIPE_GRACE, t).await {
                Ok(Ok(Ok(tail))) => tail,
                _ => Tail::default(),
            },
            None => Tail::default(),
        };
        let out = match stdout {
            Some(t) => match tokio::time::timeout(PIPE_GRACE, t).await {
                Ok(Ok(Ok(head))) => Ok(head),
                Ok(Ok(Err(e))) => Err(format!("its standard output could not be read: {e}")),
                Ok(Err(_)) => Err("its standard output could not be read".to_owned()),
                Err(_) => Err(format!(
                    "its standard output stayed open {}s after it exited (fix: do not leave programs running that hold it, e.g. started with setsid)",
                    PIPE_GRACE.as_secs()
                )),
            },
            None => Err("its standard output could not be read".to_owned()),
        };
        let Some(status) = status else {
            return Err(RunError::Failed(IntegrationError::new(format!(
                "{what} did not finish within {}s and was killed{}",
                self.timeout.as_secs(),
                err_tail.suffix()
            ))));
        };
        if !status.success() {
            return Err(RunError::Failed(IntegrationError::new(format!(
                "{what} failed ({}){}",
                describe(status),
                err_tail.suffix()
            ))));
        }
        if !err_tail.text.is_empty() {
            tracing::debug!(integration = %self.name, action, stderr = %err_tail.text.trim_end(), "the command wrote to standard error");
        }
        let out =
            out.map_err(|why| RunError::Failed(IntegrationError::new(format!("{what}: {why}"))))?;
        if out.overflow {
            return Err(RunError::Failed(IntegrationError::new(format!(
                "{what} printed more than {} KiB on standard output (fix: print one small JSON object there, messages go to standard error)",
                MAX_STDOUT / 1024
            ))));
        }
        // The parse error gives a line and column, never the text: it may be sensitive.
        match serde_json::from_slice::<Value>(&out.bytes) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(RunError::Failed(IntegrationError::new(format!(
                "{what} exited 0 but printed JSON that is not an object (fix: print one JSON object, such as {{}})"
            )))),
            Err(e) => Err(RunError::Failed(IntegrationError::new(format!(
                "{what} exited 0 but its standard output is not one JSON object ({e}) (fix: print one JSON object, such as {{}}, and write messages to standard error)"
            )))),
        }
    }
}

/// Why a run failed.
enum RunError {
    /// The command could not be started: nothing ran.
    NotRun(IntegrationError),
    /// It ran (or may have) and failed.
    Failed(IntegrationError),
}

impl From<RunError> for IntegrationError {
    fn from(e: RunError) -> IntegrationError {
        match e {
            RunError::NotRun(e) | RunError::Failed(e) => e,
        }
    }
}

/// Reads what a `grant` or `reset` reply hands back (all optional for a grant; a reset must
/// return `credentials.secret`):
///
/// ```json
/// {"credentials": {"secret": "…", "user": "…", "host": "…", "port": 5432, "kind": "password"},
///  "instructions": "…", "example": "…",
///  "connect": {"terminal": {"argv": ["psql"], "env": {"PGPASSWORD": "{secret}"}},
///              "app": "postgres://…", "browser": "https://…"}}
/// ```
///
/// On error, what is wrong, to follow "the reply " in a message — never the secret. Fields it
/// does not know are ignored (newer commands may send more).
fn parse_reply(reply: &Map<String, Value>, reset: bool) -> Result<Issued, String> {
    let creds = match reply.get("credentials") {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => Some(c),
        Some(_) => return Err("has a \"credentials\" that is not an object".into()),
    };
    let secret = match field(creds, "secret") {
        None => None,
        Some(Value::String(t)) if !t.is_empty() && t.len() <= MAX_SECRET && !t.contains('\0') => {
            Some(t.clone())
        }
        Some(_) => {
            return Err(format!(
                "has a credentials.secret that is not a string of 1 to {} KiB without NUL",
                MAX_SECRET / 1024
            ));
        }
    };
    if reset && secret.is_none() {
        return Err(
            "has no credentials.secret (fix: a reset makes a new secret and returns it there)"
                .into(),
        );
    }
    let text = |v: Option<&Value>, name: &str, max: usize| -> Result<Option<String>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(t)) if t.len() <= max && !t.contains('\0') => Ok(Some(t.clone())),
            Some(_) => Err(format!(
                "has a {name} that is not a string of at most {max} bytes"
            )),
        }
    };
    let user = text(field(creds, "user"), "credentials.user", 256)?;
    let host = text(field(creds, "host"), "credentials.host", 255)?;
    let port = match field(creds, "port") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or("has a credentials.port that is not a port number (1 to 65535)")?,
        ),
    };
    let secret_kind = match field(creds, "kind").map(Value::as_str) {
        None => None,
        Some(Some("password")) => Some(SecretKind::Password),
        Some(Some("token")) => Some(SecretKind::Token),
        Some(Some("private_key")) => Some(SecretKind::PrivateKey),
        Some(_) => {
            return Err(
                "has a credentials.kind that is not \"password\", \"token\" or \"private_key\""
                    .into(),
            );
        }
    };
    let instructions = text(reply.get("instructions"), "instructions", MAX_INSTRUCTIONS)?;
    let example = text(reply.get("example"), "example", MAX_TEXT)?;
    let connect = match reply.get("connect") {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => Some(c),
        Some(_) => return Err("has a \"connect\" that is not an object".into()),
    };
    let terminal = match field(connect, "terminal") {
        None => None,
        Some(Value::Object(t)) => {
            let argv: Vec<String> = match t.get("argv") {
                Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_ITEMS => items
                    .iter()
                    .map(|a| match a {
                        Value::String(a) if a.len() <= MAX_TEXT && !a.contains('\0') => {
                            Ok(a.clone())
                        }
                        _ => Err("has a connect.terminal.argv item that is not a short string"),
                    })
                    .collect::<Result<_, _>>()?,
                _ => {
                    return Err(format!(
                        "has a connect.terminal without an \"argv\" list of 1 to {MAX_ITEMS} strings"
                    ));
                }
            };
            let mut env = Vec::new();
            match t.get("env") {
                None | Some(Value::Null) => {}
                Some(Value::Object(vars)) if vars.len() <= MAX_ITEMS => {
                    for (name, value) in vars {
                        if !is_env_name(name) {
                            return Err(format!(
                                "has a connect.terminal.env name {:?} that is not a variable name",
                                printable(&name.chars().take(64).collect::<String>())
                            ));
                        }
                        let value = text(
                            Some(value),
                            &format!("connect.terminal.env.{name}"),
                            MAX_TEXT,
                        )?
                        .unwrap_or_default();
                        if value.contains(SECRET_PLACEHOLDER) && secret.is_none() {
                            return Err(format!(
                                "uses {SECRET_PLACEHOLDER} in connect.terminal.env.{name} but returns no credentials.secret"
                            ));
                        }
                        env.push((name.clone(), value));
                    }
                }
                Some(_) => {
                    return Err(format!(
                        "has a connect.terminal.env that is not an object of at most {MAX_ITEMS} variables"
                    ));
                }
            }
            Some(TerminalTemplate { argv, env })
        }
        Some(_) => return Err("has a connect.terminal that is not an object".into()),
    };
    let app_url = text(field(connect, "app"), "connect.app", MAX_TEXT)?;
    let browser_url = text(field(connect, "browser"), "connect.browser", MAX_TEXT)?;

    // The secret lives sealed in the store and nowhere else: every other text is kept in the
    // clear, shown, and (argv) put on a command line.
    let mut texts: Vec<(String, &str)> = Vec::new();
    for (name, v) in [
        ("credentials.user", &user),
        ("credentials.host", &host),
        ("instructions", &instructions),
        ("example", &example),
        ("connect.app", &app_url),
        ("connect.browser", &browser_url),
    ] {
        if let Some(v) = v {
            texts.push((name.to_owned(), v));
        }
    }
    if let Some(t) = &terminal {
        texts.extend(
            t.argv
                .iter()
                .map(|a| ("connect.terminal.argv".to_owned(), a.as_str())),
        );
        texts.extend(
            t.env
                .iter()
                .map(|(n, v)| (format!("connect.terminal.env.{n}"), v.as_str())),
        );
    }
    for (name, value) in &texts {
        if secret.as_deref().is_some_and(|s| value.contains(s)) {
            return Err(format!(
                "puts its secret in {name} (fix: only credentials.secret may hold it; write {SECRET_PLACEHOLDER} in connect.terminal.env where a program needs it)"
            ));
        }
        if value.contains(SECRET_PLACEHOLDER) && !name.starts_with("connect.terminal.env.") {
            return Err(format!(
                "uses {SECRET_PLACEHOLDER} in {name} (fix: only connect.terminal.env values may; a secret never goes on a command line or in a URL)"
            ));
        }
    }

    let any_material = user.is_some()
        || host.is_some()
        || port.is_some()
        || secret_kind.is_some()
        || instructions.is_some()
        || example.is_some()
        || terminal.is_some()
        || app_url.is_some()
        || browser_url.is_some();
    Ok(Issued {
        secret: secret.map(SessionSecret),
        material: any_material.then(|| Material {
            user,
            host,
            port,
            secret_kind,
            instructions,
            example,
            files: Vec::new(),
            terminal,
            app_url,
            browser_url,
        }),
    })
}

/// `c[key]`, when there and not null.
fn field<'a>(c: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    c.and_then(|c| c.get(key)).filter(|v| !v.is_null())
}

/// An environment variable name: `^[A-Za-z_][A-Za-z0-9_]*$`, at most 128 bytes.
fn is_env_name(name: &str) -> bool {
    name.len() <= 128
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The first bytes of a stream, up to a limit; the rest is read and dropped.
struct Head {
    bytes: Vec<u8>,
    overflow: bool,
}

async fn read_head(mut r: impl AsyncRead + Unpin, max: usize) -> std::io::Result<Head> {
    let mut head = Head {
        bytes: Vec::new(),
        overflow: false,
    };
    let mut buf = [0u8; 8192];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(head);
        }
        if head.bytes.len() + n > max {
            head.overflow = true;
        } else {
            head.bytes.extend_from_slice(&buf[..n]);
        }
    }
}

/// The last bytes of a stream, as text.
#[derive(Default)]
struct Tail {
    text: String,
    cut: bool,
}

impl Tail {
    /// `": <text>"` for an error message, or nothing when the command wrote nothing.
    fn suffix(&self) -> String {
        let t = self.text.trim();
        if t.is_empty() {
            String::new()
        } else if self.cut {
            format!(": …{t}")
        } else {
            format!(": {t}")
        }
    }
}

async fn read_tail(mut r: impl AsyncRead + Unpin, max: usize) -> std::io::Result<Tail> {
    let mut kept: Vec<u8> = Vec::new();
    let mut cut = false;
    let mut buf = [0u8; 8192];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > max {
            kept.drain(..kept.len() - max);
            cut = true;
        }
    }
    Ok(Tail {
        text: printable(&String::from_utf8_lossy(&kept)),
        cut,
    })
}

/// `text` with control characters but newline and tab shown as `?`, so what a command wrote
/// cannot move a terminal's cursor when the error is printed.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

/// The part of this jitd's instance id that ends its principals.
fn tag(marker: &str) -> String {
    marker
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(8)
        .collect()
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "9999-12-31T23:59:59Z".into())
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[async_trait]
impl Integration for Exec {
    fn kind(&self) -> &'static str {
        "exec"
    }

    fn principal_for(&self, requester: &str, request: RequestId) -> Option<String> {
        // jit_<user>_<request>_<instance tag>: the command's key for the grant (revoke gets
        // only this), recognisably this jitd's.
        Some(format!(
            "{PRINCIPAL_PREFIX}{}_{request}_{}",
            super::name_part(requester),
            self.tag
        ))
    }

    fn secret_source(&self) -> SecretSource {
        // The command may return credentials from its grant (and new ones from its reset);
        // a grant that returns none gives access to an identity the requester already has.
        SecretSource::Issued
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<Issued, IntegrationError> {
        let principal = spec
            .principal
            .as_deref()
            .ok_or_else(|| IntegrationError::new("no principal").untouched())?;
        let entries: Vec<Value> = spec
            .entries
            .iter()
            .map(|e| {
                json!({
                    "resource_type": e.resource_type,
                    "resources": e.resources,
                    "permissions": e.permissions,
                })
            })
            .collect();
        let input = self.request(
            "grant",
            json!({
                "request": spec.request,
                "requester": spec.requester,
                "principal": principal,
                "entries": entries,
                "valid_until": rfc3339(spec.valid_until),
                "valid_until_unix": unix_secs(spec.valid_until),
            }),
        );
        match self.run("grant", &input).await {
            // What the command returns is checked before anything is kept; a reply that is
            // not right fails the grant (which is then rolled back with `revoke`).
            Ok(reply) => parse_reply(&reply, false).map_err(|why| {
                IntegrationError::new(format!(
                    "{}: {} grant: the reply {why}",
                    self.name,
                    self.command.display()
                ))
            }),
            // Not started: nothing changed, and a rollback must not run it again.
            Err(RunError::NotRun(e)) => Err(e.untouched()),
            Err(RunError::Failed(e)) => Err(e),
        }
    }

    async fn revoke(&self, spec: &RevokeSpec) -> Result<(), IntegrationError> {
        let Some(principal) = spec.principal.as_deref() else {
            return Ok(());
        };
        let input = self.request(
            "revoke",
            json!({
                "request": spec.request,
                "principal": principal,
                "resources": spec.resources,
            }),
        );
        self.run("revoke", &input).await?;
        Ok(())
    }

    async fn reset(
        &self,
        principal: &str,
        _secret: Option<&SessionSecret>,
        end_sessions: bool,
    ) -> Result<Issued, IntegrationError> {
        let input = self.request(
            "reset",
            json!({
                "principal": principal,
                "end_sessions": end_sessions,
            }),
        );
        let reply = self.run("reset", &input).await?;
        parse_reply(&reply, true).map_err(|why| {
            IntegrationError::new(format!(
                "{}: {} reset: the reply {why}",
                self.name,
                self.command.display()
            ))
        })
    }

    fn connect_kinds(&self, session: &SessionView<'_>) -> Vec<ConnectKind> {
        let Some(m) = session.material else {
            return Vec::new();
        };
        let mut k = Vec::new();
        if m.terminal.is_some() {
            k.push(ConnectKind::Terminal);
        }
        if m.app_url.is_some() {
            k.push(ConnectKind::App);
        }
        if m.browser_url.is_some() {
            k.push(ConnectKind::Browser);
        }
        k
    }

    fn connect(&self, kind: ConnectKind, session: &SessionView<'_>) -> Option<ConnectTarget> {
        let m = session.material?;
        match kind {
            ConnectKind::Terminal => {
                let t = m.terminal.as_ref()?;
                let mut env = Vec::with_capacity(t.env.len());
                for (name, value) in &t.env {
                    let value = if value.contains(SECRET_PLACEHOLDER) {
                        value.replace(SECRET_PLACEHOLDER, &session.secret?.0)
                    } else {
                        value.clone()
                    };
                    env.push((name.clone(), value));
                }
                Some(ConnectTarget {
                    argv: t.argv.clone(),
                    env,
                    url: None,
                    files: Vec::new(),
                })
            }
            ConnectKind::App => m.app_url.clone().map(|url| ConnectTarget {
                url: Some(url),
                ..ConnectTarget::default()
            }),
            ConnectKind::Browser => m.browser_url.clone().map(|url| ConnectTarget {
                url: Some(url),
                ..ConnectTarget::default()
            }),
        }
    }

    fn reset_ends_processes(&self) -> bool {
        // What the command's target is, jitd cannot know: its sessions may outlive a new
        // secret (a tunnel, a connection that logged in once), so at an admin's reset the
        // processes `jit connect` launched end too, whatever the command did.
        true
    }

    async fn extend(
        &self,
        principal: &str,
        valid_until: SystemTime,
    ) -> Result<Option<Material>, IntegrationError> {
        let input = self.request(
            "extend",
            json!({
                "principal": principal,
                "valid_until": rfc3339(valid_until),
                "valid_until_unix": unix_secs(valid_until),
            }),
        );
        self.run("extend", &input).await?;
        Ok(None)
    }

    async fn preflight(&self) -> Vec<String> {
        let mut w = Vec::new();
        let shown = self.command.display();
        match std::fs::metadata(&self.command) {
            Err(e) => w.push(format!(
                "{}: command {shown}: {e}: every grant will fail until it exists",
                self.name
            )),
            Ok(m) if !m.is_file() => w.push(format!(
                "{}: command {shown} is not a regular file: every grant will fail",
                self.name
            )),
            Ok(m) => {
                if m.permissions().mode() & 0o111 == 0 {
                    w.push(format!(
                        "{}: command {shown} is not executable (fix: chmod 755 {shown})",
                        self.name
                    ));
                }
                // Whoever can change it runs code as jitd.
                if m.permissions().mode() & 0o022 != 0 {
                    w.push(format!(
                        "{}: command {shown} is writable by group or others, who could run anything as jitd (fix: chmod go-w {shown})",
                        self.name
                    ));
                }
                let me = nix::unistd::geteuid().as_raw();
                if m.uid() != 0 && m.uid() != me {
                    w.push(format!(
                        "{}: command {shown} is owned by uid {}, who could run anything as jitd (fix: chown root {shown})",
                        self.name,
                        m.uid()
                    ));
                }
            }
        }
        w
    }

    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError> {
        let reply = self.run("list", &self.request("list", json!({}))).await?;
        let Some(Value::Array(items)) = reply.get("principals") else {
            return Err(IntegrationError::new(format!(
                "{}: {} list: the reply has no \"principals\" array (fix: print {{\"principals\": [\"jit_…\", …]}})",
                self.name,
                self.command.display()
            )));
        };
        let mut out = Vec::new();
        for item in items {
            let Value::String(p) = item else {
                return Err(IntegrationError::new(format!(
                    "{}: {} list: \"principals\" holds something that is not a string",
                    self.name,
                    self.command.display()
                )));
            };
            // Only names this jitd gives out: never remove another daemon's, or a stranger's.
            if self.is_ours(p) {
                out.push(p.clone());
            } else {
                tracing::debug!(integration = %self.name, principal = %p, "list: not a principal of this jitd; ignored");
            }
        }
        Ok(out)
    }

    fn access_details(&self, session: &SessionView<'_>) -> AccessDetails {
        let principal = session.principal;
        let resources = session.resources;
        let Some(m) = session.material else {
            return AccessDetails {
                instructions: format!(
                    "{} gave your own account access to {} (grant {principal}); there is nothing to log in with",
                    self.name,
                    resources.join(", ")
                ),
                ..AccessDetails::default()
            };
        };
        AccessDetails {
            user: m.user.clone(),
            host: m.host.clone(),
            port: m.port,
            secret_kind: m.secret_kind,
            instructions: m.instructions.clone().unwrap_or_else(|| {
                format!(
                    "{} gave you access to {} (grant {principal})",
                    self.name,
                    resources.join(", ")
                )
            }),
            example: m.example.clone(),
            files: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec() -> Exec {
        Exec::new(
            "shares",
            &ExecSettings {
                command: "/bin/true".into(),
                args: Vec::new(),
                timeout: Duration::from_secs(5),
                env: Vec::new(),
            },
            "00c0ffee12345678",
        )
    }

    #[test]
    fn principals_carry_the_instance_tag() {
        let e = exec();
        let p = e.principal_for("Bob.Smith", 42).expect("principal");
        assert_eq!(p, "jit_bob_smith_42_00c0ffee");
        assert!(e.is_ours(&p));
        for stranger in [
            "jit_bob_42_deadbeef",
            "jit_bob_42x00c0ffee",
            "bob_42_00c0ffee",
            "jit_Bob_42_00c0ffee",
            "jit_bob/../_00c0ffee",
        ] {
            assert!(!e.is_ours(stranger), "{stranger}");
        }
    }

    fn reply(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("an object")
    }

    #[test]
    fn a_grant_reply_hands_back_credentials_instructions_and_connect_options() {
        let issued = parse_reply(
            &reply(json!({
                "credentials": {"secret": "pw-Xy12", "user": "svc_alice", "host": "db", "port": 5432},
                "instructions": "log in as svc_alice",
                "example": "psql -h db -U svc_alice",
                "connect": {
                    "terminal": {"argv": ["psql", "-h", "db"], "env": {"PGPASSWORD": "{secret}", "PGUSER": "svc_alice"}},
                    "app": "postgres://svc_alice@db:5432/orders"
                },
                "later": "fields it does not know are ignored"
            })),
            false,
        )
        .expect("a good reply");
        assert_eq!(issued.secret, Some(SessionSecret("pw-Xy12".into())));
        let m = issued.material.expect("material");
        assert_eq!(m.user.as_deref(), Some("svc_alice"));
        assert_eq!(m.port, Some(5432));
        assert!(
            !format!("{m:?}").contains("pw-Xy12"),
            "no secret in the material"
        );
        let e = exec();
        let mut view = SessionView {
            principal: "jit_alice_42_00c0ffee",
            secret: issued.secret.as_ref(),
            material: Some(&m),
            ..SessionView::default()
        };
        assert_eq!(
            e.connect_kinds(&view),
            [ConnectKind::Terminal, ConnectKind::App]
        );
        let t = e.connect(ConnectKind::Terminal, &view).expect("terminal");
        assert_eq!(t.argv, ["psql", "-h", "db"]);
        assert!(
            t.env
                .contains(&("PGPASSWORD".to_owned(), "pw-Xy12".to_owned()))
        );
        let app = e.connect(ConnectKind::App, &view).expect("app");
        assert_eq!(
            app.url.as_deref(),
            Some("postgres://svc_alice@db:5432/orders")
        );
        // Without the secret (revealed), a terminal that needs it cannot be made.
        view.secret = None;
        assert!(e.connect(ConnectKind::Terminal, &view).is_none());
        let details = e.access_details(&view);
        assert_eq!(details.user.as_deref(), Some("svc_alice"));
        assert_eq!(details.instructions, "log in as svc_alice");

        let nothing = parse_reply(&reply(json!({})), false).expect("an empty reply");
        assert!(nothing.secret.is_none() && nothing.material.is_none());
        let only_secret = parse_reply(&reply(json!({"credentials": {"secret": "n3w"}})), true)
            .expect("a reset reply");
        assert!(only_secret.secret.is_some() && only_secret.material.is_none());
    }

    #[test]
    fn a_reply_that_puts_its_secret_elsewhere_is_refused() {
        let secret = "pw-Xy12";
        let cases = [
            (
                json!({"credentials": {"secret": secret}, "connect": {"terminal": {"argv": ["psql", secret]}}}),
                "puts its secret in connect.terminal.argv",
            ),
            (
                json!({"credentials": {"secret": secret}, "instructions": format!("use {secret}")}),
                "puts its secret in instructions",
            ),
            (
                json!({"credentials": {"secret": secret}, "connect": {"app": format!("pg://u:{secret}@h")}}),
                "puts its secret in connect.app",
            ),
            (
                json!({"credentials": {"secret": secret}, "connect": {"terminal": {"argv": ["x", "{secret}"]}}}),
                "uses {secret} in connect.terminal.argv",
            ),
            (
                json!({"connect": {"terminal": {"argv": ["x"], "env": {"P": "{secret}"}}}}),
                "returns no credentials.secret",
            ),
            (
                json!({"connect": {"terminal": {"argv": ["x"], "env": {"1X": "y"}}}}),
                "is not a variable name",
            ),
            (
                json!({"credentials": {"secret": secret, "port": 70000}}),
                "not a port number",
            ),
            (
                json!({"credentials": {"secret": 42}}),
                "credentials.secret that is not a string",
            ),
            (
                json!({"connect": {"terminal": {"argv": []}}}),
                "without an \"argv\" list",
            ),
            (
                json!({"credentials": "x"}),
                "\"credentials\" that is not an object",
            ),
        ];
        for (bad, why) in cases {
            let e = parse_reply(&reply(bad.clone()), false)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains(secret), "the error shows the secret: {e}");
        }
        let e = parse_reply(&reply(json!({"instructions": "x"})), true)
            .expect_err("a reset must return a secret");
        assert!(e.contains("has no credentials.secret"), "{e}");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(rfc3339(t), "2027-01-15T08:00:00Z");
        assert_eq!(unix_secs(t), 1_800_000_000);
    }

    #[test]
    fn stderr_cannot_drive_a_terminal() {
        assert_eq!(printable("a\x1b[2Jb\nc\td"), "a?[2Jb\nc\td");
    }

    #[tokio::test]
    async fn a_run_is_bounded_and_its_output_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("cmd");
        std::fs::write(
            &script,
            "#!/bin/sh\ncase \"$JIT_ACTION\" in\n\
             grant) cat >/dev/null; echo '{\"ok\":true}';;\n\
             revoke) echo 'no such thing' >&2; exit 4;;\n\
             extend) echo 'not json';;\n\
             list) sleep 30 & sleep 30;;\n\
             esac\n",
        )
        .expect("write");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let e = Exec::new(
            "t",
            &ExecSettings {
                command: script.clone(),
                args: Vec::new(),
                timeout: Duration::from_secs(1),
                env: Vec::new(),
            },
            "abcd",
        );
        let ok = e
            .run("grant", &e.request("grant", json!({})))
            .await
            .map_err(IntegrationError::from)
            .expect("grant");
        assert_eq!(ok.get("ok"), Some(&json!(true)));
        let err = IntegrationError::from(
            e.run("revoke", &e.request("revoke", json!({})))
                .await
                .expect_err("revoke fails"),
        );
        assert!(
            err.message.contains("exit status 4") && err.message.ends_with(": no such thing"),
            "{}",
            err.message
        );
        let err = IntegrationError::from(
            e.run("extend", &e.request("extend", json!({})))
                .await
                .expect_err("extend fails"),
        );
        assert!(
            err.message.contains("not one JSON object"),
            "{}",
            err.message
        );
        let start = std::time::Instant::now();
        let err = IntegrationError::from(
            e.run("list", &e.request("list", json!({})))
                .await
                .expect_err("list times out"),
        );
        assert!(
            err.message.contains("did not finish within 1s"),
            "{}",
            err.message
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        let missing = Exec::new(
            "t",
            &ExecSettings {
                command: dir.path().join("nope"),
                args: Vec::new(),
                timeout: Duration::from_secs(1),
                env: Vec::new(),
            },
            "abcd",
        );
        assert!(matches!(
            missing.run("grant", &json!({})).await,
            Err(RunError::NotRun(_))
        ));
    }
}
