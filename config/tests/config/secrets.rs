//! Secrets never reach a message or `Debug` output; a file path may.

use std::path::Path;

use jit_config::{ConfigError, Secret};

use crate::support::{PASSWORD, parse};

/// Asserts that the error of `text` shows no password, in `Display` or `Debug`.
#[track_caller]
fn no_password(text: &str) -> ConfigError {
    let error = parse(text).expect_err("invalid");
    let shown = format!("{error}\n{error:?}");
    assert!(!shown.contains(PASSWORD), "the password leaked:\n{shown}");
    assert!(
        !shown.contains("hunter2"),
        "part of the password leaked:\n{shown}"
    );
    error
}

/// A postgres integration with `keys`.
fn pg(keys: &str) -> String {
    format!("[[integrations]]\nname = \"pg\"\nkind = \"postgres\"\n{keys}\n")
}

#[test]
fn debug_of_a_config_hides_the_url() {
    let config = crate::support::valid(&crate::docs::full_example());
    let shown = format!("{config:?} {config:#?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains("Secret(<redacted>)"), "{shown}");
}

#[test]
fn debug_of_a_secret_hides_it() {
    let secret = Secret::new(PASSWORD.to_owned());
    assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    assert_eq!(secret.expose(), PASSWORD);
}

#[test]
fn errors_about_the_url_do_not_echo_it() {
    let url = format!("postgres://admin:{PASSWORD}@db:5432/postgres");
    let mysql = format!("mysql://admin:{PASSWORD}@db/postgres");
    let error = no_password(&pg(&format!("url = \"{mysql}\"")));
    assert!(
        error.to_string().contains("the value is not shown"),
        "{error}"
    );

    no_password(&pg(&format!("url = \"{PASSWORD}\"")));
    no_password(&pg(&format!("url = \"{url}\"\nurl_env = \"PG_MAIN_URL\"")));
    no_password(&pg(&format!(
        "url = \"{url}\"\nurl_file = \"/etc/jit/pg.url\""
    )));
    no_password(&pg("url_env = \"NOT_A_URL\""));
    no_password(&format!(
        "[[integrations]]\nname = \"d\"\nkind = \"dry-run\"\nurl = \"{url}\"\n"
    ));
    // Other problems in the same integration do not show it either.
    no_password(&pg(&format!(
        "url = \"{url}\"\nrole_prefix = \"BAD\"\nclient_port = 0"
    )));
    no_password(&pg(&format!(
        "url = \"{url}\"\nresource_types = {{ t = [\"p\"] }}"
    )));
}

#[test]
fn syntax_and_type_errors_do_not_echo_values() {
    let url = format!("postgres://admin:{PASSWORD}@db:5432/postgres");
    // An unterminated string: the TOML error must not quote the line.
    no_password(&pg(&format!("url = \"{url}")));
    no_password(&pg(&format!("url = '{url}\nmessage = \"x\"")));
    // The URL under the wrong key: the type error names the key, not the value.
    no_password(&pg(&format!("client_port = \"{url}\"")));
    no_password(&pg(&format!("url = [\"{url}\"]")));
    // A secret under an unknown key: only the key is named.
    let error = no_password(&pg(&format!("url = \"{url}\"\npassword = \"{PASSWORD}\"")));
    assert!(
        error.to_string().contains("unknown key \"password\""),
        "{error}"
    );
}

#[test]
fn url_file_contents_are_not_shown_but_its_path_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("pg.url");
    std::fs::write(&file, format!("mysql://admin:{PASSWORD}@db/x\n")).expect("write");
    let text = pg("url_file = \"pg.url\"");
    let error = jit_config::parse(&text, &dir.path().join("jit.toml")).expect_err("not postgres");
    let shown = format!("{error}\n{error:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(shown.contains(&file.display().to_string()), "{shown}");
    assert!(shown.contains("the contents are not shown"), "{shown}");

    let error = jit_config::parse(
        &pg("url_file = \"missing.url\""),
        Path::new("/etc/jit/jit.toml"),
    )
    .expect_err("missing");
    assert!(
        error.to_string().contains("/etc/jit/missing.url"),
        "{error}"
    );
}
