//! What callers do to requests: create, approve, reject, cancel, revoke, request again,
//! reveal credentials, and the read side (get, list, wait, catalog, status, audit).

use std::sync::Arc;
use std::time::Duration;

use jit_api::methods::{
    AgainParams, AuditParams, CreateParams, DecideParams, ListParams, Scope, WaitFor, WaitParams,
};
use jit_api::{
    ApprovalMode, AuditProblem, AuditRecord, AuditVerification, BundleEntry, CatalogEntry, Counts,
    CredentialState, Credentials, DaemonStatus, Entry, IntegrationStatus, MAX_RESOURCES,
    MAX_TEXT_BYTES, PROTOCOL_VERSION, Request, RequestId, ResourceTypeEntry, SessionCredentials,
    SessionFile, Status,
};
use jit_config::{Approval, Config, Justification};

use super::authz::{Ask, Caller, Target, approver_rules, match_flow};
use super::events::Tx;
use super::views::ts;
use super::{Action, Engine, EngineError, Snapshot};
use crate::integrations::{Registry, SecretSource, SessionView};
use crate::store::model::{
    ApprovalRecord, AuditEntry, Deadline, DeadlineKind, DecisionRecord, EntryRecord, Millis,
    RequestRecord, RevokingRecord,
};

/// The longest a resource name may be.
const MAX_RESOURCE_BYTES: usize = 255;
/// The most permissions one request may name.
const MAX_PERMISSIONS: usize = 64;
/// How many times a request is decided again when reloads keep replacing the config it was
/// decided with before it could be written.
const MAX_CREATE_ATTEMPTS: usize = 5;
/// How far ahead a scheduled start may be.
const MAX_START_AHEAD_MS: u64 = 90 * 24 * 3600 * 1000;

fn check_text(field: &str, value: &str) -> Result<(), EngineError> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(EngineError::InvalidInput(format!(
            "{field} is {} bytes; the limit is {MAX_TEXT_BYTES}",
            value.len()
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(EngineError::InvalidInput(format!(
            "{field} contains control characters; remove them"
        )));
    }
    Ok(())
}

pub(crate) fn clean_reason(reason: Option<String>) -> Result<Option<String>, EngineError> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason {
        check_text("reason", r)?;
    }
    Ok(reason)
}

fn dedup(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for x in list {
        let x = x.trim();
        if !out.iter().any(|y| y == x) {
            out.push(x.to_owned());
        }
    }
    out
}

/// Appends an audit entry about a request (or about nothing, for daemon-wide events), and
/// notes it for the events of the transaction.
pub(crate) fn audit(
    wtx: &mut Tx<'_, '_>,
    at: Millis,
    actor: &str,
    action: &str,
    rec: Option<&RequestRecord>,
    reason: Option<&str>,
    details: Option<String>,
) -> Result<(), EngineError> {
    if let Some(r) = rec {
        wtx.note(r.id, action, actor, at, reason, details.clone());
    }
    wtx.append_audit(AuditEntry {
        seq: 0,
        at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        request: rec.map(|r| r.id),
        status: rec.map(|r| r.status),
        reason: reason.map(str::to_owned),
        // Every entry about a break-glass request says so, not only the first.
        details: match (rec.is_some_and(|r| r.break_glass), details) {
            (true, Some(d)) => Some(format!("break-glass; {d}")),
            (true, None) => Some("break-glass".to_owned()),
            (false, d) => d,
        },
        prev_hash: String::new(),
        hash: String::new(),
    })?;
    Ok(())
}

impl Engine {
    /// Reads a request the caller may see.
    fn visible(&self, caller: &Caller, id: RequestId) -> Result<RequestRecord, EngineError> {
        let rec = self
            .store
            .read(|r| r.request(id))?
            .ok_or(EngineError::NotFound(id))?;
        if self.can_see(caller, &rec) {
            Ok(rec)
        } else {
            Err(EngineError::NotFound(id))
        }
    }

    /// `request.create`.
    pub async fn create(
        self: &Arc<Self>,
        caller: &Caller,
        p: CreateParams,
    ) -> Result<Request, EngineError> {
        self.create_inner(caller, p, None).await
    }

    pub(crate) async fn create_inner(
        self: &Arc<Self>,
        caller: &Caller,
        p: CreateParams,
        repeats: Option<RequestId>,
    ) -> Result<Request, EngineError> {
        // A request is decided with one snapshot of the config, and its write checks that
        // the snapshot is still in force: a reload's check of open requests and its swap are
        // one store job (see `operate.rs`), so a request written before it is seen by that
        // check, and one decided with the old config but written after it is decided again
        // with the new one.
        for _ in 0..MAX_CREATE_ATTEMPTS {
            if let Some(created) = self
                .create_with(&self.snapshot(), caller, &p, repeats)
                .await?
            {
                return Ok(created);
            }
        }
        Err(EngineError::InvalidState(
            "the config was reloaded several times while this request was being made; send it again"
                .into(),
        ))
    }

