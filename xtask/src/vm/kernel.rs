//! Step 2: Debian's trixie-backports cloud kernel (sched_ext, BTF, virtiofs, no lockdown).
//!
//! The version is resolved from the meta-package `linux-image-cloud-amd64` through a private
//! apt configuration (sources file, lists and cache all inside the VM cache): the host's own apt
//! sources and lists are never touched, so nothing else on the host can upgrade from
//! backports. The sources file is deleted again when resolving ends, failed or not.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::cache::Cache;
use super::cmd;

const META_PACKAGE: &str = "linux-image-cloud-amd64";
const SOURCE: &str = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
                      http://deb.debian.org/debian trixie-backports main\n";

/// A kernel ready to boot: its image in the cache, its modules and config on the host.
pub struct Kernel {
    /// `uname -r` of the guest, e.g. `7.3.4+deb13-cloud-amd64`.
    pub release: String,
    pub image: PathBuf,
}

impl Kernel {
    /// `7.3` for `7.3.4+deb13-cloud-amd64`: the fixture directory name.
    pub fn major_minor(&self) -> String {
        major_minor(&self.release)
    }
}

pub fn major_minor(release: &str) -> String {
    release.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// apt pointed at trixie-backports only, with lists and cache kept in the VM cache.
struct PrivateApt {
    dir: PathBuf,
    sources: PathBuf,
}

impl PrivateApt {
    fn new(cache: &Cache) -> Result<PrivateApt> {
        let dir = cache.path("apt");
        for sub in ["lists/partial", "cache/archives/partial"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let sources = dir.join("trixie-backports.list");
        fs::write(&sources, SOURCE)?;
        Ok(PrivateApt { dir, sources })
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let opt = |k: &str, v: &Path| format!("{k}={}", v.display());
        c.arg("-o")
            .arg(opt("Dir::Etc::SourceList", &self.sources))
            .arg("-o")
            .arg("Dir::Etc::SourceParts=/nonexistent")
            .arg("-o")
            .arg(opt("Dir::State::Lists", &self.dir.join("lists")))
            .arg("-o")
            .arg(opt("Dir::Cache", &self.dir.join("cache")))
            // Downloads land in a root-owned directory the _apt sandbox user cannot write.
            .args(["-o", "APT::Sandbox::User=root"]);
        c
    }
}

impl Drop for PrivateApt {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.sources);
    }
}

/// (kernel release, Debian version) of the current trixie-backports cloud kernel.
fn resolve(apt: &PrivateApt) -> Result<(String, String)> {
    let hint = "check that deb.debian.org is reachable; the version is read from \
                linux-image-cloud-amd64 in trixie-backports";
    cmd::run(apt.command("apt-get").args(["update", "-q"]), hint)?;
    let show = cmd::output(
        apt.command("apt-cache")
            .args(["show", "--no-all-versions", META_PACKAGE]),
        hint,
    )?;
    parse_meta(&show).with_context(|| format!("unexpected `apt-cache show {META_PACKAGE}` output"))
}

/// Reads `Version:` and the `linux-image-<release>` dependency of the meta-package.
fn parse_meta(show: &str) -> Result<(String, String)> {
    let field = |name: &str| {
        show.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let version = field("Version:").context("no Version field")?;
    let depends = field("Depends:").context("no Depends field")?;
    let release = depends
        .split(',')
        .filter_map(|d| d.split_whitespace().next())
        .find_map(|d| d.strip_prefix("linux-image-"))
        .context("no linux-image-<release> dependency")?;
    Ok((release.to_string(), version.to_string()))
}

fn kernel_dir(cache: &Cache, release: &str) -> PathBuf {
    cache.path("kernel").join(release)
}

/// The three packages that make up the kernel: image, modules, and the base files
/// (config, System.map, modules.builtin live in linux-base, not in the image package).
fn packages(release: &str) -> [String; 3] {
    [
        format!("linux-binary-unsigned-{release}"),
        format!("linux-modules-{release}"),
        format!("linux-base-{release}"),
    ]
}

fn fetch(cache: &Cache, apt: &PrivateApt, release: &str) -> Result<()> {
    let dir = kernel_dir(cache, release);
    let debs = dir.join("debs");
    let root = dir.join("root");
    let _ = fs::remove_dir_all(&debs);
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&debs)?;
    fs::create_dir_all(&root)?;
    cmd::run(
        apt.command("apt-get")
            .current_dir(&debs)
            .args(["download", "-q"])
            .args(packages(release)),
        "check the package names with `apt-cache search linux-binary-unsigned` against trixie-backports",
    )?;
    for entry in fs::read_dir(&debs)? {
        let deb = entry?.path();
        cmd::run(
            Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root),
            "the downloaded package is damaged: delete the cache's kernel directory and retry",
        )?;
    }
    let image = modules_src(cache, release).join("vmlinuz.unsigned");
    if !image.is_file() {
        bail!("{} is missing after extraction", image.display());
    }
    fs::copy(&image, dir.join("vmlinuz"))?;
    Ok(())
}

fn modules_src(cache: &Cache, release: &str) -> PathBuf {
    kernel_dir(cache, release)
        .join("root/usr/lib/modules")
        .join(release)
}

