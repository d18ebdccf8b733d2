//! `[[notifications]]` channels (Slack, Teams, a signed webhook, email) and the `notify` lists
//! of flows that name them.
//!
//! Every URL and key here is a secret (a webhook URL is the credential of its receiver): no
//! message repeats one, whether it was written inline, in an environment variable or a file.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::integration::{UrlFileError, read_url_file};
use super::{Checker, Named, did_you_mean, name};
use crate::raw::{
    CHANNEL_KIND_KEYS, COMMON_CHANNEL_KEYS, RawFlow, RawNotification, Str, StrList, StrTable,
    channel_kind_keys_of, entry_label,
};
use crate::{
    Channel, ChannelKind, DEFAULT_NOTIFY_EVENTS, EmailSettings, NOTIFY_EVENTS, Secret, SmtpTls,
    duration, suggest,
};

/// `timeout` when the file gives none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `timeout`: a delivery that takes longer holds its channel's queue up.
const MAX_TIMEOUT: Duration = Duration::from_secs(120);
/// `give_up_after` when the file gives none.
const DEFAULT_GIVE_UP: Duration = Duration::from_secs(3 * 24 * 60 * 60);
/// The longest `give_up_after`.
const MAX_GIVE_UP: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// `max_pending` when the file gives none.
const DEFAULT_MAX_PENDING: u32 = 10_000;
/// The largest `max_pending`.
const MAX_MAX_PENDING: i64 = 100_000;

/// Checks one channel; `index` is its place among the `[[notifications]]`. Returns its name (for
/// the uniqueness check and flows' `notify`) and the channel, if it is valid.
pub(super) fn check(
    raw: &Spanned<RawNotification>,
    index: usize,
    ck: &mut Checker<'_>,
) -> (Option<Named>, Option<Channel>) {
    let span = raw.span();
    let raw = raw.get_ref();
    let label = entry_label(
        "notification channel",
        raw.name.as_ref().map(|n| n.get_ref().as_str()),
        index,
    );
    let name = name(raw.name.as_ref(), &span, &label, ck);

    let kinds: Vec<&str> = CHANNEL_KIND_KEYS.iter().map(|(k, _)| *k).collect();
    let kind = match &raw.kind {
        None => {
            ck.problems.at(
                &span,
                format!("{label} has no kind"),
                format!("add kind = \"...\", one of: {}", kinds.join(", ")),
            );
            None
        }
        Some(k) if channel_kind_keys_of(k.get_ref()).is_none() => {
            let hint = did_you_mean(k.get_ref(), kinds.iter().copied());
            ck.problems.at(
                &k.span(),
                format!(
                    "{label}: kind \"{}\" is not a kind of notification channel",
                    suggest::clip(k.get_ref())
                ),
                format!("{hint}use one of: {}", kinds.join(", ")),
            );
            None
        }
        Some(k) => Some(k.get_ref().as_str()),
    };
    if let Some(kind) = kind {
        foreign_keys(raw, kind, &label, ck);
    }

    let events = match &raw.events {
        Some(list) => events(list, &label, ck),
        None => Some(
            DEFAULT_NOTIFY_EVENTS
                .iter()
                .map(|e| (*e).to_owned())
                .collect(),
        ),
    };
    let global = raw.global.as_ref().is_some_and(|g| *g.get_ref());
    let timeout = bounded_duration(
        raw.timeout.as_ref(),
        "timeout",
        DEFAULT_TIMEOUT,
        MAX_TIMEOUT,
        &label,
        ck,
    );
    let give_up_after = bounded_duration(
        raw.give_up_after.as_ref(),
        "give_up_after",
        DEFAULT_GIVE_UP,
        MAX_GIVE_UP,
        &label,
        ck,
    );
    let max_pending = match &raw.max_pending {
        Some(n) if !(1..=MAX_MAX_PENDING).contains(n.get_ref()) => {
            ck.problems.at(
                &n.span(),
                format!("{label}: max_pending {} is out of range", n.get_ref()),
                format!(
                    "use a number from 1 to {MAX_MAX_PENDING}, or remove max_pending for 10000"
                ),
            );
            None
        }
        Some(n) => u32::try_from(*n.get_ref()).ok(),
        None => Some(DEFAULT_MAX_PENDING),
    };

    let settings = match kind {
        Some("slack") => {
            secret_url(raw, &span, &HTTP, &label, ck).map(|url| ChannelKind::Slack { url })
        }
        Some("teams") => {
            secret_url(raw, &span, &HTTP, &label, ck).map(|url| ChannelKind::Teams { url })
        }
        Some("webhook") => {
            let url = secret_url(raw, &span, &HTTP, &label, ck);
            let secret = hmac_key(raw, &span, &label, ck);
            url.zip(secret)
                .map(|(url, secret)| ChannelKind::Webhook { url, secret })
        }
        Some(_) => email(raw, &span, &label, ck).map(ChannelKind::Email),
        None => None,
    };

    let channel = (|| {
        Some(Channel {
            name: name.as_ref()?.0.clone(),
            events: events?,
            global,
            timeout: timeout?,
            give_up_after: give_up_after?,
            max_pending: max_pending?,
            kind: settings?,
        })
    })();
    (name, channel)
}

