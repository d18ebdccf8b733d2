//! From the file as written to a valid [`Config`]: every rule, every problem reported at once.
//!
//! Each check reports a problem whenever it returns `None`, so a config is built only from a
//! file without problems.

mod bundle;
mod daemon;
mod exec;
mod flow;
mod host;
mod integration;
mod mariadb;
mod notification;
mod redis;
mod url;

use std::collections::HashMap;
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::Problems;
use crate::raw::{RawFile, Str, StrList};
use crate::suggest;
use crate::{Config, Principal, ResourceType};

/// A name and where it is written.
pub(crate) type Named = (String, Range<usize>);

/// An integration that flows and bundles may name, with its resource types if they could be
/// worked out.
pub(crate) struct KnownIntegration<'a> {
    pub name: &'a str,
    pub resource_types: Option<&'a [ResourceType]>,
    /// The resources it can grant, when its kind lists them (`None`: any, or its list is not
    /// valid, which is reported with it).
    pub resources: Option<&'a FixedResources>,
}

/// The resources an integration can grant when its kind lists them: a `unix-group`
/// integration's `groups`, a `sudo` one's `commands`, an `ssh` one's `principals`.
pub(crate) struct FixedResources {
    /// The key that lists them, which is also what they are called (`groups`).
    pub key: &'static str,
    /// The names, not empty.
    pub names: Vec<String>,
}

impl FixedResources {
    /// Checks a flow's resource pattern on integration `integration`: it must match one of them.
    pub(crate) fn pattern(&self, pattern: &str, integration: &str) -> Result<(), (String, String)> {
        if self
            .names
            .iter()
            .any(|name| crate::pattern_matches(pattern, name))
        {
            return Ok(());
        }
        Err((
            format!(
                "matches none of the {} of integration \"{integration}\"",
                self.key
            ),
            self.fix(pattern),
        ))
    }

    /// Checks a bundle's resource on integration `integration`: it must be one of them.
    pub(crate) fn name(&self, name: &str, integration: &str) -> Result<(), (String, String)> {
        if self.names.iter().any(|n| n == name) {
            return Ok(());
        }
        Err((
            format!(
                "is not one of the {} of integration \"{integration}\"",
                self.key
            ),
            self.fix(name),
        ))
    }

    fn fix(&self, written: &str) -> String {
        let hint = did_you_mean(written, self.names.iter().map(String::as_str));
        format!(
            "{hint}use one of: {} (or add it to the integration's {})",
            self.names.join(", "),
            self.key
        )
    }
}

/// The names of `known`, without repeats, for a fix: `pg-main, demo`.
fn integration_names(known: &[KnownIntegration<'_>]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for k in known {
        if !names.contains(&k.name) {
            names.push(k.name);
        }
    }
    names.join(", ")
}

/// Looks up an environment variable (`std::env::var_os`, or a fake in tests).
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// What every check needs: where to report, and how to reach the outside world.
pub(crate) struct Checker<'a> {
    pub problems: Problems<'a>,
    pub env: Env<'a>,
    /// The config file's directory, which relative `url_file` paths start from.
    pub base_dir: PathBuf,
}

