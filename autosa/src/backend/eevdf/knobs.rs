//! Global scheduler knobs: where they live, whether this host lets autosa read
//! and write them (kernel lockdown refuses debugfs `sched/*`, even reads).

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The knobs a plan may name, and their paths under the proc or sys root.
pub const KNOWN: [(&str, Root, &str); 3] = [
    (
        "base_slice_ns",
        Root::Sys,
        "kernel/debug/sched/base_slice_ns",
    ),
    (
        "migration_cost_ns",
        Root::Sys,
        "kernel/debug/sched/migration_cost_ns",
    ),
    (
        "sched_autogroup_enabled",
        Root::Proc,
        "sys/kernel/sched_autogroup_enabled",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Proc,
    Sys,
}

/// What this host allows for one knob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnobAccess {
    pub name: &'static str,
    pub path: PathBuf,
    pub readable: bool,
    pub writable: bool,
    /// For people: why not, and what it means.
    pub detail: String,
}

impl KnobAccess {
    pub fn usable(&self) -> bool {
        self.readable && self.writable
    }
}

fn explain(path: &Path, op: &str, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) if path.components().any(|c| c.as_os_str() == "debug") => format!(
            "{} refuses to be {op} (EPERM): the kernel is locked down \
             (see /sys/kernel/security/lockdown), so global EEVDF knobs are unavailable; \
             per-task tuning still works",
            path.display()
        ),
        Some(libc::ENOENT) => format!(
            "{} does not exist (debugfs not mounted, or this kernel lacks the knob)",
            path.display()
        ),
        _ => format!("{} cannot be {op}: {e}", path.display()),
    }
}

/// Probe without changing anything: read it, open it for writing.
pub fn probe(name: &'static str, path: PathBuf) -> KnobAccess {
    let (readable, read_note) = match fs::read_to_string(&path) {
        Ok(_) => (true, None),
        Err(e) => (false, Some(explain(&path, "read", &e))),
    };
    let (writable, write_note) = match OpenOptions::new().write(true).open(&path) {
        Ok(_) => (true, None),
        Err(e) => (false, Some(explain(&path, "written", &e))),
    };
    let detail = read_note
        .or(write_note)
        .unwrap_or_else(|| format!("{} can be read and written", path.display()));
    KnobAccess {
        name,
        path,
        readable,
        writable,
        detail,
    }
}

pub fn probe_all(proc_root: &Path, sys_root: &Path) -> Vec<KnobAccess> {
    KNOWN
        .iter()
        .map(|(name, root, rel)| {
            let base = match root {
                Root::Proc => proc_root,
                Root::Sys => sys_root,
            };
            probe(name, base.join(rel))
        })
        .collect()
}

pub fn read(path: &Path) -> io::Result<String> {
    Ok(fs::read_to_string(path)?.trim().to_string())
}

pub fn write(path: &Path, value: &str) -> io::Result<()> {
    fs::write(path, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_reports_missing_and_usable_knobs() {
        let dir = tempfile::tempdir().unwrap();
        let proc_root = dir.path().join("proc");
        let sys_root = dir.path().join("sys");
        fs::create_dir_all(proc_root.join("sys/kernel")).unwrap();
        fs::write(proc_root.join("sys/kernel/sched_autogroup_enabled"), "1\n").unwrap();
        let all = probe_all(&proc_root, &sys_root);
        assert_eq!(all.len(), 3);
        let base = &all[0];
        assert!(!base.usable());
        assert!(base.detail.contains("does not exist"), "{}", base.detail);
        let auto = &all[2];
        assert!(auto.usable(), "{}", auto.detail);
        assert_eq!(read(&auto.path).unwrap(), "1");
    }
}
