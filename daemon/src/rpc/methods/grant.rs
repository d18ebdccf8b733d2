//! `grant.revoke` and `grant.extend`.

use jit_api::methods::{GrantExtend, GrantRevoke};
use jsonrpsee::RpcModule;

use super::{Ctx, register};

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<GrantRevoke, _, _>(m, async |engine, caller, p| engine.revoke(&caller, p).await);
    register::<GrantExtend, _, _>(m, async |engine, caller, p| engine.extend(&caller, p).await);
}
