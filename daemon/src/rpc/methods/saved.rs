//! `saved.*`: save, list and delete the caller's saved requests.

use jit_api::methods::{SavedDelete, SavedList, SavedSave};
use jsonrpsee::RpcModule;

use super::{Ctx, register};

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<SavedSave, _, _>(m, async |engine, caller, p| engine.save(&caller, p).await);
    register::<SavedList, _, _>(m, async |engine, caller, _| engine.saved(&caller));
    register::<SavedDelete, _, _>(m, async |engine, caller, p| {
        engine.delete_saved(&caller, p).await
    });
}
