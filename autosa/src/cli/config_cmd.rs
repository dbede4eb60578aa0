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
            // Any file may be checked; say so when `autosa run` would refuse it.
            if path.exists()
                && let Err(e) = Config::check_trusted_file(path)
            {
                eprintln!("warning: `autosa run` would refuse this file: {e}");
            }
            if path.exists() {
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
