//! An `exec` integration: the admin's executable, how it is run, and the resource types it
//! declares.

use std::ops::Range;
use std::time::Duration;

use super::Checker;
use super::integration::{
    KindChecked, NamedTable, absolute_path, configured_types, missing, named_table,
};
use crate::raw::RawIntegration;
use crate::{ExecSettings, IntegrationKind, duration};

/// `timeout` when the file gives none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest `timeout`.
const MIN_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest `timeout`: a request waits for the command.
const MAX_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Checks the settings of an `exec` integration, and the resource types it declares.
pub(super) fn check(
    raw: &RawIntegration,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> KindChecked {
    let command = match &raw.command {
        None => {
            missing(
                span,
                label,
                "command",
                "add command = \"/usr/local/lib/jit/share-acl\": the absolute path of the executable jitd runs",
                ck,
            );
            None
        }
        Some(path) => absolute_path(path, "command", "/usr/local/lib/jit/share-acl", label, ck),
    };

    let args = match &raw.args {
        None => Some(Vec::new()),
        Some(list) => {
            let mut ok = true;
            for arg in list.get_ref() {
                if arg.get_ref().contains('\0') {
                    ok = false;
                    ck.problems.at(
                        &arg.span(),
                        format!("{label}: an argument in args contains a NUL character"),
                        "remove the \\u0000: a program's arguments cannot hold one",
                    );
                }
            }
            ok.then(|| list.get_ref().iter().map(|a| a.get_ref().clone()).collect())
        }
    };

    let timeout = match &raw.timeout {
        None => Some(DEFAULT_TIMEOUT),
        Some(value) => match duration::parse(value, "timeout", label, &mut ck.problems) {
            Some(t) if t < MIN_TIMEOUT => {
                ck.problems.at(
                    &value.span(),
                    format!(
                        "{label}: timeout {} is shorter than a second",
                        duration::format(t)
                    ),
                    "use a timeout from \"1s\" to \"10m\", or remove timeout for 30s",
                );
                None
            }
            Some(t) if t > MAX_TIMEOUT => {
                ck.problems.at(
                    &value.span(),
                    format!(
                        "{label}: timeout {} is longer than 10 minutes",
                        duration::format(t)
                    ),
                    "use a timeout from \"1s\" to \"10m\", or remove timeout for 30s",
                );
                None
            }
            other => other,
        },
    };

    let env = match &raw.env {
        None => Some(Vec::new()),
        Some(table) => named_table(
            table,
            &NamedTable {
                key: "env",
                item: "environment variable",
                example: "API_URL = \"https://api.internal\"",
                required: false,
                reserved: &[],
                reserved_why: "",
                name_ok: is_env_name,
                name_rule: "use letters, digits and \"_\", not starting with a digit, like \"API_URL\"",
            },
            label,
            |value| {
                if value.contains('\0') {
                    // The value is not shown: it may be meant to be private.
                    Err((
                        "has a value with a NUL character".to_owned(),
                        "remove the \\u0000: an environment variable cannot hold one".to_owned(),
                    ))
                } else {
                    Ok(value.to_owned())
                }
            },
            ck,
        ),
    };

    let resource_types = match &raw.resource_types {
        None => {
            missing(
                span,
                label,
                "resource_types",
                "add resource_types = { share = [\"read\", \"write\"] }: the resource types your command grants, each with its permissions",
                ck,
            );
            None
        }
        Some(table) => configured_types(table, label, ck),
    };

    let settings = (|| {
        Some(ExecSettings {
            command: command?,
            args: args?,
            timeout: timeout?,
            env: env?,
        })
    })();
    KindChecked::open(settings.map(IntegrationKind::Exec), resource_types)
}

/// Whether `s` matches `^[A-Za-z_][A-Za-z0-9_]*$`.
fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        for good in ["API_URL", "_x", "a1", "PATH"] {
            assert!(is_env_name(good), "{good:?}");
        }
        for bad in ["", "1A", "A-B", "A=B", "A B", "é"] {
            assert!(!is_env_name(bad), "{bad:?}");
        }
    }
}
