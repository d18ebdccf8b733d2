//! The config files shipped in config/ parse, and say what the docs say they do.

use std::path::Path;

use std::time::Duration;

use jit_config::{Approval, ExtensionApproval, IntegrationKind, Justification, Principal};

const HOUR: Duration = Duration::from_secs(3600);

fn shipped(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

#[test]
fn quickstart_loads() {
    let config = match jit_config::load(&shipped("quickstart.toml")) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let pg = config.integration("pg-main").expect("pg-main");
    let IntegrationKind::Postgres(settings) = &pg.kind else {
        panic!("{:?}", pg.kind)
    };
    assert_eq!(
        settings.url.expose(),
        "postgres://postgres@127.0.0.1:5432/postgres"
    );
    assert_eq!(settings.role_prefix, "jit_");
    assert!(pg.message.is_some());
    assert_eq!(
        config.integration("demo").map(|i| i.kind.name()),
        Some("dry-run")
    );

    let read = config.flow("pg-read").expect("pg-read");
    assert_eq!(read.requesters, [Principal::Anyone]);
    assert_eq!(read.approval, Approval::Auto);
    assert_eq!(read.permissions, ["read"]);
    assert_eq!(read.resources, ["*"]);
    assert_eq!(read.max_duration.as_secs(), 4 * 3600);
    assert_eq!(read.default_duration.as_secs(), 3600);
    assert_eq!(read.justification, Justification::Required);

    let write = config.flow("pg-write").expect("pg-write");
    assert_eq!(
        write.approval,
        Approval::Manual {
            approvers: vec![Principal::Group("jit-approvers".into())],
            required: 1
        }
    );
    assert_eq!(write.max_duration.as_secs(), 3600);

    let any = config.flow("demo-any").expect("demo-any");
    assert_eq!(
        (any.integration.as_deref(), &any.approval),
        (Some("demo"), &Approval::Auto)
    );

    // The demo bundle: the local database and the dry-run, granted at once for an hour.
    let bundle = config.bundle("demo").expect("demo bundle");
    let entries: Vec<(&str, &str, &[String], &[String])> = bundle
        .entries
        .iter()
        .map(|e| {
            (
                e.integration.as_str(),
                e.resource_type.as_str(),
                e.resources.as_slice(),
                e.permissions.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (
                "pg-main",
                "database",
                &["jit_demo".to_owned()][..],
                &["read".to_owned()][..]
            ),
            (
                "demo",
                "resource",
                &["jit_demo".to_owned()][..],
                &["write".to_owned()][..]
            ),
        ]
    );
    let bundle_flow = config.flow("demo-bundle").expect("demo-bundle");
    assert_eq!(bundle_flow.integration, None);
    assert_eq!(bundle_flow.bundles, ["demo"]);
    assert_eq!(bundle_flow.requesters, [Principal::Anyone]);
    assert_eq!(bundle_flow.approval, Approval::Auto);
    assert_eq!(bundle_flow.max_duration, HOUR);
    assert_eq!(bundle_flow.max_extensions, 1);
    assert_eq!(bundle_flow.max_total_duration, 2 * HOUR);
}

/// Parses `text` as config/system.toml, with the admin URL in PG_MAIN_URL as jitd's unit would
/// provide it.
fn parse_system(text: &str) -> jit_config::Config {
    let path = shipped("system.toml");
    match jit_config::parse_with_env(text, &path, &crate::support::env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn system_example_parses() {
    let text = std::fs::read_to_string(shipped("system.toml")).expect("read system.toml");
    let config = parse_system(&text);
    assert_eq!(config.daemon.admins[0], Principal::User("root".into()));
    assert!(!config.flows.is_empty());
    // Every flow names an integration, or bundles, that exist.
    for flow in &config.flows {
        let covered = match &flow.integration {
            Some(integration) => config.integration(integration).is_some(),
            None => {
                !flow.bundles.is_empty() && flow.bundles.iter().all(|b| config.bundle(b).is_some())
            }
        };
        assert!(covered, "{}", flow.name);
    }
}

#[test]
fn system_example_shows_extensions_break_glass_and_rotation() {
    let text = std::fs::read_to_string(shipped("system.toml")).expect("read system.toml");
    let config = parse_system(&text);
    let pg = config.integration("pg-main").expect("pg-main");
    assert_eq!(pg.rotate_every, Some(24 * HOUR));

    let orders = config.flow("pg-write-orders").expect("pg-write-orders");
    assert_eq!(orders.max_extensions, 2);
    assert_eq!(orders.max_total_duration, 4 * HOUR);
    assert_eq!(orders.extension_approval, ExtensionApproval::Manual);

    let glass = config.flow("pg-break-glass").expect("pg-break-glass");
    assert!(glass.break_glass);
    assert_eq!(glass.approval, Approval::Auto);
    assert_eq!(glass.justification, Justification::Required);
    assert_eq!(
        glass.notify,
        [
            Principal::Group("dba".into()),
            Principal::Group("security".into())
        ]
    );
}

#[test]
fn system_example_commented_keys_are_valid_when_uncommented() {
    // Uncomment every commented-out key and table (`#   key = …`, `# [[…]]`, `# […]`);
    // comments about them (`# # …`) stay comments.
    let text = std::fs::read_to_string(shipped("system.toml")).expect("read system.toml");
    let mut uncommented = String::new();
    // Whether the current integration has its admin URL already.
    let mut has_url = false;
    for line in text.lines() {
        if line.starts_with("[[") {
            has_url = false;
        } else if line.starts_with("url") {
            has_url = true;
        }
        let rest = line.strip_prefix('#').map(str::trim_start);
        let code = rest.filter(|r| {
            r.starts_with('[')
                || r.split_once(" = ").is_some_and(|(key, _)| {
                    !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                })
        });
        match code {
            // The other ways to give an admin URL replace the one given; leave them out.
            Some(code) if code.starts_with("url") && has_url => {}
            Some(code) => {
                if code.starts_with("[[") {
                    has_url = false;
                } else if code.starts_with("url") {
                    has_url = true;
                }
                uncommented.push_str(code);
                uncommented.push('\n');
            }
            None => {
                let comment = line.strip_prefix("# #").map(|_| &line[2..]);
                uncommented.push_str(comment.unwrap_or(line));
                uncommented.push('\n');
            }
        }
    }
    let config = parse_system(&uncommented);
    let pg = config.integration("pg-main").expect("pg-main");
    assert!(
        pg.browser_url
            .as_deref()
            .is_some_and(|u| u.contains("{database}"))
    );
    let oncall = config.bundle("oncall").expect("the commented bundle");
    assert_eq!(oncall.entries.len(), 2);
    let flow = config
        .flow("oncall-bundle")
        .expect("the commented bundle flow");
    assert_eq!(flow.bundles, ["oncall"]);

    // An example of every kind, and flows on two of them.
    let kinds: Vec<&str> = config.integrations.iter().map(|i| i.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "postgres",
            "dry-run",
            "mariadb",
            "redis",
            "unix-group",
            "sudo",
            "ssh",
            "exec"
        ]
    );
    let maria = config.integration("maria-main").expect("maria-main");
    assert_eq!(
        maria.resource_types[0].permissions,
        ["read", "write", "audit"]
    );
    let IntegrationKind::Sudo(sudo) = &config.integration("ops-sudo").expect("ops-sudo").kind
    else {
        panic!("ops-sudo is not sudo")
    };
    assert_eq!(sudo.commands.len(), 2);
    let IntegrationKind::Exec(exec) = &config.integration("shares").expect("shares").kind else {
        panic!("shares is not exec")
    };
    assert_eq!(
        exec.env,
        [("SHARE_ROOT".to_owned(), "/srv/share".to_owned())]
    );
    assert_eq!(
        config.flow("nginx-sudo").map(|f| f.resources.clone()),
        Some(vec!["*-nginx".to_owned()])
    );
    assert_eq!(
        config.flow("ssh-deploy").map(|f| f.permissions.clone()),
        Some(vec!["login".to_owned()])
    );
    // A channel of every kind.
    let channels: Vec<&str> = config.notifications.iter().map(|c| c.kind.name()).collect();
    assert_eq!(channels, ["slack", "teams", "webhook", "email"]);
}