    /// Creates a request decided with `snap`; `None` when a reload put another config in
    /// force before it could be written (nothing was).
    async fn create_with(
        self: &Arc<Self>,
        snap: &Snapshot,
        caller: &Caller,
        p: &CreateParams,
        repeats: Option<RequestId>,
    ) -> Result<Option<Request>, EngineError> {
        let cfg = &snap.config;
        let (bundle, entries) = Self::resolve_entries(cfg, p)?;
        if p.duration_secs == Some(0) {
            return Err(EngineError::InvalidInput(
                "duration must be at least 1s".into(),
            ));
        }
        let justification = p
            .justification
            .as_deref()
            .map(str::trim)
            .filter(|j| !j.is_empty())
            .map(str::to_owned);
        if let Some(j) = &justification {
            check_text("justification", j)?;
        }
        let now = self.now_ms();
        let start_at = match p.start_at {
            None => None,
            Some(t) => {
                let at = super::to_ms(t.into());
                if at + 1000 < now {
                    return Err(EngineError::InvalidInput(format!(
                        "the start time {t} is in the past; omit it to start at once"
                    )));
                }
                if at > now + MAX_START_AHEAD_MS {
                    return Err(EngineError::InvalidInput(
                        "a scheduled start may be at most 90 days ahead".into(),
                    ));
                }
                (at > now).then_some(at)
            }
        };
        let target = match bundle.as_deref() {
            Some(b) => Target::Bundle(b),
            None => Target::Integration {
                integration: &entries[0].integration,
                resource_type: &entries[0].resource_type,
                resources: &entries[0].resources,
                permissions: &entries[0].permissions,
            },
        };
        let ask = Ask {
            target,
            duration_secs: p.duration_secs,
            justification: justification.as_deref(),
        };
        let flow = match_flow(cfg, caller, &ask).map_err(|e| {
            if e.bad_value {
                EngineError::InvalidInput(e.message)
            } else {
                EngineError::NoFlow(e.message)
            }
        })?;
        let duration_secs = p.duration_secs.unwrap_or(flow.default_duration.as_secs());
        let (mut approvers, required) = approver_rules(flow);
        let mode = match flow.approval {
            Approval::Auto => ApprovalMode::Auto,
            Approval::Manual { .. } => ApprovalMode::Manual,
        };
        if flow.break_glass {
            approvers = flow.notify.iter().map(ToString::to_string).collect();
        }
        let pending_ttl = flow.pending_ttl.unwrap_or(cfg.daemon.pending_ttl);
        let dry_run = entries.iter().all(|e| {
            snap.integrations
                .get(&e.integration)
                .is_some_and(|i| i.dry_run())
        });
        let mut rec = RequestRecord {
            id: 0,
            requester: caller.user.clone(),
            requester_uid: caller.uid,
            flow: flow.name.clone(),
            bundle,
            entries,
            justification,
            status: Status::Pending,
            duration_secs,
            created_at: now,
            start_at,
            pending_until: None,
            granted_at: None,
            expires_at: None,
            ended_at: None,
            end_reason: None,
            error: None,
            approval: ApprovalRecord {
                mode,
                approvers,
                required,
                approvals: Vec::new(),
                rejection: None,
            },
            repeats,
            sessions: Vec::new(),
            revoking: None,
            deadline: None,
            dry_run,
            break_glass: flow.break_glass,
            extensions: Vec::new(),
            pending_extension: None,
            resetting: None,
            next_rotation: None,
            next_warning: None,
        };
        if rec.break_glass {
            tracing::warn!(requester = %rec.requester, flow = %rec.flow, notify = %rec.approval.approvers.join(", "),
                "break-glass request: granted without approval; the flow's approvers are told");
        }
        let this = self.clone();
        let actor = caller.user.clone();
        let snap = snap.clone();
        let written = self
            .write(move |wtx| {
                if !this.in_force(&snap) {
                    return Ok(None);
                }
                rec.id = wtx.next_request_id()?;
                let details = Some(match &rec.bundle {
                    Some(b) => format!("flow {}, bundle {b}", rec.flow),
                    None => format!("flow {}", rec.flow),
                });
                let action = if rec.repeats.is_some() {
                    "request.repeated"
                } else {
                    "request.created"
                };
                audit(
                    wtx,
                    now,
                    &actor,
                    action,
                    Some(&rec),
                    rec.justification.as_deref(),
                    details,
                )?;
                let mut actions = Vec::new();
                let deadline;
                if mode == ApprovalMode::Auto {
                    let why = if rec.break_glass {
                        "break-glass: granted without approval; approvers told"
                    } else {
                        "approved automatically by the access flow"
                    };
                    let action = if rec.break_glass {
                        "request.break_glass"
                    } else {
                        "request.approved"
                    };
                    deadline =
                        this.after_approval(wtx, &mut rec, now, &snap.integrations, &mut actions)?;
                    let notify = rec
                        .break_glass
                        .then(|| format!("told: {}", rec.approval.approvers.join(", ")));
                    audit(wtx, now, "jitd", action, Some(&rec), Some(why), notify)?;
                } else {
                    let until = now
                        .saturating_add(u64::try_from(pending_ttl.as_millis()).unwrap_or(u64::MAX));
                    rec.pending_until = Some(until);
                    rec.deadline = Some(Deadline {
                        at: until,
                        kind: DeadlineKind::PendingTimeout,
                    });
                    deadline = true;
                }
                wtx.put_request(&rec, None)?;
                Ok::<_, EngineError>(Some((rec, actions, deadline)))
            })
            .await?;
        let Some((rec, actions, deadline)) = written else {
            return Ok(None);
        };
        tracing::info!(id = rec.id, requester = %rec.requester, flow = %rec.flow, status = %rec.status, "request created");
        self.metrics.request_created();
        self.after_commit(&[rec.id], actions, deadline);
        Ok(Some(self.view(&rec)))
    }

