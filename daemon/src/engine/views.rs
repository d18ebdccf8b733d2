//! Turning stored records into what callers see, and deciding who sees what.

use jit_api::{Approval, Decision, Request, Revoking, Session, Timestamp};

use super::authz::{Caller, parse_principal};
use super::{Engine, from_ms};
use crate::store::model::{DecisionRecord, Millis, RequestRecord};

/// RFC 3339 timestamp for stored milliseconds.
pub fn ts(ms: Millis) -> Timestamp {
    Timestamp::from(from_ms(ms))
}

fn decision(d: &DecisionRecord) -> Decision {
    Decision {
        by: d.by.clone(),
        at: ts(d.at),
        reason: d.reason.clone(),
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
        let message_of = |name: &str| {
            self.config
                .integrations
                .iter()
                .find(|i| i.name == name)
                .and_then(|i| i.message.clone())
        };
        Request {
            id: rec.id,
            requester: rec.requester.clone(),
            flow: rec.flow.clone(),
            integration: rec.integration.clone(),
            resource_type: rec.resource_type.clone(),
            resources: rec.resources.clone(),
            permissions: rec.permissions.clone(),
            justification: rec.justification.clone(),
            status: rec.status,
            duration_secs: rec.duration_secs,
            created_at: ts(rec.created_at),
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
                .map(|s| Session {
                    integration: s.integration.clone(),
                    kind: s.kind.clone(),
                    principal: s.principal.clone(),
                    credentials: s.credentials,
                    message: message_of(&s.integration),
                    dry_run: s.kind == "dry-run",
                })
                .collect(),
            revoking: rec.revoking.as_ref().map(|r| Revoking {
                error: r.error.clone(),
                attempts: r.attempts,
                next_retry_at: ts(r.next_retry),
                outcome: r.outcome,
            }),
            dry_run: rec.dry_run,
        }
    }
}
