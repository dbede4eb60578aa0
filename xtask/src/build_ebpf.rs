//! `cargo xtask build-ebpf [--check]`: rebuild the committed eBPF object.
//!
//! The object is committed (`autosa/bpf/autosa.bpf.o`) so that building
//! autosa needs only stable Rust. This command regenerates it with the Debian
//! toolchain (`cargo xtask install-toolchain`); `--check` rebuilds into a
//! temporary directory and fails when the committed bytes differ. Paths are
//! remapped so the bytes do not depend on where the checkout lives.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

/// Where the object is committed, relative to the workspace root.
pub const OBJECT: &str = "autosa/bpf/autosa.bpf.o";
/// rustup name of the Debian toolchain with a prebuilt `core` for BPF.
pub const TOOLCHAIN: &str = "debian-rust";
const TARGET: &str = "bpfel-unknown-none";

#[derive(clap::Args)]
pub struct Args {
    /// Rebuild into a temporary directory and fail if the committed object differs.
    #[arg(long)]
    check: bool,
    /// Cargo target directory for the build (default: `<target>/ebpf`, or a
    /// temporary directory with `--check`).
    #[arg(long)]
    target_dir: Option<PathBuf>,
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cargo")
        })
}

/// A TOML basic string holding `s`.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Rust flags for the BPF target only (host build scripts keep theirs):
/// every machine-specific path is mapped to a fixed name.
fn remap_flags(root: &Path, target_dir: &Path) -> String {
    let maps = [
        (root.to_path_buf(), "/autosa"),
        (
            cargo_home().join("registry").join("src"),
            "/cargo/registry/src",
        ),
        (
            cargo_home().join("git").join("checkouts"),
            "/cargo/git/checkouts",
        ),
        (target_dir.to_path_buf(), "/target"),
    ];
    let flags: Vec<String> = maps
        .iter()
        .map(|(from, to)| toml_str(&format!("--remap-path-prefix={}={to}", from.display())))
        .collect();
    format!("target.{TARGET}.rustflags=[{}]", flags.join(","))
}

fn check_toolchain() -> anyhow::Result<()> {
    let ok = Command::new("rustc")
        .arg(format!("+{TOOLCHAIN}"))
        .args(["--print", "sysroot"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        bail!(
            "toolchain `{TOOLCHAIN}` is not installed: run `cargo xtask install-toolchain` (Debian/Ubuntu, as root)"
        );
    }
    let linker = Command::new("bpf-linker")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !linker {
        bail!("bpf-linker is not on PATH: run `cargo xtask install-toolchain`");
    }
    Ok(())
}

/// Builds the object into `target_dir` and returns its path.
pub fn build(root: &Path, target_dir: &Path) -> anyhow::Result<PathBuf> {
    check_toolchain()?;
    let status = Command::new("cargo")
        .current_dir(root)
        .arg(format!("+{TOOLCHAIN}"))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "-p",
            "autosa-ebpf",
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--config")
        .arg(remap_flags(root, target_dir))
        // Lets aya-ebpf use its unstable features on a stable compiler without
        // turning on build-std (which RUSTC_BOOTSTRAP=1 would).
        .env("RUSTC_BOOTSTRAP", "aya_ebpf")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .context("running cargo for the eBPF build")?;
    if !status.success() {
        bail!("building autosa-ebpf failed ({status})");
    }
    Ok(target_dir.join(TARGET).join("release").join("autosa"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = crate::host::workspace_root();
    let committed = root.join(OBJECT);
    if args.check {
        let tmp;
        let dir = match args.target_dir {
            Some(d) => d,
            None => {
                tmp = TempDir::new()?;
                tmp.0.clone()
            }
        };
        let built = build(&root, &dir)?;
        let new = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
        let old = std::fs::read(&committed)
            .with_context(|| format!("reading {}", committed.display()))?;
        if new != old {
            bail!(
                "{OBJECT} is out of date with the autosa-ebpf sources ({} bytes committed, {} bytes built): \
                 run `cargo xtask build-ebpf` and commit the result",
                old.len(),
                new.len()
            );
        }
        println!("{OBJECT} is up to date ({} bytes)", old.len());
        return Ok(());
    }
    let dir = args
        .target_dir
        .unwrap_or_else(|| crate::host::target_dir().join("ebpf"));
    let built = build(&root, &dir)?;
    std::fs::create_dir_all(committed.parent().expect("object path has a parent"))?;
    std::fs::copy(&built, &committed)
        .with_context(|| format!("copying to {}", committed.display()))?;
    let len = std::fs::metadata(&committed)?.len();
    println!("wrote {OBJECT} ({len} bytes); commit it");
    Ok(())
}

/// A directory removed on drop (std has none; one small type beats a dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let base = std::env::temp_dir();
        for n in 0..1000u32 {
            let p = base.join(format!("autosa-ebpf-check-{}-{n}", std::process::id()));
            if std::fs::create_dir(&p).is_ok() {
                return Ok(Self(p));
            }
        }
        bail!(
            "could not create a temporary directory under {}",
            base.display()
        )
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remap_flags_are_target_scoped_toml() {
        let s = remap_flags(Path::new("/w/a \"b\""), Path::new("/t"));
        assert!(s.starts_with("target.bpfel-unknown-none.rustflags=[\"--remap-path-prefix=/w/a \\\"b\\\"=/autosa\""), "{s}");
        assert!(s.contains("\"--remap-path-prefix=/t=/target\"]"), "{s}");
    }
}
