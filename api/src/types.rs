//! Wire types: what methods take and return.
//!
//! Times are RFC 3339 strings in UTC; durations are whole seconds (`*_secs`); statuses and
//! other enumerations are lower-case words. Optional fields may be absent; clients must
//! ignore fields they do not know, so new ones can be added without a protocol bump.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A request's number, unique and never reused on one daemon.
pub type RequestId = u64;

/// A point in time, sent as RFC 3339 in UTC.
pub type Timestamp = OffsetDateTime;

/// Where a request is in its lifecycle.
///
/// Open: `pending`, `scheduled`, `granting`, `granted`, `revoking`.
/// Closed: `expired`, `revoked`, `rejected`, `failed`, `canceled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for the approvers to approve or reject.
    Pending,
    /// Approved, waiting for its start time.
    Scheduled,
    /// Approved; the access is being provisioned.
    Granting,
    /// The access exists; see the sessions.
    Granted,
    /// The access is being taken away (expiry or revoke); it still exists until this ends.
    Revoking,
    /// The time was up and the access is gone.
    Expired,
    /// Revoked early, and the access is gone.
    Revoked,
    /// Rejected by an approver, or timed out while pending.
    Rejected,
    /// Provisioning failed; nothing is left provisioned.
    Failed,
    /// Withdrawn by the requester while pending.
    Canceled,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 10] = [
        Status::Pending,
        Status::Scheduled,
        Status::Granting,
        Status::Granted,
        Status::Revoking,
        Status::Expired,
        Status::Revoked,
        Status::Rejected,
        Status::Failed,
        Status::Canceled,
    ];

    /// Whether the request is still open (not finished).
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            Status::Pending
                | Status::Scheduled
                | Status::Granting
                | Status::Granted
                | Status::Revoking
        )
    }

    /// The lower-case word used on the wire and in `--json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Scheduled => "scheduled",
            Status::Granting => "granting",
            Status::Granted => "granted",
            Status::Revoking => "revoking",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
            Status::Canceled => "canceled",
        }
    }

    /// The capitalised name people see ("Pending", "Granted", …), as in the seeds.
    pub const fn label(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Scheduled => "Scheduled",
            Status::Granting => "Granting",
            Status::Granted => "Granted",
            Status::Revoking => "Revoking",
            Status::Expired => "Expired",
            Status::Revoked => "Revoked",
            Status::Rejected => "Rejected",
            Status::Failed => "Failed",
            Status::Canceled => "Canceled",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a request is approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalMode {
    /// Approved by the access flow itself, at once.
    Auto,
    /// Needs `approvals_required` distinct approvers.
    Manual,
}

/// One approver's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The approver's user name.
    pub by: String,
    /// When they decided.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// Their reason, if they gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Who decides a request, and what they decided so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Automatic or manual.
    pub mode: ApprovalMode,
    /// The flow's approver rules (`carol`, `%dba`); empty for automatic approval.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// How many distinct approvers must approve.
    pub required: u32,
    /// The approvals given so far.
    #[serde(default)]
    pub approvals: Vec<Decision>,
    /// The rejection, if the request was rejected by a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<Decision>,
}

/// Whether a session's secret can still be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialState {
    /// The integration hands out no secret (dry-run, or access tied to the Unix user).
    None,
    /// The secret exists and has not been shown yet: `credentials.reveal` shows it once.
    Unrevealed,
    /// The secret was shown once and erased from the daemon.
    Revealed,
}

/// What a session's secret is, so that a client can say how to use it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// A password (PostgreSQL, MariaDB, Redis).
    #[default]
    Password,
    /// An SSH private key in OpenSSH format (`ssh`), used with the certificate in `files`.
    PrivateKey,
    /// A token or API key (an `exec` command may say so).
    Token,
}

impl SecretKind {
    /// True for [`SecretKind::Password`], which the wire leaves out.
    pub fn is_password(&self) -> bool {
        *self == SecretKind::Password
    }
}

