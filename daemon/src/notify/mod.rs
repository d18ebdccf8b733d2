//! Outbound notifications: delivers what the engine wrote to the store's outbox, to Slack,
//! Teams, a signed JSON webhook, or email, at least once.
//!
//! Each channel has a task of its own that sends its notifications one at a time, oldest
//! first, each attempt bounded by the channel's `timeout`: a receiver that hangs or is down
//! holds up only its own channel, never a request or another channel. A failed attempt is
//! retried with jittered exponential backoff (1 s doubling to 5 min) — and so is one the
//! receiver refuses for the channel's sake (HTTP 401/403/404/410, a redirect, the SMTP sender
//! or login refused: a rotated or mistyped URL), logged as an error; a notification the
//! receiver refuses as such (HTTP 400/413/422, a recipient refused for good) or that is older
//! than `give_up_after` is given up, with an audit entry. Delivered or given up, the row leaves the
//! outbox in a later transaction; a crash in between sends it again, with the same delivery
//! id.
//!
//! Invariant: this module never touches the store; it reads and removes outbox rows through
//! the engine. No URL, key or password reaches a log line or an error it reports.

pub mod email;
pub mod http;
pub mod render;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jit_config::{Channel, ChannelKind};
use tokio::sync::mpsc;

use crate::engine::outbox::{Delivery, Progress, Queued};
use crate::engine::{Engine, EngineError, to_ms};

/// Why an attempt failed. The text is for people and holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try later (the receiver is away, slow, or busy).
    Retry(String),
    /// The receiver refused this notification; another try would send the same bytes.
    Refused(String),
    /// The receiver refuses the channel itself (HTTP 401/403/404/410, a redirect, the SMTP
    /// sender or login refused): a rotated or mistyped URL or credential that the admin must
    /// fix. Retried like `Retry`, but logged as an error: no notification is dropped for it.
    Channel(String),
}

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The wait after `failures` failed attempts in a row: 1 s doubling to 5 min, ±20 %.
fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(1u64 << failures.saturating_sub(1).min(9)).min(MAX_BACKOFF);
    let ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
    let jitter = rand::random_range(0..=ms / 5 * 2);
    Duration::from_millis(ms - ms / 5 + jitter)
}

/// How one channel sends.
enum Target {
    Slack(String),
    Teams(String),
    Webhook(String, Vec<u8>),
    Email(Box<email::Email>),
}

impl Target {
    fn new(channel: &Channel) -> Result<Target, String> {
        Ok(match &channel.kind {
            ChannelKind::Slack { url } => Target::Slack(url.expose().to_owned()),
            ChannelKind::Teams { url } => Target::Teams(url.expose().to_owned()),
            ChannelKind::Webhook { url, secret } => {
                Target::Webhook(url.expose().to_owned(), secret.expose().as_bytes().to_vec())
            }
            ChannelKind::Email(settings) => {
                Target::Email(Box::new(email::Email::new(settings, channel.timeout)?))
            }
        })
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        d: &Delivery,
        progress: &mut Progress,
    ) -> Result<(), Failure> {
        let m = render::message(&d.event, &d.id);
        match self {
            Target::Slack(url) => http::post(client, url, d, &http::slack_body(&m), None).await,
            Target::Teams(url) => http::post(client, url, d, &http::teams_body(&m), None).await,
            Target::Webhook(url, key) => {
                http::post(client, url, d, &http::webhook_body(d), Some(key)).await
            }
            Target::Email(e) => e.send(d, &m, progress).await,
        }
    }
}

/// Delivers the outbox: what it held at start (`pending`, read before anything could write
/// to it), then every row announced on `queued`. Runs until the daemon stops.
pub async fn run(
    engine: Arc<Engine>,
    pending: Vec<Queued>,
    mut queued: mpsc::UnboundedReceiver<Vec<Queued>>,
) {
    let client = match http::client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e.without_url(), "cannot start the HTTP client: webhook notifications wait in the outbox");
            return;
        }
    };
    let mut workers: HashMap<String, mpsc::UnboundedSender<u64>> = HashMap::new();
    for channel in &engine.config().notifications {
        let target = match Target::new(channel) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(
                    channel = channel.name,
                    error = e,
                    "cannot set up this notification channel: its notifications wait in the outbox"
                );
                continue;
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        workers.insert(channel.name.clone(), tx);
        tokio::spawn(worker(
            engine.clone(),
            channel.clone(),
            target,
            client.clone(),
            rx,
        ));
    }
    let route = |(channel, seq): Queued| {
        if let Some(w) = workers.get(&channel) {
            let _ = w.send(seq);
            return None;
        }
        Some((channel, seq))
    };
    let mut gone = Vec::new();
    for row in pending {
        gone.extend(route(row));
    }
    for (channel, seq) in gone {
        // A channel removed from the config: nobody will send these.
        if engine.config().channel(&channel).is_none()
            && let Err(e) = engine
                .outbox_give_up(
                    &channel,
                    seq,
                    "the channel is no longer in the config".to_owned(),
                )
                .await
        {
            tracing::error!(channel, seq, error = %e, "cannot give up a notification");
        }
    }
    while let Some(batch) = queued.recv().await {
        for row in batch {
            route(row);
        }
    }
}

