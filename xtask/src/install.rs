//! `cargo xtask install`: builds autosa in release mode, then runs the built
//! `autosa install` with the same options (the binary installs itself, its
//! embedded unit and a default configuration when there is none).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, bail};

#[derive(clap::Args)]
pub struct Args {
    /// Installation prefix: the binary goes to PREFIX/bin/autosa.
    #[arg(long, default_value = "/usr/local")]
    prefix: PathBuf,
    /// Install into this directory instead of /.
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Print what would be done, change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let bin = crate::host::build_autosa(crate::host::Profile::Release)?;
    let mut cmd = Command::new(&bin);
    cmd.arg("install")
        .arg("--prefix")
        .arg(&args.prefix)
        .arg("--root")
        .arg(&args.root);
    if args.dry_run {
        cmd.arg("--dry-run");
    }
    let status = cmd
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    if !status.success() {
        bail!("autosa install failed");
    }
    Ok(())
}
