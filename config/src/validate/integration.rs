//! One `[[integrations]]` entry: its kind, its settings, its resource types.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::{Checker, NAME_RULE, Named, did_you_mean, is_name, message, name};
use crate::raw::{RawIntegration, Str, entry_label};
use crate::{
    Integration, IntegrationKind, PostgresSettings, ResourceType, Secret, duration, suggest,
};

/// `role_prefix` when the file gives none.
const DEFAULT_ROLE_PREFIX: &str = "jit_";

/// The placeholders a `browser_url` may hold, filled in by the daemon for each session.
const BROWSER_PLACEHOLDERS: [&str; 4] = ["host", "port", "user", "database"];

/// The shortest `rotate_every`: rotating more often would disturb the user more than it helps.
const MIN_ROTATE_EVERY: Duration = Duration::from_secs(60);

/// What the checks of one integration found. Flows are checked against `name` and
/// `resource_types` even when another key of the integration is wrong.
pub(super) struct Checked {
    pub name: Option<Named>,
    pub resource_types: Option<Vec<ResourceType>>,
    pub integration: Option<Integration>,
}

/// Checks one integration; `index` is its place among the `[[integrations]]`.
pub(super) fn check(raw: &Spanned<RawIntegration>, index: usize, ck: &mut Checker<'_>) -> Checked {
    let span = raw.span();
    let raw = raw.get_ref();
    let label = entry_label(
        "integration",
        raw.name.as_ref().map(|n| n.get_ref().as_str()),
        index,
    );
    let name = name(raw.name.as_ref(), &span, &label, ck);

    let message = message(raw.message.as_ref(), &label, ck);
    let browser_url = match &raw.browser_url {
        Some(url) => browser_url(url, &label, ck).map(Some),
        None => Some(None),
    };
    let rotate_every = match &raw.rotate_every {
        Some(v) => rotate_every(v, &label, ck).map(Some),
        None => Some(None),
    };

    let (kind, resource_types) = match &raw.kind {
        None => {
            ck.problems.at(
                &span,
                format!("{label} has no kind"),
                "add kind = \"postgres\" or kind = \"dry-run\"",
            );
            (None, None)
        }
        Some(kind) => match kind.get_ref().as_str() {
            "postgres" => {
                forbid(raw, &["resource_types"], "postgres", &label, ck);
                let types = vec![ResourceType {
                    name: "database".to_owned(),
                    permissions: vec!["read".to_owned(), "write".to_owned()],
                }];
                (
                    postgres(raw, &span, &label, ck).map(IntegrationKind::Postgres),
                    Some(types),
                )
            }
            "dry-run" => {
                forbid(
                    raw,
                    &[
                        "url",
                        "url_env",
                        "url_file",
                        "role_prefix",
                        "client_host",
                        "client_port",
                    ],
                    "dry-run",
                    &label,
                    ck,
                );
                (
                    Some(IntegrationKind::DryRun),
                    dry_run_types(raw, &label, ck),
                )
            }
            other => {
                let hint = did_you_mean(other, KINDS);
                ck.problems.at(
                    &kind.span(),
                    format!(
                        "{label}: kind \"{}\" is not a known kind",
                        suggest::clip(other)
                    ),
                    format!("{hint}the kinds are: {}", suggest::quoted_list(KINDS)),
                );
                (None, None)
            }
        },
    };

    let integration = (|| {
        Some(Integration {
            name: name.as_ref()?.0.clone(),
            message: message?,
            browser_url: browser_url?,
            rotate_every: rotate_every?,
            resource_types: resource_types.clone()?,
            kind: kind?,
        })
    })();
    Checked {
        name,
        resource_types,
        integration,
    }
}

