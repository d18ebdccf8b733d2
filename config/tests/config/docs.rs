//! docs/config.md stays true: its complete example is the one `example.rs` checks, and its
//! error example gives exactly the output it shows.

/// docs/config.md, read when the test runs.
fn docs() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The body of the first fenced code block after `<!-- marker`.
fn block(marker: &str) -> String {
    let docs = docs();
    let start = docs
        .find(&format!("<!-- {marker}"))
        .unwrap_or_else(|| panic!("no <!-- {marker} in docs/config.md"));
    let rest = &docs[start..];
    let open = rest.find("```").expect("a code block after the marker");
    let body_start = open + rest[open..].find('\n').expect("a newline after ```") + 1;
    let body_len = rest[body_start..]
        .find("```")
        .expect("the end of the code block");
    rest[body_start..body_start + body_len].to_owned()
}

/// The complete example of docs/config.md.
pub fn full_example() -> String {
    block("full-example")
}

#[test]
fn the_error_example_gives_the_output_shown() {
    let input = block("errors-input");
    let expected = block("errors-output");
    let error = crate::support::parse(&input).expect_err("the example has problems");
    assert_eq!(format!("{error}\n"), expected);
}
