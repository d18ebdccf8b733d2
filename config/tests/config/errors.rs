//! Every class of problem: reported at the right line, with a fix; all of them at once.

use std::path::Path;
use std::time::Duration;

use jit_config::ConfigError;

use crate::support::{DEMO, flow, has_problem, lines, one_problem, problems, valid};

/// The keys of a valid flow on `demo`, to which a test adds or changes one.
const BASE: &str =
    "name = \"f\"\nrequesters = [\"*\"]\nintegration = \"demo\"\nmax_duration = \"4h\"\n";

/// A valid flow on `demo` with `extra` keys after the base ones (first extra key: line 11).
fn flow_with(extra: &str) -> String {
    flow(&format!("{BASE}{extra}"))
}

#[test]
fn display_is_one_line_per_problem_with_the_fix() {
    let text = r#"[[integrations]]
name = "pg-main"
kind = "postgres"
url = "postgres://postgres@127.0.0.1:5432/postgres"

[[integrations]]
name = "demo"
kind = "dry-run"

[[flows]]
name = "pg-write"
requesters = ["*"]
max_duration = "1h"
integration = "pg-mian"
"#;
    let error = crate::support::parse(text).expect_err("invalid");
    assert_eq!(
        error.to_string(),
        "/etc/jit/jit.toml:14:15: flow \"pg-write\" names integration \"pg-mian\", which is not configured (fix: use one of: pg-main, demo)"
    );
}

#[test]
fn all_problems_are_reported_in_file_order() {
    let text = r#"
[daemon]
socket_mode = "999"
pending_ttl = "0s"

[[integrations]]
name = "Bad Name"
kind = "dry-run"

[[flows]]
name = "f"
requesters = [""]
integration = "nope"
max_duration = "forever"
approval = "sometimes"
"#;
    let found = problems(text);
    assert_eq!(found.len(), 7, "{}", lines(&found));
    let order: Vec<usize> = found.iter().map(|p| p.line).collect();
    assert_eq!(order, [3, 4, 7, 12, 13, 14, 15]);
}

#[test]
fn toml_syntax_error() {
    one_problem(
        "[daemon]\nadmins = [\"root\"\nlog = \"info\"\n",
        3,
        "invalid TOML",
        "TOML syntax",
    );
    one_problem("a = 1\na = 2\n", 2, "invalid TOML", "TOML syntax");
}

#[test]
fn unknown_keys_are_all_reported_with_the_allowed_keys() {
    let text = "[daemon]\nadmin = [\"root\"]\n\n[[integrations]]\nname = \"demo\"\nkind = \"dry-run\"\nmesage = \"hi\"\n\n[extra]\n";
    let found = problems(text);
    assert_eq!(found.len(), 3, "{}", lines(&found));
    has_problem(
        &found,
        2,
        "unknown key \"admin\" in [daemon]",
        "did you mean \"admins\"? the keys of [daemon] are: admins, pending_ttl, socket_mode, log, expiry_warnings",
    );
    has_problem(
        &found,
        7,
        "unknown key \"mesage\" in integration \"demo\"",
        "did you mean \"message\"?",
    );
    has_problem(
        &found,
        9,
        "unknown key \"extra\"",
        "the keys of the top level of the file are: daemon, integrations, flows",
    );
}

#[test]
fn unknown_keys_do_not_hide_other_problems() {
    let found = problems(&flow_with("colour = \"red\"\napproval = \"sometimes\"\n"));
    has_problem(
        &found,
        11,
        "unknown key \"colour\"",
        "the keys of [[flows]] are",
    );
    has_problem(
        &found,
        12,
        "approval \"sometimes\" is not auto or manual",
        "use \"auto\" or \"manual\"",
    );
}

#[test]
fn wrong_types_name_the_key_and_what_it_must_be() {
    one_problem(
        "[daemon]\nadmins = \"root\"\n",
        2,
        "[daemon]: wrong type for admins (found a string)",
        "write admins as a list of principals",
    );
    one_problem(
        "[daemon]\nadmins = [\"root\", 5]\n",
        2,
        "wrong type for admins (found an integer)",
        "a list of principals",
    );
    one_problem(
        "[daemon]\nsocket_mode = 0o660\n",
        2,
        "wrong type for socket_mode",
        "string of octal digits",
    );
    one_problem(
        &flow_with("approvals_required = \"2\"\n"),
        11,
        "flow \"f\": wrong type for approvals_required (found a string)",
        "a whole number",
    );
    one_problem(
        "[flows]\nname = \"x\"\n",
        1,
        "wrong type for flows (found a table)",
        "[[flows]]",
    );
    one_problem(
        "[[integrations]]\nname = \"d\"\nkind = \"dry-run\"\nresource_types = { t = \"read\" }\n",
        4,
        "integration \"d\": wrong type for resource_types (found a string)",
        "{ database = [\"read\", \"write\"] }",
    );
}

