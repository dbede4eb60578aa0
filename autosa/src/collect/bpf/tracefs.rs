//! Finding (and if needed mounting) tracefs, and reading tracepoint formats.

use std::path::{Path, PathBuf};

use super::{error::BpfError, layout::Tracepoint, tp_format::Format};

/// Where tracefs lives, in the order it is looked for.
pub const CANDIDATES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// A tracefs mount usable for reading formats (has an `events` directory).
pub fn is_tracefs(root: &Path) -> bool {
    root.join("events").is_dir()
}

/// The mounted tracefs, mounting it at `/sys/kernel/tracing` when neither
/// place has it (systemd usually does this at boot; a bare system may not).
/// The mount is left in place: it is the kernel's standard interface.
pub fn ensure_mounted() -> Result<PathBuf, BpfError> {
    for p in CANDIDATES.iter().map(Path::new) {
        if is_tracefs(p) {
            return Ok(p.to_path_buf());
        }
        // tracefs is root-only (mode 700): say so rather than "missing".
        if let Err(e) = std::fs::read_dir(p)
            && e.kind() == std::io::ErrorKind::PermissionDenied
        {
            return Err(BpfError::Permission {
                detail: format!("cannot read {}: {e}", p.display()),
            });
        }
    }
    let target = Path::new(CANDIDATES[0]);
    let res = nix::mount::mount(
        Some("tracefs"),
        target,
        Some("tracefs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    );
    match res {
        Ok(()) if is_tracefs(target) => {
            tracing::info!(path = %target.display(), "mounted tracefs");
            Ok(target.to_path_buf())
        }
        Ok(()) => Err(BpfError::TracefsMissing {
            detail: "mounted, but it has no events directory".into(),
        }),
        Err(nix::errno::Errno::EPERM) => Err(BpfError::Permission {
            detail: format!(
                "tracefs is not mounted and mounting it at {} needs CAP_SYS_ADMIN",
                target.display()
            ),
        }),
        Err(e) => Err(BpfError::TracefsMissing {
            detail: e.to_string(),
        }),
    }
}

/// Reads and parses one tracepoint's format under `tracefs`.
pub fn read_format(tracefs: &Path, tp: &Tracepoint) -> Result<Format, BpfError> {
    let path = tp.format_path(tracefs);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BpfError::TracepointMissing {
                category: tp.category.into(),
                name: tp.name.into(),
                path,
            });
        }
        Err(source) => return Err(BpfError::Io { path, source }),
    };
    Format::parse(&text).map_err(|source| BpfError::Layout { path, source })
}