/// One channel's delivery loop: its notifications in order, one at a time.
async fn worker(
    engine: Arc<Engine>,
    channel: Channel,
    target: Target,
    client: reqwest::Client,
    mut rx: mpsc::UnboundedReceiver<u64>,
) {
    let name = channel.name.as_str();
    let mut queue: BTreeSet<u64> = BTreeSet::new();
    let mut failures: u32 = 0;
    let mut last_error: Option<String> = None;
    loop {
        while let Ok(seq) = rx.try_recv() {
            queue.insert(seq);
        }
        let Some(&seq) = queue.first() else {
            match rx.recv().await {
                Some(seq) => {
                    queue.insert(seq);
                    continue;
                }
                None => return,
            }
        };
        let delivery = match engine.outbox_delivery(name, seq) {
            Ok(Some(d)) => d,
            // Gone: pushed out of a full outbox, or sent before a restart announced it twice.
            Ok(None) => {
                queue.remove(&seq);
                continue;
            }
            Err(EngineError::InvalidInput(why)) => {
                give_up(&engine, name, seq, why).await;
                queue.remove(&seq);
                continue;
            }
            Err(e) => {
                tracing::error!(channel = name, seq, error = %e, "cannot read a notification from the outbox");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let age = to_ms(engine.clock().now()).saturating_sub(delivery.at);
        if u128::from(age) > channel.give_up_after.as_millis() {
            let why = format!(
                "not delivered within give_up_after ({}){}",
                humantime::format_duration(channel.give_up_after),
                last_error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            );
            give_up(&engine, name, seq, why).await;
            queue.remove(&seq);
            continue;
        }
        let mut progress = Progress::default();
        let outcome = match tokio::time::timeout(
            channel.timeout,
            target.send(&client, &delivery, &mut progress),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(Failure::Retry(format!(
                "no answer within the channel's timeout ({})",
                humantime::format_duration(channel.timeout)
            ))),
        };
        if !progress.is_empty()
            && let Err(e) = engine.outbox_progress(name, seq, progress).await
        {
            // Not remembered: a retry sends those recipients another copy (same id).
            tracing::error!(channel = name, seq, error = %e, "cannot record who got a notification");
        }
        match outcome {
            Ok(()) => {
                tracing::info!(channel = name, delivery = delivery.id, event = %delivery.event.kind, "notification delivered");
                if let Err(e) = engine.outbox_delivered(name, seq).await {
                    // It stays in the outbox and is sent again at the next start (same id).
                    tracing::error!(channel = name, seq, error = %e, "cannot record a delivered notification");
                }
                queue.remove(&seq);
                failures = 0;
                last_error = None;
            }
            Err(Failure::Refused(why)) => {
                engine.outbox_failed(name, &why);
                give_up(&engine, name, seq, format!("refused: {why}")).await;
                queue.remove(&seq);
            }
            Err(Failure::Retry(why)) => {
                failures = failures.saturating_add(1);
                let wait = backoff(failures);
                tracing::warn!(channel = name, delivery = delivery.id, attempt = failures, error = why, retry_in = ?wait, "notification not delivered; retrying");
                engine.outbox_failed(name, &why);
                last_error = Some(why);
                tokio::time::sleep(wait).await;
            }
            Err(Failure::Channel(why)) => {
                failures = failures.saturating_add(1);
                let wait = backoff(failures);
                let why = format!(
                    "the receiver refuses this channel (check its URL and credentials): {why}"
                );
                tracing::error!(channel = name, delivery = delivery.id, attempt = failures, error = why, retry_in = ?wait, "notification channel refused; retrying");
                engine.outbox_failed(name, &why);
                last_error = Some(why);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

async fn give_up(engine: &Engine, channel: &str, seq: u64, why: String) {
    if let Err(e) = engine.outbox_give_up(channel, seq, why).await {
        tracing::error!(channel, seq, error = %e, "cannot give up a notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes_with_jitter() {
        for (failures, base) in [(1, 1u128), (2, 2), (3, 4), (9, 256), (10, 300), (40, 300)] {
            let ms = base * 1000;
            let got = backoff(failures).as_millis();
            assert!(
                got >= ms * 4 / 5 && got <= ms * 6 / 5,
                "{failures}: {got} ms"
            );
        }
    }
}
