//! Email over SMTP (lettre): STARTTLS when the server offers it (or required, or TLS from the
//! start, as configured), to the requester — or, for `approval_needed`, to the approvers.
//!
//! Addresses come from the channel's `addresses`, else `user@domain`. An approver group
//! (`%dba`) means its listed members (`/etc/group`); users whose primary group it is are not
//! listed there and are not reached. The SMTP URL's password is never logged: lettre's errors
//! do not hold it.
//!
//! Each recipient gets the message in an SMTP transaction of its own (MAIL, RCPT, DATA, RSET on
//! one connection): a server that refuses one address at RCPT would otherwise abort the
//! message for everybody. Who got it is remembered in the outbox row, so a retry sends only to
//! the others. A recipient refused for now (4xx, but 421) makes this message alone wait for
//! its next attempt ([`Failure::Later`]); the server failing before any recipient (no
//! connection, TLS, login, sender) makes the channel wait.

use jit_config::{EmailSettings, SmtpTls};
use lettre::Message as Mail;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail as MailCmd, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};

use super::Failure;
use super::render::Message;
use crate::engine::outbox::{Delivery, Progress};

/// The most bytes of a subject (a long one is cut by some servers, refused by others).
const MAX_SUBJECT: usize = 200;

/// An email channel: where its server is, how to reach it, and its settings.
pub struct Email {
    host: String,
    port: u16,
    tls: TlsParameters,
    credentials: Option<Credentials>,
    timeout: std::time::Duration,
    settings: EmailSettings,
    from: Mailbox,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email").finish_non_exhaustive()
    }
}

/// The `X-Jit-Delivery` header of an email.
#[derive(Debug, Clone)]
struct DeliveryHeader(String);

