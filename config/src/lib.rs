//! The jitd configuration: the validated, typed [`Config`] the daemon runs on, and
//! [`load`]/[`parse`], which read TOML and report every problem with file, line and the fix.
//!
//! Invariant: a [`Config`] that exists is valid — every flow names a configured integration
//! (with resource types and permissions it offers) or configured bundles, every bundle entry
//! names an integration, resource type, resources and permissions that exist, durations are
//! within bounds — so the daemon never re-checks what this crate checked.

mod duration;
mod error;
mod raw;
mod suggest;
mod validate;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ConfigError, Problem};

/// Reads and checks the config file at `path`.
///
/// Environment variables named by `url_env` are read, and files named by `url_file` (relative
/// to the config file's directory), now: a config that loads is complete.
///
/// # Errors
///
/// [`ConfigError::Read`] when the file cannot be read; [`ConfigError::Invalid`] with every
/// problem found otherwise.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    parse(&text, path)
}

/// Checks config `text` as if read from `path` (used in messages and to resolve relative
/// `url_file` paths). Reads the environment and `url_file`s like [`load`].
///
/// # Errors
///
/// [`ConfigError::Invalid`] with every problem found (for a TOML syntax error: the first one).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse_with_env(text, path, &|name| std::env::var_os(name))
}

/// [`parse`] with environment variables (for `url_env`) looked up through `env` instead of the
/// process environment, which tests cannot safely change.
///
/// # Errors
///
/// As [`parse`].
pub fn parse_with_env(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Config, ConfigError> {
    let mut problems = error::Problems::new(path, text);
    let mut root = match toml::de::DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            problems.at(
                &e.span().unwrap_or(0..0),
                format!("invalid TOML: {}", e.message().trim().replace('\n', "; ")),
                "correct the TOML syntax here (see https://toml.io)",
            );
            return Err(problems.into_error());
        }
    };
    raw::remove_unknown_keys(root.get_mut(), &mut problems);
    let file: raw::RawFile =
        match serde::Deserialize::deserialize(toml::de::Deserializer::from(root.clone())) {
            Ok(file) => file,
            Err(e) => {
                raw::report_serde_error(&root, &e, &mut problems);
                return Err(problems.into_error());
            }
        };
    let mut checker = validate::Checker {
        problems,
        env,
        base_dir: path.parent().map(Path::to_owned).unwrap_or_default(),
    };
    match validate::config(file, path, &mut checker) {
        Some(mut config) if checker.problems.is_empty() => {
            config.digest = digest(text);
            Ok(config)
        }
        _ => Err(checker.problems.into_error()),
    }
}

/// Hex SHA-256 of a config file's text.
pub fn digest(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Hex SHA-256 of the text it was read from (see [`digest`]).
    pub digest: String,
    /// The `[daemon]` table.
    pub daemon: DaemonSection,
    /// The `[[integrations]]`, in file order.
    pub integrations: Vec<Integration>,
    /// The `[[flows]]`, in file order (the first flow that allows a request decides it).
    pub flows: Vec<Flow>,
    /// The `[[bundles]]`, in file order.
    pub bundles: Vec<Bundle>,
    /// The `[[notifications]]` channels, in file order.
    pub notifications: Vec<Channel>,
}

impl Config {
    /// The integration called `name`.
    pub fn integration(&self, name: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.name == name)
    }

    /// The flow called `name`.
    pub fn flow(&self, name: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// The bundle called `name`.
    pub fn bundle(&self, name: &str) -> Option<&Bundle> {
        self.bundles.iter().find(|b| b.name == name)
    }

    /// The notification channel called `name`.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.notifications.iter().find(|c| c.name == name)
    }
}

