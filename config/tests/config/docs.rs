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

/// Every `<!-- kind-example: KIND -->` block: its marker's kind and body.
fn kind_examples() -> Vec<(String, String)> {
    let docs = docs();
    let mut out = Vec::new();
    for (at, _) in docs.match_indices("<!-- kind-example: ") {
        let rest = &docs[at + "<!-- kind-example: ".len()..];
        let kind = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        out.push((kind.clone(), block(&format!("kind-example: {kind}"))));
    }
    out
}

#[test]
fn each_kind_example_is_valid_and_of_its_kind() {
    let examples = kind_examples();
    let kinds: Vec<&str> = examples.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["mariadb", "redis", "unix-group", "sudo", "ssh", "exec"],
        "an example for each new kind, in the order of the page"
    );
    for (kind, body) in examples {
        let config = crate::support::valid(&body);
        assert_eq!(config.integrations.len(), 1, "{kind}");
        assert_eq!(config.integrations[0].kind.name(), kind);
    }
}
