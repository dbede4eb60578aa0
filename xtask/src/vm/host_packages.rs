//! Step 1: the Debian packages the VM and the scheduler builds need on the host.

use std::process::Command;

use anyhow::Result;

use super::cmd;

/// qemu + kmod + udev run the VM (virtme-ng), busybox builds its initramfs (needed because
/// virtio_mmio and overlay are modules in the cloud kernel); libseccomp/libcap-ng build virtiofsd;
/// clang, libelf, zlib and pkg-config build the scx schedulers' BPF side.
pub const PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "kmod",
    "udev",
    "busybox-static",
    "libseccomp-dev",
    "libcap-ng-dev",
    "clang-22",
    "libelf-dev",
    "zlib1g-dev",
    "pkg-config",
];

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", package])
        .output()
        .map(|out| out.status.success() && out.stdout == b"installed")
        .unwrap_or(false)
}

pub fn ensure() -> Result<()> {
    let missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        println!("    all present: {}", PACKAGES.join(" "));
        return Ok(());
    }
    println!("    missing: {}", missing.join(" "));
    let hint = format!(
        "install them by hand (as root): apt-get update && apt-get install {}",
        missing.join(" ")
    );
    cmd::run(Command::new("apt-get").args(["update", "-q"]), &hint)?;
    cmd::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
        &hint,
    )
}
