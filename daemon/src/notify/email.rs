//! Email over SMTP (lettre): STARTTLS when the server offers it (or required, or TLS from the
//! start, as configured), to the requester — or, for `approval_needed`, to the approvers.
//!
//! Addresses come from the channel's `addresses`, else `user@domain`. An approver group
//! (`%dba`) means its listed members (`/etc/group`); users whose primary group it is are not
//! listed there and are not reached. The SMTP URL's password is never logged: lettre's errors
//! do not hold it.

use jit_config::{EmailSettings, SmtpTls};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor};

use super::Failure;
use super::render::Message;
use crate::engine::outbox::Delivery;

/// An email channel: its transport and settings.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
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
        let params = TlsParameters::new(host.clone())
            .map_err(|e| format!("cannot set up TLS for the SMTP server: {e}"))?;
        let tls = match settings.tls {
            SmtpTls::Opportunistic => Tls::Opportunistic(params),
            SmtpTls::Required => Tls::Required(params),
            SmtpTls::Wrapper => Tls::Wrapper(params),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some(info) = userinfo {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            builder = builder.credentials(Credentials::new(unescape(user), unescape(password)));
        }
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("from is not an address lettre accepts: {e}"))?;
        Ok(Email {
            transport: builder.build(),
            settings: settings.clone(),
            from,
        })
    }

    /// Sends `d` as one message to its recipients (none reachable: nothing to do).
    pub async fn send(&self, d: &Delivery, m: &Message) -> Result<(), Failure> {
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
        let mut builder = Mail::builder()
            .from(self.from.clone())
            .subject(format!("[jit] {}", m.title))
            .message_id(Some(format!("<{}@jitd>", d.id)))
            .header(DeliveryHeader(d.id.clone()))
            .header(ContentType::TEXT_PLAIN);
        for mb in to {
            builder = builder.to(mb);
        }
        let mail = builder
            .body(m.text())
            .map_err(|e| Failure::Refused(format!("cannot build the email: {e}")))?;
        match self.transport.send(mail).await {
            Ok(_) => Ok(()),
            // A permanent refusal of this message (a bad recipient, say) will not change on a
            // retry; anything else — the server away, a 4xx, refused credentials the admin may
            // fix — will be retried.
            Err(e) if e.is_permanent() && !auth_refused(&e) => Err(Failure::Refused(format!(
                "the SMTP server refused the message: {e}"
            ))),
            Err(e) => Err(Failure::Retry(format!("SMTP: {e}"))),
        }
    }
}

/// Whether the server refused the credentials (530/535).
fn auth_refused(e: &lettre::transport::smtp::Error) -> bool {
    e.status()
        .is_some_and(|c| matches!(c.to_string().as_str(), "530" | "535"))
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
