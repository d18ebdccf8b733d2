//! Filling a store directly with many requests, for the restart benchmark (the daemon's own
//! store code writes them; going through the socket would take minutes).

use std::path::Path;

use jit_api::{ApprovalMode, CredentialState, Status};
use jitd::store::Store;
use jitd::store::model::{
    ApprovalRecord, Deadline, DeadlineKind, EntryRecord, RequestRecord, SessionRecord,
};

/// Writes `closed` expired requests and `open` granted ones (expiring in an hour) into the
/// store at `path` (which must not be open elsewhere).
pub fn fill(path: &Path, closed: u64, open: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = Store::open(path).expect("open store");
    let now = jitd::engine::to_ms(std::time::SystemTime::now());
    let total = closed + open;
    let batch = 20_000;
    let mut done = 0;
    while done < total {
        let n = batch.min(total - done);
        let first = done;
        rt.block_on(store.write(move |wtx| {
            for i in first..first + n {
                let id = wtx.next_request_id()?;
                let granted = i >= closed;
                let rec = RequestRecord {
                    id,
                    requester: format!("user{}", i % 500),
                    requester_uid: 1000,
                    flow: "demo-any".into(),
                    bundle: None,
                    entries: vec![EntryRecord {
                        integration: "demo".into(),
                        resource_type: "database".into(),
                        resources: vec![format!("db{i}")],
                        permissions: vec!["read".into()],
                    }],
                    justification: Some("bench".into()),
                    status: if granted {
                        Status::Granted
                    } else {
                        Status::Expired
                    },
                    duration_secs: 3600,
                    created_at: now - 10_000,
                    start_at: None,
                    pending_until: None,
                    granted_at: Some(now - 10_000),
                    expires_at: Some(now + 3_600_000),
                    ended_at: (!granted).then_some(now - 5_000),
                    end_reason: (!granted).then(|| "expired".into()),
                    error: None,
                    approval: ApprovalRecord {
                        mode: ApprovalMode::Auto,
                        approvers: Vec::new(),
                        required: 0,
                        approvals: Vec::new(),
                        rejection: None,
                    },
                    repeats: None,
                    sessions: vec![SessionRecord {
                        integration: "demo".into(),
                        kind: "dry-run".into(),
                        principal: None,
                        credentials: CredentialState::None,
                        rotated: false,
                        provisioned: true,
                        processes: Vec::new(),
                        material: None,
                    }],
                    revoking: None,
                    deadline: granted.then_some(Deadline {
                        at: now + 3_600_000,
                        kind: DeadlineKind::Expire,
                    }),
                    dry_run: true,
                    break_glass: false,
                    extensions: Vec::new(),
                    pending_extension: None,
                    resetting: None,
                    next_rotation: None,
                    next_warning: None,
                };
                wtx.put_request(&rec, None)?;
            }
            Ok::<_, jitd::store::StoreError>(())
        }))
        .expect("write batch");
        done += n;
    }
    store.close();
}