/// Checks `browser_url`: an `http://` or `https://` URL template whose only `{…}` parts are
/// the known placeholders. Only the offending part is echoed (a URL may hold credentials).
fn browser_url(url: &Str, label: &str, ck: &mut Checker<'_>) -> Option<String> {
    let text = url.get_ref().trim();
    let allowed = "{host}, {port}, {user} and {database}";
    let mut fail = |message: String, fix: String| {
        ck.problems
            .at(&url.span(), format!("{label}: {message}"), fix);
        None
    };
    if text.is_empty() {
        return fail(
            "browser_url is empty".to_owned(),
            "write a URL like \"https://pgweb.example.com/?host={host}&db={database}\", or remove browser_url"
                .to_owned(),
        );
    }
    let web = text.split_once("://").is_some_and(|(scheme, rest)| {
        (scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http"))
            && !rest.is_empty()
    });
    if !web {
        return fail(
            "browser_url is not an http:// or https:// URL".to_owned(),
            "write a URL starting with https:// (or http://), like \"https://pgweb.example.com/?host={host}\""
                .to_owned(),
        );
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail(
            "browser_url contains white space".to_owned(),
            "percent-encode spaces in the URL (%20)".to_owned(),
        );
    }
    let mut rest = text;
    let mut ok = true;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            ok = false;
            ck.problems.at(
                &url.span(),
                format!("{label}: browser_url has a \"}}\" that closes no placeholder"),
                format!(
                    "use only the placeholders {allowed}; percent-encode a literal \"}}\" as %7D"
                ),
            );
            rest = &rest[open + 1..];
            continue;
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            ok = false;
            ck.problems.at(
                &url.span(),
                format!("{label}: browser_url has a \"{{\" that is never closed"),
                "write placeholders whole, like {host}; percent-encode a literal \"{\" as %7B",
            );
            break;
        };
        let placeholder = &after[..close];
        if !BROWSER_PLACEHOLDERS.contains(&placeholder) {
            ok = false;
            let hint = did_you_mean(placeholder, BROWSER_PLACEHOLDERS);
            ck.problems.at(
                &url.span(),
                format!(
                    "{label}: browser_url has an unknown placeholder {{{}}}",
                    suggest::clip(placeholder)
                ),
                format!("{hint}the placeholders are {allowed}"),
            );
        }
        rest = &after[close + 1..];
    }
    ok.then(|| text.to_owned())
}

/// Checks `rotate_every`: a duration of at least a minute.
fn rotate_every(value: &Str, label: &str, ck: &mut Checker<'_>) -> Option<Duration> {
    let every = duration::parse(value, "rotate_every", label, &mut ck.problems)?;
    if every < MIN_ROTATE_EVERY {
        ck.problems.at(
            &value.span(),
            format!(
                "{label}: rotate_every {} is shorter than a minute",
                duration::format(every)
            ),
            "use at least \"1m\", like \"24h\", or remove rotate_every",
        );
        return None;
    }
    Some(every)
}

/// The kinds, as written in the file.
const KINDS: [&str; 2] = ["postgres", "dry-run"];

/// Reports each of `keys` that is set but means nothing for this kind.
fn forbid(raw: &RawIntegration, keys: &[&str], kind: &str, label: &str, ck: &mut Checker<'_>) {
    for &key in keys {
        let span = match key {
            "url" => raw.url.as_ref().map(Spanned::span),
            "url_env" => raw.url_env.as_ref().map(Spanned::span),
            "url_file" => raw.url_file.as_ref().map(Spanned::span),
            "role_prefix" => raw.role_prefix.as_ref().map(Spanned::span),
            "client_host" => raw.client_host.as_ref().map(Spanned::span),
            "client_port" => raw.client_port.as_ref().map(Spanned::span),
            "resource_types" => raw.resource_types.as_ref().map(Spanned::span),
            _ => None,
        };
        if let Some(span) = span {
            let why = if key == "resource_types" {
                " (its resource type is built in: database, with read and write)"
            } else {
                ""
            };
            ck.problems.at(
                &span,
                format!("{label} is of kind {kind}, which takes no {key}{why}"),
                format!("remove {key}"),
            );
        }
    }
}

