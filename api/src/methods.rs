//! One type per JSON-RPC method: its name, parameters and result.
//!
//! Parameters are always a JSON object (by name); fields marked optional may be omitted.
//! The daemon registers exactly the methods in [`ALL`], and `docs/api.md` documents each of
//! them (a test checks both).

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::types::{
    AdminStatusReport, AuditRecord, AuditVerification, CatalogEntry, ConnectKind, ConnectPlan,
    Credentials, DaemonStatus, Metrics, ReloadReport, Request, RequestId, Status, Subscribed,
    SubscriptionId, Timestamp,
};

/// A JSON-RPC method of the jit protocol.
pub trait Method {
    /// The method's name on the wire (`request.create`).
    const NAME: &'static str;
    /// The `params` object.
    type Params: Serialize + DeserializeOwned + Send + 'static;
    /// The `result` value.
    type Output: Serialize + DeserializeOwned + Clone + Send + 'static;
}

macro_rules! methods {
    ($($(#[$doc:meta])* $ty:ident = $name:literal ($params:ty) -> $out:ty;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;
            impl Method for $ty {
                const NAME: &'static str = $name;
                type Params = $params;
                type Output = $out;
            }
        )*
        /// The names of every method, in the order `docs/api.md` lists them.
        pub const ALL: &[&str] = &[$($name),*];
    };
}

methods! {
    /// The daemon's version, protocol version, mode, who the caller is, counts.
    DaemonStatusMethod = "daemon.status" (Empty) -> DaemonStatus;
    /// What the caller may request: one entry per access flow that names them.
    CatalogList = "catalog.list" (Empty) -> Vec<CatalogEntry>;
    /// Ask for access. Auto-approved requests come back `granting` (or `granted`).
    RequestCreate = "request.create" (CreateParams) -> Request;
    /// The caller's requests (or those they may review, or all for admins).
    RequestList = "request.list" (ListParams) -> Vec<Request>;
    /// One request the caller may see.
    RequestGet = "request.get" (IdParams) -> Request;
    /// Wait until a request leaves a transient status, or a timeout.
    RequestWait = "request.wait" (WaitParams) -> Request;
    /// Approve a pending request (approvers of its flow, never the requester).
    RequestApprove = "request.approve" (DecideParams) -> Request;
    /// Reject a pending request (approvers of its flow, or admins).
    RequestReject = "request.reject" (DecideParams) -> Request;
    /// Withdraw one's own pending or scheduled request.
    RequestCancel = "request.cancel" (DecideParams) -> Request;
    /// Ask again for what a closed request asked for, with a new justification.
    RequestAgain = "request.again" (AgainParams) -> Request;
    /// Take granted access away now (the requester or an admin).
    GrantRevoke = "grant.revoke" (DecideParams) -> Request;
    /// Ask for more time on a granted request, within the flow's limits.
    GrantExtend = "grant.extend" (ExtendParams) -> Request;
    /// Show a granted request's secrets, once; they are erased afterwards.
    CredentialsReveal = "credentials.reveal" (IdParams) -> Credentials;
    /// New secrets for every session of a granted request; the old ones stop working.
    CredentialsReset = "credentials.reset" (DecideParams) -> Request;
    /// What to launch to use a session without seeing its secret.
    SessionConnect = "session.connect" (ConnectParams) -> ConnectPlan;
    /// Register a process launched by `session.connect`, so it ends with the access.
    SessionRegister = "session.register" (RegisterParams) -> Empty;
    /// Read the audit log (admins: all; others: entries about their own requests).
    AuditList = "audit.list" (AuditParams) -> Vec<AuditRecord>;
    /// Check the audit log's hash chain from the first record to the head (admins).
    AuditVerify = "audit.verify" (Empty) -> AuditVerification;
    /// Push events about the requests the caller may see, as `events.event` notifications
    /// on this connection, until it closes or `events.unsubscribe`.
    EventsSubscribe = "events.subscribe" (SubscribeParams) -> Subscribed;
    /// End a subscription made on this connection.
    EventsUnsubscribe = "events.unsubscribe" (UnsubscribeParams) -> Empty;
    /// The daemon's metrics in the Prometheus text exposition format (admins).
    DaemonMetrics = "daemon.metrics" (Empty) -> Metrics;
    /// Re-read the config file (admins). An invalid file, or one that removes an integration
    /// that still has open requests (without `revoke_orphans`), is refused and the running
    /// config stays.
    AdminReload = "admin.reload" (ReloadParams) -> ReloadReport;
    /// The daemon's health for admins: integrations reachable, queues, revoking grants, the
    /// next deadline, the config in force.
    AdminStatus = "admin.status" (Empty) -> AdminStatusReport;
    /// What orphan reconciliation found and did, newest first (admins).
    AdminOrphans = "admin.orphans" (OrphansParams) -> Vec<AuditRecord>;
    /// Save what a request asks for under a name, to ask again with `@NAME` (per user).
    SavedSave = "saved.save" (SaveParams) -> SavedRequest;
    /// The caller's saved requests, by name.
    SavedList = "saved.list" (Empty) -> Vec<SavedRequest>;
    /// Forget one of the caller's saved requests.
    SavedDelete = "saved.delete" (NameParams) -> Empty;
}

/// The method name of the notifications `events.subscribe` pushes.
pub const EVENT_NOTIFICATION: &str = "events.event";

/// No parameters: `{}` (or omitted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Parameters of `request.create`: an integration, resource type, resources and
/// permissions — or a bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateParams {
    /// Integration name (`pg-main`); not with `bundle`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub integration: String,
    /// Resource type (`database`); not with `bundle`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_type: String,
    /// Resources, 1 to 1,000; not with `bundle`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Permissions, at least one; not with `bundle`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// A bundle name instead of the four fields above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// Start the access later (a scheduled start); at once when omitted.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub start_at: Option<Timestamp>,
    /// How long the access should last; the flow's default when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// Why; required or checked against a pattern by some flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// Which requests `request.list` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The caller's own requests.
    #[default]
    Mine,
    /// Pending requests the caller may approve or reject.
    Review,
    /// Every request (admins only).
    All,
}

