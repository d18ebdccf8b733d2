//! The file as written: serde structs that keep each value's position, the table of allowed
//! keys, and the checks that run on the parsed TOML tree before serde sees it.
//!
//! Every field is optional here so that serde fails only on a value of the wrong type; whether a
//! key is required, and every other rule, is checked in `validate`, which can report all
//! problems at once.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::Problems;
use crate::suggest;

/// A string and where it is.
pub(crate) type Str = Spanned<String>;
/// A list of strings, and where the list and each string are.
pub(crate) type StrList = Spanned<Vec<Str>>;
/// A table of strings under names the admin chooses (`[integrations.privileges]`), and where the
/// table, each name and each string are. Ordered by name: use the names' spans for file order.
pub(crate) type StrTable = Spanned<BTreeMap<Str, Str>>;

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub daemon: Option<Spanned<RawDaemon>>,
    #[serde(default)]
    pub integrations: Vec<Spanned<RawIntegration>>,
    #[serde(default)]
    pub flows: Vec<Spanned<RawFlow>>,
    #[serde(default)]
    pub bundles: Vec<Spanned<RawBundle>>,
    #[serde(default)]
    pub notifications: Vec<Spanned<RawNotification>>,
}

/// `[daemon]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    pub admins: Option<StrList>,
    pub pending_ttl: Option<Str>,
    pub socket_mode: Option<Str>,
    pub log: Option<Str>,
    pub expiry_warnings: Option<StrList>,
    pub metrics_textfile: Option<Str>,
    pub metrics_textfile_mode: Option<Str>,
    pub metrics_interval: Option<Str>,
}

/// One `[[integrations]]` entry; the keys of every kind (which key suits which kind is checked
/// later, with a better message than serde's).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIntegration {
    pub name: Option<Str>,
    pub kind: Option<Str>,
    pub message: Option<Str>,
    pub browser_url: Option<Str>,
    pub rotate_every: Option<Str>,
    pub url: Option<Str>,
    pub url_env: Option<Str>,
    pub url_file: Option<Str>,
    pub role_prefix: Option<Str>,
    pub user_prefix: Option<Str>,
    pub user_host: Option<Str>,
    pub client_host: Option<Str>,
    pub client_port: Option<Spanned<i64>>,
    pub privileges: Option<StrTable>,
    pub command_sets: Option<StrTable>,
    pub groups: Option<StrList>,
    pub commands: Option<StrTable>,
    pub sudoers_dir: Option<Str>,
    pub run_as: Option<Str>,
    pub ca_key: Option<Str>,
    pub krl: Option<Str>,
    pub principals: Option<StrList>,
    pub key_type: Option<Str>,
    pub command: Option<Str>,
    pub args: Option<StrList>,
    pub timeout: Option<Str>,
    pub env: Option<StrTable>,
    pub resource_types: Option<Spanned<BTreeMap<Str, StrList>>>,
}

/// One `[[flows]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    pub name: Option<Str>,
    pub requesters: Option<StrList>,
    pub integration: Option<Str>,
    pub bundles: Option<StrList>,
    pub resource_types: Option<StrList>,
    pub resources: Option<StrList>,
    pub permissions: Option<StrList>,
    pub approval: Option<Str>,
    pub approvers: Option<StrList>,
    pub approvals_required: Option<Spanned<i64>>,
    pub break_glass: Option<Spanned<bool>>,
    pub default_duration: Option<Str>,
    pub max_duration: Option<Str>,
    pub max_extensions: Option<Spanned<i64>>,
    pub max_total_duration: Option<Str>,
    pub extension_approval: Option<Str>,
    pub justification: Option<Str>,
    pub justification_pattern: Option<Str>,
    pub pending_ttl: Option<Str>,
    pub notify: Option<StrList>,
}