/// The `[daemon]` table.
#[derive(Debug, Clone)]
pub struct DaemonSection {
    /// Admin users and groups: they see everything, revoke anything, read the whole audit log.
    pub admins: Vec<Principal>,
    /// How long a request may stay pending before it is rejected as timed out.
    pub pending_ttl: Duration,
    /// Mode of the socket file (default 0o666: every local user may connect; the engine decides).
    pub socket_mode: u32,
    /// A `RUST_LOG`-style filter for the daemon's log (default `info`).
    pub log: Option<String>,
    /// How long before a grant expires its requester is warned (an `expiring` event), longest
    /// first, without repeats; empty for no warnings. Default 10 min and 1 min.
    pub expiry_warnings: Vec<Duration>,
    /// A node_exporter textfile (`metrics_textfile`, absolute, ending in `.prom`) that jitd
    /// rewrites atomically with its metrics every [`DaemonSection::metrics_interval`];
    /// `None`: metrics only through `daemon.metrics`.
    pub metrics_textfile: Option<PathBuf>,
    /// The mode of the metrics textfile (`metrics_textfile_mode`, default 0o644: node_exporter
    /// usually runs as another user). Its group is jitd's, or the directory's when the
    /// directory is set-group-ID.
    pub metrics_textfile_mode: u32,
    /// How often the metrics textfile is rewritten (`metrics_interval`, default 15 s, from
    /// 1 s to 1 h).
    pub metrics_interval: Duration,
}

/// Who a rule names: a user, a Unix group (`%dev`), or anyone (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user name.
    User(String),
    /// A Unix group name, written `%name`.
    Group(String),
    /// Every local user, written `*`.
    Anyone,
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::User(u) => f.write_str(u),
            Principal::Group(g) => write!(f, "%{g}"),
            Principal::Anyone => f.write_str("*"),
        }
    }
}

impl Principal {
    /// Whether a user with these group names matches.
    pub fn matches(&self, user: &str, groups: &[String]) -> bool {
        match self {
            Principal::User(u) => u == user,
            Principal::Group(g) => groups.iter().any(|x| x == g),
            Principal::Anyone => true,
        }
    }
}

/// A secret value from the config, an environment variable or a file. Its `Debug` never
/// shows it, and it has no `Display`, so it cannot end up in a message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    /// The value itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One `[[integrations]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// Its name, unique (`pg-main`).
    pub name: String,
    /// The admin's message shown with every grant (`message`).
    pub message: Option<String>,
    /// A URL template for Connect's browser option (`browser_url`): `http://` or `https://`,
    /// with only the placeholders `{host}`, `{port}`, `{user}` and `{database}`, which the
    /// daemon fills in. `None`: no browser option.
    pub browser_url: Option<String>,
    /// How often the secret of a live grant is rotated (`rotate_every`, at least a minute).
    /// `None`: never, for the grant's lifetime.
    pub rotate_every: Option<Duration>,
    /// The resource types it offers, each with its permissions (built in for the kind, with the
    /// admin's extra permissions for `mariadb` and `redis`; configured for `exec` and
    /// `dry-run`).
    pub resource_types: Vec<ResourceType>,
    /// Kind-specific settings.
    pub kind: IntegrationKind,
}

impl Integration {
    /// Its resource type called `name`.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types.iter().find(|t| t.name == name)
    }
}

/// A resource type and the permissions that exist on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// `database`, `group`, …
    pub name: String,
    /// `read`, `write`, …
    pub permissions: Vec<String>,
}

/// What kind of integration, with its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum IntegrationKind {
    /// A PostgreSQL server: a login role per session.
    Postgres(PostgresSettings),
    /// A MariaDB (or MySQL) server: a user per session. Resource type `database`, permissions
    /// `read`, `write` and the names of [`MariadbSettings::privileges`].
    Mariadb(MariadbSettings),
    /// A Redis server: an ACL user per session. Resource type `keys` (resources are key
    /// patterns like `orders:*`), permissions `read`, `write` and the names of
    /// [`RedisSettings::command_sets`].
    Redis(RedisSettings),
    /// Membership of local Unix groups. Resource type `group` (resources are among
    /// [`UnixGroupSettings::groups`]), permission `member`.
    UnixGroup(UnixGroupSettings),
    /// Running admin-defined commands with sudo. Resource type `command` (resources are the
    /// names of [`SudoSettings::commands`]), permission `run`.
    Sudo(SudoSettings),
    /// SSH user certificates signed by jitd's CA. Resource type `login` (resources are among
    /// [`SshSettings::principals`]), permission `login`.
    Ssh(SshSettings),
    /// An admin's executable that grants and revokes, through a JSON contract. Its resource
    /// types are configured (`resource_types`).
    Exec(ExecSettings),
    /// Provisions nothing; for trying flows and benchmarks.
    DryRun,
}

