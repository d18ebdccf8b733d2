//! Using granted access: connect (without seeing the secret), register launched processes,
//! reset credentials (by the requester, an admin, or a rotation policy), and extend.

use std::sync::Arc;
use std::time::Duration;

use jit_api::methods::{ConnectParams, DecideParams, ExtendParams, RegisterParams};
use jit_api::{ConnectKind, ConnectPlan, CredentialState, Request, RequestId, SessionFile, Status};
use jit_config::ExtensionApproval;

use super::events::Tx;
use super::requests::audit;
use super::{Action, Caller, Engine, EngineError};
use crate::integrations::{Issued, Material, SecretSource, SessionSecret, SessionView};
use crate::store::model::{
    Deadline, DeadlineKind, DecisionRecord, ExtensionRecord, Millis, ProcessRecord, RequestRecord,
    ResetRecord,
};

/// The key under which a session's new secret waits while a reset is in flight.
pub fn pending_key(integration: &str) -> String {
    format!("{integration}\u{0}pending")
}

/// How long `credentials.reset` waits for the integrations before answering.
const RESET_WAIT: Duration = Duration::from_secs(30);

/// The deadline a granted request has: its expiry, or an earlier rotation or expiry warning.
pub(crate) fn granted_deadline(rec: &RequestRecord) -> Option<Deadline> {
    let mut next = Deadline {
        at: rec.expires_at?,
        kind: DeadlineKind::Expire,
    };
    for (at, kind) in [
        (rec.next_rotation, DeadlineKind::Rotate),
        (rec.next_warning, DeadlineKind::Warn),
    ] {
        if let Some(at) = at.filter(|at| *at < next.at) {
            next = Deadline { at, kind };
        }
    }
    Some(next)
}

impl Engine {
    /// Refuses unless the request is granted and its end has not come: from its expiry on,
    /// the scheduler may already be taking the access away (before recording it), so
    /// nothing may add to it — no extension, no session, no new secret.
    fn granted_for(&self, rec: &RequestRecord, what: &str) -> Result<(), EngineError> {
        if rec.status == Status::Granted && rec.expires_at.is_some_and(|e| self.now_ms() >= e) {
            return Err(EngineError::InvalidState(format!(
                "request {} has reached its end and its access is being removed; {what} only \
                 while it is granted (request it again)",
                rec.id
            )));
        }
        if rec.status == Status::Granted
            && rec.resetting.is_some()
            && what != "credentials can be reset"
        {
            Err(EngineError::InvalidState(format!(
                "the credentials of request {} are being reset; try again in a moment",
                rec.id
            )))
        } else if rec.status == Status::Granted {
            Ok(())
        } else {
            Err(EngineError::InvalidState(format!(
                "request {} is {}; {what} only while it is granted",
                rec.id, rec.status
            )))
        }
    }

