//! Who may use the control socket: root, or a member of the configured group
//! (primary or supplementary, read from `/proc/<pid>/status`).

use std::path::Path;

use nix::unistd::Gid;

/// A connected peer, from SO_PEERCRED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

/// `Ok` when allowed, else the reason for the client.
pub fn authorize(peer: &Peer, group: Option<(Gid, &str)>, proc_root: &Path) -> Result<(), String> {
    if peer.uid == 0 {
        return Ok(());
    }
    if let Some((gid, _)) = group {
        let gid = gid.as_raw();
        if peer.gid == gid {
            return Ok(());
        }
        if let Some(pid) = peer.pid
            && supplementary_groups(proc_root, pid).contains(&gid)
        {
            return Ok(());
        }
    }
    Err(match group {
        Some((_, name)) => format!(
            "permission denied: uid {} is neither root nor in the group `{name}` \
             (add the user to it, or use sudo)",
            peer.uid
        ),
        None => format!(
            "permission denied: uid {} is not root (use sudo, or set [control] group \
             to let a group in)",
            peer.uid
        ),
    })
}

/// The `Groups:` line of `/proc/<pid>/status`; empty when unreadable.
pub fn supplementary_groups(proc_root: &Path, pid: i32) -> Vec<u32> {
    let Ok(text) = std::fs::read_to_string(proc_root.join(pid.to_string()).join("status")) else {
        return Vec::new();
    };
    text.lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| {
            g.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(groups: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("42")).unwrap();
        std::fs::write(
            dir.path().join("42/status"),
            format!("Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGroups:\t{groups}\nNSpid:\t42\n"),
        )
        .unwrap();
        dir
    }

    const USER: Peer = Peer {
        uid: 1000,
        gid: 1000,
        pid: Some(42),
    };

    #[test]
    fn root_always_and_others_only_through_the_group() {
        let proc = fake_proc("24 27 1000");
        let root = Peer { uid: 0, ..USER };
        assert!(authorize(&root, None, proc.path()).is_ok());
        let err = authorize(&USER, None, proc.path()).unwrap_err();
        assert!(err.starts_with("permission denied: uid 1000"), "{err}");
        // Supplementary group.
        assert!(authorize(&USER, Some((Gid::from_raw(27), "autosa")), proc.path()).is_ok());
        // Primary group.
        assert!(authorize(&USER, Some((Gid::from_raw(1000), "users")), proc.path()).is_ok());
        let err = authorize(&USER, Some((Gid::from_raw(999), "autosa")), proc.path()).unwrap_err();
        assert!(err.contains("`autosa`"), "{err}");
        // No pid (or an unreadable status): only the primary group counts.
        let nopid = Peer { pid: None, ..USER };
        assert!(authorize(&nopid, Some((Gid::from_raw(27), "autosa")), proc.path()).is_err());
        assert_eq!(supplementary_groups(proc.path(), 7), Vec::<u32>::new());
    }
}
