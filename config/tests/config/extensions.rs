//! Extensions of a grant: `max_extensions`, `max_total_duration`, `extension_approval`.

use std::time::Duration;

use jit_config::ExtensionApproval;

use crate::support::{flow, has_problem, lines, one_problem, problems, valid};

const HOUR: Duration = Duration::from_secs(3600);

/// The keys of a valid flow on `demo`, to which a test adds or changes one.
const BASE: &str =
    "name = \"f\"\nrequesters = [\"*\"]\nintegration = \"demo\"\nmax_duration = \"4h\"\n";

/// A valid flow on `demo` with `extra` keys after the base ones (first extra key: line 11).
fn flow_with(extra: &str) -> String {
    flow(&format!("{BASE}{extra}"))
}

#[test]
fn extending_is_off_by_default() {
    let config = valid(&flow(BASE));
    let f = &config.flows[0];
    assert_eq!(f.max_extensions, 0);
    assert_eq!(f.max_total_duration, 4 * HOUR);
    assert_eq!(f.extension_approval, ExtensionApproval::Auto);
    // Written out, 0 is the same.
    let config = valid(&flow_with("max_extensions = 0\n"));
    assert_eq!(config.flows[0].max_total_duration, 4 * HOUR);
}

#[test]
fn the_total_defaults_to_each_extension_as_long_as_the_first_grant() {
    let config = valid(&flow_with("max_extensions = 2\n"));
    let f = &config.flows[0];
    assert_eq!(f.max_extensions, 2);
    assert_eq!(f.max_total_duration, 12 * HOUR);
    assert_eq!(f.extension_approval, ExtensionApproval::Auto);

    // Never more than the 366 days every duration is bounded by.
    let config = valid(&flow(&format!(
        "{}max_extensions = 4294967295\n",
        BASE.replace("\"4h\"", "\"300d\"")
    )));
    let f = &config.flows[0];
    assert_eq!(f.max_extensions, u32::MAX);
    assert_eq!(f.max_total_duration, 366 * 24 * HOUR);
}

#[test]
fn a_total_and_manual_approval_may_be_given() {
    let config = valid(&flow_with(
        "approvers = [\"%dba\"]\nmax_extensions = 3\nmax_total_duration = \"6h\"\nextension_approval = \"manual\"\n",
    ));
    let f = &config.flows[0];
    assert_eq!(f.max_extensions, 3);
    assert_eq!(f.max_total_duration, 6 * HOUR);
    assert_eq!(f.extension_approval, ExtensionApproval::Manual);

    // As long as max_duration is enough: extensions then only make up for a shorter start.
    let config = valid(&flow_with(
        "max_extensions = 1\nmax_total_duration = \"4h\"\n",
    ));
    assert_eq!(config.flows[0].max_total_duration, 4 * HOUR);

    let config = valid(&flow_with(
        "max_extensions = 1\nextension_approval = \"auto\"\n",
    ));
    assert_eq!(config.flows[0].extension_approval, ExtensionApproval::Auto);
}

#[test]
fn max_extensions_is_a_whole_number_of_0_or_more() {
    one_problem(
        &flow_with("max_extensions = -1\n"),
        11,
        "flow \"f\": max_extensions -1 is not a whole number of 0 or more",
        "use 0 (extending is not allowed, the default) or more",
    );
    one_problem(
        &flow_with("max_extensions = 4294967296\n"),
        11,
        "max_extensions 4294967296 is not a whole number",
        "or more",
    );
    one_problem(
        &flow_with("max_extensions = \"2\"\n"),
        11,
        "flow \"f\": wrong type for max_extensions (found a string)",
        "a whole number like 2 (no quotes)",
    );
}

#[test]
fn max_total_duration_rules() {
    one_problem(
        &flow_with("max_total_duration = \"8h\"\n"),
        11,
        "flow \"f\" allows no extensions (max_extensions is 0), so max_total_duration has no effect",
        "remove max_total_duration, or allow extensions with max_extensions = 1 or more",
    );
    one_problem(
        &flow_with("max_extensions = 0\nmax_total_duration = \"8h\"\n"),
        12,
        "so max_total_duration has no effect",
        "remove max_total_duration",
    );
    one_problem(
        &flow_with("max_extensions = 2\nmax_total_duration = \"3h\"\n"),
        12,
        "flow \"f\": max_total_duration 3h is shorter than max_duration 4h",
        "raise max_total_duration to at least 4h, or lower max_duration",
    );
    one_problem(
        &flow_with("max_extensions = 2\nmax_total_duration = \"a day\"\n"),
        12,
        "max_total_duration \"a day\" is not a duration",
        "\"1h 30m\"",
    );
    one_problem(
        &flow_with("max_extensions = 2\nmax_total_duration = \"400d\"\n"),
        12,
        "max_total_duration \"400d\" is longer than 366 days",
        "at most 366 days",
    );
}

#[test]
fn extension_approval_rules() {
    one_problem(
        &flow_with("max_extensions = 1\nextension_approval = \"manuel\"\n"),
        12,
        "flow \"f\": extension_approval \"manuel\" is not auto or manual",
        "did you mean \"manual\"? use \"auto\" or \"manual\"",
    );
    one_problem(
        &flow_with("extension_approval = \"auto\"\n"),
        11,
        "flow \"f\" allows no extensions (max_extensions is 0), so extension_approval has no effect",
        "remove extension_approval, or allow extensions",
    );
    one_problem(
        &flow_with("max_extensions = 1\nextension_approval = \"manual\"\n"),
        12,
        "flow \"f\": extension_approval is manual, but the flow names no approvers to ask",
        "use extension_approval = \"auto\", or give the flow approvers",
    );
    one_problem(
        &flow_with("approval = \"auto\"\nmax_extensions = 1\nextension_approval = \"manual\"\n"),
        13,
        "names no approvers to ask",
        "extension_approval = \"auto\"",
    );
}

#[test]
fn all_extension_problems_at_once() {
    let found = problems(&flow_with(
        "max_extensions = -3\nmax_total_duration = \"1h\"\nextension_approval = \"sometimes\"\n",
    ));
    assert_eq!(found.len(), 3, "{}", lines(&found));
    has_problem(&found, 11, "max_extensions -3", "or more");
    has_problem(
        &found,
        12,
        "max_total_duration 1h is shorter than max_duration 4h",
        "at least 4h",
    );
    has_problem(
        &found,
        13,
        "extension_approval \"sometimes\" is not auto or manual",
        "use \"auto\" or \"manual\"",
    );
}