    /// `session.connect`: what to launch to use a session, with its not-yet-revealed secret.
    pub async fn connect(
        self: &Arc<Self>,
        caller: &Caller,
        p: ConnectParams,
    ) -> Result<ConnectPlan, EngineError> {
        let this = self.clone();
        let who = caller.clone();
        let now = self.now_ms();
        let (plan, id) = self.write(move |wtx| {
                let old = wtx.request(p.id)?.ok_or(EngineError::NotFound(p.id))?;
                if !this.can_see(&who, &old) {
                    return Err(EngineError::NotFound(p.id));
                }
                if old.requester != who.user {
                    return Err(EngineError::Forbidden(format!("only {} can connect to request {}", old.requester, old.id)));
                }
                this.granted_for(&old, "you can connect")?;
                let mut rec = old.clone();
                let names: Vec<String> = rec.sessions.iter().map(|s| s.integration.clone()).collect();
                let idx = match &p.session {
                    Some(name) => rec.sessions.iter().position(|s| &s.integration == name).ok_or_else(|| {
                        EngineError::UnknownName(format!(
                            "request {} has no session \"{name}\"; it has: {}",
                            rec.id,
                            names.join(", ")
                        ))
                    })?,
                    None if rec.sessions.len() == 1 => 0,
                    None => {
                        return Err(EngineError::InvalidInput(format!(
                            "request {} has {} sessions: name one with --session ({})",
                            rec.id,
                            rec.sessions.len(),
                            names.join(", ")
                        )));
                    }
                };
                let session = rec.sessions[idx].clone();
                let integ = this.integrations().get(&session.integration).cloned().ok_or_else(|| {
                    EngineError::InvalidState(format!("integration {} is no longer configured", session.integration))
                })?;
                let config = this.config();
                let cfg = config.integrations.iter().find(|i| i.name == session.integration);
                let browser_url = cfg.and_then(|c| c.browser_url.clone());
                let principal = session.principal.clone().unwrap_or_default();
                let resources = rec.resources_on(&session.integration);
                let material = session.material.as_ref().map(super::material_of);
                let mut view = SessionView {
                    principal: &principal,
                    secret: None,
                    resources: &resources,
                    browser_url: browser_url.as_deref(),
                    material: material.as_ref(),
                };
                let kinds = integ.connect_kinds(&view);
                let kind = match p.kind {
                    Some(k) if kinds.contains(&k) => k,
                    Some(k) => {
                        return Err(EngineError::InvalidInput(format!(
                            "session {} cannot be opened in {}; it offers: {}",
                            session.integration,
                            kind_name(k),
                            if kinds.is_empty() { "nothing (use `jit creds`)".into() } else { kinds.iter().map(|k| kind_name(*k)).collect::<Vec<_>>().join(", ") }
                        )));
                    }
                    None => *kinds.first().ok_or_else(|| {
                        EngineError::InvalidInput(format!(
                            "session {} offers no way to connect; `jit creds {}` shows how to log in by hand",
                            session.integration, rec.id
                        ))
                    })?,
                };
                if kind == ConnectKind::Terminal
                    && let Some(why) = integ.refuse_connect_args(&p.args)
                {
                    return Err(EngineError::InvalidInput(format!(
                        "session {}: {why}",
                        session.integration
                    )));
                }
                // A terminal uses the session's secret when it has one.
                let secret = if kind == ConnectKind::Terminal && session.credentials != CredentialState::None {
                    if session.credentials != CredentialState::Unrevealed {
                        return Err(EngineError::InvalidState(format!(
                            "the secret of request {} was revealed, and jitd keeps no copy: use the credentials you \
                             saved, or run `jit reset {}` to make Connect usable again",
                            rec.id, rec.id
                        )));
                    }
                    let sealed = wtx.secret(rec.id, &session.integration)?;
                    Some(SessionSecret(sealed.and_then(|b| this.sealer.open(&b)).ok_or_else(|| {
                        EngineError::InvalidState(format!("the secret of request {} cannot be opened", rec.id))
                    })?))
                } else {
                    None
                };
                view.secret = secret.as_ref();
                let target = integ
                    .connect(kind, &view)
                    .ok_or_else(|| EngineError::InvalidInput(format!("session {} cannot be opened that way", session.integration)))?;
                // Only a launch that uses the current secret means the requester has it now.
                if secret.is_some() {
                    rec.sessions[idx].rotated = false;
                }
                audit(wtx, now, &who.user, "session.connect", Some(&rec), None, Some(format!("{} {}", session.integration, kind_name(kind))))?;
                wtx.put_request(&rec, Some(&old))?;
                let plan = ConnectPlan {
                    id: rec.id,
                    integration: session.integration.clone(),
                    kind,
                    argv: target.argv,
                    env: target.env,
                    url: target.url,
                    message: cfg.and_then(|c| c.message.clone()),
                    files: target
                        .files
                        .into_iter()
                        .map(|(name, contents)| SessionFile { name, contents })
                        .collect(),
                };
                Ok::<_, EngineError>((plan, rec.id))
            })
            .await?;
        self.after_commit(&[id], Vec::new(), false);
        Ok(plan)
    }

    /// `session.register`: remembers a process `jit connect` launched, so it ends with the
    /// access. `start_time` comes from /proc, checked by the caller against the peer's uid.
    pub async fn register(
        self: &Arc<Self>,
        caller: &Caller,
        p: RegisterParams,
        process: ProcessRecord,
    ) -> Result<(), EngineError> {
        let this = self.clone();
        let who = caller.clone();
        let now = self.now_ms();
        self.write(move |wtx| {
            let old = wtx.request(p.id)?.ok_or(EngineError::NotFound(p.id))?;
            if !this.can_see(&who, &old) {
                return Err(EngineError::NotFound(p.id));
            }
            if old.requester != who.user {
                return Err(EngineError::Forbidden(format!(
                    "only {} can register sessions of request {}",
                    old.requester, old.id
                )));
            }
            this.granted_for(&old, "sessions can be registered")?;
            let mut rec = old.clone();
            let s = rec
                .sessions
                .iter_mut()
                .find(|s| s.integration == p.session)
                .ok_or_else(|| {
                    EngineError::UnknownName(format!(
                        "request {} has no session \"{}\"",
                        p.id, p.session
                    ))
                })?;
            // Keep the list bounded: the oldest entries are the likeliest to be gone.
            if s.processes.len() >= 64 {
                s.processes.remove(0);
            }
            s.processes.push(process);
            audit(
                wtx,
                now,
                &who.user,
                "session.registered",
                Some(&rec),
                None,
                Some(format!("{} pid {}", p.session, p.pid)),
            )?;
            wtx.put_request(&rec, Some(&old))?;
            Ok::<_, EngineError>(())
        })
        .await
    }