impl IntegrationKind {
    /// The kind's name as written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            IntegrationKind::Postgres(_) => "postgres",
            IntegrationKind::Mariadb(_) => "mariadb",
            IntegrationKind::Redis(_) => "redis",
            IntegrationKind::UnixGroup(_) => "unix-group",
            IntegrationKind::Sudo(_) => "sudo",
            IntegrationKind::Ssh(_) => "ssh",
            IntegrationKind::Exec(_) => "exec",
            IntegrationKind::DryRun => "dry-run",
        }
    }
}

/// Settings of a `postgres` integration.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresSettings {
    /// Admin connection URL (`url`, `url_env` or `url_file`); needs CREATEROLE and the
    /// right to grant on the databases it serves (a superuser is simplest).
    pub url: Secret,
    /// Prefix of the login roles jit creates (default `jit_`); roles are `<prefix><user>_<id>`.
    pub role_prefix: String,
    /// Host name clients should use, when it differs from the admin URL's host.
    pub client_host: Option<String>,
    /// Port clients should use, when it differs from the admin URL's port.
    pub client_port: Option<u16>,
}

/// Settings of a `mariadb` integration.
#[derive(Debug, Clone, PartialEq)]
pub struct MariadbSettings {
    /// Admin connection URL (`url`, `url_env` or `url_file`):
    /// `mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE]`, checked to parse: that scheme, a user,
    /// a host (a name, an IPv4 address or `[IPv6]`), a port from 1 to 65535, no `/` in the
    /// database, no query or fragment, valid `%XX` escapes.
    pub url: Secret,
    /// Prefix of the users jit creates (`user_prefix`, default `jit_`):
    /// `^[a-z_][a-z0-9_]{0,11}$`.
    pub user_prefix: String,
    /// The host part of the accounts jit creates (`user_host`, default `%`: any host), e.g.
    /// `localhost` or `10.0.0.%`.
    pub user_host: String,
    /// Host name clients should use, when it differs from the admin URL's host.
    pub client_host: Option<String>,
    /// Port clients should use, when it differs from the admin URL's port.
    pub client_port: Option<u16>,
    /// Extra permissions of the `database` type (`[integrations.privileges]`), in file order:
    /// name (a valid name, never `read` or `write`) → privilege list, normalised to upper
    /// case, one space between words, `", "` between privileges (`"SELECT, SHOW VIEW"`). Each
    /// privilege is a database-level one (not `GRANT OPTION`), so it is safe to put in
    /// `GRANT … ON db.*`.
    pub privileges: Vec<(String, String)>,
}

/// Settings of a `redis` integration.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// Admin connection URL (`url`, `url_env` or `url_file`):
    /// `redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]`, checked to parse: that scheme, a host, a
    /// port from 1 to 65535, a numeric DB, no query or fragment, valid `%XX` escapes. A
    /// password without a user (`redis://:PASSWORD@HOST`) is allowed.
    pub url: Secret,
    /// Prefix of the ACL users jit creates (`user_prefix`, default `jit_`):
    /// `^[a-z_][a-z0-9_]{0,11}$`.
    pub user_prefix: String,
    /// Host name clients should use, when it differs from the admin URL's host.
    pub client_host: Option<String>,
    /// Port clients should use, when it differs from the admin URL's port.
    pub client_port: Option<u16>,
    /// Extra permissions of the `keys` type (`[integrations.command_sets]`), in file order:
    /// name (a valid name, never `read` or `write`) → ACL command rules, one space between
    /// rules (`"+@read +info +client|list"`). Every rule is `+…`, `-…`, `allcommands` or
    /// `nocommands`: no key, channel, password or on/off rules (jit sets those).
    pub command_sets: Vec<(String, String)>,
}

