//! `daemon.status`.

use jit_api::methods::DaemonStatusMethod;
use jsonrpsee::RpcModule;

use super::{Ctx, register};

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<DaemonStatusMethod, _, _>(m, async |engine, caller, _| engine.status(&caller));
}