/// A file that goes with a session: saved beside the secret (`credentials.reveal`, an SSH
/// certificate) or written by the client before it launches a terminal (`session.connect`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFile {
    /// A plain file name, without `/` (`jit_alice_42_3f9a0c1e-cert.pub`).
    pub name: String,
    /// Its text. In a [`ConnectPlan`] it may be the secret (an SSH private key).
    pub contents: String,
}

impl std::fmt::Debug for SessionFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A connect plan's files may hold the secret: the name only.
        f.debug_struct("SessionFile")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One thing a request asks for: resources of one resource type on one integration, with
/// permissions. A plain request has one entry; a bundle has one or more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The integration (`pg-main`).
    pub integration: String,
    /// The resource type (`database`).
    pub resource_type: String,
    /// The resources (`orders`).
    pub resources: Vec<String>,
    /// The permissions (`read`).
    pub permissions: Vec<String>,
}

/// How a session can be used without copying credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectKind {
    /// Open the integration's client in a terminal (`psql`).
    Terminal,
    /// Open a web page the admin configured (`browser_url`).
    Browser,
    /// Open a connection URI in a desktop app (`postgres://…`, without the secret).
    App,
}

/// The access a granted request gives on one integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The integration's name (`pg-main`).
    pub integration: String,
    /// The integration's kind (`postgres`, `dry-run`).
    pub kind: String,
    /// What was provisioned: the login role, user or principal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The resources this session opens (over all of the request's entries on this integration).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Whether the secret can still be shown.
    pub credentials: CredentialState,
    /// True when the secret changed since the requester last saw or used it (an admin's
    /// reset, a rotation): saved credentials or client profiles may no longer work.
    #[serde(default)]
    pub rotated: bool,
    /// The ways `session.connect` can open this session; empty when it cannot.
    #[serde(default)]
    pub connect: Vec<ConnectKind>,
    /// The admin's message for this integration, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// True when the integration provisions nothing (kind `dry-run`).
    #[serde(default)]
    pub dry_run: bool,
    /// How to use the access, from the integration (an `exec` command's instructions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Files that go with the access and are not secret (an SSH certificate, renewed when the
    /// grant is extended).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<SessionFile>,
}

/// A revoke that has not succeeded yet and is being retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoking {
    /// The last error from the integration, if an attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many attempts failed so far.
    pub attempts: u32,
    /// When the next attempt is due.
    #[serde(with = "time::serde::rfc3339")]
    pub next_retry_at: Timestamp,
    /// What the request becomes once the access is gone: `expired` or `revoked`.
    pub outcome: Status,
}

/// A request, as its requester, its approvers and admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The request's number.
    pub id: RequestId,
    /// The user who asked.
    pub requester: String,
    /// The access flow that decided it.
    pub flow: String,
    /// The bundle requested, if this is a bundle request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// What is asked for: one entry, or a bundle's entries (at most 1,000 resources in all).
    pub entries: Vec<Entry>,
    /// Why the requester needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Where the request is.
    pub status: Status,
    /// How long the access lasts once granted.
    pub duration_secs: u64,
    /// When it was asked for.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    /// A scheduled start: the access is provisioned then (and its clock starts then).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub start_at: Option<Timestamp>,
    /// When a pending request is rejected as timed out.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub pending_until: Option<Timestamp>,
    /// When the access was granted (the clock starts here).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub granted_at: Option<Timestamp>,
    /// When the access ends.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<Timestamp>,
    /// When the request closed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub ended_at: Option<Timestamp>,
    /// Why it closed, in words ("expired", "revoked by alice: done", "timed out", …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// The error a person can act on, for a failed request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Who decides, and what they decided.
    pub approval: Approval,
    /// The closed request this one repeats ("request again").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<RequestId>,
    /// One session per integration, once granted.
    #[serde(default)]
    pub sessions: Vec<Session>,
    /// Present while a revoke is being retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoking: Option<Revoking>,
    /// True when nothing is really provisioned (kind `dry-run`).
    #[serde(default)]
    pub dry_run: bool,
    /// True for a break-glass request: granted without approval, approvers told, flagged.
    #[serde(default)]
    pub break_glass: bool,
    /// Extensions granted so far.
    #[serde(default)]
    pub extensions: Vec<Extension>,
    /// An extension waiting for approval, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_extension: Option<Extension>,
}

