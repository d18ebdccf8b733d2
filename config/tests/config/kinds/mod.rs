//! The settings of each kind of integration, and what holds for every kind: the keys of other
//! kinds are refused, unknown keys are listed per kind, resource lists bind flows and bundles.

mod exec;
mod host;
mod mariadb;
mod redis;

use jit_config::IntegrationKind;

use crate::support::{has_problem, lines, one_problem, problems, valid};

/// An integration `x` of `kind` with `keys` (the first key is on line 4).
pub fn integ(kind: &str, keys: &str) -> String {
    format!("[[integrations]]\nname = \"x\"\nkind = \"{kind}\"\n{keys}")
}

/// The smallest valid settings of each kind.
pub const MINIMAL: [(&str, &str); 8] = [
    ("postgres", "url = \"postgres://h/db\"\n"),
    ("mariadb", "url = \"mysql://root@127.0.0.1\"\n"),
    ("redis", "url = \"redis://127.0.0.1\"\n"),
    ("unix-group", "groups = [\"deploy\"]\n"),
    ("sudo", "commands = { reboot = \"/usr/sbin/reboot\" }\n"),
    (
        "ssh",
        "krl = \"/etc/ssh/jit.krl\"\nprincipals = [\"deploy\"]\n",
    ),
    (
        "exec",
        "command = \"/usr/local/bin/grant\"\nresource_types = { share = [\"read\"] }\n",
    ),
    ("dry-run", "\n"),
];

/// A flow `f` on integration `x` with `keys`, after `integration` (whose lines it follows).
pub fn with_flow(integration: &str, keys: &str) -> String {
    format!(
        "{integration}\n[[flows]]\nname = \"f\"\nrequesters = [\"*\"]\nintegration = \"x\"\nmax_duration = \"1h\"\n{keys}"
    )
}

/// The 1-based line of the first line of `text` that contains `needle`.
#[track_caller]
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not in:\n{text}"))
        + 1
}

#[test]
fn every_kind_has_its_name() {
    for (kind, keys) in MINIMAL {
        let config = valid(&integ(kind, keys));
        let integration = &config.integrations[0];
        assert_eq!(integration.kind.name(), kind);
        assert!(!integration.resource_types.is_empty(), "{kind}");
    }
}

#[test]
fn an_unknown_kind_suggests_the_closest() {
    one_problem(
        &integ("unix_group", ""),
        3,
        "kind \"unix_group\" is not a known kind",
        "did you mean \"unix-group\"? the kinds are: \"postgres\", \"mariadb\", \"redis\", \"unix-group\", \"sudo\", \"ssh\", \"exec\", \"dry-run\"",
    );
    one_problem(
        &integ("mysql", ""),
        3,
        "kind \"mysql\" is not a known kind",
        "the kinds are: \"postgres\", \"mariadb\"",
    );
}

#[test]
fn unknown_keys_list_the_keys_of_the_kind() {
    let text = integ("sudo", "commands = { a = \"/bin/a\" }\nrunas = \"root\"\n");
    one_problem(
        &text,
        5,
        "unknown key \"runas\" in integration \"x\"",
        "did you mean \"run_as\"? the keys of a sudo integration are: name, kind, message, commands, sudoers_dir, run_as",
    );
    // Of an unknown kind: every key.
    let found = problems(&integ("sudoo", "runas = \"root\"\n"));
    has_problem(
        &found,
        4,
        "unknown key \"runas\"",
        "the keys of [[integrations]] are: name, kind, message, browser_url",
    );
}

