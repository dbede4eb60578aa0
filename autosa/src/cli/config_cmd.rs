use std::path::Path;

use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate the configuration file (defaults when the default path is absent).
    Check,
    /// Print the default configuration as TOML.
    Default,
}

pub fn run(cmd: Command, path: &Path) -> anyhow::Result<()> {
    match cmd {
        Command::Check => {
            super::load_config(path)?;
            println!("{}: ok", path.display());
        }
        Command::Default => print!("{}", Config::default_toml()),
    }
    Ok(())
}
