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
            if path.exists() {
                // Any file may be checked; say so when `autosa run` would refuse it.
                if let Err(e) = Config::check_trusted_file(path) {
                    eprintln!("warning: `autosa run` would refuse this file: {e}");
                }
                println!("{}: ok", path.display());
            } else {
                // load_config only lets the default path be absent.
                println!(
                    "{}: not there, so the defaults apply (`autosa config default` prints them)",
                    path.display()
                );
            }
        }
        Command::Default => print!("{}", Config::default_toml()),
    }
    Ok(())
}
