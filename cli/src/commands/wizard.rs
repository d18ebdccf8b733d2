//! `jit request` with no target, on a terminal: the New Request wizard.
//!
//! It reads `catalog.list` and walks the steps of a request, offering only what the catalog
//! allows: one integration (or a bundle) → one resource type → resources (the flows' listed
//! ones in a multi-select with type-to-filter, plus free entry checked against their `*`
//! patterns; up to 1,000) → permissions → duration (the flow's default, its maximum shown)
//! → justification (the flow's rules, checked as you type) → a summary to confirm. Then it
//! creates the request and follows it as `jit request --wait` does.
//!
//! The choices are worked out by the pure functions at the top, which the unit tests cover;
//! the prompts (the `inquire` crate, which honours `NO_COLOR`) are only at the bottom.
//! Esc or Ctrl-C at any prompt aborts with exit code 130 before anything is created.

use std::fmt;
use std::time::Duration;

use inquire::validator::Validation;
use inquire::{Confirm, InquireError, MultiSelect, Select, Text};
use jit_api::methods::{CatalogList, CreateParams, Empty, RequestCreate};
use jit_api::{ApprovalMode, CatalogEntry};

use super::{Ctx, Outcome, catalog, request, shared};
use crate::error::exit;
use crate::format::{Clock, span_secs};
use crate::parse;

/// The most resources one request may name (the daemon's limit too).
pub const MAX_RESOURCES: usize = 1000;

/// The first choice: an integration, or a bundle of a bundle flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// An integration that at least one flow allows.
    Integration {
        /// Its name.
        name: String,
        /// Its kind (`postgres`, `dry-run`, …).
        kind: String,
    },
    /// A bundle, with the index of its flow in the catalog.
    Bundle {
        /// The bundle's name.
        name: String,
        /// Which catalog entry grants it.
        flow: usize,
        /// What it grants, one `read on pg-main/database orders` per entry.
        what: String,
    },
}

impl fmt::Display for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Start::Integration { name, kind } => write!(f, "{name} ({kind})"),
            Start::Bundle { name, what, .. } => write!(f, "bundle {name}: {what}"),
        }
    }
}

/// The first step's choices: each integration once, in flow order, then each bundle.
pub fn starts(catalog: &[CatalogEntry]) -> Vec<Start> {
    let mut out: Vec<Start> = Vec::new();
    for e in catalog.iter().filter(|e| !e.integration.is_empty()) {
        let seen = out
            .iter()
            .any(|s| matches!(s, Start::Integration { name, .. } if *name == e.integration));
        if !seen {
            out.push(Start::Integration {
                name: e.integration.clone(),
                kind: e.kind.clone(),
            });
        }
    }
    for (i, e) in catalog.iter().enumerate() {
        for b in &e.bundles {
            let what: Vec<String> = b
                .entries
                .iter()
                .map(|x| shared::entry_text(x, usize::MAX))
                .collect();
            out.push(Start::Bundle {
                name: b.name.clone(),
                flow: i,
                what: what.join("; "),
            });
        }
    }
    out
}

/// The resource types some flow allows on `integration`, in flow order.
pub fn resource_types(catalog: &[CatalogEntry], integration: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in catalog.iter().filter(|e| e.integration == integration) {
        for rt in &e.resource_types {
            if !out.contains(&rt.name) {
                out.push(rt.name.clone());
            }
        }
    }
    out
}

/// The flows that allow `resource_type` of `integration`, in flow order.
pub fn flows<'a>(
    catalog: &'a [CatalogEntry],
    integration: &str,
    resource_type: &str,
) -> Vec<&'a CatalogEntry> {
    catalog
        .iter()
        .filter(|e| {
            e.integration == integration && e.resource_types.iter().any(|t| t.name == resource_type)
        })
        .collect()
}

/// Whether a flow's resource entry is a pattern (has a `*`) rather than one resource.
fn is_pattern(resource: &str) -> bool {
    resource.contains('*')
}

