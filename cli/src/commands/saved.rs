//! `jit saved`: list your saved requests (`saved.list`), or delete one (`saved.delete`).

use jit_api::methods::{Empty, NameParams, SavedDelete, SavedList};

use super::{Ctx, Outcome};
use crate::format::{self, Cell, Table};

/// List your saved requests, or delete one (`jit saved delete NAME`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do [default: list them]
    #[command(subcommand)]
    pub action: Option<Action>,
}

/// `jit saved` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Forget a saved request
    Delete {
        /// Its name
        #[arg(value_name = "NAME")]
        name: String,
    },
}

/// Runs `jit saved`.
pub async fn run(ctx: &mut Ctx, args: Args) -> anyhow::Result<Outcome> {
    if let Some(Action::Delete { name }) = args.action {
        ctx.client
            .call::<SavedDelete>(&NameParams { name: name.clone() })
            .await?;
        if ctx.out.json {
            ctx.out.json(&serde_json::json!({ "deleted": name }))?;
        } else {
            ctx.out.print(&format!("Deleted {name}\n"))?;
        }
        return Ok(Outcome::Done);
    }
    let saved = ctx.client.call::<SavedList>(&Empty {}).await?;
    if ctx.out.json {
        ctx.out.json(&saved)?;
        return Ok(Outcome::Done);
    }
    if saved.is_empty() {
        ctx.out.print(
            "No saved requests. Save one: jit save NAME INTEGRATION/TYPE RESOURCE --perm P\n",
        )?;
        return Ok(Outcome::Done);
    }
    let mut table = Table::new(&["NAME", "ASKS FOR", "SAVED"]);
    for s in &saved {
        table.row(vec![
            Cell::from(format!("@{}", s.name)),
            Cell::from(format::saved_summary(&s.request)),
            Cell::from(ctx.out.clock.relative(s.saved_at)),
        ]);
    }
    ctx.out.print(&table.render(ctx.out.style))?;
    Ok(Outcome::Done)
}