    /// `credentials.reset`: new secrets for every session; answers once the integrations
    /// have them (the old ones no longer work) or the reset failed.
    pub async fn reset(
        self: &Arc<Self>,
        caller: &Caller,
        p: DecideParams,
    ) -> Result<Request, EngineError> {
        let reason = super::requests::clean_reason(p.reason)?;
        let who = caller.clone();
        let id = p.id;
        let mut updates = self.subscribe();
        let this = self.clone();
        let now = self.now_ms();
        self.write(move |wtx| {
            let old = wtx.request(id)?.ok_or(EngineError::NotFound(id))?;
            if !this.can_see(&who, &old) {
                return Err(EngineError::NotFound(id));
            }
            if !(old.requester == who.user || who.admin) {
                return Err(EngineError::Forbidden(format!(
                    "only {} or an admin can reset request {}",
                    old.requester, id
                )));
            }
            this.granted_for(&old, "credentials can be reset")?;
            if old.resetting.is_some() {
                return Err(EngineError::InvalidState(format!(
                    "a reset of request {id} is already in progress; try again in a moment"
                )));
            }
            let mut rec = old.clone();
            let rotated = who.user != rec.requester;
            if !this.begin_reset(wtx, &mut rec, &who.user, rotated)? {
                return Err(EngineError::InvalidState(format!(
                    "request {id} has no credentials to reset"
                )));
            }
            let details = rec.bundle.as_ref().map(|b| format!("whole bundle {b}"));
            audit(
                wtx,
                now,
                &who.user,
                "credentials.reset_requested",
                Some(&rec),
                reason.as_deref(),
                details,
            )?;
            wtx.put_request(&rec, Some(&old))?;
            Ok::<_, EngineError>(())
        })
        .await?;
        self.after_commit(&[id], vec![Action::Reset(id)], false);
        let deadline = tokio::time::Instant::now() + RESET_WAIT;
        loop {
            let rec = self
                .store
                .read(|r| r.request(id))?
                .ok_or(EngineError::NotFound(id))?;
            if rec.status != Status::Granted {
                return Err(EngineError::InvalidState(format!(
                    "request {id} is {} now; the reset did not happen",
                    rec.status
                )));
            }
            if rec.resetting.is_none() {
                if let Some(err) = rec.error.as_ref() {
                    return Err(EngineError::InvalidState(format!("reset failed: {err}")));
                }
                return Ok(self.view(&rec));
            }
            if tokio::time::timeout_at(deadline, updates.recv())
                .await
                .is_err()
            {
                return Err(EngineError::InvalidState(format!(
                    "the reset of request {id} is still in progress after {}s; `jit show {id}` tells when it is done",
                    RESET_WAIT.as_secs()
                )));
            }
        }
    }

    /// Seals a new pending secret for each session that has one and marks the reset;
    /// false when no session has a secret.
    pub(crate) fn begin_reset(
        &self,
        wtx: &mut Tx<'_, '_>,
        rec: &mut RequestRecord,
        by: &str,
        rotated: bool,
    ) -> Result<bool, EngineError> {
        let mut any = false;
        for s in &rec.sessions {
            if s.credentials == CredentialState::None {
                continue;
            }
            // An integration that issues its own secrets makes the new one in its reset;
            // `record_reset` seals it. A generated one is sealed now, as pending.
            let generated = self
                .integrations()
                .get(&s.integration)
                .is_none_or(|i| i.secret_source() == SecretSource::Generated);
            if generated {
                let secret = crate::provision::generate_secret();
                wtx.put_secret(
                    rec.id,
                    &pending_key(&s.integration),
                    &self.sealer.seal(&secret),
                )?;
            }
            any = true;
        }
        if any {
            rec.resetting = Some(ResetRecord {
                by: by.to_owned(),
                rotated,
            });
            rec.error = None;
        }
        Ok(any)
    }