/// One extension of a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// Who asked.
    pub by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// How much longer.
    pub added_secs: u64,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Approvals, when extensions need approval.
    #[serde(default)]
    pub approvals: Vec<Decision>,
}

/// What `session.connect` tells the client to launch. The daemon never runs programs in a
/// user's session; the client launches this. Holds the secret: never print or log it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectPlan {
    /// The request.
    pub id: RequestId,
    /// The session's integration.
    pub integration: String,
    /// Which kind of launch this is.
    pub kind: ConnectKind,
    /// For `terminal`: the program and its arguments (no secret in them).
    #[serde(default)]
    pub argv: Vec<String>,
    /// For `terminal`: environment variables to set; may hold the secret (`PGPASSWORD`).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// For `browser` and `app`: the URL or URI to open (never with the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The admin's message for this integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For `terminal`: files to write, each with mode 0600, into a new private directory
    /// before launching `argv`; `{files}` in `argv` and in `env` values stands for that
    /// directory's path. A file may hold the secret (an SSH private key). Remove the
    /// directory when the program exits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<SessionFile>,
}

impl std::fmt::Debug for ConnectPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectPlan")
            .field("id", &self.id)
            .field("integration", &self.integration)
            .field("kind", &self.kind)
            .field("argv", &self.argv)
            .field(
                "env",
                &self
                    .env
                    .iter()
                    .map(|(k, _)| (k, "<redacted>"))
                    .collect::<Vec<_>>(),
            )
            .field("url", &self.url)
            .field("files", &self.files)
            .finish()
    }
}

