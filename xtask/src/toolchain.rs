//! `cargo xtask install-toolchain`: what `build-ebpf` needs, on Debian/Ubuntu.
//!
//! Debian ships a rustc with a prebuilt `core` for `bpfel-unknown-none`
//! (`libstd-rust-web-dev-bpf`), so no nightly and no build-std are needed.
//! Steps, each skipped when already done: the packages, a rustup toolchain
//! named `debian-rust` linked to `/usr`, and bpf-linker built against LLVM 22.

use std::process::Command;

use anyhow::{Context, bail};

use crate::build_ebpf::TOOLCHAIN;

const PACKAGES: [&str; 4] = [
    "rustc-web",
    "cargo-web",
    "libstd-rust-web-dev-bpf",
    "llvm-22-dev",
];
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";
const BPF_LINKER: &str = "bpf-linker@0.13.0";
const BPF_LINKER_VERSION: &str = "bpf-linker 0.13.0";

#[derive(clap::Args)]
pub struct Args {
    /// Only report what is missing; change nothing.
    #[arg(long)]
    check: bool,
}

fn is_debian_like(os_release: &str) -> bool {
    os_release.lines().any(|l| {
        let (k, v) = l.split_once('=').unwrap_or(("", ""));
        matches!(k, "ID" | "ID_LIKE")
            && v.trim_matches('"')
                .split_whitespace()
                .any(|id| id == "debian" || id == "ubuntu")
    })
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).contains("install ok installed")
        })
}

fn toolchain_linked() -> bool {
    Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.split_whitespace().next() == Some(TOOLCHAIN))
        })
}

fn linker_ok() -> bool {
    Command::new("bpf-linker")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == BPF_LINKER_VERSION)
}

fn run_cmd(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    if !is_debian_like(&os) {
        bail!(
            "install-toolchain supports Debian and Ubuntu only (it uses Debian's rustc with a prebuilt \
             core for bpfel-unknown-none); elsewhere install a nightly with rust-src and bpf-linker by hand"
        );
    }
    let missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !installed(p)).collect();
    let link = !toolchain_linked();
    let linker = !linker_ok();
    if args.check {
        println!(
            "missing packages: {missing:?}; toolchain link needed: {link}; bpf-linker needed: {linker}"
        );
        if !missing.is_empty() || link || linker {
            bail!("toolchain incomplete: run `cargo xtask install-toolchain`");
        }
        return Ok(());
    }
    if !missing.is_empty() {
        if !crate::host::is_root() {
            bail!(
                "packages {missing:?} are missing and installing them needs root: rerun as root (or sudo)"
            );
        }
        run_cmd(Command::new("apt-get").arg("update"))?;
        // With recommends, as in the recipe known to work on a fresh Debian 12.
        run_cmd(Command::new("apt-get").args(["install", "-y"]).args(&missing))
            .context("some packages need bookworm-updates/security or a newer release (rustc-web 1.96, llvm-22)")?;
    } else {
        println!("packages present: {PACKAGES:?}");
    }
    if link {
        run_cmd(Command::new("rustup").args(["toolchain", "link", TOOLCHAIN, "/usr"])).context(
            "rustup is needed for `cargo +debian-rust`; install it from https://rustup.rs",
        )?;
    } else {
        println!("rustup toolchain `{TOOLCHAIN}` present");
    }
    if linker {
        run_cmd(
            Command::new("cargo")
                .args([
                    "install",
                    "--locked",
                    BPF_LINKER,
                    "--no-default-features",
                    "--features",
                    "llvm-22",
                ])
                .env("LLVM_PREFIX", LLVM_PREFIX),
        )?;
    } else {
        println!("{BPF_LINKER_VERSION} present");
    }
    println!(
        "toolchain ready: `cargo xtask build-ebpf` rebuilds {}",
        crate::build_ebpf::OBJECT
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_debian_and_derivatives() {
        assert!(is_debian_like(
            "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n"
        ));
        assert!(is_debian_like("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"));
        assert!(!is_debian_like("ID=fedora\nID_LIKE=\"rhel centos\"\n"));
        assert!(!is_debian_like(""));
    }
}