/// One `[[notifications]]` entry (which key suits which kind is checked in `validate`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotification {
    pub name: Option<Str>,
    pub kind: Option<Str>,
    pub url: Option<Str>,
    pub url_env: Option<Str>,
    pub url_file: Option<Str>,
    pub secret_env: Option<Str>,
    pub secret_file: Option<Str>,
    pub events: Option<StrList>,
    pub global: Option<Spanned<bool>>,
    pub timeout: Option<Str>,
    pub give_up_after: Option<Str>,
    pub max_pending: Option<Spanned<i64>>,
    pub tls: Option<Str>,
    pub ca_file: Option<Str>,
    pub from: Option<Str>,
    pub domain: Option<Str>,
    pub addresses: Option<StrTable>,
}

/// One `[[bundles]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBundle {
    pub name: Option<Str>,
    pub message: Option<Str>,
    pub entries: Option<Spanned<Vec<Spanned<RawBundleEntry>>>>,
}

/// One `[[bundles.entries]]` table of a bundle.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBundleEntry {
    pub integration: Option<Str>,
    pub resource_type: Option<Str>,
    pub resources: Option<StrList>,
    pub permissions: Option<StrList>,
}

/// The keys a table may hold: the single source for unknown-key and wrong-type messages.
/// (`tests::schema_matches_raw_structs` keeps it in step with the structs above.)
pub(crate) struct Schema {
    /// How the table is written in the file.
    pub table: &'static str,
    /// For arrays of tables: the word for one entry (`flow`), used with its name.
    pub entry: Option<&'static str>,
    pub keys: &'static [Key],
    /// For a table whose allowed keys depend on its contents (an integration's on its kind): how
    /// to name that variant in messages, and its keys (all of them are among `keys`).
    pub variant: Option<VariantKeys>,
}

/// For one table: how to name its variant in messages, and the keys it may hold (`None`: no
/// particular variant).
pub(crate) type VariantKeys = fn(&DeTable<'_>) -> Option<(String, Vec<&'static str>)>;

/// One allowed key.
pub(crate) struct Key {
    pub name: &'static str,
    /// What its value must be, as a phrase: "a duration like \"4h\"".
    pub expects: &'static str,
    /// The schema of the table (or of each table in the array) it holds, if any.
    pub child: Option<&'static Schema>,
}

const fn key(name: &'static str, expects: &'static str) -> Key {
    Key {
        name,
        expects,
        child: None,
    }
}

const DURATION: &str = "a duration like \"30m\", \"1h 30m\" or \"2d\"";
const PRINCIPALS: &str = "a list of principals like [\"alice\", \"%dev\"] (\"*\" is anyone)";
const STRINGS: &str = "a list of strings";

pub(crate) const TOP: Schema = Schema {
    table: "the top level of the file",
    entry: None,
    keys: &[
        Key {
            name: "daemon",
            expects: "a table: [daemon]",
            child: Some(&DAEMON),
        },
        Key {
            name: "integrations",
            expects: "an array of tables: [[integrations]]",
            child: Some(&INTEGRATION),
        },
        Key {
            name: "flows",
            expects: "an array of tables: [[flows]]",
            child: Some(&FLOW),
        },
        // Last, so that the list of top-level keys in messages reads as it always did.
        Key {
            name: "bundles",
            expects: "an array of tables: [[bundles]]",
            child: Some(&BUNDLE),
        },
        Key {
            name: "notifications",
            expects: "an array of tables: [[notifications]]",
            child: Some(&NOTIFICATION),
        },
    ],
    variant: None,
};

pub(crate) const DAEMON: Schema = Schema {
    table: "[daemon]",
    entry: None,
    keys: &[
        key("admins", PRINCIPALS),
        key("pending_ttl", DURATION),
        key("socket_mode", "a string of octal digits like \"0660\""),
        key("log", "a log filter string like \"info\" or \"jitd=debug\""),
        key(
            "expiry_warnings",
            "a list of durations before expiry like [\"10m\", \"1m\"]",
        ),
        key(
            "metrics_textfile",
            "an absolute path like \"/var/lib/node_exporter/textfile/jit.prom\"",
        ),
        key(
            "metrics_textfile_mode",
            "a string of octal digits like \"0640\"",
        ),
        key("metrics_interval", DURATION),
    ],
    variant: None,
};

