//! A `mariadb` integration: its admin URL, the accounts jit creates, and the extra permissions
//! the admin defines as privilege lists.

use std::ops::Range;

use super::integration::{
    KindChecked, NamedTable, admin_url, client_host, client_port, named_table, resource_type,
    user_prefix,
};
use super::{Checker, NAME_RULE, did_you_mean, is_name, url};
use crate::raw::{RawIntegration, Str};
use crate::{IntegrationKind, MariadbSettings, suggest};

/// `user_host` when the file gives none: any host.
const DEFAULT_USER_HOST: &str = "%";

/// The privileges that can be granted on one database (`GRANT … ON db.*`), as MariaDB spells
/// them. `GRANT OPTION` is left out on purpose (see [`privilege_list`]).
const DATABASE_PRIVILEGES: [&str; 22] = [
    "ALL",
    "ALL PRIVILEGES",
    "ALTER",
    "ALTER ROUTINE",
    "CREATE",
    "CREATE ROUTINE",
    "CREATE TEMPORARY TABLES",
    "CREATE VIEW",
    "DELETE",
    "DELETE HISTORY",
    "DROP",
    "EVENT",
    "EXECUTE",
    "INDEX",
    "INSERT",
    "LOCK TABLES",
    "REFERENCES",
    "SELECT",
    "SHOW CREATE ROUTINE",
    "SHOW VIEW",
    "TRIGGER",
    "UPDATE",
];

/// The example privilege list of fixes.
const EXAMPLE: &str = "\"SELECT, SHOW VIEW\"";

/// Checks the settings of a `mariadb` integration; its resource type is `database`, with `read`,
/// `write` and the names of its `privileges`.
pub(super) fn check(
    raw: &RawIntegration,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> KindChecked {
    let url = admin_url(raw, span, &url::MARIADB, label, ck);
    let user_prefix = user_prefix(raw, label, ck);
    let user_host = match &raw.user_host {
        Some(h) => user_host(h, label, ck),
        None => Some(DEFAULT_USER_HOST.to_owned()),
    };
    let client_host = client_host(raw, label, ck);
    let client_port = client_port(raw, label, ck);
    let privileges = match &raw.privileges {
        None => Some(Vec::new()),
        Some(table) => named_table(
            table,
            &NamedTable {
                key: "privileges",
                item: "privilege set",
                example: "audit = \"SELECT, SHOW VIEW\"",
                required: false,
                reserved: &["read", "write"],
                reserved_why: "has the name of a built-in permission",
                name_ok: is_name,
                name_rule: NAME_RULE,
            },
            label,
            privilege_list,
            ck,
        ),
    };

    let types = privileges.as_ref().map(|extra| {
        let mut database = resource_type("database", &["read", "write"]);
        database
            .permissions
            .extend(extra.iter().map(|(name, _)| name.clone()));
        vec![database]
    });
    let settings = (|| {
        Some(MariadbSettings {
            url: url?,
            user_prefix: user_prefix?,
            user_host: user_host?,
            client_host: client_host?,
            client_port: client_port?,
            privileges: privileges?,
        })
    })();
    KindChecked::open(settings.map(IntegrationKind::Mariadb), types)
}

/// Checks `user_host`, the host part of the accounts jit creates (`'user'@'host'`): a host
/// name, an address, or a pattern with `%` and `_`.
fn user_host(value: &Str, label: &str, ck: &mut Checker<'_>) -> Option<String> {
    let host = value.get_ref();
    let why = if host.is_empty() {
        "is empty"
    } else if host.len() > 255 {
        "is longer than 255 characters"
    } else if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '%' | '_' | '-' | ':' | '/'))
    {
        "is not a host name, address or pattern"
    } else {
        return Some(host.clone());
    };
    ck.problems.at(
        &value.span(),
        format!("{label}: user_host \"{}\" {why}", suggest::clip(host)),
        "use \"%\" (any host, the default), \"localhost\", an address pattern like \"10.0.0.%\", or a host name",
    );
    None
}

