//! The complete example of docs/config.md, read back field by field; the defaults.

use std::time::Duration;

use jit_config::{
    Approval, Bundle, BundleEntry, ExtensionApproval, IntegrationKind, Justification, Principal,
    ResourceType,
};

use crate::support::{PASSWORD, flow, valid};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn full_example_reads_back() {
    let config = valid(&crate::docs::full_example());
    assert_eq!(config.path, std::path::Path::new(crate::support::PATH));

    let daemon = &config.daemon;
    assert_eq!(
        daemon.admins,
        [
            Principal::User("root".into()),
            Principal::Group("jit-admins".into())
        ]
    );
    assert_eq!(daemon.pending_ttl, 2 * HOUR);
    assert_eq!(daemon.socket_mode, 0o660);
    assert_eq!(daemon.log.as_deref(), Some("info,jitd=debug"));

    assert_eq!(config.integrations.len(), 2);
    let pg = config.integration("pg-main").expect("pg-main");
    assert_eq!(
        pg.message.as_deref(),
        Some("Production replica: keep queries light.")
    );
    assert_eq!(
        pg.resource_types,
        [ResourceType {
            name: "database".into(),
            permissions: vec!["read".into(), "write".into()]
        }]
    );
    let IntegrationKind::Postgres(settings) = &pg.kind else {
        panic!("pg-main is {:?}", pg.kind);
    };
    assert_eq!(pg.kind.name(), "postgres");
    assert_eq!(
        settings.url.expose(),
        format!("postgres://admin:{PASSWORD}@127.0.0.1:5432/postgres")
    );
    assert_eq!(settings.role_prefix, "jit_");
    assert_eq!(settings.client_host.as_deref(), Some("db.example.com"));
    assert_eq!(settings.client_port, Some(5432));

    let demo = config.integration("demo").expect("demo");
    assert_eq!(demo.kind.name(), "dry-run");
    assert_eq!(demo.message, None);
    assert_eq!(
        demo.resource_type("bucket").map(|t| t.permissions.clone()),
        Some(vec!["list".into()])
    );
    assert_eq!(
        demo.resource_type("database")
            .map(|t| t.permissions.clone()),
        Some(vec!["read".into(), "write".into()])
    );

    let names: Vec<&str> = config.flows.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "pg-read",
            "pg-write",
            "demo-any",
            "oncall",
            "pg-break-glass"
        ],
        "flows keep file order"
    );

    let read = config.flow("pg-read").expect("pg-read");
    assert_eq!(read.requesters, [Principal::Group("dev".into())]);
    assert_eq!(read.integration.as_deref(), Some("pg-main"));
    assert_eq!(read.resource_types, ["database"]);
    assert_eq!(read.resources, ["*"]);
    assert_eq!(read.permissions, ["read"]);
    assert_eq!(read.approval, Approval::Auto);
    assert_eq!(read.default_duration, HOUR);
    assert_eq!(read.max_duration, 4 * HOUR);
    // A pattern makes the justification required.
    assert_eq!(read.justification, Justification::Required);
    let pattern = read.justification_pattern.as_ref().expect("pattern");
    assert!(pattern.is_match("INC-4312: orders are stuck"));
    assert!(!pattern.is_match("just looking"));
    assert_eq!(read.pending_ttl, None);

    let write = config.flow("pg-write").expect("pg-write");
    assert_eq!(
        write.requesters,
        [
            Principal::Group("dev".into()),
            Principal::User("alice".into())
        ]
    );
    // Absent keys: every type of the integration, every permission of those types.
    assert_eq!(write.resource_types, ["database"]);
    assert_eq!(write.permissions, ["read", "write"]);
    assert_eq!(write.resources, ["orders", "report_*"]);
    assert_eq!(
        write.approval,
        Approval::Manual {
            approvers: vec![Principal::Group("dba".into())],
            required: 2
        }
    );
    assert_eq!(write.max_duration, HOUR + HOUR / 2);
    // The default duration is 1h, or max_duration if that is shorter.
    assert_eq!(write.default_duration, HOUR);
    assert_eq!(write.justification, Justification::Required);
    assert!(write.justification_pattern.is_none());
    assert_eq!(write.pending_ttl, Some(HOUR / 2));

    let any = config.flow("demo-any").expect("demo-any");
    assert_eq!(any.requesters, [Principal::Anyone]);
    assert_eq!(any.resource_types, ["bucket", "database"]);
    assert_eq!(any.permissions, ["list", "read", "write"]);
    assert_eq!(any.max_duration, 48 * HOUR);
    assert_eq!(any.justification, Justification::Optional);
}