/// Reports every key set that the channel's kind does not take.
fn foreign_keys(raw: &RawNotification, kind: &str, label: &str, ck: &mut Checker<'_>) {
    let own = channel_kind_keys_of(kind).unwrap_or_default();
    fn at<T>(value: Option<&Spanned<T>>) -> Option<Range<usize>> {
        value.map(Spanned::span)
    }
    let spans = [
        ("url", at(raw.url.as_ref())),
        ("url_env", at(raw.url_env.as_ref())),
        ("url_file", at(raw.url_file.as_ref())),
        ("secret_env", at(raw.secret_env.as_ref())),
        ("secret_file", at(raw.secret_file.as_ref())),
        ("tls", at(raw.tls.as_ref())),
        ("ca_file", at(raw.ca_file.as_ref())),
        ("from", at(raw.from.as_ref())),
        ("domain", at(raw.domain.as_ref())),
        ("addresses", at(raw.addresses.as_ref())),
    ];
    for (key, span) in spans {
        let Some(span) = span else { continue };
        if own.contains(&key) || COMMON_CHANNEL_KEYS.contains(&key) {
            continue;
        }
        let takers: Vec<&str> = CHANNEL_KIND_KEYS
            .iter()
            .filter(|(_, keys)| keys.contains(&key))
            .map(|(k, _)| *k)
            .collect();
        ck.problems.at(
            &span,
            format!("{label} is of kind {kind}, which takes no {key}"),
            format!(
                "remove {key} (it is a key of {} channels)",
                takers.join(" and ")
            ),
        );
    }
}

