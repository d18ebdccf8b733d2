//! Outbound notifications: delivers what the engine wrote to the store's outbox, to Slack,
//! Teams, a signed JSON webhook, or email, at least once.
//!
//! Each channel has a task of its own that sends its notifications one at a time, oldest
//! first, each attempt bounded by the channel's `timeout`: a receiver that hangs or is down
//! holds up only its own channel, never a request or another channel. The store's outbox is
//! the source of truth: a channel's task holds at most [`WINDOW`] of its rows' keys in memory
//! and reads the next ones as those are done, so a channel that is down for days costs memory
//! for 256 keys, whatever its outbox holds.
//!
//! What a failed attempt holds up depends on who failed:
//! - **the channel** (no connection, a timeout, HTTP 5xx, 408 or 429, the SMTP server failing
//!   before any recipient): the whole channel waits — jittered backoff, 1 s doubling to 5 min,
//!   in memory — and then tries the same notification first. So is a receiver that refuses the
//!   channel itself (HTTP 401/403/404/405/410, a redirect, the SMTP sender or login refused: a
//!   rotated or mistyped URL), logged as an error.
//! - **this notification** (HTTP 4xx not named here, an SMTP recipient refused for now): the
//!   receiver is up and answered about this message alone, so only it waits — the same
//!   backoff, counted per notification and kept with its row in the store (it survives a
//!   restart) — while the ones behind it keep flowing.
//!
//! A notification the receiver refuses as such (HTTP 400/413/422, a recipient refused for
//! good), one older than `give_up_after`, and one that cannot be read (a damaged row, or one
//! written by a newer jitd) are given up, with an audit entry. Delivered or given up, the row
//! leaves the outbox in a later transaction; a crash in between sends it again, with the same
//! delivery id.
//!
//! Invariant: this module never touches the store; it reads and removes outbox rows through
//! the engine. No URL, key or password reaches a log line or an error it reports.

pub mod email;
pub mod http;
pub mod render;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use jit_config::{Channel, ChannelKind};
use tokio::sync::{Notify, mpsc};

use crate::engine::outbox::{Delivery, Loaded, Progress, Queued};
use crate::engine::{Engine, to_ms};

/// The most notifications of one channel held in memory (their keys); the rest wait in the
/// store and are read as these are done.
pub const WINDOW: usize = 256;

/// Why an attempt failed. The text is for people and holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The channel is away, slow, or busy (no connection, a timeout, HTTP 5xx, 408, 429): the
    /// whole channel waits, then tries this notification again first.
    Retry(String),
    /// The receiver answered, and cannot take this notification now (HTTP 4xx not named
    /// elsewhere, an SMTP recipient refused for now): this one alone waits for its next
    /// attempt, kept with its row; the channel goes on with the next.
    Later(String),
    /// The receiver refused this notification; another try would send the same bytes.
    Refused(String),
    /// The receiver refuses the channel itself (HTTP 401/403/404/405/410, a redirect, the SMTP
    /// sender or login refused): a rotated or mistyped URL or credential that the admin must
    /// fix. The channel waits as for `Retry`, and it is logged as an error: no notification
    /// is dropped for it.
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

/// Delivers the outbox: each configured channel's task reads its rows from the store — what
/// it held at start, then what the engine announces on `queued` — until the daemon stops.
/// Rows of channels no longer in the config are given up.
pub async fn run(engine: Arc<Engine>, mut queued: mpsc::UnboundedReceiver<Vec<Queued>>) {
    let client = match http::client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e.without_url(), "cannot start the HTTP client: webhook notifications wait in the outbox");
            return;
        }
    };
    let mut wakes: HashMap<String, Arc<Notify>> = HashMap::new();
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
        let wake = Arc::new(Notify::new());
        wakes.insert(channel.name.clone(), wake.clone());
        tokio::spawn(worker(
            engine.clone(),
            channel.clone(),
            target,
            client.clone(),
            wake,
        ));
    }
    tokio::spawn(give_up_removed_channels(engine.clone()));
    // An announcement only wakes the channel's task, which reads the store: nothing piles up
    // here while a channel is down.
    while let Some(batch) = queued.recv().await {
        for (channel, _) in batch {
            if let Some(w) = wakes.get(&channel) {
                w.notify_one();
            }
        }
    }
}

/// Gives up the rows of channels removed from the config: nobody will send these.
async fn give_up_removed_channels(engine: Arc<Engine>) {
    let channels = match engine.outbox_channels() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot list the outbox's channels");
            return;
        }
    };
    for channel in channels {
        if engine.config().channel(&channel).is_some() {
            continue;
        }
        let mut cursor = 0;
        loop {
            // Every row, whatever its retry time, a window at a time.
            let page = match engine.outbox_page(&channel, cursor, u64::MAX, WINDOW) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(channel, error = %e, "cannot read the outbox");
                    return;
                }
            };
            if page.due.is_empty() && page.fresh.is_empty() {
                break;
            }
            cursor = page.cursor;
            let rows = page.due.into_iter().map(|(seq, _)| seq).chain(page.fresh);
            for seq in rows {
                let why = "the channel is no longer in the config".to_owned();
                if let Err(e) = engine.outbox_give_up(&channel, seq, why).await {
                    // The store is failing: leave the rest for the next start.
                    tracing::error!(channel, seq, error = %e, "cannot give up a notification");
                    return;
                }
            }
        }
    }
}

