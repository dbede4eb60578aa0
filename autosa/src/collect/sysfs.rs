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

/// `/sys/kernel/sched_ext/state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScxState {
    /// The kernel has no sched_ext (`/sys/kernel/sched_ext` does not exist).
    Unsupported,
    Disabled,
    Enabling,
    Enabled,
    Disabling,
}

impl ScxState {
    pub fn as_str(self) -> &'static str {
        match self {
            ScxState::Unsupported => "unsupported",
            ScxState::Disabled => "disabled",
            ScxState::Enabling => "enabling",
            ScxState::Enabled => "enabled",
            ScxState::Disabling => "disabling",
        }
    }
}

/// The running sched_ext scheduler as `root/ops` names it, e.g.
/// `bpfland_1.1.4_x86_64_unknown_linux_gnu`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScxOps(String);

impl ScxOps {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The string exactly as the kernel reports it.
    pub fn raw(&self) -> &str {
        &self.0
    }

    /// Whether this is the scheduler `name` (`scx_bpfland` or `bpfland`): the
    /// ops name is the scheduler's name without `scx_`, maybe followed by
    /// `_<version>_<target>`.
    pub fn matches_scheduler(&self, name: &str) -> bool {
        let short = name.strip_prefix("scx_").unwrap_or(name);
        if short.is_empty() {
            return false;
        }
        match self.0.strip_prefix(short) {
            Some(rest) => rest.is_empty() || rest.starts_with('_'),
            None => false,
        }
    }
}

/// State and running scheduler read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedExt {
    pub state: ScxState,
    pub ops: Option<ScxOps>,
}

impl SchedExt {
    /// Whether `name` (e.g. `scx_lavd`) is the scheduler attached and enabled.
    pub fn is_running(&self, name: &str) -> bool {
        self.state == ScxState::Enabled
            && self.ops.as_ref().is_some_and(|o| o.matches_scheduler(name))
    }
}

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

    /// State of sched_ext; `Unsupported` when the kernel has none.
    pub fn sched_ext_state(&self) -> Result<ScxState, SysfsError> {
        let dir = self.root.join("kernel/sched_ext");
        let path = dir.join("state");
        let Some(content) = read_trimmed(&path)? else {
            if dir.is_dir() {
                // The directory without its state file is not a kernel we know.
                return Err(SysfsError::Unexpected {
                    path,
                    content: "<missing>".to_owned(),
                });
            }
            return Ok(ScxState::Unsupported);
        };
        match content.as_str() {
            "disabled" => Ok(ScxState::Disabled),
            "enabling" => Ok(ScxState::Enabling),
            "enabled" => Ok(ScxState::Enabled),
            "disabling" => Ok(ScxState::Disabling),
            _ => Err(SysfsError::Unexpected { path, content }),
        }
    }

    /// State and ops in one call.
    pub fn sched_ext(&self) -> Result<SchedExt, SysfsError> {
        Ok(SchedExt {
            state: self.sched_ext_state()?,
            ops: self.sched_ext_ops()?,
        })
    }

    /// The running scheduler; `None` when none is loaded (the kernel removes
    /// `root/` then) or sched_ext is not supported.
    pub fn sched_ext_ops(&self) -> Result<Option<ScxOps>, SysfsError> {
        let path = self.root.join("kernel/sched_ext/root/ops");
        Ok(read_trimmed(&path)?.filter(|s| !s.is_empty()).map(ScxOps))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_prefix_match() {
        let ops = ScxOps::new("bpfland_1.1.4_x86_64_unknown_linux_gnu");
        assert!(ops.matches_scheduler("scx_bpfland"));
        assert!(ops.matches_scheduler("bpfland"));
        assert!(!ops.matches_scheduler("scx_bpf"));
        assert!(!ops.matches_scheduler("scx_lavd"));
        assert!(!ops.matches_scheduler("scx_"));
        assert!(!ops.matches_scheduler(""));
        assert!(ScxOps::new("simple").matches_scheduler("scx_simple"));
        assert!(!ScxOps::new("simplex").matches_scheduler("scx_simple"));
    }
}
