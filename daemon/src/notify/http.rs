//! Slack, Teams and the generic webhook: one JSON POST each, over a shared HTTP client.
//!
//! The URL is the receiver's credential: errors are reported without it (`without_url`), and
//! never with the response body (a 404 page may echo the path). Redirects are not followed, so
//! a signed body goes only where the admin said.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::Failure;
use super::render::{Message, clip};

/// The most bytes of a Slack section's text (Slack refuses one over 3,000 characters).
const SLACK_SECTION: usize = 2900;
/// The most bytes of a Teams message (Teams refuses one over 28 KB).
const TEAMS_BODY: usize = 27 * 1024;
use crate::engine::outbox::Delivery;

/// The header with the delivery id (stable across retries).
pub const DELIVERY_HEADER: &str = "X-Jit-Delivery";
/// The header with the event kind.
pub const EVENT_HEADER: &str = "X-Jit-Event";
/// The webhook's signature header: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Jit-Signature";

/// The HTTP client every webhook channel shares.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("jitd/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Slack's incoming-webhook payload: `text` (the fallback shown in notifications) and blocks
/// with the facts and the commands.
pub fn slack_body(m: &Message) -> Value {
    let mut detail = format!("*{}*\n", esc(&m.title));
    for (k, v) in &m.facts {
        detail.push_str(&format!("*{k}:* {}\n", esc(v)));
    }
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(detail.trim_end(), SLACK_SECTION)},
    })];
    if !m.next.is_empty() {
        let cmds: Vec<String> = m.next.iter().map(|n| format!("`{}`", esc(n))).collect();
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(&format!("Run: {}", cmds.join("  ")), SLACK_SECTION)},
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("jit delivery {}", m.delivery)}],
    }));
    // The fallback text is mrkdwn too: `<!channel>` would ping, `<url|Approve>` fake a link.
    json!({"text": clip(&esc(&m.title), SLACK_SECTION), "blocks": blocks})
}

/// Slack's escaping of text: `&`, `<` and `>` as entities, so that no part of a requester's
/// text becomes a mention, a link or a command.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Teams' Markdown escaping: a backslash before each character Markdown gives a meaning to,
/// so a requester's text cannot become a link, emphasis, a heading or a list.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '[' | ']' | '(' | ')' | '*' | '_' | '~' | '`' | '#' | '>' | '-' | '<'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A Teams incoming-webhook message: one Adaptive Card with the title, the facts and the
/// commands, under 28 KB (facts are clipped shorter until it fits).
pub fn teams_body(m: &Message) -> Value {
    let mut limit = 2 * super::render::MAX_FACT;
    loop {
        let card = teams_card(m, limit);
        if limit <= 64 || serde_json::to_vec(&card).map_or(0, |b| b.len()) <= TEAMS_BODY {
            return card;
        }
        limit /= 2;
    }
}

/// The Teams message with each (escaped) fact and the title clipped to `limit` bytes.
fn teams_card(m: &Message, limit: usize) -> Value {
    let facts: Vec<Value> = m
        .facts
        .iter()
        .map(|(k, v)| json!({"title": k, "value": clip(&md(v), limit)}))
        .collect();
    let mut body = vec![
        json!({"type": "TextBlock", "text": clip(&md(&m.title), limit), "weight": "Bolder", "size": "Medium", "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if !m.next.is_empty() {
        let cmds: Vec<String> = m.next.iter().map(|n| format!("`{n}`")).collect();
        body.push(
            json!({"type": "TextBlock", "text": format!("Run: {}", cmds.join("  ")), "wrap": true}),
        );
    }
    body.push(json!({
        "type": "TextBlock",
        "text": format!("jit delivery {}", m.delivery),
        "isSubtle": true,
        "size": "Small",
        "wrap": true,
    }));
    json!({
        "type": "message",
        "summary": m.title,
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

/// The generic webhook's body: the delivery id and the event (as `events.subscribe` sends it).
pub fn webhook_body(d: &Delivery) -> Value {
    json!({"delivery": d.id, "event": d.event})
}

/// `sha256=<hex>` of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return "sha256=".to_owned();
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + digest.len() * 2);
    hex.push_str("sha256=");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// POSTs `body` to `url` with the delivery headers (and the signature, given a key).
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    d: &Delivery,
    body: &Value,
    key: Option<&[u8]>,
) -> Result<(), Failure> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| Failure::Refused(format!("cannot encode the notification: {e}")))?;
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(DELIVERY_HEADER, d.id.as_str())
        .header(EVENT_HEADER, d.event.kind.as_str());
    if let Some(key) = key {
        req = req.header(SIGNATURE_HEADER, signature(key, &bytes));
    }
    let resp = req
        .body(bytes)
        .send()
        .await
        .map_err(|e| Failure::Retry(describe(&e.without_url())))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let what = format!("the receiver answered HTTP {status}");
    Err(classify(status.as_u16(), what))
}

/// What an HTTP status other than 2xx means for the notification, and whom a retry waits
/// for:
/// - a refusal of this very body (400, 413, 422) drops it;
/// - a refusal of the channel — its URL unknown or revoked (401, 403, 404, 410), not taking
///   POSTs (405), moved (3xx, not followed), or a request no message of ours would pass (407
///   a proxy wants a login, 411, 415, 421 sent to the wrong server, 426, 431) — is for the
///   admin to fix: the channel waits, loudly;
/// - a receiver down, failing or busy (5xx, 408, 429) makes the channel wait;
/// - any other 4xx is the receiver answering about this message alone (409, 423, …): only it
///   waits for its next attempt, the ones behind it go on.
fn classify(status: u16, what: String) -> Failure {
    match status {
        400 | 413 | 422 => Failure::Refused(what),
        300..=399 | 401 | 403 | 404 | 405 | 407 | 410 | 411 | 415 | 421 | 426 | 431 => {
            Failure::Channel(what)
        }
        408 | 429 => Failure::Retry(what),
        400..=499 => Failure::Later(what),
        _ => Failure::Retry(what),
    }
}

/// A reqwest error (already without its URL) with its causes, in one line.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        "cannot connect".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_of_the_body_drops_a_notification_and_only_the_channels_failures_hold_it_up() {
        let kind = |s| match classify(s, String::new()) {
            Failure::Refused(_) => "drop",
            Failure::Channel(_) => "channel",
            Failure::Retry(_) => "retry",
            Failure::Later(_) => "this one later",
        };
        for s in [400, 413, 422] {
            assert_eq!(kind(s), "drop", "{s}");
        }
        for s in [
            301, 302, 401, 403, 404, 405, 407, 410, 411, 415, 421, 426, 431,
        ] {
            assert_eq!(kind(s), "channel", "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(kind(s), "retry", "{s}");
        }
        for s in [402, 409, 412, 423, 424, 425, 451] {
            assert_eq!(kind(s), "this one later", "{s}");
        }
    }

    #[test]
    fn markdown_and_slack_escapes() {
        assert_eq!(
            md("[x](http://e) *b* <!c> #h -l `c` ~s_ \\"),
            "\\[x\\]\\(http://e\\) \\*b\\* \\<!c\\> \\#h \\-l \\`c\\` \\~s\\_ \\\\"
        );
        assert_eq!(
            esc("<!channel> & <u|A>"),
            "&lt;!channel&gt; &amp; &lt;u|A&gt;"
        );
    }

    /// RFC 4231, test case 2.
    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