    /// Checks a create's names against the catalog of `cfg` and returns the bundle name (if any)
    /// and the entries asked for.
    pub(super) fn resolve_entries(
        cfg: &Config,
        p: &CreateParams,
    ) -> Result<(Option<String>, Vec<EntryRecord>), EngineError> {
        if let Some(name) = &p.bundle {
            if !p.integration.is_empty()
                || !p.resource_type.is_empty()
                || !p.resources.is_empty()
                || !p.permissions.is_empty()
            {
                return Err(EngineError::InvalidInput(
                    "a request names either a bundle or an integration, resource type, resources and permissions, not both".into(),
                ));
            }
            let b = cfg
                .bundles
                .iter()
                .find(|b| &b.name == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = cfg.bundles.iter().map(|b| b.name.as_str()).collect();
                    EngineError::UnknownName(format!(
                        "unknown bundle \"{name}\"; configured: {}",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ))
                })?;
            let entries = b
                .entries
                .iter()
                .map(|e| EntryRecord {
                    integration: e.integration.clone(),
                    resource_type: e.resource_type.clone(),
                    resources: e.resources.clone(),
                    permissions: e.permissions.clone(),
                })
                .collect();
            return Ok((Some(b.name.clone()), entries));
        }
        let integ = cfg
            .integrations
            .iter()
            .find(|i| i.name == p.integration)
            .ok_or_else(|| {
                let names: Vec<&str> = cfg.integrations.iter().map(|i| i.name.as_str()).collect();
                EngineError::UnknownName(format!(
                    "unknown integration \"{}\"; configured: {}",
                    p.integration,
                    names.join(", ")
                ))
            })?;
        let rtype = integ
            .resource_types
            .iter()
            .find(|t| t.name == p.resource_type)
            .ok_or_else(|| {
                let names: Vec<&str> = integ
                    .resource_types
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect();
                EngineError::UnknownName(format!(
                    "integration {} has no resource type \"{}\"; it has: {}",
                    integ.name,
                    p.resource_type,
                    names.join(", ")
                ))
            })?;
        let resources = dedup(&p.resources);
        if resources.is_empty() {
            return Err(EngineError::InvalidInput(
                "name at least one resource".into(),
            ));
        }
        if resources.len() > MAX_RESOURCES {
            return Err(EngineError::InvalidInput(format!(
                "{} resources requested; one request may name at most {MAX_RESOURCES}",
                resources.len()
            )));
        }
        for r in &resources {
            if r.is_empty() || r.len() > MAX_RESOURCE_BYTES || r.chars().any(char::is_control) {
                return Err(EngineError::InvalidInput(format!(
                    "resource name {r:?} is not valid: 1 to {MAX_RESOURCE_BYTES} bytes, no control characters"
                )));
            }
        }
        let permissions = dedup(&p.permissions);
        if permissions.is_empty() {
            return Err(EngineError::InvalidInput(format!(
                "name at least one permission (on {}/{}: {})",
                integ.name,
                rtype.name,
                rtype.permissions.join(", ")
            )));
        }
        if permissions.len() > MAX_PERMISSIONS {
            return Err(EngineError::InvalidInput(format!(
                "at most {MAX_PERMISSIONS} permissions per request"
            )));
        }
        if let Some(bad) = permissions.iter().find(|x| !rtype.permissions.contains(x)) {
            return Err(EngineError::UnknownName(format!(
                "resource type {}/{} has no permission \"{bad}\"; it has: {}",
                integ.name,
                rtype.name,
                rtype.permissions.join(", ")
            )));
        }
        Ok((
            None,
            vec![EntryRecord {
                integration: integ.name.clone(),
                resource_type: rtype.name.clone(),
                resources,
                permissions,
            }],
        ))
    }

    /// What follows an approval: a scheduled start, or granting now (on `integrations`, those
    /// in force). Returns whether a deadline was set.
    pub(crate) fn after_approval(
        &self,
        wtx: &mut Tx<'_, '_>,
        rec: &mut RequestRecord,
        now: Millis,
        integrations: &Registry,
        actions: &mut Vec<Action>,
    ) -> Result<bool, EngineError> {
        rec.pending_until = None;
        match rec.start_at.filter(|at| *at > now) {
            Some(at) => {
                rec.status = Status::Scheduled;
                rec.deadline = Some(Deadline {
                    at,
                    kind: DeadlineKind::Start,
                });
                Ok(true)
            }
            None => {
                self.begin_granting(wtx, rec, now, integrations)?;
                actions.push(Action::Grant(rec.id));
                Ok(true)
            }
        }
    }

    /// Moves a request to Granting: names its sessions (one per integration, from
    /// `integrations`, those in force) and seals their new secrets.
    pub(crate) fn begin_granting(
        &self,
        wtx: &mut Tx<'_, '_>,
        rec: &mut RequestRecord,
        now: Millis,
        integrations: &Registry,
    ) -> Result<(), EngineError> {
        let mut sessions = Vec::new();
        for name in rec.integrations() {
            let integ = integrations.get(name).cloned().ok_or_else(|| {
                EngineError::InvalidState(format!("integration {name} is no longer configured"))
            })?;
            // Generated secrets are sealed now; an integration that issues its own hands it
            // back from the grant, and `record_granted` seals it then.
            let credentials = if integ.secret_source() == SecretSource::Generated {
                let secret = crate::provision::generate_secret();
                wtx.put_secret(rec.id, name, &self.sealer.seal(&secret))?;
                CredentialState::Unrevealed
            } else {
                CredentialState::None
            };
            sessions.push(crate::store::model::SessionRecord {
                integration: name.to_owned(),
                kind: integ.kind().to_owned(),
                principal: integ.principal_for(&rec.requester, rec.id),
                credentials,
                rotated: false,
                provisioned: true,
                processes: Vec::new(),
                material: None,
            });
        }
        rec.sessions = sessions;
        rec.status = Status::Granting;
        rec.pending_until = None;
        rec.deadline = Some(grant_guard(now));
        Ok(())
    }

    /// Runs a decision on one request: `decide` checks and changes the record (or refuses),
    /// returning the audit action and any provisioning action.
    async fn transition<F>(
        self: &Arc<Self>,
        caller: &Caller,
        id: RequestId,
        decide: F,
    ) -> Result<Request, EngineError>
    where
        F: FnOnce(
                &Engine,
                &mut Tx<'_, '_>,
                &mut RequestRecord,
                Millis,
            ) -> Result<(&'static str, Option<Action>), EngineError>
            + Send
            + 'static,
    {
        let this = self.clone();
        let caller = caller.clone();
        let now = self.now_ms();
        let (rec, action, deadline) = self
            .write(move |wtx| {
                let old = wtx.request(id)?.ok_or(EngineError::NotFound(id))?;
                if !this.can_see(&caller, &old) {
                    return Err(EngineError::NotFound(id));
                }
                let mut rec = old.clone();
                let (what, action) = decide(&this, wtx, &mut rec, now)?;
                if rec == old {
                    return Ok((rec, None, false));
                }
                let reason = rec
                    .approval
                    .approvals
                    .last()
                    .filter(|_| what == "request.approval_added" || what == "request.approved")
                    .and_then(|d| d.reason.clone())
                    .or_else(|| {
                        rec.approval
                            .rejection
                            .as_ref()
                            .and_then(|d| d.reason.clone())
                    })
                    .or_else(|| rec.revoking.as_ref().map(|r| r.reason.clone()))
                    .or_else(|| rec.end_reason.clone());
                audit(
                    wtx,
                    now,
                    &caller.user,
                    what,
                    Some(&rec),
                    reason.as_deref(),
                    None,
                )?;
                wtx.put_request(&rec, Some(&old))?;
                let deadline = rec.deadline.is_some() && rec.deadline != old.deadline;
                Ok((rec, action, deadline))
            })
            .await?;
        self.after_commit(&[rec.id], action.into_iter().collect(), deadline);
        Ok(self.view(&rec))
    }

    /// `request.approve`.
    pub async fn approve(
        self: &Arc<Self>,
        caller: &Caller,
        p: DecideParams,
    ) -> Result<Request, EngineError> {
        let reason = clean_reason(p.reason)?;
        let who = caller.clone();
        self.transition(caller, p.id, move |eng, wtx, rec, now| {
            if rec.approval.mode == ApprovalMode::Auto && rec.pending_extension.is_none() {
                return Err(EngineError::InvalidState(format!(
                    "request {} was approved automatically by flow {}; there is nothing to approve",
                    rec.id, rec.flow
                )));
            }
            if rec.requester == who.user {
                return Err(EngineError::Forbidden(format!(
                    "you cannot approve your own request {}; approvers: {}",
                    rec.id,
                    rec.approval.approvers.join(", ")
                )));
            }
            if !eng.is_approver(&who, rec) {
                return Err(EngineError::Forbidden(format!(
                    "only approvers of flow {} ({}) may approve request {}",
                    rec.flow,
                    rec.approval.approvers.join(", "),
                    rec.id
                )));
            }
            if rec.status == Status::Granted && rec.pending_extension.is_some() {
                return eng.approve_extension(rec, &who, now, reason);
            }
            if rec.status != Status::Pending {
                return Err(EngineError::InvalidState(format!(
                    "request {} is {}, not pending; only pending requests can be approved",
                    rec.id, rec.status
                )));
            }
            if rec.approval.approvals.iter().any(|d| d.by == who.user) {
                return Err(EngineError::InvalidState(format!(
                    "you already approved request {}; it needs {} distinct approvers",
                    rec.id, rec.approval.required
                )));
            }
            rec.approval.approvals.push(DecisionRecord {
                by: who.user.clone(),
                at: now,
                reason,
            });
            if rec.approval.approvals.len() >= rec.approval.required as usize {
                let mut actions = Vec::new();
                eng.after_approval(wtx, rec, now, &eng.integrations(), &mut actions)?;
                Ok(("request.approved", actions.pop()))
            } else {
                Ok(("request.approval_added", None))
            }
        })
        .await
    }

    /// `request.reject`.
    pub async fn reject(
        self: &Arc<Self>,
        caller: &Caller,
        p: DecideParams,
    ) -> Result<Request, EngineError> {
        let reason = clean_reason(p.reason)?;
        let who = caller.clone();
        self.transition(caller, p.id, move |eng, _wtx, rec, now| {
            if rec.requester == who.user {
                return Err(EngineError::Forbidden(format!(
                    "you cannot reject your own request {}: cancel it instead",
                    rec.id
                )));
            }
            if !(eng.is_approver(&who, rec) || who.admin) {
                let hint = if rec.requester == who.user {
                    " (to withdraw your own request, use cancel)"
                } else {
                    ""
                };
                return Err(EngineError::Forbidden(format!(
                    "only approvers of flow {} ({}) or admins may reject request {}{hint}",
                    rec.flow,
                    rec.approval.approvers.join(", "),
                    rec.id
                )));
            }
            if rec.status == Status::Granted && rec.pending_extension.is_some() {
                // Rejecting a waiting extension leaves the grant as it was.
                rec.pending_extension = None;
                return Ok(("grant.extension_rejected", None));
            }
            if rec.status != Status::Pending {
                return Err(EngineError::InvalidState(format!(
                    "request {} is {}, not pending; only pending requests can be rejected",
                    rec.id, rec.status
                )));
            }
            reject(rec, &who.user, now, reason.as_deref());
            Ok(("request.rejected", None))
        })
        .await
    }

    /// `request.cancel`.
    pub async fn cancel(
        self: &Arc<Self>,
        caller: &Caller,
        p: DecideParams,
    ) -> Result<Request, EngineError> {
        let reason = clean_reason(p.reason)?;
        let who = caller.clone();
        self.transition(caller, p.id, move |_eng, _wtx, rec, now| {
            if rec.requester != who.user {
                return Err(EngineError::Forbidden(format!(
                    "only {} can cancel request {}",
                    rec.requester, rec.id
                )));
            }
            if !matches!(rec.status, Status::Pending | Status::Scheduled) {
                let hint = if rec.status == Status::Granted {
                    "; to end granted access, revoke it"
                } else {
                    ""
                };
                return Err(EngineError::InvalidState(format!(
                    "request {} is {}; only pending requests can be canceled{hint}",
                    rec.id, rec.status
                )));
            }
            close(
                rec,
                Status::Canceled,
                now,
                ended_by("canceled", &who.user, reason.as_deref()),
            );
            Ok(("request.canceled", None))
        })
        .await
    }

    /// `grant.revoke`.
    pub async fn revoke(
        self: &Arc<Self>,
        caller: &Caller,
        p: DecideParams,
    ) -> Result<Request, EngineError> {
        let reason = clean_reason(p.reason)?;
        let who = caller.clone();
        self.transition(caller, p.id, move |_eng, _wtx, rec, now| {
            if !(rec.requester == who.user || who.admin) {
                return Err(EngineError::Forbidden(format!(
                    "only {} or an admin can revoke request {}",
                    rec.requester, rec.id
                )));
            }
            match rec.status {
                Status::Granted => {}
                Status::Revoking => return Ok(("grant.revoke_requested", None)),
                Status::Granting => {
                    return Err(EngineError::InvalidState(format!(
                        "request {} is still being granted; revoke it in a moment, once it is granted",
                        rec.id
                    )));
                }
                Status::Pending | Status::Scheduled => {
                    return Err(EngineError::InvalidState(format!(
                        "request {} is {}; nothing is granted yet: cancel it instead",
                        rec.id, rec.status
                    )));
                }
                s => return Err(EngineError::InvalidState(format!("request {} is already {s}", rec.id))),
            }
            let why = ended_by("revoked", &who.user, reason.as_deref());
            start_revoking(rec, Status::Revoked, why, now);
            Ok(("grant.revoke_requested", Some(Action::Revoke(rec.id))))
        })
        .await
    }

    /// `request.again`: a new request for what a closed one asked, with a new justification.
    pub async fn again(
        self: &Arc<Self>,
        caller: &Caller,
        p: AgainParams,
    ) -> Result<Request, EngineError> {
        let old = self.visible(caller, p.id)?;
        if old.requester != caller.user {
            return Err(EngineError::Forbidden(format!(
                "only {} can request {} again",
                old.requester, old.id
            )));
        }
        if old.status.is_open() {
            return Err(EngineError::InvalidState(format!(
                "request {} is still {}; only closed requests can be requested again",
                old.id, old.status
            )));
        }
        let mut params = CreateParams {
            duration_secs: Some(p.duration_secs.unwrap_or(old.duration_secs)),
            justification: p.justification,
            ..CreateParams::default()
        };
        match (&old.bundle, old.entries.first()) {
            (Some(b), _) => params.bundle = Some(b.clone()),
            (None, Some(e)) => {
                params.integration = e.integration.clone();
                params.resource_type = e.resource_type.clone();
                params.resources = e.resources.clone();
                params.permissions = e.permissions.clone();
            }
            (None, None) => {
                return Err(EngineError::InvalidState(format!(
                    "request {} names nothing",
                    old.id
                )));
            }
        }
        self.create_inner(caller, params, Some(old.id)).await
    }

    /// `credentials.reveal`: shows each session's secret once, then erases it.
    pub async fn reveal(
        self: &Arc<Self>,
        caller: &Caller,
        id: RequestId,
    ) -> Result<Credentials, EngineError> {
        let this = self.clone();
        let who = caller.clone();
        let now = self.now_ms();
        let (rec, secrets) = self.write(move |wtx| {
                let old = wtx.request(id)?.ok_or(EngineError::NotFound(id))?;
                if !this.can_see(&who, &old) {
                    return Err(EngineError::NotFound(id));
                }
                if old.requester != who.user {
                    return Err(EngineError::Forbidden(format!(
                        "only {} can see the credentials of request {}",
                        old.requester, old.id
                    )));
                }
                if old.status != Status::Granted {
                    return Err(EngineError::InvalidState(format!(
                        "request {} is {}; credentials exist only while it is granted",
                        old.id, old.status
                    )));
                }
                if old.resetting.is_some() {
                    return Err(EngineError::InvalidState(format!(
                        "the credentials of request {} are being reset; try again in a moment",
                        old.id
                    )));
                }
                if old.dry_run {
                    return Err(EngineError::InvalidState(format!(
                        "request {} is dry-run: nothing was provisioned, so there are no credentials",
                        old.id
                    )));
                }
                let mut rec = old.clone();
                let mut secrets = Vec::new();
                for s in &mut rec.sessions {
                    if s.credentials != CredentialState::Unrevealed {
                        continue;
                    }
                    // Open first, erase second: a job that fails must not have written.
                    let sealed = wtx.secret(rec.id, &s.integration)?;
                    let Some(secret) = sealed.and_then(|b| this.sealer.open(&b)) else {
                        return Err(EngineError::InvalidState(format!(
                            "the secret of request {} on {} cannot be opened (was the key file replaced?)",
                            rec.id, s.integration
                        )));
                    };
                    wtx.take_secret(rec.id, &s.integration)?;
                    s.credentials = CredentialState::Revealed;
                    s.rotated = false;
                    secrets.push((s.integration.clone(), s.principal.clone().unwrap_or_default(), secret, s.material.clone()));
                }
                if secrets.is_empty() && !rec.sessions.iter().any(|s| s.credentials == CredentialState::Revealed) {
                    return Err(EngineError::InvalidState(format!(
                        "request {} has no credentials: its access is tied to your own account",
                        rec.id
                    )));
                }
                if secrets.is_empty() {
                    return Err(EngineError::AlreadyRevealed(format!(
                        "the credentials of request {} were already shown once and erased; \
                         the daemon keeps no copy",
                        rec.id
                    )));
                }
                audit(wtx, now, &who.user, "credentials.revealed", Some(&rec), None, None)?;
                wtx.put_request(&rec, Some(&old))?;
                Ok::<_, EngineError>((rec, secrets))
            })
            .await?;
        self.after_commit(&[rec.id], Vec::new(), false);
        let sessions = secrets
            .into_iter()
            .map(|(integration, principal, secret, material)| {
                let resources = rec.resources_on(&integration);
                let material = material.as_ref().map(super::material_of);
                let details = self
                    .integrations()
                    .get(&integration)
                    .map(|i| {
                        i.access_details(&SessionView {
                            principal: &principal,
                            secret: None,
                            resources: &resources,
                            browser_url: None,
                            material: material.as_ref(),
                        })
                    })
                    .unwrap_or_default();
                SessionCredentials {
                    resources,
                    integration,
                    user: details.user.unwrap_or(principal),
                    secret,
                    host: details.host,
                    port: details.port,
                    instructions: details.instructions,
                    example: details.example,
                    secret_kind: details.secret_kind.unwrap_or_default(),
                    files: details
                        .files
                        .into_iter()
                        .map(|f| SessionFile {
                            name: f.name,
                            contents: f.contents,
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(Credentials {
            id: rec.id,
            sessions,
            expires_at: rec.expires_at.map(ts),
        })
    }

    /// `request.get`.
    pub fn get(&self, caller: &Caller, id: RequestId) -> Result<Request, EngineError> {
        Ok(self.view(&self.visible(caller, id)?))
    }

    /// `request.list`.
    pub fn list(&self, caller: &Caller, p: &ListParams) -> Result<Vec<Request>, EngineError> {
        let limit = p.limit.unwrap_or(100).clamp(1, 1000) as usize;
        // A status filter says by itself whether open or closed requests are read.
        let closed = p.status.map_or(p.closed, |s| !s.is_open());
        if p.requester.is_some() && p.scope != Scope::All {
            return Err(EngineError::InvalidInput(
                "requester filters only scope \"all\" (admins): add scope = \"all\"".into(),
            ));
        }
        let before = p.before.unwrap_or(RequestId::MAX);
        let keep = |r: &RequestRecord| {
            r.id < before
                && r.status.is_open() != closed
                && p.status.is_none_or(|s| r.status == s)
                && p.resource_type
                    .as_ref()
                    .is_none_or(|t| r.entries.iter().any(|e| e.resource_type == *t))
                && p.integration
                    .as_ref()
                    .is_none_or(|i| r.entries.iter().any(|e| e.integration == *i))
                && p.requester.as_ref().is_none_or(|u| r.requester == *u)
        };
        let recs = match p.scope {
            Scope::Mine if !closed => self
                .store
                .read(|r| r.open_of(&caller.user, before, limit, keep))?,
            Scope::Mine => self
                .store
                .read(|r| r.by_requester(&caller.user, before, limit, keep))?,
            Scope::Review => {
                let mut out = self.store.read(|r| r.review_candidates())?;
                // Pending requests, granted ones with an extension waiting, and open
                // break-glass requests (granted without them: they review after the fact).
                out.retain(|r| {
                    (r.status == Status::Pending
                        || (r.status == Status::Granted && r.pending_extension.is_some())
                        || (r.break_glass && r.status.is_open()))
                        && self.is_approver(caller, r)
                        && keep(r)
                });
                out.truncate(limit);
                out
            }
            Scope::All => {
                if !caller.admin {
                    return Err(EngineError::Forbidden(
                        "only admins can list every request".into(),
                    ));
                }
                if closed {
                    self.store.read(|r| r.all_requests(before, limit, keep))?
                } else {
                    let mut out = self.open_records()?;
                    out.retain(|r| keep(r));
                    out.truncate(limit);
                    out
                }
            }
        };
        Ok(recs.iter().map(|r| self.view(r)).collect())
    }

    /// Every open request, newest first.
    pub(crate) fn open_records(&self) -> Result<Vec<RequestRecord>, EngineError> {
        Ok(self.store.read(|r| {
            let mut out = Vec::new();
            for (id, _, _) in r.open_ids()?.into_iter().rev() {
                if let Some(rec) = r.request(id)? {
                    out.push(rec);
                }
            }
            Ok(out)
        })?)
    }

    /// `request.wait`.
    pub async fn wait(&self, caller: &Caller, p: WaitParams) -> Result<Request, EngineError> {
        let timeout = Duration::from_secs(p.timeout_secs.unwrap_or(30).min(3600));
        // A failed grant being rolled back is still on its way to Failed: not settled.
        let done = |r: &RequestRecord| match p.until {
            WaitFor::Settled => {
                r.status != Status::Granting
                    && !(r.status == Status::Revoking
                        && r.revoking
                            .as_ref()
                            .is_some_and(|v| v.outcome == Status::Failed))
            }
            WaitFor::Decided => !matches!(
                r.status,
                Status::Pending | Status::Scheduled | Status::Granting
            ),
            WaitFor::Closed => !r.status.is_open(),
        };
        let mut updates = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let rec = self.visible(caller, p.id)?;
            if done(&rec) {
                return Ok(self.view(&rec));
            }
            loop {
                match tokio::time::timeout_at(deadline, updates.recv()).await {
                    Err(_) => return Ok(self.view(&rec)),
                    Ok(Ok(id)) if id != p.id => continue,
                    Ok(_) => break,
                }
            }
        }
    }

    /// `catalog.list`: what the caller may request.
    pub fn catalog(&self, caller: &Caller) -> Vec<CatalogEntry> {
        let cfg = self.config();
        cfg.flows
            .iter()
            .filter(|f| caller.matches_any(&f.requesters))
            .filter_map(|f| {
                let integ = f
                    .integration
                    .as_deref()
                    .and_then(|n| cfg.integrations.iter().find(|i| i.name == n));
                if f.integration.is_some() && integ.is_none() {
                    return None;
                }
                let resource_types = integ
                    .map(|integ| {
                        integ
                            .resource_types
                            .iter()
                            .filter(|t| {
                                f.resource_types.is_empty() || f.resource_types.contains(&t.name)
                            })
                            .map(|t| ResourceTypeEntry {
                                name: t.name.clone(),
                                permissions: t
                                    .permissions
                                    .iter()
                                    .filter(|p| {
                                        f.permissions.is_empty() || f.permissions.contains(p)
                                    })
                                    .cloned()
                                    .collect(),
                            })
                            .filter(|t| !t.permissions.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                let bundles = f
                    .bundles
                    .iter()
                    .filter_map(|b| cfg.bundles.iter().find(|x| &x.name == b))
                    .map(|b| BundleEntry {
                        name: b.name.clone(),
                        message: b.message.clone(),
                        entries: b
                            .entries
                            .iter()
                            .map(|e| Entry {
                                integration: e.integration.clone(),
                                resource_type: e.resource_type.clone(),
                                resources: e.resources.clone(),
                                permissions: e.permissions.clone(),
                            })
                            .collect(),
                    })
                    .collect();
                let (approvers, required) = approver_rules(f);
                Some(CatalogEntry {
                    flow: f.name.clone(),
                    integration: integ.map(|i| i.name.clone()).unwrap_or_default(),
                    kind: integ.map(|i| i.kind.name().to_owned()).unwrap_or_default(),
                    bundles,
                    max_extensions: f.max_extensions,
                    break_glass: f.break_glass,
                    resource_types,
                    resources: f.resources.clone(),
                    approval: if approvers.is_empty() {
                        ApprovalMode::Auto
                    } else {
                        ApprovalMode::Manual
                    },
                    approvers: if f.break_glass {
                        f.notify.iter().map(ToString::to_string).collect()
                    } else {
                        approvers
                    },
                    approvals_required: required,
                    default_duration_secs: f.default_duration.as_secs(),
                    max_duration_secs: f.max_duration.as_secs(),
                    justification_required: f.justification == Justification::Required
                        || f.justification_pattern.is_some(),
                    justification_pattern: f
                        .justification_pattern
                        .as_ref()
                        .map(|r| r.as_str().to_owned()),
                    message: integ.and_then(|i| i.message.clone()),
                    dry_run: integ
                        .is_some_and(|i| matches!(i.kind, jit_config::IntegrationKind::DryRun)),
                })
            })
            .collect()
    }

    /// `daemon.status`.
    pub fn status(&self, caller: &Caller) -> Result<DaemonStatus, EngineError> {
        let mut counts = Counts::default();
        let mut revoking = Vec::new();
        for rec in self.open_records()? {
            if !self.can_see(caller, &rec) {
                continue;
            }
            counts.open += 1;
            match rec.status {
                Status::Pending => counts.pending += 1,
                Status::Granted => counts.granted += 1,
                Status::Revoking => {
                    counts.revoking += 1;
                    revoking.push(self.view(&rec));
                }
                _ => {}
            }
        }
        Ok(DaemonStatus {
            protocol_version: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            mode: self.mode.to_owned(),
            started_at: jit_api::Timestamp::from(self.started_at),
            caller: jit_api::Caller {
                user: caller.user.clone(),
                uid: caller.uid,
                groups: caller.groups.clone(),
                admin: caller.admin,
            },
            counts,
            revoking,
            integrations: self
                .config()
                .integrations
                .iter()
                .map(|i| IntegrationStatus {
                    name: i.name.clone(),
                    kind: i.kind.name().to_owned(),
                    dry_run: matches!(i.kind, jit_config::IntegrationKind::DryRun),
                })
                .collect(),
            // Where notifications go, and whether they fail, is the admins' business.
            notifications: if caller.admin {
                self.channel_statuses()?
            } else {
                Vec::new()
            },
        })
    }

    /// Checks the audit log's hash chain (admins only).
    pub fn audit_verify(&self, caller: &Caller) -> Result<AuditVerification, EngineError> {
        if !caller.admin {
            return Err(EngineError::Forbidden(
                "only admins can verify the audit log (the daemon's admins list)".into(),
            ));
        }
        let check = self.store.read(|r| r.verify_audit())?;
        if let Some((seq, problem)) = &check.first_bad {
            tracing::error!(seq, problem, "the audit log's hash chain is broken");
        }
        Ok(AuditVerification {
            ok: check.first_bad.is_none(),
            checked: check.checked,
            head: check.head,
            first_bad: check
                .first_bad
                .map(|(seq, problem)| AuditProblem { seq, problem }),
        })
    }

    /// `audit.list`: admins read everything; others the entries about their own requests.
    pub fn audit_list(
        &self,
        caller: &Caller,
        p: &AuditParams,
    ) -> Result<Vec<AuditRecord>, EngineError> {
        let limit = p.limit.unwrap_or(1000).clamp(1, 10_000) as usize;
        let since = p.since.map(|t| super::to_ms(t.into()));
        let mine: Option<std::collections::HashSet<RequestId>> = if caller.admin {
            None
        } else if let Some(id) = p.request {
            self.visible(caller, id)?;
            Some(std::iter::once(id).collect())
        } else {
            Some(
                self.store
                    .read(|r| r.by_requester(&caller.user, RequestId::MAX, usize::MAX, |_| true))?
                    .into_iter()
                    .map(|r| r.id)
                    .collect(),
            )
        };
        let entries = self.store.read(|r| {
            r.audit(p.after_seq.unwrap_or(0), limit, |e| {
                p.request.is_none_or(|id| e.request == Some(id))
                    && since.is_none_or(|s| e.at >= s)
                    && mine
                        .as_ref()
                        .is_none_or(|m| e.request.is_some_and(|id| m.contains(&id)))
            })
        })?;
        Ok(entries
            .into_iter()
            .map(super::views::audit_record)
            .collect())
    }
}

/// How long a grant may be in flight before the scheduler provisions it again.
const GRANT_GUARD_MS: u64 = 120_000;

/// The guard deadline of a request in Granting.
pub(crate) fn grant_guard(now: Millis) -> Deadline {
    Deadline {
        at: now.saturating_add(GRANT_GUARD_MS),
        kind: DeadlineKind::RetryGrant,
    }
}

/// The end reason for a person's decision: `revoked by alice`, `revoked by alice: done`.
pub(crate) fn ended_by(verb: &str, user: &str, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("{verb} by {user}: {r}"),
        None => format!("{verb} by {user}"),
    }
}

/// Rejects a request: the decision (`by`, when, why) and the close, `rejected by BY: WHY`.
pub(crate) fn reject(rec: &mut RequestRecord, by: &str, now: Millis, reason: Option<&str>) {
    rec.approval.rejection = Some(DecisionRecord {
        by: by.to_owned(),
        at: now,
        reason: reason.map(str::to_owned),
    });
    close(rec, Status::Rejected, now, ended_by("rejected", by, reason));
}

/// Closes a request with a final status.
pub(crate) fn close(rec: &mut RequestRecord, status: Status, now: Millis, reason: String) {
    rec.status = status;
    rec.ended_at = Some(now);
    rec.end_reason = Some(reason);
    rec.deadline = None;
    rec.pending_until = None;
    rec.revoking = None;
    rec.pending_extension = None;
    rec.resetting = None;
}

/// Starts taking a request's access away; it closes as `outcome` once the access is gone.
pub(crate) fn start_revoking(
    rec: &mut RequestRecord,
    outcome: Status,
    reason: String,
    now: Millis,
) {
    let guard =
        now.saturating_add(u64::try_from(super::REVOKE_GUARD.as_millis()).unwrap_or(60_000));
    rec.status = Status::Revoking;
    // A reset in flight is moot: the pending secrets are erased with the rest at the end.
    rec.resetting = None;
    rec.revoking = Some(RevokingRecord {
        outcome,
        reason,
        attempts: 0,
        error: None,
        next_retry: guard,
    });
    rec.deadline = Some(Deadline {
        at: guard,
        kind: DeadlineKind::RetryRevoke,
    });
}