pub(crate) const INTEGRATION: Schema = Schema {
    table: "[[integrations]]",
    entry: Some("integration"),
    keys: &[
        key("name", "a string like \"pg-main\""),
        key(
            "kind",
            "a string: \"postgres\", \"mariadb\", \"redis\", \"unix-group\", \"sudo\", \"ssh\", \"exec\" or \"dry-run\"",
        ),
        key("message", "a string"),
        key(
            "browser_url",
            "a URL template like \"https://pgweb.example.com/?host={host}&db={database}\"",
        ),
        key("rotate_every", DURATION),
        key(
            "url",
            "a string like \"postgres://USER@HOST:5432/DATABASE\"",
        ),
        key(
            "url_env",
            "the name of an environment variable, as a string",
        ),
        key("url_file", "a file path, as a string"),
        key("role_prefix", "a string like \"jit_\""),
        key("user_prefix", "a string like \"jit_\""),
        key(
            "user_host",
            "a host pattern like \"%\" or \"10.0.0.%\", as a string",
        ),
        key("client_host", "a host name, as a string"),
        key("client_port", "a port number like 5432 (no quotes)"),
        key(
            "privileges",
            "a table of permission names, each with a privilege list, like { audit = \"SELECT, SHOW VIEW\" }",
        ),
        key(
            "command_sets",
            "a table of permission names, each with ACL rules, like { ops = \"+@read +info\" }",
        ),
        key(
            "groups",
            "a list of group names like [\"deploy\", \"docker\"]",
        ),
        key(
            "commands",
            "a table of command names, each with a command line, like { restart-nginx = \"/usr/bin/systemctl restart nginx\" }",
        ),
        key("sudoers_dir", "an absolute directory path, as a string"),
        key("run_as", "a user name like \"root\", as a string"),
        key("ca_key", "an absolute file path, as a string"),
        key("krl", "an absolute file path, as a string"),
        key(
            "principals",
            "a list of principal names like [\"deploy\", \"app\"]",
        ),
        key("key_type", "a string: \"ed25519\" or \"ecdsa\""),
        key("command", "an absolute file path, as a string"),
        key("args", "a list of strings like [\"--verbose\"]"),
        key("timeout", "a duration like \"30s\" or \"2m\""),
        key(
            "env",
            "a table of environment variables, like { API_URL = \"https://api.internal\" }",
        ),
        key(
            "resource_types",
            "a table of resource types, each with a list of permissions, like { database = [\"read\", \"write\"] }",
        ),
    ],
    variant: Some(integration_kind_keys),
};

/// The keys every integration takes, whatever its kind.
pub(crate) const COMMON_INTEGRATION_KEYS: [&str; 3] = ["name", "kind", "message"];

/// Each kind as written in the file, with the keys it takes besides
/// [`COMMON_INTEGRATION_KEYS`] (in the order of [`INTEGRATION`]). The single source for which key
/// suits which kind: unknown-key messages list these, and a key of another kind is refused.
pub(crate) const KIND_KEYS: [(&str, &[&str]); 8] = [
    (
        "postgres",
        &[
            "browser_url",
            "rotate_every",
            "url",
            "url_env",
            "url_file",
            "role_prefix",
            "client_host",
            "client_port",
        ],
    ),
    (
        "mariadb",
        &[
            "browser_url",
            "rotate_every",
            "url",
            "url_env",
            "url_file",
            "user_prefix",
            "user_host",
            "client_host",
            "client_port",
            "privileges",
        ],
    ),
    (
        "redis",
        &[
            "browser_url",
            "rotate_every",
            "url",
            "url_env",
            "url_file",
            "user_prefix",
            "client_host",
            "client_port",
            "command_sets",
        ],
    ),
    // Nothing secret is handed out, and there is no server to open in a browser.
    ("unix-group", &["groups"]),
    ("sudo", &["commands", "sudoers_dir", "run_as"]),
    (
        "ssh",
        &[
            "browser_url",
            "rotate_every",
            "client_host",
            "client_port",
            "ca_key",
            "krl",
            "principals",
            "key_type",
        ],
    ),
    (
        "exec",
        &[
            "browser_url",
            "rotate_every",
            "command",
            "args",
            "timeout",
            "env",
            "resource_types",
        ],
    ),
    (
        "dry-run",
        &["browser_url", "rotate_every", "resource_types"],
    ),
];