    /// Records the outcome of a reset: per session, the new secret replaces the old one
    /// where the integration took it.
    pub async fn record_reset(
        self: &Arc<Self>,
        id: RequestId,
        outcomes: Vec<(String, Result<Issued, String>)>,
    ) -> Result<(), EngineError> {
        let now = self.now_ms();
        let this = self.clone();
        let changed = self
            .write(move |wtx| {
                let Some(old) = wtx.request(id)? else {
                    return Ok(false);
                };
                let Some(reset) = old.resetting.clone() else {
                    return Ok(false);
                };
                if old.status != Status::Granted {
                    // Revoked meanwhile: the new secrets go with the rest.
                    return Ok(false);
                }
                let mut rec = old.clone();
                let mut errors = Vec::new();
                for (integration, outcome) in outcomes {
                    let pending = wtx.take_secret(id, &pending_key(&integration))?;
                    let (issued, sealed) = match (outcome, pending) {
                        (Err(e), _) => {
                            errors.push(format!("{integration}: {e}"));
                            continue;
                        }
                        // A secret the integration made replaces the old one, sealed here
                        // like a generated one.
                        (Ok(mut issued), pending) => {
                            let sealed = match issued.secret.take() {
                                Some(secret) => Some(this.sealer.seal(&secret.0)),
                                None => pending,
                            };
                            (issued, sealed)
                        }
                    };
                    let Some(s) = rec
                        .sessions
                        .iter_mut()
                        .find(|s| s.integration == integration)
                    else {
                        continue;
                    };
                    if let Some(m) = issued.material {
                        s.material = Some(super::material_record(m));
                    }
                    if let Some(sealed) = sealed {
                        wtx.put_secret(id, &integration, &sealed)?;
                        s.credentials = CredentialState::Unrevealed;
                        s.rotated = reset.rotated;
                    }
                }
                rec.resetting = None;
                rec.error = (!errors.is_empty()).then(|| errors.join("; "));
                let action = if errors.is_empty() {
                    "credentials.reset"
                } else {
                    "credentials.reset_failed"
                };
                audit(
                    wtx,
                    now,
                    &reset.by,
                    action,
                    Some(&rec),
                    None,
                    rec.error.clone(),
                )?;
                wtx.put_request(&rec, Some(&old))?;
                Ok::<_, EngineError>(true)
            })
            .await?;
        if changed {
            self.after_commit(&[id], Vec::new(), false);
        }
        Ok(())
    }

    /// Keeps the material an integration handed back after moving its end of access (an
    /// SSH certificate signed for the new end), while the request is still granted.
    pub async fn record_material(
        self: &Arc<Self>,
        id: RequestId,
        integration: String,
        material: Material,
    ) -> Result<(), EngineError> {
        let changed = self
            .store
            .write(move |wtx| {
                let Some(old) = wtx.request(id)? else {
                    return Ok(false);
                };
                if old.status != Status::Granted {
                    return Ok(false);
                }
                let mut rec = old.clone();
                let Some(s) = rec
                    .sessions
                    .iter_mut()
                    .find(|s| s.integration == integration)
                else {
                    return Ok(false);
                };
                // Not a transition (the extension itself was audited): only what a client
                // needs to use the longer access.
                s.material = Some(super::material_record(material));
                wtx.put_request(&rec, Some(&old))?;
                Ok::<_, EngineError>(true)
            })
            .await?;
        if changed {
            self.after_commit(&[id], Vec::new(), false);
        }
        Ok(())
    }

