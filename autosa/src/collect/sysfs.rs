//! The observed scheduler and kernel lockdown, read from sysfs.
//!
//! The truth about which sched_ext scheduler runs is here, never in what
//! autosa (or a peer) asked for.

use std::io;
use std::path::{Path, PathBuf};

/// Why a sysfs file could not be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SysfsError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("unexpected content in {}: {content:?}", path.display())]
    Unexpected { path: PathBuf, content: String },
}

pub use crate::sched_ext::{SchedExtView, ScxState};

/// `/sys/kernel/security/lockdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockdownMode {
    None,
    Integrity,
    Confidentiality,
}

/// Reader of /sys under an injectable root.
#[derive(Debug, Clone)]
pub struct SysfsReader {
    root: PathBuf,
}

impl Default for SysfsReader {
    fn default() -> Self {
        Self::new("/sys")
    }
}

impl SysfsReader {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// State of sched_ext; `Unsupported` when the kernel has none. A value
    /// this build does not know is an error that names the file.
    pub fn sched_ext_state(&self) -> Result<ScxState, SysfsError> {
        Ok(self.sched_ext()?.state)
    }

    /// State and the running scheduler (`root/ops`, e.g.
    /// `bpfland_1.1.4_x86_64_unknown_linux_gnu`) in one reading.
    pub fn sched_ext(&self) -> Result<SchedExtView, SysfsError> {
        let dir = self.root.join("kernel/sched_ext");
        let view =
            crate::sched_ext::read_sched_ext(&self.root).map_err(|source| SysfsError::Io {
                path: dir.join("state"),
                source,
            })?;
        if let ScxState::Other(content) = &view.state {
            return Err(SysfsError::Unexpected {
                path: dir.join("state"),
                content: content.clone(),
            });
        }
        Ok(view)
    }

    /// The running scheduler's ops name; `None` when none is loaded (the
    /// kernel removes `root/` then) or sched_ext is not supported.
    pub fn sched_ext_ops(&self) -> Result<Option<String>, SysfsError> {
        Ok(self.sched_ext()?.ops)
    }

    /// Kernel lockdown mode; `None` when the file is absent (no lockdown LSM,
    /// or securityfs not mounted).
    pub fn lockdown(&self) -> Result<Option<LockdownMode>, SysfsError> {
        let path = self.root.join("kernel/security/lockdown");
        let Some(content) = read_trimmed(&path)? else {
            return Ok(None);
        };
        // `none [integrity] confidentiality`: the bracketed word is active.
        let active = content
            .split_whitespace()
            .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')));
        match active {
            Some("none") => Ok(Some(LockdownMode::None)),
            Some("integrity") => Ok(Some(LockdownMode::Integrity)),
            Some("confidentiality") => Ok(Some(LockdownMode::Confidentiality)),
            _ => Err(SysfsError::Unexpected { path, content }),
        }
    }
}

/// Contents without surrounding whitespace; `None` when the file does not exist.
fn read_trimmed(path: &Path) -> Result<Option<String>, SysfsError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).trim().to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SysfsError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}
