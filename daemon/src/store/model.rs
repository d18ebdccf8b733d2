//! The records the store keeps, in their stored form (JSON values in redb tables).
//!
//! These are not the wire types: they carry bookkeeping the API does not show (the
//! request's current deadline, the requester's uid, who asked for a revoke), and they
//! change only with a schema version bump and a migration. Times are milliseconds since
//! the Unix epoch.

use jit_api::{ApprovalMode, CredentialState, RequestId, SecretKind, Status};
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// A request and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Request number.
    pub id: RequestId,
    /// Requester's user name.
    pub requester: String,
    /// Requester's uid when they asked.
    pub requester_uid: u32,
    /// The access flow that decided it.
    pub flow: String,
    /// The bundle requested, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// What is asked for: one entry, or a bundle's entries.
    pub entries: Vec<EntryRecord>,
    /// Justification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Current status.
    pub status: Status,
    /// Length of the grant.
    pub duration_secs: u64,
    /// When it was created.
    pub created_at: Millis,
    /// A scheduled start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<Millis>,
    /// Pending requests: when they time out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_until: Option<Millis>,
    /// When access was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<Millis>,
    /// When access ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Millis>,
    /// When the request closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Millis>,
    /// Why it closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// Provisioning error of a failed request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Approval rules and decisions.
    pub approval: ApprovalRecord,
    /// The request this one repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<RequestId>,
    /// Sessions (one per integration), filled when the request is approved.
    #[serde(default)]
    pub sessions: Vec<SessionRecord>,
    /// Set while the access is being taken away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoking: Option<RevokingRecord>,
    /// The request's entry in the deadline index, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Deadline>,
    /// True when the integration provisions nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// A break-glass request.
    #[serde(default)]
    pub break_glass: bool,
    /// Extensions granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<ExtensionRecord>,
    /// An extension waiting for approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_extension: Option<ExtensionRecord>,
    /// A credentials reset in progress: new secrets are sealed in the store as pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resetting: Option<ResetRecord>,
    /// When the integration's rotation policy next rotates the secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation: Option<Millis>,
    /// When the requester is next warned that the access ends soon (`[daemon]
    /// expiry_warnings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_warning: Option<Millis>,
}

impl RequestRecord {
    /// The integrations the request touches, in entry order, each once.
    pub fn integrations(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for e in &self.entries {
            if !out.contains(&e.integration.as_str()) {
                out.push(&e.integration);
            }
        }
        out
    }

    /// The entries on one integration.
    pub fn entries_on<'a>(
        &'a self,
        integration: &'a str,
    ) -> impl Iterator<Item = &'a EntryRecord> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.integration == integration)
    }

    /// All resources on one integration.
    pub fn resources_on(&self, integration: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.entries_on(integration) {
            for r in &e.resources {
                if !out.contains(r) {
                    out.push(r.clone());
                }
            }
        }
        out
    }
}

/// One entry of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// Integration name.
    pub integration: String,
    /// Resource type.
    pub resource_type: String,
    /// Resources.
    pub resources: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
}

/// An extension, granted or waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRecord {
    /// Who asked.
    pub by: String,
    /// When.
    pub at: Millis,
    /// How much longer, in seconds.
    pub added_secs: u64,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Approvals (manual extension approval).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<DecisionRecord>,
}

/// A credentials reset in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetRecord {
    /// Who asked (a user, or `jitd` for a rotation).
    pub by: String,
    /// Whether the requester must be told the secret changed behind their back.
    pub rotated: bool,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_true(b: &bool) -> bool {
    *b
}

/// A process launched by `jit connect`, ended with the access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// Process id.
    pub pid: u32,
    /// Its owner (the requester's uid), checked again before it is signalled.
    #[serde(default)]
    pub uid: u32,
    /// Its start time (seconds since boot, from /proc), so a reused pid is not killed.
    pub start_time: u64,
}

/// A request's approval rules, copied from its flow when it was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// Automatic or manual.
    pub mode: ApprovalMode,
    /// Approver rules as written in the flow.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub required: u32,
    /// Approvals so far.
    #[serde(default)]
    pub approvals: Vec<DecisionRecord>,
    /// A rejection by a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<DecisionRecord>,
}

/// One person's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Who.
    pub by: String,
    /// When.
    pub at: Millis,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The access on one integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Integration name.
    pub integration: String,
    /// Integration kind.
    pub kind: String,
    /// The principal (role) provisioned, if the kind makes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Whether the secret can still be shown.
    pub credentials: CredentialState,
    /// The secret changed since the requester last saw or used it.
    #[serde(default)]
    pub rotated: bool,
    /// False for a session whose grant was never attempted, or failed before changing
    /// anything: a rollback skips it. True (the safe default) otherwise.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub provisioned: bool,
    /// Processes launched by `jit connect` for this session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessRecord>,
    /// What the integration handed back that is not secret (an SSH certificate, an `exec`
    /// command's instructions and connect options). Stored in the clear: never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<MaterialRecord>,
}

