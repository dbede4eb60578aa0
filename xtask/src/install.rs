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
    let root = crate::build_ebpf::workspace_root();
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(&root)
        .args(["build", "--release", "-p", "autosa", "--bin", "autosa"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building autosa failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release").join("autosa");
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
