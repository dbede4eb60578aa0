//! Shared pieces of the scx tests: the fake scheduler installed under
//! several names, a fake sysfs tree, and a guard that kills what was spawned.
#![allow(dead_code)] // each test file uses a different part

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The fake scheduler script (see its header for modes).
pub const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/fake-scx");

/// Where the fake is installed.
pub struct Bins {
    /// Root-or-us owned, 0755: scx_fakeland, scx_otherland, scx_orphanland.
    pub trusted: PathBuf,
    /// A 0777 directory holding scx_fakeland.
    pub world_writable: PathBuf,
    /// A 0755 directory holding a 0775 scx_fakeland.
    pub group_writable_bin: PathBuf,
    /// A sticky 1777 directory (like /tmp) holding scx_fakeland directly and
    /// a 0755 `inner/` directory holding another.
    pub sticky: PathBuf,
}

fn install(from: &str, to: &Path, mode: u32) {
    std::fs::copy(from, to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn make_dir(dir: &Path, mode: u32) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Installs the fakes once per test process, before any test spawns: a copy
/// still open for writing while another thread forks would make its exec
/// fail with ETXTBSY. Lives in cargo's target tmp dir; leftovers of dead
/// test processes are removed here.
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scx-bins");
        make_dir(&root, 0o755);
        for entry in std::fs::read_dir(&root).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let dead = name
                .parse::<i32>()
                .is_ok_and(|pid| kill(Pid::from_raw(pid), None).is_err());
            if dead {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let base = root.join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&base);
        make_dir(&base, 0o755);
        let trusted = base.join("trusted");
        make_dir(&trusted, 0o755);
        for name in ["scx_fakeland", "scx_otherland", "scx_orphanland"] {
            install(FAKE, &trusted.join(name), 0o755);
        }
        let world_writable = base.join("world-writable");
        make_dir(&world_writable, 0o777);
        install(FAKE, &world_writable.join("scx_fakeland"), 0o755);
        let group_writable_bin = base.join("group-writable-bin");
        make_dir(&group_writable_bin, 0o755);
        install(FAKE, &group_writable_bin.join("scx_fakeland"), 0o775);
        let sticky = base.join("sticky");
        make_dir(&sticky, 0o1777);
        install(FAKE, &sticky.join("scx_fakeland"), 0o755);
        make_dir(&sticky.join("inner"), 0o755);
        install(FAKE, &sticky.join("inner/scx_fakeland"), 0o755);
        Bins {
            trusted,
            world_writable,
            group_writable_bin,
            sticky,
        }
    })
}

/// A fake `/sys` with `kernel/sched_ext/state` = `disabled`.
pub struct FakeSys {
    dir: tempfile::TempDir,
}

impl FakeSys {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("kernel/sched_ext")).unwrap();
        let sys = Self { dir };
        sys.set("disabled", None);
        sys
    }

    /// A fake `/sys` of a kernel without sched_ext.
    pub fn without_sched_ext() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The argument that tells the fake scheduler where this tree is.
    pub fn arg(&self) -> String {
        format!("--sys={}", self.root().display())
    }

    fn file(&self, name: &str) -> PathBuf {
        self.root().join("kernel/sched_ext").join(name)
    }

    pub fn state(&self) -> String {
        std::fs::read_to_string(self.file("state"))
            .unwrap()
            .trim()
            .to_string()
    }

    pub fn ops(&self) -> Option<String> {
        std::fs::read_to_string(self.file("root/ops"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// Writes state (and ops, or removes them) atomically, as the kernel
    /// would change them.
    pub fn set(&self, state: &str, ops: Option<&str>) {
        let write = |path: PathBuf, text: &str| {
            let tmp = path.with_extension("test-tmp");
            std::fs::write(&tmp, format!("{text}\n")).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        };
        match ops {
            Some(ops) => {
                std::fs::create_dir_all(self.file("root")).unwrap();
                write(self.file("root/ops"), ops);
            }
            None => {
                let _ = std::fs::remove_file(self.file("root/ops"));
            }
        }
        write(self.file("state"), state);
    }
}

/// True while `pid` exists (a zombie counts).
pub fn alive(pid: u32) -> bool {
    kill(Pid::from_raw(pid as i32), None).is_ok()
}

/// Kills the process group of every recorded scheduler on drop, so a
/// failing test leaves no fake (nor its helper processes) behind. Each
/// scheduler leads its own group (the supervisor spawns it so).
#[derive(Default)]
pub struct KillGroupsOnDrop(pub Vec<u32>);

impl Drop for KillGroupsOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}
