//! `kind = "unix-group"`, `"sudo"` and `"ssh"`: each lists what it may grant, and flows and
//! bundles may only name that.

use std::path::{Path, PathBuf};

use jit_config::{IntegrationKind, ResourceType, SshSettings, SudoSettings};

use super::{integ, line_of, with_flow};
use crate::support::{has_problem, lines, one_problem, problems, valid};

/// A bundle `b` granting `resources` of type `resource_type` with `permission` on `x`, after
/// `integration`.
fn with_bundle(
    integration: &str,
    resource_type: &str,
    resources: &str,
    permission: &str,
) -> String {
    format!(
        "{integration}\n[[bundles]]\nname = \"b\"\n[[bundles.entries]]\nintegration = \"x\"\nresource_type = \"{resource_type}\"\nresources = {resources}\npermissions = [\"{permission}\"]\n"
    )
}

// --- unix-group ---------------------------------------------------------------------------

#[test]
fn unix_group_reads_back() {
    let config = valid(&integ("unix-group", "groups = [\"deploy\", \"docker\"]\n"));
    let i = &config.integrations[0];
    assert_eq!(
        i.resource_types,
        [ResourceType {
            name: "group".into(),
            permissions: vec!["member".into()]
        }]
    );
    let IntegrationKind::UnixGroup(s) = &i.kind else {
        panic!("{:?}", i.kind)
    };
    assert_eq!(s.groups, ["deploy", "docker"]);
}

#[test]
fn unix_group_problems() {
    one_problem(
        &integ("unix-group", ""),
        1,
        "integration \"x\" has no groups",
        "add groups = [\"deploy\", \"docker\"]",
    );
    one_problem(
        &integ("unix-group", "groups = []\n"),
        4,
        "integration \"x\": groups is an empty list",
        "list the groups that may be granted",
    );
    let found = problems(&integ(
        "unix-group",
        "groups = [\"deploy\", \"Docker\", \"9lives\", \"a b\", \"%wheel\", \"abcdefghijklmnopqrstuvwxyz0123456\"]\n",
    ));
    assert_eq!(found.len(), 5, "{}", lines(&found));
    for bad in ["Docker", "9lives", "a b", "%wheel", "abcdefghij"] {
        has_problem(
            &found,
            4,
            &format!("group \"{bad}"),
            "use 1 to 32 lower-case letters, digits, \"_\" and \"-\"",
        );
    }
}

