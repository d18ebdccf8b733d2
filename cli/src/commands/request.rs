//! `jit request`: ask for access (`request.create`), then follow it until it settles.

use std::time::Duration;

use jit_api::methods::{CreateParams, RequestCreate};

use super::{Ctx, Outcome, shared};
use crate::parse::{self, Target};

/// Ask for access to resources of an integration.
///
/// Names one integration and resource type, one or more resources (up to 1,000), and one
/// or more permissions. The access flow your admin wrote decides whether it is approved at
/// once or waits for approvers, and how long it may last. The clock starts when access is
/// granted, not when you ask.
///
/// Auto-approved requests are followed until they are Granted (or Failed); pending ones
/// are left to the approvers unless you pass --wait.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    jit request pg-main/database orders --perm read --for 1h --reason INC-4312\n  \
    jit request pg-main/database orders payments --perm read,write --wait\n\n\
    `jit catalog` lists what you may request.")]
pub struct Args {
    /// The integration and resource type, e.g. pg-main/database
    #[arg(value_name = "INTEGRATION/RESOURCE_TYPE", value_parser = parse::target)]
    pub target: Target,

    /// The resources, e.g. orders (up to 1,000)
    #[arg(value_name = "RESOURCE", required = true)]
    pub resources: Vec<String>,

    /// A permission on the resources; repeat it or give a comma list (read,write)
    #[arg(
        long = "perm",
        short = 'p',
        value_name = "PERMISSION",
        required = true,
        value_delimiter = ',',
        value_parser = parse::permission
    )]
    pub permissions: Vec<String>,

    /// How long the access should last once granted (30m, 1h30m, 2d) [default: the access
    /// flow's]
    #[arg(long = "for", value_name = "DURATION", value_parser = parse::duration)]
    pub duration: Option<Duration>,

    /// Why you need it (the justification; some access flows require one)
    #[arg(long, short = 'r', value_name = "TEXT")]
    pub reason: Option<String>,

    /// Wait until the request is decided and provisioned (or rejected)
    #[arg(long, short = 'w')]
    pub wait: bool,

    /// How long to wait at most
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse::duration)]
    pub timeout: Duration,
}

impl Args {
    /// The `request.create` parameters.
    pub fn params(&self) -> CreateParams {
        CreateParams {
            integration: self.target.integration.clone(),
            resource_type: self.target.resource_type.clone(),
            resources: parse::dedup(self.resources.clone()),
            permissions: parse::dedup(self.permissions.clone()),
            duration_secs: self.duration.map(|d| d.as_secs()),
            justification: self.reason.clone(),
        }
    }
}

/// Runs `jit request`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let req = ctx.client.call::<RequestCreate>(&args.params()).await?;
    shared::follow(ctx, req, args.wait, args.timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Cli, Command};
    use clap::Parser;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        let cli = Cli::try_parse_from(argv)?;
        match cli.command {
            Command::Request(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn flags_become_create_params() {
        let args = parse(&[
            "jit",
            "request",
            "pg-main/database",
            "orders",
            "payments",
            "orders",
            "--perm",
            "read,write",
            "-p",
            "read",
            "--for",
            "1h30m",
            "--reason",
            "INC-4312",
        ])
        .expect("parses");
        assert_eq!(
            args.params(),
            CreateParams {
                integration: "pg-main".into(),
                resource_type: "database".into(),
                resources: vec!["orders".into(), "payments".into()],
                permissions: vec!["read".into(), "write".into()],
                duration_secs: Some(5400),
                justification: Some("INC-4312".into()),
            }
        );
        assert!(!args.wait);
        assert_eq!(args.timeout, Duration::from_secs(600));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for argv in [
            &["jit", "request", "pg-main", "orders", "--perm", "read"][..],
            &["jit", "request", "pg-main/database", "--perm", "read"],
            &["jit", "request", "pg-main/database", "orders"],
            &[
                "jit",
                "request",
                "pg-main/database",
                "orders",
                "-p",
                "read",
                "--for",
                "soon",
            ],
        ] {
            let err = parse(argv).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
    }
}
