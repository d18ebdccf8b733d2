//! Integrations: one module per kind behind one trait, [`Integration`].
//!
//! Invariant: integrations never touch the store. They receive what to provision or
//! remove and report success or an error a person can act on; the engine records it.
//! Grant and revoke are idempotent (safe to repeat after a crash), and every kind can list
//! the principals it made, so orphans with no live grant are found and removed at start.

mod dry_run;
mod exec;
mod mariadb;
mod postgres;
mod redis;
mod ssh;
mod sudo;
mod unix_group;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use jit_api::{ConnectKind, RequestId};
use jit_config::{Config, IntegrationKind};

pub use dry_run::DryRun;
pub use postgres::Postgres;

/// What an integration says went wrong, in words a person can act on. Never contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct IntegrationError {
    /// The message.
    pub message: String,
    /// True when a grant failed before changing anything in the target (it refused, or could
    /// not reach it): a rollback need not, and must not, revoke that session.
    pub untouched: bool,
}

impl IntegrationError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> IntegrationError {
        IntegrationError {
            message: message.into(),
            untouched: false,
        }
    }

    /// The same error, marked as having changed nothing.
    pub fn untouched(self) -> IntegrationError {
        IntegrationError {
            untouched: true,
            ..self
        }
    }
}

/// A session's secret: a password jitd generated, or what an integration issued (an SSH
/// private key, an `exec` command's credentials). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(pub String);

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(<redacted>)")
    }
}

/// Where a kind's session secrets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// No secret: the access is the requester's own account (`unix-group`, `sudo`, `dry-run`).
    None,
    /// jitd generates a password, seals it when granting starts, and hands it to
    /// [`Integration::grant`] and [`Integration::reset`] (`postgres`, `mariadb`, `redis`).
    Generated,
    /// The integration makes the secret and returns it from `grant` and `reset` in
    /// [`Issued::secret`] (`ssh`: a private key; `exec`: whatever its command returns, or
    /// nothing). jitd seals it in the transaction that records the grant or the reset.
    Issued,
}

/// What a grant or a reset hands back for its session.
#[derive(Debug, Default)]
pub struct Issued {
    /// The secret the integration made (kinds with [`SecretSource::Issued`] only); sealed
    /// in the store like a generated one, shown once by `credentials.reveal`.
    pub secret: Option<SessionSecret>,
    /// What goes with it that is not secret (a certificate, instructions, connect options);
    /// kept in the session record in the clear. `None` keeps what the session had.
    pub material: Option<Material>,
}

/// What a session gives that is not secret: kept in the session record unencrypted, shown by
/// `request.get`, used by `session.connect` and `credentials.reveal`. **Never holds a
/// secret**: each kind makes sure of that (exec refuses a reply that puts its secret
/// anywhere but `credentials.secret`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Material {
    /// Who to log in as, when that is not the session's principal.
    pub user: Option<String>,
    /// Host to connect to.
    pub host: Option<String>,
    /// Port to connect to.
    pub port: Option<u16>,
    /// What the secret is (a password when `None`).
    pub secret_kind: Option<jit_api::SecretKind>,
    /// How to use the access, in words.
    pub instructions: Option<String>,
    /// An example command (without the secret).
    pub example: Option<String>,
    /// Files that go with the secret and are not secret themselves (an SSH certificate).
    pub files: Vec<PublicFile>,
    /// A terminal program to connect with; `{secret}` in an environment value stands for
    /// the session's secret, filled in by `session.connect` only.
    pub terminal: Option<TerminalTemplate>,
    /// A connection URI for a desktop app (never with the secret).
    pub app_url: Option<String>,
    /// A web page to open (never with the secret).
    pub browser_url: Option<String>,
}

/// A file that is not secret (see [`Material::files`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicFile {
    /// A plain file name (no `/`), e.g. `jit_alice_42_3f9a0c1e-cert.pub`.
    pub name: String,
    /// Its text.
    pub contents: String,
}

/// A terminal program from [`Material::terminal`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminalTemplate {
    /// Program and arguments; never the secret.
    pub argv: Vec<String>,
    /// Environment; values may contain `{secret}`.
    pub env: Vec<(String, String)>,
}

/// What the connect and access-details methods know of one session.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionView<'a> {
    /// The principal provisioned (empty when the kind makes none).
    pub principal: &'a str,
    /// The unrevealed secret: only [`Integration::connect`] of a terminal gets it.
    pub secret: Option<&'a SessionSecret>,
    /// The resources the session opens.
    pub resources: &'a [String],
    /// The integration's `browser_url` template, if the admin set one.
    pub browser_url: Option<&'a str>,
    /// What the grant (or the last reset or extension) handed back.
    pub material: Option<&'a Material>,
}

