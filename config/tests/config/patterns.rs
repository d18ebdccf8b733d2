//! `pattern_matches`: how a flow's resource patterns match resource names.

use jit_config::pattern_matches;

#[test]
fn exact_names() {
    assert!(pattern_matches("orders", "orders"));
    assert!(!pattern_matches("orders", "orders2"));
    assert!(!pattern_matches("orders", "order"));
    assert!(!pattern_matches("orders", ""));
    assert!(pattern_matches("", ""));
}

#[test]
fn star_alone_matches_everything() {
    for name in ["", "orders", "a*b", "with space"] {
        assert!(pattern_matches("*", name), "{name:?}");
        assert!(pattern_matches("**", name), "{name:?}");
    }
}

#[test]
fn prefixes_suffixes_and_middles() {
    assert!(pattern_matches("report_*", "report_2024"));
    assert!(pattern_matches("report_*", "report_"));
    assert!(!pattern_matches("report_*", "reports"));
    assert!(pattern_matches("*_prod", "orders_prod"));
    assert!(!pattern_matches("*_prod", "orders_prod2"));
    assert!(pattern_matches("a*b*c", "abc"));
    assert!(pattern_matches("a*b*c", "a-b-b-c"));
    assert!(!pattern_matches("a*b*c", "a-c-b"));
    assert!(pattern_matches("*orders*", "old_orders_2"));
}

#[test]
fn pieces_do_not_overlap() {
    assert!(!pattern_matches("a*a", "a"));
    assert!(pattern_matches("a*a", "aa"));
    assert!(!pattern_matches("ab*ba", "aba"));
    assert!(pattern_matches("ab*ba", "abba"));
    assert!(!pattern_matches("*aa*aa", "aaa"));
    assert!(pattern_matches("*aa*aa", "aaaa"));
}

#[test]
fn other_characters_are_literal() {
    assert!(pattern_matches("db.?", "db.?"));
    assert!(!pattern_matches("db.?", "dbx1"));
    assert!(!pattern_matches("[ab]", "a"));
    assert!(pattern_matches("Orders", "Orders"));
    assert!(
        !pattern_matches("Orders", "orders"),
        "matching is case-sensitive"
    );
}