/// The keys a kind takes besides the common ones; `None` for an unknown kind.
pub(crate) fn kind_keys(kind: &str) -> Option<&'static [&'static str]> {
    KIND_KEYS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, keys)| *keys)
}

/// For an integration of a known kind: the keys it may hold, and how to name such a table.
fn integration_kind_keys(table: &DeTable<'_>) -> Option<(String, Vec<&'static str>)> {
    let kind = table.get("kind")?.get_ref().as_str()?;
    let own = kind_keys(kind)?;
    let keys = COMMON_INTEGRATION_KEYS.iter().chain(own).copied().collect();
    Some((format!("a {kind} integration"), keys))
}

pub(crate) const FLOW: Schema = Schema {
    table: "[[flows]]",
    entry: Some("flow"),
    keys: &[
        key("name", "a string like \"pg-read\""),
        key("requesters", PRINCIPALS),
        key("integration", "the name of an integration, as a string"),
        key("bundles", "a list of bundle names like [\"oncall\"]"),
        key("resource_types", STRINGS),
        key(
            "resources",
            "a list of resource names or patterns like [\"orders\", \"report_*\"]",
        ),
        key("permissions", STRINGS),
        key("approval", "a string: \"auto\" or \"manual\""),
        key("approvers", PRINCIPALS),
        key("approvals_required", "a whole number like 2 (no quotes)"),
        key("break_glass", "true or false (no quotes)"),
        key("default_duration", DURATION),
        key("max_duration", DURATION),
        key("max_extensions", "a whole number like 2 (no quotes)"),
        key("max_total_duration", DURATION),
        key("extension_approval", "a string: \"auto\" or \"manual\""),
        key("justification", "a string: \"required\" or \"optional\""),
        key("justification_pattern", "a regular expression, as a string"),
        key("pending_ttl", DURATION),
        key(
            "notify",
            "a list of notification channel names like [\"ops-slack\"]",
        ),
    ],
    variant: None,
};

pub(crate) const NOTIFICATION: Schema = Schema {
    table: "[[notifications]]",
    entry: Some("notification channel"),
    keys: &[
        key("name", "a string like \"ops-slack\""),
        key(
            "kind",
            "a string: \"slack\", \"teams\", \"webhook\" or \"email\"",
        ),
        key("url", "a URL, as a string"),
        key(
            "url_env",
            "the name of an environment variable, as a string",
        ),
        key("url_file", "a file path, as a string"),
        key(
            "secret_env",
            "the name of an environment variable, as a string",
        ),
        key("secret_file", "a file path, as a string"),
        key(
            "events",
            "a list of event names like [\"approval_needed\", \"granted\"]",
        ),
        key("global", "true or false (no quotes)"),
        key("timeout", "a duration like \"10s\""),
        key("give_up_after", DURATION),
        key("max_pending", "a whole number like 10000 (no quotes)"),
        key(
            "tls",
            "a string: \"opportunistic\", \"required\" or \"wrapper\"",
        ),
        key(
            "ca_file",
            "the path of a PEM file of CA certificates, as a string",
        ),
        key(
            "from",
            "an address like \"jit <jit@example.com>\", as a string",
        ),
        key("domain", "a mail domain like \"example.com\", as a string"),
        key(
            "addresses",
            "a table of user names, each with an address, like { alice = \"alice@example.com\" }",
        ),
    ],
    variant: Some(channel_kind_keys),
};