/// Resources of one type and the permissions to give on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantEntry {
    /// Resource type.
    pub resource_type: String,
    /// Resources.
    pub resources: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
}

/// What to provision for one session (all of a request's entries on one integration).
#[derive(Debug, Clone)]
pub struct GrantSpec {
    /// The request.
    pub request: RequestId,
    /// The requester's user name.
    pub requester: String,
    /// The principal to create (from [`Integration::principal_for`]).
    pub principal: Option<String>,
    /// What to give.
    pub entries: Vec<GrantEntry>,
    /// The generated secret, for kinds with [`SecretSource::Generated`].
    pub secret: Option<SessionSecret>,
    /// When the access must end; kinds with a clock of their own (`VALID UNTIL`) use it.
    pub valid_until: SystemTime,
}

/// What to remove for one session.
#[derive(Debug, Clone)]
pub struct RevokeSpec {
    /// The request, when known (orphans have none).
    pub request: Option<RequestId>,
    /// The principal to remove.
    pub principal: Option<String>,
    /// Resources it was granted on (orphans: empty, the kind finds them).
    pub resources: Vec<String>,
}

/// How to use a session by hand, for `credentials.reveal`.
#[derive(Debug, Clone, Default)]
pub struct AccessDetails {
    /// Who to log in as, when that is not the session's principal.
    pub user: Option<String>,
    /// What the secret is (a password when `None`).
    pub secret_kind: Option<jit_api::SecretKind>,
    /// Files to save beside the secret (not secret themselves).
    pub files: Vec<PublicFile>,
    /// Host.
    pub host: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Instructions in words.
    pub instructions: String,
    /// An example command (without the secret).
    pub example: Option<String>,
}

/// What a client launches to use a session (see `jit_api::ConnectPlan`).
#[derive(Clone, Default)]
pub struct ConnectTarget {
    /// Program and arguments (never the secret); `{files}` stands for the directory the
    /// client writes `files` into.
    pub argv: Vec<String>,
    /// Environment (may hold the secret).
    pub env: Vec<(String, String)>,
    /// URL or URI to open (never the secret).
    pub url: Option<String>,
    /// Files the client writes (mode 0600, in a private directory) before it launches
    /// `argv`, as (plain name, contents); the contents may be the secret.
    pub files: Vec<(String, String)>,
}

/// A requester's user name as it goes into a principal's name: lower-case ASCII letters and
/// digits, anything else `_`, at most 32 characters (the kinds that name principals after the
/// requester share it, so names look alike across targets).
pub(crate) fn name_part(user: &str) -> String {
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

/// Fills a `browser_url` template: `{host}`, `{port}`, `{user}`, `{database}`, each
/// percent-encoded.
pub fn fill_template(template: &str, host: &str, port: u16, user: &str, database: &str) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    template
        .replace("{host}", &enc(host))
        .replace("{port}", &port.to_string())
        .replace("{user}", &enc(user))
        .replace("{database}", &enc(database))
}

