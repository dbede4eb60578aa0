//! Files autosa lets decide what it runs as root: scheduler binaries, the
//! schedcp MCP server and the configuration that names them. Each must be
//! owned by root (or by autosa's own user) and writable by nobody else, and
//! so must every directory above it: whoever can replace such a file, or
//! rename one into its place, could make autosa run their code.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What the file is for: an executable must also be a regular file with an
/// execute bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Executable,
    Config,
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// `path` is the file or the directory that failed, `reason` why.
    #[error("{}: {reason}", path.display())]
    Insecure { path: PathBuf, reason: String },
    #[error("cannot inspect {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The owners autosa trusts: root, and its own effective user (running as
/// that user already gives it everything such a file could do).
fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

/// Follows symlinks, then checks the file (trusted owner, not group- or
/// world-writable; for an executable also a regular file with an execute
/// bit), its directory (same owner rule, not group/world-writable) and every
/// directory above (same, except that a sticky directory such as `/tmp` is
/// allowed: nobody else can replace what is inside it). Returns the
/// canonical path, which is what must be used afterwards, so that a symlink
/// swapped later changes nothing.
pub fn check(path: &Path, kind: Kind) -> Result<PathBuf, TrustError> {
    let io_err = |source| TrustError::Io {
        path: path.to_path_buf(),
        source,
    };
    let real = std::fs::canonicalize(path).map_err(io_err)?;
    let insecure = |p: &Path, reason: String| TrustError::Insecure {
        path: p.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(&real).map_err(io_err)?;
    if !meta.is_file() {
        return Err(insecure(&real, "not a regular file".into()));
    }
    let mode = meta.permissions().mode();
    if kind == Kind::Executable && mode & 0o111 == 0 {
        return Err(insecure(&real, "not executable".into()));
    }
    if !trusted_owner(meta.uid()) {
        return Err(insecure(&real, format!("owned by uid {}", meta.uid())));
    }
    if mode & 0o022 != 0 {
        return Err(insecure(
            &real,
            format!("writable by group or others (mode {:o})", mode & 0o7777),
        ));
    }
    for (depth, dir) in real.ancestors().skip(1).enumerate() {
        let meta = std::fs::metadata(dir).map_err(|source| TrustError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mode = meta.permissions().mode();
        if !trusted_owner(meta.uid()) {
            return Err(insecure(
                dir,
                format!("directory owned by uid {}", meta.uid()),
            ));
        }
        let sticky = mode & 0o1000 != 0;
        if mode & 0o022 != 0 && (depth == 0 || !sticky) {
            return Err(insecure(
                dir,
                format!(
                    "directory writable by group or others (mode {:o})",
                    mode & 0o7777
                ),
            ));
        }
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_need_not_be_executable_but_a_program_must() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("autosa.toml");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(check(&file, Kind::Config).is_ok());
        match check(&file, Kind::Executable) {
            Err(TrustError::Insecure { reason, .. }) => assert_eq!(reason, "not executable"),
            other => panic!("{other:?}"),
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
        match check(&file, Kind::Config) {
            Err(TrustError::Insecure { reason, .. }) => {
                assert_eq!(reason, "writable by group or others (mode 664)")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check(&dir.path().join("nope"), Kind::Config),
            Err(TrustError::Io { .. })
        ));
    }
}