/// The resources the flows list by name: what the multi-select offers.
pub fn listed(flows: &[&CatalogEntry]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in flows.iter().flat_map(|e| &e.resources) {
        if !is_pattern(r) && !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

/// The flows' `*` patterns: what free entry must match.
pub fn patterns(flows: &[&CatalogEntry]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in flows.iter().flat_map(|e| &e.resources) {
        if is_pattern(r) && !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

/// Whether `name` matches a flow's resource pattern: `*` matches any run of characters
/// (none included), every other character stands for itself, case-sensitively.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole name.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether a flow allows every resource in `resources`.
fn covers(e: &CatalogEntry, resources: &[String]) -> bool {
    resources
        .iter()
        .all(|r| e.resources.iter().any(|p| pattern_matches(p, r)))
}

/// The permissions on `resource_type` that a flow allowing all of `resources` grants.
pub fn permissions(
    flows: &[&CatalogEntry],
    resource_type: &str,
    resources: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in flows.iter().filter(|e| covers(e, resources)) {
        for rt in e.resource_types.iter().filter(|t| t.name == resource_type) {
            for p in &rt.permissions {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
    }
    out
}

/// The flow that decides a request for `permissions` on `resources`: the first one (in the
/// config's order, as jitd tries them) that allows them all.
pub fn flow_for<'a>(
    flows: &[&'a CatalogEntry],
    resource_type: &str,
    resources: &[String],
    permissions: &[String],
) -> Option<&'a CatalogEntry> {
    flows.iter().copied().find(|e| {
        covers(e, resources)
            && e.resource_types.iter().any(|t| {
                t.name == resource_type && permissions.iter().all(|p| t.permissions.contains(p))
            })
    })
}

/// Free entry: names separated by spaces or commas, each matching one of `patterns`.
pub fn free_resources(text: &str, patterns: &[String]) -> Result<Vec<String>, String> {
    let names: Vec<String> = text
        .split([' ', ',', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for name in &names {
        if !patterns.iter().any(|p| pattern_matches(p, name)) {
            return Err(format!(
                "{name:?} matches none of {} (type a name that does)",
                patterns.join(", ")
            ));
        }
    }
    Ok(names)
}

/// A duration typed at the duration step: the CLI's own parser, at most the flow's maximum.
pub fn duration(text: &str, e: &CatalogEntry) -> Result<Duration, String> {
    let d = parse::duration(text)?;
    if d.as_secs() > e.max_duration_secs {
        return Err(format!(
            "at most {} on this access flow",
            span_secs(e.max_duration_secs)
        ));
    }
    Ok(d)
}

/// A justification typed at the last step, against the flow's rules.
pub fn justification(text: &str, e: &CatalogEntry) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return if catalog::needs_reason(e) {
            Err("this access flow requires a justification".into())
        } else {
            Ok(())
        };
    }
    if let Some(pattern) = &e.justification_pattern {
        // jitd checked the pattern when it loaded the config; one it cannot compile here is
        // left for jitd to judge.
        let matches = regex::Regex::new(pattern).map_or(true, |re| re.is_match(text));
        if !matches {
            return Err(format!(
                "the justification must contain a match for {pattern}"
            ));
        }
    }
    Ok(())
}

/// How the flow approves, in a few words.
fn approval(e: &CatalogEntry) -> String {
    if e.break_glass {
        return "break-glass: granted at once, the approvers are told".into();
    }
    match e.approval {
        ApprovalMode::Auto => "automatic".into(),
        ApprovalMode::Manual => format!("manual, by {}", crate::format::approvers(&e.approvers)),
    }
}

/// The summary shown before confirming.
pub fn summary(what: &str, e: &CatalogEntry, d: Duration, reason: &str) -> String {
    let reason = if reason.is_empty() { "(none)" } else { reason };
    format!(
        "New request\n  access         {what}\n  access flow    {} (approval: {})\n  \
         duration       {}\n  justification  {reason}",
        e.flow,
        approval(e),
        span_secs(d.as_secs())
    )
}

/// Left with Esc or Ctrl-C.
#[derive(Debug)]
struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("aborted")
    }
}

impl std::error::Error for Aborted {}

/// A prompt's answer, with Esc and Ctrl-C turned into [`Aborted`].
fn answer<T>(r: Result<T, InquireError>) -> anyhow::Result<T> {
    match r {
        Ok(v) => Ok(v),
        Err(InquireError::OperationCanceled | InquireError::OperationInterrupted) => {
            Err(Aborted.into())
        }
        Err(e) => Err(anyhow::Error::new(e).context("the request wizard")),
    }
}

/// A text validator from a check that says what is wrong.
fn check(
    f: impl Fn(&str) -> Result<(), String> + Clone + 'static,
) -> impl Fn(&str) -> Result<Validation, inquire::CustomUserError> + Clone + 'static {
    move |text: &str| {
        Ok(match f(text) {
            Ok(()) => Validation::Valid,
            Err(message) => Validation::Invalid(message.into()),
        })
    }
}

/// Runs the wizard; `args` may carry `--for`, `--reason`, `--at`/`--in` and `--timeout`.
pub async fn run(ctx: &mut Ctx, args: request::Args) -> anyhow::Result<Outcome> {
    let entries = ctx.client.call::<CatalogList>(&Empty {}).await?;
    if entries.is_empty() {
        anyhow::bail!("nothing to request: no access flow names you (ask an admin)");
    }
    let params = match ask(&entries, &args, &ctx.out.clock) {
        Ok(Some(params)) => params,
        Ok(None) => {
            ctx.out.note("nothing was requested");
            return Ok(Outcome::Exit(1));
        }
        Err(e) if e.is::<Aborted>() => {
            ctx.out.note("jit: aborted; nothing was requested");
            return Ok(Outcome::Exit(exit::ABORTED));
        }
        Err(e) => return Err(e),
    };
    let req = ctx.client.call::<RequestCreate>(&params).await?;
    let id = req.id;
    let out = ctx.out;
    tokio::select! {
        outcome = shared::follow(ctx, req, true, args.timeout) => outcome,
        _ = tokio::signal::ctrl_c() => {
            out.note(&format!(
                "\nstopped waiting; request {id} stays as it is: follow it with `jit show {id}` \
                 or `jit watch {id}`, withdraw it with `jit cancel {id}`"
            ));
            Ok(Outcome::StillWaiting)
        }
    }
}

/// Walks the steps; `None` when the person answers no at the end.
fn ask(
    entries: &[CatalogEntry],
    args: &request::Args,
    clock: &Clock,
) -> anyhow::Result<Option<CreateParams>> {
    let mut params = args.params(clock);
    let choices = starts(entries);
    let start = if choices.len() == 1 {
        choices
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no choice"))?
    } else {
        answer(
            Select::new("Integration (or bundle):", choices)
                .with_help_message("↑↓ to move, type to filter, Enter to pick, Esc to abort")
                .prompt(),
        )?
    };
    let (flow, what) = match start {
        Start::Bundle { name, flow, what } => {
            params.bundle = Some(name.clone());
            let e = entries
                .get(flow)
                .ok_or_else(|| anyhow::anyhow!("bundle {name} has no flow"))?;
            (e, format!("bundle {name} ({what})"))
        }
        Start::Integration { name, .. } => {
            let types = resource_types(entries, &name);
            let rtype = if types.len() == 1 {
                types.into_iter().next().unwrap_or_default()
            } else {
                answer(Select::new("Resource type:", types).prompt())?
            };
            let flows = flows(entries, &name, &rtype);
            let resources = ask_resources(&flows)?;
            let perms = permissions(&flows, &rtype, &resources);
            let chosen = ask_permissions(&flows, &rtype, &resources, perms)?;
            let e = flow_for(&flows, &rtype, &resources, &chosen)
                .ok_or_else(|| anyhow::anyhow!("no access flow allows this"))?;
            let what = format!(
                "{} on {name}/{rtype} {}",
                chosen.join(", "),
                resources.join(", ")
            );
            params.integration = name;
            params.resource_type = rtype;
            params.resources = resources;
            params.permissions = chosen;
            (e, what)
        }
    };
    let d = ask_duration(flow, args.duration)?;
    params.duration_secs = Some(d.as_secs());
    let reason = ask_justification(flow, args.reason.as_deref())?;
    params.justification = (!reason.is_empty()).then(|| reason.clone());
    eprintln!("\n{}\n", summary(&what, flow, d, &reason));
    let go = answer(
        Confirm::new("Submit this request?")
            .with_default(true)
            .prompt(),
    )?;
    Ok(go.then_some(params))
}

/// The resources step: the listed ones in a multi-select, then free entry if a pattern
/// allows more. At least one, at most [`MAX_RESOURCES`].
fn ask_resources(flows: &[&CatalogEntry]) -> anyhow::Result<Vec<String>> {
    let listed = listed(flows);
    let patterns = patterns(flows);
    let mut picked: Vec<String> = Vec::new();
    if !listed.is_empty() {
        let need_one = patterns.is_empty();
        let prompt = MultiSelect::new("Resources:", listed)
            .with_page_size(10)
            .with_help_message(
                "type to filter, Space to select, → all, ← none, Enter when done (up to 1,000)",
            )
            .with_validator(
                move |chosen: &[inquire::list_option::ListOption<&String>]| {
                    Ok(if chosen.len() > MAX_RESOURCES {
                        Validation::Invalid(
                            format!(
                                "at most {MAX_RESOURCES} resources; you picked {}",
                                chosen.len()
                            )
                            .into(),
                        )
                    } else if chosen.is_empty() && need_one {
                        Validation::Invalid("pick at least one resource (Space selects)".into())
                    } else {
                        Validation::Valid
                    })
                },
            );
        picked = answer(prompt.prompt())?;
    }
    if !patterns.is_empty() {
        let shown = patterns.join(", ");
        let label = if picked.is_empty() {
            format!("Resources matching {shown} (space-separated):")
        } else {
            format!("More resources matching {shown} (space-separated, Enter for none):")
        };
        let (have, p) = (picked.len(), patterns.clone());
        let typed = answer(
            Text::new(&label)
                .with_validator(check(move |text: &str| {
                    let names = free_resources(text, &p)?;
                    if have + names.len() == 0 {
                        return Err("name at least one resource".into());
                    }
                    if have + names.len() > MAX_RESOURCES {
                        return Err(format!("at most {MAX_RESOURCES} resources in all"));
                    }
                    Ok(())
                }))
                .prompt(),
        )?;
        picked.extend(free_resources(&typed, &patterns).map_err(anyhow::Error::msg)?);
    }
    Ok(parse::dedup(picked))
}

/// The permissions step: only what a flow allows on these resources.
fn ask_permissions(
    flows: &[&CatalogEntry],
    rtype: &str,
    resources: &[String],
    offered: Vec<String>,
) -> anyhow::Result<Vec<String>> {
    if offered.len() == 1 {
        return Ok(offered);
    }
    let owned: Vec<CatalogEntry> = flows.iter().map(|e| (*e).clone()).collect();
    let (rtype, resources) = (rtype.to_owned(), resources.to_vec());
    let prompt = MultiSelect::new("Permissions:", offered)
        .with_help_message("Space to select, Enter when done")
        .with_validator(
            move |chosen: &[inquire::list_option::ListOption<&String>]| {
                let chosen: Vec<String> = chosen.iter().map(|o| o.value.clone()).collect();
                let refs: Vec<&CatalogEntry> = owned.iter().collect();
                Ok(if chosen.is_empty() {
                    Validation::Invalid("pick at least one permission (Space selects)".into())
                } else if flow_for(&refs, &rtype, &resources, &chosen).is_none() {
                    Validation::Invalid(
                    format!(
                        "no single access flow allows {} together on these resources; pick fewer",
                        chosen.join(" and ")
                    )
                    .into(),
                )
                } else {
                    Validation::Valid
                })
            },
        );
    answer(prompt.prompt())
}

/// The duration step: the flow's default (or `--for`), its maximum shown.
fn ask_duration(e: &CatalogEntry, given: Option<Duration>) -> anyhow::Result<Duration> {
    let default =
        span_secs(given.map_or(e.default_duration_secs, |d| d.as_secs())).replace(' ', "");
    let help = format!(
        "e.g. 30m, 1h30m; at most {} (Enter for {default})",
        span_secs(e.max_duration_secs)
    );
    let flow = e.clone();
    let text = answer(
        Text::new("Duration:")
            .with_default(&default)
            .with_help_message(&help)
            .with_validator(check(move |t: &str| duration(t, &flow).map(|_| ())))
            .prompt(),
    )?;
    duration(&text, e).map_err(anyhow::Error::msg)
}

/// The justification step, checked against the flow's rules as it is submitted.
fn ask_justification(e: &CatalogEntry, given: Option<&str>) -> anyhow::Result<String> {
    let help = match (&e.justification_pattern, catalog::needs_reason(e)) {
        (Some(p), _) => format!("required, matching {p}"),
        (None, true) => "required".to_owned(),
        (None, false) => "optional: Enter to skip".to_owned(),
    };
    let flow = e.clone();
    let mut prompt = Text::new("Justification:")
        .with_help_message(&help)
        .with_validator(check(move |t: &str| justification(t, &flow)));
    if let Some(given) = given {
        prompt = prompt.with_initial_value(given);
    }
    Ok(answer(prompt.prompt())?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jit_api::{BundleEntry, Entry, ResourceTypeEntry};

    fn flow(name: &str, perms: &[&str], resources: &[&str]) -> CatalogEntry {
        CatalogEntry {
            flow: name.into(),
            integration: "sandbox".into(),
            kind: "dry-run".into(),
            bundles: vec![],
            max_extensions: 0,
            break_glass: false,
            resource_types: vec![ResourceTypeEntry {
                name: "database".into(),
                permissions: perms.iter().map(|p| (*p).to_owned()).collect(),
            }],
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            approval: ApprovalMode::Auto,
            approvers: vec![],
            approvals_required: 0,
            default_duration_secs: 3600,
            max_duration_secs: 4 * 3600,
            justification_required: true,
            justification_pattern: Some("^INC-[0-9]+".into()),
            message: None,
            dry_run: true,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn patterns_match_like_jitd() {
        assert!(pattern_matches("orders", "orders"));
        assert!(!pattern_matches("orders", "orders2"));
        assert!(pattern_matches("report_*", "report_"));
        assert!(pattern_matches("report_*", "report_q1"));
        assert!(!pattern_matches("report_*", "reports"));
        assert!(pattern_matches("*", "anything"));
        assert!(pattern_matches("a*b*c", "aXbYc"));
        assert!(!pattern_matches("a*b*c", "aXcYb"));
        assert!(pattern_matches("*_eu", "orders_eu"));
        assert!(!pattern_matches("ab*ba", "aba"));
        assert!(!pattern_matches("Orders", "orders"));
    }

    #[test]
    fn choices_come_from_the_catalog_only() {
        let mut bundle = flow("oncall", &[], &[]);
        bundle.integration = String::new();
        bundle.resource_types = vec![];
        bundle.bundles = vec![BundleEntry {
            name: "oncall".into(),
            message: None,
            entries: vec![Entry {
                integration: "sandbox".into(),
                resource_type: "database".into(),
                resources: strings(&["staging"]),
                permissions: strings(&["write"]),
            }],
        }];
        let catalog = vec![
            flow("read", &["read"], &["orders", "billing", "report_*"]),
            flow("write", &["write"], &["orders"]),
            bundle,
        ];
        let s = starts(&catalog);
        assert_eq!(
            s.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "sandbox (dry-run)",
                "bundle oncall: write on sandbox/database staging"
            ]
        );
        assert_eq!(resource_types(&catalog, "sandbox"), ["database"]);
        let fs = flows(&catalog, "sandbox", "database");
        assert_eq!(listed(&fs), ["orders", "billing"]);
        assert_eq!(patterns(&fs), ["report_*"]);
        // Write is only allowed on orders.
        assert_eq!(
            permissions(&fs, "database", &strings(&["orders"])),
            ["read", "write"]
        );
        assert_eq!(
            permissions(&fs, "database", &strings(&["orders", "report_q1"])),
            ["read"]
        );
        let both = strings(&["read", "write"]);
        assert!(flow_for(&fs, "database", &strings(&["orders"]), &both).is_none());
        let e = flow_for(&fs, "database", &strings(&["orders"]), &strings(&["write"]));
        assert_eq!(e.map(|e| e.flow.as_str()), Some("write"));
    }

    #[test]
    fn free_entry_must_match_a_pattern() {
        let p = strings(&["report_*"]);
        assert_eq!(
            free_resources("report_q1, report_q2  ", &p),
            Ok(strings(&["report_q1", "report_q2"]))
        );
        let err = free_resources("report_q1 payroll", &p).expect_err("refused");
        assert_eq!(
            err,
            "\"payroll\" matches none of report_* (type a name that does)"
        );
        assert_eq!(free_resources("", &p), Ok(vec![]));
    }

    #[test]
    fn duration_and_justification_follow_the_flow() {
        let e = flow("read", &["read"], &["*"]);
        assert_eq!(duration("1h30m", &e), Ok(Duration::from_secs(5400)));
        assert_eq!(
            duration("5h", &e),
            Err("at most 4h on this access flow".into())
        );
        assert!(duration("soon", &e).is_err());
        assert_eq!(justification("INC-42 stuck", &e), Ok(()));
        assert_eq!(
            justification("because", &e),
            Err("the justification must contain a match for ^INC-[0-9]+".into())
        );
        assert_eq!(
            justification("  ", &e),
            Err("this access flow requires a justification".into())
        );
        let mut optional = e.clone();
        optional.justification_required = false;
        optional.justification_pattern = None;
        assert_eq!(justification("", &optional), Ok(()));
    }
}
