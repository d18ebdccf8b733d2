//! The portal's routes: the page and its assets, one JSON route per jitd method the page
//! uses (each a thin call with `jit-api`'s own parameter and result types), and the event
//! stream.
//!
//! Errors keep jitd's code, name and message (written for people) and get an HTTP status
//! that fits; the page shows the message next to the field it is about.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use jit_api::methods::{
    AgainParams, CatalogList, ConnectParams, CreateParams, CredentialsReset, CredentialsReveal,
    DaemonStatusMethod, DecideParams, Empty, GrantRevoke, IdParams, ListParams, RequestAgain,
    RequestApprove, RequestCancel, RequestCreate, RequestGet, RequestList, RequestReject, Scope,
    SessionConnect,
};
use jit_api::{ConnectKind, ErrorCode, Method, RequestId};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::Shared;
use crate::daemon::CallError;

/// Every route, behind the guard and the security headers.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
        .route("/api/status", get(status))
        .route("/api/catalog", get(catalog))
        .route("/api/requests", get(list).post(create))
        .route("/api/requests/{id}", get(one))
        .route("/api/requests/{id}/approve", post(approve))
        .route("/api/requests/{id}/reject", post(reject))
        .route("/api/requests/{id}/cancel", post(cancel))
        .route("/api/requests/{id}/revoke", post(revoke))
        .route("/api/requests/{id}/reset", post(reset))
        .route("/api/requests/{id}/again", post(again))
        .route("/api/requests/{id}/reveal", post(reveal))
        .route("/api/requests/{id}/connect", post(connect))
        .route("/api/requests/{id}/launch", post(launch))
        .route("/api/events", get(events))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            crate::auth::guard,
        ))
        .layer(axum::middleware::from_fn(crate::auth::security_headers))
        .with_state(shared)
}

async fn index(State(shared): State<Shared>) -> Html<String> {
    Html(crate::assets::index(&shared.auth.csrf))
}

async fn asset(Path(name): Path<String>) -> Response {
    match crate::assets::asset(&name) {
        Some((mime, body)) => ([(header::CONTENT_TYPE, mime)], body).into_response(),
        None => not_found().await,
    }
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such page in the portal",
    )
}

/// An error as `{"error":{"code","name","message"}}`.
fn error(status: StatusCode, name: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"name": name, "message": message}});
    (status, Json(body)).into_response()
}

fn call_error(e: CallError) -> Response {
    match e {
        CallError::Daemon(rpc) => {
            let kind = rpc.kind();
            let status = match kind {
                Some(ErrorCode::NotFound) => StatusCode::NOT_FOUND,
                Some(ErrorCode::Forbidden) => StatusCode::FORBIDDEN,
                Some(ErrorCode::InvalidState | ErrorCode::AlreadyRevealed) => StatusCode::CONFLICT,
                Some(ErrorCode::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
                Some(ErrorCode::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
                Some(_) | None => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let name = kind.map_or("invalid_params", ErrorCode::name);
            let body = serde_json::json!({
                "error": {"code": rpc.code, "name": name, "message": rpc.message}
            });
            (status, Json(body)).into_response()
        }
        CallError::Unreachable(message) => error(StatusCode::BAD_GATEWAY, "unreachable", &message),
    }
}

async fn call<M: Method>(shared: &Shared, params: &M::Params) -> Response {
    match shared.daemon.call::<M>(params).await {
        Ok(out) => Json(out).into_response(),
        Err(e) => call_error(e),
    }
}

async fn status(State(shared): State<Shared>) -> Response {
    match shared.daemon.call::<DaemonStatusMethod>(&Empty {}).await {
        Ok(daemon) => Json(serde_json::json!({
            "daemon": daemon,
            "portal": {
                "version": env!("CARGO_PKG_VERSION"),
                "can_launch_terminal": shared.launcher.is_some(),
                "idle_timeout_secs": shared.idle_timeout.as_secs(),
            }
        }))
        .into_response(),
        Err(e) => call_error(e),
    }
}

async fn catalog(State(shared): State<Shared>) -> Response {
    call::<CatalogList>(&shared, &Empty {}).await
}

/// `request.list`'s parameters as a query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    closed: bool,
    #[serde(default)]
    scope: Scope,
    #[serde(default)]
    resource_type: Option<String>,
}

async fn list(State(shared): State<Shared>, Query(q): Query<ListQuery>) -> Response {
    let params = ListParams {
        closed: q.closed,
        scope: q.scope,
        resource_type: q.resource_type.filter(|t| !t.is_empty()),
        limit: Some(1000),
        ..ListParams::default()
    };
    call::<RequestList>(&shared, &params).await
}

async fn one(State(shared): State<Shared>, Path(id): Path<RequestId>) -> Response {
    call::<RequestGet>(&shared, &IdParams { id }).await
}

async fn create(State(shared): State<Shared>, Json(params): Json<CreateParams>) -> Response {
    call::<RequestCreate>(&shared, &params).await
}

/// The body of approve, reject, cancel, revoke and reset.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    #[serde(default)]
    reason: Option<String>,
}

fn decide(id: RequestId, body: Option<Json<Reason>>) -> DecideParams {
    let reason = body
        .and_then(|Json(b)| b.reason)
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    DecideParams { id, reason }
}

async fn approve(
    State(shared): State<Shared>,
    Path(id): Path<RequestId>,
    body: Option<Json<Reason>>,
) -> Response {
    call::<RequestApprove>(&shared, &decide(id, body)).await
}

async fn reject(
    State(shared): State<Shared>,
    Path(id): Path<RequestId>,
    body: Option<Json<Reason>>,
) -> Response {
    call::<RequestReject>(&shared, &decide(id, body)).await
}

async fn cancel(
    State(shared): State<Shared>,
    Path(id): Path<RequestId>,
    body: Option<Json<Reason>>,
) -> Response {
    call::<RequestCancel>(&shared, &decide(id, body)).await
}

async fn revoke(
    State(shared): State<Shared>,
    Path(id): Path<RequestId>,
    body: Option<Json<Reason>>,
) -> Response {
    call::<GrantRevoke>(&shared, &decide(id, body)).await
}

async fn reset(
    State(shared): State<Shared>,
    Path(id): Path<RequestId>,
    body: Option<Json<Reason>>,
) -> Response {
    call::<CredentialsReset>(&shared, &decide(id, body)).await
}

/// The body of Request Again.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Again {
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    duration_secs: Option<u64>,
}

