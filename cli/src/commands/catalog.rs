//! `jit catalog`: what the caller may request (`catalog.list`), one block per access flow.

use jit_api::methods::{CatalogList, Empty};
use jit_api::{ApprovalMode, BundleEntry, CatalogEntry};

use super::{Ctx, Outcome, shared};
use crate::format::{self, Paint, span_secs};
use crate::output::Out;

/// List what you may request.
///
/// One block per access flow that names you: the integration and its resource types with
/// their permissions (or, for a bundle flow, each bundle and its entries), the resources,
/// how requests are approved (break-glass flows are flagged), default and maximum
/// durations, how many extensions a grant may have, whether a justification is required,
/// and an example `jit request` line.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `jit catalog`.
pub async fn run(ctx: &mut Ctx, _args: Args) -> anyhow::Result<Outcome> {
    let entries = ctx.client.call::<CatalogList>(&Empty {}).await?;
    if ctx.out.json {
        ctx.out.json(&entries)?;
    } else {
        ctx.out.print(&render(&entries, &ctx.out))?;
    }
    Ok(Outcome::Done)
}

/// Every entry, separated by blank lines: one block per integration flow, and one per
/// bundle of a bundle flow.
pub fn render(entries: &[CatalogEntry], out: &Out) -> String {
    if entries.is_empty() {
        return "nothing to request: no access flow names you (ask an admin)\n".into();
    }
    entries
        .iter()
        .flat_map(|e| blocks(e, out))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The blocks of one access flow.
fn blocks(e: &CatalogEntry, out: &Out) -> Vec<String> {
    let mut blocks = Vec::new();
    if !e.integration.is_empty() {
        blocks.push(integration_block(e, out));
    }
    for bundle in &e.bundles {
        blocks.push(bundle_block(e, bundle, out));
    }
    blocks
}

/// " [break-glass]" after a flow's name.
fn flag(e: &CatalogEntry) -> &'static str {
    if e.break_glass { " [break-glass]" } else { "" }
}

/// `  key            value` lines.
#[derive(Default)]
struct Fields(String);

impl Fields {
    fn field(&mut self, key: &str, value: &str) {
        self.0.push_str(format!("  {key:<15}{value}").trim_end());
        self.0.push('\n');
    }
}

fn integration_block(e: &CatalogEntry, out: &Out) -> String {
    let dry = if e.dry_run {
        ", dry-run: provisions nothing"
    } else {
        ""
    };
    let mut f = Fields(format!(
        "{} ({}{dry}) — access flow {}{}\n",
        out.style.paint(Paint::Bold, &e.integration),
        e.kind,
        e.flow,
        flag(e)
    ));
    for rt in &e.resource_types {
        f.field(
            "resource type",
            &format!("{}: {}", rt.name, rt.permissions.join(", ")),
        );
    }
    f.field("resources", &e.resources.join(", "));
    rules(&mut f, e);
    if let Some(message) = &e.message {
        f.field("admin message", message);
    }
    if let Some(example) = example(e) {
        f.field("example", &example);
    }
    f.0
}

fn bundle_block(e: &CatalogEntry, bundle: &BundleEntry, out: &Out) -> String {
    let mut f = Fields(format!(
        "{} — access flow {}{}\n",
        out.style
            .paint(Paint::Bold, &format!("bundle {}", bundle.name)),
        e.flow,
        flag(e)
    ));
    for (i, entry) in bundle.entries.iter().enumerate() {
        let key = if i == 0 { "entries" } else { "" };
        f.field(key, &shared::entry_text(entry, usize::MAX));
    }
    rules(&mut f, e);
    if let Some(message) = bundle.message.as_ref().or(e.message.as_ref()) {
        f.field("admin message", message);
    }
    f.field("example", &bundle_example(e, bundle));
    f.0
}

/// What the flow decides: approval, durations, extensions, justification.
fn rules(f: &mut Fields, e: &CatalogEntry) {
    let approval = if e.break_glass {
        let told = if e.approvers.is_empty() {
            String::new()
        } else {
            format!("; the approvers are told ({})", e.approvers.join(", "))
        };
        format!("break-glass: granted at once without approval{told}")
    } else {
        match e.approval {
            ApprovalMode::Auto => "automatic".to_owned(),
            ApprovalMode::Manual => format!(
                "manual: {} from {}",
                if e.approvals_required == 1 {
                    "1 approval".to_owned()
                } else {
                    format!("{} approvals", e.approvals_required)
                },
                format::approvers(&e.approvers)
            ),
        }
    };
    f.field("approval", &approval);
    f.field(
        "duration",
        &format!(
            "{} by default, at most {}",
            span_secs(e.default_duration_secs),
            span_secs(e.max_duration_secs)
        ),
    );
    f.field(
        "extensions",
        &match e.max_extensions {
            0 => "none".to_owned(),
            1 => "up to 1 per grant (`jit extend`)".to_owned(),
            n => format!("up to {n} per grant (`jit extend`)"),
        },
    );
    f.field(
        "justification",
        &match (&e.justification_pattern, needs_reason(e)) {
            (Some(p), _) => format!("required, matching {p}"),
            (None, true) => "required".into(),
            (None, false) => "optional".into(),
        },
    );
}

