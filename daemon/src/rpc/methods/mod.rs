//! The method table: one file per method group, each registering its methods through
//! [`register`], which parses parameters, finds the caller and maps engine errors.
//!
//! The caller is the connection's (its identity is read once, at accept), with its admin
//! rights decided again at every call from the config in force
//! ([`Engine::current_caller`]): a reload that takes a user off the admins applies to the
//! connections they already have open.

mod admin;
mod audit;
mod catalog;
mod credentials;
mod daemon;
mod events;
mod grant;
mod request;
mod saved;
mod session;

use std::future::Future;
use std::sync::Arc;

use jit_api::Method;
use jsonrpsee::RpcModule;
use jsonrpsee::types::{ErrorObjectOwned, Params};

use crate::engine::{Caller, Engine, EngineError};
use crate::rpc::subscriptions::Subscriptions;

/// The context every handler gets.
pub type Ctx = Arc<Engine>;

/// Builds the method table with every method of [`jit_api::methods::ALL`].
pub fn build(engine: Arc<Engine>) -> RpcModule<Ctx> {
    let mut m = RpcModule::new(engine);
    daemon::register_all(&mut m);
    catalog::register_all(&mut m);
    request::register_all(&mut m);
    grant::register_all(&mut m);
    credentials::register_all(&mut m);
    audit::register_all(&mut m);
    session::register_all(&mut m);
    events::register_all(&mut m);
    admin::register_all(&mut m);
    saved::register_all(&mut m);
    m
}

/// The JSON-RPC error for an engine error.
pub fn rpc_error(e: &EngineError) -> ErrorObjectOwned {
    if let EngineError::Store(inner) = e {
        tracing::error!(error = %inner, "store failure while serving a call");
    }
    ErrorObjectOwned::owned::<()>(e.code().code(), e.to_string(), None)
}

fn parse<M: Method>(params: &Params<'_>) -> Result<M::Params, ErrorObjectOwned> {
    let text = params.as_str().unwrap_or("{}");
    // serde would read a struct from an array too (positional parameters), which would
    // change meaning whenever a field is added, and skips `deny_unknown_fields`.
    if text.trim_start().starts_with('[') {
        return Err(ErrorObjectOwned::owned::<()>(
            -32602,
            format!(
                "invalid params for {}: params must be an object of named fields, not an array (see docs/api.md)",
                M::NAME
            ),
            None,
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        ErrorObjectOwned::owned::<()>(
            -32602,
            format!("invalid params for {}: {e} (see docs/api.md)", M::NAME),
            None,
        )
    })
}

/// Registers method `M`, handled by `f(engine, caller, params)`.
pub fn register<M, F, Fut>(module: &mut RpcModule<Ctx>, f: F)
where
    M: Method,
    F: Fn(Ctx, Arc<Caller>, M::Params) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<M::Output, EngineError>> + Send + 'static,
{
    let result = module.register_async_method(M::NAME, move |params, ctx, ext| {
        let f = f.clone();
        let parsed = parse::<M>(&params);
        let caller = ext.get::<Arc<Caller>>().cloned();
        async move {
            let Some(caller) = caller else {
                return Err(ErrorObjectOwned::owned::<()>(
                    -32603,
                    "no caller identity on this connection",
                    None,
                ));
            };
            let p = parsed?;
            let started = std::time::Instant::now();
            let engine: Ctx = (*ctx).clone();
            let caller = engine.current_caller(caller);
            let user = caller.user.clone();
            let answer = f(engine.clone(), caller, p).await;
            let elapsed = started.elapsed();
            engine.metrics().rpc(M::NAME, elapsed);
            // The method, who and how it went; never the parameters or the answer (a
            // revealed secret is an answer).
            tracing::debug!(
                method = M::NAME,
                %user,
                micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                error = answer.as_ref().err().map(|e| e.code().name()),
                "call"
            );
            answer.map_err(|e| rpc_error(&e))
        }
    });
    if let Err(e) = result {
        // Method names are constants from the api crate; a clash is a programming error
        // that the method-table test catches.
        tracing::error!(method = M::NAME, error = %e, "cannot register method");
    }
}

/// Registers method `M`, handled by `f(engine, caller, connection, params)`: for the methods
/// that act on the connection itself (subscriptions). Errors are JSON-RPC errors already.
pub fn register_on_connection<M, F, Fut>(module: &mut RpcModule<Ctx>, f: F)
where
    M: Method,
    F: Fn(Ctx, Arc<Caller>, Arc<Subscriptions>, M::Params) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<M::Output, ErrorObjectOwned>> + Send + 'static,
{
    let result = module.register_async_method(M::NAME, move |params, ctx, ext| {
        let f = f.clone();
        let parsed = parse::<M>(&params);
        let caller = ext.get::<Arc<Caller>>().cloned();
        let conn = ext.get::<Arc<Subscriptions>>().cloned();
        async move {
            let (Some(caller), Some(conn)) = (caller, conn) else {
                return Err(ErrorObjectOwned::owned::<()>(
                    -32603,
                    "no caller identity on this connection",
                    None,
                ));
            };
            let caller = ctx.current_caller(caller);
            f((*ctx).clone(), caller, conn, parsed?).await
        }
    });
    if let Err(e) = result {
        tracing::error!(method = M::NAME, error = %e, "cannot register method");
    }
}

/// Registers method `M`, handled by `f(operator, caller, params)`: the methods that need the
/// daemon's [`crate::operate::Operator`] (reload, admin status). A table without one (the
/// fuzz targets') answers that this daemon cannot do it.
pub fn register_operated<M, F, Fut>(module: &mut RpcModule<Ctx>, f: F)
where
    M: Method,
    F: Fn(Arc<crate::operate::Operator>, Arc<Caller>, M::Params) -> Fut
        + Clone
        + Send
        + Sync
        + 'static,
    Fut: Future<Output = Result<M::Output, EngineError>> + Send + 'static,
{
    let result = module.register_async_method(M::NAME, move |params, ctx, ext| {
        let f = f.clone();
        let parsed = parse::<M>(&params);
        let caller = ext.get::<Arc<Caller>>().cloned();
        let operator = ext.get::<Arc<crate::operate::Operator>>().cloned();
        async move {
            let Some(caller) = caller else {
                return Err(ErrorObjectOwned::owned::<()>(
                    -32603,
                    "no caller identity on this connection",
                    None,
                ));
            };
            let p = parsed?;
            let Some(operator) = operator else {
                return Err(ErrorObjectOwned::owned::<()>(
                    jit_api::ErrorCode::Unavailable.code(),
                    format!("{} is not available in this daemon", M::NAME),
                    None,
                ));
            };
            let started = std::time::Instant::now();
            let caller = ctx.current_caller(caller);
            let answer = f(operator, caller, p).await;
            ctx.metrics().rpc(M::NAME, started.elapsed());
            answer.map_err(|e| rpc_error(&e))
        }
    });
    if let Err(e) = result {
        tracing::error!(method = M::NAME, error = %e, "cannot register method");
    }
}
