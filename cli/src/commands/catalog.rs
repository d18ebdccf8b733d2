//! `jit catalog`: what the caller may request (`catalog.list`), one block per access flow.

use jit_api::methods::{CatalogList, Empty};
use jit_api::{ApprovalMode, CatalogEntry};

use super::{Ctx, Outcome};
use crate::format::{self, Paint, span_secs};
use crate::output::Out;

/// List what you may request.
///
/// One block per access flow that names you: the integration and its resource types with
/// their permissions, the resources, how requests are approved, default and maximum
/// durations, whether a justification is required, and an example `jit request` line.
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

/// Every entry, separated by blank lines.
pub fn render(entries: &[CatalogEntry], out: &Out) -> String {
    if entries.is_empty() {
        return "nothing to request: no access flow names you (ask an admin)\n".into();
    }
    entries
        .iter()
        .map(|e| entry(e, out))
        .collect::<Vec<_>>()
        .join("\n")
}

fn entry(e: &CatalogEntry, out: &Out) -> String {
    let s = out.style;
    let mut text = String::new();
    let dry = if e.dry_run {
        ", dry-run: provisions nothing"
    } else {
        ""
    };
    text.push_str(&format!(
        "{} ({}{dry}) — access flow {}\n",
        s.paint(Paint::Bold, &e.integration),
        e.kind,
        e.flow
    ));
    let mut field = |key: &str, value: &str| {
        text.push_str(&format!("  {key:<15}{value}\n"));
    };
    for rt in &e.resource_types {
        field(
            "resource type",
            &format!("{}: {}", rt.name, rt.permissions.join(", ")),
        );
    }
    field("resources", &e.resources.join(", "));
    field(
        "approval",
        &match e.approval {
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
        },
    );
    field(
        "duration",
        &format!(
            "{} by default, at most {}",
            span_secs(e.default_duration_secs),
            span_secs(e.max_duration_secs)
        ),
    );
    field(
        "justification",
        &match (&e.justification_pattern, e.justification_required) {
            (Some(p), _) => format!("required, matching {p}"),
            (None, true) => "required".into(),
            (None, false) => "optional".into(),
        },
    );
    if let Some(message) = &e.message {
        field("admin message", message);
    }
    if let Some(example) = example(e) {
        field("example", &example);
    }
    text
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
    let mut line = format!(
        "jit request {}/{} {resource} --perm {perm} --for {}",
        e.integration,
        rt.name,
        span_secs(e.default_duration_secs).replace(' ', "")
    );
    if e.justification_required || e.justification_pattern.is_some() {
        line.push_str(" --reason \"…\"");
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::out;
    use jit_api::ResourceTypeEntry;

    fn entry() -> CatalogEntry {
        CatalogEntry {
            flow: "dba-read".into(),
            integration: "pg-main".into(),
            kind: "postgres".into(),
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
             justification  required, matching ^INC-[0-9]+\n  \
             example        jit request pg-main/database orders --perm read --for 1h30m --reason \"…\"\n"
        );
    }
}