/// Parameters of `request.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Closed requests (history) instead of open ones.
    #[serde(default)]
    pub closed: bool,
    /// Whose requests.
    #[serde(default)]
    pub scope: Scope,
    /// Only this resource type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Only requests with a session on this integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    /// Only requests of this requester (with `scope = all`; admins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    /// Only requests in this status; it decides open or closed by itself (`closed` is then
    /// ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// At most this many, newest first (default 100, at most 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only requests with an id below this one: the next page, after a page that ended with
    /// request `before`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<RequestId>,
}

/// Parameters naming one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdParams {
    /// The request's number.
    pub id: RequestId,
}

/// What `request.wait` waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitFor {
    /// Until the request is not `granting` (it settled as granted, failed, …).
    #[default]
    Settled,
    /// Until the request is decided: not `pending`, `scheduled` or `granting`.
    Decided,
    /// Until the request is closed.
    Closed,
}

/// Parameters of `request.wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitParams {
    /// The request's number.
    pub id: RequestId,
    /// What to wait for.
    #[serde(default)]
    pub until: WaitFor,
    /// Give up after this many seconds and return the request as it is (default 30, at most 3,600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// Parameters of approve, reject, cancel and revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideParams {
    /// The request's number.
    pub id: RequestId,
    /// Why, recorded in the request and the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Parameters of `grant.extend`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendParams {
    /// The request's number.
    pub id: RequestId,
    /// How much longer.
    pub duration_secs: u64,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Parameters of `session.connect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectParams {
    /// The request's number.
    pub id: RequestId,
    /// The session (integration name); needed when the request has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// How to connect; the first the session offers when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ConnectKind>,
    /// The arguments the client will add after the plan's `argv` (a terminal only), so that
    /// jitd can refuse those that would let the program outlive the access (`ssh -f`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// Parameters of `session.register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterParams {
    /// The request's number.
    pub id: RequestId,
    /// The session (integration name).
    pub session: String,
    /// The process launched; it must belong to the caller.
    pub pid: u32,
}

/// Parameters of `request.again`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgainParams {
    /// The closed request to repeat.
    pub id: RequestId,
    /// A new justification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// A new duration; the original one when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
}

/// Parameters of `saved.save`: a name and what `request.create` would be asked, without a
/// justification or a start time (given each time the saved request is used).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveParams {
    /// The name: 1 to 64 letters, digits, `.`, `_` or `-`; saving under a name that exists
    /// replaces it.
    pub name: String,
    /// What to ask for (`justification` and `start_at` must be absent).
    pub request: CreateParams,
}

/// A saved request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRequest {
    /// Its name.
    pub name: String,
    /// What it asks for; pass it to `request.create` with a justification.
    pub request: CreateParams,
    /// When it was saved.
    #[serde(with = "time::serde::rfc3339")]
    pub saved_at: crate::types::Timestamp,
}

/// Parameters naming a saved request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameParams {
    /// The saved request's name.
    pub name: String,
}

/// Parameters of `audit.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only entries about this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestId>,
    /// Only entries at or after this time.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub since: Option<Timestamp>,
    /// Only entries with a sequence number above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<u64>,
    /// At most this many, oldest first (default 1,000, at most 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Parameters of `events.subscribe`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeParams {
    /// Only events about this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestId>,
}

/// Parameters of `events.unsubscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeParams {
    /// The subscription, as `events.subscribe` returned it on this connection.
    pub subscription: SubscriptionId,
}

/// Parameters of `admin.reload`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadParams {
    /// Revoke (or reject, when not granted yet) the open requests of integrations the new
    /// config removes, with the reason "integration removed", instead of refusing the reload.
    #[serde(default)]
    pub revoke_orphans: bool,
}

/// Parameters of `admin.orphans`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrphansParams {
    /// At most this many, newest first (default 100, at most 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}
