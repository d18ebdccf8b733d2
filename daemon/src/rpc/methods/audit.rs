//! `audit.list` and `audit.verify`.

use jit_api::methods::{AuditList, AuditVerify};
use jsonrpsee::RpcModule;

use super::{Ctx, register};

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<AuditList, _, _>(m, async |engine, caller, p| engine.audit_list(&caller, &p));
    register::<AuditVerify, _, _>(m, async |engine, caller, _| engine.audit_verify(&caller));
}
