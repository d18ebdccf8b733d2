//! `catalog.list`.

use jit_api::methods::CatalogList;
use jsonrpsee::RpcModule;

use super::{Ctx, register};

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<CatalogList, _, _>(m, async |engine, caller, _| Ok(engine.catalog(&caller)));
}
