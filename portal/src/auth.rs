//! Who may use the portal: the browser that opened the link `jit portal` printed.
//!
//! - The link carries a random one-time token. The first request with it gets a cookie
//!   (`HttpOnly`, `SameSite=Strict`, random, never in a URL) and a redirect to a URL without
//!   the token; the token is then spent.
//! - Every request needs that cookie; every request that changes something (any method but
//!   GET and HEAD) also needs the CSRF token the page was served with, in `X-CSRF-Token`,
//!   and an `Origin` that is the portal itself.
//! - Every request must name the portal in `Host` (`127.0.0.1:PORT`), which a page on
//!   another name that resolves to 127.0.0.1 (DNS rebinding) cannot.
//!
//! Secrets are compared in constant time and never logged.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::Shared;

/// 32 random bytes as lower-case hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The portal's secrets and the address it answers as.
pub struct Auth {
    /// The one-time token of the link; `None` once spent.
    link_token: Mutex<Option<String>>,
    /// The cookie's value.
    session: String,
    /// The CSRF token the page sends back with every change.
    pub csrf: String,
    /// The cookie's name: cookies are not bound to a port, so it names the port.
    cookie_name: String,
    /// `127.0.0.1:PORT`.
    host: String,
    /// `http://127.0.0.1:PORT`.
    origin: String,
    /// Milliseconds since `started` of the last request that passed.
    last_seen_ms: AtomicU64,
    started: Instant,
}

impl Auth {
    /// New secrets for a portal on `port`.
    pub fn new(port: u16) -> Auth {
        Auth {
            link_token: Mutex::new(Some(random_token())),
            session: random_token(),
            csrf: random_token(),
            cookie_name: format!("jit_portal_{port}"),
            host: format!("127.0.0.1:{port}"),
            origin: format!("http://127.0.0.1:{port}"),
            last_seen_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// The link to open: the only place the one-time token appears.
    pub fn link(&self) -> String {
        let token = self
            .link_token
            .lock()
            .map(|t| t.clone().unwrap_or_default())
            .unwrap_or_default();
        format!("{}/?token={token}", self.origin)
    }

    /// How long since the last request that passed the checks (or since the start).
    pub fn idle_for(&self) -> std::time::Duration {
        let last = std::time::Duration::from_millis(self.last_seen_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_seen_ms.store(now, Ordering::Relaxed);
    }

    /// Spends the link token if `offered` is it.
    fn spend(&self, offered: &str) -> bool {
        let Ok(mut token) = self.link_token.lock() else {
            return false;
        };
        match token.as_deref() {
            Some(t) if same(t, offered) => {
                *token = None;
                true
            }
            _ => false,
        }
    }

    fn has_session(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == self.cookie_name && same(value, &self.session))
    }

    fn set_cookie(&self) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie_name, self.session
        )
    }
}

/// The query string's `token`, if any.
fn token_in(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| v)
}

/// Refuses what is not the user's browser; exchanges the link token for the cookie.
pub async fn guard(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let auth = &shared.auth;
    let headers = request.headers();
    let host_ok = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h == auth.host);
    if !host_ok {
        return refusal(
            StatusCode::MISDIRECTED_REQUEST,
            "wrong host",
            &format!("this portal answers only as {}", auth.origin),
            false,
        );
    }
    let wants_json = request.uri().path().starts_with("/api/");

    if let Some(offered) = token_in(request.uri().query()) {
        if request.method() != Method::GET || !auth.spend(offered) {
            return refusal(
                StatusCode::FORBIDDEN,
                "this link was already used",
                "each `jit portal` link opens the portal once, in one browser. Run `jit portal` \
                 again for a new link",
                wants_json,
            );
        }
        auth.touch();
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SEE_OTHER;
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, HeaderValue::from_static("/"));
        if let Ok(cookie) = HeaderValue::from_str(&auth.set_cookie()) {
            headers.insert(header::SET_COOKIE, cookie);
        }
        return response;
    }

    // The stylesheet, script and icon are the same for everyone (they are in the binary)
    // and the refusal pages use them.
    let public = request.method() == Method::GET && request.uri().path().starts_with("/assets/");
    if !public && !auth.has_session(headers) {
        return refusal(
            StatusCode::UNAUTHORIZED,
            "not signed in",
            "open the portal with the link `jit portal` printed, in the browser of the user who \
             started it",
            wants_json,
        );
    }

    if request.method() != Method::GET && request.method() != Method::HEAD {
        let origin_ok = headers
            .get(header::ORIGIN)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|o| o == auth.origin);
        let csrf_ok = headers
            .get("x-csrf-token")
            .and_then(|h| h.to_str().ok())
            .is_some_and(|t| same(t, &auth.csrf));
        if !origin_ok || !csrf_ok {
            return refusal(
                StatusCode::FORBIDDEN,
                "refused",
                "a change must come from the portal's own page (Origin and CSRF token); reload \
                 the page",
                wants_json,
            );
        }
    }
    auth.touch();
    next.run(request).await
}

/// A refusal as JSON (for `/api/`) or as a small page.
fn refusal(status: StatusCode, title: &str, message: &str, json: bool) -> Response {
    if json {
        let body = serde_json::json!({"error": {"name": title, "message": message}});
        return (status, axum::Json(body)).into_response();
    }
    let page = crate::assets::refusal_page(title, message);
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// Headers on every answer: nothing is cached, framed, sniffed or sent as a referrer, and
/// the page runs only its own scripts.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_token_is_spent_once() {
        let auth = Auth::new(4242);
        let link = auth.link();
        let token = link.split("token=").nth(1).expect("token").to_owned();
        assert!(link.starts_with("http://127.0.0.1:4242/?token="));
        assert!(!auth.spend("nope"));
        assert!(auth.spend(&token));
        assert!(!auth.spend(&token), "a spent token must not work again");
        assert!(!auth.link().contains(&token));
    }

    #[test]
    fn only_the_session_cookie_counts() {
        let auth = Auth::new(4242);
        let mut headers = HeaderMap::new();
        assert!(!auth.has_session(&headers));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; jit_portal_4243={}", auth.session))
                .expect("header"),
        );
        assert!(!auth.has_session(&headers), "another port's cookie");
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; jit_portal_4242={}", auth.session))
                .expect("header"),
        );
        assert!(auth.has_session(&headers));
        assert!(auth.set_cookie().contains("HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn token_is_read_from_the_query() {
        assert_eq!(token_in(Some("a=1&token=xyz")), Some("xyz"));
        assert_eq!(token_in(Some("a=1")), None);
        assert_eq!(token_in(None), None);
    }
}
