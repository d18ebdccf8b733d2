//! `session.connect` and `session.register`.

use jit_api::methods::{Empty, SessionConnect, SessionRegister};
use jsonrpsee::RpcModule;

use super::{Ctx, register};
use crate::engine::EngineError;
use crate::store::model::ProcessRecord;

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<SessionConnect, _, _>(m, async |engine, caller, p| {
        engine.connect(&caller, p).await
    });
    register::<SessionRegister, _, _>(m, async |engine, caller, p| {
        // The process must be the caller's own (its real uid, read from /proc, is the peer's
        // uid) and a child of the connected process itself (`jit connect` launches it): a
        // pid sent from another pid namespace, or any other process of the user's, is refused.
        let pid = p.pid;
        let info = tokio::task::spawn_blocking(move || crate::procs::info(pid))
            .await
            .ok()
            .flatten();
        let info = match info {
            Some(i) if i.uid != caller.uid => {
                return Err(EngineError::Forbidden(format!(
                    "process {pid} is not yours"
                )));
            }
            Some(i) if caller.pid == 0 || i.parent != Some(caller.pid) => {
                return Err(EngineError::Forbidden(format!(
                    "process {pid} was not launched by this connection's process; only `jit connect` registers its own child"
                )));
            }
            Some(i) => i,
            None => return Err(EngineError::InvalidInput(format!("no process {pid}"))),
        };
        let record = ProcessRecord {
            pid,
            uid: info.uid,
            start_time: info.start_time,
        };
        engine.register(&caller, p, record).await.map(|()| Empty {})
    });
}
