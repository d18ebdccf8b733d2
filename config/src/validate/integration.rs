//! One `[[integrations]]` entry: its kind, its settings, its resource types; and the checks the
//! kinds share (admin URL, client host and port, user prefix, tables of named entries, paths).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::url::{self, UrlForm};
use super::{
    Checker, FixedResources, NAME_RULE, Named, did_you_mean, exec, host, is_name, mariadb, message,
    name, redis,
};
use crate::raw::{KIND_KEYS, RawIntegration, Str, StrList, StrTable, entry_label, kind_keys};
use crate::{
    Integration, IntegrationKind, PostgresSettings, ResourceType, Secret, duration, suggest,
};

/// `role_prefix` and `user_prefix` when the file gives none.
pub(super) const DEFAULT_PREFIX: &str = "jit_";

/// The placeholders a `browser_url` may hold, filled in by the daemon for each session.
const BROWSER_PLACEHOLDERS: [&str; 4] = ["host", "port", "user", "database"];

/// The shortest `rotate_every`: rotating more often would disturb the user more than it helps.
const MIN_ROTATE_EVERY: Duration = Duration::from_secs(60);

/// What the checks of one integration found. Flows and bundles are checked against `name`,
/// `resource_types` and `resources` even when another key of the integration is wrong.
pub(super) struct Checked {
    pub name: Option<Named>,
    pub resource_types: Option<Vec<ResourceType>>,
    /// The resources it can grant, when its kind lists them (and the list is valid).
    pub resources: Option<FixedResources>,
    pub integration: Option<Integration>,
}

/// What the checks of one kind's settings found (`None`: not valid, reported).
pub(super) struct KindChecked {
    pub kind: Option<IntegrationKind>,
    pub resource_types: Option<Vec<ResourceType>>,
    pub resources: Option<FixedResources>,
}

impl KindChecked {
    /// A kind whose resources are not a fixed list.
    pub(super) fn open(
        kind: Option<IntegrationKind>,
        resource_types: Option<Vec<ResourceType>>,
    ) -> KindChecked {
        KindChecked {
            kind,
            resource_types,
            resources: None,
        }
    }
}

/// A built-in resource type: `name` with `permissions`.
pub(super) fn resource_type(name: &str, permissions: &[&str]) -> ResourceType {
    ResourceType {
        name: name.to_owned(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
    }
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

    // The keys of the kind (every key, when the kind is missing or unknown).
    let own_keys = raw.kind.as_ref().and_then(|k| kind_keys(k.get_ref()));
    let takes = |key: &str| own_keys.is_none_or(|keys| keys.contains(&key));
    let browser_url = match &raw.browser_url {
        Some(url) if takes("browser_url") => browser_url(url, &label, ck).map(Some),
        Some(_) => None,
        None => Some(None),
    };
    let rotate_every = match &raw.rotate_every {
        Some(v) if takes("rotate_every") => rotate_every(v, &label, ck).map(Some),
        Some(_) => None,
        None => Some(None),
    };

    let KindChecked {
        kind,
        resource_types,
        resources,
    } = match (&raw.kind, own_keys) {
        (None, _) => {
            ck.problems.at(
                &span,
                format!("{label} has no kind"),
                format!("add kind = \"...\", one of: {}", kind_list()),
            );
            KindChecked::open(None, None)
        }
        (Some(kind), None) => {
            let names = KIND_KEYS.iter().map(|(name, _)| *name);
            let hint = did_you_mean(kind.get_ref(), names);
            ck.problems.at(
                &kind.span(),
                format!(
                    "{label}: kind \"{}\" is not a known kind",
                    suggest::clip(kind.get_ref())
                ),
                format!("{hint}the kinds are: {}", kind_list()),
            );
            KindChecked::open(None, None)
        }
        (Some(kind), Some(keys)) => {
            let kind = kind.get_ref().as_str();
            forbid_other_keys(raw, kind, keys, &label, ck);
            match kind {
                "postgres" => KindChecked::open(
                    postgres(raw, &span, &label, ck).map(IntegrationKind::Postgres),
                    Some(vec![resource_type("database", &["read", "write"])]),
                ),
                "mariadb" => mariadb::check(raw, &span, &label, ck),
                "redis" => redis::check(raw, &span, &label, ck),
                "unix-group" => host::unix_group(raw, &span, &label, ck),
                "sudo" => host::sudo(raw, &span, &label, ck),
                "ssh" => host::ssh(raw, &span, &label, ck),
                "exec" => exec::check(raw, &span, &label, ck),
                "dry-run" => KindChecked::open(
                    Some(IntegrationKind::DryRun),
                    dry_run_types(raw, &label, ck),
                ),
                // Every kind of KIND_KEYS is handled above.
                other => {
                    ck.problems.at(
                        &span,
                        format!("{label}: kind {other} is not handled (a bug in jit-config)"),
                        "report it, with the config file (its secrets removed)",
                    );
                    KindChecked::open(None, None)
                }
            }
        }
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
        resources,
        integration,
    }
}

/// `"postgres", "mariadb", …`: the kinds, as written in the file.
fn kind_list() -> String {
    suggest::quoted_list(KIND_KEYS.iter().map(|(name, _)| *name))
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

/// Reports every key that is set but belongs to other kinds than `kind` (whose own keys are
/// `keys`, besides the common ones).
fn forbid_other_keys(
    raw: &RawIntegration,
    kind: &str,
    keys: &[&str],
    label: &str,
    ck: &mut Checker<'_>,
) {
    for (key, span) in kind_key_spans(raw) {
        let Some(span) = span else { continue };
        if keys.contains(&key) {
            continue;
        }
        let why = match (key, builtin_types(kind)) {
            ("resource_types", Some(types)) => format!(" (its resource type is built in: {types})"),
            ("rotate_every", _) => " (it hands out no secret to rotate)".to_owned(),
            ("browser_url", _) => " (it has no server to open in a browser)".to_owned(),
            _ => String::new(),
        };
        let instead = match (key, kind) {
            ("role_prefix", "mariadb" | "redis") => {
                format!("; a {kind} integration names its users with user_prefix")
            }
            ("user_prefix", "postgres") => {
                "; a postgres integration names its roles with role_prefix".to_owned()
            }
            ("resource_types", "mariadb") => {
                "; add permissions with an [integrations.privileges] table".to_owned()
            }
            ("resource_types", "redis") => {
                "; add permissions with an [integrations.command_sets] table".to_owned()
            }
            _ => String::new(),
        };
        ck.problems.at(
            &span,
            format!("{label} is of kind {kind}, which takes no {key}{why}"),
            format!("remove {key}{instead}"),
        );
    }
}

/// The built-in resource type of `kind`, in words; `None` when the admin configures them.
fn builtin_types(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "postgres" => "database, with read and write",
        "mariadb" => "database, with read, write and the names in privileges",
        "redis" => "keys, with read, write and the names in command_sets",
        "unix-group" => "group, with member",
        "sudo" => "command, with run",
        "ssh" => "login, with login",
        _ => return None,
    })
}

