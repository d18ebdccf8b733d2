//! A `redis` integration: its admin URL, the ACL users jit creates, and the extra permissions the
//! admin defines as sets of command rules.

use std::ops::Range;

use super::integration::{
    KindChecked, NamedTable, admin_url, client_host, client_port, named_table, resource_type,
    user_prefix,
};
use super::{Checker, NAME_RULE, is_name, url};
use crate::raw::RawIntegration;
use crate::{IntegrationKind, RedisSettings, suggest};

/// Checks the settings of a `redis` integration; its resource type is `keys` (key patterns), with
/// `read`, `write` and the names of its `command_sets`.
pub(super) fn check(
    raw: &RawIntegration,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> KindChecked {
    let url = admin_url(raw, span, &url::REDIS, label, ck);
    let user_prefix = user_prefix(raw, label, ck);
    let client_host = client_host(raw, label, ck);
    let client_port = client_port(raw, label, ck);
    let command_sets = match &raw.command_sets {
        None => Some(Vec::new()),
        Some(table) => named_table(
            table,
            &NamedTable {
                key: "command_sets",
                item: "command set",
                example: "ops = \"+@read +info +client|list\"",
                required: false,
                reserved: &["read", "write"],
                reserved_why: "has the name of a built-in permission",
                name_ok: is_name,
                name_rule: NAME_RULE,
            },
            label,
            acl_rules,
            ck,
        ),
    };

    let types = command_sets.as_ref().map(|extra| {
        let mut keys = resource_type("keys", &["read", "write"]);
        keys.permissions
            .extend(extra.iter().map(|(name, _)| name.clone()));
        vec![keys]
    });
    let settings = (|| {
        Some(RedisSettings {
            url: url?,
            user_prefix: user_prefix?,
            client_host: client_host?,
            client_port: client_port?,
            command_sets: command_sets?,
        })
    })();
    KindChecked::open(settings.map(IntegrationKind::Redis), types)
}

/// The fix for a rule that is not a command rule.
const RULES: &str = "write command rules separated by spaces, like \"+@read +info -flushall +client|list\" (each starts with + or -, or is allcommands or nocommands)";

/// Checks one set of ACL rules (`"+@read +info"`) and returns it with one space between rules.
/// Only command rules are allowed: keys come from each request's resources, and jit manages the
/// user's password and whether it is on. A password rule is never repeated in a message.
fn acl_rules(text: &str) -> Result<String, (String, String)> {
    let rules: Vec<&str> = text.split_whitespace().collect();
    if rules.is_empty() {
        return Err(("has no rules".to_owned(), RULES.to_owned()));
    }
    for &rule in &rules {
        let lower = rule.to_ascii_lowercase();
        let shown = suggest::clip(rule);
        if lower == "allcommands" || lower == "nocommands" {
            continue;
        }
        if rule.starts_with(['>', '<', '#', '!']) || lower == "nopass" || lower == "resetpass" {
            return Err((
                "has a password rule (>…, <…, #…, !…, nopass or resetpass)".to_owned(),
                "remove it: jit sets each user's password".to_owned(),
            ));
        }
        if rule.starts_with(['~', '%', '&'])
            || matches!(
                lower.as_str(),
                "allkeys" | "allchannels" | "resetkeys" | "resetchannels"
            )
        {
            return Err((
                format!("has the key or channel rule \"{shown}\""),
                "remove it: a user's keys come from the request's resources (key patterns like \"orders:*\"), and no channels are granted".to_owned(),
            ));
        }
        if matches!(lower.as_str(), "on" | "off" | "reset" | "clearselectors")
            || rule.starts_with('(')
        {
            return Err((
                format!("has the rule \"{shown}\", which jit manages"),
                "remove it: jit creates, enables and deletes each user, with its own keys"
                    .to_owned(),
            ));
        }
        let command = rule.strip_prefix(['+', '-']);
        let valid = command.is_some_and(|c| {
            let c = c.strip_prefix('@').unwrap_or(c);
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '|' | '_' | '-' | '.'))
        });
        if !valid {
            return Err((
                format!("has \"{shown}\", which is not a command rule"),
                RULES.to_owned(),
            ));
        }
    }
    Ok(rules.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_rules() {
        let cases = [
            ("+@read +info +client|list", "+@read +info +client|list"),
            ("  +@read\t-flushall  ", "+@read -flushall"),
            ("allcommands -@dangerous", "allcommands -@dangerous"),
            ("NoCommands +get", "NoCommands +get"),
            (
                "+json.get +select|0 -config|set",
                "+json.get +select|0 -config|set",
            ),
        ];
        for (written, kept) in cases {
            assert_eq!(acl_rules(written).as_deref(), Ok(kept), "{written:?}");
        }
    }

    #[test]
    fn bad_rules() {
        let cases = [
            ("", "has no rules"),
            ("   ", "has no rules"),
            ("+@read ~*", "key or channel rule \"~*\""),
            ("+get %R~cache:*", "key or channel rule"),
            ("+subscribe &news", "key or channel rule"),
            ("allkeys", "key or channel rule"),
            ("+@read resetchannels", "key or channel rule"),
            ("on +@all", "\"on\", which jit manages"),
            ("OFF", "which jit manages"),
            ("reset", "which jit manages"),
            ("(+get ~x)", "which jit manages"),
            ("+get >hunter2", "password rule"),
            ("<hunter2", "password rule"),
            ("#0123abcd", "password rule"),
            ("!0123abcd", "password rule"),
            ("nopass", "password rule"),
            ("resetpass", "password rule"),
            ("get", "\"get\", which is not a command rule"),
            ("+", "not a command rule"),
            ("+@", "not a command rule"),
            ("+get,set", "not a command rule"),
            ("+@read+@write", "not a command rule"),
        ];
        for (written, why) in cases {
            let found = acl_rules(written);
            assert!(
                found.as_ref().is_err_and(|(w, _)| w.contains(why)),
                "{written:?}: {found:?}"
            );
            if let Err((why, fix)) = &found {
                assert!(!why.contains("hunter2") && !fix.contains("hunter2"));
            }
        }
    }
}