/// Checks `events`: known event names, not empty, without repeats.
fn events(list: &StrList, label: &str, ck: &mut Checker<'_>) -> Option<Vec<String>> {
    if list.get_ref().is_empty() {
        ck.problems.at(
            &list.span(),
            format!("{label}: events is an empty list"),
            "list the events to send, or remove events for the default ones",
        );
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for item in list.get_ref() {
        let value = item.get_ref();
        if !NOTIFY_EVENTS.contains(&value.as_str()) {
            ok = false;
            let hint = did_you_mean(value, NOTIFY_EVENTS.iter().copied());
            ck.problems.at(
                &item.span(),
                format!(
                    "{label}: events entry \"{}\" is not an event",
                    suggest::clip(value)
                ),
                format!("{hint}use some of: {}", NOTIFY_EVENTS.join(", ")),
            );
        } else if !out.contains(value) {
            out.push(value.clone());
        }
    }
    ok.then_some(out)
}

/// A duration key with a default and an upper bound.
fn bounded_duration(
    raw: Option<&Str>,
    key: &str,
    default: Duration,
    max: Duration,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Duration> {
    let Some(value) = raw else {
        return Some(default);
    };
    let d = duration::parse(value, key, label, &mut ck.problems)?;
    if d < Duration::from_secs(1) || d > max {
        ck.problems.at(
            &value.span(),
            format!(
                "{label}: {key} \"{}\" is out of range",
                suggest::clip(value.get_ref())
            ),
            format!(
                "use a duration from 1s to {}, or remove {key} for {}",
                duration::format(max),
                duration::format(default)
            ),
        );
        return None;
    }
    Some(d)
}

/// How one kind's URL is written, and how to check it (never repeating it).
struct Form {
    problem: fn(&str) -> Option<&'static str>,
    fix: &'static str,
}

/// A webhook: `http://` or `https://`.
const HTTP: Form = Form {
    problem: http_problem,
    fix: "write the webhook URL the service gave you, like https://hooks.example.com/services/…",
};

/// An SMTP server: `smtp://[USER[:PASSWORD]@]HOST[:PORT]`.
const SMTP: Form = Form {
    problem: smtp_problem,
    fix: "write it as smtp://[USER[:PASSWORD]@]HOST[:PORT], with special characters in the password percent-encoded (@ as %40, / as %2F)",
};

fn http_problem(url: &str) -> Option<&'static str> {
    let url = url.trim();
    if url.is_empty() {
        return Some("is empty");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("contains white space or control characters");
    }
    let rest = match url.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") =>
        {
            rest
        }
        _ => return Some("is not an https:// (or http://) URL"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Some("names no host");
    }
    // What reqwest will do with it when it sends: a URL that passes the looks above can
    // still have a port out of range or a host that is no host name.
    match url::Url::parse(url) {
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Some("names no host"),
        Ok(_) => None,
        Err(e) => Some(url_problem(e)),
    }
}

/// What is wrong with a URL that does not parse, in words that never repeat it.
fn url_problem(e: url::ParseError) -> &'static str {
    match e {
        url::ParseError::EmptyHost => "names no host",
        url::ParseError::InvalidPort => "has a port that is not a number from 1 to 65535",
        url::ParseError::InvalidIpv4Address => "has an IPv4 address that is not valid",
        url::ParseError::InvalidIpv6Address => {
            "has an IPv6 address that is not valid (write it in brackets: [::1])"
        }
        url::ParseError::IdnaError | url::ParseError::InvalidDomainCharacter => {
            "has a host name that is not valid"
        }
        _ => "is not a valid URL",
    }
}

fn smtp_problem(url: &str) -> Option<&'static str> {
    let url = url.trim();
    if url.is_empty() {
        return Some("is empty");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("contains white space or control characters");
    }
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("smtp") => rest,
        _ => return Some("is not an smtp:// URL"),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Some(
            "has a path, query or fragment (jit takes none; in a password, write / ? # as %2F %3F %23)",
        );
    }
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        // [IPv6]:PORT
        Some(inner) => match inner.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => match p.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return Some("has something other than \":PORT\" after its IPv6 address"),
            },
            None => {
                return Some("has a \"[\" that opens an IPv6 address but no \"]\" that closes it");
            }
        },
        None => match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Some("names no host");
    }
    if let Some(p) = port
        && !(p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Some("has a port that is not a number from 1 to 65535");
    }
    None
}