/// Every key that only some kinds take, with where it is written if it is.
fn kind_key_spans(raw: &RawIntegration) -> [(&'static str, Option<Range<usize>>); 25] {
    fn at<T>(value: Option<&Spanned<T>>) -> Option<Range<usize>> {
        value.map(Spanned::span)
    }
    [
        ("browser_url", at(raw.browser_url.as_ref())),
        ("rotate_every", at(raw.rotate_every.as_ref())),
        ("url", at(raw.url.as_ref())),
        ("url_env", at(raw.url_env.as_ref())),
        ("url_file", at(raw.url_file.as_ref())),
        ("role_prefix", at(raw.role_prefix.as_ref())),
        ("user_prefix", at(raw.user_prefix.as_ref())),
        ("user_host", at(raw.user_host.as_ref())),
        ("client_host", at(raw.client_host.as_ref())),
        ("client_port", at(raw.client_port.as_ref())),
        ("privileges", at(raw.privileges.as_ref())),
        ("command_sets", at(raw.command_sets.as_ref())),
        ("groups", at(raw.groups.as_ref())),
        ("commands", at(raw.commands.as_ref())),
        ("sudoers_dir", at(raw.sudoers_dir.as_ref())),
        ("run_as", at(raw.run_as.as_ref())),
        ("ca_key", at(raw.ca_key.as_ref())),
        ("krl", at(raw.krl.as_ref())),
        ("principals", at(raw.principals.as_ref())),
        ("key_type", at(raw.key_type.as_ref())),
        ("command", at(raw.command.as_ref())),
        ("args", at(raw.args.as_ref())),
        ("timeout", at(raw.timeout.as_ref())),
        ("env", at(raw.env.as_ref())),
        ("resource_types", at(raw.resource_types.as_ref())),
    ]
}

/// The settings of a `postgres` integration.
fn postgres(
    raw: &RawIntegration,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<PostgresSettings> {
    let url = admin_url(raw, span, &url::POSTGRES, label, ck);

    let role_prefix = match &raw.role_prefix {
        Some(p) if !is_prefix(p.get_ref(), 16) => {
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
        None => Some(DEFAULT_PREFIX.to_owned()),
    };

    Some(PostgresSettings {
        url: url?,
        role_prefix: role_prefix?,
        client_host: client_host(raw, label, ck)?,
        client_port: client_port(raw, label, ck)?,
    })
}

/// `user_prefix` of `mariadb` and `redis`: like `role_prefix`, at most 12 characters.
pub(super) fn user_prefix(
    raw: &RawIntegration,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<String> {
    match &raw.user_prefix {
        Some(p) if !is_prefix(p.get_ref(), 12) => {
            ck.problems.at(
                &p.span(),
                format!(
                    "{label}: user_prefix \"{}\" is not a valid user prefix",
                    suggest::clip(p.get_ref())
                ),
                "use 1 to 12 lower-case letters, digits and \"_\", not starting with a digit, like \"jit_\"",
            );
            None
        }
        Some(p) => Some(p.get_ref().clone()),
        None => Some(DEFAULT_PREFIX.to_owned()),
    }
}

/// Whether `s` matches `^[a-z_][a-z0-9_]{0,max-1}$`.
fn is_prefix(s: &str, max: usize) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An optional `client_host`: a host name without white space.
pub(super) fn client_host(
    raw: &RawIntegration,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Option<String>> {
    match &raw.client_host {
        Some(h)
            if h.get_ref().trim().is_empty()
                || h.get_ref()
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control()) =>
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
    }
}

/// An optional `client_port`: 1 to 65535.
pub(super) fn client_port(
    raw: &RawIntegration,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Option<u16>> {
    match &raw.client_port {
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
    }
}

/// A required key that is missing: reports it at the integration's header.
pub(super) fn missing(
    span: &Range<usize>,
    label: &str,
    key: &str,
    fix: &str,
    ck: &mut Checker<'_>,
) {
    ck.problems
        .at(span, format!("{label} has no {key}"), fix.to_owned());
}

/// An absolute path (`key` of the integration), as written.
pub(super) fn absolute_path(
    value: &Str,
    key: &str,
    example: &str,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<PathBuf> {
    let text = value.get_ref();
    let why = if text.trim().is_empty() {
        "is empty"
    } else if !text.starts_with('/') {
        "is not an absolute path"
    } else if text.chars().any(char::is_control) {
        "contains control characters"
    } else {
        return Some(PathBuf::from(text));
    };
    ck.problems.at(
        &value.span(),
        format!("{label}: {key} \"{}\" {why}", suggest::clip(text)),
        format!("write an absolute path, starting with \"/\", like \"{example}\""),
    );
    None
}

/// How a table of named entries (`privileges`, `command_sets`, `commands`, `env`) is checked.
pub(super) struct NamedTable<'a> {
    /// The key (`privileges`).
    pub key: &'a str,
    /// What one entry is called in messages (`privilege set`).
    pub item: &'a str,
    /// An entry to show in fixes (`audit = "SELECT, SHOW VIEW"`).
    pub example: &'a str,
    /// Whether the table may be empty (else: list at least one, or remove the key).
    pub required: bool,
    /// Names the entries may not have, with why (`read`: a built-in permission).
    pub reserved: &'a [&'a str],
    pub reserved_why: &'a str,
    /// The rule for names, and the fix for a bad one.
    pub name_ok: fn(&str) -> bool,
    pub name_rule: &'a str,
}

/// Checks a table of named entries, each value with `value` (which returns it as it is to be
/// kept, or what is wrong with it and the fix). Returns the entries in file order.
pub(super) fn named_table(
    table: &StrTable,
    spec: &NamedTable<'_>,
    label: &str,
    value: impl Fn(&str) -> Result<String, (String, String)>,
    ck: &mut Checker<'_>,
) -> Option<Vec<(String, String)>> {
    let key = spec.key;
    if table.get_ref().is_empty() {
        let remove = if spec.required {
            String::new()
        } else {
            format!(", or remove {key}")
        };
        ck.problems.at(
            &table.span(),
            format!("{label}: {key} is empty"),
            format!("add an entry like {}{remove}", spec.example),
        );
        return None;
    }
    let mut entries: Vec<(&Str, &Str)> = table.get_ref().iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    let mut out = Vec::new();
    let mut ok = true;
    for (name, text) in entries {
        let item = spec.item;
        let shown = suggest::clip(name.get_ref());
        if !(spec.name_ok)(name.get_ref()) {
            ok = false;
            ck.problems.at(
                &name.span(),
                format!("{label}: {item} name \"{shown}\" is not a valid name"),
                spec.name_rule,
            );
            continue;
        }
        if spec.reserved.contains(&name.get_ref().as_str()) {
            ok = false;
            ck.problems.at(
                &name.span(),
                format!("{label}: {item} \"{shown}\" {}", spec.reserved_why),
                format!(
                    "give it another name; {} are built in",
                    spec.reserved.join(" and ")
                ),
            );
            continue;
        }
        match value(text.get_ref()) {
            Ok(kept) => out.push((name.get_ref().clone(), kept)),
            Err((why, fix)) => {
                ok = false;
                ck.problems.at(
                    &text.span(),
                    format!("{label}: {item} \"{shown}\" {why}"),
                    fix,
                );
            }
        }
    }
    ok.then_some(out)
}

/// The admin connection URL, from exactly one of `url`, `url_env` and `url_file`, written as
/// `form` says.
///
/// Never puts the URL (which may hold a password) in a message.
pub(super) fn admin_url(
    raw: &RawIntegration,
    span: &Range<usize>,
    form: &UrlForm,
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
    let fix = form.fix;
    match key {
        "url" => match (form.problem)(value.get_ref()) {
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
            match (form.problem)(&text) {
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
            let text = match read_url_file(&file) {
                Ok(text) => text,
                Err(UrlFileError::Io(error)) => {
                    ck.problems.at(
                        &value.span(),
                        format!("{label}: cannot read url_file {shown}: {error}"),
                        "create it with the connection URL on one line, readable by jitd only (chmod 600)",
                    );
                    return None;
                }
                Err(UrlFileError::Shape(why)) => {
                    ck.problems.at(
                        &value.span(),
                        format!("{label}: url_file {shown} {why}"),
                        "point url_file at a file holding the connection URL on one line (chmod 600)",
                    );
                    return None;
                }
            };
            match (form.problem)(&text) {
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

/// The most a `url_file` may hold: a connection URL is one line.
const MAX_URL_FILE_BYTES: u64 = 64 * 1024;

/// Why a `url_file` could not be used.
pub(super) enum UrlFileError {
    /// Reading failed.
    Io(std::io::Error),
    /// It is no small regular file.
    Shape(&'static str),
}

/// Reads a `url_file`. A FIFO or a device (`/dev/zero`) is refused before it is opened, and
/// at most [`MAX_URL_FILE_BYTES`] are read: reading the config must neither hang nor fill
/// memory.
pub(super) fn read_url_file(file: &std::path::Path) -> Result<String, UrlFileError> {
    use std::io::Read;
    let meta = std::fs::metadata(file).map_err(UrlFileError::Io)?;
    if !meta.is_file() {
        return Err(UrlFileError::Shape("is not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_URL_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(UrlFileError::Io)?;
    if text.len() as u64 > MAX_URL_FILE_BYTES {
        return Err(UrlFileError::Shape("is larger than 64 KiB"));
    }
    Ok(text)
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
    configured_types(table, label, ck)
}

/// Resource types the admin declares (`resource_types` of `dry-run` and `exec`): not empty,
/// each a valid name with at least one permission, and each permission a valid name.
pub(super) fn configured_types(
    table: &Spanned<BTreeMap<Str, StrList>>,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Vec<ResourceType>> {
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
    fn prefixes() {
        for good in ["jit_", "_", "a", "abcdefghijkl"] {
            assert!(is_prefix(good, 12), "{good:?}");
        }
        assert!(is_prefix("abcdefghijklmnop", 16));
        for bad in ["", "1a", "Jit_", "jit-", "abcdefghijklm"] {
            assert!(!is_prefix(bad, 12), "{bad:?}");
        }
        assert!(!is_prefix("abcdefghijklmnopq", 16));
    }

    #[test]
    fn every_kind_key_has_a_span() {
        // An integration with every key set: each kind-specific key is found.
        let mut text = String::new();
        for (key, _) in kind_key_spans(&toml::from_str("").expect("empty")) {
            let value = match key {
                "client_port" => "1",
                "groups" | "principals" | "args" => "[]",
                "privileges" | "command_sets" | "commands" | "env" | "resource_types" => "{}",
                _ => "\"x\"",
            };
            text.push_str(&format!("{key} = {value}\n"));
        }
        let raw: RawIntegration = toml::from_str(&text).expect("every key");
        let spans = kind_key_spans(&raw);
        for (key, span) in &spans {
            assert!(span.is_some(), "{key}");
        }
        // And they are exactly the keys the kinds take.
        let mut listed: Vec<&str> = KIND_KEYS
            .iter()
            .flat_map(|(_, keys)| keys.iter().copied())
            .collect();
        listed.sort_unstable();
        listed.dedup();
        let mut named: Vec<&str> = spans.iter().map(|(key, _)| *key).collect();
        named.sort_unstable();
        assert_eq!(named, listed);
    }
}
