//! Creating the control socket: refuse when another daemon answers on it,
//! remove a stale one, then bind and restrict who may connect.

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::Path;

use nix::unistd::{Gid, Group};
use tokio::net::UnixListener;

use super::ServerError;

/// The gid of the configured group; `None` for root only.
pub fn resolve_group(group: &str) -> Result<Option<Gid>, ServerError> {
    if group.is_empty() {
        return Ok(None);
    }
    match Group::from_name(group) {
        Ok(Some(g)) => Ok(Some(g.gid)),
        _ => Err(ServerError::UnknownGroup {
            group: group.to_owned(),
        }),
    }
}

/// Binds `path` with mode 0660 and group `gid` (0600 without a group).
pub fn bind(path: &Path, gid: Option<Gid>) -> Result<UnixListener, ServerError> {
    let err = |source| ServerError::Bind {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    remove_stale(path)?;
    let listener = UnixListener::bind(path).map_err(err)?;
    if let Some(gid) = gid {
        nix::unistd::chown(path, None, Some(gid)).map_err(|e| err(std::io::Error::from(e)))?;
    }
    let mode = if gid.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(err)?;
    Ok(listener)
}

/// A socket left by a daemon that died is removed; one a live daemon answers
/// on is not; anything that is not a socket is left alone.
fn remove_stale(path: &Path) -> Result<(), ServerError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ServerError::Bind {
                path: path.to_owned(),
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ServerError::NotASocket {
            path: path.to_owned(),
        });
    }
    // Connecting succeeds while any process listens on it (even one too
    // busy to answer): only a refused connection means nobody is there.
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => {
            return Err(ServerError::AlreadyRunning {
                path: path.to_owned(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
        Err(source) => {
            return Err(ServerError::Bind {
                path: path.to_owned(),
                source,
            });
        }
    }
    tracing::info!(socket = %path.display(), "removing a stale control socket");
    std::fs::remove_file(path).map_err(|source| ServerError::Bind {
        path: path.to_owned(),
        source,
    })
}