/// The channel's URL, from exactly one of `url`, `url_env` and `url_file`.
fn secret_url(
    raw: &RawNotification,
    span: &Range<usize>,
    form: &Form,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Secret> {
    let sources = [
        ("url", raw.url.as_ref()),
        ("url_env", raw.url_env.as_ref()),
        ("url_file", raw.url_file.as_ref()),
    ];
    secret(&sources, "URL", span, form, label, ck)
}

/// A webhook's HMAC key, from exactly one of `secret_env` and `secret_file`.
fn hmac_key(
    raw: &RawNotification,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Secret> {
    let sources = [
        ("secret_env", raw.secret_env.as_ref()),
        ("secret_file", raw.secret_file.as_ref()),
    ];
    secret(&sources, "HMAC key", span, &KEY, label, ck)
}

/// An HMAC key: at least 16 bytes, one line.
const KEY: Form = Form {
    problem: key_problem,
    fix: "put a random key of at least 16 characters on one line, like the output of `openssl rand -hex 32`",
};

fn key_problem(key: &str) -> Option<&'static str> {
    let key = key.trim();
    if key.is_empty() {
        return Some("is empty");
    }
    if key.contains(['\n', '\r']) {
        return Some("holds more than one line");
    }
    if key.len() < 16 {
        return Some("is shorter than 16 characters");
    }
    None
}

/// A secret from exactly one of `sources` (an inline value, `*_env` or `*_file`, by the key's
/// suffix), checked with `form`. No message holds the value.
fn secret(
    sources: &[(&str, Option<&Str>)],
    what: &str,
    span: &Range<usize>,
    form: &Form,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Secret> {
    let keys: Vec<&str> = sources.iter().map(|(k, _)| *k).collect();
    let set: Vec<(&str, &Str)> = sources
        .iter()
        .filter_map(|(k, v)| Some((*k, (*v)?)))
        .collect();
    let Some(&(key, value)) = set.first() else {
        ck.problems.at(
            span,
            format!("{label} has no {what}"),
            format!("add one of {}", keys.join(", ")),
        );
        return None;
    };
    if let Some((second, v)) = set.get(1) {
        ck.problems.at(
            &v.span(),
            format!("{label} sets both {key} and {second}"),
            format!("keep exactly one of {}", keys.join(", ")),
        );
        return None;
    }
    let check = |text: &str, whence: String, fix: String, ck: &mut Checker<'_>| match (form.problem)(
        text,
    ) {
        Some(why) => {
            ck.problems.at(
                &value.span(),
                format!("{label}: {whence} {why} (the value is not shown: it is a secret)"),
                fix,
            );
            None
        }
        None => Some(Secret::new(text.trim().to_owned())),
    };
    if key.ends_with("_env") {
        let var = value.get_ref();
        if var.is_empty() || var.contains(['=', '\0']) {
            ck.problems.at(
                &value.span(),
                format!(
                    "{label}: {key} \"{}\" is not an environment variable name",
                    suggest::clip(var)
                ),
                format!("write the name of the variable that holds the {what}, like \"JIT_HOOK\""),
            );
            return None;
        }
        let set_it = format!(
            "set {var} in jitd's environment (Environment= or EnvironmentFile= in its systemd unit), or use {}",
            keys.last().copied().unwrap_or_default()
        );
        return match (ck.env)(var).map(std::ffi::OsString::into_string) {
            None => {
                ck.problems.at(
                    &value.span(),
                    format!("{label}: environment variable {var} ({key}) is not set"),
                    set_it,
                );
                None
            }
            Some(Err(_)) => {
                ck.problems.at(
                    &value.span(),
                    format!("{label}: environment variable {var} ({key}) is not valid UTF-8"),
                    set_it,
                );
                None
            }
            Some(Ok(text)) => check(
                &text,
                format!("environment variable {var} ({key})"),
                format!("{}, in {var}", form.fix),
                ck,
            ),
        };
    }
    if key.ends_with("_file") {
        let file = ck.base_dir.join(value.get_ref());
        let shown = file.display().to_string();
        return match read_url_file(&file) {
            Ok(text) => check(
                &text,
                format!("{key} {shown}"),
                format!("{}, in {shown}", form.fix),
                ck,
            ),
            Err(UrlFileError::Io(error)) => {
                ck.problems.at(
                    &value.span(),
                    format!("{label}: cannot read {key} {shown}: {error}"),
                    format!(
                        "create it with the {what} on one line, readable by jitd only (chmod 600)"
                    ),
                );
                None
            }
            Err(UrlFileError::Shape(why)) => {
                ck.problems.at(
                    &value.span(),
                    format!("{label}: {key} {shown} {why}"),
                    format!("point {key} at a file holding the {what} on one line (chmod 600)"),
                );
                None
            }
        };
    }
    check(value.get_ref(), key.to_owned(), form.fix.to_owned(), ck)
}

/// The settings of an `email` channel.
fn email(
    raw: &RawNotification,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<EmailSettings> {
    let url = secret_url(raw, span, &SMTP, label, ck);
    // A password sent to another host must not go in the clear: opportunistic STARTTLS falls
    // back to plain text when the server (or anyone on the path) does not offer it.
    let exposed = url.as_ref().is_some_and(|u| password_to_remote(u.expose()));
    let tls = match &raw.tls {
        None if exposed => Some(SmtpTls::Required),
        None => Some(SmtpTls::Opportunistic),
        Some(t) => match t.get_ref().as_str() {
            "opportunistic" if exposed => {
                ck.problems.at(
                    &t.span(),
                    format!("{label}: tls \"opportunistic\" would send the SMTP password in the clear to a server that does not offer STARTTLS (or to anyone who strips it on the way)"),
                    "remove tls (\"required\" is the default when the URL has a password), or use \"wrapper\" for TLS from the start (port 465)",
                );
                None
            }
            "opportunistic" => Some(SmtpTls::Opportunistic),
            "required" => Some(SmtpTls::Required),
            "wrapper" => Some(SmtpTls::Wrapper),
            other => {
                ck.problems.at(
                    &t.span(),
                    format!("{label}: tls \"{}\" is not a TLS mode", suggest::clip(other)),
                    "use \"opportunistic\" (STARTTLS when offered), \"required\" (STARTTLS or nothing) or \"wrapper\" (TLS from the start, port 465)",
                );
                None
            }
        },
    };
    let from = match &raw.from {
        None => {
            ck.problems.at(
                span,
                format!("{label} has no from"),
                "add from = \"jit <jit@example.com>\": the sender of its messages",
            );
            None
        }
        Some(f) if !address_ok(strip_name(f.get_ref())) => {
            ck.problems.at(
                &f.span(),
                format!(
                    "{label}: from \"{}\" is not an email address",
                    suggest::clip(f.get_ref())
                ),
                "write an address like \"jit@example.com\" or \"jit <jit@example.com>\"",
            );
            None
        }
        // What lettre will do with it when it sends: it refuses an unquoted name with `,` `;`
        // `:` or `"` in it, and local parts such as `a..b`.
        Some(f)
            if f.get_ref()
                .trim()
                .parse::<lettre::message::Mailbox>()
                .is_err() =>
        {
            ck.problems.at(
                &f.span(),
                format!(
                    "{label}: from \"{}\" is not a sender email can be sent from",
                    suggest::clip(f.get_ref())
                ),
                "write an address, or a name and an address: \"jit@example.com\" or \"jit <jit@example.com>\"; quote a name that holds , ; : or \" (\"\\\"jit, ops\\\" <jit@example.com>\"), and use no two dots in a row",
            );
            None
        }
        Some(f) => Some(f.get_ref().trim().to_owned()),
    };
    let domain = match &raw.domain {
        Some(d) if !domain_ok(d.get_ref()) => {
            ck.problems.at(
                &d.span(),
                format!(
                    "{label}: domain \"{}\" is not a mail domain",
                    suggest::clip(d.get_ref())
                ),
                "write the part after \"@\" of your users' addresses, like \"example.com\"",
            );
            None
        }
        Some(d) => Some(Some(d.get_ref().trim().to_owned())),
        None => Some(None),
    };
    let addresses = match &raw.addresses {
        Some(table) => addresses(table, label, ck),
        None => Some(Vec::new()),
    };
    if raw.domain.is_none()
        && raw
            .addresses
            .as_ref()
            .is_none_or(|t| t.get_ref().is_empty())
    {
        ck.problems.at(
            span,
            format!("{label} can reach nobody: it has neither domain nor addresses"),
            "add domain = \"example.com\" (a user's address is USER@domain), or an [notifications.addresses] table, or both",
        );
        return None;
    }
    let ca_pem = match &raw.ca_file {
        None => Some(None),
        Some(f) => {
            let path = f.get_ref();
            match std::fs::read_to_string(path) {
                Ok(text) if text.contains("-----BEGIN CERTIFICATE-----") => Some(Some(text)),
                Ok(_) => {
                    ck.problems.at(
                        &f.span(),
                        format!("{label}: ca_file {} holds no PEM certificate", suggest::clip(path)),
                        "point ca_file at the CA certificate(s) that signed the SMTP server's, in PEM (-----BEGIN CERTIFICATE-----)",
                    );
                    None
                }
                Err(e) => {
                    ck.problems.at(
                        &f.span(),
                        format!("{label}: cannot read ca_file {}: {e}", suggest::clip(path)),
                        "point ca_file at a readable PEM file of CA certificates, or remove it to trust the system's",
                    );
                    None
                }
            }
        }
    };
    Some(EmailSettings {
        url: url?,
        tls: tls?,
        ca_pem: ca_pem?,
        from: from?,
        domain: domain?,
        addresses: addresses?,
    })
}

/// Whether an SMTP URL (already checked) has a password and a server not on this host.
fn password_to_remote(url: &str) -> bool {
    let rest = url.trim().split_once("://").map_or(url, |(_, r)| r);
    let Some((userinfo, host_port)) = rest.rsplit_once('@') else {
        return false;
    };
    if userinfo.split_once(':').is_none_or(|(_, p)| p.is_empty()) {
        return false;
    }
    let host = match host_port.strip_prefix('[') {
        Some(inner) => inner.split_once(']').map_or(inner, |(h, _)| h),
        None => host_port.split_once(':').map_or(host_port, |(h, _)| h),
    };
    let host = host.trim_end_matches('/');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// `[notifications.addresses]`: user → address, in file order.
fn addresses(table: &StrTable, label: &str, ck: &mut Checker<'_>) -> Option<Vec<(String, String)>> {
    let mut entries: Vec<(&Str, &Str)> = table.get_ref().iter().collect();
    entries.sort_by_key(|(user, _)| user.span().start);
    let mut out = Vec::new();
    let mut ok = true;
    for (user, address) in entries {
        if !address_ok(address.get_ref()) {
            ok = false;
            ck.problems.at(
                &address.span(),
                format!(
                    "{label}: the address of {} \"{}\" is not an email address",
                    suggest::clip(user.get_ref()),
                    suggest::clip(address.get_ref())
                ),
                "write an address like \"alice@example.com\"",
            );
            continue;
        }
        out.push((user.get_ref().clone(), address.get_ref().trim().to_owned()));
    }
    ok.then_some(out)
}

/// `Name <addr>` → `addr`; anything else as it is.
fn strip_name(s: &str) -> &str {
    let s = s.trim();
    match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        _ => s,
    }
}

/// A plain `local@domain` address, without white space, angle brackets or a second `@`,
/// that lettre (which sends it) takes as it is.
fn address_ok(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !local.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '@' | ',' | '"')
                })
                && domain_ok(domain)
                && s.parse::<lettre::Address>().is_ok()
        }
        None => false,
    }
}

