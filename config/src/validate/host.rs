//! The kinds that grant access to this host: `unix-group` (group membership), `sudo` (commands
//! run as another user) and `ssh` (certificates for principals). Each lists the resources it may
//! grant, which flows and bundles are checked against.

use std::ops::Range;
use std::path::PathBuf;

use super::integration::{
    KindChecked, NamedTable, absolute_path, client_host, client_port, missing, named_table,
    resource_type,
};
use super::{Checker, FixedResources, NAME_RULE, did_you_mean, is_name, required_strings};
use crate::raw::{RawIntegration, Str};
use crate::{IntegrationKind, SshSettings, SudoSettings, UnixGroupSettings, suggest};

/// `sudoers_dir` when the file gives none.
const DEFAULT_SUDOERS_DIR: &str = "/etc/sudoers.d";
/// `run_as` when the file gives none.
const DEFAULT_RUN_AS: &str = "root";
/// `client_host` of `ssh` when the file gives none.
const DEFAULT_SSH_HOST: &str = "localhost";
/// `client_port` of `ssh` when the file gives none.
const DEFAULT_SSH_PORT: u16 = 22;
/// The key types of `ssh`; the first is the default. (No RSA: the RustCrypto `rsa` crate has
/// an open timing advisory, RUSTSEC-2023-0071, and generating RSA keys is slow; every OpenSSH
/// since 6.5 accepts ed25519, and ecdsa P-256 covers servers that need NIST curves.)
const KEY_TYPES: [&str; 2] = ["ed25519", "ecdsa"];

/// The fix for a bad user or group name.
const ACCOUNT_RULE: &str =
    "use 1 to 32 lower-case letters, digits, \"_\" and \"-\", starting with a letter or \"_\"";

/// The fix for a command line sudoers would read differently from how it looks.
const SCRIPT_FIX: &str = "put the command line in a script (owned by root, writable only by root, like /usr/local/sbin/restart-nginx) and name the script here";