/// Settings of a `unix-group` integration.
#[derive(Debug, Clone, PartialEq)]
pub struct UnixGroupSettings {
    /// The groups that may be granted (`groups`), not empty, without repeats, each
    /// `^[a-z_][a-z0-9_-]{0,31}$`. Whether they exist is checked by the daemon.
    pub groups: Vec<String>,
}

/// Settings of a `sudo` integration.
#[derive(Debug, Clone, PartialEq)]
pub struct SudoSettings {
    /// The commands that may be granted (`[integrations.commands]`), in file order, not empty:
    /// name (a valid name) → command line, trimmed, starting with an absolute path (not a
    /// directory) and free of the characters sudoers treats specially (`,` `:` `=` `\` `#`) and
    /// of control characters.
    pub commands: Vec<(String, String)>,
    /// Where grants are written as drop-in files (`sudoers_dir`, default `/etc/sudoers.d`);
    /// absolute.
    pub sudoers_dir: PathBuf,
    /// The user the commands run as (`run_as`, default `root`): `^[a-z_][a-z0-9_-]{0,31}$`.
    pub run_as: String,
}

/// Settings of an `ssh` integration.
#[derive(Debug, Clone, PartialEq)]
pub struct SshSettings {
    /// The CA's private key (`ca_key`), absolute; `None`: a key in the daemon's state
    /// directory.
    pub ca_key: Option<PathBuf>,
    /// The key revocation list sshd reads through `RevokedKeys` (`krl`), absolute, not
    /// `ca_key`.
    pub krl: PathBuf,
    /// The principals that may be granted (`principals`), not empty, without repeats, each
    /// `^[a-z_][a-z0-9_.-]{0,31}$`.
    pub principals: Vec<String>,
    /// The host clients connect to (`client_host`, default `localhost`).
    pub client_host: String,
    /// The port clients connect to (`client_port`, default 22).
    pub client_port: u16,
    /// The type of the key pairs jit generates (`key_type`): `ed25519` (the default) or
    /// `ecdsa` (NIST P-256).
    pub key_type: String,
}

/// Settings of an `exec` integration.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecSettings {
    /// The admin's executable (`command`), absolute.
    pub command: PathBuf,
    /// The arguments it is run with (`args`), as written (possibly empty); none holds a NUL.
    pub args: Vec<String>,
    /// How long one run may take before it is killed and counts as failed (`timeout`, default
    /// 30 s, from 1 s to 10 min).
    pub timeout: Duration,
    /// Extra environment variables (`env`), in file order: name (`^[A-Za-z_][A-Za-z0-9_]*$`)
    /// → value (no NUL). Not secret: `Debug` shows them.
    pub env: Vec<(String, String)>,
}

/// Whether a flow asks for a justification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Justification {
    /// The request must carry a non-empty justification.
    Required,
    /// A justification may be given.
    Optional,
}

/// How a flow approves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Approved at once.
    Auto,
    /// Needs `required` distinct approvers among `approvers` (never the requester).
    Manual {
        /// Who may approve.
        approvers: Vec<Principal>,
        /// How many distinct approvals are needed (≥ 1).
        required: u32,
    },
}

/// Whether extending a grant needs approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionApproval {
    /// Extended at once (within the flow's limits).
    Auto,
    /// Goes back to the flow's approvers (its [`Approval::Manual`] approvers, or for a
    /// break-glass flow its [`Flow::notify`] list), who approve as for a request.
    Manual,
}