/// Checks the whole file. `None` when there were problems (all of them are in `ck.problems`).
pub(crate) fn config(raw: RawFile, path: &Path, ck: &mut Checker<'_>) -> Option<Config> {
    let daemon = daemon::check(raw.daemon.as_ref(), ck);

    let checked: Vec<integration::Checked> = raw
        .integrations
        .iter()
        .enumerate()
        .map(|(i, r)| integration::check(r, i, ck))
        .collect();
    unique_names(
        "integration",
        checked.iter().filter_map(|c| c.name.as_ref()),
        ck,
    );
    let known: Vec<KnownIntegration<'_>> = checked
        .iter()
        .filter_map(|c| {
            let (name, _) = c.name.as_ref()?;
            Some(KnownIntegration {
                name,
                resource_types: c.resource_types.as_deref(),
                resources: c.resources.as_ref(),
            })
        })
        .collect();

    let bundles: Vec<(Option<Named>, Option<crate::Bundle>)> = raw
        .bundles
        .iter()
        .enumerate()
        .map(|(i, r)| bundle::check(r, i, &known, ck))
        .collect();
    unique_names("bundle", bundles.iter().filter_map(|b| b.0.as_ref()), ck);
    let mut bundle_names: Vec<&str> = Vec::new();
    for (name, _) in bundles.iter().filter_map(|b| b.0.as_ref()) {
        if !bundle_names.contains(&name.as_str()) {
            bundle_names.push(name);
        }
    }

    let flows: Vec<(Option<Named>, Option<crate::Flow>)> = raw
        .flows
        .iter()
        .enumerate()
        .map(|(i, r)| flow::check(r, i, &known, &bundle_names, ck))
        .collect();
    unique_names("flow", flows.iter().filter_map(|f| f.0.as_ref()), ck);

    let channels: Vec<(Option<Named>, Option<crate::Channel>)> = raw
        .notifications
        .iter()
        .enumerate()
        .map(|(i, r)| notification::check(r, i, ck))
        .collect();
    unique_names(
        "notification channel",
        channels.iter().filter_map(|c| c.0.as_ref()),
        ck,
    );
    let channel_names: Vec<(Named, bool)> = channels
        .iter()
        .zip(&raw.notifications)
        .filter_map(|((name, _), r)| {
            let global = r.get_ref().global.as_ref().is_some_and(|g| *g.get_ref());
            Some((name.clone()?, global))
        })
        .collect();
    let flow_channels = notification::flow_channels(&raw.flows, &channel_names, ck);

    let integrations: Option<Vec<_>> = checked.into_iter().map(|c| c.integration).collect();
    let flows: Option<Vec<_>> = flows
        .into_iter()
        .zip(flow_channels)
        .map(|((_, flow), channels)| {
            let mut flow = flow?;
            flow.channels = channels?;
            Some(flow)
        })
        .collect();
    let notifications: Option<Vec<_>> = channels.into_iter().map(|c| c.1).collect();
    let bundles: Option<Vec<_>> = bundles.into_iter().map(|b| b.1).collect();
    if !ck.problems.is_empty() {
        return None;
    }
    Some(Config {
        path: path.to_owned(),
        digest: String::new(),
        daemon: daemon?,
        integrations: integrations?,
        flows: flows?,
        bundles: bundles?,
        notifications: notifications?,
    })
}

/// Reports every name used before, at the later use.
fn unique_names<'n>(entry: &str, names: impl Iterator<Item = &'n Named>, ck: &mut Checker<'_>) {
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for (name, span) in names {
        match first_line.get(name.as_str()) {
            Some(line) => ck.problems.at(
                span,
                format!("{entry} name \"{name}\" is already used on line {line}"),
                format!("give each {entry} its own name"),
            ),
            None => {
                first_line.insert(name, ck.problems.line(span.start));
            }
        }
    }
}