/// Checks one privilege list (`"SELECT, SHOW VIEW"`) and returns it normalised: upper case, one
/// space between words, `", "` between privileges, without repeats. Each must be a privilege
/// that MariaDB grants on a database; `GRANT OPTION` is refused, since it would let the user hand
/// the privileges on to other accounts, which would keep them after the grant ends.
fn privilege_list(text: &str) -> Result<String, (String, String)> {
    let fix = format!(
        "list privileges separated by commas, like {EXAMPLE} (no column lists, no ON or TO)"
    );
    if text.trim().is_empty() {
        return Err(("is an empty privilege list".to_owned(), fix));
    }
    if let Some(c) = text
        .chars()
        .find(|c| !(c.is_ascii_alphabetic() || matches!(c, ' ' | ',' | '_')))
    {
        let c: String = c.escape_debug().collect();
        return Err((
            format!(
                "has \"{c}\" in its privilege list, which takes only letters, spaces, commas and \"_\""
            ),
            fix,
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for item in text.split(',') {
        let words: Vec<String> = item
            .split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect();
        let privilege = words.join(" ");
        if privilege.is_empty() {
            return Err((
                "has an empty entry in its privilege list (two commas, or one at an end)"
                    .to_owned(),
                fix,
            ));
        }
        if privilege == "GRANT OPTION" || privilege == "GRANT" {
            return Err((
                "has GRANT OPTION, which would let the user give its privileges to other accounts, where they outlive the grant".to_owned(),
                "remove GRANT OPTION".to_owned(),
            ));
        }
        if !DATABASE_PRIVILEGES.contains(&privilege.as_str()) {
            let hint = did_you_mean(&privilege, DATABASE_PRIVILEGES);
            return Err((
                format!(
                    "has {}, which is not a privilege that MariaDB grants on a database",
                    suggest::clip(&privilege)
                ),
                format!(
                    "{hint}use privileges of a database: {}",
                    DATABASE_PRIVILEGES.join(", ")
                ),
            ));
        }
        if !out.contains(&privilege) {
            out.push(privilege);
        }
    }
    Ok(out.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_lists_are_normalised() {
        let cases = [
            ("SELECT, SHOW VIEW", "SELECT, SHOW VIEW"),
            ("select,show   view", "SELECT, SHOW VIEW"),
            (" Select , Select ", "SELECT"),
            ("ALL PRIVILEGES", "ALL PRIVILEGES"),
            (
                "create temporary tables, lock tables, execute",
                "CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE",
            ),
        ];
        for (written, kept) in cases {
            assert_eq!(privilege_list(written).as_deref(), Ok(kept), "{written:?}");
        }
    }

    #[test]
    fn bad_privilege_lists() {
        let cases = [
            ("", "empty privilege list"),
            ("  ", "empty privilege list"),
            ("SELECT,", "empty entry"),
            ("SELECT,,INSERT", "empty entry"),
            ("SELECT (id)", "\"(\""),
            ("SELECT ON *.*", "\"*\""),
            ("SELECT; DROP", "\";\""),
            ("SELECT\nINSERT", "\"\\n\""),
            ("SELECT, GRANT OPTION", "GRANT OPTION"),
            ("SELECT, grant", "GRANT OPTION"),
            ("SELCT", "not a privilege"),
            ("SUPER", "not a privilege"),
            ("CREATE USER", "not a privilege"),
            ("SELECT_PRIV", "not a privilege"),
        ];
        for (written, why) in cases {
            let found = privilege_list(written);
            assert!(
                found.as_ref().is_err_and(|(w, _)| w.contains(why)),
                "{written:?}: {found:?}"
            );
        }
        let Err((_, fix)) = privilege_list("SELCT") else {
            panic!("SELCT is no privilege")
        };
        assert!(fix.starts_with("did you mean \"SELECT\"?"), "{fix}");
    }
}
