//! `credentials.reveal` and `credentials.reset`.

use jit_api::methods::{CredentialsReset, CredentialsReveal};
use jsonrpsee::RpcModule;

use super::{Ctx, register};

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<CredentialsReveal, _, _>(m, async |engine, caller, p| {
        engine.reveal(&caller, p.id).await
    });
    register::<CredentialsReset, _, _>(m, async |engine, caller, p| engine.reset(&caller, p).await);
}
