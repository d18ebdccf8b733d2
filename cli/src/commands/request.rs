//! `jit request`: ask for access (`request.create`), then follow it until it settles.

use std::time::Duration;

use jit_api::methods::{CreateParams, Empty, RequestCreate, SavedList};

use super::{Cli, Ctx, Outcome, shared, wizard};
use crate::format::Clock;
use crate::parse::{self, StartAt, Target};

/// Ask for access to resources of an integration, or for a bundle.
///
/// Names one integration and resource type, one or more resources (up to 1,000), and one
/// or more permissions — or, with --bundle, a bundle your admin defined (several
/// integrations at once, granted all or nothing). The access flow your admin wrote decides
/// whether it is approved at once or waits for approvers, and how long it may last. The
/// clock starts when access is granted (or at the scheduled start, with --at or --in), not
/// when you ask.
///
/// Auto-approved requests are followed until they are Granted (or Failed); pending ones
/// are left to the approvers unless you pass --wait.
///
/// Without INTEGRATION/RESOURCE_TYPE or --bundle, on a terminal, a wizard walks you through
/// the request, offering only what `jit catalog` lists.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    jit request pg-main/database orders --perm read --for 1h --reason INC-4312\n  \
    jit request pg-main/database orders payments --perm read,write --wait\n  \
    jit request --bundle oncall --for 2h --reason INC-4312\n  \
    jit request pg-main/database orders -p write --at 2026-12-01T02:00 --for 2h\n  \
    jit request pg-main/database orders -p read --in 3h\n  \
    jit request @orders-read --reason INC-4312   (a request saved with `jit save`)\n\n\
    jit request                  (on a terminal: the wizard)\n\n\
    `jit catalog` lists what you may request.")]
pub struct Args {
    /// The integration and resource type, e.g. pg-main/database (not with --bundle)
    #[arg(
        value_name = "INTEGRATION/RESOURCE_TYPE",
        value_parser = parse::target,
        requires_all = ["resources", "permissions"]
    )]
    pub target: Option<Target>,

    /// The resources, e.g. orders (up to 1,000; not with --bundle)
    #[arg(value_name = "RESOURCE")]
    pub resources: Vec<String>,

    /// A permission on the resources; repeat it or give a comma list (read,write) (not with
    /// --bundle)
    #[arg(
        long = "perm",
        short = 'p',
        value_name = "PERMISSION",
        requires = "target",
        value_delimiter = ',',
        value_parser = parse::permission
    )]
    pub permissions: Vec<String>,

    /// A bundle to request, instead of INTEGRATION/RESOURCE_TYPE, RESOURCE and --perm
    /// (`jit catalog` lists the bundles you may request)
    #[arg(
        long,
        short = 'b',
        value_name = "NAME",
        conflicts_with_all = ["target", "resources", "permissions"]
    )]
    pub bundle: Option<String>,

    /// A saved request (`jit save`) to ask for again; `jit request @NAME` is the same
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with_all = ["target", "resources", "permissions", "bundle"]
    )]
    pub saved: Option<String>,

    /// Start the access at this time instead of as soon as it is approved: a local time
    /// (2026-12-01T02:00, "2026-12-01 02:00") or RFC 3339
    #[arg(long, value_name = "TIME", value_parser = parse::start_at)]
    pub at: Option<StartAt>,

    /// Start the access this long from now (3h, 1d), instead of as soon as it is approved
    #[arg(
        long = "in",
        value_name = "DURATION",
        value_parser = parse::duration,
        conflicts_with = "at"
    )]
    pub start_in: Option<Duration>,

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
    /// Whether nothing to request was named (no target, bundle or saved request): the
    /// wizard's case.
    pub fn names_nothing(&self) -> bool {
        self.target.is_none() && self.bundle.is_none() && self.saved.is_none()
    }

    /// The `request.create` parameters; `clock` turns --at and --in into a time.
    pub fn params(&self, clock: &Clock) -> CreateParams {
        let start_at = match (self.at, self.start_in) {
            (Some(at), _) => Some(at.resolve(clock.offset)),
            (None, Some(d)) => Some(clock.now + d),
            (None, None) => None,
        };
        let mut params = CreateParams {
            bundle: self.bundle.clone(),
            start_at,
            duration_secs: self.duration.map(|d| d.as_secs()),
            justification: self.reason.clone(),
            ..CreateParams::default()
        };
        if let Some(target) = &self.target {
            params.integration.clone_from(&target.integration);
            params.resource_type.clone_from(&target.resource_type);
            params.resources = parse::dedup(self.resources.clone());
            params.permissions = parse::dedup(self.permissions.clone());
        }
        params
    }
}