/// Whether a request must carry a justification (always, for break-glass).
pub fn needs_reason(e: &CatalogEntry) -> bool {
    e.justification_required || e.justification_pattern.is_some() || e.break_glass
}

/// ` --for 1h30m --reason "…"`: the end of an example line.
fn example_tail(e: &CatalogEntry) -> String {
    let mut tail = format!(
        " --for {}",
        span_secs(e.default_duration_secs).replace(' ', "")
    );
    if needs_reason(e) {
        tail.push_str(" --reason \"…\"");
    }
    tail
}

/// A `jit request` line for the first resource type, resource and permission.
pub fn example(e: &CatalogEntry) -> Option<String> {
    let rt = e.resource_types.first()?;
    let perm = rt.permissions.first()?;
    let resource = e
        .resources
        .iter()
        .find(|r| !r.contains(['*', '?', '[']))
        .map_or("RESOURCE", String::as_str);
    Some(format!(
        "jit request {}/{} {resource} --perm {perm}{}",
        e.integration,
        rt.name,
        example_tail(e)
    ))
}

/// A `jit request --bundle` line.
pub fn bundle_example(e: &CatalogEntry, bundle: &BundleEntry) -> String {
    format!("jit request --bundle {}{}", bundle.name, example_tail(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::out;
    use jit_api::{Entry, ResourceTypeEntry};

    fn entry() -> CatalogEntry {
        CatalogEntry {
            flow: "dba-read".into(),
            integration: "pg-main".into(),
            kind: "postgres".into(),
            bundles: vec![],
            max_extensions: 2,
            break_glass: false,
            resource_types: vec![ResourceTypeEntry {
                name: "database".into(),
                permissions: vec!["read".into(), "write".into()],
            }],
            resources: vec!["report_*".into(), "orders".into()],
            approval: ApprovalMode::Manual,
            approvers: vec!["%dba".into()],
            approvals_required: 1,
            default_duration_secs: 5400,
            max_duration_secs: 8 * 3600,
            justification_required: true,
            justification_pattern: Some("^INC-[0-9]+".into()),
            message: None,
            dry_run: false,
        }
    }

    #[test]
    fn catalog_entry_with_example() {
        assert_eq!(
            render(&[entry()], &out()),
            "pg-main (postgres) — access flow dba-read\n  \
             resource type  database: read, write\n  \
             resources      report_*, orders\n  \
             approval       manual: 1 approval from %dba\n  \
             duration       1h 30m by default, at most 8h\n  \
             extensions     up to 2 per grant (`jit extend`)\n  \
             justification  required, matching ^INC-[0-9]+\n  \
             example        jit request pg-main/database orders --perm read --for 1h30m --reason \"…\"\n"
        );
    }

    #[test]
    fn bundle_flows_show_each_bundle_and_break_glass_is_flagged() {
        let e = CatalogEntry {
            flow: "incident".into(),
            integration: String::new(),
            kind: String::new(),
            bundles: vec![BundleEntry {
                name: "oncall".into(),
                message: Some("page the DBA if you write".into()),
                entries: vec![
                    Entry {
                        integration: "pg-main".into(),
                        resource_type: "database".into(),
                        resources: vec!["orders".into()],
                        permissions: vec!["read".into()],
                    },
                    Entry {
                        integration: "sandbox".into(),
                        resource_type: "schema".into(),
                        resources: vec!["scratch".into()],
                        permissions: vec!["write".into()],
                    },
                ],
            }],
            max_extensions: 0,
            break_glass: true,
            resource_types: vec![],
            resources: vec![],
            approval: ApprovalMode::Auto,
            approvers: vec!["%dba".into()],
            approvals_required: 0,
            default_duration_secs: 3600,
            max_duration_secs: 3600,
            justification_required: false,
            justification_pattern: None,
            ..entry()
        };
        assert_eq!(
            render(&[e], &out()),
            "bundle oncall — access flow incident [break-glass]\n  \
             entries        read on pg-main/database orders\n                 \
             write on sandbox/schema scratch\n  \
             approval       break-glass: granted at once without approval; the approvers are told (%dba)\n  \
             duration       1h by default, at most 1h\n  \
             extensions     none\n  \
             justification  required\n  \
             admin message  page the DBA if you write\n  \
             example        jit request --bundle oncall --for 1h --reason \"…\"\n"
        );
    }
}