/// The keys every notification channel takes, whatever its kind.
pub(crate) const COMMON_CHANNEL_KEYS: [&str; 7] = [
    "name",
    "kind",
    "events",
    "global",
    "timeout",
    "give_up_after",
    "max_pending",
];

/// Each channel kind with the keys it takes besides [`COMMON_CHANNEL_KEYS`].
pub(crate) const CHANNEL_KIND_KEYS: [(&str, &[&str]); 4] = [
    ("slack", &["url", "url_env", "url_file"]),
    ("teams", &["url", "url_env", "url_file"]),
    (
        "webhook",
        &["url", "url_env", "url_file", "secret_env", "secret_file"],
    ),
    (
        "email",
        &[
            "url",
            "url_env",
            "url_file",
            "tls",
            "ca_file",
            "from",
            "domain",
            "addresses",
        ],
    ),
];

/// The keys a channel kind takes besides the common ones; `None` for an unknown kind.
pub(crate) fn channel_kind_keys_of(kind: &str) -> Option<&'static [&'static str]> {
    CHANNEL_KIND_KEYS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, keys)| *keys)
}

/// For a channel of a known kind: the keys it may hold, and how to name such a table.
fn channel_kind_keys(table: &DeTable<'_>) -> Option<(String, Vec<&'static str>)> {
    let kind = table.get("kind")?.get_ref().as_str()?;
    let own = channel_kind_keys_of(kind)?;
    let keys = COMMON_CHANNEL_KEYS.iter().chain(own).copied().collect();
    Some((format!("a {kind} notification channel"), keys))
}

pub(crate) const BUNDLE: Schema = Schema {
    table: "[[bundles]]",
    entry: Some("bundle"),
    keys: &[
        key("name", "a string like \"oncall\""),
        key("message", "a string"),
        Key {
            name: "entries",
            expects: "an array of tables: [[bundles.entries]]",
            child: Some(&BUNDLE_ENTRY),
        },
    ],
    variant: None,
};

pub(crate) const BUNDLE_ENTRY: Schema = Schema {
    table: "[[bundles.entries]]",
    entry: Some("entry"),
    keys: &[
        key("integration", "the name of an integration, as a string"),
        key("resource_type", "the name of a resource type, as a string"),
        key(
            "resources",
            "a list of exact resource names like [\"orders\", \"billing\"]",
        ),
        key("permissions", STRINGS),
    ],
    variant: None,
};

impl Schema {
    fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// How to name one table of this schema at the start of a message: `flow "pg-read": `,
    /// `flow #2: `, `[daemon]: `, or nothing at the top level.
    fn prefix(&self, label: &str) -> String {
        if self.table == TOP.table {
            String::new()
        } else {
            format!("{label}: ")
        }
    }

    /// How to name one table of this schema in a message: `flow "pg-read"`, `flow #2`,
    /// `[daemon]`, `bundle "oncall" entry #2`. `parent` names the array entry that holds this
    /// one, if any.
    fn label(&self, table: &DeTable<'_>, index: Option<usize>, parent: Option<&str>) -> String {
        match (self.entry, index) {
            (Some(entry), Some(index)) => {
                let own = entry_label(
                    entry,
                    table.get("name").and_then(|v| v.get_ref().as_str()),
                    index,
                );
                match parent {
                    Some(parent) => format!("{parent} {own}"),
                    None => own,
                }
            }
            _ => self.table.to_owned(),
        }
    }
}

/// How to name an array entry in a message: by its name when it has a usable one, else by its
/// place in the file.
pub(crate) fn entry_label(entry: &str, name: Option<&str>, index: usize) -> String {
    match name {
        Some(name) if !name.trim().is_empty() && name.len() <= 64 && !name.contains('"') => {
            format!("{entry} \"{name}\"")
        }
        _ => format!("{entry} #{}", index + 1),
    }
}