/// Runs `jit request`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    if args.names_nothing() {
        // `main` has checked that stdin and stdout are a terminal.
        return wizard::run(ctx, args).await;
    }
    let mut params = args.params(&ctx.out.clock);
    if let Some(name) = &args.saved {
        let saved = ctx.client.call::<SavedList>(&Empty {}).await?;
        let Some(s) = saved.into_iter().find(|s| s.name == *name) else {
            anyhow::bail!("you have no saved request named {name}; `jit saved` lists yours");
        };
        params = CreateParams {
            duration_secs: params.duration_secs.or(s.request.duration_secs),
            ..s.request
        }
        .with_when(params);
    }
    let req = ctx.client.call::<RequestCreate>(&params).await?;
    shared::follow(ctx, req, args.wait, args.timeout).await
}

/// What is given each time a saved request is used: the justification and the start.
trait WithWhen {
    fn with_when(self, given: CreateParams) -> CreateParams;
}

impl WithWhen for CreateParams {
    fn with_when(self, given: CreateParams) -> CreateParams {
        CreateParams {
            justification: given.justification,
            start_at: given.start_at,
            ..self
        }
    }
}

/// `jit request @NAME …` is `jit request --saved NAME …`: rewrites the command line before
/// clap reads it (a positional `@NAME` would otherwise have to be a target). `@NAME` counts
/// where the target goes — the first word of `jit request`'s own that is neither an option
/// nor an option's value (`jit request -r INC-1 @NAME` too) — and nowhere else: not as a
/// resource after the target, not as the value of an option (`--reason @foo`), not after
/// `--`. Which options take a value is read from the command's own definition.
pub fn expand_saved(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    // Most command lines have no `@` at all: no need to build the command's definition.
    if !args.iter().any(|a| a.as_encoded_bytes().contains(&b'@')) {
        return args;
    }
    let mut cli = Cli::command();
    cli.build();
    let Some(sub) = first_positional(&cli, &args, 1) else {
        return args;
    };
    let Some(request) = cli.find_subcommand("request") else {
        return args;
    };
    let word = args[sub].to_str().unwrap_or_default();
    if request.get_name() != word && !request.get_all_aliases().any(|a| a == word) {
        return args;
    }
    let Some(target) = first_positional(request, &args, sub + 1) else {
        return args;
    };
    match args[target].to_str().and_then(|a| a.strip_prefix('@')) {
        Some(name) if !name.is_empty() => {
            let mut out = args[..target].to_vec();
            out.push("--saved".into());
            out.push(name.into());
            out.extend_from_slice(&args[target + 1..]);
            out
        }
        _ => args,
    }
}