/// What one channel's task holds in memory: the keys of at most [`WINDOW`] rows to try now
/// (`(seq, failed attempts of that row)`, in order), and where the store's next fresh rows
/// start.
#[derive(Debug, Default)]
struct Lane {
    queue: VecDeque<(u64, u32)>,
    cursor: u64,
}

impl Lane {
    /// Reads the next rows to try from the store once the queue is empty: those whose retry
    /// time has come, then fresh ones. Returns when the next row waiting for a retry is due.
    fn refill(
        &mut self,
        engine: &Engine,
        channel: &str,
    ) -> Result<Option<u64>, crate::engine::EngineError> {
        if !self.queue.is_empty() {
            return Ok(None);
        }
        let now = to_ms(engine.clock().now());
        let page = engine.outbox_page(channel, self.cursor, now, WINDOW)?;
        self.cursor = page.cursor;
        self.queue.extend(page.due);
        self.queue
            .extend(page.fresh.into_iter().map(|seq| (seq, 0)));
        engine.outbox_held(channel, self.queue.len());
        Ok(page.next_due)
    }
}

/// One channel's delivery loop: its notifications in order, one at a time; one that fails on
/// its own steps aside until its next attempt.
async fn worker(
    engine: Arc<Engine>,
    channel: Channel,
    target: Target,
    client: reqwest::Client,
    wake: Arc<Notify>,
) {
    let name = channel.name.as_str();
    let mut lane = Lane::default();
    // Failed attempts in a row that were the channel's fault.
    let mut failures: u32 = 0;
    let mut last_error: Option<String> = None;
    loop {
        let next_due = match lane.refill(&engine, name) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(channel = name, error = %e, "cannot read the outbox");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(&(seq, row_failures)) = lane.queue.front() else {
            // Nothing to try now: wait for a new row, or for the next retry time.
            let now = to_ms(engine.clock().now());
            match next_due {
                Some(at) => {
                    let wait = Duration::from_millis(at.saturating_sub(now)).min(MAX_BACKOFF);
                    tokio::select! {
                        () = wake.notified() => {}
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                None => wake.notified().await,
            }
            continue;
        };
        let delivery = match engine.outbox_delivery(name, seq) {
            Ok(Loaded::Ready(d)) => d,
            // Gone: pushed out of a full outbox, or given up.
            Ok(Loaded::Gone) => {
                lane.queue.pop_front();
                continue;
            }
            Ok(Loaded::Unsendable(why)) => {
                give_up(&engine, name, seq, why).await;
                lane.queue.pop_front();
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
            lane.queue.pop_front();
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
                lane.queue.pop_front();
                failures = 0;
                last_error = None;
            }
            Err(Failure::Refused(why)) => {
                engine.outbox_failed(name, &why);
                give_up(&engine, name, seq, format!("refused: {why}")).await;
                lane.queue.pop_front();
                failures = 0;
            }
            Err(Failure::Later(why)) => {
                // The receiver is there and answered: only this notification waits.
                failures = 0;
                let attempts = row_failures.saturating_add(1);
                let wait = backoff(attempts);
                let at = to_ms(engine.clock().now())
                    .saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
                tracing::warn!(channel = name, delivery = delivery.id, attempt = attempts, error = why, retry_in = ?wait, "notification not taken now; retrying it alone while the next ones go on");
                engine.outbox_failed(name, &why);
                last_error = Some(why);
                match engine.outbox_retry(name, seq, at, attempts).await {
                    Ok(()) => {
                        lane.queue.pop_front();
                    }
                    Err(e) => {
                        // Not recorded: it stays first and is tried again after a pause.
                        tracing::error!(channel = name, seq, error = %e, "cannot record when to retry a notification");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
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
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use jit_api::methods::CreateParams;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    use super::*;
    use crate::engine::{Caller, EngineParts};
    use crate::store::model::OutboxRecord;

    /// An engine on a store in `dir` on the system clock, with one Slack channel `ops` for
    /// `granted` events at `url`, and where its new rows are announced.
    fn engine(
        dir: &std::path::Path,
        url: &str,
    ) -> (Arc<Engine>, mpsc::UnboundedReceiver<Vec<Queued>>) {
        let text = format!(
            r#"
[[integrations]]
name = "demo"
kind = "dry-run"
resource_types = {{ database = ["read"] }}

[[flows]]
name = "demo-read"
requesters = ["alice"]
integration = "demo"
permissions = ["read"]
max_duration = "1h"

[[notifications]]
name = "ops"
kind = "slack"
url = "{url}"
global = true
events = ["granted"]
max_pending = 100000
"#
        );
        let config = jit_config::parse(&text, &dir.join("jit.toml")).expect("config");
        let store = crate::store::Store::open(&dir.join("jit.redb")).expect("store");
        let integrations =
            crate::integrations::build(&config, store.instance_id(), dir).expect("registry");
        let (events, events_rx) = mpsc::channel(crate::engine::events::PENDING_CHANGES);
        let (queued, queued_rx) = mpsc::unbounded_channel();
        let engine = Arc::new(Engine::new(EngineParts {
            config: Arc::new(config),
            store,
            integrations,
            clock: Arc::new(crate::clock::SystemClock),
            sealer: crate::secrets::Sealer::ephemeral(),
            actions: mpsc::unbounded_channel().0,
            deadline_added: Arc::new(Notify::new()),
            mode: "system",
            events,
            notifications: queued,
        }));
        tokio::spawn(crate::engine::events::run(engine.clone(), events_rx));
        (engine, queued_rx)
    }

    /// A receiver on `listener` that answers 200 to every POST and records its delivery id.
    fn receiver(listener: tokio::net::TcpListener, got: Arc<Mutex<Vec<String>>>) {
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let got = got.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    loop {
                        let (mut len, mut id) = (0, String::new());
                        loop {
                            let mut line = String::new();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            let line = line.trim_end();
                            if line.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = line.split_once(':') {
                                let v = v.trim();
                                if k.eq_ignore_ascii_case("content-length") {
                                    len = v.parse().unwrap_or(0);
                                } else if k.eq_ignore_ascii_case(http::DELIVERY_HEADER) {
                                    id = v.to_owned();
                                }
                            }
                        }
                        let mut body = vec![0; len];
                        if r.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        got.lock().unwrap().push(id);
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if w.write_all(ok).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    }

    /// Waits (up to `secs`) until `f` holds.
    async fn until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let start = std::time::Instant::now();
        while !f() {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_channel_that_is_down_holds_a_bounded_window_and_delivers_everything_when_back() {
        const ROWS: u64 = 2000;
        let dir = tempfile::tempdir().unwrap();
        // A port nobody listens on (yet): the channel is down.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (engine, queued) = engine(dir.path(), &format!("http://127.0.0.1:{port}/ops"));
        let alice = Caller {
            uid: 1000,
            pid: 0,
            user: "alice".into(),
            groups: vec!["alice".into()],
            admin: false,
        };
        let r = engine
            .create(
                &alice,
                CreateParams {
                    integration: "demo".into(),
                    resource_type: "database".into(),
                    resources: vec!["orders".into()],
                    permissions: vec!["read".into()],
                    ..CreateParams::default()
                },
            )
            .await
            .unwrap();
        let request = engine.store().read(|t| t.request(r.id)).unwrap().unwrap();
        let at = engine.now_ms();
        // Thousands of notifications wait, written before the notifier starts, as at a start
        // after a long outage.
        let mut ids = BTreeSet::new();
        let rows: Vec<OutboxRecord> = (0..ROWS)
            .map(|i| {
                let id = format!("{i:032x}");
                ids.insert(id.clone());
                OutboxRecord {
                    kind: "granted".into(),
                    action: "grant.granted".into(),
                    actor: "jitd".into(),
                    at,
                    reason: None,
                    details: None,
                    request: request.clone(),
                    done: Vec::new(),
                    delivery: Some(id),
                }
            })
            .collect();
        engine
            .store()
            .write(move |w| {
                for row in &rows {
                    w.push_outbox("ops", row, 100_000)?;
                }
                Ok::<_, crate::store::StoreError>(())
            })
            .await
            .unwrap();
        tokio::spawn(run(engine.clone(), queued));
        let failed = |e: &Engine| e.channel_statuses().unwrap()[0].failed_attempts;
        until(30, "two failed attempts", || failed(&engine) >= 2).await;
        // Down: the notifier holds one window, not the outbox.
        assert_eq!(engine.outbox_peak_held("ops"), WINDOW);
        assert_eq!(engine.outbox_len("ops").unwrap(), ROWS);

        // Back: everything arrives (at least once) and leaves the outbox.
        let got = Arc::new(Mutex::new(Vec::new()));
        receiver(
            tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap(),
            got.clone(),
        );
        until(120, "the outbox to empty", || {
            engine.outbox_len("ops").unwrap() == 0
        })
        .await;
        let seen: BTreeSet<String> = got.lock().unwrap().iter().cloned().collect();
        assert_eq!(seen, ids);
        assert_eq!(engine.outbox_peak_held("ops"), WINDOW);
        assert_eq!(engine.channel_statuses().unwrap()[0].delivered, ROWS);
    }

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