#[test]
fn names() {
    one_problem(
        "[[integrations]]\nkind = \"dry-run\"\n",
        1,
        "integration #1 has no name",
        "add name =",
    );
    one_problem(
        "[[integrations]]\nname = \"Pg Main\"\nkind = \"dry-run\"\n",
        2,
        "name \"Pg Main\" is not a valid name",
        "lower-case letters",
    );
    one_problem(
        &flow(&BASE.replace("name = \"f\"", "name = \"\"")),
        7,
        "name \"\" is not a valid name",
        "lower-case",
    );
    one_problem(
        &flow(&BASE.replace("name = \"f\"\n", "")),
        6,
        "flow #1 has no name",
        "add name =",
    );
}

#[test]
fn duplicate_names_point_at_the_second_and_name_the_first_line() {
    let text = format!("{DEMO}\n[[integrations]]\nname = \"demo\"\nkind = \"dry-run\"\n");
    one_problem(
        &text,
        7,
        "integration name \"demo\" is already used on line 3",
        "own name",
    );

    let text = format!("{}\n[[flows]]\n{BASE}", flow(BASE));
    one_problem(
        &text,
        13,
        "flow name \"f\" is already used on line 7",
        "give each flow its own name",
    );
}

#[test]
fn integration_kinds() {
    one_problem(
        "[[integrations]]\nname = \"x\"\n",
        1,
        "integration \"x\" has no kind",
        "add kind = \"...\", one of: \"postgres\", \"mariadb\", \"redis\", \"unix-group\", \"sudo\", \"ssh\", \"exec\", \"dry-run\"",
    );
    one_problem(
        "[[integrations]]\nname = \"x\"\nkind = \"postgress\"\n",
        3,
        "kind \"postgress\" is not a known kind",
        "did you mean \"postgres\"?",
    );
    one_problem(
        "[[integrations]]\nname = \"x\"\nkind = \"dry-run\"\nrole_prefix = \"jit_\"\n",
        4,
        "is of kind dry-run, which takes no role_prefix",
        "remove role_prefix",
    );
    one_problem(
        "[[integrations]]\nname = \"x\"\nkind = \"postgres\"\nurl = \"postgres://h/db\"\nresource_types = { t = [\"p\"] }\n",
        5,
        "is of kind postgres, which takes no resource_types",
        "remove resource_types",
    );
}

/// A postgres integration `pg` with `keys` (first key: line 4).
fn pg(keys: &str) -> String {
    format!("[[integrations]]\nname = \"pg\"\nkind = \"postgres\"\n{keys}")
}

#[test]
fn postgres_settings() {
    one_problem(
        &pg(""),
        1,
        "integration \"pg\" has no admin connection URL",
        "add one of url, url_env or url_file",
    );
    one_problem(
        &pg("url = \"postgres://h/db\"\nurl_env = \"PG_MAIN_URL\"\n"),
        5,
        "sets both url and url_env",
        "exactly one of",
    );
    one_problem(
        &pg("url = \"mysql://h/db\"\n"),
        4,
        "url is not a postgres:// URL",
        "postgres://USER",
    );
    one_problem(&pg("url = \"\"\n"), 4, "url is empty", "postgres://USER");
    one_problem(
        &pg("url_env = \"NO_SUCH_VAR\"\n"),
        4,
        "environment variable NO_SUCH_VAR (url_env) is not set",
        "set NO_SUCH_VAR in jitd's environment",
    );
    one_problem(
        &pg("url_env = \"EMPTY\"\n"),
        4,
        "environment variable EMPTY (url_env) is empty",
        "postgres://USER",
    );
    one_problem(
        &pg("url_env = \"\"\n"),
        4,
        "is not an environment variable name",
        "PG_MAIN_URL",
    );
    one_problem(
        &pg("url_file = \"/nonexistent/pg.url\"\n"),
        4,
        "cannot read url_file /nonexistent/pg.url",
        "create it",
    );
    one_problem(
        &pg("url = \"postgres://h/db\"\nrole_prefix = \"Jit-\"\n"),
        5,
        "role_prefix \"Jit-\" is not a valid role prefix",
        "1 to 16",
    );
    one_problem(
        &pg("url = \"postgres://h/db\"\nclient_port = 70000\n"),
        5,
        "client_port 70000 is not a port number",
        "1 to 65535",
    );
    one_problem(
        &pg("url = \"postgres://h/db\"\nclient_host = \"\"\n"),
        5,
        "client_host \"\" is not a host name",
        "host name",
    );
    one_problem(
        &pg("url = \"postgres://h/db\"\nmessage = \" \"\n"),
        5,
        "message is empty",
        "remove message",
    );

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("empty.url"), "\n").expect("write");
    let error = jit_config::parse(
        &pg("url_file = \"empty.url\"\n"),
        &dir.path().join("jit.toml"),
    )
    .expect_err("empty url_file");
    let [problem] = error.problems() else {
        panic!("{error}")
    };
    assert_eq!(problem.line, 4);
    assert!(problem.message.contains("empty.url is empty"), "{problem}");
}

