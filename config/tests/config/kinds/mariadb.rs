//! `kind = "mariadb"`.

use jit_config::{IntegrationKind, MariadbSettings, ResourceType};

use super::{integ, line_of, with_flow};
use crate::support::{PASSWORD, has_problem, lines, one_problem, parse, problems, valid};

/// A mariadb integration `x` with `url = "mysql://root@127.0.0.1"` and `keys` (from line 5).
fn maria(keys: &str) -> String {
    integ(
        "mariadb",
        &format!("url = \"mysql://root@127.0.0.1\"\n{keys}"),
    )
}

fn settings(text: &str) -> MariadbSettings {
    let config = valid(text);
    match &config.integrations[0].kind {
        IntegrationKind::Mariadb(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_key_reads_back() {
    let text = integ(
        "mariadb",
        "url_env = \"MARIADB_URL\"
user_prefix = \"tmp_\"
user_host = \"10.0.0.%\"
client_host = \"db.example.com\"
client_port = 3307
[integrations.privileges]
ops = \"select, lock tables, execute\"
audit = \"SELECT, SHOW VIEW\"
",
    );
    let config = valid(&text);
    let i = &config.integrations[0];
    assert_eq!(i.kind.name(), "mariadb");
    // The extras follow read and write, in file order.
    assert_eq!(
        i.resource_types,
        [ResourceType {
            name: "database".into(),
            permissions: vec!["read".into(), "write".into(), "ops".into(), "audit".into()],
        }]
    );
    let IntegrationKind::Mariadb(s) = &i.kind else {
        panic!("{:?}", i.kind)
    };
    assert_eq!(
        s.url.expose(),
        format!("mysql://jit_admin:{PASSWORD}@127.0.0.1:3306")
    );
    assert_eq!(s.user_prefix, "tmp_");
    assert_eq!(s.user_host, "10.0.0.%");
    assert_eq!(s.client_host.as_deref(), Some("db.example.com"));
    assert_eq!(s.client_port, Some(3307));
    assert_eq!(
        s.privileges,
        [
            ("ops".to_owned(), "SELECT, LOCK TABLES, EXECUTE".to_owned()),
            ("audit".to_owned(), "SELECT, SHOW VIEW".to_owned()),
        ]
    );
    // The Debug output of the settings hides the URL.
    let shown = format!("{s:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
}

#[test]
fn defaults() {
    let s = settings(&maria(""));
    assert_eq!(s.url.expose(), "mysql://root@127.0.0.1");
    assert_eq!(s.user_prefix, "jit_");
    assert_eq!(s.user_host, "%");
    assert_eq!(s.client_host, None);
    assert_eq!(s.client_port, None);
    assert!(s.privileges.is_empty());
    let config = valid(&maria(""));
    assert_eq!(
        config.integrations[0].resource_types[0].permissions,
        ["read", "write"]
    );
}

#[test]
fn the_admin_url() {
    one_problem(
        &integ("mariadb", ""),
        1,
        "integration \"x\" has no admin connection URL",
        "add one of url, url_env or url_file",
    );
    let mysql = "mysql://USER[:PASSWORD]@HOST[:PORT][/DATABASE]";
    for (url, why) in [
        ("postgres://root@h/db", "url is not a mysql:// URL"),
        ("mysql://h:3306", "url names no user"),
        ("mysql://root@", "url names no host"),
        (
            "mysql://root@h:0",
            "a port that is not a number from 1 to 65535",
        ),
        (
            "mysql://root@h:99999",
            "a port that is not a number from 1 to 65535",
        ),
        ("mysql://root@h/db?ssl=1", "a query or fragment"),
        ("mysql://root:a%zz@h", "not followed by two hex digits"),
    ] {
        one_problem(
            &integ("mariadb", &format!("url = \"{url}\"\n")),
            4,
            why,
            mysql,
        );
    }
    one_problem(
        &integ("mariadb", "url_env = \"PG_MAIN_URL\"\n"),
        4,
        "environment variable PG_MAIN_URL (url_env) is not a mysql:// URL (the value is not shown",
        "mysql://USER",
    );
    one_problem(
        &integ(
            "mariadb",
            "url = \"mysql://root@h\"\nurl_env = \"MARIADB_URL\"\n",
        ),
        5,
        "sets both url and url_env",
        "exactly one",
    );
}

#[test]
fn url_problems_never_show_the_password() {
    for url in [
        format!("mysql://root:{PASSWORD}@h:0/db"),
        format!("mysql://root:{PASSWORD}@/db"),
        format!("mysql://root:{PASSWORD}@h/a/b"),
        format!("mysql://root:{PASSWORD}#@h"),
        format!("mysql://root:{PASSWORD}%@h"),
        format!("mysql://:{PASSWORD}@h"),
        format!("postgres://root:{PASSWORD}@h"),
    ] {
        let error = parse(&integ("mariadb", &format!("url = \"{url}\"\n"))).expect_err(&url);
        let shown = format!("{error}\n{error:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("the value is not shown"), "{shown}");
    }
}

#[test]
fn accounts() {
    one_problem(
        &maria("user_prefix = \"jit_tmp_users\"\n"),
        5,
        "user_prefix \"jit_tmp_users\" is not a valid user prefix",
        "use 1 to 12 lower-case letters",
    );
    one_problem(
        &maria("user_prefix = \"Jit\"\n"),
        5,
        "is not a valid user prefix",
        "like \"jit_\"",
    );
    assert_eq!(
        settings(&maria("user_prefix = \"abcdefghijkl\"\n")).user_prefix,
        "abcdefghijkl"
    );
    for host in [
        "localhost",
        "%",
        "10.0.0.%",
        "db-1.example.com",
        "::1",
        "10.0.0.0/255.0.0.0",
    ] {
        assert_eq!(
            settings(&maria(&format!("user_host = \"{host}\"\n"))).user_host,
            host
        );
    }
    for host in ["", "a b", "'%'", "h@x"] {
        one_problem(
            &maria(&format!("user_host = \"{host}\"\n")),
            5,
            "user_host",
            "use \"%\" (any host, the default), \"localhost\"",
        );
    }
    one_problem(
        &maria("client_port = 0\n"),
        5,
        "client_port 0 is not a port number",
        "1 to 65535",
    );
    one_problem(
        &maria("client_host = \" \"\n"),
        5,
        "client_host \" \" is not a host name",
        "or remove client_host",
    );
}

#[test]
fn privileges() {
    // Inline, too.
    let s = settings(&maria("privileges = { audit = \"show view\" }\n"));
    assert_eq!(s.privileges, [("audit".to_owned(), "SHOW VIEW".to_owned())]);

    let text = maria(
        "[integrations.privileges]
read = \"SELECT\"
Audit = \"SELECT\"
ddl = \"\"
ops = \"SELECT, GRANT OPTION\"
dump = \"SELECT (id)\"
super = \"SUPER\"
typo = \"SELCT, INSERT\"
ok = \"SELECT\"
",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 7, "{}", lines(&found));
    has_problem(
        &found,
        6,
        "privilege set \"read\" has the name of a built-in permission",
        "give it another name; read and write are built in",
    );
    has_problem(
        &found,
        7,
        "privilege set name \"Audit\" is not a valid name",
        "lower-case letters",
    );
    has_problem(
        &found,
        8,
        "privilege set \"ddl\" is an empty privilege list",
        "like \"SELECT, SHOW VIEW\"",
    );
    has_problem(
        &found,
        9,
        "privilege set \"ops\" has GRANT OPTION, which would let the user give its privileges to other accounts",
        "remove GRANT OPTION",
    );
    has_problem(
        &found,
        10,
        "privilege set \"dump\" has \"(\" in its privilege list, which takes only letters, spaces, commas and \"_\"",
        "no column lists",
    );
    has_problem(
        &found,
        11,
        "privilege set \"super\" has SUPER, which is not a privilege that MariaDB grants on a database",
        "use privileges of a database: ALL, ALL PRIVILEGES, ALTER",
    );
    has_problem(
        &found,
        12,
        "has SELCT, which is not a privilege",
        "did you mean \"SELECT\"?",
    );

    one_problem(
        &maria("privileges = {}\n"),
        5,
        "integration \"x\": privileges is empty",
        "add an entry like audit = \"SELECT, SHOW VIEW\", or remove privileges",
    );
}

#[test]
fn flows_and_bundles_use_the_extra_permissions() {
    let integration = maria("privileges = { audit = \"SELECT, SHOW VIEW\" }\n");
    let config = valid(&with_flow(
        &integration,
        "permissions = [\"read\", \"audit\"]\n",
    ));
    assert_eq!(config.flows[0].permissions, ["read", "audit"]);
    // By default a flow allows all of them.
    let config = valid(&with_flow(&integration, ""));
    assert_eq!(config.flows[0].permissions, ["read", "write", "audit"]);

    let text = with_flow(&integration, "permissions = [\"audti\"]\n");
    one_problem(
        &text,
        line_of(&text, "audti"),
        "permission \"audti\" is not a permission of resource type database",
        "use one of: read, write, audit",
    );

    let bundle = format!(
        "{integration}\n[[bundles]]\nname = \"b\"\n[[bundles.entries]]\nintegration = \"x\"\nresource_type = \"database\"\nresources = [\"app\"]\npermissions = [\"audit\"]\n"
    );
    let config = valid(&bundle);
    assert_eq!(config.bundles[0].entries[0].permissions, ["audit"]);
}

#[test]
fn a_broken_privilege_set_does_not_confuse_flows() {
    // The integration's problem is reported once; its flows are not checked against a list of
    // permissions that is not known.
    let text = with_flow(
        &maria("privileges = { audit = \"NOPE\" }\n"),
        "permissions = [\"audit\"]\n",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{}", lines(&found));
    has_problem(&found, 5, "has NOPE", "privileges of a database");
}