    /// `grant.extend`.
    pub async fn extend(
        self: &Arc<Self>,
        caller: &Caller,
        p: ExtendParams,
    ) -> Result<Request, EngineError> {
        let reason = super::requests::clean_reason(p.reason)?;
        if p.duration_secs == 0 {
            return Err(EngineError::InvalidInput("extend by at least 1s".into()));
        }
        let who = caller.clone();
        let this = self.clone();
        let now = self.now_ms();
        let id = p.id;
        let (rec, action) = self
            .write(move |wtx| {
                let old = wtx.request(id)?.ok_or(EngineError::NotFound(id))?;
                if !this.can_see(&who, &old) {
                    return Err(EngineError::NotFound(id));
                }
                if old.requester != who.user {
                    return Err(EngineError::Forbidden(format!(
                        "only {} can extend request {id}",
                        old.requester
                    )));
                }
                this.granted_for(&old, "access can be extended")?;
                let config = this.config();
                let flow = config
                    .flows
                    .iter()
                    .find(|f| f.name == old.flow)
                    .ok_or_else(|| {
                        EngineError::InvalidState(format!(
                            "flow {} is no longer configured; request a new grant",
                            old.flow
                        ))
                    })?;
                if old.pending_extension.is_some() {
                    return Err(EngineError::InvalidState(format!(
                        "request {id} already has an extension waiting for approval"
                    )));
                }
                if old.extensions.len() as u32 >= flow.max_extensions {
                    return Err(EngineError::InvalidInput(if flow.max_extensions == 0 {
                        format!(
                            "flow {} does not allow extensions; request again instead",
                            flow.name
                        )
                    } else {
                        format!(
                            "request {id} was already extended {} times, the most flow {} allows",
                            old.extensions.len(),
                            flow.name
                        )
                    }));
                }
                if p.duration_secs > flow.max_duration.as_secs() {
                    return Err(EngineError::InvalidInput(format!(
                        "one extension may add at most {}",
                        humantime::format_duration(flow.max_duration)
                    )));
                }
                let total = old.duration_secs
                    + old.extensions.iter().map(|e| e.added_secs).sum::<u64>()
                    + p.duration_secs;
                if total > flow.max_total_duration.as_secs() {
                    let left = flow
                        .max_total_duration
                        .as_secs()
                        .saturating_sub(total - p.duration_secs);
                    return Err(EngineError::InvalidInput(format!(
                        "flow {} allows at most {} in all; you can add {} more",
                        flow.name,
                        humantime::format_duration(flow.max_total_duration),
                        humantime::format_duration(Duration::from_secs(left))
                    )));
                }
                let mut rec = old.clone();
                let ext = ExtensionRecord {
                    by: who.user.clone(),
                    at: now,
                    added_secs: p.duration_secs,
                    reason: reason.clone(),
                    approvals: Vec::new(),
                };
                let action = if flow.extension_approval == ExtensionApproval::Manual {
                    rec.pending_extension = Some(ext);
                    audit(
                        wtx,
                        now,
                        &who.user,
                        "grant.extension_requested",
                        Some(&rec),
                        reason.as_deref(),
                        Some(format!("+{}s", p.duration_secs)),
                    )?;
                    None
                } else {
                    this.apply_extension(&mut rec, ext, now);
                    audit(
                        wtx,
                        now,
                        &who.user,
                        "grant.extended",
                        Some(&rec),
                        reason.as_deref(),
                        Some(format!("+{}s", p.duration_secs)),
                    )?;
                    Some(Action::Extend(id))
                };
                wtx.put_request(&rec, Some(&old))?;
                Ok::<_, EngineError>((rec, action))
            })
            .await?;
        self.after_commit(&[id], action.into_iter().collect(), true);
        Ok(self.view(&rec))
    }

    /// Approves a pending extension (called from `request.approve` on a granted request).
    pub(crate) fn approve_extension(
        &self,
        rec: &mut RequestRecord,
        who: &Caller,
        now: Millis,
        reason: Option<String>,
    ) -> Result<(&'static str, Option<Action>), EngineError> {
        self.granted_for(rec, "an extension can be approved")?;
        let Some(mut ext) = rec.pending_extension.take() else {
            return Err(EngineError::InvalidState(format!(
                "request {} has no extension waiting",
                rec.id
            )));
        };
        if ext.approvals.iter().any(|d| d.by == who.user) {
            rec.pending_extension = Some(ext);
            return Err(EngineError::InvalidState(format!(
                "you already approved the extension of request {}",
                rec.id
            )));
        }
        ext.approvals.push(DecisionRecord {
            by: who.user.clone(),
            at: now,
            reason,
        });
        if ext.approvals.len() >= rec.approval.required.max(1) as usize {
            self.apply_extension(rec, ext, now);
            Ok(("grant.extended", Some(Action::Extend(rec.id))))
        } else {
            rec.pending_extension = Some(ext);
            Ok(("grant.extension_approval_added", None))
        }
    }
}

impl Engine {
    /// Adds an extension: the deadline moves (the target's own clock follows through
    /// `Action::Extend`), and the expiry warnings are scheduled again for the new end.
    fn apply_extension(&self, rec: &mut RequestRecord, ext: ExtensionRecord, now: Millis) {
        let added = ext.added_secs.saturating_mul(1000);
        rec.expires_at = rec.expires_at.map(|e| e.saturating_add(added));
        rec.extensions.push(ext);
        rec.next_warning = self.next_warning(rec, now);
        rec.deadline = granted_deadline(rec);
    }
}

/// The word for a connect kind.
pub fn kind_name(k: ConnectKind) -> &'static str {
    match k {
        ConnectKind::Terminal => "terminal",
        ConnectKind::Browser => "browser",
        ConnectKind::App => "app",
    }
}