/// One `[[flows]]` entry: who may request what, and how it is approved.
///
/// A flow covers either one integration (`integration` is `Some`, `bundles` is empty) or
/// whole bundles (`integration` is `None`, `bundles` is not empty, and `resource_types`,
/// `resources` and `permissions` are empty: the bundles' entries say what is granted).
#[derive(Debug, Clone)]
pub struct Flow {
    /// Its name, unique.
    pub name: String,
    /// Who may request through it.
    pub requesters: Vec<Principal>,
    /// The integration it covers; `None` for a bundle flow.
    pub integration: Option<String>,
    /// The bundles it grants, each configured; empty for an integration flow.
    pub bundles: Vec<String>,
    /// Resource types it allows (all of the integration's when the key is absent); empty for
    /// a bundle flow.
    pub resource_types: Vec<String>,
    /// Resource patterns it allows: exact names, or `*` wildcards (`report_*`); empty for a
    /// bundle flow.
    pub resources: Vec<String>,
    /// Permissions it allows (all of the allowed types' when the key is absent); empty for a
    /// bundle flow.
    pub permissions: Vec<String>,
    /// Automatic or manual approval ([`Approval::Auto`] for a break-glass flow).
    pub approval: Approval,
    /// Break-glass (`break_glass`): granted at once without approval, a justification is
    /// required, and [`Flow::notify`] are told; the request and its audit entries are flagged.
    pub break_glass: bool,
    /// Who is told when a break-glass flow is used (its `approvers`, never empty then);
    /// empty for other flows. (Not the `notify` key: that is [`Flow::channels`].)
    pub notify: Vec<Principal>,
    /// The notification channels this flow's requests go to besides the global ones (the
    /// `notify` key): names of `[[notifications]]`, without repeats.
    pub channels: Vec<String>,
    /// Duration when the request names none.
    pub default_duration: Duration,
    /// The longest duration it allows (of the initial grant).
    pub max_duration: Duration,
    /// How many times a grant may be extended (0: never).
    pub max_extensions: u32,
    /// The longest a grant may last in total, initial duration plus extensions: at least
    /// `max_duration`; `max_duration × (1 + max_extensions)` (at most 366 days) when not
    /// written, so `max_duration` when extending is not allowed.
    pub max_total_duration: Duration,
    /// Whether an extension needs approval (always `Auto` when `max_extensions` is 0).
    pub extension_approval: ExtensionApproval,
    /// Whether a justification is required.
    pub justification: Justification,
    /// A regular expression the justification must match (implies required).
    pub justification_pattern: Option<regex::Regex>,
    /// How long a request may stay pending (the daemon's `pending_ttl` when absent).
    pub pending_ttl: Option<Duration>,
}

/// One `[[bundles]]` entry: a named set of grants over one or more integrations, requested
/// and provisioned as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Its name, unique among bundles.
    pub name: String,
    /// The admin's message shown with every grant of the bundle.
    pub message: Option<String>,
    /// What it grants, in file order (at least one entry; two may name the same integration).
    pub entries: Vec<BundleEntry>,
}

/// One `[[bundles.entries]]` table: permissions on resources of one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEntry {
    /// A configured integration.
    pub integration: String,
    /// One of the integration's resource types.
    pub resource_type: String,
    /// Exact resource names (no patterns), not empty, without repeats.
    pub resources: Vec<String>,
    /// Permissions of the resource type, not empty, without repeats.
    pub permissions: Vec<String>,
}

/// One `[[notifications]]` entry: where notifications of request events go.
///
/// A channel is *global* (every flow's requests) or used only by the flows that name it in
/// their `notify` list. Every event it is sent is first written to the store's outbox in the
/// transaction that made it, then delivered at least once.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Its name, unique among channels (`ops-slack`).
    pub name: String,
    /// The events it is sent (`events`), as `jit watch` names them (`approval_needed`,
    /// `granted`, …); [`DEFAULT_NOTIFY_EVENTS`] when the key is absent.
    pub events: Vec<String>,
    /// Whether every flow's requests go to it (`global`, default false: only the flows that
    /// list it in `notify`).
    pub global: bool,
    /// How long one delivery may take before it counts as failed (`timeout`, default 10 s, from
    /// 1 s to 2 min).
    pub timeout: Duration,
    /// How long an undelivered notification is retried before it is dropped (`give_up_after`,
    /// default 3 days, from 1 s to 30 days).
    pub give_up_after: Duration,
    /// The most undelivered notifications kept for it (`max_pending`, default 10,000, from 1 to
    /// 100,000); past that the oldest is dropped.
    pub max_pending: u32,
    /// Where and how it delivers.
    pub kind: ChannelKind,
}