fn host_modules(release: &str) -> PathBuf {
    Path::new("/lib/modules").join(release)
}

fn host_config(release: &str) -> PathBuf {
    Path::new("/boot").join(format!("config-{release}"))
}

fn installed_on_host(release: &str) -> bool {
    host_modules(release).join("modules.dep").is_file()
        && host_modules(release)
            .join("kernel/drivers/virtio/virtio_mmio.ko")
            .is_file()
        && host_config(release).is_file()
}

/// Modules uncompressed (virtme-ng loads virtio_mmio/overlay itself and cannot read .ko.xz),
/// depmod, and the config where libbpf looks for it.
fn install_on_host(cache: &Cache, release: &str) -> Result<()> {
    let src = modules_src(cache, release);
    let dst = host_modules(release);
    fs::create_dir_all(&dst)
        .with_context(|| format!("cannot create {}: run as root", dst.display()))?;
    let hint = "installing the guest kernel's modules on the host needs root";
    cmd::run(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", src.display()))
            .arg(&dst),
        hint,
    )?;
    // The image stays in the cache; the VM does not look for it in /lib/modules.
    let _ = fs::remove_file(dst.join("vmlinuz.unsigned"));
    cmd::run(
        Command::new("find")
            .arg(&dst)
            .args(["-name", "*.ko.xz", "-exec", "xz", "-d", "-f", "{}", "+"]),
        "xz is needed to decompress the kernel modules: apt-get install xz-utils",
    )?;
    cmd::run(
        Command::new("depmod").arg(release),
        "depmod comes from kmod: apt-get install kmod",
    )?;
    fs::copy(src.join("config"), host_config(release)).with_context(|| {
        format!(
            "cannot write {}: run as root",
            host_config(release).display()
        )
    })?;
    Ok(())
}

/// `resolve_latest`: ask trixie-backports for the current version (network); otherwise
/// reuse the kernel prepared last, resolving only if there is none.
pub fn prepare(cache: &Cache, resolve_latest: bool) -> Result<Kernel> {
    let current = cache.stamp("kernel-current");
    let (release, deb_version) = match (&current, resolve_latest) {
        (Some(stamp), false) => split_stamp(stamp)?,
        _ => {
            let apt = PrivateApt::new(cache)?;
            let resolved = resolve(&apt)?;
            println!(
                "    trixie-backports: {META_PACKAGE} {} → kernel {}",
                resolved.1, resolved.0
            );
            let stamp_name = format!("kernel-{}", resolved.0);
            if cache.stamp(&stamp_name).as_deref() != Some(resolved.1.as_str()) {
                fetch(cache, &apt, &resolved.0)?;
                cache.write_stamp(&stamp_name, &resolved.1)?;
            } else {
                println!("    packages already in the cache");
            }
            resolved
        }
    };
    let image = kernel_dir(cache, &release).join("vmlinuz");
    if !image.is_file() {
        bail!(
            "{} is missing: run `cargo xtask vm prepare` to fetch the kernel again",
            image.display()
        );
    }
    if installed_on_host(&release) {
        println!(
            "    modules in {} and {} present",
            host_modules(&release).display(),
            host_config(&release).display()
        );
    } else {
        install_on_host(cache, &release)?;
    }
    cache.write_stamp("kernel-current", &format!("{release} {deb_version}"))?;
    Ok(Kernel { release, image })
}

fn split_stamp(stamp: &str) -> Result<(String, String)> {
    let (release, version) = stamp
        .split_once(' ')
        .context("damaged stamp kernel-current: run `cargo xtask vm prepare`")?;
    Ok((release.to_string(), version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_package_names_the_release() {
        let show = "Package: linux-image-cloud-amd64\nVersion: 7.3.4-1~bpo13+1\n\
                    Depends: linux-base-cloud-amd64 (= 7.3.4-1~bpo13+1), \
                    linux-image-7.3.4+deb13-cloud-amd64 (= 7.3.4-1~bpo13+1), \
                    linux-modules-cloud-amd64 (= 7.3.4-1~bpo13+1)\n";
        let (release, version) = parse_meta(show).unwrap();
        assert_eq!(release, "7.3.4+deb13-cloud-amd64");
        assert_eq!(version, "7.3.4-1~bpo13+1");
        assert_eq!(major_minor(&release), "7.3");
    }

    #[test]
    fn the_backports_source_is_gone_after_use() {
        let dir = std::env::temp_dir().join(format!("autosa-vm-apt-{}", std::process::id()));
        let cache = Cache::open(Some(dir.clone())).unwrap();
        let sources = {
            let apt = PrivateApt::new(&cache).unwrap();
            let cmd = apt.command("apt-get");
            let args: Vec<_> = cmd
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            // Only the private source and lists are used, never the host's.
            assert!(args.contains(&"Dir::Etc::SourceParts=/nonexistent".to_string()));
            assert!(args.iter().any(
                |a| a.starts_with("Dir::State::Lists=") && a.contains(&*dir.to_string_lossy())
            ));
            assert!(apt.sources.is_file());
            apt.sources.clone()
        };
        assert!(!sources.exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn meta_package_without_image_is_an_error() {
        assert!(parse_meta("Version: 1\nDepends: foo\n").is_err());
    }
}
