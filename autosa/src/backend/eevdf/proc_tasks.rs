//! The few `/proc` fields the EEVDF backend needs, read under an injectable
//! root so tests use a fake `/proc`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// `PF_KTHREAD` in the flags of `/proc/<pid>/stat` (field 9).
pub const PF_KTHREAD: u64 = 0x0020_0000;

/// Fields of `/proc/<pid>/stat` (1-based field numbers from proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStat {
    /// Field 2, without the parentheses.
    pub comm: String,
    /// Field 4.
    pub ppid: u32,
    /// Field 9.
    pub flags: u64,
    /// Field 19.
    pub nice: i64,
    /// Field 22: start time in clock ticks after boot; with the pid it names
    /// a task for good (a recycled pid has another start time).
    pub start_time: u64,
    /// Field 41.
    pub policy: u32,
}

impl TaskStat {
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parse one `stat` line. The name may hold spaces and parentheses, so the
/// fields after it are found from the last `)`.
pub fn parse_stat(text: &str) -> Option<TaskStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3.
    let field = |n: usize| rest.get(n - 3).copied();
    Some(TaskStat {
        comm,
        ppid: field(4)?.parse().ok()?,
        flags: field(9)?.parse().ok()?,
        nice: field(19)?.parse().ok()?,
        start_time: field(22)?.parse().ok()?,
        policy: field(41)?.parse().ok()?,
    })
}

fn invalid(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected format in {}", path.display()),
    )
}

#[derive(Debug, Clone)]
pub struct ProcRoot {
    root: PathBuf,
}

impl ProcRoot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ProcRoot { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    fn stat_at(path: PathBuf) -> io::Result<TaskStat> {
        let text = fs::read_to_string(&path)?;
        parse_stat(&text).ok_or_else(|| invalid(&path))
    }

    pub fn process_stat(&self, tgid: u32) -> io::Result<TaskStat> {
        Self::stat_at(self.root.join(tgid.to_string()).join("stat"))
    }

    pub fn thread_stat(&self, tgid: u32, tid: u32) -> io::Result<TaskStat> {
        Self::stat_at(
            self.root
                .join(tgid.to_string())
                .join("task")
                .join(tid.to_string())
                .join("stat"),
        )
    }

    /// Thread ids of a process, ascending.
    pub fn threads(&self, tgid: u32) -> io::Result<Vec<u32>> {
        let mut tids: Vec<u32> = fs::read_dir(self.root.join(tgid.to_string()).join("task"))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        tids.sort_unstable();
        Ok(tids)
    }

    /// Real uid, from the `Uid:` line of `status`.
    pub fn ruid(&self, tgid: u32) -> io::Result<u32> {
        let path = self.root.join(tgid.to_string()).join("status");
        let text = fs::read_to_string(&path)?;
        text.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| invalid(&path))
    }

    /// Cgroup paths of a process (one per hierarchy; one line on cgroup v2).
    pub fn cgroups(&self, tgid: u32) -> io::Result<Vec<String>> {
        let text = fs::read_to_string(self.root.join(tgid.to_string()).join("cgroup"))?;
        Ok(text
            .lines()
            .filter_map(|l| l.splitn(3, ':').nth(2))
            .map(str::to_string)
            .collect())
    }
}

/// A stat line with the given fields, others zero (for fake `/proc` trees).
#[cfg(test)]
pub(crate) fn stat_line(
    pid: u32,
    comm: &str,
    flags: u64,
    nice: i64,
    start: u64,
    policy: u32,
) -> String {
    let mut fields: Vec<String> = vec!["0".into(); 52];
    fields[0] = pid.to_string();
    fields[1] = format!("({comm})");
    fields[2] = "S".into();
    fields[8] = flags.to_string();
    fields[18] = nice.to_string();
    fields[21] = start.to_string();
    fields[40] = policy.to_string();
    fields.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let s = parse_stat(&stat_line(42, "a (b) c", 0x40, 19, 1234, 5)).unwrap();
        assert_eq!(s.comm, "a (b) c");
        assert_eq!(
            (s.flags, s.nice, s.start_time, s.policy),
            (0x40, 19, 1234, 5)
        );
        assert!(!s.is_kernel_thread());
        assert!(
            parse_stat(&stat_line(2, "kthreadd", PF_KTHREAD, 0, 1, 0))
                .unwrap()
                .is_kernel_thread()
        );
        assert!(parse_stat("42 (x) S 1 2").is_none());
    }

    #[test]
    fn reads_this_process_from_the_real_proc() {
        let proc = ProcRoot::new("/proc");
        let me = std::process::id();
        let st = proc.process_stat(me).unwrap();
        assert!(!st.is_kernel_thread());
        assert!(proc.threads(me).unwrap().contains(&me));
        assert_eq!(proc.ruid(me).unwrap(), nix::unistd::getuid().as_raw());
        assert!(!proc.cgroups(me).unwrap().is_empty());
    }
}