/// A url_file that is no regular file (a FIFO nobody writes to, a device such as /dev/zero)
/// would hang or fill memory while the config is read: it is refused without being opened.
#[test]
fn a_url_file_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("pg.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    // /dev/null rather than /dev/zero: should the check go, it fails this test instead of
    // filling memory.
    for file in [fifo.display().to_string(), "/dev/null".to_owned()] {
        let text = pg(&format!("url_file = \"{file}\"\n"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(jit_config::parse(&text, Path::new("/etc/jit/jit.toml")));
        });
        let error = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("reading url_file {file} did not finish"))
            .expect_err("a url_file that is no regular file");
        let [problem] = error.problems() else {
            panic!("{error}")
        };
        assert_eq!(problem.line, 4);
        assert!(
            problem
                .message
                .contains(&format!("url_file {file} is not a regular file")),
            "{problem}"
        );
    }
}

#[test]
fn dry_run_resource_types() {
    let demo = |types: &str| {
        format!("[[integrations]]\nname = \"d\"\nkind = \"dry-run\"\nresource_types = {types}\n")
    };
    one_problem(
        &demo("{}"),
        4,
        "resource_types is empty",
        "remove resource_types",
    );
    one_problem(
        &demo("{ Tables = [\"read\"] }"),
        4,
        "resource type \"Tables\" is not a valid name",
        "lower-case",
    );
    one_problem(
        &demo("{ t = [] }"),
        4,
        "resource type \"t\" has no permissions",
        "[\"read\", \"write\"]",
    );
    one_problem(
        &demo("{ t = [\"Read\"] }"),
        4,
        "permission \"Read\" is not a valid name",
        "lower-case",
    );
}

#[test]
fn flow_requesters() {
    one_problem(
        &flow(&BASE.replace("requesters = [\"*\"]\n", "")),
        6,
        "flow \"f\" has no requesters",
        "add requesters",
    );
    one_problem(
        &flow(&BASE.replace("[\"*\"]", "[]")),
        8,
        "requesters is an empty list",
        "\"%dev\"",
    );
    let found = problems(&flow(
        &BASE.replace("[\"*\"]", "[\"\", \"% \", \"al ice\", \"a*\"]"),
    ));
    assert_eq!(found.len(), 4, "{}", lines(&found));
    has_problem(
        &found,
        8,
        "requesters entry \"\" is empty",
        "a user name (\"alice\"), a group (\"%dev\"), or \"*\"",
    );
    has_problem(
        &found,
        8,
        "requesters entry \"% \" names no group",
        "a group",
    );
    has_problem(
        &found,
        8,
        "requesters entry \"al ice\" contains white space",
        "a user name",
    );
    has_problem(
        &found,
        8,
        "requesters entry \"a*\" has a wildcard",
        "\"*\" for anyone",
    );
}