/// The settings of a `postgres` integration.
fn postgres(
    raw: &RawIntegration,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<PostgresSettings> {
    let url = admin_url(raw, span, label, ck);

    let role_prefix = match &raw.role_prefix {
        Some(p) if !is_role_prefix(p.get_ref()) => {
            ck.problems.at(
                &p.span(),
                format!(
                    "{label}: role_prefix \"{}\" is not a valid role prefix",
                    suggest::clip(p.get_ref())
                ),
                "use 1 to 16 lower-case letters, digits and \"_\", not starting with a digit, like \"jit_\"",
            );
            None
        }
        Some(p) => Some(p.get_ref().clone()),
        None => Some(DEFAULT_ROLE_PREFIX.to_owned()),
    };

    let client_host = match &raw.client_host {
        Some(h)
            if h.get_ref().trim().is_empty() || h.get_ref().chars().any(char::is_whitespace) =>
        {
            ck.problems.at(
                &h.span(),
                format!(
                    "{label}: client_host \"{}\" is not a host name",
                    suggest::clip(h.get_ref())
                ),
                "write the host name or address clients should connect to, or remove client_host",
            );
            None
        }
        Some(h) => Some(Some(h.get_ref().clone())),
        None => Some(None),
    };

    let client_port = match &raw.client_port {
        Some(p) => match u16::try_from(*p.get_ref()) {
            Ok(port) if port > 0 => Some(Some(port)),
            _ => {
                ck.problems.at(
                    &p.span(),
                    format!("{label}: client_port {} is not a port number", p.get_ref()),
                    "use a number from 1 to 65535, or remove client_port",
                );
                None
            }
        },
        None => Some(None),
    };

    Some(PostgresSettings {
        url: url?,
        role_prefix: role_prefix?,
        client_host: client_host?,
        client_port: client_port?,
    })
}

/// Whether `s` matches `^[a-z_][a-z0-9_]{0,15}$`.
fn is_role_prefix(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.len() <= 16
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The admin connection URL, from exactly one of `url`, `url_env` and `url_file`.
///
/// Never puts the URL (which may hold a password) in a message.
fn admin_url(
    raw: &RawIntegration,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Secret> {
    let sources: Vec<(&str, &Str)> = [
        ("url", &raw.url),
        ("url_env", &raw.url_env),
        ("url_file", &raw.url_file),
    ]
    .into_iter()
    .filter_map(|(key, value)| Some((key, value.as_ref()?)))
    .collect();
    let Some(&(key, value)) = sources.first() else {
        ck.problems.at(
            span,
            format!("{label} has no admin connection URL"),
            "add one of url, url_env or url_file",
        );
        return None;
    };
    if let Some((second, value)) = sources.get(1) {
        ck.problems.at(
            &value.span(),
            format!("{label} sets both {key} and {second}"),
            "keep exactly one of url, url_env and url_file",
        );
        return None;
    }
    let fix = "write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (or key=value pairs)";
    match key {
        "url" => match url_problem(value.get_ref()) {
            Some(why) => {
                ck.problems.at(
                    &value.span(),
                    format!("{label}: url {why} (the value is not shown: it may hold a password)"),
                    fix,
                );
                None
            }
            None => Some(Secret::new(value.get_ref().trim().to_owned())),
        },
        "url_env" => {
            let var = value.get_ref();
            if var.is_empty() || var.contains(['=', '\0']) {
                ck.problems.at(
                    &value.span(),
                    format!(
                        "{label}: url_env \"{}\" is not an environment variable name",
                        suggest::clip(var)
                    ),
                    "write the name of the variable that holds the URL, like \"PG_MAIN_URL\"",
                );
                return None;
            }
            let set_it = format!(
                "set {var} in jitd's environment (Environment= or EnvironmentFile= in its systemd unit), or use url_file"
            );
            let text = match (ck.env)(var).map(|v| v.into_string()) {
                None => {
                    ck.problems.at(
                        &value.span(),
                        format!("{label}: environment variable {var} (url_env) is not set"),
                        set_it,
                    );
                    return None;
                }
                Some(Err(_)) => {
                    ck.problems.at(
                        &value.span(),
                        format!("{label}: environment variable {var} (url_env) is not valid UTF-8"),
                        set_it,
                    );
                    return None;
                }
                Some(Ok(text)) => text,
            };
            match url_problem(&text) {
                Some(why) => {
                    ck.problems.at(
                        &value.span(),
                        format!(
                            "{label}: environment variable {var} (url_env) {why} (the value is not shown: it may hold a password)"
                        ),
                        format!("{fix}, in {var}"),
                    );
                    None
                }
                None => Some(Secret::new(text.trim().to_owned())),
            }
        }
        _ => {
            let file = ck.base_dir.join(value.get_ref());
            let shown = file.display();
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(error) => {
                    ck.problems.at(
                        &value.span(),
                        format!("{label}: cannot read url_file {shown}: {error}"),
                        "create it with the connection URL on one line, readable by jitd only (chmod 600)",
                    );
                    return None;
                }
            };
            match url_problem(&text) {
                Some(why) => {
                    ck.problems.at(
                        &value.span(),
                        format!(
                            "{label}: url_file {shown} {why} (the contents are not shown: they may hold a password)"
                        ),
                        format!("{fix}, in {shown}"),
                    );
                    None
                }
                None => Some(Secret::new(text.trim().to_owned())),
            }
        }
    }
}

/// What is wrong with a connection URL, if anything, in words that do not repeat it.
fn url_problem(url: &str) -> Option<&'static str> {
    let url = url.trim();
    if url.is_empty() {
        return Some("is empty");
    }
    if url.contains('\n') {
        return Some("holds more than one line");
    }
    match url.split_once("://") {
        Some(("postgres" | "postgresql", rest)) if !rest.is_empty() => None,
        Some(_) => Some("is not a postgres:// URL"),
        // tokio-postgres also takes `host=… user=…` pairs.
        None if url.contains('=') => None,
        None => Some("is neither a postgres:// URL nor key=value pairs"),
    }
}

/// The resource types of a `dry-run` integration (`{ resource = ["read", "write"] }` by default).
fn dry_run_types(
    raw: &RawIntegration,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Vec<ResourceType>> {
    let Some(table) = &raw.resource_types else {
        return Some(vec![ResourceType {
            name: "resource".to_owned(),
            permissions: vec!["read".to_owned(), "write".to_owned()],
        }]);
    };
    if table.get_ref().is_empty() {
        ck.problems.at(
            &table.span(),
            format!("{label}: resource_types is empty"),
            "name at least one resource type with its permissions, like { database = [\"read\"] }, or remove resource_types",
        );
        return None;
    }
    let mut types = Vec::new();
    let mut ok = true;
    for (type_name, permissions) in table.get_ref() {
        if !is_name(type_name.get_ref()) {
            ok = false;
            ck.problems.at(
                &type_name.span(),
                format!(
                    "{label}: resource type \"{}\" is not a valid name",
                    suggest::clip(type_name.get_ref())
                ),
                NAME_RULE,
            );
        }
        if permissions.get_ref().is_empty() {
            ok = false;
            ck.problems.at(
                &permissions.span(),
                format!(
                    "{label}: resource type \"{}\" has no permissions",
                    suggest::clip(type_name.get_ref())
                ),
                "list its permissions, like [\"read\", \"write\"]",
            );
        }
        let mut names: Vec<String> = Vec::new();
        for p in permissions.get_ref() {
            if !is_name(p.get_ref()) {
                ok = false;
                ck.problems.at(
                    &p.span(),
                    format!(
                        "{label}: permission \"{}\" is not a valid name",
                        suggest::clip(p.get_ref())
                    ),
                    NAME_RULE,
                );
            } else if !names.contains(p.get_ref()) {
                names.push(p.get_ref().clone());
            }
        }
        types.push(ResourceType {
            name: type_name.get_ref().clone(),
            permissions: names,
        });
    }
    ok.then_some(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(url_problem("postgres://u:p@h:5432/db"), None);
        assert_eq!(url_problem(" postgresql://h/db\n"), None);
        assert_eq!(url_problem("host=/run/postgresql user=postgres"), None);
        assert!(url_problem("").is_some());
        assert!(url_problem("mysql://u:p@h/db").is_some());
        assert!(url_problem("postgres://").is_some());
        assert!(url_problem("localhost").is_some());
        assert!(url_problem("postgres://a\npostgres://b").is_some());
    }

    #[test]
    fn role_prefixes() {
        for good in ["jit_", "_", "a", "abcdefghijklmnop"] {
            assert!(is_role_prefix(good), "{good:?}");
        }
        for bad in ["", "1a", "Jit_", "jit-", "abcdefghijklmnopq"] {
            assert!(!is_role_prefix(bad), "{bad:?}");
        }
    }
}
