//! One `[[flows]]` entry: who may request what (from one integration, or whole bundles), how it
//! is approved, for how long, how it may be extended.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::{
    Checker, KnownIntegration, Named, did_you_mean, integration_names, name, principals,
    required_strings, strings,
};
use crate::raw::{RawFlow, Str, StrList, entry_label};
use crate::{
    Approval, ExtensionApproval, Flow, Justification, Principal, ResourceType, duration, suggest,
};

/// `default_duration` when the file gives none (or `max_duration`, if that is shorter).
const DEFAULT_DURATION: Duration = Duration::from_secs(60 * 60);

/// Checks one flow; `index` is its place among the `[[flows]]`, `bundles` the names of the
/// configured bundles. Returns its name (for the uniqueness check) and the flow, if it is valid.
pub(super) fn check(
    raw: &Spanned<RawFlow>,
    index: usize,
    known: &[KnownIntegration<'_>],
    bundles: &[&str],
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
        bundles,
        resource_types: types,
        resources,
        permissions,
    } = covers(raw, &span, &label, known, bundles, ck);
    let break_glass = raw.break_glass.as_ref().is_some_and(|b| *b.get_ref());
    let approval = approval(raw, &label, ck);
    let (default_duration, max_duration) = durations(raw, &span, &label, ck);
    let has_approvers = approval.as_ref().map(|(approval, notify)| match approval {
        Approval::Manual { .. } => true,
        Approval::Auto => !notify.is_empty(),
    });
    let Extensions {
        max_extensions,
        max_total_duration,
        extension_approval,
    } = extensions(raw, &label, max_duration, has_approvers, ck);
    let (justification, justification_pattern) = justification(raw, &label, ck);

    let pending_ttl = match &raw.pending_ttl {
        Some(v) => {
            let ttl = duration::parse(v, "pending_ttl", &label, &mut ck.problems);
            if break_glass {
                ck.problems.at(
                    &v.span(),
                    format!("{label} is break-glass, so its requests are granted at once and pending_ttl has no effect"),
                    "remove pending_ttl",
                );
                None
            } else if matches!(approval, Some((Approval::Auto, _))) {
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
        let (approval, notify) = approval?;
        Some(Flow {
            name: name.as_ref()?.0.clone(),
            requesters: requesters?,
            integration: integration?,
            bundles: bundles?,
            resource_types: types?,
            resources: resources?,
            permissions: permissions?,
            approval,
            break_glass,
            notify,
            channels: Vec::new(),
            default_duration: default_duration?,
            max_duration: max_duration?,
            max_extensions: max_extensions?,
            max_total_duration: max_total_duration?,
            extension_approval: extension_approval?,
            justification: justification?,
            justification_pattern: justification_pattern?,
            pending_ttl: pending_ttl?,
        })
    })();
    (name, flow)
}

/// What a flow covers: one integration with resource types, resources and permissions, or
/// bundles (`None`: not valid).
#[derive(Default)]
struct Covers {
    integration: Option<Option<String>>,
    bundles: Option<Vec<String>>,
    resource_types: Option<Vec<String>>,
    resources: Option<Vec<String>>,
    permissions: Option<Vec<String>>,
}

/// Works out what a flow covers: `integration` or `bundles`, exactly one of them.
fn covers(
    raw: &RawFlow,
    span: &Range<usize>,
    label: &str,
    known: &[KnownIntegration<'_>],
    bundles: &[&str],
    ck: &mut Checker<'_>,
) -> Covers {
    match (&raw.integration, &raw.bundles) {
        (Some(integration), Some(list)) => {
            // Point at whichever comes second.
            let later = if integration.span().start > list.span().start {
                integration.span()
            } else {
                list.span()
            };
            ck.problems.at(
                &later,
                format!("{label} names both an integration and bundles"),
                "keep integration (to grant from one integration) or bundles (to grant whole bundles), not both; make two flows for both",
            );
            Covers::default()
        }
        (None, None) => {
            if let Some(list) = &raw.resources {
                strings(
                    list,
                    "resources",
                    "resource pattern",
                    label,
                    resource_pattern,
                    ck,
                );
            }
            let fix = if bundles.is_empty() {
                if known.is_empty() {
                    "add an [[integrations]] entry, and integration = \"its name\" here".to_owned()
                } else {
                    format!(
                        "add integration = \"...\", one of: {}",
                        integration_names(known)
                    )
                }
            } else {
                let integrations = if known.is_empty() {
                    String::new()
                } else {
                    format!(
                        "add integration = \"...\", one of: {}; or ",
                        integration_names(known)
                    )
                };
                format!(
                    "{integrations}add bundles = [\"...\"], from: {}",
                    bundles.join(", ")
                )
            };
            let message = if bundles.is_empty() {
                format!("{label} names no integration")
            } else {
                format!("{label} names no integration and no bundles")
            };
            ck.problems.at(span, message, fix);
            Covers::default()
        }
        (None, Some(list)) => bundle_flow(raw, list, label, bundles, ck),
        (Some(integration), None) => integration_flow(raw, integration, label, known, ck),
    }
}

/// What a bundle flow covers: its `bundles`, which must be configured. The keys that choose
/// from an integration mean nothing here.
fn bundle_flow(
    raw: &RawFlow,
    list: &StrList,
    label: &str,
    bundles: &[&str],
    ck: &mut Checker<'_>,
) -> Covers {
    let mut ok = true;
    for (key, span) in [
        (
            "resource_types",
            raw.resource_types.as_ref().map(Spanned::span),
        ),
        ("resources", raw.resources.as_ref().map(Spanned::span)),
        ("permissions", raw.permissions.as_ref().map(Spanned::span)),
    ] {
        if let Some(span) = span {
            ok = false;
            ck.problems.at(
                &span,
                format!("{label} grants bundles, which takes no {key}"),
                format!("a bundle flow grants the bundle's entries; remove {key}"),
            );
        }
    }
    let empty_fix = if bundles.is_empty() {
        "add a [[bundles]] entry, and name it here".to_owned()
    } else {
        format!("name at least one bundle, from: {}", bundles.join(", "))
    };
    let names = required_strings(
        list,
        "bundles",
        "bundle",
        label,
        &empty_fix,
        |b| {
            if bundles.contains(&b) {
                Ok(())
            } else if bundles.is_empty() {
                Err((
                    "is not configured".to_owned(),
                    "add a [[bundles]] entry with that name".to_owned(),
                ))
            } else {
                Err((
                    "is not configured".to_owned(),
                    format!(
                        "{}use one of: {}",
                        did_you_mean(b, bundles.iter().copied()),
                        bundles.join(", ")
                    ),
                ))
            }
        },
        ck,
    );
    if !ok {
        return Covers::default();
    }
    Covers {
        integration: Some(None),
        bundles: names,
        resource_types: Some(Vec::new()),
        resources: Some(Vec::new()),
        permissions: Some(Vec::new()),
    }
}

/// What an integration flow covers: the integration, and the resource types, resources and
/// permissions it allows (all of them by default).
fn integration_flow(
    raw: &RawFlow,
    integration: &Str,
    label: &str,
    known: &[KnownIntegration<'_>],
    ck: &mut Checker<'_>,
) -> Covers {
    let target = known.iter().find(|k| k.name == integration.get_ref());
    // On an integration that lists its resources, each pattern must match one of them.
    let fixed = target.and_then(|t| t.resources);
    let resources = match &raw.resources {
        Some(list) => strings(
            list,
            "resources",
            "resource pattern",
            label,
            |p| {
                resource_pattern(p)?;
                match fixed {
                    Some(fixed) => fixed.pattern(p, integration.get_ref()),
                    None => Ok(()),
                }
            },
            ck,
        ),
        None => Some(vec!["*".to_owned()]),
    };
    let Some(target) = target else {
        let fix = if known.is_empty() {
            "add an [[integrations]] entry with that name".to_owned()
        } else {
            format!("use one of: {}", integration_names(known))
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
    let partial = Covers {
        integration: Some(Some(integration_name.clone())),
        bundles: Some(Vec::new()),
        resources,
        ..Covers::default()
    };
    // The integration's own problems are reported with it; nothing more to check against.
    let Some(offered) = target.resource_types else {
        return partial;
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
        return partial;
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
        resource_types: Some(types),
        permissions,
        ..partial
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

/// `"auto"` or `"manual"` (`Some(true)`: manual), for `approval` and `extension_approval`.
fn auto_or_manual(value: &Str, key: &str, label: &str, ck: &mut Checker<'_>) -> Option<bool> {
    match value.get_ref().as_str() {
        "manual" => Some(true),
        "auto" => Some(false),
        other => {
            let hint = did_you_mean(other, ["auto", "manual"]);
            ck.problems.at(
                &value.span(),
                format!(
                    "{label}: {key} \"{}\" is not auto or manual",
                    suggest::clip(other)
                ),
                format!("{hint}use \"auto\" or \"manual\""),
            );
            None
        }
    }
}

/// `approval`, `approvers`, `approvals_required` and `break_glass`: how the flow approves, and
/// whom a break-glass grant is told to (empty for other flows).
fn approval(
    raw: &RawFlow,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<(Approval, Vec<Principal>)> {
    if let Some(break_glass) = raw.break_glass.as_ref().filter(|b| *b.get_ref()) {
        return break_glass_approval(raw, break_glass.span(), label, ck)
            .map(|notify| (Approval::Auto, notify));
    }
    let manual = match &raw.approval {
        // Manual when approvers are named, else automatic.
        None => raw.approvers.is_some(),
        Some(a) => auto_or_manual(a, "approval", label, ck)?,
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
        return ok.then_some((Approval::Auto, Vec::new()));
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

    Some((
        Approval::Manual {
            approvers: approvers?,
            required: required?,
        },
        Vec::new(),
    ))
}

/// The approval keys of a break-glass flow: granted at once, so no manual approval and no
/// `approvals_required`; its `approvers` (required) are the people told. Returns them.
fn break_glass_approval(
    raw: &RawFlow,
    break_glass: Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Vec<Principal>> {
    let mut ok = true;
    if let Some(a) = &raw.approval {
        match auto_or_manual(a, "approval", label, ck) {
            Some(false) => {}
            Some(true) => {
                ok = false;
                ck.problems.at(
                    &a.span(),
                    format!("{label} is break-glass, so it is granted at once and cannot be approved manually"),
                    "remove approval (break-glass flows are approved automatically; their approvers are told), or remove break_glass",
                );
            }
            None => ok = false,
        }
    }
    if let Some(n) = &raw.approvals_required {
        ok = false;
        ck.problems.at(
            &n.span(),
            format!(
                "{label} is break-glass, so nobody approves and approvals_required has no effect"
            ),
            "remove approvals_required",
        );
    }
    let tell = "the users (\"alice\") or groups (\"%security\") to tell when it is used; they are told, not asked";
    let notify = match &raw.approvers {
        None => {
            ck.problems.at(
                &break_glass,
                format!("{label} is break-glass but names no approvers to tell"),
                format!("add approvers = [...] with {tell}"),
            );
            None
        }
        Some(list) if list.get_ref().is_empty() => {
            ck.problems.at(
                &list.span(),
                format!("{label}: approvers is an empty list"),
                format!("list {tell}"),
            );
            None
        }
        Some(list) => principals(list, "approvers", label, ck),
    };
    if ok { notify } else { None }
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

/// The extension keys of a flow (`None`: not valid).
struct Extensions {
    max_extensions: Option<u32>,
    max_total_duration: Option<Duration>,
    extension_approval: Option<ExtensionApproval>,
}

/// `max_extensions`, `max_total_duration` and `extension_approval`. `max_duration` is the
/// flow's (if valid); `has_approvers` whether it names approvers (if known).
fn extensions(
    raw: &RawFlow,
    label: &str,
    max_duration: Option<Duration>,
    has_approvers: Option<bool>,
    ck: &mut Checker<'_>,
) -> Extensions {
    let max_extensions = match &raw.max_extensions {
        None => Some(0),
        Some(n) => match u32::try_from(*n.get_ref()) {
            Ok(n) => Some(n),
            Err(_) => {
                ck.problems.at(
                    &n.span(),
                    format!(
                        "{label}: max_extensions {} is not a whole number of 0 or more",
                        n.get_ref()
                    ),
                    "use 0 (extending is not allowed, the default) or more, like 2",
                );
                None
            }
        },
    };
    let allow = "allow extensions with max_extensions = 1 or more";

    let max_total_duration = match (&raw.max_total_duration, max_extensions) {
        (Some(v), Some(0)) => {
            ck.problems.at(
                &v.span(),
                format!("{label} allows no extensions (max_extensions is 0), so max_total_duration has no effect"),
                format!("remove max_total_duration, or {allow}"),
            );
            None
        }
        (Some(v), _) => {
            let total = duration::parse(v, "max_total_duration", label, &mut ck.problems);
            match (total, max_duration) {
                (Some(total), Some(max)) if total < max => {
                    ck.problems.at(
                        &v.span(),
                        format!(
                            "{label}: max_total_duration {} is shorter than max_duration {}",
                            duration::format(total),
                            duration::format(max)
                        ),
                        format!(
                            "raise max_total_duration to at least {}, or lower max_duration",
                            duration::format(max)
                        ),
                    );
                    None
                }
                (Some(total), Some(_)) => Some(total),
                _ => None,
            }
        }
        // The initial grant and each extension at their longest, within the bound of every
        // duration.
        (None, Some(n)) => max_duration.map(|max| {
            max.saturating_mul(n.saturating_add(1))
                .min(duration::MAX)
                .max(max)
        }),
        (None, None) => None,
    };

    let extension_approval = match &raw.extension_approval {
        None => Some(ExtensionApproval::Auto),
        Some(v) if max_extensions == Some(0) => {
            ck.problems.at(
                &v.span(),
                format!("{label} allows no extensions (max_extensions is 0), so extension_approval has no effect"),
                format!("remove extension_approval, or {allow}"),
            );
            None
        }
        Some(v) => match auto_or_manual(v, "extension_approval", label, ck) {
            Some(false) => Some(ExtensionApproval::Auto),
            Some(true) if has_approvers == Some(false) => {
                ck.problems.at(
                    &v.span(),
                    format!("{label}: extension_approval is manual, but the flow names no approvers to ask"),
                    "use extension_approval = \"auto\", or give the flow approvers (approval = \"manual\" with approvers = [...])",
                );
                None
            }
            Some(true) => Some(ExtensionApproval::Manual),
            None => None,
        },
    };

    Extensions {
        max_extensions,
        max_total_duration,
        extension_approval,
    }
}

/// `justification` and `justification_pattern` (and `break_glass`, which requires one).
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
    let break_glass = raw.break_glass.as_ref().is_some_and(|b| *b.get_ref());
    let justification = match &raw.justification {
        None if raw.justification_pattern.is_some() || break_glass => Some(Justification::Required),
        None => Some(Justification::Optional),
        Some(j) => match j.get_ref().as_str() {
            "required" => Some(Justification::Required),
            "optional" if break_glass => {
                ck.problems.at(
                    &j.span(),
                    format!("{label} is break-glass, so a justification is required"),
                    "remove justification (break-glass makes it required), or remove break_glass",
                );
                None
            }
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
                let hint = did_you_mean(other, ["required", "optional"]);
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