/// Checks a `unix-group` integration: its `groups`. Its resource type is `group`, with `member`.
pub(super) fn unix_group(
    raw: &RawIntegration,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> KindChecked {
    let list_them = "list the groups that may be granted, like [\"deploy\", \"docker\"]";
    let groups = match &raw.groups {
        None => {
            missing(
                span,
                label,
                "groups",
                "add groups = [\"deploy\", \"docker\"] with the groups that may be granted",
                ck,
            );
            None
        }
        Some(list) => required_strings(
            list,
            "groups",
            "group",
            label,
            list_them,
            |g| account_name(g, false),
            ck,
        ),
    };
    KindChecked {
        resources: fixed("groups", groups.as_ref()),
        kind: groups.map(|groups| IntegrationKind::UnixGroup(UnixGroupSettings { groups })),
        resource_types: Some(vec![resource_type("group", &["member"])]),
    }
}

/// Checks a `sudo` integration: its `commands`, `sudoers_dir` and `run_as`. Its resource type
/// is `command` (the names of the commands), with `run`.
pub(super) fn sudo(
    raw: &RawIntegration,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> KindChecked {
    let example = "restart-nginx = \"/usr/bin/systemctl restart nginx\"";
    let commands = match &raw.commands {
        None => {
            missing(
                span,
                label,
                "commands",
                &format!(
                    "add an [integrations.commands] table with the commands that may be granted, like {example}"
                ),
                ck,
            );
            None
        }
        Some(table) => named_table(
            table,
            &NamedTable {
                key: "commands",
                item: "command",
                example,
                required: true,
                reserved: &[],
                reserved_why: "",
                name_ok: is_name,
                name_rule: NAME_RULE,
            },
            label,
            sudo_command,
            ck,
        ),
    };
    let sudoers_dir = match &raw.sudoers_dir {
        Some(dir) => absolute_path(dir, "sudoers_dir", DEFAULT_SUDOERS_DIR, label, ck),
        None => Some(PathBuf::from(DEFAULT_SUDOERS_DIR)),
    };
    let run_as = match &raw.run_as {
        Some(user) => account(user, "run_as", label, ck),
        None => Some(DEFAULT_RUN_AS.to_owned()),
    };

    let names: Option<Vec<String>> = commands
        .as_ref()
        .map(|c| c.iter().map(|(name, _)| name.clone()).collect());
    let settings = (|| {
        Some(SudoSettings {
            commands: commands?,
            sudoers_dir: sudoers_dir?,
            run_as: run_as?,
        })
    })();
    KindChecked {
        kind: settings.map(IntegrationKind::Sudo),
        resource_types: Some(vec![resource_type("command", &["run"])]),
        resources: fixed("commands", names.as_ref()),
    }
}

/// Checks an `ssh` integration. Its resource type is `login` (its `principals`), with `login`.
pub(super) fn ssh(
    raw: &RawIntegration,
    span: &Range<usize>,
    label: &str,
    ck: &mut Checker<'_>,
) -> KindChecked {
    let ca_key = match &raw.ca_key {
        Some(path) => absolute_path(path, "ca_key", "/etc/jit/ssh_ca", label, ck).map(Some),
        None => Some(None),
    };
    let krl = match &raw.krl {
        None => {
            missing(
                span,
                label,
                "krl",
                "add krl = \"/etc/ssh/jit_revoked.krl\": the file sshd_config names in RevokedKeys",
                ck,
            );
            None
        }
        Some(path) => {
            let krl = absolute_path(path, "krl", "/etc/ssh/jit_revoked.krl", label, ck);
            match (&krl, &ca_key) {
                (Some(krl), Some(Some(ca))) if krl == ca => {
                    ck.problems.at(
                        &path.span(),
                        format!("{label}: krl is the same file as ca_key"),
                        "give the revocation list its own file, like \"/etc/ssh/jit_revoked.krl\"",
                    );
                    None
                }
                _ => krl,
            }
        }
    };
    let principals = match &raw.principals {
        None => {
            missing(
                span,
                label,
                "principals",
                "add principals = [\"deploy\"] with the principals (login names) that may be granted",
                ck,
            );
            None
        }
        Some(list) => required_strings(
            list,
            "principals",
            "principal",
            label,
            "list the principals (login names) that may be granted, like [\"deploy\", \"app\"]",
            |p| account_name(p, true),
            ck,
        ),
    };
    let client_host =
        client_host(raw, label, ck).map(|h| h.unwrap_or_else(|| DEFAULT_SSH_HOST.to_owned()));
    let client_port = client_port(raw, label, ck).map(|p| p.unwrap_or(DEFAULT_SSH_PORT));
    let key_type = match &raw.key_type {
        None => Some(KEY_TYPES[0].to_owned()),
        Some(t) if KEY_TYPES.contains(&t.get_ref().as_str()) => Some(t.get_ref().clone()),
        Some(t) => {
            let hint = did_you_mean(t.get_ref(), KEY_TYPES);
            let why = if t.get_ref() == "rsa" {
                " (RSA keys are not offered: every OpenSSH since 6.5 accepts ed25519)"
            } else {
                ""
            };
            ck.problems.at(
                &t.span(),
                format!(
                    "{label}: key_type \"{}\" is not a key type jit generates{why}",
                    suggest::clip(t.get_ref())
                ),
                format!("{hint}use \"ed25519\" (the default) or \"ecdsa\" (NIST P-256)"),
            );
            None
        }
    };

    let resources = fixed("principals", principals.as_ref());
    let settings = (|| {
        Some(SshSettings {
            ca_key: ca_key?,
            krl: krl?,
            principals: principals?,
            client_host: client_host?,
            client_port: client_port?,
            key_type: key_type?,
        })
    })();
    KindChecked {
        kind: settings.map(IntegrationKind::Ssh),
        resource_types: Some(vec![resource_type("login", &["login"])]),
        resources,
    }
}

/// The resources listed under `key`, when the list is valid.
fn fixed(key: &'static str, names: Option<&Vec<String>>) -> Option<FixedResources> {
    names.map(|names| FixedResources {
        key,
        names: names.clone(),
    })
}

/// A user name (`run_as`).
fn account(value: &Str, key: &str, label: &str, ck: &mut Checker<'_>) -> Option<String> {
    match account_name(value.get_ref(), false) {
        Ok(()) => Some(value.get_ref().clone()),
        Err((why, fix)) => {
            ck.problems.at(
                &value.span(),
                format!(
                    "{label}: {key} \"{}\" {why}",
                    suggest::clip(value.get_ref())
                ),
                fix,
            );
            None
        }
    }
}

/// Checks a user or group name, `^[a-z_][a-z0-9_-]{0,31}$`; with `dots`, `.` is allowed after
/// the first character too (SSH principals).
fn account_name(name: &str, dots: bool) -> Result<(), (String, String)> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.len() <= 32
        && chars.all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '_'
                || c == '-'
                || (dots && c == '.')
        });
    if ok {
        return Ok(());
    }
    let rule = if dots {
        "use 1 to 32 lower-case letters, digits, \"_\", \"-\" and \".\", starting with a letter or \"_\""
    } else {
        ACCOUNT_RULE
    };
    Err(("is not a valid name".to_owned(), rule.to_owned()))
}

