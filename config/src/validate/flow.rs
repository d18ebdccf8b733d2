//! One `[[flows]]` entry: who may request what, how it is approved, for how long.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::{Checker, Named, name, principals, strings};
use crate::raw::{RawFlow, entry_label};
use crate::{Approval, Flow, Justification, Principal, ResourceType, duration, suggest};

/// `default_duration` when the file gives none (or `max_duration`, if that is shorter).
const DEFAULT_DURATION: Duration = Duration::from_secs(60 * 60);

/// An integration a flow may name, with its resource types if they could be worked out.
pub(super) struct KnownIntegration<'a> {
    pub name: &'a str,
    pub resource_types: Option<&'a [ResourceType]>,
}

/// Checks one flow; `index` is its place among the `[[flows]]`. Returns its name (for the
/// uniqueness check) and the flow, if it is valid.
pub(super) fn check(
    raw: &Spanned<RawFlow>,
    index: usize,
    known: &[KnownIntegration<'_>],
    ck: &mut Checker<'_>,
) -> (Option<Named>, Option<Flow>) {
    let span = raw.span();
    let raw = raw.get_ref();
    let label = entry_label(
        "flow",
        raw.name.as_ref().map(|n| n.get_ref().as_str()),
        index,
    );
    let name = name(raw.name.as_ref(), &span, &label, ck);

    let requesters = match &raw.requesters {
        None => {
            ck.problems.at(
                &span,
                format!("{label} has no requesters"),
                "add requesters = [...] with users (\"alice\"), groups (\"%dev\") or \"*\" for anyone",
            );
            None
        }
        Some(list) if list.get_ref().is_empty() => {
            ck.problems.at(
                &list.span(),
                format!("{label}: requesters is an empty list"),
                "list users (\"alice\"), groups (\"%dev\") or \"*\" for anyone",
            );
            None
        }
        Some(list) => principals(list, "requesters", &label, ck),
    };

    let Covers {
        integration,
        resource_types: types,
        permissions,
    } = covers(raw, &span, &label, known, ck);
    let resources = match &raw.resources {
        Some(list) => strings(
            list,
            "resources",
            "resource pattern",
            &label,
            resource_pattern,
            ck,
        ),
        None => Some(vec!["*".to_owned()]),
    };
    let approval = approval(raw, &label, ck);
    let (default_duration, max_duration) = durations(raw, &span, &label, ck);
    let (justification, justification_pattern) = justification(raw, &label, ck);

    let pending_ttl = match &raw.pending_ttl {
        Some(v) => {
            let ttl = duration::parse(v, "pending_ttl", &label, &mut ck.problems);
            if approval == Some(Approval::Auto) {
                ck.problems.at(
                    &v.span(),
                    format!("{label} is approved automatically, so its requests never wait and pending_ttl has no effect"),
                    "remove pending_ttl, or set approval = \"manual\" with approvers",
                );
                None
            } else {
                ttl.map(Some)
            }
        }
        None => Some(None),
    };

    let flow = (|| {
        Some(Flow {
            name: name.as_ref()?.0.clone(),
            requesters: requesters?,
            integration: integration?,
            resource_types: types?,
            resources: resources?,
            permissions: permissions?,
            approval: approval?,
            default_duration: default_duration?,
            max_duration: max_duration?,
            justification: justification?,
            justification_pattern: justification_pattern?,
            pending_ttl: pending_ttl?,
        })
    })();
    (name, flow)
}

/// The integration, resource types and permissions a flow covers (`None`: not valid).
#[derive(Default)]
struct Covers {
    integration: Option<String>,
    resource_types: Option<Vec<String>>,
    permissions: Option<Vec<String>>,
}

/// Works out what a flow covers.
fn covers(
    raw: &RawFlow,
    span: &Range<usize>,
    label: &str,
    known: &[KnownIntegration<'_>],
    ck: &mut Checker<'_>,
) -> Covers {
    let names = || {
        let mut names: Vec<&str> = Vec::new();
        for k in known {
            if !names.contains(&k.name) {
                names.push(k.name);
            }
        }
        names.join(", ")
    };
    let Some(integration) = &raw.integration else {
        let fix = if known.is_empty() {
            "add an [[integrations]] entry, and integration = \"its name\" here".to_owned()
        } else {
            format!("add integration = \"...\", one of: {}", names())
        };
        ck.problems
            .at(span, format!("{label} names no integration"), fix);
        return Covers::default();
    };
    let Some(target) = known.iter().find(|k| k.name == integration.get_ref()) else {
        let fix = if known.is_empty() {
            "add an [[integrations]] entry with that name".to_owned()
        } else {
            format!("use one of: {}", names())
        };
        ck.problems.at(
            &integration.span(),
            format!(
                "{label} names integration \"{}\", which is not configured",
                suggest::clip(integration.get_ref())
            ),
            fix,
        );
        return Covers::default();
    };
    let integration_name = integration.get_ref().clone();
    // The integration's own problems are reported with it; nothing more to check against.
    let Some(offered) = target.resource_types else {
        return Covers {
            integration: Some(integration_name),
            ..Covers::default()
        };
    };

    let types: Option<Vec<&ResourceType>> = match &raw.resource_types {
        None => Some(offered.iter().collect()),
        Some(list) => {
            let offered_names = || {
                offered
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            strings(
                list,
                "resource_types",
                "resource type",
                label,
                |t| {
                    if offered.iter().any(|o| o.name == t) {
                        Ok(())
                    } else {
                        Err((
                            format!("is not a resource type of integration \"{integration_name}\""),
                            format!("use one of: {}", offered_names()),
                        ))
                    }
                },
                ck,
            )
            .map(|list| {
                list.iter()
                    .filter_map(|t| offered.iter().find(|o| &o.name == t))
                    .collect()
            })
        }
    };
    let Some(types) = types else {
        return Covers {
            integration: Some(integration_name),
            ..Covers::default()
        };
    };

    let mut allowed: Vec<&str> = Vec::new();
    for p in types.iter().flat_map(|t| &t.permissions) {
        if !allowed.contains(&p.as_str()) {
            allowed.push(p);
        }
    }
    let permissions = match &raw.permissions {
        None => Some(allowed.iter().map(|p| (*p).to_owned()).collect()),
        Some(list) => {
            let type_names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
            let of = match type_names.as_slice() {
                [one] => format!("resource type {one}"),
                many => format!("resource types {}", many.join(", ")),
            };
            strings(
                list,
                "permissions",
                "permission",
                label,
                |p| {
                    if allowed.contains(&p) {
                        Ok(())
                    } else {
                        Err((
                            format!("is not a permission of {of}"),
                            format!("use one of: {}", allowed.join(", ")),
                        ))
                    }
                },
                ck,
            )
        }
    };
    let types = types.iter().map(|t| t.name.clone()).collect();
    Covers {
        integration: Some(integration_name),
        resource_types: Some(types),
        permissions,
    }
}

/// Checks one resource pattern.
fn resource_pattern(pattern: &str) -> Result<(), (String, String)> {
    let why = if pattern.trim().is_empty() {
        "is empty"
    } else if pattern.chars().any(char::is_control) {
        "contains control characters"
    } else if pattern.len() > 255 {
        "is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err((
        why.to_owned(),
        "write a resource name, a pattern like \"report_*\", or \"*\" for all".to_owned(),
    ))
}

/// `approval`, `approvers` and `approvals_required`.
fn approval(raw: &RawFlow, label: &str, ck: &mut Checker<'_>) -> Option<Approval> {
    let manual = match &raw.approval {
        // Manual when approvers are named, else automatic.
        None => raw.approvers.is_some(),
        Some(a) => match a.get_ref().as_str() {
            "manual" => true,
            "auto" => false,
            other => {
                let hint = match suggest::closest(other, ["auto", "manual"]) {
                    Some(close) => format!("did you mean \"{close}\"? "),
                    None => String::new(),
                };
                ck.problems.at(
                    &a.span(),
                    format!(
                        "{label}: approval \"{}\" is not auto or manual",
                        suggest::clip(other)
                    ),
                    format!("{hint}use \"auto\" or \"manual\""),
                );
                return None;
            }
        },
    };

    if !manual {
        let mut ok = true;
        for (key, span) in [
            ("approvers", raw.approvers.as_ref().map(Spanned::span)),
            (
                "approvals_required",
                raw.approvals_required.as_ref().map(Spanned::span),
            ),
        ] {
            if let Some(span) = span {
                ok = false;
                ck.problems.at(
                    &span,
                    format!("{label} is approved automatically, so {key} has no effect"),
                    format!("remove {key}, or set approval = \"manual\""),
                );
            }
        }
        return ok.then_some(Approval::Auto);
    }

    let approval_span = raw.approval.as_ref().map(Spanned::span);
    let approvers = match &raw.approvers {
        None => {
            ck.problems.at(
                &approval_span.unwrap_or_default(),
                format!("{label} is approved manually but names no approvers"),
                "add approvers = [...] with users (\"alice\") or groups (\"%dba\"), or set approval = \"auto\"",
            );
            None
        }
        Some(list) if list.get_ref().is_empty() => {
            ck.problems.at(
                &list.span(),
                format!("{label}: approvers is an empty list"),
                "list users (\"alice\") or groups (\"%dba\") who may approve, or set approval = \"auto\"",
            );
            None
        }
        Some(list) => principals(list, "approvers", label, ck),
    };

    let required = match &raw.approvals_required {
        None => Some(1),
        Some(n) => match u32::try_from(*n.get_ref()) {
            Ok(n) if n >= 1 => {
                // Only users can be counted; a group or "*" may hold any number of people.
                let users = approvers
                    .as_ref()
                    .filter(|list| list.iter().all(|p| matches!(p, Principal::User(_))));
                match users {
                    Some(users) if users.len() < n as usize => {
                        ck.problems.at(
                            &raw.approvals_required
                                .as_ref()
                                .map(Spanned::span)
                                .unwrap_or_default(),
                            format!(
                                "{label} needs {n} approvals but names only {} approvers",
                                users.len()
                            ),
                            format!(
                                "lower approvals_required to at most {}, or add approvers",
                                users.len()
                            ),
                        );
                        None
                    }
                    _ => Some(n),
                }
            }
            _ => {
                ck.problems.at(
                    &n.span(),
                    format!(
                        "{label}: approvals_required {} is not a positive number",
                        n.get_ref()
                    ),
                    "use a whole number of at least 1 (the default)",
                );
                None
            }
        },
    };

    Some(Approval::Manual {
        approvers: approvers?,
        required: required?,
    })
}

/// `default_duration` and `max_duration`.
fn durations(
    raw: &RawFlow,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> (Option<Duration>, Option<Duration>) {
    let max = match &raw.max_duration {
        Some(v) => duration::parse(v, "max_duration", label, &mut ck.problems),
        None => {
            ck.problems.at(
                span,
                format!("{label} has no max_duration"),
                "add max_duration = \"4h\" (the longest access this flow grants)",
            );
            None
        }
    };
    let default = match &raw.default_duration {
        Some(v) => {
            let default = duration::parse(v, "default_duration", label, &mut ck.problems);
            match (default, max) {
                (Some(d), Some(m)) if d > m => {
                    ck.problems.at(
                        &v.span(),
                        format!(
                            "{label}: default_duration {} is longer than max_duration {}",
                            duration::format(d),
                            duration::format(m)
                        ),
                        format!(
                            "lower default_duration to at most {}, or raise max_duration",
                            duration::format(m)
                        ),
                    );
                    None
                }
                _ => default,
            }
        }
        None => max.map(|m| m.min(DEFAULT_DURATION)),
    };
    (default, max)
}

/// `justification` and `justification_pattern`.
fn justification(
    raw: &RawFlow,
    label: &str,
    ck: &mut Checker<'_>,
) -> (Option<Justification>, Option<Option<regex::Regex>>) {
    let pattern = match &raw.justification_pattern {
        None => Some(None),
        Some(p) if p.get_ref().is_empty() => {
            ck.problems.at(
                &p.span(),
                format!("{label}: justification_pattern is empty"),
                "write a regular expression like \"INC-[0-9]+\", or remove justification_pattern",
            );
            None
        }
        Some(p) => match regex::Regex::new(p.get_ref()) {
            Ok(re) => Some(Some(re)),
            Err(error) => {
                ck.problems.at(
                    &p.span(),
                    format!(
                        "{label}: justification_pattern is not a valid regular expression: {}",
                        regex_reason(&error)
                    ),
                    "correct the expression (syntax: https://docs.rs/regex/latest/regex/#syntax)",
                );
                None
            }
        },
    };
    let justification = match &raw.justification {
        None if raw.justification_pattern.is_some() => Some(Justification::Required),
        None => Some(Justification::Optional),
        Some(j) => match j.get_ref().as_str() {
            "required" => Some(Justification::Required),
            "optional" if raw.justification_pattern.is_some() => {
                ck.problems.at(
                    &j.span(),
                    format!("{label}: justification is optional, but justification_pattern requires one"),
                    "remove justification (a pattern makes it required), or remove justification_pattern",
                );
                None
            }
            "optional" => Some(Justification::Optional),
            other => {
                let hint = match suggest::closest(other, ["required", "optional"]) {
                    Some(close) => format!("did you mean \"{close}\"? "),
                    None => String::new(),
                };
                ck.problems.at(
                    &j.span(),
                    format!(
                        "{label}: justification \"{}\" is not required or optional",
                        suggest::clip(other)
                    ),
                    format!("{hint}use \"required\" or \"optional\""),
                );
                None
            }
        },
    };
    (justification, pattern)
}

/// The regex crate's error on one line: its last line says what is wrong.
fn regex_reason(error: &regex::Error) -> String {
    match error {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or(text)
            .trim()
            .trim_start_matches("error: ")
            .to_owned(),
        other => other.to_string(),
    }
}