/// Where `cmd`'s first positional word is in `args[from..]`: the first word that is neither
/// an option of `cmd` (its own or a global one) nor the value such an option takes; `None`
/// when there is none, or when `--` comes first (what follows it is literal).
fn first_positional(
    cmd: &clap::Command,
    args: &[std::ffi::OsString],
    from: usize,
) -> Option<usize> {
    let takes_value = |arg: Option<&clap::Arg>| arg.is_some_and(|a| a.get_action().takes_values());
    let mut i = from;
    while let Some(word) = args.get(i) {
        let Some(word) = word.to_str() else {
            return Some(i);
        };
        if word == "--" {
            return None;
        }
        if let Some(long) = word.strip_prefix("--") {
            // `--name value`, unless written `--name=value`.
            let arg = cmd.get_arguments().find(|a| {
                a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|l| l.contains(&long))
            });
            if takes_value(arg) {
                i += 1;
            }
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            // `-wr value` or `-rvalue`: the first short that takes a value takes the rest of
            // the word, or the next word when it ends this one.
            for (at, c) in shorts.char_indices() {
                let arg = cmd.get_arguments().find(|a| a.get_short() == Some(c));
                if takes_value(arg) {
                    if at + c.len_utf8() == shorts.len() {
                        i += 1;
                    }
                    break;
                }
            }
        } else {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The usage error for `jit request` naming nothing where no terminal is: the wizard needs
/// one, and a script needs the arguments.
pub fn needs_terminal() -> clap::Error {
    use clap::CommandFactory;
    let message = "the following required arguments were not provided:\n  \
        <INTEGRATION/RESOURCE_TYPE> <RESOURCE>... --perm <PERMISSION> (or --bundle <NAME>)\n\n\
        Without them `jit request` starts a wizard, which needs a terminal (stdin and stdout);\n\
        `jit catalog` lists what you may request.";
    let mut cli = Cli::command();
    cli.build();
    match cli.find_subcommand_mut("request") {
        Some(request) => request.error(clap::error::ErrorKind::MissingRequiredArgument, message),
        None => cli.error(clap::error::ErrorKind::MissingRequiredArgument, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::shared::tests::out;
    use crate::commands::{Cli, Command};
    use clap::Parser;
    use time::macros::datetime;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        let cli = Cli::try_parse_from(argv)?;
        match cli.command {
            Command::Request(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn at_name_where_the_target_goes_is_a_saved_request() {
        let v = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        for (given, meant) in [
            (
                &["jit", "--socket", "/s", "request", "@x", "-r", "y"][..],
                &[
                    "jit", "--socket", "/s", "request", "--saved", "x", "-r", "y",
                ][..],
            ),
            (
                &["jit", "--json", "req", "@x"],
                &["jit", "--json", "req", "--saved", "x"],
            ),
            // After options of `jit request` and their values.
            (
                &["jit", "request", "-r", "x", "@name"],
                &["jit", "request", "-r", "x", "--saved", "name"],
            ),
            (
                &[
                    "jit", "request", "--reason", "@foo", "--for", "1h", "@name", "-w",
                ],
                &[
                    "jit", "request", "--reason", "@foo", "--for", "1h", "--saved", "name", "-w",
                ],
            ),
            (
                &[
                    "jit",
                    "request",
                    "--reason=x",
                    "-wr",
                    "y",
                    "--json",
                    "@name",
                ],
                &[
                    "jit",
                    "request",
                    "--reason=x",
                    "-wr",
                    "y",
                    "--json",
                    "--saved",
                    "name",
                ],
            ),
            (
                &["jit", "request", "-ry", "--socket", "/s", "@name"],
                &["jit", "request", "-ry", "--socket", "/s", "--saved", "name"],
            ),
        ] {
            assert_eq!(expand_saved(v(given)), v(meant), "{given:?}");
        }
        for untouched in [
            &["jit", "save", "request", "@x"][..],
            &["jit", "show", "request"],
            &["jit", "request", "pg/database", "@literal", "-p", "read"],
            &["jit", "--socket", "request", "@x"],
            // A flag's value is never a saved request's name.
            &[
                "jit",
                "request",
                "--reason",
                "@foo",
                "pg/database",
                "x",
                "-p",
                "read",
            ],
            &["jit", "request", "-r", "@foo", "--bundle", "b"],
            &["jit", "request", "-wr", "@foo", "--bundle", "b"],
            &["jit", "request", "--bundle", "@b"],
            &["jit", "request", "--", "@x"],
            &["jit", "request", "@"],
        ] {
            assert_eq!(expand_saved(v(untouched)), v(untouched), "{untouched:?}");
        }
        for argv in [
            &["jit", "request", "@x", "-r", "y"][..],
            &["jit", "request", "-r", "y", "@x"],
            &["jit", "request", "--wait", "--reason", "@y", "@x"],
        ] {
            let cli = Cli::try_parse_from(expand_saved(v(argv))).expect("parses");
            match cli.command {
                Command::Request(a) => {
                    assert_eq!(a.saved.as_deref(), Some("x"), "{argv:?}");
                    assert!(a.target.is_none(), "{argv:?}");
                }
                other => panic!("{other:?}"),
            }
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
            args.params(&out().clock),
            CreateParams {
                integration: "pg-main".into(),
                resource_type: "database".into(),
                resources: vec!["orders".into(), "payments".into()],
                permissions: vec!["read".into(), "write".into()],
                duration_secs: Some(5400),
                justification: Some("INC-4312".into()),
                ..CreateParams::default()
            }
        );
        assert!(!args.wait);
        assert_eq!(args.timeout, Duration::from_secs(600));
    }

    #[test]
    fn a_bundle_replaces_the_target() {
        let args = parse(&[
            "jit", "request", "--bundle", "oncall", "--for", "2h", "-r", "x",
        ])
        .expect("parses");
        assert_eq!(
            args.params(&out().clock),
            CreateParams {
                bundle: Some("oncall".into()),
                duration_secs: Some(7200),
                justification: Some("x".into()),
                ..CreateParams::default()
            }
        );
        for argv in [
            &["jit", "request", "--bundle", "oncall", "pg-main/database"][..],
            &["jit", "request", "--bundle", "oncall", "-p", "read"],
            &[
                "jit",
                "request",
                "pg-main/database",
                "orders",
                "-p",
                "read",
                "--bundle",
                "oncall",
            ],
        ] {
            let err = parse(argv).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{argv:?}");
            assert!(
                err.to_string().contains("cannot be used with"),
                "{argv:?}: {err}"
            );
        }
    }

    #[test]
    fn naming_nothing_is_the_wizard_or_a_usage_error() {
        assert!(parse(&["jit", "request"]).expect("parses").names_nothing());
        let args = parse(&["jit", "request", "--for", "1h", "-r", "INC-1"]).expect("parses");
        assert!(args.names_nothing());
        assert!(
            !parse(&["jit", "request", "-b", "oncall"])
                .expect("parses")
                .names_nothing()
        );
        let err = parse(&["jit", "request", "-p", "read"]).expect_err("refused");
        assert_eq!(err.exit_code(), 2);
        let err = needs_terminal();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.contains("<INTEGRATION/RESOURCE_TYPE>"), "{text}");
        assert!(text.contains("wizard, which needs a terminal"), "{text}");
    }

    #[test]
    fn at_and_in_become_the_start() {
        let o = out();
        let args = parse(&[
            "jit",
            "request",
            "pg-main/database",
            "orders",
            "-p",
            "read",
            "--at",
            "2026-12-01T02:00",
        ])
        .expect("parses");
        // The test clock's local offset is +1.
        assert_eq!(
            args.params(&o.clock).start_at,
            Some(datetime!(2026-12-01 01:00:00 UTC))
        );
        let args = parse(&[
            "jit",
            "request",
            "--bundle",
            "oncall",
            "--at",
            "2026-12-01T02:00:00Z",
        ])
        .expect("parses");
        assert_eq!(
            args.params(&o.clock).start_at,
            Some(datetime!(2026-12-01 02:00:00 UTC))
        );
        let args = parse(&["jit", "request", "--bundle", "oncall", "--in", "3h"]).expect("parses");
        assert_eq!(
            args.params(&o.clock).start_at,
            Some(datetime!(2025-11-23 16:35:00 UTC))
        );
        let err = parse(&[
            "jit",
            "request",
            "--bundle",
            "b",
            "--in",
            "3h",
            "--at",
            "2026-12-01 02:00",
        ])
        .expect_err("refused");
        assert!(err.to_string().contains("cannot be used with"), "{err}");
        let err = parse(&["jit", "request", "--bundle", "b", "--at", "noon"]).expect_err("bad");
        assert_eq!(err.exit_code(), 2);
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
