//! `[[bundles]]` and the flows that grant them: the happy path, and every rule with its line.

use jit_config::{Approval, BundleEntry};

use crate::support::{has_problem, lines, one_problem, problems, valid};

/// `pg-main` (postgres) and `demo` (dry-run, with a `database` type): lines 1 to 9.
const INTEGRATIONS: &str = "[[integrations]]
name = \"pg-main\"
kind = \"postgres\"
url = \"postgres://postgres@127.0.0.1:5432/postgres\"

[[integrations]]
name = \"demo\"
kind = \"dry-run\"
resource_types = { database = [\"read\", \"write\"] }
";

/// The bundle of the issue, lines 12 to 23 after `[[bundles]]` on line 11.
const ONCALL: &str = "name = \"oncall\"
message = \"On-call bundle: read prod, write staging.\"
[[bundles.entries]]
integration = \"pg-main\"
resource_type = \"database\"
resources = [\"orders\", \"billing\"]
permissions = [\"read\"]
[[bundles.entries]]
integration = \"demo\"
resource_type = \"database\"
resources = [\"x\"]
permissions = [\"write\"]
";

/// The integrations and one bundle made of `body` (`[[bundles]]` on line 11, its first key on
/// line 12).
fn bundle(body: &str) -> String {
    format!("{INTEGRATIONS}\n[[bundles]]\n{body}")
}

/// [`ONCALL`] with `from` replaced by `to` (once), as a whole file.
fn oncall_with(from: &str, to: &str) -> String {
    assert!(ONCALL.contains(from), "{from:?} is not in ONCALL");
    bundle(&ONCALL.replacen(from, to, 1))
}

/// The integrations, [`ONCALL`], and a flow made of `keys` (`[[flows]]` on line 25, its first
/// key on line 26).
fn bundle_flow(keys: &str) -> String {
    format!("{}\n[[flows]]\n{keys}", bundle(ONCALL))
}

/// A valid bundle flow's keys (lines 26 to 29), to which a test adds (line 30 onwards).
const FLOW: &str = "name = \"oncall\"
requesters = [\"%oncall\"]
bundles = [\"oncall\"]
max_duration = \"8h\"
";

#[test]
fn the_bundle_of_the_issue_reads_back() {
    let config = valid(&bundle(ONCALL));
    let oncall = config.bundle("oncall").expect("oncall");
    assert_eq!(oncall.name, "oncall");
    assert_eq!(
        oncall.message.as_deref(),
        Some("On-call bundle: read prod, write staging.")
    );
    assert_eq!(
        oncall.entries,
        [
            BundleEntry {
                integration: "pg-main".into(),
                resource_type: "database".into(),
                resources: vec!["orders".into(), "billing".into()],
                permissions: vec!["read".into()],
            },
            BundleEntry {
                integration: "demo".into(),
                resource_type: "database".into(),
                resources: vec!["x".into()],
                permissions: vec!["write".into()],
            },
        ]
    );
    assert_eq!(config.bundles.len(), 1);
    assert!(config.bundle("other").is_none());
    // No flow names it: that is allowed.
    assert!(config.flows.is_empty());
}

#[test]
fn entries_may_share_an_integration_and_repeats_are_dropped() {
    let text = bundle(
        "name = \"b\"
[[bundles.entries]]
integration = \"demo\"
resource_type = \"database\"
resources = [\"a\", \"b\", \"a\"]
permissions = [\"read\", \"read\"]
[[bundles.entries]]
integration = \"demo\"
resource_type = \"database\"
resources = [\"c\"]
permissions = [\"read\", \"write\"]
",
    );
    let config = valid(&text);
    let b = config.bundle("b").expect("b");
    assert_eq!(b.message, None);
    assert_eq!(b.entries.len(), 2);
    assert_eq!(b.entries[0].resources, ["a", "b"]);
    assert_eq!(b.entries[0].permissions, ["read"]);
    assert_eq!(b.entries[1].permissions, ["read", "write"]);
}

#[test]
fn entries_may_be_written_inline() {
    let config = valid(&bundle(
        "name = \"b\"\nentries = [{ integration = \"demo\", resource_type = \"database\", resources = [\"x\"], permissions = [\"read\"] }]\n",
    ));
    assert_eq!(config.bundles[0].entries[0].resources, ["x"]);
}

#[test]
fn bundle_names() {
    one_problem(
        &bundle(&ONCALL.replacen("name = \"oncall\"\n", "", 1)),
        11,
        "bundle #1 has no name",
        "add name =",
    );
    one_problem(
        &oncall_with("\"oncall\"", "\"On Call\""),
        12,
        "bundle \"On Call\": name \"On Call\" is not a valid name",
        "lower-case letters",
    );
    // The second one is named at its name, with the line of the first.
    let text = format!("{}\n[[bundles]]\n{ONCALL}", bundle(ONCALL));
    one_problem(
        &text,
        26,
        "bundle name \"oncall\" is already used on line 12",
        "give each bundle its own name",
    );
    // Bundles and integrations (or flows) have names of their own.
    valid(&oncall_with("\"oncall\"", "\"demo\""));
}

#[test]
fn bundle_message() {
    one_problem(
        &oncall_with("\"On-call bundle: read prod, write staging.\"", "\"  \""),
        13,
        "bundle \"oncall\": message is empty",
        "remove message",
    );
}

#[test]
fn a_bundle_needs_entries() {
    one_problem(
        &bundle("name = \"b\"\nmessage = \"m\"\n"),
        11,
        "bundle \"b\" has no entries",
        "add a [[bundles.entries]] table",
    );
    one_problem(
        &bundle("name = \"b\"\nentries = []\n"),
        13,
        "bundle \"b\": entries is an empty list",
        "[[bundles.entries]]",
    );
}

#[test]
fn entry_integration() {
    one_problem(
        &oncall_with("integration = \"pg-main\"\n", ""),
        14,
        "bundle \"oncall\" entry #1 names no integration",
        "add integration = \"...\", one of: pg-main, demo",
    );
    one_problem(
        &oncall_with("\"demo\"", "\"dmeo\""),
        20,
        "bundle \"oncall\" entry #2 names integration \"dmeo\", which is not configured",
        "did you mean \"demo\"? use one of: pg-main, demo",
    );
}

#[test]
fn entry_resource_type() {
    one_problem(
        &oncall_with("resource_type = \"database\"\n", ""),
        14,
        "bundle \"oncall\" entry #1 names no resource_type",
        "add resource_type = \"...\", one of: database",
    );
    one_problem(
        &oncall_with("\"database\"", "\"databse\""),
        16,
        "bundle \"oncall\" entry #1: resource_type \"databse\" is not a resource type of integration \"pg-main\"",
        "did you mean \"database\"? use one of: database",
    );
}

#[test]
fn entry_resources_are_exact_names() {
    one_problem(
        &oncall_with("resources = [\"orders\", \"billing\"]\n", ""),
        14,
        "bundle \"oncall\" entry #1 has no resources",
        "add resources = [...]",
    );
    one_problem(
        &oncall_with("[\"orders\", \"billing\"]", "[]"),
        17,
        "bundle \"oncall\" entry #1: resources is an empty list",
        "exact names",
    );
    one_problem(
        &oncall_with("\"billing\"", "\"report_*\""),
        17,
        "bundle \"oncall\" entry #1: resource \"report_*\" is a pattern; a bundle names exact resources",
        "list each resource by its exact name",
    );
    one_problem(
        &oncall_with("[\"x\"]", "[\"*\"]"),
        22,
        "entry #2: resource \"*\" is a pattern",
        "exact name",
    );
    one_problem(
        &oncall_with("\"billing\"", "\" \""),
        17,
        "resource \" \" is empty",
        "exact name",
    );
}

#[test]
fn entry_permissions() {
    one_problem(
        &oncall_with("permissions = [\"read\"]\n", ""),
        14,
        "bundle \"oncall\" entry #1 has no permissions",
        "add permissions = [...], from: read, write",
    );
    one_problem(
        &oncall_with("[\"read\"]", "[]"),
        18,
        "bundle \"oncall\" entry #1: permissions is an empty list",
        "from: read, write",
    );
    one_problem(
        &oncall_with("[\"write\"]", "[\"write\", \"wrte\", \"admin\"]").replace("\"wrte\", ", ""),
        23,
        "bundle \"oncall\" entry #2: permission \"admin\" is not a permission of resource type database",
        "use one of: read, write",
    );
    one_problem(
        &oncall_with("[\"read\"]", "[\"raed\"]"),
        18,
        "permission \"raed\" is not a permission of resource type database",
        "did you mean \"read\"?",
    );
}

#[test]
fn at_most_1000_resources_over_all_entries() {
    let names = |prefix: &str, n: usize| -> String {
        let list: Vec<String> = (0..n).map(|i| format!("\"{prefix}{i}\"")).collect();
        format!("[{}]", list.join(", "))
    };
    // 999 + 1 = 1000: allowed.
    let text = oncall_with("[\"orders\", \"billing\"]", &names("db", 999));
    let config = valid(&text);
    let total: usize = config.bundles[0]
        .entries
        .iter()
        .map(|e| e.resources.len())
        .sum();
    assert_eq!(total, 1000);

    // 999 + 2 = 1001: refused at the entry that goes over.
    let text = oncall_with("[\"x\"]", &names("x", 2)).replacen(
        "[\"orders\", \"billing\"]",
        &names("db", 999),
        1,
    );
    one_problem(
        &text,
        22,
        "bundle \"oncall\" lists 1001 resources, more than 1000",
        "split it into bundles of at most 1000 resources",
    );
}

#[test]
fn unknown_keys_and_wrong_types_in_entries() {
    one_problem(
        &oncall_with(
            "permissions = [\"write\"]\n",
            "permissions = [\"write\"]\nresource = \"x\"\n",
        ),
        24,
        "unknown key \"resource\" in bundle \"oncall\" entry #2",
        "did you mean \"resources\"? the keys of [[bundles.entries]] are: integration, resource_type, resources, permissions",
    );
    one_problem(
        &oncall_with("message", "mesage"),
        13,
        "unknown key \"mesage\" in bundle \"oncall\"",
        "the keys of [[bundles]] are: name, message, entries",
    );
    one_problem(
        &oncall_with("[\"x\"]", "\"x\""),
        22,
        "bundle \"oncall\" entry #2: wrong type for resources (found a string)",
        "write resources as a list of exact resource names",
    );
    one_problem(
        "[[bundles]]\nname = \"b\"\nentries = \"x\"\n",
        3,
        "bundle \"b\": wrong type for entries (found a string)",
        "[[bundles.entries]]",
    );
    one_problem(
        "[bundles]\nname = \"b\"\n",
        1,
        "wrong type for bundles (found a table)",
        "[[bundles]]",
    );
}

#[test]
fn every_problem_of_a_bundle_is_reported() {
    let text = bundle(
        "name = \"b\"
[[bundles.entries]]
integration = \"nope\"
resource_type = \"database\"
resources = [\"a_*\"]
[[bundles.entries]]
integration = \"demo\"
resource_type = \"table\"
resources = [\"x\"]
permissions = [\"read\"]
",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 4, "{}", lines(&found));
    has_problem(&found, 13, "entry #1 has no permissions", "like [\"read\"]");
    has_problem(&found, 14, "names integration \"nope\"", "use one of");
    has_problem(&found, 16, "resource \"a_*\" is a pattern", "exact name");
    has_problem(
        &found,
        19,
        "resource_type \"table\" is not a resource type",
        "use one of: database",
    );
}

#[test]
fn a_flow_grants_bundles() {
    let config = valid(&bundle_flow(FLOW));
    let flow = config.flow("oncall").expect("flow");
    assert_eq!(flow.integration, None);
    assert_eq!(flow.bundles, ["oncall"]);
    assert!(flow.resource_types.is_empty());
    assert!(flow.resources.is_empty());
    assert!(flow.permissions.is_empty());
    assert_eq!(flow.approval, Approval::Auto);
    assert_eq!(
        config.bundle(&flow.bundles[0]).map(|b| b.entries.len()),
        Some(2)
    );

    // Approval, durations and repeats work as for any flow.
    let config = valid(&bundle_flow(&format!(
        "{}approvers = [\"%sre-leads\"]\n",
        FLOW.replace("[\"oncall\"]", "[\"oncall\", \"oncall\"]")
    )));
    let flow = &config.flows[0];
    assert_eq!(flow.bundles, ["oncall"]);
    assert!(matches!(
        flow.approval,
        Approval::Manual { required: 1, .. }
    ));
}

#[test]
fn a_flow_names_an_integration_or_bundles() {
    one_problem(
        &bundle_flow(&format!("{FLOW}integration = \"demo\"\n")),
        30,
        "flow \"oncall\" names both an integration and bundles",
        "keep integration (to grant from one integration) or bundles (to grant whole bundles), not both",
    );
    // Pointed at whichever comes second.
    one_problem(
        &bundle_flow(&FLOW.replace(
            "bundles = [\"oncall\"]\n",
            "integration = \"demo\"\nbundles = [\"oncall\"]\n",
        )),
        29,
        "names both an integration and bundles",
        "not both",
    );
    one_problem(
        &bundle_flow(&FLOW.replace("bundles = [\"oncall\"]\n", "")),
        25,
        "flow \"oncall\" names no integration and no bundles",
        "add integration = \"...\", one of: pg-main, demo; or add bundles = [\"...\"], from: oncall",
    );
}

#[test]
fn a_flow_names_configured_bundles() {
    one_problem(
        &bundle_flow(&FLOW.replace("[\"oncall\"]", "[\"oncall\", \"on-call\"]")),
        28,
        "flow \"oncall\": bundle \"on-call\" is not configured",
        "did you mean \"oncall\"? use one of: oncall",
    );
    one_problem(
        &bundle_flow(&FLOW.replace("[\"oncall\"]", "[]")),
        28,
        "flow \"oncall\": bundles is an empty list",
        "name at least one bundle, from: oncall",
    );
    // Without any bundle.
    one_problem(
        &format!("{INTEGRATIONS}\n[[flows]]\n{FLOW}"),
        14,
        "flow \"oncall\": bundle \"oncall\" is not configured",
        "add a [[bundles]] entry with that name",
    );
}

#[test]
fn a_bundle_flow_takes_no_resource_keys() {
    let found = problems(&bundle_flow(&format!(
        "{FLOW}resource_types = [\"database\"]\nresources = [\"orders\"]\npermissions = [\"read\"]\n"
    )));
    assert_eq!(found.len(), 3, "{}", lines(&found));
    for (line, key) in [
        (30, "resource_types"),
        (31, "resources"),
        (32, "permissions"),
    ] {
        has_problem(
            &found,
            line,
            &format!("flow \"oncall\" grants bundles, which takes no {key}"),
            &format!("a bundle flow grants the bundle's entries; remove {key}"),
        );
    }
}

#[test]
fn a_flow_on_a_broken_bundle_reports_the_bundle_only() {
    let text = format!(
        "{}\n[[flows]]\n{FLOW}",
        oncall_with("[\"read\"]", "[\"admin\"]")
    );
    one_problem(
        &text,
        18,
        "permission \"admin\" is not a permission of resource type database",
        "use one of: read, write",
    );
}
