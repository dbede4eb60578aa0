//! The cache directory that holds everything `vm prepare` fetches or builds, and the stamp
//! files that let each step skip work already done.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// `--cache DIR` / `AUTOSA_VM_CACHE` (both arrive in `explicit`), else
    /// `$XDG_CACHE_HOME/autosa-vm`, else `/var/cache/autosa-vm`.
    pub fn open(explicit: Option<PathBuf>) -> Result<Cache> {
        let root = explicit.unwrap_or_else(|| match std::env::var_os("XDG_CACHE_HOME") {
            Some(xdg) if !xdg.is_empty() => PathBuf::from(xdg).join("autosa-vm"),
            _ => PathBuf::from("/var/cache/autosa-vm"),
        });
        fs::create_dir_all(&root).with_context(|| {
            format!(
                "cannot create the VM cache {}: pick a writable one with --cache DIR or AUTOSA_VM_CACHE",
                root.display()
            )
        })?;
        // Absolute, so that paths handed to the guest and to child processes stay valid.
        let root = fs::canonicalize(&root)?;
        Ok(Cache { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Binaries installed by `cargo install --root <cache>`.
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// Target directory shared by every `cargo install`, so common crates build once.
    pub fn cargo_target_dir(&self) -> PathBuf {
        self.root.join("cargo-target")
    }

    fn stamp_path(&self, name: &str) -> PathBuf {
        self.root.join("stamps").join(name)
    }

    /// The content of a stamp (what was installed, usually a version), if the step completed.
    pub fn stamp(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.stamp_path(name))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// Written last by a step, so a step interrupted half-way runs again.
    pub fn write_stamp(&self, name: &str, value: &str) -> Result<()> {
        let path = self.stamp_path(name);
        fs::create_dir_all(path.parent().expect("stamp has a parent"))?;
        fs::write(&path, format!("{value}\n"))
            .with_context(|| format!("cannot write stamp {}", path.display()))
    }
}
