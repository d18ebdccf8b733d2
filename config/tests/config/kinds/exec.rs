//! `kind = "exec"`.

use std::path::Path;
use std::time::Duration;

use jit_config::{ExecSettings, IntegrationKind, ResourceType};

use super::{integ, with_flow};
use crate::support::{has_problem, lines, one_problem, parse, problems, valid};

/// An exec integration `x` with a command and `share = ["read", "write"]`, and `keys` (from
/// line 6).
fn exec(keys: &str) -> String {
    integ(
        "exec",
        &format!(
            "command = \"/usr/local/lib/jit/share-acl\"\nresource_types = {{ share = [\"read\", \"write\"] }}\n{keys}"
        ),
    )
}

fn settings(text: &str) -> ExecSettings {
    let config = valid(text);
    match &config.integrations[0].kind {
        IntegrationKind::Exec(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_key_reads_back() {
    let text = exec(
        "args = [\"--config\", \"/etc/jit/share.json\", \"--config\"]
timeout = \"2m\"
[integrations.env]
SHARE_ROOT = \"/srv/share\"
API_URL = \"https://api.internal\"
",
    );
    let config = valid(&text);
    assert_eq!(
        config.integrations[0].resource_types,
        [ResourceType {
            name: "share".into(),
            permissions: vec!["read".into(), "write".into()]
        }]
    );
    let s = settings(&text);
    assert_eq!(s.command, Path::new("/usr/local/lib/jit/share-acl"));
    // Arguments are kept as written, repeats included.
    assert_eq!(s.args, ["--config", "/etc/jit/share.json", "--config"]);
    assert_eq!(s.timeout, Duration::from_secs(120));
    assert_eq!(
        s.env,
        [
            ("SHARE_ROOT".to_owned(), "/srv/share".to_owned()),
            ("API_URL".to_owned(), "https://api.internal".to_owned()),
        ]
    );
}

#[test]
fn defaults() {
    let s = settings(&exec(""));
    assert!(s.args.is_empty());
    assert_eq!(s.timeout, Duration::from_secs(30));
    assert!(s.env.is_empty());
    for (timeout, secs) in [("1s", 1), ("10m", 600)] {
        let s = settings(&exec(&format!("timeout = \"{timeout}\"\n")));
        assert_eq!(s.timeout, Duration::from_secs(secs));
    }
}

#[test]
fn command_and_resource_types_are_required() {
    let found = problems(&integ("exec", ""));
    assert_eq!(found.len(), 2, "{}", lines(&found));
    has_problem(
        &found,
        1,
        "integration \"x\" has no command",
        "the absolute path of the executable jitd runs",
    );
    has_problem(
        &found,
        1,
        "integration \"x\" has no resource_types",
        "add resource_types = { share = [\"read\", \"write\"] }",
    );
    one_problem(
        &integ(
            "exec",
            "command = \"share-acl\"\nresource_types = { share = [\"read\"] }\n",
        ),
        4,
        "command \"share-acl\" is not an absolute path",
        "starting with \"/\"",
    );
    one_problem(
        &integ("exec", "command = \"/x\"\nresource_types = {}\n"),
        5,
        "resource_types is empty",
        "name at least one resource type",
    );
    one_problem(
        &integ(
            "exec",
            "command = \"/x\"\nresource_types = { Share = [\"read\"] }\n",
        ),
        5,
        "resource type \"Share\" is not a valid name",
        "lower-case",
    );
}

#[test]
fn timeout_bounds() {
    one_problem(
        &exec("timeout = \"500ms\"\n"),
        6,
        "integration \"x\": timeout 500ms is shorter than a second",
        "use a timeout from \"1s\" to \"10m\", or remove timeout for 30s",
    );
    one_problem(
        &exec("timeout = \"11m\"\n"),
        6,
        "timeout 11m is longer than 10 minutes",
        "from \"1s\" to \"10m\"",
    );
    one_problem(
        &exec("timeout = \"soon\"\n"),
        6,
        "timeout \"soon\" is not a duration",
        "\"30m\"",
    );
}

#[test]
fn args_and_env() {
    one_problem(
        &exec("args = [\"ok\", \"a\\u0000b\"]\n"),
        6,
        "an argument in args contains a NUL character",
        "remove the \\u0000",
    );
    let text = exec(
        "[integrations.env]
GOOD = \"1\"
\"BAD-NAME\" = \"1\"
TOKEN = \"hunter2\\u0000\"
",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{}", lines(&found));
    has_problem(
        &found,
        8,
        "environment variable name \"BAD-NAME\" is not a valid name",
        "use letters, digits and \"_\", not starting with a digit",
    );
    has_problem(
        &found,
        9,
        "environment variable \"TOKEN\" has a value with a NUL character",
        "remove the \\u0000",
    );
    let error = parse(&text).expect_err("invalid");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    one_problem(&exec("env = {}\n"), 6, "env is empty", "or remove env");
}

#[test]
fn flows_use_the_declared_types() {
    let config = valid(&with_flow(
        &exec(""),
        "resource_types = [\"share\"]\nresources = [\"/srv/share/*\"]\npermissions = [\"read\"]\n",
    ));
    assert_eq!(config.flows[0].resources, ["/srv/share/*"]);
}
