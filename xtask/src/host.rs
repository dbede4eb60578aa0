//! Where xtask's commands find the workspace, its target directory and the
//! autosa binary, whether they run as root, and what the benches read of
//! the daemon's process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

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

/// A daemon started by a bench: sent SIGTERM and reaped when dropped.
pub struct TermOnDrop(pub Child);

impl Drop for TermOnDrop {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

/// A process's CPU time (utime + stime, in clock ticks) and RSS (KiB).
pub fn cpu_ticks_and_rss(pid: u32) -> procfs::ProcResult<(u64, u64)> {
    let p = procfs::process::Process::new(pid as i32)?;
    let stat = p.stat()?;
    let rss = p.status()?.vmrss.unwrap_or(0);
    Ok((stat.utime + stat.stime, rss))
}

/// Clock ticks per second, the unit of `cpu_ticks_and_rss`.
pub fn ticks_per_second() -> f64 {
    procfs::ticks_per_second().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_time_and_rss_are_read() {
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(100) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let (ticks, rss) = cpu_ticks_and_rss(std::process::id()).unwrap();
        assert!(ticks > 0, "{ticks} ticks after 100 ms of spinning");
        assert!(rss > 1024, "{rss} KiB");
        assert!(ticks_per_second() >= 100.0);
    }
}
