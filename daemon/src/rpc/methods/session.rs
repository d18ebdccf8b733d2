//! `session.connect` and `session.register`.

use jit_api::methods::{Empty, SessionConnect, SessionRegister};
use jsonrpsee::RpcModule;

use super::{Ctx, register};
use crate::engine::EngineError;

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<SessionConnect, _, _>(m, async |engine, caller, p| {
        engine.connect(&caller, p).await
    });
    register::<SessionRegister, _, _>(m, async |engine, caller, p| {
        // The process must be the caller's own: its real uid, read from /proc, must be the
        // uid the socket's peer credentials gave.
        let pid = p.pid;
        let owner = tokio::task::spawn_blocking(move || crate::procs::owner_and_start(pid))
            .await
            .ok()
            .flatten();
        let start_time = match owner {
            Some((uid, start)) if uid == caller.uid => start,
            Some(_) => {
                return Err(EngineError::Forbidden(format!(
                    "process {pid} is not yours"
                )));
            }
            None => return Err(EngineError::InvalidInput(format!("no process {pid}"))),
        };
        engine
            .register(&caller, p, start_time)
            .await
            .map(|()| Empty {})
    });
}
