//! `events.*`: subscribe to the events of the requests the caller may see, and unsubscribe.

use std::sync::Arc;

use jit_api::methods::{Empty, EventsSubscribe, EventsUnsubscribe};
use jit_api::{ErrorCode, Subscribed};
use jsonrpsee::RpcModule;
use jsonrpsee::types::ErrorObjectOwned;

use super::{Ctx, register_on_connection, rpc_error};
use crate::rpc::subscriptions::{CurrentCaller, SubscriptionError};

fn refused(e: &SubscriptionError) -> ErrorObjectOwned {
    let code = match e {
        SubscriptionError::TooMany => ErrorCode::InvalidInput,
        SubscriptionError::Unknown(_) => ErrorCode::NotFound,
    };
    ErrorObjectOwned::owned::<()>(code.code(), e.to_string(), None)
}

pub fn register_all(m: &mut RpcModule<Ctx>) {
    register_on_connection::<EventsSubscribe, _, _>(m, async |engine, caller, conn, p| {
        if let Some(id) = p.request {
            // Only a request the caller may see; the same error as for one that does not exist.
            engine.get(&caller, id).map_err(|e| rpc_error(&e))?;
        }
        // Watching starts before the answer: nothing that happens after it is missed.
        let watch = engine.watch().await.map_err(|e| rpc_error(&e))?;
        let current: CurrentCaller = Arc::new(move |c| engine.current_caller(c));
        let subscription = conn
            .subscribe(caller, current, watch, p.request)
            .map_err(|e| refused(&e))?;
        Ok(Subscribed { subscription })
    });
    register_on_connection::<EventsUnsubscribe, _, _>(m, async |_engine, _caller, conn, p| {
        conn.unsubscribe(p.subscription).map_err(|e| refused(&e))?;
        Ok(Empty {})
    });
}
