//! The config files shipped in config/ parse, and say what the docs say they do.

use std::path::Path;

use jit_config::{Approval, IntegrationKind, Justification, Principal};

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
        (any.integration.as_str(), &any.approval),
        ("demo", &Approval::Auto)
    );
}

#[test]
fn system_example_parses() {
    // It takes the admin URL from PG_MAIN_URL, as jitd's unit would provide it.
    let path = shipped("system.toml");
    let text = std::fs::read_to_string(&path).expect("read system.toml");
    let config = match jit_config::parse_with_env(&text, &path, &crate::support::env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(config.daemon.admins[0], Principal::User("root".into()));
    assert!(!config.flows.is_empty());
    // Every flow names an integration that exists.
    for flow in &config.flows {
        assert!(
            config.integration(&flow.integration).is_some(),
            "{}",
            flow.name
        );
    }
}