/// One kind of integration.
#[async_trait]
pub trait Integration: Send + Sync {
    /// The kind's name (`postgres`).
    fn kind(&self) -> &'static str;
    /// How many grants/revokes may run at once (1 serializes DDL on one server).
    fn concurrency(&self) -> usize {
        1
    }
    /// True when nothing is really provisioned.
    fn dry_run(&self) -> bool {
        false
    }
    /// The principal a request's session gets, if the kind makes one.
    fn principal_for(&self, requester: &str, request: RequestId) -> Option<String>;
    /// Where its sessions' secrets come from.
    fn secret_source(&self) -> SecretSource;
    /// Provisions the access. Idempotent. Kinds with [`SecretSource::Issued`] return the
    /// secret they made; a grant redone after a crash makes a new one (the first was never
    /// recorded, so nobody has it) and must make the first unusable.
    async fn grant(&self, spec: &GrantSpec) -> Result<Issued, IntegrationError>;
    /// Removes the access, live sessions included. Idempotent: removing what is gone succeeds.
    async fn revoke(&self, spec: &RevokeSpec) -> Result<(), IntegrationError>;
    /// Removes several accesses; one result per spec, in order. The provisioner hands over
    /// every revoke waiting on the integration's queue at once, so a kind whose revokes cost
    /// a round trip (and a commit) each can batch them; by default they run one by one.
    async fn revoke_many(&self, specs: &[RevokeSpec]) -> Vec<Result<(), IntegrationError>> {
        let mut out = Vec::with_capacity(specs.len());
        for spec in specs {
            out.push(self.revoke(spec).await);
        }
        out
    }
    /// Gives the principal a new secret — `secret` (generated by jitd) or one the kind makes
    /// and returns — and the old one stops working at once for new logins. With
    /// `end_sessions` (an admin's reset, a rotation) sessions opened with the old one end.
    async fn reset(
        &self,
        _principal: &str,
        _secret: Option<&SessionSecret>,
        _end_sessions: bool,
    ) -> Result<Issued, IntegrationError> {
        Ok(Issued::default())
    }
    /// True when sessions opened with an old secret live on after a reset unless the
    /// processes `jit connect` launched for them end (ssh: a connection outlives its
    /// certificate). With `end_sessions`, the provisioner then ends them.
    fn reset_ends_processes(&self) -> bool {
        false
    }
    /// Moves the target's own end of access (`VALID UNTIL`, a certificate) to `valid_until`;
    /// returns new material when that changes it (a certificate signed for the new end).
    async fn extend(
        &self,
        _principal: &str,
        _valid_until: SystemTime,
    ) -> Result<Option<Material>, IntegrationError> {
        Ok(None)
    }
    /// The ways a session can be opened (`browser` only when the admin set a `browser_url`).
    fn connect_kinds(&self, _session: &SessionView<'_>) -> Vec<ConnectKind> {
        Vec::new()
    }
    /// What to launch to open a session of `kind`.
    fn connect(&self, _kind: ConnectKind, _session: &SessionView<'_>) -> Option<ConnectTarget> {
        None
    }
    /// Why the user's extra arguments to a terminal's program must be refused, if they must:
    /// those that would let it outlive the access (`ssh -f` forks into the background, where
    /// ending the registered process does not reach it).
    fn refuse_connect_args(&self, _args: &[String]) -> Option<String> {
        None
    }
    /// Checks at start what would make grants or revokes fail later (missing privileges),
    /// and returns warnings for the log.
    async fn preflight(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether the target server answers, for kinds that talk to one (`None` otherwise).
    /// While revokes on this integration are failing, the provisioner probes every second
    /// and retries them the moment the server answers, rather than at their backoff.
    async fn probe(&self) -> Option<Result<(), IntegrationError>> {
        None
    }
    /// The principals this daemon made that still exist.
    async fn list_principals(&self) -> Result<Vec<String>, IntegrationError>;
    /// How to log in by hand.
    fn access_details(&self, session: &SessionView<'_>) -> AccessDetails;
}

/// The configured integrations, by name.
pub type Registry = HashMap<String, Arc<dyn Integration>>;

/// Builds every configured integration. `marker` identifies what this daemon makes (`check`
/// for `--check-config`, which judges the config alone and touches no file); `state_dir` is
/// the daemon's state directory, where kinds keep files of their own (the `ssh` CA key).
pub fn build(
    config: &Config,
    marker: &str,
    state_dir: &Path,
) -> Result<Registry, IntegrationError> {
    let mut out: Registry = HashMap::new();
    for integ in &config.integrations {
        let built: Arc<dyn Integration> = match &integ.kind {
            IntegrationKind::Postgres(settings) => {
                Arc::new(Postgres::new(&integ.name, settings, marker)?)
            }
            IntegrationKind::DryRun => Arc::new(DryRun),
            IntegrationKind::Redis(settings) => {
                Arc::new(redis::Redis::new(&integ.name, settings, marker)?)
            }
            IntegrationKind::Mariadb(settings) => {
                Arc::new(mariadb::Mariadb::new(&integ.name, settings, marker)?)
            }
            IntegrationKind::Exec(settings) => {
                Arc::new(exec::Exec::new(&integ.name, settings, marker))
            }
            IntegrationKind::UnixGroup(settings) => Arc::new(unix_group::UnixGroup::new(
                &integ.name,
                settings,
                marker,
                // The ledger of memberships goes under the system state directory (see
                // unix_group.rs); system mode is the only mode this kind works in.
                &crate::paths::state_dir(crate::paths::Mode::System),
            )?),
            IntegrationKind::Sudo(settings) => {
                Arc::new(sudo::Sudo::new(&integ.name, settings, marker))
            }
            // The CA key and the ledger of issued certificates follow the state directory
            // (`--state-dir`), with the store.
            IntegrationKind::Ssh(settings) => {
                Arc::new(ssh::Ssh::new(&integ.name, settings, marker, state_dir)?)
            }
        };
        out.insert(integ.name.clone(), built);
    }
    Ok(out)
}