/// A domain name: dot-separated labels of letters, digits and `-` (not first or last, as
/// lettre wants it).
fn domain_ok(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && format!("jit@{s}").parse::<lettre::Address>().is_ok()
}

/// Checks every flow's `notify` list against the channels (`(name, global)` of each valid
/// one), and that every channel that is not global is named by some flow. Returns each flow's
/// channel names, in flow order (`None` for a flow whose list is not valid).
pub(super) fn flow_channels(
    flows: &[Spanned<RawFlow>],
    channels: &[(Named, bool)],
    ck: &mut Checker<'_>,
) -> Vec<Option<Vec<String>>> {
    let names: Vec<&str> = channels.iter().map(|((n, _), _)| n.as_str()).collect();
    let mut used: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (i, raw) in flows.iter().enumerate() {
        let raw = raw.get_ref();
        let label = entry_label("flow", raw.name.as_ref().map(|n| n.get_ref().as_str()), i);
        let Some(list) = &raw.notify else {
            out.push(Some(Vec::new()));
            continue;
        };
        let mut mine: Vec<String> = Vec::new();
        let mut ok = true;
        for item in list.get_ref() {
            let value = item.get_ref();
            match names.iter().find(|n| **n == value.as_str()) {
                Some(n) => {
                    used.push(n);
                    if !mine.contains(value) {
                        mine.push(value.clone());
                    }
                }
                None => {
                    ok = false;
                    let hint = did_you_mean(value, names.iter().copied());
                    let known = if names.is_empty() {
                        "add a [[notifications]] channel of that name".to_owned()
                    } else {
                        format!(
                            "use one of: {} (or add a [[notifications]] channel of that name)",
                            names.join(", ")
                        )
                    };
                    ck.problems.at(
                        &item.span(),
                        format!(
                            "{label}: notify names \"{}\", which is not a notification channel",
                            suggest::clip(value)
                        ),
                        format!("{hint}{known}"),
                    );
                }
            }
        }
        out.push(ok.then_some(mine));
    }
    for ((name, span), global) in channels {
        if !global && !used.contains(&name.as_str()) {
            ck.problems.at(
                span,
                format!(
                    "notification channel \"{name}\" is not global and no flow names it in notify, so nothing is ever sent to it"
                ),
                format!(
                    "add global = true to send it every flow's events, or add \"{name}\" to the notify list of the flows it is for"
                ),
            );
        }
    }
    out
}
