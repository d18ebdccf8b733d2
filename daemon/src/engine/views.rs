//! Turning stored records into what callers see, and deciding who sees what.

use jit_api::{
    Approval, AuditRecord, Decision, Entry, Extension, Request, Revoking, Session, SessionFile,
    Timestamp,
};

use super::authz::{Caller, parse_principal};
use super::{Engine, from_ms};
use crate::integrations::SessionView;
use crate::store::model::{AuditEntry, DecisionRecord, ExtensionRecord, Millis, RequestRecord};

/// RFC 3339 timestamp for stored milliseconds.
pub fn ts(ms: Millis) -> Timestamp {
    Timestamp::from(from_ms(ms))
}

/// A stored audit entry as the wire shows it.
pub(crate) fn audit_record(e: AuditEntry) -> AuditRecord {
    AuditRecord {
        seq: e.seq,
        at: ts(e.at),
        actor: e.actor,
        action: e.action,
        request: e.request,
        status: e.status,
        reason: e.reason,
        details: e.details,
        prev_hash: e.prev_hash,
        hash: e.hash,
    }
}

fn decision(d: &DecisionRecord) -> Decision {
    Decision {
        by: d.by.clone(),
        at: ts(d.at),
        reason: d.reason.clone(),
    }
}

fn extension(e: &ExtensionRecord) -> Extension {
    Extension {
        by: e.by.clone(),
        at: ts(e.at),
        added_secs: e.added_secs,
        reason: e.reason.clone(),
        approvals: e.approvals.iter().map(decision).collect(),
    }
}

impl Engine {
    /// Whether the caller may act as an approver of this request (never its requester).
    pub(crate) fn is_approver(&self, caller: &Caller, rec: &RequestRecord) -> bool {
        caller.user != rec.requester
            && rec
                .approval
                .approvers
                .iter()
                .any(|rule| caller.matches(&parse_principal(rule)))
    }

    /// Whether the caller may see this request: its requester, its approvers, admins.
    pub(crate) fn can_see(&self, caller: &Caller, rec: &RequestRecord) -> bool {
        caller.admin || caller.user == rec.requester || self.is_approver(caller, rec)
    }

    /// The wire view of a record.
    pub(crate) fn view(&self, rec: &RequestRecord) -> Request {
        let config = self.config();
        let registry = self.integrations();
        let integ_cfg = |name: &str| config.integrations.iter().find(|i| i.name == name);
        let bundle_message = rec
            .bundle
            .as_deref()
            .and_then(|b| config.bundles.iter().find(|x| x.name == b))
            .and_then(|b| b.message.clone());
        Request {
            id: rec.id,
            requester: rec.requester.clone(),
            flow: rec.flow.clone(),
            bundle: rec.bundle.clone(),
            entries: rec
                .entries
                .iter()
                .map(|e| Entry {
                    integration: e.integration.clone(),
                    resource_type: e.resource_type.clone(),
                    resources: e.resources.clone(),
                    permissions: e.permissions.clone(),
                })
                .collect(),
            justification: rec.justification.clone(),
            status: rec.status,
            duration_secs: rec.duration_secs,
            created_at: ts(rec.created_at),
            start_at: rec.start_at.map(ts),
            pending_until: rec.pending_until.map(ts),
            granted_at: rec.granted_at.map(ts),
            expires_at: rec.expires_at.map(ts),
            ended_at: rec.ended_at.map(ts),
            end_reason: rec.end_reason.clone(),
            error: rec.error.clone(),
            approval: Approval {
                mode: rec.approval.mode,
                approvers: rec.approval.approvers.clone(),
                required: rec.approval.required,
                approvals: rec.approval.approvals.iter().map(decision).collect(),
                rejection: rec.approval.rejection.as_ref().map(decision),
            },
            repeats: rec.repeats,
            sessions: rec
                .sessions
                .iter()
                .map(|s| {
                    let cfg = integ_cfg(&s.integration);
                    let material = s.material.as_ref().map(super::material_of);
                    let resources = rec.resources_on(&s.integration);
                    // Connect options exist only while there is access to connect to.
                    let connect = if rec.status == jit_api::Status::Granted {
                        registry
                            .get(&s.integration)
                            .map(|i| {
                                i.connect_kinds(&SessionView {
                                    principal: s.principal.as_deref().unwrap_or_default(),
                                    secret: None,
                                    resources: &resources,
                                    browser_url: cfg.and_then(|c| c.browser_url.as_deref()),
                                    material: material.as_ref(),
                                })
                            })
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    // What the grant handed back is shown while the access lasts.
                    let open = rec.status.is_open();
                    Session {
                        integration: s.integration.clone(),
                        kind: s.kind.clone(),
                        principal: s.principal.clone(),
                        resources,
                        credentials: s.credentials,
                        rotated: s.rotated,
                        connect,
                        // The integration's message and the bundle's, both when both exist.
                        message: match (cfg.and_then(|c| c.message.clone()), bundle_message.clone())
                        {
                            (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
                            (a, b) => a.or(b),
                        },
                        dry_run: s.kind == "dry-run",
                        instructions: material
                            .as_ref()
                            .filter(|_| open)
                            .and_then(|m| m.instructions.clone()),
                        files: material
                            .map(|m| m.files)
                            .filter(|_| open)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|f| SessionFile {
                                name: f.name,
                                contents: f.contents,
                            })
                            .collect(),
                    }
                })
                .collect(),
            revoking: rec.revoking.as_ref().map(|r| Revoking {
                error: r.error.clone(),
                attempts: r.attempts,
                next_retry_at: ts(r.next_retry),
                outcome: r.outcome,
            }),
            dry_run: rec.dry_run,
            break_glass: rec.break_glass,
            extensions: rec.extensions.iter().map(extension).collect(),
            pending_extension: rec.pending_extension.as_ref().map(extension),
        }
    }
}
