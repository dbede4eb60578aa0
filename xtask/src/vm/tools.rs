//! Steps 3–5: virtme-ng (PyPI, in a venv), virtiofsd and the scx schedulers (crates.io),
//! all installed inside the cache at pinned versions so every run uses the same tools.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

use super::cache::Cache;
use super::cmd;

pub const VIRTME_NG_VERSION: &str = "1.42";
pub const VIRTIOFSD_VERSION: &str = "1.14.0";
/// Schedulers the suite starts, with the version installed.
pub const SCHEDULERS: &[(&str, &str)] = &[("scx_bpfland", "1.1.4"), ("scx_lavd", "1.1.4")];

/// Where Debian's clang-22 package keeps the unversioned tool names.
const LLVM_BIN: &str = "/usr/lib/llvm-22/bin";

pub fn venv_bin(cache: &Cache) -> PathBuf {
    cache.path("venv/bin")
}

pub fn vng(cache: &Cache) -> PathBuf {
    venv_bin(cache).join("vng")
}

pub fn virtme_ng(cache: &Cache) -> Result<()> {
    let stamp = "virtme-ng";
    if cache.stamp(stamp).as_deref() == Some(VIRTME_NG_VERSION) && vng(cache).is_file() {
        println!(
            "    virtme-ng {VIRTME_NG_VERSION} already in {}",
            venv_bin(cache).display()
        );
        return Ok(());
    }
    let venv = cache.path("venv");
    cmd::run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 with the venv module is needed: apt-get install python3-venv",
    )?;
    cmd::run(
        Command::new(venv_bin(cache).join("pip")).args([
            "install",
            "-q",
            "--disable-pip-version-check",
            &format!("virtme-ng=={VIRTME_NG_VERSION}"),
        ]),
        "pip could not install virtme-ng: check that pypi.org is reachable",
    )?;
    let version = cmd::output(
        Command::new(vng(cache)).arg("--version"),
        "vng does not start",
    )?;
    println!("    {}", version.trim());
    cache.write_stamp(stamp, VIRTME_NG_VERSION)
}

/// `nice -n 19 cargo install --locked` into the cache, one shared target directory.
fn cargo_install(cache: &Cache, krate: &str, version: &str, hint: &str) -> Result<()> {
    if cache.stamp(krate).as_deref() == Some(version) && cache.bin_dir().join(krate).is_file() {
        println!(
            "    {krate} {version} already in {}",
            cache.bin_dir().display()
        );
        return Ok(());
    }
    let mut install = Command::new("nice");
    install
        .args(["-n", "19"])
        .arg(cmd::cargo().get_program())
        .args([
            "install",
            "--locked",
            "--force",
            "--version",
            version,
            "--root",
        ])
        .arg(cache.root())
        .arg(krate)
        .env("CARGO_TARGET_DIR", cache.cargo_target_dir())
        // Outside the workspace, so its .cargo/config.toml does not apply.
        .current_dir(cache.root());
    // Debian installs clang only as clang-22; the scx build scripts call `clang`
    // (or $BPF_CLANG), and bindgen looks for libclang next to llvm-config.
    let llvm_bin = std::path::Path::new(LLVM_BIN);
    if llvm_bin.is_dir() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![llvm_bin.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        install
            .env("PATH", std::env::join_paths(dirs)?)
            .env("BPF_CLANG", llvm_bin.join("clang"));
    }
    cmd::run(&mut install, hint)?;
    if !cache.bin_dir().join(krate).is_file() {
        bail!(
            "cargo install {krate} succeeded but {} is missing",
            cache.bin_dir().join(krate).display()
        );
    }
    cache.write_stamp(krate, version)
}

pub fn virtiofsd(cache: &Cache) -> Result<()> {
    cargo_install(
        cache,
        "virtiofsd",
        VIRTIOFSD_VERSION,
        "virtiofsd needs libseccomp-dev and libcap-ng-dev (step 1) and crates.io access",
    )
}

pub fn schedulers(cache: &Cache) -> Result<()> {
    for (name, version) in SCHEDULERS {
        cargo_install(
            cache,
            name,
            version,
            "scx schedulers need clang-22, libelf-dev, zlib1g-dev, pkg-config (step 1), \
             Rust >= 1.91 and crates.io access",
        )?;
    }
    Ok(())
}
