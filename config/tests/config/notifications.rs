//! `[[notifications]]` channels and flows' `notify`: each kind's settings, what each key
//! refuses with its line and fix, and secrets (webhook URLs, HMAC keys, SMTP passwords) kept
//! out of every message and `Debug`.

use jit_config::{ChannelKind, SmtpTls};

use crate::support::{PASSWORD, one_problem, parse, problems, valid};

const BASE: &str = r#"
[[integrations]]
name = "demo"
kind = "dry-run"

[[flows]]
name = "demo-any"
requesters = ["*"]
integration = "demo"
max_duration = "1h"
"#;

fn with(channels: &str) -> String {
    format!("{BASE}{channels}")
}

#[test]
fn every_kind_parses_with_its_defaults() {
    let dir = tempfile::tempdir().expect("dir");
    let key = dir.path().join("hook.key");
    std::fs::write(&key, "0123456789abcdef0123\n").expect("key");
    let config = valid(&with(&format!(
        r#"
[[notifications]]
name = "s"
kind = "slack"
url = "https://hooks.slack.example/services/T0/B0/{PASSWORD}"
global = true

[[notifications]]
name = "t"
kind = "teams"
url = "https://teams.example/webhook/{PASSWORD}"
global = true
events = ["approval_needed", "approval_needed", "granted"]
timeout = "30s"
give_up_after = "1d"
max_pending = 5

[[notifications]]
name = "w"
kind = "webhook"
url = "http://127.0.0.1:9000/jit"
secret_file = "{key}"
global = true

[[notifications]]
name = "m"
kind = "email"
url = "smtp://jit:{PASSWORD}@mail.example.com:587"
from = "jit <jit@example.com>"
domain = "example.com"
global = true
[notifications.addresses]
carol = "carol.smith@corp.example"
"#,
        key = key.display()
    )));
    let s = config.channel("s").expect("s");
    assert_eq!(s.events.len(), jit_config::DEFAULT_NOTIFY_EVENTS.len());
    assert_eq!(s.timeout.as_secs(), 10);
    assert_eq!(s.give_up_after.as_secs(), 3 * 24 * 3600);
    assert_eq!(s.max_pending, 10_000);
    let t = config.channel("t").expect("t");
    assert_eq!(t.events, ["approval_needed", "granted"]);
    assert_eq!((t.timeout.as_secs(), t.max_pending), (30, 5));
    let ChannelKind::Webhook { secret, .. } = &config.channel("w").expect("w").kind else {
        panic!("a webhook")
    };
    assert_eq!(secret.expose(), "0123456789abcdef0123");
    let ChannelKind::Email(m) = &config.channel("m").expect("m").kind else {
        panic!("email")
    };
    // A password to another host: STARTTLS or nothing.
    assert_eq!(m.tls, SmtpTls::Required);
    assert_eq!(
        m.address_of("carol").as_deref(),
        Some("carol.smith@corp.example")
    );
    assert_eq!(m.address_of("alice").as_deref(), Some("alice@example.com"));
    let shown = format!("{config:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
}

#[test]
fn flows_name_channels_and_unused_ones_are_errors() {
    let text = format!(
        r#"{BASE}
[[flows]]
name = "demo-two"
requesters = ["*"]
integration = "demo"
max_duration = "1h"
notify = ["hook", "hook"]

[[notifications]]
name = "hook"
kind = "slack"
url = "https://hooks.example/x"
"#
    );
    let config = valid(&text);
    assert_eq!(config.flow("demo-two").expect("flow").channels, ["hook"]);
    assert!(config.flow("demo-any").expect("flow").channels.is_empty());

    one_problem(
        &format!(
            "{BASE}notify = [\"hokk\"]\n[[notifications]]\nname = \"hook\"\nkind = \"slack\"\nurl = \"https://h.example/x\"\nglobal = true\n"
        ),
        11,
        "flow \"demo-any\": notify names \"hokk\", which is not a notification channel",
        "did you mean \"hook\"?",
    );
    one_problem(
        &with(
            "[[notifications]]\nname = \"lonely\"\nkind = \"slack\"\nurl = \"https://h.example/x\"\n",
        ),
        12,
        "notification channel \"lonely\" is not global and no flow names it in notify",
        "add global = true",
    );
}

#[test]
fn each_key_says_what_is_wrong_and_how_to_fix_it() {
    let channel = |keys: &str| {
        with(&format!(
            "[[notifications]]\nname = \"c\"\nglobal = true\n{keys}\n"
        ))
    };
    one_problem(
        &channel("kind = \"slak\"\nurl = \"https://h.example/x\""),
        14,
        "kind \"slak\" is not a kind of notification channel",
        "did you mean \"slack\"?",
    );
    one_problem(
        &channel("kind = \"slack\""),
        11,
        "notification channel \"c\" has no URL",
        "add one of url, url_env, url_file",
    );
    one_problem(
        &channel(
            "kind = \"slack\"\nurl = \"https://h.example/x\"\nevents = [\"granted\", \"aproved\"]",
        ),
        16,
        "events entry \"aproved\" is not an event",
        "did you mean \"approved\"?",
    );
    one_problem(
        &channel("kind = \"slack\"\nurl = \"https://h.example/x\"\ntimeout = \"5m\""),
        16,
        "timeout \"5m\" is out of range",
        "from 1s to 2m",
    );
    one_problem(
        &channel("kind = \"slack\"\nurl = \"https://h.example/x\"\nmax_pending = 0"),
        16,
        "max_pending 0 is out of range",
        "from 1 to 100000",
    );
    one_problem(
        &channel("kind = \"slack\"\nurl = \"https://h.example/x\"\nfrom = \"jit@example.com\""),
        16,
        "is of kind slack, which takes no from",
        "it is a key of email channels",
    );
    one_problem(
        &channel("kind = \"webhook\"\nurl = \"https://h.example/x\""),
        11,
        "notification channel \"c\" has no HMAC key",
        "add one of secret_env, secret_file",
    );
    one_problem(
        &channel("kind = \"email\"\nurl = \"smtp://mail.example.com\"\nfrom = \"jit@example.com\""),
        11,
        "can reach nobody: it has neither domain nor addresses",
        "add domain",
    );
    one_problem(
        &channel(
            "kind = \"email\"\nurl = \"smtp://mail.example.com\"\nfrom = \"jit\"\ndomain = \"example.com\"",
        ),
        16,
        "from \"jit\" is not an email address",
        "jit@example.com",
    );
    one_problem(
        &channel(
            "kind = \"email\"\nurl = \"smtp://mail.example.com\"\nfrom = \"jit@example.com\"\ndomain = \"example.com\"\ntls = \"starttls\"",
        ),
        18,
        "tls \"starttls\" is not a TLS mode",
        "\"opportunistic\"",
    );
}

/// What passes a quick look but the libraries that send would refuse: lettre (a sender with
/// an unquoted comma, an address with two dots in a row, a domain label starting with `-`)
/// and reqwest (a port out of range, a bad IPv6 host) — found at load, at their lines.
#[test]
fn addresses_and_urls_the_senders_would_refuse_are_refused_at_load() {
    let email = |keys: &str| {
        with(&format!(
            "[[notifications]]\nname = \"c\"\nglobal = true\nkind = \"email\"\nurl = \"smtp://mail.example.com\"\n{keys}\n"
        ))
    };
    one_problem(
        &email("from = \"Jit Ops, On-call <jit@example.com>\"\ndomain = \"example.com\""),
        16,
        "from \"Jit Ops, On-call <jit@example.com>\" is not a sender email can be sent from",
        "quote a name",
    );
    one_problem(
        &email("from = \"jit..bot@example.com\"\ndomain = \"example.com\""),
        16,
        "from \"jit..bot@example.com\" is not an email address",
        "jit@example.com",
    );
    one_problem(
        &email("from = \"jit@example.com\"\ndomain = \"-example.com\""),
        17,
        "domain \"-example.com\" is not a mail domain",
        "example.com",
    );
    one_problem(
        &email(
            "from = \"jit@example.com\"\ndomain = \"example.com\"\n[notifications.addresses]\nalice = \"alice..smith@example.com\"",
        ),
        19,
        "the address of alice \"alice..smith@example.com\" is not an email address",
        "alice@example.com",
    );
    // Quoted, a name may hold a comma; and what lettre takes, the check takes.
    valid(&email(
        "from = \"\\\"Jit Ops, On-call\\\" <jit@example.com>\"\ndomain = \"example.com\"",
    ));
    let slack = |url: &str| {
        with(&format!(
            "[[notifications]]\nname = \"c\"\nglobal = true\nkind = \"slack\"\nurl = \"{url}\"\n"
        ))
    };
    for (url, why) in [
        (
            format!("https://hooks.example.com:99999/{PASSWORD}"),
            "has a port that is not a number from 1 to 65535",
        ),
        (
            format!("https://hooks.example.com:abc/{PASSWORD}"),
            "has a port that is not a number from 1 to 65535",
        ),
        (
            format!("https://[::1/{PASSWORD}"),
            "has an IPv6 address that is not valid",
        ),
        (
            format!("https://exa%mple.com/{PASSWORD}"),
            "has a host name that is not valid",
        ),
    ] {
        let p = one_problem(&slack(&url), 15, why, "write the webhook URL");
        assert!(!format!("{p:?}").contains(PASSWORD), "{p:?}");
    }
}

#[test]
fn secrets_stay_out_of_every_message() {
    let dir = tempfile::tempdir().expect("dir");
    let short = dir.path().join("short.key");
    std::fs::write(&short, PASSWORD).expect("key");
    let texts = [
        // Not a URL: the value is not repeated.
        format!("kind = \"slack\"\nurl = \"{PASSWORD}\""),
        format!(
            "kind = \"email\"\nurl = \"smtps://u:{PASSWORD}@mail.example.com\"\nfrom = \"j@example.com\"\ndomain = \"example.com\""
        ),
        format!(
            "kind = \"email\"\nurl = \"smtp://u:{PASSWORD}@mail.example.com/path\"\nfrom = \"j@example.com\"\ndomain = \"example.com\""
        ),
        // A key too short (and the key file's contents are not shown).
        format!(
            "kind = \"webhook\"\nurl = \"https://h.example/x\"\nsecret_file = \"{}\"",
            short.display()
        ),
        "kind = \"webhook\"\nurl = \"https://h.example/x\"\nsecret_env = \"NOT_A_URL\"".to_owned(),
    ];
    for keys in texts {
        let text = with(&format!(
            "[[notifications]]\nname = \"c\"\nglobal = true\n{keys}\n"
        ));
        let error = parse(&text).expect_err("invalid");
        let shown = format!("{error}\n{error:?}");
        assert!(!shown.contains("hunter2"), "the secret leaked:\n{shown}");
        assert!(shown.contains("is not shown"), "{shown}");
        assert_eq!(problems(&text).len(), 1, "{shown}");
    }
}

#[test]
fn an_smtp_password_to_another_host_never_goes_in_the_clear() {
    let channel = |url: &str, tls: &str| {
        with(&format!(
            "[[notifications]]\nname = \"c\"\nglobal = true\nkind = \"email\"\nurl = \"{url}\"\nfrom = \"jit@example.com\"\ndomain = \"example.com\"\n{tls}\n"
        ))
    };
    let tls_of = |text: &str| {
        let config = valid(text);
        let ChannelKind::Email(m) = &config.channel("c").expect("c").kind else {
            panic!("email")
        };
        m.tls
    };
    // Required by default with a password to another host; opportunistic without a password
    // or on this host.
    for (url, want) in [
        (
            format!("smtp://jit:{PASSWORD}@mail.example.com:587"),
            SmtpTls::Required,
        ),
        ("smtp://mail.example.com".to_owned(), SmtpTls::Opportunistic),
        (
            "smtp://jit@mail.example.com".to_owned(),
            SmtpTls::Opportunistic,
        ),
        (
            format!("smtp://jit:{PASSWORD}@127.0.0.1:25"),
            SmtpTls::Opportunistic,
        ),
        (
            format!("smtp://jit:{PASSWORD}@localhost"),
            SmtpTls::Opportunistic,
        ),
        (
            format!("smtp://jit:{PASSWORD}@[::1]:25"),
            SmtpTls::Opportunistic,
        ),
    ] {
        assert_eq!(tls_of(&channel(&url, "")), want, "{url}");
    }
    // Asking for opportunistic with a password to another host is refused, at its line.
    let p = one_problem(
        &channel(
            &format!("smtp://jit:{PASSWORD}@mail.example.com:587"),
            "tls = \"opportunistic\"",
        ),
        18,
        "would send the SMTP password in the clear",
        "remove tls",
    );
    assert!(!format!("{p:?}").contains(PASSWORD));
    assert_eq!(
        tls_of(&channel(
            &format!("smtp://jit:{PASSWORD}@127.0.0.1"),
            "tls = \"opportunistic\""
        )),
        SmtpTls::Opportunistic
    );
}

#[test]
fn ca_file_adds_a_ca_to_trust() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .expect("ca");
    let not_pem = dir.path().join("ca.txt");
    std::fs::write(&not_pem, "hello\n").expect("file");
    let channel = |keys: &str| {
        with(&format!(
            "[[notifications]]\nname = \"c\"\nglobal = true\nkind = \"email\"\nurl = \"smtp://mail.example.com\"\nfrom = \"jit@example.com\"\ndomain = \"example.com\"\n{keys}\n"
        ))
    };
    let config = valid(&channel(&format!("ca_file = \"{}\"", ca.display())));
    let ChannelKind::Email(m) = &config.channel("c").expect("c").kind else {
        panic!("email")
    };
    assert!(m.ca_pem.as_deref().is_some_and(|p| p.contains("MIIB")));
    one_problem(
        &channel(&format!("ca_file = \"{}\"", not_pem.display())),
        18,
        "holds no PEM certificate",
        "point ca_file at the CA certificate",
    );
    one_problem(
        &channel("ca_file = \"/nonexistent/ca.pem\""),
        18,
        "cannot read ca_file /nonexistent/ca.pem",
        "readable PEM file",
    );
    one_problem(
        &with(
            "[[notifications]]\nname = \"s\"\nglobal = true\nkind = \"slack\"\nurl = \"https://h.example/x\"\nca_file = \"/x.pem\"\n",
        ),
        16,
        "which takes no ca_file",
        "it is a key of email channels",
    );
}