/// A session's material that is not secret (see `integrations::Material`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialRecord {
    /// Who to log in as, when not the principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// What the secret is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_kind: Option<SecretKind>,
    /// Instructions in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// An example command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// Files that are not secret, as (name, contents).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<(String, String)>,
    /// A terminal program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<TerminalRecord>,
    /// A connection URI for a desktop app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_url: Option<String>,
    /// A web page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_url: Option<String>,
}

/// A terminal program of a session's material.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalRecord {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Environment; values may hold `{secret}`, never the secret itself.
    #[serde(default)]
    pub env: Vec<(String, String)>,
}

/// A revoke in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokingRecord {
    /// What the request becomes when the access is gone: expired, revoked or failed.
    pub outcome: Status,
    /// The end reason to record then.
    pub reason: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the next attempt is due.
    pub next_retry: Millis,
}

/// What a request's deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// A pending request times out.
    PendingTimeout,
    /// A granted request expires.
    Expire,
    /// A revoke attempt is due (first try, a retry, or a guard against a lost attempt).
    RetryRevoke,
    /// A scheduled request starts.
    Start,
    /// The integration's rotation policy rotates the secrets (or the grant expires, if sooner).
    Rotate,
    /// A grant in flight took too long (its task died, or its outcome could not be saved):
    /// provision again (grants are idempotent).
    RetryGrant,
    /// Warn the requester that the access ends soon (or expire it, if sooner).
    Warn,
}

impl DeadlineKind {
    /// The byte stored in the deadline index.
    pub fn code(self) -> u8 {
        match self {
            DeadlineKind::PendingTimeout => 1,
            DeadlineKind::Expire => 2,
            DeadlineKind::RetryRevoke => 3,
            DeadlineKind::Start => 4,
            DeadlineKind::Rotate => 5,
            DeadlineKind::RetryGrant => 6,
            DeadlineKind::Warn => 7,
        }
    }
    /// The kind for a stored byte.
    pub fn from_code(code: u8) -> Option<DeadlineKind> {
        match code {
            1 => Some(DeadlineKind::PendingTimeout),
            2 => Some(DeadlineKind::Expire),
            3 => Some(DeadlineKind::RetryRevoke),
            4 => Some(DeadlineKind::Start),
            5 => Some(DeadlineKind::Rotate),
            6 => Some(DeadlineKind::RetryGrant),
            7 => Some(DeadlineKind::Warn),
            _ => None,
        }
    }
}

/// A request's one entry in the deadline index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// When.
    pub at: Millis,
    /// What for.
    pub kind: DeadlineKind,
}

/// One audit log entry as stored (the hash chain is over its canonical JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sequence number from 1.
    pub seq: u64,
    /// When.
    pub at: Millis,
    /// Who: a user, or `jitd`.
    pub actor: String,
    /// What (`request.created`, …).
    pub action: String,
    /// The request concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestId>,
    /// The request's status after this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The reason given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Hex SHA-256 of the previous entry.
    pub prev_hash: String,
    /// Hex SHA-256 of this entry (computed with `hash` empty).
    pub hash: String,
}

/// A notification waiting in the outbox: one event for one channel, with what it is about as
/// it was when the transition was made (the notifier renders it from this, so retries send
/// the same thing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// The event kind, as `events.subscribe` names it (`approval_needed`).
    pub kind: String,
    /// The audited action that made it (`request.created`).
    pub action: String,
    /// Who did it.
    pub actor: String,
    /// When.
    pub at: Millis,
    /// The reason given, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Details of the action (a revoke error), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The request as the transaction left it.
    pub request: RequestRecord,
    /// Recipients already done with (sent, or refused for good), for channels that send to
    /// several (email): a retry skips them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<String>,
    /// The delivery id receivers deduplicate on: 128 random bits in hex, made when the row is
    /// written, so that no other notification has it — not even one written after an older
    /// backup of the store was restored. `None` in rows written before it existed, whose id is
    /// `<instance id>-<seq>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
}

/// What a saved request asks for (`saved.save`): a request without its justification and
/// start, made again with `jit request @NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRecord {
    /// Integration (empty with a bundle).
    #[serde(default)]
    pub integration: String,
    /// Resource type (empty with a bundle).
    #[serde(default)]
    pub resource_type: String,
    /// Resources.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// A bundle instead of the four above.
    #[serde(default)]
    pub bundle: Option<String>,
    /// The duration asked for; the flow's default when absent.
    #[serde(default)]
    pub duration_secs: Option<u64>,
    /// When it was saved.
    pub saved_at: Millis,
}
