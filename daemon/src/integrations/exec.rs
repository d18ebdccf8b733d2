//! The `exec` kind: the admin's executable grants and revokes, through a JSON contract.
//!
//! Every operation is one run of the configured `command` with its `args`, never through a
//! shell. jitd writes one JSON object (the request) to its standard input and closes it; the
//! command prints one JSON object (the reply) on its standard output and exits 0. A non-zero
//! exit is a failure, and the end of what it wrote to standard error (the last 4 KiB) is part
//! of the error the user sees. A run that outlasts `timeout` is killed (SIGKILL, with
//! everything in its process group) and counts as failed.
//!
//! Operations (`action`): `grant`, `revoke`, `extend` and `list` (the principals this jitd
//! made, for orphan removal at start). Sessions carry no secret: a command grants access to
//! an identity the requester already has (their Unix account, an SSO identity named after
//! them). The contract is documented, field by field, in `docs/integrations.md#exec`.
//!
//! The command's environment is not jitd's (which may hold admin URLs with passwords): it
//! is `PATH`, the config's `env`, and `JIT_ACTION`, `JIT_INTEGRATION` and `JIT_PID`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use jit_api::RequestId;
use jit_config::ExecSettings;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{
    AccessDetails, GrantSpec, Integration, IntegrationError, Issued, Material, RevokeSpec,
    SecretSource, SessionView,
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

fn sanitize(user: &str) -> String {
    user.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(32)
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
            sanitize(requester),
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
            Ok(_) => Ok(Issued::default()),
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
        AccessDetails {
            host: None,
            port: None,
            instructions: format!(
                "{} gave your own account access to {} (grant {principal}); there is nothing to log in with",
                self.name,
                resources.join(", ")
            ),
            example: None,
            ..AccessDetails::default()
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