impl Header for DeliveryHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Jit-Delivery")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(DeliveryHeader(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Percent-decodes a URL part (a user or password).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Email {
    /// Builds the channel from its (validated) settings; `timeout` bounds each SMTP step.
    pub fn new(settings: &EmailSettings, timeout: std::time::Duration) -> Result<Email, String> {
        // smtp://[USER[:PASSWORD]@]HOST[:PORT][/], checked by the config.
        let url = settings.url.expose();
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (userinfo, host_port) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = match host_port.strip_prefix('[') {
            Some(inner) => {
                let (h, after) = inner.split_once(']').unwrap_or((inner, ""));
                (h.to_owned(), after.strip_prefix(':'))
            }
            None => match host_port.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (host_port.to_owned(), None),
            },
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| "the SMTP port is not a number".to_owned())?,
            None if settings.tls == SmtpTls::Wrapper => 465,
            None => 25,
        };
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(pem) = &settings.ca_pem {
            // One PEM file may hold several certificates: each is trusted.
            for block in pem.split_inclusive("-----END CERTIFICATE-----") {
                if !block.contains("-----BEGIN CERTIFICATE-----") {
                    continue;
                }
                let cert = Certificate::from_pem(block.trim().as_bytes())
                    .map_err(|e| format!("ca_file holds a certificate lettre cannot read: {e}"))?;
                tls = tls.add_root_certificate(cert);
            }
        }
        let tls = tls
            .build()
            .map_err(|e| format!("cannot set up TLS for the SMTP server: {e}"))?;
        let credentials = userinfo.map(|info| {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            Credentials::new(unescape(user), unescape(password))
        });
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("from is not an address lettre accepts: {e}"))?;
        Ok(Email {
            host,
            port,
            tls,
            credentials,
            timeout,
            settings: settings.clone(),
            from,
        })
    }

    /// Connects, says EHLO, starts TLS as configured, and logs in.
    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let hello = ClientId::default();
        let wrapper = (self.settings.tls == SmtpTls::Wrapper).then(|| self.tls.clone());
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &hello,
            wrapper,
            None,
        )
        .await
        .map_err(|e| Failure::Retry(format!("SMTP: cannot connect: {e}")))?;
        let starttls = match self.settings.tls {
            SmtpTls::Opportunistic => conn.can_starttls(),
            SmtpTls::Required => true,
            SmtpTls::Wrapper => false,
        };
        if starttls {
            conn.starttls(self.tls.clone(), &hello)
                .await
                .map_err(|e| Failure::Retry(format!("SMTP: STARTTLS failed: {e}")))?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| {
                    if e.is_permanent() {
                        Failure::Channel(format!("SMTP: the login was refused: {e}"))
                    } else {
                        Failure::Retry(format!("SMTP: login failed: {e}"))
                    }
                })?;
        }
        Ok(conn)
    }

    /// Sends `d` to each of its recipients but those in `d.done`, one SMTP transaction each,
    /// so that one address the server refuses stops nobody else's copy. Who got it, and who
    /// was refused for good, goes into `progress` as it happens (the caller records it, so a
    /// retry skips them); a recipient refused for now makes the whole a `Retry`.
    pub async fn send(
        &self,
        d: &Delivery,
        m: &Message,
        progress: &mut Progress,
    ) -> Result<(), Failure> {
        let users = if d.for_approvers() {
            approver_users(&d.approvers, &d.requester).await
        } else {
            vec![d.requester.clone()]
        };
        let mut to = Mailboxes::new();
        for user in &users {
            let Some(address) = self.settings.address_of(user) else {
                tracing::warn!(
                    user,
                    delivery = d.id,
                    "no email address for this user: add it to the channel's addresses, or set domain"
                );
                continue;
            };
            match address.parse::<Mailbox>() {
                Ok(mb) => to.push(mb),
                Err(e) => {
                    tracing::warn!(user, delivery = d.id, error = %e, "this user's email address is not valid");
                }
            }
        }
        if to.iter().next().is_none() {
            tracing::info!(delivery = d.id, "nobody to email for this notification");
            return Ok(());
        }
        let left: Vec<Mailbox> = to
            .iter()
            .filter(|mb| !d.done.contains(&mb.email.to_string()))
            .cloned()
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        let mut builder = Mail::builder()
            .from(self.from.clone())
            .subject(super::render::clip(
                &format!("[jit] {}", m.title),
                MAX_SUBJECT,
            ))
            .message_id(Some(format!("<{}@jitd>", d.id)))
            .header(DeliveryHeader(d.id.clone()))
            .header(ContentType::TEXT_PLAIN);
        for mb in to {
            builder = builder.to(mb);
        }
        let mail = builder
            .body(m.text())
            .map_err(|e| Failure::Refused(format!("cannot build the email: {e}")))?;
        let bytes = mail.formatted();
        let mut options = Vec::new();
        if !bytes.is_ascii() {
            options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mut conn = self.connect().await?;
        let mut later: Vec<String> = Vec::new();
        for mb in left {
            let address = mb.email.to_string();
            conn.command(MailCmd::new(Some(self.from.email.clone()), options.clone()))
                .await
                .map_err(|e| {
                    // The sender refused: every recipient would be, a channel matter.
                    if e.is_permanent() {
                        Failure::Channel(format!("SMTP: the sender was refused: {e}"))
                    } else {
                        Failure::Retry(format!("SMTP: the sender was refused for now: {e}"))
                    }
                })?;
            let sent = match conn.command(Rcpt::new(mb.email.clone(), Vec::new())).await {
                Ok(_) => match conn.command(Data).await {
                    Ok(_) => conn.message(&bytes).await.map(|_| ()),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match sent {
                Ok(()) => progress.sent.push(address),
                // This recipient, for good: the others still get theirs.
                Err(e) if e.is_permanent() => {
                    tracing::warn!(delivery = d.id, recipient = address, error = %e, "the SMTP server refused a recipient: dropped for this one");
                    progress
                        .refused
                        .push((address, format!("the SMTP server refused it: {e}")));
                }
                // 421: the server is closing the connection, for everyone.
                Err(e) if e.status().is_some_and(|c| c.to_string() == "421") => {
                    return Err(Failure::Retry(format!("SMTP: {e}")));
                }
                // For now: only this recipient is tried again.
                Err(e) if e.is_transient() => later.push(format!("{address}: {e}")),
                // The connection broke: the rest are tried again.
                Err(e) => return Err(Failure::Retry(format!("SMTP: {e}"))),
            }
            if conn.command(Rset).await.is_err() {
                return Err(Failure::Retry(
                    "SMTP: the server did not take RSET".to_owned(),
                ));
            }
        }
        let _ = conn.quit().await;
        if later.is_empty() {
            Ok(())
        } else {
            // The server is up and answered about these recipients: this message alone waits
            // for its next attempt (to them only), the channel's next messages go on.
            Err(Failure::Later(format!(
                "SMTP: recipients refused for now: {}",
                later.join("; ")
            )))
        }
    }
}

/// The users named by approver rules (`alice`, `%dba`), but the requester, without repeats.
async fn approver_users(rules: &[String], requester: &str) -> Vec<String> {
    let rules = rules.to_vec();
    let requester = requester.to_owned();
    // Group lookups go through NSS, which may block.
    tokio::task::spawn_blocking(move || {
        let mut out: Vec<String> = Vec::new();
        for rule in rules {
            let names = match rule.strip_prefix('%') {
                Some(group) => match nix::unistd::Group::from_name(group) {
                    Ok(Some(g)) => g.mem,
                    _ => {
                        tracing::warn!(group, "approver group not found: nobody in it is emailed");
                        Vec::new()
                    }
                },
                None if rule == "*" => Vec::new(),
                None => vec![rule],
            };
            for n in names {
                if n != requester && !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    })
    .await
    .unwrap_or_default()
}
