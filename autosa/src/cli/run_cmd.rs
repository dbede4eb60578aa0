use std::path::Path;

use crate::config::BackendKind;
use crate::service::{RunOptions, run as run_daemon};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Decide and log, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Which backend acts [default: daemon.backend from the config, auto].
    #[arg(long, value_enum)]
    backend: Option<BackendKind>,
}

pub fn run(args: Args, config_path: &Path) -> anyhow::Result<()> {
    // The daemon's loader: also refuses a file only root should write but others can.
    let config = crate::service::reload::ConfigSource::new(config_path).load()?;
    run_daemon(
        config,
        RunOptions {
            dry_run: args.dry_run,
            backend: args.backend,
            config_path: Some(config_path.to_owned()),
        },
    )
}