/// Checks one sudo command line and returns it trimmed: an absolute program path (not a
/// directory, which sudoers reads as every program in it), then its arguments, without the
/// characters sudoers gives a meaning (`,` `:` `=` `\` `#`) or control characters.
fn sudo_command(text: &str) -> Result<String, (String, String)> {
    let command = text.trim();
    if command.is_empty() {
        return Err((
            "is empty".to_owned(),
            "write the command line, like \"/usr/bin/systemctl restart nginx\"".to_owned(),
        ));
    }
    if let Some(c) = command.chars().find(|c| c.is_control()) {
        let c: String = c.escape_debug().collect();
        return Err((
            format!("contains the control character \"{c}\""),
            SCRIPT_FIX.to_owned(),
        ));
    }
    if let Some(c) = command
        .chars()
        .find(|c| matches!(c, ',' | ':' | '=' | '\\' | '#'))
    {
        return Err((
            format!("contains \"{c}\", which sudoers treats specially"),
            SCRIPT_FIX.to_owned(),
        ));
    }
    let program = command.split_whitespace().next().unwrap_or_default();
    if !program.starts_with('/') {
        return Err((
            "does not start with an absolute path".to_owned(),
            "write the program's full path, like \"/usr/bin/systemctl restart nginx\"".to_owned(),
        ));
    }
    if program.ends_with('/') {
        return Err((
            "names a directory, which sudoers reads as every program in it".to_owned(),
            "name one program, with its full path".to_owned(),
        ));
    }
    Ok(command.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names() {
        for good in ["deploy", "_apt", "docker-users", "a1", &"a".repeat(32)] {
            assert!(account_name(good, false).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "1a",
            "-a",
            "Deploy",
            "a b",
            "a.b",
            "a$",
            &"a".repeat(33),
        ] {
            assert!(account_name(bad, false).is_err(), "{bad:?}");
        }
        assert!(account_name("app.deploy", true).is_ok());
        assert!(account_name(".app", true).is_err());
    }

    #[test]
    fn sudo_commands() {
        for (written, kept) in [
            (
                "/usr/bin/systemctl restart nginx",
                "/usr/bin/systemctl restart nginx",
            ),
            (" /usr/sbin/reboot ", "/usr/sbin/reboot"),
            ("/usr/bin/id \"\"", "/usr/bin/id \"\""),
        ] {
            assert_eq!(sudo_command(written).as_deref(), Ok(kept), "{written:?}");
        }
        let cases = [
            ("", "is empty"),
            ("systemctl restart nginx", "absolute path"),
            ("ALL", "absolute path"),
            ("/usr/bin/", "directory"),
            ("/usr/bin/systemctl restart nginx, /bin/sh", "\",\""),
            ("/usr/bin/env A=b", "\"=\""),
            ("/usr/bin/printf a:b", "\":\""),
            ("/bin/echo \\", "\"\\\""),
            ("/bin/echo # x", "\"#\""),
            ("/bin/echo a\n/bin/sh", "control character \"\\n\""),
            ("/bin/echo\ta", "control character \"\\t\""),
        ];
        for (written, why) in cases {
            let found = sudo_command(written);
            assert!(
                found.as_ref().is_err_and(|(w, _)| w.contains(why)),
                "{written:?}: {found:?}"
            );
        }
    }
}