/// Reports every key that no schema allows and removes it, so that serde (which denies unknown
/// fields) goes on to check the rest.
pub(crate) fn remove_unknown_keys(root: &mut DeTable<'_>, problems: &mut Problems<'_>) {
    remove_unknown(root, &TOP, None, None, problems);
}

fn remove_unknown(
    table: &mut DeTable<'_>,
    schema: &'static Schema,
    index: Option<usize>,
    parent: Option<&str>,
    problems: &mut Problems<'_>,
) {
    let label = schema.label(table, index, parent);
    // The entries of an array inside an array entry are named after it.
    let here = schema.entry.is_some().then_some(label.as_str());
    let unknown: Vec<(String, Range<usize>)> = table
        .keys()
        .filter(|k| schema.key(k.get_ref()).is_none())
        .map(|k| (k.get_ref().to_string(), k.span()))
        .collect();
    if !unknown.is_empty() {
        // An integration of a known kind: suggest and list that kind's keys only.
        let (what, names) = match schema.variant.and_then(|variant| variant(table)) {
            Some(variant) => variant,
            None => (
                schema.table.to_owned(),
                schema.keys.iter().map(|k| k.name).collect(),
            ),
        };
        for (name, span) in &unknown {
            let hint = match suggest::closest(name, names.iter().copied()) {
                Some(close) => format!("did you mean \"{close}\"? "),
                None => String::new(),
            };
            problems.at(
                span,
                format!("unknown key \"{}\" in {label}", suggest::clip(name)),
                format!("{hint}the keys of {what} are: {}", names.join(", ")),
            );
        }
        for (name, _) in &unknown {
            table.remove(name.as_str());
        }
    }
    for (k, value) in table.iter_mut() {
        let Some(child) = schema.key(k.get_ref()).and_then(|k| k.child) else {
            continue;
        };
        match value.get_mut() {
            DeValue::Table(t) => remove_unknown(t, child, None, here, problems),
            DeValue::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let DeValue::Table(t) = item.get_mut() {
                        remove_unknown(t, child, Some(i), here, problems);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Turns a serde error (in practice: a value of the wrong type) into a problem naming the key,
/// what it must be and what was found — never the value itself, which could be a secret.
pub(crate) fn report_serde_error(
    root: &Spanned<DeTable<'_>>,
    error: &toml::de::Error,
    problems: &mut Problems<'_>,
) {
    let span = error.span().unwrap_or(0..0);
    match locate(root.get_ref(), &TOP, None, None, &span) {
        Some(found) => {
            let what = article(found.value_type);
            problems.at(
                &span,
                format!(
                    "{}wrong type for {} (found {what})",
                    found.prefix, found.key.name
                ),
                format!("write {} as {}", found.key.name, found.key.expects),
            );
        }
        // Not expected: every serde failure should be at some key. Say what serde said, with
        // anything quoted taken out.
        None => problems.at(
            &span,
            scrub_quoted(error.message()),
            "compare the file with docs/config.md",
        ),
    }
}

struct Located {
    prefix: String,
    key: &'static Key,
    value_type: &'static str,
}

/// Finds the key whose value holds `span`. Tables are searched whole: the span of a table
/// written as `[daemon]` covers only its header, not the keys below it.
fn locate(
    table: &DeTable<'_>,
    schema: &'static Schema,
    index: Option<usize>,
    parent: Option<&str>,
    span: &Range<usize>,
) -> Option<Located> {
    let label = schema.label(table, index, parent);
    let here = schema.entry.is_some().then_some(label.as_str());
    let contains = |r: Range<usize>| r.start <= span.start && span.start < r.end.max(r.start + 1);
    for (k, value) in table.iter() {
        let Some(key) = schema.key(k.get_ref()) else {
            continue;
        };
        if let Some(child) = key.child {
            let deeper = match value.get_ref() {
                DeValue::Table(t) => locate(t, child, None, here, span),
                DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| match item
                    .get_ref()
                {
                    DeValue::Table(t) => locate(t, child, Some(i), here, span),
                    _ => None,
                }),
                _ => None,
            };
            if deeper.is_some() {
                return deeper;
            }
        }
        if contains(value.span()) || contains(k.span()) {
            return Some(Located {
                prefix: schema.prefix(&label),
                key,
                value_type: innermost_type(value, span),
            });
        }
    }
    None
}

/// The type of the innermost value containing `span`: the wrong element of a list, not the list.
fn innermost_type(value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> &'static str {
    let inner = match value.get_ref() {
        DeValue::Array(items) => items.iter().find(|v| v.span().contains(&span.start)),
        DeValue::Table(t) => t.values().find(|v| v.span().contains(&span.start)),
        _ => None,
    };
    match inner {
        Some(inner) => innermost_type(inner, span),
        None => value.get_ref().type_str(),
    }
}

fn article(type_str: &str) -> String {
    let name = match type_str {
        "array" => "list",
        other => other,
    };
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

/// Replaces every double-quoted part of a message with `"…"`.
fn scrub_quoted(message: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for (i, part) in message.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        if quoted {
            out.push('…');
        } else {
            out.push_str(part);
        }
        quoted = !quoted;
    }
    out.replace('\n', "; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captures the field names a derived `Deserialize` asks for.
    #[derive(Debug)]
    struct Fields(Vec<&'static str>);

    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    impl std::error::Error for Fields {}

    impl serde::de::Error for Fields {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Fields(Vec::new())
        }
    }

    struct FieldNames;

    impl<'de> serde::Deserializer<'de> for FieldNames {
        type Error = Fields;

        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(Vec::new()))
        }

        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields.to_vec()))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    fn fields_of<'de, T: Deserialize<'de>>() -> Vec<&'static str> {
        let mut fields = T::deserialize(FieldNames)
            .err()
            .map(|f| f.0)
            .unwrap_or_default();
        fields.sort_unstable();
        fields
    }

    fn keys_of(schema: &Schema) -> Vec<&'static str> {
        let mut keys: Vec<&str> = schema.keys.iter().map(|k| k.name).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn schema_matches_raw_structs() {
        assert_eq!(fields_of::<RawFile>(), keys_of(&TOP));
        assert_eq!(fields_of::<RawDaemon>(), keys_of(&DAEMON));
        assert_eq!(fields_of::<RawIntegration>(), keys_of(&INTEGRATION));
        assert_eq!(fields_of::<RawFlow>(), keys_of(&FLOW));
        assert_eq!(fields_of::<RawBundle>(), keys_of(&BUNDLE));
        assert_eq!(fields_of::<RawBundleEntry>(), keys_of(&BUNDLE_ENTRY));
        assert_eq!(fields_of::<RawNotification>(), keys_of(&NOTIFICATION));
    }

    #[test]
    fn every_kind_takes_known_keys_in_schema_order() {
        let all = keys_of(&INTEGRATION);
        let order: Vec<&str> = INTEGRATION.keys.iter().map(|k| k.name).collect();
        for (kind, keys) in KIND_KEYS {
            let mut last = None;
            for key in keys {
                assert!(all.contains(key), "{kind}: {key}");
                assert!(!COMMON_INTEGRATION_KEYS.contains(key), "{kind}: {key}");
                let at = order.iter().position(|k| k == key);
                assert!(at > last, "{kind}: {key} is out of schema order");
                last = at;
            }
        }
        // Every key is common or taken by some kind.
        for key in all {
            assert!(
                COMMON_INTEGRATION_KEYS.contains(&key)
                    || KIND_KEYS.iter().any(|(_, keys)| keys.contains(&key)),
                "{key} is taken by no kind"
            );
        }
    }

    #[test]
    fn scrub_removes_quoted_parts() {
        assert_eq!(
            scrub_quoted("invalid type: string \"secret\", expected u16"),
            "invalid type: string \"…\", expected u16"
        );
    }
}
