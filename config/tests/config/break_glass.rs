//! Break-glass flows: granted at once, a justification required, the approvers told.

use jit_config::{Approval, ExtensionApproval, Justification, Principal};

use crate::support::{flow, has_problem, lines, one_problem, problems, valid};

/// A valid break-glass flow on `demo` (lines 7 to 12), to which a test adds (line 13 onwards).
const BASE: &str = "name = \"bg\"
requesters = [\"%sre\"]
integration = \"demo\"
max_duration = \"1h\"
break_glass = true
approvers = [\"%dba\", \"carol\"]
";

/// The break-glass flow with `extra` keys after the base ones (first extra key: line 13).
fn flow_with(extra: &str) -> String {
    flow(&format!("{BASE}{extra}"))
}

#[test]
fn a_break_glass_flow_is_automatic_and_tells_its_approvers() {
    let config = valid(&flow(BASE));
    let f = &config.flows[0];
    assert!(f.break_glass);
    assert_eq!(f.approval, Approval::Auto);
    assert_eq!(
        f.notify,
        [
            Principal::Group("dba".into()),
            Principal::User("carol".into())
        ]
    );
    assert_eq!(f.justification, Justification::Required);
    assert!(f.justification_pattern.is_none());
    assert_eq!(f.pending_ttl, None);
}

#[test]
fn what_may_be_written_with_it() {
    let config = valid(&flow_with(
        "approval = \"auto\"\njustification = \"required\"\njustification_pattern = \"INC-[0-9]+\"\nmax_extensions = 1\nextension_approval = \"manual\"\n",
    ));
    let f = &config.flows[0];
    assert_eq!(f.approval, Approval::Auto);
    assert!(f.justification_pattern.is_some());
    // A manual extension goes to the approvers it tells.
    assert_eq!(f.extension_approval, ExtensionApproval::Manual);

    // break_glass = false is an ordinary flow: approvers make it manual, nobody is told.
    let config = valid(&flow(&BASE.replace("true", "false")));
    let f = &config.flows[0];
    assert!(!f.break_glass);
    assert!(f.notify.is_empty());
    assert!(matches!(f.approval, Approval::Manual { required: 1, .. }));
    assert_eq!(f.justification, Justification::Optional);
}

#[test]
fn it_needs_approvers_to_tell() {
    one_problem(
        &flow(&BASE.replace("approvers = [\"%dba\", \"carol\"]\n", "")),
        11,
        "flow \"bg\" is break-glass but names no approvers to tell",
        "add approvers = [...] with the users (\"alice\") or groups (\"%security\") to tell",
    );
    one_problem(
        &flow(&BASE.replace("[\"%dba\", \"carol\"]", "[]")),
        12,
        "flow \"bg\": approvers is an empty list",
        "to tell when it is used",
    );
    one_problem(
        &flow(&BASE.replace("\"carol\"", "\"ca rol\"")),
        12,
        "approvers entry \"ca rol\" contains white space",
        "a user name",
    );
}

#[test]
fn nobody_approves_it() {
    one_problem(
        &flow_with("approval = \"manual\"\n"),
        13,
        "flow \"bg\" is break-glass, so it is granted at once and cannot be approved manually",
        "remove approval",
    );
    one_problem(
        &flow_with("approval = \"manul\"\n"),
        13,
        "approval \"manul\" is not auto or manual",
        "did you mean \"manual\"?",
    );
    one_problem(
        &flow_with("approvals_required = 2\n"),
        13,
        "flow \"bg\" is break-glass, so nobody approves and approvals_required has no effect",
        "remove approvals_required",
    );
    one_problem(
        &flow_with("pending_ttl = \"10m\"\n"),
        13,
        "flow \"bg\" is break-glass, so its requests are granted at once and pending_ttl has no effect",
        "remove pending_ttl",
    );
}

#[test]
fn a_justification_is_required() {
    one_problem(
        &flow_with("justification = \"optional\"\n"),
        13,
        "flow \"bg\" is break-glass, so a justification is required",
        "remove justification",
    );
    one_problem(
        &flow(&BASE.replace("true", "\"yes\"")),
        11,
        "flow \"bg\": wrong type for break_glass (found a string)",
        "true or false (no quotes)",
    );
}

#[test]
fn all_break_glass_problems_at_once() {
    let found = problems(&flow(&format!(
        "{}approval = \"manual\"\napprovals_required = 2\njustification = \"optional\"\n",
        BASE.replace("approvers = [\"%dba\", \"carol\"]\n", "")
    )));
    assert_eq!(found.len(), 4, "{}", lines(&found));
    has_problem(&found, 11, "names no approvers to tell", "add approvers");
    has_problem(&found, 12, "cannot be approved manually", "remove approval");
    has_problem(&found, 13, "approvals_required has no effect", "remove");
    has_problem(
        &found,
        14,
        "a justification is required",
        "remove justification",
    );
}