/// Credentials for one session, shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCredentials {
    /// The integration's name.
    pub integration: String,
    /// The user or role to log in as.
    pub user: String,
    /// The secret (password). Shown once; the daemon erases it afterwards.
    pub secret: String,
    /// Host to connect to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Port to connect to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Databases (or other resources) the credentials open.
    #[serde(default)]
    pub resources: Vec<String>,
    /// How to log in, in words.
    pub instructions: String,
    /// An example command that logs in (the secret is never part of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// What `secret` is; a password when left out.
    #[serde(default, skip_serializing_if = "SecretKind::is_password")]
    pub secret_kind: SecretKind,
    /// Files to save beside the secret, not secret themselves (an SSH certificate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<SessionFile>,
}

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCredentials")
            .field("integration", &self.integration)
            .field("user", &self.user)
            .field("secret", &"<redacted>")
            .field("secret_kind", &self.secret_kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The result of `credentials.reveal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The request these belong to.
    pub id: RequestId,
    /// One entry per session that has a secret.
    pub sessions: Vec<SessionCredentials>,
    /// When the access ends.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<Timestamp>,
}

/// A resource type of an integration and its permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceTypeEntry {
    /// The resource type (`database`).
    pub name: String,
    /// The permissions the flow allows on it.
    pub permissions: Vec<String>,
}

/// What one access flow lets the caller request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The access flow's name.
    pub flow: String,
    /// The integration it covers (empty for a bundle flow).
    pub integration: String,
    /// The integration's kind (empty for a bundle flow).
    pub kind: String,
    /// The bundles it grants (a bundle flow), each with its entries.
    #[serde(default)]
    pub bundles: Vec<BundleEntry>,
    /// Extensions allowed per grant.
    #[serde(default)]
    pub max_extensions: u32,
    /// True for a break-glass flow (granted at once, approvers told, flagged).
    #[serde(default)]
    pub break_glass: bool,
    /// Resource types and permissions.
    pub resource_types: Vec<ResourceTypeEntry>,
    /// Resource patterns (`*`, `orders`, `report_*`).
    pub resources: Vec<String>,
    /// Automatic or manual approval.
    pub approval: ApprovalMode,
    /// Approver rules, for manual approval.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub approvals_required: u32,
    /// Duration used when the request names none.
    pub default_duration_secs: u64,
    /// The longest duration the flow allows.
    pub max_duration_secs: u64,
    /// Whether a justification is required.
    pub justification_required: bool,
    /// A pattern the justification must match, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification_pattern: Option<String>,
    /// The admin's message for the integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// True when the integration provisions nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A bundle a flow grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEntry {
    /// The bundle's name.
    pub name: String,
    /// The admin's message for the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What it grants.
    pub entries: Vec<Entry>,
}

/// Who the daemon thinks the caller is (from the socket's peer credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// User name.
    pub user: String,
    /// Numeric user id.
    pub uid: u32,
    /// Group names, primary first.
    pub groups: Vec<String>,
    /// Whether the caller is a jit admin.
    pub admin: bool,
}

/// Request counts by status group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Pending requests.
    pub pending: u64,
    /// Granted requests (access exists).
    pub granted: u64,
    /// Requests whose revoke is being retried.
    pub revoking: u64,
    /// All open requests.
    pub open: u64,
}

/// The result of `daemon.status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The protocol version the daemon speaks.
    pub protocol_version: u32,
    /// The daemon's version.
    pub version: String,
    /// `system` or `user`.
    pub mode: String,
    /// When the daemon started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: Timestamp,
    /// Who the caller is.
    pub caller: Caller,
    /// Counts over the requests the caller may see.
    pub counts: Counts,
    /// The caller-visible requests whose revoke is being retried.
    #[serde(default)]
    pub revoking: Vec<Request>,
    /// The configured integrations and their kinds.
    pub integrations: Vec<IntegrationStatus>,
    /// The notification channels and how their deliveries go (admins only: empty for others).
    #[serde(default)]
    pub notifications: Vec<ChannelStatus>,
}

/// One notification channel, as `daemon.status` reports it. Counts are since the daemon
/// started, but `pending`, which is what waits in the store's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStatus {
    /// The channel's name.
    pub name: String,
    /// Its kind: `slack`, `teams`, `webhook` or `email`.
    pub kind: String,
    /// Notifications waiting to be delivered.
    pub pending: u64,
    /// Notifications delivered.
    pub delivered: u64,
    /// Delivery attempts that failed (each is retried, with backoff).
    pub failed_attempts: u64,
    /// Notifications given up: too old (`give_up_after`), refused by the receiver, pushed out
    /// of a full outbox (`max_pending`), or unreadable in the store. Each has an audit entry
    /// `notification.dropped`.
    pub dropped: u64,
    /// The last failure, if any (never holds the channel's URL or a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it happened.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_error_at: Option<Timestamp>,
}

/// One configured integration, as `daemon.status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationStatus {
    /// The integration's name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// True for `dry-run`.
    #[serde(default)]
    pub dry_run: bool,
}

/// What `audit.verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    /// True when every record is present, unchanged and in order.
    pub ok: bool,
    /// How many records were checked.
    pub checked: u64,
    /// The hash of the last record (the chain's head): write it down elsewhere, and a later
    /// check can prove the log was not rewritten as a whole either.
    pub head: String,
    /// The first record that is missing, edited or out of order, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<AuditProblem>,
}

