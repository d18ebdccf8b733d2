//! Helpers: parse a text with a fixed fake environment, and look at the problems.

use std::ffi::OsString;
use std::path::Path;

use jit_config::{Config, ConfigError, Problem};

/// The path every test config pretends to be read from.
pub const PATH: &str = "/etc/jit/jit.toml";

/// A password that must never appear in an error or in `Debug` output.
pub const PASSWORD: &str = "hunter2-s3cret";

/// The fake environment: `PG_MAIN_URL`, `MARIADB_URL` and `REDIS_URL` hold URLs with
/// `PASSWORD`, `EMPTY` is empty, `NOT_A_URL` holds a password-like string that is no URL,
/// `SIEM_HMAC_KEY` an HMAC key (the shipped example's webhook).
pub fn env(name: &str) -> Option<OsString> {
    match name {
        "PG_MAIN_URL" => {
            Some(format!("postgres://admin:{PASSWORD}@127.0.0.1:5432/postgres").into())
        }
        "MARIADB_URL" => Some(format!("mysql://jit_admin:{PASSWORD}@127.0.0.1:3306").into()),
        "REDIS_URL" => Some(format!("redis://jit-admin:{PASSWORD}@127.0.0.1:6379/0").into()),
        "EMPTY" => Some(OsString::new()),
        "NOT_A_URL" => Some(PASSWORD.into()),
        "SIEM_HMAC_KEY" => Some("0123456789abcdef0123456789abcdef".into()),
        _ => None,
    }
}

/// Parses `text` as if read from [`PATH`], with the fake environment.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    jit_config::parse_with_env(text, Path::new(PATH), &env)
}

/// Parses `text`, which must be valid.
#[track_caller]
pub fn valid(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}\n--- in:\n{text}"),
    }
}

/// Parses `text`, which must be invalid, and returns its problems.
#[track_caller]
pub fn problems(text: &str) -> Vec<Problem> {
    match parse(text) {
        Ok(config) => panic!("expected problems, got {config:#?}\n--- from:\n{text}"),
        Err(e) => {
            assert!(!e.problems().is_empty(), "no problems in {e}");
            // Every line of the error is one problem, as Display promises.
            assert_eq!(e.to_string().lines().count(), e.problems().len(), "{e}");
            e.problems().to_vec()
        }
    }
}

/// Asserts that `text` has exactly one problem, at `line`, whose message contains `message`
/// and whose fix contains `fix`; returns it.
#[track_caller]
pub fn one_problem(text: &str, line: usize, message: &str, fix: &str) -> Problem {
    let found = problems(text);
    let [problem] = found.as_slice() else {
        panic!(
            "expected one problem, got {}:\n{}",
            found.len(),
            lines(&found)
        );
    };
    check(problem, line, message, fix);
    problem.clone()
}

/// Asserts that one of `found` is at `line` with `message` and `fix` in it.
#[track_caller]
pub fn has_problem(found: &[Problem], line: usize, message: &str, fix: &str) {
    assert!(
        found
            .iter()
            .any(|p| p.line == line && p.message.contains(message) && p.fix.contains(fix)),
        "no problem at line {line} with message {message:?} and fix {fix:?} in:\n{}",
        lines(found)
    );
}

#[track_caller]
fn check(problem: &Problem, line: usize, message: &str, fix: &str) {
    assert_eq!(problem.line, line, "wrong line: {problem}");
    assert!(
        problem.message.contains(message),
        "message lacks {message:?}: {problem}"
    );
    assert!(problem.fix.contains(fix), "fix lacks {fix:?}: {problem}");
    assert!(!problem.fix.is_empty(), "no fix: {problem}");
    assert_eq!(problem.path, Path::new(PATH));
    let first = problem.message.chars().next().unwrap_or('x');
    assert!(
        !first.is_uppercase(),
        "message starts in upper case: {problem}"
    );
    assert!(
        !problem.message.ends_with('.'),
        "message ends with a period: {problem}"
    );
}

/// The problems, one per line.
pub fn lines(found: &[Problem]) -> String {
    found.iter().map(|p| format!("{p}\n")).collect()
}

/// A dry-run integration called `demo`, to give flows something to name.
pub const DEMO: &str = "
[[integrations]]
name = \"demo\"
kind = \"dry-run\"
";

/// `DEMO` followed by one flow made of `keys` (lines 5 onwards: `[[flows]]` is line 6, the
/// first key line 7).
pub fn flow(keys: &str) -> String {
    format!("{DEMO}\n[[flows]]\n{keys}")
}