#[test]
fn keys_of_other_kinds_are_refused() {
    one_problem(
        &integ(
            "mariadb",
            "url = \"mysql://root@h\"\nrole_prefix = \"jit_\"\n",
        ),
        5,
        "integration \"x\" is of kind mariadb, which takes no role_prefix",
        "remove role_prefix; a mariadb integration names its users with user_prefix",
    );
    one_problem(
        &integ(
            "postgres",
            "url = \"postgres://h/db\"\nuser_prefix = \"jit_\"\n",
        ),
        5,
        "is of kind postgres, which takes no user_prefix",
        "names its roles with role_prefix",
    );
    one_problem(
        &integ(
            "redis",
            "url = \"redis://h\"\nresource_types = { keys = [\"read\"] }\n",
        ),
        5,
        "takes no resource_types (its resource type is built in: keys, with read, write and the names in command_sets)",
        "add permissions with an [integrations.command_sets] table",
    );
    one_problem(
        &integ(
            "mariadb",
            "url = \"mysql://root@h\"\nresource_types = { t = [\"p\"] }\n",
        ),
        5,
        "built in: database, with read, write and the names in privileges",
        "[integrations.privileges]",
    );
    one_problem(
        &integ(
            "unix-group",
            "groups = [\"deploy\"]\nrotate_every = \"1h\"\n",
        ),
        5,
        "is of kind unix-group, which takes no rotate_every (it hands out no secret to rotate)",
        "remove rotate_every",
    );
    one_problem(
        &integ(
            "sudo",
            "commands = { a = \"/bin/a\" }\nbrowser_url = \"https://x/\"\n",
        ),
        5,
        "is of kind sudo, which takes no browser_url (it has no server to open in a browser)",
        "remove browser_url",
    );
    one_problem(
        &integ("ssh", "krl = \"/k\"\nprincipals = [\"a\"]\nurl = \"x\"\n"),
        6,
        "is of kind ssh, which takes no url",
        "remove url",
    );
    one_problem(
        &integ("dry-run", "groups = [\"deploy\"]\n"),
        4,
        "is of kind dry-run, which takes no groups",
        "remove groups",
    );
    // Each is reported, along with the kind's own problems.
    let found = problems(&integ(
        "unix-group",
        "groups = [\"Bad\"]\ncommands = { a = \"/bin/a\" }\nkrl = \"/k\"\n",
    ));
    assert_eq!(found.len(), 3, "{}", lines(&found));
    has_problem(&found, 4, "group \"Bad\" is not a valid name", "lower-case");
    has_problem(&found, 5, "takes no commands", "remove commands");
    has_problem(&found, 6, "takes no krl", "remove krl");
}

#[test]
fn browser_url_and_rotate_every_on_kinds_that_hand_out_secrets() {
    for (kind, keys) in MINIMAL {
        if matches!(kind, "unix-group" | "sudo") {
            continue;
        }
        let text = integ(
            kind,
            &format!("{keys}browser_url = \"https://web/?u={{user}}\"\nrotate_every = \"1d\"\n"),
        );
        let config = valid(&text);
        assert!(config.integrations[0].browser_url.is_some(), "{kind}");
        assert!(config.integrations[0].rotate_every.is_some(), "{kind}");
    }
}

#[test]
fn wrong_types_of_the_new_keys() {
    one_problem(
        &integ(
            "mariadb",
            "url = \"mysql://root@h\"\nprivileges = [\"SELECT\"]\n",
        ),
        5,
        "integration \"x\": wrong type for privileges (found a list)",
        "write privileges as a table of permission names",
    );
    one_problem(
        &integ("unix-group", "groups = \"deploy\"\n"),
        4,
        "wrong type for groups (found a string)",
        "a list of group names",
    );
    one_problem(
        &integ("sudo", "commands = { a = [\"/bin/a\"] }\n"),
        4,
        "wrong type for commands (found a list)",
        "a table of command names",
    );
    one_problem(
        &integ("exec", "command = \"/bin/x\"\ntimeout = 30\n"),
        5,
        "wrong type for timeout (found an integer)",
        "a duration like \"30s\"",
    );
}

/// The kinds' settings read back as the public API promises.
#[test]
fn settings_are_typed() {
    let config = valid(&integ(
        "unix-group",
        "groups = [\"deploy\", \"docker\", \"deploy\"]\n",
    ));
    let IntegrationKind::UnixGroup(settings) = &config.integrations[0].kind else {
        panic!("{:?}", config.integrations[0].kind)
    };
    assert_eq!(settings.groups, ["deploy", "docker"], "repeats are dropped");
}
