//! `jit completions`: a shell completion script for `jit`, generated from this command line
//! (clap_complete), so it can never disagree with the commands and flags `jit` has. Needs no
//! jitd.

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, Outcome};
use crate::output::Out;

/// Print a shell completion script for jit
///
/// The Debian package installs them. From a source build, for example:
///   jit completions bash > ~/.local/share/bash-completion/completions/jit
///   jit completions zsh > ~/.zfunc/_jit      (with fpath+=~/.zfunc before compinit)
///   jit completions fish > ~/.config/fish/completions/jit.fish
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The shell
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

/// Runs `jit completions`.
pub fn run(out: &Out, args: &Args) -> anyhow::Result<Outcome> {
    out.print(&script(args.shell)?)?;
    Ok(Outcome::Done)
}

/// The completion script of `jit` for `shell`.
pub fn script(shell: Shell) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "jit", &mut buf);
    Ok(String::from_utf8(buf)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How each shell's script names a subcommand it offers after `jit`.
    fn offered(shell: Shell, name: &str) -> String {
        match shell {
            Shell::Bash => format!("jit,{name})"),
            Shell::Zsh => format!("'{name}:"),
            _ => format!("-n \"__fish_jit_needs_command\" -f -a \"{name}\""),
        }
    }

    #[test]
    fn every_script_offers_every_subcommand() {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        assert!(names.len() > 10, "{names:?}");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = script(shell).expect("script");
            for name in &names {
                assert!(text.contains(&offered(shell, name)), "{shell}: no `{name}`");
            }
            assert!(!text.contains(&offered(shell, "frobnicate")), "{shell}");
        }
    }

    #[test]
    fn bash_script_registers_for_jit() {
        let text = script(Shell::Bash).expect("script");
        assert!(text.contains("complete -F _jit"), "{text}");
    }
}