async fn again(
    State(shared): State<Shared>,
    Path(id): Path<RequestId>,
    Json(body): Json<Again>,
) -> Response {
    let params = AgainParams {
        id,
        justification: body
            .justification
            .map(|j| j.trim().to_owned())
            .filter(|j| !j.is_empty()),
        duration_secs: body.duration_secs,
    };
    call::<RequestAgain>(&shared, &params).await
}

/// Shows the credentials once: the answer goes to the page and nowhere else (no log, no
/// cache: every answer has `Cache-Control: no-store`).
async fn reveal(State(shared): State<Shared>, Path(id): Path<RequestId>) -> Response {
    call::<CredentialsReveal>(&shared, &IdParams { id }).await
}

/// The body of Connect.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connect {
    #[serde(default)]
    session: Option<String>,
    kind: ConnectKind,
}

/// Open in Browser and Open in App: the URL to open, which never holds the secret. A
/// terminal is `jit connect`'s job (its plan carries the secret), not the portal's.
async fn connect(
    State(shared): State<Shared>,
    Path(id): Path<RequestId>,
    Json(body): Json<Connect>,
) -> Response {
    if body.kind == ConnectKind::Terminal {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            &format!(
                "the portal does not open terminals with your secret: run `jit connect {id}` in a \
                 terminal"
            ),
        );
    }
    let params = ConnectParams {
        id,
        session: body.session,
        kind: Some(body.kind),
        args: Vec::new(),
    };
    match shared.daemon.call::<SessionConnect>(&params).await {
        Ok(plan) => Json(serde_json::json!({
            "kind": plan.kind,
            "integration": plan.integration,
            "url": plan.url,
            "message": plan.message,
        }))
        .into_response(),
        Err(e) => call_error(e),
    }
}

/// The body of Open in my Terminal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Launch {
    #[serde(default)]
    session: Option<String>,
}

/// Opens a terminal running `jit connect ID --session S`, which fetches the secret itself.
async fn launch(
    State(shared): State<Shared>,
    Path(id): Path<RequestId>,
    Json(body): Json<Launch>,
) -> Response {
    let Some(launcher) = &shared.launcher else {
        return error(
            StatusCode::CONFLICT,
            "invalid_state",
            &format!("the portal has no terminal to open here: run `jit connect {id}` in yours"),
        );
    };
    if let Some(s) = &body.session
        && (s.is_empty() || s.len() > 255 || s.chars().any(char::is_control))
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "the session must be an integration's name",
        );
    }
    match launcher.launch(id, body.session.as_deref(), shared.daemon.socket()) {
        Ok(()) => Json(serde_json::json!({"launched": true})).into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, "launch_failed", &format!("{e:#}")),
    }
}

/// jitd's events as Server-Sent Events, until the page goes or the portal stops. A page
/// that falls behind gets `{"kind":"resync"}` and reads the state again.
async fn events(
    State(shared): State<Shared>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = shared.events.subscribe();
    let stopping = shared.stopping.clone();
    // The first message says whether jitd's events are flowing now.
    let live = shared.live.load(std::sync::atomic::Ordering::SeqCst);
    let hello = futures_util::stream::once(std::future::ready(Ok(
        SseEvent::default().data(format!(r#"{{"kind":"hello","live":{live}}}"#))
    )));
    let rest = futures_util::stream::unfold((rx, stopping), |(mut rx, mut stopping)| async move {
        if *stopping.borrow() {
            return None;
        }
        let data = tokio::select! {
            got = rx.recv() => match got {
                Ok(json) => json,
                Err(RecvError::Lagged(_)) => r#"{"kind":"resync"}"#.to_owned(),
                Err(RecvError::Closed) => return None,
            },
            _ = stopping.changed() => return None,
        };
        Some((Ok(SseEvent::default().data(data)), (rx, stopping)))
    });
    Sse::new(futures_util::StreamExt::chain(hello, rest))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
