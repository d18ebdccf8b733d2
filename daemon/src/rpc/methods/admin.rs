//! `daemon.metrics`, `admin.reload`, `admin.status` and `admin.orphans`: admins only (the
//! engine and the operator check).

use jit_api::Metrics;
use jit_api::methods::{AdminOrphans, AdminReload, AdminStatus, DaemonMetrics};
use jsonrpsee::RpcModule;

use super::{Ctx, register, register_operated};

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register::<DaemonMetrics, _, _>(m, async |engine, caller, _| {
        Ok(Metrics {
            content_type: "text/plain; version=0.0.4".to_owned(),
            text: engine.metrics_text(&caller)?,
        })
    });
    register_operated::<AdminReload, _, _>(m, async |op, caller, p| {
        op.reload_by(&caller, p.revoke_orphans).await
    });
    register_operated::<AdminStatus, _, _>(m, async |op, caller, _| op.status(&caller).await);
    register::<AdminOrphans, _, _>(m, async |engine, caller, p| engine.orphans(&caller, &p));
}
