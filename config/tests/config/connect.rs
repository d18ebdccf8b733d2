//! The integration keys for using access: `browser_url` and `rotate_every`, on every kind.

use std::time::Duration;

use crate::support::{PASSWORD, has_problem, lines, one_problem, parse, problems, valid};

/// A dry-run integration `d` with `keys` (first key: line 4).
fn dry_run(keys: &str) -> String {
    format!("[[integrations]]\nname = \"d\"\nkind = \"dry-run\"\n{keys}")
}

/// A postgres integration `pg` with `keys` (first key: line 5).
fn pg(keys: &str) -> String {
    format!(
        "[[integrations]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"postgres://h/db\"\n{keys}"
    )
}

const PGWEB: &str = "https://pgweb.example.com/?host={host}&port={port}&user={user}&db={database}";

#[test]
fn both_keys_on_every_kind() {
    for text in [
        pg(&format!(
            "browser_url = \"{PGWEB}\"\nrotate_every = \"24h\"\n"
        )),
        dry_run(&format!(
            "browser_url = \"{PGWEB}\"\nrotate_every = \"24h\"\n"
        )),
    ] {
        let config = valid(&text);
        let i = &config.integrations[0];
        assert_eq!(i.browser_url.as_deref(), Some(PGWEB));
        assert_eq!(i.rotate_every, Some(Duration::from_secs(24 * 3600)));
    }
    let config = valid(&dry_run(""));
    assert_eq!(config.integrations[0].browser_url, None);
    assert_eq!(config.integrations[0].rotate_every, None);
}

#[test]
fn browser_url_forms() {
    for url in [
        "http://localhost:8081/",
        "HTTPS://pgweb.example.com",
        "https://{host}:8443/connect?u={user}",
        "https://pgweb.example.com/%7Bliteral%7D",
    ] {
        let config = valid(&dry_run(&format!("browser_url = \"{url}\"\n")));
        assert_eq!(config.integrations[0].browser_url.as_deref(), Some(url));
    }
    // Trimmed.
    let config = valid(&dry_run("browser_url = \" https://x/ \"\n"));
    assert_eq!(
        config.integrations[0].browser_url.as_deref(),
        Some("https://x/")
    );
}

#[test]
fn browser_url_problems() {
    one_problem(
        &pg("browser_url = \"https://pgweb/?db={db}\"\n"),
        5,
        "integration \"pg\": browser_url has an unknown placeholder {db}",
        "the placeholders are {host}, {port}, {user} and {database}",
    );
    one_problem(
        &dry_run("browser_url = \"https://pgweb/?u={usr}\"\n"),
        4,
        "unknown placeholder {usr}",
        "did you mean \"user\"? the placeholders are {host}, {port}, {user} and {database}",
    );
    one_problem(
        &dry_run("browser_url = \"https://pgweb/?h={host\"\n"),
        4,
        "browser_url has a \"{\" that is never closed",
        "percent-encode a literal \"{\" as %7B",
    );
    one_problem(
        &dry_run("browser_url = \"https://pgweb/?h=host}\"\n"),
        4,
        "browser_url has a \"}\" that closes no placeholder",
        "%7D",
    );
    one_problem(
        &dry_run("browser_url = \"\"\n"),
        4,
        "integration \"d\": browser_url is empty",
        "or remove browser_url",
    );
    for url in [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "pgweb.example.com",
        "https://",
    ] {
        one_problem(
            &dry_run(&format!("browser_url = \"{url}\"\n")),
            4,
            "browser_url is not an http:// or https:// URL",
            "starting with https://",
        );
    }
    one_problem(
        &dry_run("browser_url = \"https://pgweb/?q=a b\"\n"),
        4,
        "browser_url contains white space",
        "%20",
    );
    one_problem(
        &dry_run("browser_url = 8080\n"),
        4,
        "integration \"d\": wrong type for browser_url (found an integer)",
        "a URL template",
    );
    // Every unknown placeholder is reported.
    let found = problems(&dry_run("browser_url = \"https://x/{a}/{host}/{b}\"\n"));
    assert_eq!(found.len(), 2, "{}", lines(&found));
    has_problem(&found, 4, "unknown placeholder {a}", "{host}");
    has_problem(&found, 4, "unknown placeholder {b}", "{host}");
}

#[test]
fn browser_url_problems_do_not_echo_the_url() {
    let url = format!("https://admin:{PASSWORD}@pgweb/?p={{password}}");
    let error = parse(&dry_run(&format!("browser_url = \"{url}\"\n"))).expect_err("invalid");
    let shown = format!("{error}\n{error:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("unknown placeholder {password}"), "{shown}");
}

#[test]
fn rotate_every_problems() {
    one_problem(
        &pg("rotate_every = \"30s\"\n"),
        5,
        "integration \"pg\": rotate_every 30s is shorter than a minute",
        "use at least \"1m\"",
    );
    valid(&pg("rotate_every = \"1m\"\n"));
    one_problem(
        &dry_run("rotate_every = \"daily\"\n"),
        4,
        "integration \"d\": rotate_every \"daily\" is not a duration",
        "\"30m\"",
    );
    one_problem(
        &dry_run("rotate_every = \"0s\"\n"),
        4,
        "rotate_every is zero",
        "more than zero",
    );
    one_problem(
        &dry_run("rotate_every = \"400d\"\n"),
        4,
        "rotate_every \"400d\" is longer than 366 days",
        "at most 366 days",
    );
    one_problem(
        &dry_run("rotate_every = 60\n"),
        4,
        "wrong type for rotate_every (found an integer)",
        "a duration like",
    );
}

#[test]
fn other_problems_of_the_integration_are_still_reported() {
    let found = problems(&pg(
        "browser_url = \"https://x/{nope}\"\nrotate_every = \"1s\"\nrole_prefix = \"BAD\"\n",
    ));
    assert_eq!(found.len(), 3, "{}", lines(&found));
    has_problem(&found, 5, "unknown placeholder {nope}", "{host}");
    has_problem(&found, 6, "shorter than a minute", "1m");
    has_problem(&found, 7, "role_prefix", "1 to 16");
}