/// What is wrong with one audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProblem {
    /// The record's sequence number.
    pub seq: u64,
    /// What is wrong, in words.
    pub problem: String,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Sequence number, from 1, without gaps.
    pub seq: u64,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// Who did it: a user name, or `jitd` for the daemon itself.
    pub actor: String,
    /// What happened (`request.created`, `request.approved`, `grant.revoked`, …).
    pub action: String,
    /// The request it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestId>,
    /// The request's status after this entry, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The reason given, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Anything else worth keeping (the error of a failed attempt, the flow, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Hex SHA-256 of the previous record (all zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over this record's fields and `prev_hash`.
    pub hash: String,
}

/// What an event says happened. Clients must ignore kinds they do not know: new ones are
/// added without a protocol version bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A request was made (`pending`, `granting` or `scheduled`).
    Created,
    /// To the approvers: a request (or an extension) waits for them; or, for a break-glass
    /// request, they are told it was granted without them.
    ApprovalNeeded,
    /// An approval was recorded that did not yet reach the number needed.
    ApprovalAdded,
    /// Approvers approved the request: it is `granting`, or `scheduled`.
    Approved,
    /// Rejected by a person, or timed out while pending.
    Rejected,
    /// Withdrawn by the requester.
    Canceled,
    /// A scheduled request's start time came: it is being provisioned.
    Started,
    /// The access exists: the sessions' admin messages and the next steps come with it.
    Granted,
    /// The access is being taken away (expiry, revoke, or the rollback of a failed grant).
    Revoking,
    /// An attempt to take the access away failed; it still exists and is retried.
    RevokeFailed,
    /// The time was up and the access is gone.
    Expired,
    /// Revoked, and the access is gone.
    Revoked,
    /// Provisioning failed and was rolled back.
    Failed,
    /// The access ends soon (`expires_in_secs`).
    Expiring,
    /// The requester asked for more time; it waits for the approvers.
    ExtensionRequested,
    /// More time was added: `expires_at` moved.
    Extended,
    /// An extension waiting for approval was rejected.
    ExtensionRejected,
    /// Someone else (an admin, or a rotation policy) changed the credentials: saved ones no
    /// longer work.
    CredentialsRotated,
    /// The requester's own credentials reset finished.
    CredentialsReset,
    /// A credentials reset failed for some session (`error`).
    CredentialsResetFailed,
    /// This subscription fell behind and `missed` events were dropped for it.
    Lagged,
}

impl EventKind {
    /// Every kind, for documentation and tests.
    pub const ALL: [EventKind; 21] = [
        EventKind::Created,
        EventKind::ApprovalNeeded,
        EventKind::ApprovalAdded,
        EventKind::Approved,
        EventKind::Rejected,
        EventKind::Canceled,
        EventKind::Started,
        EventKind::Granted,
        EventKind::Revoking,
        EventKind::RevokeFailed,
        EventKind::Expired,
        EventKind::Revoked,
        EventKind::Failed,
        EventKind::Expiring,
        EventKind::ExtensionRequested,
        EventKind::Extended,
        EventKind::ExtensionRejected,
        EventKind::CredentialsRotated,
        EventKind::CredentialsReset,
        EventKind::CredentialsResetFailed,
        EventKind::Lagged,
    ];

    /// The word used on the wire and in `--json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::ApprovalNeeded => "approval_needed",
            EventKind::ApprovalAdded => "approval_added",
            EventKind::Approved => "approved",
            EventKind::Rejected => "rejected",
            EventKind::Canceled => "canceled",
            EventKind::Started => "started",
            EventKind::Granted => "granted",
            EventKind::Revoking => "revoking",
            EventKind::RevokeFailed => "revoke_failed",
            EventKind::Expired => "expired",
            EventKind::Revoked => "revoked",
            EventKind::Failed => "failed",
            EventKind::Expiring => "expiring",
            EventKind::ExtensionRequested => "extension_requested",
            EventKind::Extended => "extended",
            EventKind::ExtensionRejected => "extension_rejected",
            EventKind::CredentialsRotated => "credentials_rotated",
            EventKind::CredentialsReset => "credentials_reset",
            EventKind::CredentialsResetFailed => "credentials_reset_failed",
            EventKind::Lagged => "lagged",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened to a request the subscriber may see, pushed by
/// `events.subscribe`. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// When it happened (for `lagged`: when the subscription caught up).
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// The request as it is right after the change; absent for `lagged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// Who caused it: a user name, or `jitd` for the daemon itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The reason given with the change, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The integration's error, for `revoke_failed`, `failed` and `credentials_reset_failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `expiring`: how many seconds of access are left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_secs: Option<u64>,
    /// What the person told can do now, as `jit` commands or in words.
    #[serde(default)]
    pub next: Vec<String>,
    /// For `lagged`: how many events were dropped for this subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<u64>,
}