#[test]
fn full_example_reads_back_bundles_extensions_and_break_glass() {
    let config = valid(&crate::docs::full_example());

    let pg = config.integration("pg-main").expect("pg-main");
    assert_eq!(
        pg.browser_url.as_deref(),
        Some("https://pgweb.example.com/?host={host}&port={port}&user={user}&db={database}")
    );
    assert_eq!(pg.rotate_every, Some(24 * HOUR));
    let demo = config.integration("demo").expect("demo");
    assert_eq!(
        (demo.browser_url.as_deref(), demo.rotate_every),
        (None, None)
    );

    assert_eq!(
        config.bundles,
        [Bundle {
            name: "oncall".into(),
            message: Some("On-call bundle: read prod, write staging.".into()),
            entries: vec![
                BundleEntry {
                    integration: "pg-main".into(),
                    resource_type: "database".into(),
                    resources: vec!["orders".into(), "billing".into()],
                    permissions: vec!["read".into()],
                },
                BundleEntry {
                    integration: "demo".into(),
                    resource_type: "database".into(),
                    resources: vec!["staging".into()],
                    permissions: vec!["write".into()],
                },
            ],
        }]
    );
    assert_eq!(config.bundle("oncall").map(|b| b.entries.len()), Some(2));
    assert!(config.bundle("nope").is_none());

    let write = config.flow("pg-write").expect("pg-write");
    assert_eq!(write.max_extensions, 2);
    assert_eq!(write.max_total_duration, 3 * HOUR);
    assert_eq!(write.extension_approval, ExtensionApproval::Manual);
    assert!(!write.break_glass && write.notify.is_empty());
    assert!(write.bundles.is_empty());

    // A bundle flow: no integration, nothing of its own to choose from.
    let oncall = config.flow("oncall").expect("oncall flow");
    assert_eq!(oncall.integration, None);
    assert_eq!(oncall.bundles, ["oncall"]);
    assert!(oncall.resource_types.is_empty());
    assert!(oncall.resources.is_empty());
    assert!(oncall.permissions.is_empty());
    assert_eq!(oncall.approval, Approval::Auto);
    assert_eq!(oncall.max_extensions, 1);
    // Default: each extension as long as the first grant.
    assert_eq!(oncall.max_total_duration, 16 * HOUR);
    assert_eq!(oncall.extension_approval, ExtensionApproval::Auto);

    let glass = config.flow("pg-break-glass").expect("pg-break-glass");
    assert!(glass.break_glass);
    assert_eq!(glass.approval, Approval::Auto);
    assert_eq!(
        glass.notify,
        [
            Principal::Group("dba".into()),
            Principal::Group("security".into())
        ]
    );
    assert_eq!(glass.justification, Justification::Required);
    assert_eq!(glass.integration.as_deref(), Some("pg-main"));
    assert_eq!(glass.max_extensions, 0);
    assert_eq!(glass.max_total_duration, glass.max_duration);
}

