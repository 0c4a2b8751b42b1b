//! `deskrun completions SHELL` and the hidden `deskrun man`: shell completion scripts and man
//! pages, both generated from the clap definitions so they never drift from `--help`.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use super::Cli;
use super::output::print;

/// `deskrun completions --help`, after the options.
pub const AFTER_HELP: &str = "\
Install, for example:
  bash  deskrun completions bash > ~/.local/share/bash-completion/completions/deskrun
  zsh   deskrun completions zsh > ~/.zfunc/_deskrun   (with ~/.zfunc in $fpath)
  fish  deskrun completions fish > ~/.config/fish/completions/deskrun.fish
The Nix package installs them (and the man pages) already.";

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "deskrun", &mut script);
    print(&String::from_utf8(script).context("the completion script is not UTF-8")?)
}

/// Prints `deskrun.1`, or writes it and one page per subcommand into `dir`.
pub fn man(dir: Option<&Path>) -> anyhow::Result<()> {
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command()).render(&mut page)?;
        return print(&String::from_utf8(page).context("the man page is not UTF-8")?);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the man page directory {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write man pages into {}", dir.display()))
}
