//! `kind = "redis"`.

use jit_config::{IntegrationKind, RedisSettings, ResourceType};

use super::{integ, line_of, with_flow};
use crate::support::{PASSWORD, has_problem, lines, one_problem, parse, problems, valid};

/// A redis integration `x` with `url = "redis://127.0.0.1"` and `keys` (from line 5).
fn redis(keys: &str) -> String {
    integ("redis", &format!("url = \"redis://127.0.0.1\"\n{keys}"))
}

fn settings(text: &str) -> RedisSettings {
    let config = valid(text);
    match &config.integrations[0].kind {
        IntegrationKind::Redis(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_key_reads_back() {
    let text = integ(
        "redis",
        "url_env = \"REDIS_URL\"
user_prefix = \"tmp_\"
client_host = \"cache.example.com\"
client_port = 6380
[integrations.command_sets]
ops = \"+@read   +info +client|list\"
admin = \"allcommands -@dangerous\"
",
    );
    let config = valid(&text);
    let i = &config.integrations[0];
    assert_eq!(i.kind.name(), "redis");
    assert_eq!(
        i.resource_types,
        [ResourceType {
            name: "keys".into(),
            permissions: vec!["read".into(), "write".into(), "ops".into(), "admin".into()],
        }]
    );
    let IntegrationKind::Redis(s) = &i.kind else {
        panic!("{:?}", i.kind)
    };
    assert_eq!(
        s.url.expose(),
        format!("redis://jit-admin:{PASSWORD}@127.0.0.1:6379/0")
    );
    assert_eq!(s.user_prefix, "tmp_");
    assert_eq!(s.client_host.as_deref(), Some("cache.example.com"));
    assert_eq!(s.client_port, Some(6380));
    assert_eq!(
        s.command_sets,
        [
            ("ops".to_owned(), "+@read +info +client|list".to_owned()),
            ("admin".to_owned(), "allcommands -@dangerous".to_owned()),
        ]
    );
    assert!(!format!("{s:?}").contains(PASSWORD));
}

#[test]
fn defaults() {
    let s = settings(&redis(""));
    assert_eq!(s.url.expose(), "redis://127.0.0.1");
    assert_eq!(s.user_prefix, "jit_");
    assert_eq!((s.client_host, s.client_port), (None, None));
    assert!(s.command_sets.is_empty());
}

#[test]
fn the_admin_url() {
    // A password alone logs in as the default user.
    settings(&integ("redis", "url = \"redis://:pw@127.0.0.1:6379/1\"\n"));
    one_problem(
        &integ("redis", ""),
        1,
        "has no admin connection URL",
        "url, url_env or url_file",
    );
    let form = "redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]";
    for (url, why) in [
        ("rediss://h", "url is not a redis:// URL"),
        ("127.0.0.1:6379", "url is not a redis:// URL"),
        ("redis://", "url names no host"),
        ("redis://h:0", "a port that is not a number"),
        ("redis://h/cache", "a DB that is not a number"),
    ] {
        one_problem(&integ("redis", &format!("url = \"{url}\"\n")), 4, why, form);
    }
    let error = parse(&integ(
        "redis",
        &format!("url = \"redis://:{PASSWORD}@h:70000\"\n"),
    ))
    .expect_err("bad port");
    let shown = format!("{error}\n{error:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn user_prefix() {
    one_problem(
        &redis("user_prefix = \"jit-\"\n"),
        5,
        "user_prefix \"jit-\" is not a valid user prefix",
        "1 to 12",
    );
}

#[test]
fn command_sets() {
    let text = redis(
        "[integrations.command_sets]
write = \"+@write\"
keys = \"+@read ~*\"
pass = \"+@read >hunter2-s3cret\"
onoff = \"on +@read\"
words = \"+@read get\"
empty = \"  \"
ok = \"+ping\"
",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 6, "{}", lines(&found));
    has_problem(
        &found,
        6,
        "command set \"write\" has the name of a built-in permission",
        "read and write are built in",
    );
    has_problem(
        &found,
        7,
        "command set \"keys\" has the key or channel rule \"~*\"",
        "a user's keys come from the request's resources",
    );
    has_problem(
        &found,
        8,
        "command set \"pass\" has a password rule",
        "jit sets each user's password",
    );
    has_problem(
        &found,
        9,
        "command set \"onoff\" has the rule \"on\", which jit manages",
        "remove it",
    );
    has_problem(
        &found,
        10,
        "command set \"words\" has \"get\", which is not a command rule",
        "each starts with + or -, or is allcommands or nocommands",
    );
    has_problem(&found, 11, "command set \"empty\" has no rules", "+@read");
    // The password in a rule is not shown.
    let error = parse(&text).expect_err("invalid");
    assert!(!format!("{error}\n{error:?}").contains("hunter2"));

    one_problem(
        &redis("command_sets = {}\n"),
        5,
        "command_sets is empty",
        "ops = \"+@read +info +client|list\", or remove command_sets",
    );
}

#[test]
fn flows_name_key_patterns_and_the_sets() {
    let integration = redis("command_sets = { ops = \"+info\" }\n");
    let config = valid(&with_flow(
        &integration,
        "resource_types = [\"keys\"]\nresources = [\"orders:*\", \"cache:*\"]\npermissions = [\"read\", \"ops\"]\n",
    ));
    let flow = &config.flows[0];
    assert_eq!(flow.resources, ["orders:*", "cache:*"]);
    assert_eq!(flow.permissions, ["read", "ops"]);

    let text = with_flow(&integration, "resource_types = [\"key\"]\n");
    one_problem(
        &text,
        line_of(&text, "resource_types = [\"key\"]"),
        "resource type \"key\" is not a resource type of integration \"x\"",
        "use one of: keys",
    );
}