/// The events a channel is sent when its `events` key is absent.
pub const DEFAULT_NOTIFY_EVENTS: [&str; 8] = [
    "approval_needed",
    "granted",
    "rejected",
    "expiring",
    "revoked",
    "expired",
    "failed",
    "revoke_failed",
];

/// Every event a channel may be sent: the kinds of `events.subscribe` (but `lagged`, which is
/// about a subscription, not a request).
pub const NOTIFY_EVENTS: [&str; 20] = [
    "created",
    "approval_needed",
    "approval_added",
    "approved",
    "rejected",
    "canceled",
    "started",
    "granted",
    "revoking",
    "revoke_failed",
    "expired",
    "revoked",
    "failed",
    "expiring",
    "extension_requested",
    "extended",
    "extension_rejected",
    "credentials_rotated",
    "credentials_reset",
    "credentials_reset_failed",
];

/// What kind of channel, with its settings. Every URL here is a secret: it is the credential
/// of the receiving end, so it is never logged or put in a message.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    /// A Slack incoming webhook (`url`, `url_env` or `url_file`).
    Slack {
        /// The webhook URL.
        url: Secret,
    },
    /// A Microsoft Teams incoming webhook (`url`, `url_env` or `url_file`).
    Teams {
        /// The webhook URL.
        url: Secret,
    },
    /// A generic JSON webhook, each body signed with HMAC-SHA256.
    Webhook {
        /// The URL (`url`, `url_env` or `url_file`).
        url: Secret,
        /// The HMAC key (`secret_env` or `secret_file`).
        secret: Secret,
    },
    /// Email over SMTP to the requester and the approvers.
    Email(EmailSettings),
}

impl ChannelKind {
    /// The kind's name as written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Teams { .. } => "teams",
            ChannelKind::Webhook { .. } => "webhook",
            ChannelKind::Email(_) => "email",
        }
    }
}

/// How an email channel reaches its SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS when the server offers it, plain otherwise (the default without a password,
    /// or with the server on this host).
    Opportunistic,
    /// STARTTLS, or no delivery.
    Required,
    /// TLS from the first byte (SMTPS, usually port 465).
    Wrapper,
}

/// Settings of an `email` channel.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// The SMTP server (`url`, `url_env` or `url_file`):
    /// `smtp://[USER[:PASSWORD]@]HOST[:PORT]` (port 25 by default, 465 with `tls = "wrapper"`).
    pub url: Secret,
    /// How TLS is used (`tls`): `required` by default when the URL has a password and the
    /// server is not on this host, `opportunistic` otherwise.
    pub tls: SmtpTls,
    /// More CA certificates (PEM) to trust for the server, besides the system's (`ca_file`).
    pub ca_pem: Option<String>,
    /// The sender (`from`), like `jit <jit@example.com>`.
    pub from: String,
    /// A user's address when `addresses` has none: `user@domain` (`domain`).
    pub domain: Option<String>,
    /// Users' addresses (`[notifications.addresses]`), in file order: user → address.
    pub addresses: Vec<(String, String)>,
}

impl EmailSettings {
    /// The address of `user`: from `addresses`, else `user@domain`, else none.
    pub fn address_of(&self, user: &str) -> Option<String> {
        self.addresses
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, a)| a.clone())
            .or_else(|| self.domain.as_ref().map(|d| format!("{user}@{d}")))
    }
}

/// Whether `name` matches a flow's resource `pattern` (`*` matches any run of characters).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = parts.collect();
    if pieces.is_empty() {
        return rest.is_empty();
    }
    let (last, middle) = pieces.split_last().unwrap_or((&"", &[]));
    for piece in middle {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}
