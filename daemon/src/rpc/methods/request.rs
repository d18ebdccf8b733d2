//! `request.*`: create, list, get, wait, approve, reject, cancel, again.

use jit_api::methods::{
    RequestAgain, RequestApprove, RequestCancel, RequestCreate, RequestGet, RequestList,
    RequestReject, RequestWait,
};
use jsonrpsee::RpcModule;

use super::{Ctx, register};

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<RequestCreate, _, _>(m, async |engine, caller, p| engine.create(&caller, p).await);
    register::<RequestList, _, _>(m, async |engine, caller, p| engine.list(&caller, &p));
    register::<RequestGet, _, _>(m, async |engine, caller, p| engine.get(&caller, p.id));
    register::<RequestWait, _, _>(m, async |engine, caller, p| engine.wait(&caller, p).await);
    register::<RequestApprove, _, _>(m, async |engine, caller, p| {
        engine.approve(&caller, p).await
    });
    register::<RequestReject, _, _>(m, async |engine, caller, p| engine.reject(&caller, p).await);
    register::<RequestCancel, _, _>(m, async |engine, caller, p| engine.cancel(&caller, p).await);
    register::<RequestAgain, _, _>(m, async |engine, caller, p| engine.again(&caller, p).await);
}
