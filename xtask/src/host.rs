//! Where xtask's commands find the workspace, its target directory and the
//! autosa binary, and whether they run as root.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, ensure};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `$CARGO_TARGET_DIR`, else the workspace's `target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Effective uid 0.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// What the tests run.
    Debug,
    Release,
}

/// `cargo build [--release] -p autosa --bin autosa`, then the binary's path.
pub fn build_autosa(profile: Profile) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec!["build"];
    if profile == Profile::Release {
        args.push("--release");
    }
    args.extend(["-p", "autosa", "--bin", "autosa"]);
    eprintln!("building autosa: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(&args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("running {cargo}"))?;
    ensure!(status.success(), "cargo {} failed", args.join(" "));
    let bin = target_dir()
        .join(match profile {
            Profile::Debug => "debug",
            Profile::Release => "release",
        })
        .join("autosa");
    ensure!(bin.exists(), "{} was not built", bin.display());
    Ok(bin)
}
