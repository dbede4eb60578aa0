//! Whether a process may be touched: hard rules first (kernel threads, pid 1,
//! autosa itself), then the configured exclusions and allow-lists.

use super::config::EevdfConfig;
use super::proc_tasks::{ProcRoot, TaskStat};

/// Why a process is out of scope, for the notes of `apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutOfScope {
    Gone,
    Init,
    Autosa,
    KernelThread,
    Uid(u32),
    Cgroup(String),
    Comm(String),
    NotAllowed,
}

impl std::fmt::Display for OutOfScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutOfScope::Gone => f.write_str("has exited"),
            OutOfScope::Init => f.write_str("is pid 1"),
            OutOfScope::Autosa => f.write_str("is autosa itself"),
            OutOfScope::KernelThread => f.write_str("is a kernel thread"),
            OutOfScope::Uid(u) => write!(f, "belongs to excluded uid {u}"),
            OutOfScope::Cgroup(c) => write!(f, "is in excluded cgroup {c}"),
            OutOfScope::Comm(c) => write!(f, "is named {c}, which is excluded"),
            OutOfScope::NotAllowed => f.write_str("is not in the allow-list"),
        }
    }
}

pub struct Scope<'a> {
    pub config: &'a EevdfConfig,
    pub proc: &'a ProcRoot,
    pub self_tgid: u32,
}

impl Scope<'_> {
    /// The process's stat when it may be touched.
    pub fn check(&self, tgid: u32) -> Result<TaskStat, OutOfScope> {
        if tgid == 1 {
            return Err(OutOfScope::Init);
        }
        if tgid == self.self_tgid {
            return Err(OutOfScope::Autosa);
        }
        let stat = self.proc.process_stat(tgid).map_err(|_| OutOfScope::Gone)?;
        if stat.is_kernel_thread() {
            return Err(OutOfScope::KernelThread);
        }
        let c = self.config;
        if c.exclude_comms.contains(&stat.comm) {
            return Err(OutOfScope::Comm(stat.comm));
        }
        if !c.only_comms.is_empty() && !c.only_comms.contains(&stat.comm) {
            return Err(OutOfScope::NotAllowed);
        }
        if !c.exclude_uids.is_empty() {
            let uid = self.proc.ruid(tgid).map_err(|_| OutOfScope::Gone)?;
            if c.exclude_uids.contains(&uid) {
                return Err(OutOfScope::Uid(uid));
            }
        }
        if !c.exclude_cgroups.is_empty() || !c.only_cgroups.is_empty() {
            let groups = self.proc.cgroups(tgid).map_err(|_| OutOfScope::Gone)?;
            if let Some(g) = groups
                .iter()
                .find(|g| c.exclude_cgroups.iter().any(|p| under(g, p)))
            {
                return Err(OutOfScope::Cgroup(g.clone()));
            }
            if !c.only_cgroups.is_empty()
                && !groups
                    .iter()
                    .any(|g| c.only_cgroups.iter().any(|p| under(g, p)))
            {
                return Err(OutOfScope::NotAllowed);
            }
        }
        Ok(stat)
    }
}

/// `path` is `prefix` or below it (so `/a/b` is not under `/a/bc`).
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_prefix_matches_whole_components() {
        assert!(under("/user.slice/a.scope", "/user.slice"));
        assert!(under("/user.slice", "/user.slice/"));
        assert!(!under("/user.slicex/a", "/user.slice"));
        assert!(under("/anything", "/"));
    }
}