/// A subscription's number, unique on one daemon for as long as it runs.
pub type SubscriptionId = u64;

/// The result of `events.subscribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    /// The subscription's number: notifications carry it, `events.unsubscribe` takes it.
    pub subscription: SubscriptionId,
}

/// The `params` of an `events.event` notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventNotification {
    /// The subscription this event is for.
    pub subscription: SubscriptionId,
    /// The event.
    pub result: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kind_words_are_the_wire_words() {
        for kind in EventKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).expect("serializes"),
                serde_json::Value::from(kind.as_str())
            );
        }
        for status in Status::ALL {
            assert_eq!(
                serde_json::to_value(status).expect("serializes"),
                serde_json::Value::from(status.as_str())
            );
        }
    }
}

/// The result of `daemon.metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// The Prometheus text exposition format's content type (`text/plain; version=0.0.4`).
    pub content_type: String,
    /// The metrics, in that format (see `docs/api.md` for the names).
    pub text: String,
}

/// The result of `admin.reload`: what the new config changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// The config file read.
    pub path: String,
    /// Hex SHA-256 of the file's bytes, as recorded in the audit log.
    pub digest: String,
    /// Whether the file is byte for byte the one in force (nothing else changed then).
    pub unchanged: bool,
    /// Integrations added.
    pub added: Vec<String>,
    /// Integrations whose settings changed (their connections are rebuilt).
    pub changed: Vec<String>,
    /// Integrations removed.
    pub removed: Vec<String>,
    /// Open requests of removed integrations that were revoked or rejected
    /// (`revoke_orphans`).
    #[serde(default)]
    pub revoked: Vec<RequestId>,
    /// How many access flows the new config has.
    pub flows: u64,
}

/// The result of `admin.status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminStatusReport {
    /// The config file in force.
    pub config_path: String,
    /// Hex SHA-256 of that file's bytes when it was loaded.
    pub config_digest: String,
    /// When it was loaded (start or last reload).
    #[serde(with = "time::serde::rfc3339")]
    pub config_loaded_at: Timestamp,
    /// Counts over every request.
    pub counts: Counts,
    /// Each integration: reachable or not, and its queue.
    pub integrations: Vec<IntegrationHealth>,
    /// Requests whose revoke is being retried.
    #[serde(default)]
    pub revoking: Vec<Request>,
    /// The earliest deadline the scheduler waits for (an expiry, a pending timeout, a
    /// scheduled start, a warning, a retry), if any.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_deadline: Option<Timestamp>,
    /// Notifications waiting in the outbox, all channels together.
    pub notifications_pending: u64,
}

/// One integration, as `admin.status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationHealth {
    /// The integration's name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Whether its server answered a probe just now; `null` for kinds without a server.
    #[serde(default)]
    pub reachable: Option<bool>,
    /// Why it did not answer (never holds a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Open requests with a session on it.
    pub open_requests: u64,
    /// Calls to it running now.
    pub in_flight: u64,
    /// Revokes waiting for their turn.
    pub queued_revokes: u64,
    /// Removed from the config but kept until its open requests are closed.
    #[serde(default)]
    pub retired: bool,
}
