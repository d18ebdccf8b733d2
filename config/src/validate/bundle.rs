//! One `[[bundles]]` entry: a named set of grants over integrations, with its
//! `[[bundles.entries]]`.

use std::ops::Range;

use toml::Spanned;

use super::{
    Checker, KnownIntegration, Named, did_you_mean, integration_names, message, name,
    required_strings,
};
use crate::raw::{RawBundle, RawBundleEntry, entry_label};
use crate::{Bundle, BundleEntry, ResourceType, suggest};

/// The most resources one bundle may list, over all its entries: a bundle is provisioned as a
/// whole, in one go.
const MAX_RESOURCES: usize = 1000;

/// Checks one bundle; `index` is its place among the `[[bundles]]`. Returns its name (for the
/// uniqueness check, and for flows to name) and the bundle, if it is valid.
pub(super) fn check(
    raw: &Spanned<RawBundle>,
    index: usize,
    known: &[KnownIntegration<'_>],
    ck: &mut Checker<'_>,
) -> (Option<Named>, Option<Bundle>) {
    let span = raw.span();
    let raw = raw.get_ref();
    let label = entry_label(
        "bundle",
        raw.name.as_ref().map(|n| n.get_ref().as_str()),
        index,
    );
    let name = name(raw.name.as_ref(), &span, &label, ck);
    let message = message(raw.message.as_ref(), &label, ck);

    let add_one = "add a [[bundles.entries]] table after it, with integration, resource_type, resources and permissions";
    let entries = match &raw.entries {
        None => {
            ck.problems
                .at(&span, format!("{label} has no entries"), add_one);
            None
        }
        Some(list) if list.get_ref().is_empty() => {
            ck.problems.at(
                &list.span(),
                format!("{label}: entries is an empty list"),
                add_one,
            );
            None
        }
        Some(list) => {
            let checked: Vec<Option<BundleEntry>> = list
                .get_ref()
                .iter()
                .enumerate()
                .map(|(i, e)| entry(e, &format!("{label} entry #{}", i + 1), known, ck))
                .collect();
            let checked: Option<Vec<BundleEntry>> = checked.into_iter().collect();
            checked.and_then(|entries| resource_limit(entries, list.get_ref(), &label, ck))
        }
    };

    let bundle = (|| {
        Some(Bundle {
            name: name.as_ref()?.0.clone(),
            message: message?,
            entries: entries?,
        })
    })();
    (name, bundle)
}

/// Refuses a bundle that lists more than [`MAX_RESOURCES`] resources, at the entry that goes
/// over.
fn resource_limit(
    entries: Vec<BundleEntry>,
    raw: &[Spanned<RawBundleEntry>],
    label: &str,
    ck: &mut Checker<'_>,
) -> Option<Vec<BundleEntry>> {
    let total: usize = entries.iter().map(|e| e.resources.len()).sum();
    if total <= MAX_RESOURCES {
        return Some(entries);
    }
    let mut running = 0;
    let over = entries
        .iter()
        .zip(raw)
        .find(|(e, _)| {
            running += e.resources.len();
            running > MAX_RESOURCES
        })
        .and_then(|(_, r)| r.get_ref().resources.as_ref().map(Spanned::span))
        .unwrap_or_default();
    ck.problems.at(
        &over,
        format!("{label} lists {total} resources, more than {MAX_RESOURCES}"),
        format!(
            "split it into bundles of at most {MAX_RESOURCES} resources, or grant that many through a flow with a resource pattern like \"report_*\""
        ),
    );
    None
}

/// Checks one `[[bundles.entries]]` table; `label` names it (`bundle "oncall" entry #2`).
fn entry(
    raw: &Spanned<RawBundleEntry>,
    label: &str,
    known: &[KnownIntegration<'_>],
    ck: &mut Checker<'_>,
) -> Option<BundleEntry> {
    let span = raw.span();
    let raw = raw.get_ref();

    let (integration, resource_type) = target(raw, &span, label, known, ck);
    // On an integration that lists its resources, each must be one of them.
    let fixed = integration
        .as_ref()
        .and_then(|i| Some((i.as_str(), known.iter().find(|k| k.name == i)?.resources?)));
    let resources = match &raw.resources {
        None => {
            ck.problems.at(
                &span,
                format!("{label} has no resources"),
                "add resources = [...] with the exact names of the resources it grants, like [\"orders\"]",
            );
            None
        }
        Some(list) => required_strings(
            list,
            "resources",
            "resource",
            label,
            "list the exact names of the resources it grants, like [\"orders\"]",
            |r| {
                resource_name(r)?;
                match fixed {
                    Some((integration, fixed)) => fixed.name(r, integration),
                    None => Ok(()),
                }
            },
            ck,
        ),
    };
    let permissions = match (&raw.permissions, resource_type) {
        (None, _) => {
            let fix = match resource_type {
                Some(t) => format!(
                    "add permissions = [...], from: {}",
                    t.permissions.join(", ")
                ),
                None => "add permissions = [...], like [\"read\"]".to_owned(),
            };
            ck.problems
                .at(&span, format!("{label} has no permissions"), fix);
            None
        }
        (Some(list), Some(t)) => {
            let allowed = t.permissions.join(", ");
            required_strings(
                list,
                "permissions",
                "permission",
                label,
                &format!("list the permissions it grants, from: {allowed}"),
                |p| {
                    if t.permissions.iter().any(|o| o == p) {
                        Ok(())
                    } else {
                        let hint = did_you_mean(p, t.permissions.iter().map(String::as_str));
                        Err((
                            format!("is not a permission of resource type {}", t.name),
                            format!("{hint}use one of: {allowed}"),
                        ))
                    }
                },
                ck,
            )
        }
        // The resource type is unknown: that is reported, and there is nothing to check against.
        (Some(_), None) => None,
    };
    Some(BundleEntry {
        integration: integration?,
        resource_type: resource_type?.name.clone(),
        resources: resources?,
        permissions: permissions?,
    })
}

/// The integration and resource type of an entry; `None` when not valid (reported, or the
/// integration's own problem, reported with it).
fn target<'k>(
    raw: &RawBundleEntry,
    span: &Range<usize>,
    label: &str,
    known: &[KnownIntegration<'k>],
    ck: &mut Checker<'_>,
) -> (Option<String>, Option<&'k ResourceType>) {
    let Some(integration) = &raw.integration else {
        let fix = if known.is_empty() {
            "add an [[integrations]] entry, and integration = \"its name\" here".to_owned()
        } else {
            format!(
                "add integration = \"...\", one of: {}",
                integration_names(known)
            )
        };
        ck.problems
            .at(span, format!("{label} names no integration"), fix);
        return (None, None);
    };
    let Some(target) = known.iter().find(|k| k.name == integration.get_ref()) else {
        let fix = if known.is_empty() {
            "add an [[integrations]] entry with that name".to_owned()
        } else {
            let hint = did_you_mean(integration.get_ref(), known.iter().map(|k| k.name));
            format!("{hint}use one of: {}", integration_names(known))
        };
        ck.problems.at(
            &integration.span(),
            format!(
                "{label} names integration \"{}\", which is not configured",
                suggest::clip(integration.get_ref())
            ),
            fix,
        );
        return (None, None);
    };
    let integration_name = integration.get_ref().clone();
    let Some(offered) = target.resource_types else {
        return (Some(integration_name), None);
    };
    let offered_names = || {
        offered
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(type_name) = &raw.resource_type else {
        ck.problems.at(
            span,
            format!("{label} names no resource_type"),
            format!("add resource_type = \"...\", one of: {}", offered_names()),
        );
        return (Some(integration_name), None);
    };
    let Some(resource_type) = offered.iter().find(|t| &t.name == type_name.get_ref()) else {
        let hint = did_you_mean(type_name.get_ref(), offered.iter().map(|t| t.name.as_str()));
        ck.problems.at(
            &type_name.span(),
            format!(
                "{label}: resource_type \"{}\" is not a resource type of integration \"{integration_name}\"",
                suggest::clip(type_name.get_ref())
            ),
            format!("{hint}use one of: {}", offered_names()),
        );
        return (Some(integration_name), None);
    };
    (Some(integration_name), Some(resource_type))
}

/// Checks one resource of a bundle entry: an exact name.
fn resource_name(name: &str) -> Result<(), (String, String)> {
    let (why, fix) = if name.trim().is_empty() {
        ("is empty", "write the resource's exact name")
    } else if name.contains('*') {
        (
            "is a pattern; a bundle names exact resources",
            "list each resource by its exact name; patterns like \"report_*\" are for flows",
        )
    } else if name.chars().any(char::is_control) {
        (
            "contains control characters",
            "write the resource's exact name",
        )
    } else if name.len() > 255 {
        (
            "is longer than 255 bytes",
            "write the resource's exact name",
        )
    } else {
        return Ok(());
    };
    Err((why.to_owned(), fix.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names() {
        assert!(resource_name("orders").is_ok());
        assert!(resource_name("with space").is_ok());
        for bad in ["", " ", "report_*", "*", "a\nb", &"x".repeat(256)] {
            assert!(resource_name(bad).is_err(), "{bad:?}");
        }
    }
}