#[test]
fn flow_integration_and_what_it_covers() {
    one_problem(
        &flow(&BASE.replace("integration = \"demo\"\n", "")),
        6,
        "flow \"f\" names no integration",
        "one of: demo",
    );
    one_problem(
        &flow(&BASE.replace("\"demo\"", "\"dmeo\"")),
        9,
        "names integration \"dmeo\", which is not configured",
        "use one of: demo",
    );
    one_problem(
        &flow_with("resource_types = [\"database\"]\n"),
        11,
        "resource type \"database\" is not a resource type of integration \"demo\"",
        "use one of: resource",
    );
    one_problem(
        &flow_with("resource_types = []\n"),
        11,
        "resource_types is an empty list",
        "remove resource_types",
    );
    one_problem(
        &flow_with("permissions = [\"read\", \"admin\"]\n"),
        11,
        "permission \"admin\" is not a permission of resource type resource",
        "use one of: read, write",
    );
    one_problem(
        &flow_with("resources = []\n"),
        11,
        "resources is an empty list",
        "list at least one",
    );
    one_problem(
        &flow_with("resources = [\"orders\", \" \"]\n"),
        11,
        "resource pattern \" \" is empty",
        "\"report_*\"",
    );
}

#[test]
fn flow_approval() {
    one_problem(
        &flow_with("approval = \"manuel\"\n"),
        11,
        "approval \"manuel\" is not auto or manual",
        "did you mean \"manual\"?",
    );
    one_problem(
        &flow_with("approval = \"manual\"\n"),
        11,
        "is approved manually but names no approvers",
        "add approvers",
    );
    one_problem(
        &flow_with("approvers = []\n"),
        11,
        "approvers is an empty list",
        "approval = \"auto\"",
    );
    one_problem(
        &flow_with("approval = \"auto\"\napprovers = [\"bob\"]\n"),
        12,
        "is approved automatically, so approvers has no effect",
        "remove approvers",
    );
    one_problem(
        &flow_with("approval = \"auto\"\napprovals_required = 2\n"),
        12,
        "so approvals_required has no effect",
        "remove approvals_required",
    );
    one_problem(
        &flow_with("approvers = [\"%dba\"]\napprovals_required = 0\n"),
        12,
        "approvals_required 0 is not a positive number",
        "at least 1",
    );
    one_problem(
        &flow_with("approvers = [\"bob\", \"carol\"]\napprovals_required = 3\n"),
        12,
        "needs 3 approvals but names only 2 approvers",
        "at most 2",
    );
    // Groups can hold any number of approvers.
    crate::support::valid(&flow_with(
        "approvers = [\"bob\", \"%dba\"]\napprovals_required = 3\n",
    ));
    one_problem(
        &flow_with("pending_ttl = \"10m\"\n"),
        11,
        "is approved automatically, so its requests never wait and pending_ttl has no effect",
        "remove pending_ttl",
    );
}

#[test]
fn flow_durations() {
    one_problem(
        &flow(&BASE.replace("max_duration = \"4h\"\n", "")),
        6,
        "flow \"f\" has no max_duration",
        "add max_duration",
    );
    one_problem(
        &flow(&BASE.replace("\"4h\"", "\"4 hourz\"")),
        10,
        "max_duration \"4 hourz\" is not a duration",
        "\"1h 30m\"",
    );
    one_problem(
        &flow(&BASE.replace("\"4h\"", "\"0s\"")),
        10,
        "max_duration is zero",
        "more than zero",
    );
    one_problem(
        &flow(&BASE.replace("\"4h\"", "\"367d\"")),
        10,
        "max_duration \"367d\" is longer than 366 days",
        "at most 366 days",
    );
    crate::support::valid(&flow(&BASE.replace("\"4h\"", "\"366d\"")));
    one_problem(
        &flow_with("default_duration = \"5h\"\n"),
        11,
        "default_duration 5h is longer than max_duration 4h",
        "lower default_duration to at most 4h",
    );
    one_problem(
        &flow_with("approvers = [\"%dba\"]\npending_ttl = \"soon\"\n"),
        12,
        "pending_ttl \"soon\" is not a duration",
        "\"30m\"",
    );
}

#[test]
fn flow_justification() {
    one_problem(
        &flow_with("justification = \"requried\"\n"),
        11,
        "justification \"requried\" is not required or optional",
        "did you mean \"required\"?",
    );
    one_problem(
        &flow_with("justification_pattern = \"INC-[0-9\"\n"),
        11,
        "justification_pattern is not a valid regular expression: unclosed character class",
        "correct the expression",
    );
    one_problem(
        &flow_with("justification_pattern = \"\"\n"),
        11,
        "justification_pattern is empty",
        "INC-[0-9]+",
    );
    one_problem(
        &flow_with("justification = \"optional\"\njustification_pattern = \"INC-[0-9]+\"\n"),
        11,
        "justification is optional, but justification_pattern requires one",
        "remove justification",
    );
}