#[test]
fn unix_group_flows_name_listed_groups() {
    let integration = integ("unix-group", "groups = [\"deploy\", \"docker\"]\n");
    let config = valid(&with_flow(
        &integration,
        "resources = [\"deploy\", \"dock*\"]\n",
    ));
    assert_eq!(config.flows[0].resources, ["deploy", "dock*"]);
    assert_eq!(config.flows[0].permissions, ["member"]);
    // Without resources (every resource), and with "*".
    valid(&with_flow(&integration, ""));
    valid(&with_flow(&integration, "resources = [\"*\"]\n"));

    let text = with_flow(
        &integration,
        "resources = [\"deploy\", \"deplyo\", \"wheel*\"]\n",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{}", lines(&found));
    let line = line_of(&text, "resources =");
    has_problem(
        &found,
        line,
        "flow \"f\": resource pattern \"deplyo\" matches none of the groups of integration \"x\"",
        "did you mean \"deploy\"? use one of: deploy, docker (or add it to the integration's groups)",
    );
    has_problem(
        &found,
        line,
        "resource pattern \"wheel*\" matches none",
        "use one of: deploy, docker",
    );

    // A broken list of groups is reported once, not again for each flow.
    let text = with_flow(
        &integ("unix-group", "groups = [\"Deploy\"]\n"),
        "resources = [\"deploy\"]\n",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{}", lines(&found));
}

#[test]
fn unix_group_bundles_name_listed_groups() {
    let integration = integ("unix-group", "groups = [\"deploy\", \"docker\"]\n");
    let config = valid(&with_bundle(
        &integration,
        "group",
        "[\"docker\"]",
        "member",
    ));
    assert_eq!(config.bundles[0].entries[0].resources, ["docker"]);

    let text = with_bundle(&integration, "group", "[\"docker\", \"wheel\"]", "member");
    one_problem(
        &text,
        line_of(&text, "resources ="),
        "bundle \"b\" entry #1: resource \"wheel\" is not one of the groups of integration \"x\"",
        "use one of: deploy, docker (or add it to the integration's groups)",
    );
}

// --- sudo -------------------------------------------------------------------------------------

fn sudo(text: &str) -> SudoSettings {
    let config = valid(text);
    match &config.integrations[0].kind {
        IntegrationKind::Sudo(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sudo_reads_back() {
    let text = integ(
        "sudo",
        "sudoers_dir = \"/tmp/sudoers.d\"
run_as = \"www-data\"
[integrations.commands]
restart-nginx = \"/usr/bin/systemctl restart nginx\"
reload-nginx = \" /usr/bin/systemctl reload nginx \"
",
    );
    let config = valid(&text);
    assert_eq!(
        config.integrations[0].resource_types,
        [ResourceType {
            name: "command".into(),
            permissions: vec!["run".into()]
        }]
    );
    let s = sudo(&text);
    // File order, trimmed.
    assert_eq!(
        s.commands,
        [
            (
                "restart-nginx".to_owned(),
                "/usr/bin/systemctl restart nginx".to_owned()
            ),
            (
                "reload-nginx".to_owned(),
                "/usr/bin/systemctl reload nginx".to_owned()
            ),
        ]
    );
    assert_eq!(s.sudoers_dir, Path::new("/tmp/sudoers.d"));
    assert_eq!(s.run_as, "www-data");

    let s = sudo(&integ(
        "sudo",
        "commands = { reboot = \"/usr/sbin/reboot\" }\n",
    ));
    assert_eq!(s.sudoers_dir, Path::new("/etc/sudoers.d"));
    assert_eq!(s.run_as, "root");
}

#[test]
fn sudo_problems() {
    one_problem(
        &integ("sudo", ""),
        1,
        "integration \"x\" has no commands",
        "add an [integrations.commands] table with the commands that may be granted, like restart-nginx = \"/usr/bin/systemctl restart nginx\"",
    );
    one_problem(
        &integ("sudo", "commands = {}\n"),
        4,
        "integration \"x\": commands is empty",
        "add an entry like restart-nginx = ",
    );
    let text = integ(
        "sudo",
        "sudoers_dir = \"sudoers.d\"
run_as = \"Root\"
[integrations.commands]
two = \"/usr/bin/systemctl restart nginx, /bin/sh\"
rel = \"systemctl restart nginx\"
dir = \"/usr/bin/\"
env = \"/usr/bin/env A=b /bin/sh\"
line = \"/bin/true\\n/bin/sh\"
Bad = \"/bin/true\"
ok = \"/bin/true\"
",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 8, "{}", lines(&found));
    has_problem(
        &found,
        4,
        "sudoers_dir \"sudoers.d\" is not an absolute path",
        "like \"/etc/sudoers.d\"",
    );
    has_problem(
        &found,
        5,
        "run_as \"Root\" is not a valid name",
        "lower-case",
    );
    let script = "put the command line in a script";
    has_problem(
        &found,
        7,
        "command \"two\" contains \",\", which sudoers treats specially",
        script,
    );
    has_problem(
        &found,
        8,
        "command \"rel\" does not start with an absolute path",
        "the program's full path",
    );
    has_problem(
        &found,
        9,
        "command \"dir\" names a directory, which sudoers reads as every program in it",
        "name one program",
    );
    has_problem(&found, 10, "command \"env\" contains \"=\"", script);
    has_problem(
        &found,
        11,
        "command \"line\" contains the control character \"\\n\"",
        script,
    );
    has_problem(
        &found,
        12,
        "command name \"Bad\" is not a valid name",
        "lower-case",
    );
}

#[test]
fn sudo_flows_and_bundles_name_the_commands() {
    let integration = integ(
        "sudo",
        "commands = { restart-nginx = \"/usr/bin/systemctl restart nginx\", reload-nginx = \"/usr/bin/systemctl reload nginx\" }\n",
    );
    let config = valid(&with_flow(&integration, "resources = [\"*-nginx\"]\n"));
    assert_eq!(config.flows[0].permissions, ["run"]);
    let text = with_flow(&integration, "resources = [\"restart-apache\"]\n");
    one_problem(
        &text,
        line_of(&text, "resources ="),
        "resource pattern \"restart-apache\" matches none of the commands of integration \"x\"",
        "use one of: restart-nginx, reload-nginx",
    );
    valid(&with_bundle(
        &integration,
        "command",
        "[\"reload-nginx\"]",
        "run",
    ));
    let text = with_bundle(&integration, "command", "[\"reboot\"]", "run");
    one_problem(
        &text,
        line_of(&text, "resources ="),
        "resource \"reboot\" is not one of the commands of integration \"x\"",
        "use one of: restart-nginx, reload-nginx",
    );
}

// --- ssh --------------------------------------------------------------------------------------

fn ssh(text: &str) -> SshSettings {
    let config = valid(text);
    match &config.integrations[0].kind {
        IntegrationKind::Ssh(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ssh_reads_back() {
    let text = integ(
        "ssh",
        "ca_key = \"/etc/jit/ssh_ca\"
krl = \"/etc/ssh/jit_revoked.krl\"
principals = [\"deploy\", \"app.ops\"]
client_host = \"bastion.example.com\"
client_port = 2222
key_type = \"ecdsa\"
",
    );
    let config = valid(&text);
    assert_eq!(
        config.integrations[0].resource_types,
        [ResourceType {
            name: "login".into(),
            permissions: vec!["login".into()]
        }]
    );
    let s = ssh(&text);
    assert_eq!(s.ca_key, Some(PathBuf::from("/etc/jit/ssh_ca")));
    assert_eq!(s.krl, Path::new("/etc/ssh/jit_revoked.krl"));
    assert_eq!(s.principals, ["deploy", "app.ops"]);
    assert_eq!(s.client_host, "bastion.example.com");
    assert_eq!(s.client_port, 2222);
    assert_eq!(s.key_type, "ecdsa");

    let s = ssh(&integ("ssh", "krl = \"/k\"\nprincipals = [\"deploy\"]\n"));
    assert_eq!(s.ca_key, None);
    assert_eq!(s.client_host, "localhost");
    assert_eq!(s.client_port, 22);
    assert_eq!(s.key_type, "ed25519");
    one_problem(
        &integ(
            "ssh",
            "krl = \"/k\"\nprincipals = [\"a\"]\nkey_type = \"rsa\"\n",
        ),
        6,
        "key_type \"rsa\" is not a key type jit generates (RSA keys are not offered",
        "use \"ed25519\" (the default) or \"ecdsa\" (NIST P-256)",
    );
}

#[test]
fn ssh_problems() {
    let found = problems(&integ("ssh", ""));
    assert_eq!(found.len(), 2, "{}", lines(&found));
    has_problem(
        &found,
        1,
        "integration \"x\" has no krl",
        "add krl = \"/etc/ssh/jit_revoked.krl\": the file sshd_config names in RevokedKeys",
    );
    has_problem(
        &found,
        1,
        "integration \"x\" has no principals",
        "add principals = [\"deploy\"]",
    );

    let text = integ(
        "ssh",
        "ca_key = \"ssh_ca\"
krl = \"revoked.krl\"
principals = [\"deploy\", \"Admin\", \".x\"]
client_port = 0
key_type = \"ed2519\"
",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 6, "{}", lines(&found));
    has_problem(
        &found,
        4,
        "ca_key \"ssh_ca\" is not an absolute path",
        "starting with \"/\"",
    );
    has_problem(
        &found,
        5,
        "krl \"revoked.krl\" is not an absolute path",
        "\"/etc/ssh/jit_revoked.krl\"",
    );
    has_problem(
        &found,
        6,
        "principal \"Admin\" is not a valid name",
        "\"_\", \"-\" and \".\"",
    );
    has_problem(
        &found,
        6,
        "principal \".x\" is not a valid name",
        "starting with a letter",
    );
    has_problem(
        &found,
        7,
        "client_port 0 is not a port number",
        "1 to 65535",
    );
    has_problem(
        &found,
        8,
        "key_type \"ed2519\" is not a key type jit generates",
        "did you mean \"ed25519\"? use \"ed25519\" (the default) or \"ecdsa\" (NIST P-256)",
    );

    one_problem(
        &integ(
            "ssh",
            "ca_key = \"/etc/jit/ca\"\nkrl = \"/etc/jit/ca\"\nprincipals = [\"a\"]\n",
        ),
        5,
        "krl is the same file as ca_key",
        "give the revocation list its own file",
    );
    one_problem(
        &integ("ssh", "krl = \"/k\"\nprincipals = []\n"),
        5,
        "principals is an empty list",
        "list the principals (login names) that may be granted",
    );
}

#[test]
fn ssh_flows_name_listed_principals() {
    let integration = integ("ssh", "krl = \"/k\"\nprincipals = [\"deploy\", \"app\"]\n");
    let config = valid(&with_flow(&integration, "resources = [\"deploy\"]\n"));
    assert_eq!(config.flows[0].resource_types, ["login"]);
    assert_eq!(config.flows[0].permissions, ["login"]);
    let text = with_flow(&integration, "resources = [\"root\"]\n");
    one_problem(
        &text,
        line_of(&text, "resources ="),
        "resource pattern \"root\" matches none of the principals of integration \"x\"",
        "use one of: deploy, app (or add it to the integration's principals)",
    );
}