#[test]
fn defaults() {
    let config = valid(&flow(
        "name = \"f\"\nrequesters = [\"*\"]\nintegration = \"demo\"\nmax_duration = \"30m\"\n",
    ));
    let daemon = &config.daemon;
    assert!(daemon.admins.is_empty());
    assert_eq!(daemon.pending_ttl, 2 * HOUR);
    assert_eq!(daemon.socket_mode, 0o666);
    assert_eq!(daemon.log, None);

    let demo = &config.integrations[0];
    assert_eq!(
        demo.resource_types,
        [ResourceType {
            name: "resource".into(),
            permissions: vec!["read".into(), "write".into()]
        }]
    );

    let f = &config.flows[0];
    assert_eq!(f.resources, ["*"]);
    assert_eq!(f.resource_types, ["resource"]);
    assert_eq!(f.permissions, ["read", "write"]);
    assert_eq!(f.approval, Approval::Auto, "no approvers: automatic");
    assert_eq!(f.default_duration, HOUR / 2, "min(1h, max_duration)");
    assert_eq!(f.justification, Justification::Optional);
    assert_eq!(f.pending_ttl, None);
    assert_eq!(f.integration.as_deref(), Some("demo"));
    assert!(f.bundles.is_empty());
    assert!(!f.break_glass && f.notify.is_empty());
    assert_eq!(f.max_extensions, 0, "extending is not allowed");
    assert_eq!(f.max_total_duration, f.max_duration);
    assert_eq!(f.extension_approval, ExtensionApproval::Auto);
    assert!(config.bundles.is_empty());
    assert_eq!(demo.browser_url, None);
    assert_eq!(demo.rotate_every, None);
}

#[test]
fn approvers_make_a_flow_manual() {
    let config = valid(&flow(
        "name = \"f\"\nrequesters = [\"%dev\"]\nintegration = \"demo\"\napprovers = [\"bob\", \"%dba\"]\nmax_duration = \"8h\"\n",
    ));
    let f = &config.flows[0];
    assert_eq!(
        f.approval,
        Approval::Manual {
            approvers: vec![
                Principal::User("bob".into()),
                Principal::Group("dba".into())
            ],
            required: 1
        }
    );
    assert_eq!(f.default_duration, HOUR);
}

#[test]
fn url_from_each_source() {
    let with =
        |source: &str| format!("[[integrations]]\nname = \"pg\"\nkind = \"postgres\"\n{source}\n");
    let url = |config: jit_config::Config| match &config.integrations[0].kind {
        IntegrationKind::Postgres(s) => s.url.expose().to_owned(),
        other => panic!("{other:?}"),
    };

    let inline = valid(&with(
        "url = \"postgres://postgres@127.0.0.1:5432/postgres\"",
    ));
    assert_eq!(url(inline), "postgres://postgres@127.0.0.1:5432/postgres");

    let key_value = valid(&with("url = \"host=/run/postgresql user=postgres\""));
    assert_eq!(url(key_value), "host=/run/postgresql user=postgres");

    let from_env = valid(&with("url_env = \"PG_MAIN_URL\""));
    assert!(url(from_env).contains(PASSWORD));

    // url_file is read and trimmed; a relative path starts at the config file's directory.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pg.url"), "  postgres://jit@db/postgres\n").expect("write");
    let text = with("url_file = \"pg.url\"");
    let config = jit_config::parse(&text, &dir.path().join("jit.toml")).expect("valid");
    assert_eq!(url(config), "postgres://jit@db/postgres");

    let absolute = dir.path().join("pg.url");
    let text = with(&format!("url_file = \"{}\"", absolute.display()));
    let config =
        jit_config::parse(&text, std::path::Path::new("/nowhere/jit.toml")).expect("valid");
    assert_eq!(url(config), "postgres://jit@db/postgres");
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("jit.toml");
    std::fs::write(&path, crate::support::DEMO).expect("write");
    let config = jit_config::load(&path).expect("valid");
    assert_eq!(config.path, path);
    assert_eq!(config.integrations[0].name, "demo");
    assert!(config.flows.is_empty());
}

#[test]
fn an_empty_file_is_valid() {
    let config = valid("");
    assert!(config.integrations.is_empty() && config.flows.is_empty());
}

#[test]
fn duration_forms() {
    for (text, secs) in [
        ("90s", 90),
        ("30m", 1800),
        ("1h 30m", 5400),
        ("2d", 172_800),
        ("1w", 604_800),
        ("1hour", 3600),
    ] {
        let config = valid(&flow(&format!(
            "name = \"f\"\nrequesters = [\"*\"]\nintegration = \"demo\"\nmax_duration = \"{text}\"\n"
        )));
        assert_eq!(config.flows[0].max_duration.as_secs(), secs, "{text}");
    }
}