/// Checks the `name` of an integration, bundle or flow: `[a-z0-9][a-z0-9_-]{0,62}`.
fn name(
    raw: Option<&Str>,
    table_span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Named> {
    let Some(raw) = raw else {
        ck.problems.at(
            table_span,
            format!("{label} has no name"),
            "add name = \"...\" (lower-case letters, digits, \"-\" and \"_\")",
        );
        return None;
    };
    let value = raw.get_ref();
    if !is_name(value) {
        ck.problems.at(
            &raw.span(),
            format!(
                "{label}: name \"{}\" is not a valid name",
                suggest::clip(value)
            ),
            NAME_RULE,
        );
        return None;
    }
    Some((value.clone(), raw.span()))
}

/// The fix for a bad name.
const NAME_RULE: &str =
    "use 1 to 63 lower-case letters, digits, \"-\" and \"_\", starting with a letter or digit";

/// Whether `s` matches `[a-z0-9][a-z0-9_-]{0,62}`: the names of integrations, bundles, flows,
/// resource types and permissions.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Checks a list of principals (`alice`, `%dev`, `*`), dropping repeats. An empty list is
/// returned as such: whether it is allowed depends on the key.
fn principals(
    list: &StrList,
    key: &str,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Vec<Principal>> {
    let mut out: Vec<Principal> = Vec::new();
    let mut ok = true;
    for item in list.get_ref() {
        match principal(item.get_ref()) {
            Ok(p) => {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            Err(why) => {
                ok = false;
                ck.problems.at(
                    &item.span(),
                    format!(
                        "{label}: {key} entry \"{}\" {why}",
                        suggest::clip(item.get_ref())
                    ),
                    "write a user name (\"alice\"), a group (\"%dev\"), or \"*\" for anyone",
                );
            }
        }
    }
    ok.then_some(out)
}

/// Parses one principal, or says what is wrong with it.
fn principal(s: &str) -> Result<Principal, &'static str> {
    if s == "*" {
        return Ok(Principal::Anyone);
    }
    let (group, name) = match s.strip_prefix('%') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if name.trim().is_empty() {
        return Err(if group { "names no group" } else { "is empty" });
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains white space");
    }
    if name.contains('*') {
        return Err("has a wildcard; only \"*\" alone (anyone) is allowed");
    }
    if name.contains(['%', ':', '/']) {
        return Err("contains a character not allowed in user and group names");
    }
    Ok(if group {
        Principal::Group(name.to_owned())
    } else {
        Principal::User(name.to_owned())
    })
}

/// Checks a non-empty list of plain strings, dropping repeats. `item` names one entry in
/// messages ("permission"); `valid` says what is wrong with an entry and how to fix it. For a
/// key with a default, which may be removed instead.
fn strings(
    list: &StrList,
    key: &str,
    item: &str,
    label: &str,
    valid: impl Fn(&str) -> Result<(), (String, String)>,
    ck: &mut Checker<'_>,
) -> Option<Vec<String>> {
    let empty_fix = format!("list at least one, or remove {key} to use its default");
    required_strings(list, key, item, label, &empty_fix, valid, ck)
}

/// [`strings`] for a key without a default: `empty_fix` says what to do about an empty list.
fn required_strings(
    list: &StrList,
    key: &str,
    item: &str,
    label: &str,
    empty_fix: &str,
    valid: impl Fn(&str) -> Result<(), (String, String)>,
    ck: &mut Checker<'_>,
) -> Option<Vec<String>> {
    if list.get_ref().is_empty() {
        ck.problems.at(
            &list.span(),
            format!("{label}: {key} is an empty list"),
            empty_fix,
        );
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for entry in list.get_ref() {
        let value = entry.get_ref();
        if let Err((why, fix)) = valid(value) {
            ok = false;
            ck.problems.at(
                &entry.span(),
                format!("{label}: {item} \"{}\" {why}", suggest::clip(value)),
                fix,
            );
        } else if !out.contains(value) {
            out.push(value.clone());
        }
    }
    ok.then_some(out)
}

/// An optional `message`: trimmed, and not empty.
fn message(raw: Option<&Str>, label: &str, ck: &mut Checker<'_>) -> Option<Option<String>> {
    match raw {
        Some(m) if m.get_ref().trim().is_empty() => {
            ck.problems.at(
                &m.span(),
                format!("{label}: message is empty"),
                "write the message to show with every grant, or remove message",
            );
            None
        }
        Some(m) => Some(Some(m.get_ref().trim().to_owned())),
        None => Some(None),
    }
}

/// `"did you mean \"x\"? "` when `word` looks like a typo of one of `candidates`, else nothing.
fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match suggest::closest(word, candidates) {
        Some(close) => format!("did you mean \"{close}\"? "),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_parse() {
        assert_eq!(principal("alice"), Ok(Principal::User("alice".into())));
        assert_eq!(principal("%dev"), Ok(Principal::Group("dev".into())));
        assert_eq!(principal("*"), Ok(Principal::Anyone));
        assert_eq!(
            principal("alice@corp"),
            Ok(Principal::User("alice@corp".into()))
        );
        for bad in ["", " ", "%", "% ", "al ice", "a*", "%*", "a:b", "%a%b"] {
            assert!(principal(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        for good in ["pg-main", "demo", "0", "a_b-c", &"a".repeat(63)] {
            assert!(is_name(good), "{good:?}");
        }
        for bad in ["", "-a", "_a", "Pg", "pg main", "pg.main", &"a".repeat(64)] {
            assert!(!is_name(bad), "{bad:?}");
        }
    }
}
