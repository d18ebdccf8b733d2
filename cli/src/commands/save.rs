//! `jit save`: keep what a request asks for under a name (`saved.save`), to ask for it again
//! with `jit request @NAME --reason …`.

use std::time::Duration;

use jit_api::methods::{CreateParams, SaveParams, SavedSave};

use super::{Ctx, Outcome};
use crate::format;
use crate::parse::{self, Target};

/// Save a request under a name, to make it again with `jit request @NAME --reason …`.
///
/// Takes what `jit request` takes, but no justification and no start time: those are given
/// each time it is used. Saving under a name you already use replaces it. The names are
/// checked now; the access flows decide each time it is used, as for any request.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    jit save orders-read pg-main/database orders --perm read --for 1h\n  \
    jit request @orders-read --reason INC-4312 --wait\n  \
    jit saved")]
// The target arguments repeat `jit request`'s on purpose: there they are optional (naming
// nothing starts the wizard), here they are required unless --bundle; one flattened struct
// cannot carry both rules.
pub struct Args {
    /// The name (letters, digits, '.', '_', '-')
    #[arg(value_name = "NAME")]
    pub name: String,

    /// The integration and resource type, e.g. pg-main/database (not with --bundle)
    #[arg(
        value_name = "INTEGRATION/RESOURCE_TYPE",
        value_parser = parse::target,
        required_unless_present = "bundle"
    )]
    pub target: Option<Target>,

    /// The resources (up to 1,000; not with --bundle)
    #[arg(value_name = "RESOURCE", required_unless_present = "bundle")]
    pub resources: Vec<String>,

    /// A permission; repeat it or give a comma list (not with --bundle)
    #[arg(
        long = "perm",
        short = 'p',
        value_name = "PERMISSION",
        required_unless_present = "bundle",
        value_delimiter = ',',
        value_parser = parse::permission
    )]
    pub permissions: Vec<String>,

    /// A bundle instead of INTEGRATION/RESOURCE_TYPE, RESOURCE and --perm
    #[arg(
        long,
        short = 'b',
        value_name = "NAME",
        conflicts_with_all = ["target", "resources", "permissions"]
    )]
    pub bundle: Option<String>,

    /// How long the access should last [default: the access flow's]
    #[arg(long = "for", value_name = "DURATION", value_parser = parse::duration)]
    pub duration: Option<Duration>,
}

/// Runs `jit save`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    let mut request = CreateParams {
        bundle: args.bundle,
        duration_secs: args.duration.map(|d| d.as_secs()),
        ..CreateParams::default()
    };
    if let Some(t) = args.target {
        request.integration = t.integration;
        request.resource_type = t.resource_type;
        request.resources = parse::dedup(args.resources);
        request.permissions = parse::dedup(args.permissions);
    }
    let saved = ctx
        .client
        .call::<SavedSave>(&SaveParams {
            name: args.name,
            request,
        })
        .await?;
    if ctx.out.json {
        ctx.out.json(&saved)?;
    } else {
        ctx.out.print(&format!(
            "Saved {}: {}\nUse it: jit request @{} --reason …\n",
            saved.name,
            format::saved_summary(&saved.request),
            saved.name
        ))?;
    }
    Ok(Outcome::Done)
}