#[test]
fn daemon_section() {
    one_problem(
        "[daemon]\nsocket_mode = \"0999\"\n",
        2,
        "socket_mode \"0999\" is not a file mode",
        "\"0660\"",
    );
    one_problem(
        "[daemon]\nsocket_mode = \"4755\"\n",
        2,
        "is not a file mode",
        "at most \"0777\"",
    );
    one_problem(
        "[daemon]\nlog = \"\"\n",
        2,
        "[daemon]: log is empty",
        "remove log",
    );
    one_problem(
        "[daemon]\npending_ttl = \"0m\"\n",
        2,
        "[daemon]: pending_ttl is zero",
        "more than zero",
    );
    one_problem(
        "[daemon]\nadmins = [\"root\", \"\"]\n",
        2,
        "admins entry \"\" is empty",
        "a user name",
    );
}

#[test]
fn the_metrics_textfile_mode_is_a_file_mode_0644_by_default() {
    assert_eq!(valid("").daemon.metrics_textfile_mode, 0o644);
    let config = valid("[daemon]\nmetrics_textfile_mode = \"0640\"\n");
    assert_eq!(config.daemon.metrics_textfile_mode, 0o640);
    one_problem(
        "[daemon]\nmetrics_textfile_mode = \"rw-r-----\"\n",
        2,
        "[daemon]: metrics_textfile_mode \"rw-r-----\" is not a file mode",
        "like \"0640\"",
    );
}

#[test]
fn expiry_warnings_are_durations_longest_first() {
    let config = valid("");
    assert_eq!(
        config.daemon.expiry_warnings,
        vec![Duration::from_secs(600), Duration::from_secs(60)]
    );
    let config = valid("[daemon]\nexpiry_warnings = [\"1s\", \"1h\", \"5m\"]\n");
    assert_eq!(
        config.daemon.expiry_warnings,
        vec![
            Duration::from_secs(3600),
            Duration::from_secs(300),
            Duration::from_secs(1)
        ]
    );
    assert!(
        valid("[daemon]\nexpiry_warnings = []\n")
            .daemon
            .expiry_warnings
            .is_empty()
    );
    one_problem(
        "[daemon]\nexpiry_warnings = [\"10m\", \"soon\"]\n",
        2,
        "[daemon]: expiry_warnings entry \"soon\" is not a duration",
        "\"30m\"",
    );
    one_problem(
        "[daemon]\nexpiry_warnings = [\"10m\", \"600s\"]\n",
        2,
        "expiry_warnings names \"600s\" twice",
        "remove the repeated duration",
    );
    one_problem(
        "[daemon]\nexpiry_warnings = [\"0s\"]\n",
        2,
        "expiry_warnings entry is zero",
        "more than zero",
    );
    one_problem(
        "[daemon]\nexpiry_warnings = [\"1m\",\"2m\",\"3m\",\"4m\",\"5m\",\"6m\",\"7m\",\"8m\",\"9m\"]\n",
        2,
        "expiry_warnings has 9 durations; at most 8",
        "[\"10m\", \"1m\"]",
    );
    one_problem(
        "[daemon]\nexpiry_warnings = \"10m\"\n",
        2,
        "wrong type for expiry_warnings",
        "list of durations",
    );
}

#[test]
fn columns_point_at_the_value() {
    let problem = one_problem(
        "[daemon]\n  log   =   \"\"\n",
        2,
        "log is empty",
        "remove log",
    );
    assert_eq!(problem.column, 13);
    let problem = one_problem(
        "[daemon]\nbogus = 1\n",
        2,
        "unknown key",
        "keys of [daemon]",
    );
    assert_eq!(problem.column, 1);
}

#[test]
fn an_unreadable_file_names_the_path() {
    let error = jit_config::load(Path::new("/nonexistent/jit.toml")).expect_err("missing");
    assert!(matches!(error, ConfigError::Read { .. }), "{error:?}");
    assert!(error.problems().is_empty());
    let text = error.to_string();
    assert!(
        text.starts_with("/nonexistent/jit.toml: cannot read the config file: "),
        "{text}"
    );
    assert!(text.contains("(fix: create it"), "{text}");
}
