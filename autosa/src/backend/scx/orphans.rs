//! Schedulers left running by a previous autosa (killed before it could
//! stop its child): find them in procfs and stop them, SIGINT first so
//! sched_ext unregisters cleanly, SIGKILL if that is ignored. Deciding that
//! a process is ours (parent pid 1 and the journal says we started it) is
//! the daemon's job.

use std::io;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::time::Instant;

use crate::sched_ext::{SchedExtView, ScxState, ops_prefix, scheduler_of_ops};

/// Longest `comm` the kernel keeps (TASK_COMM_LEN - 1).
const COMM_MAX: usize = 15;
/// How often a process we cannot `wait()` on is looked up again.
const GONE_POLL: Duration = Duration::from_millis(20);

/// A live process that looks like a sched_ext scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerProcess {
    pub pid: i32,
    /// 1 for an orphan re-parented to init.
    pub ppid: i32,
    pub comm: String,
}

/// The fields of `/proc/<pid>/stat` needed here: comm, state, ppid. The
/// comm sits between the first `(` and the last `)` and may itself hold
/// spaces and parentheses.
fn parse_stat(text: &str) -> Option<(String, char, i32)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, state, ppid))
}

/// Reads one process; `None` when it is gone or already dead (zombie):
/// nothing left to stop.
fn read_process(proc_root: &Path, pid: i32) -> io::Result<Option<SchedulerProcess>> {
    let text = match std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")) {
        Ok(text) => text,
        // ESRCH shows when the process exits while being read.
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    Ok(match parse_stat(&text) {
        Some((_, 'Z' | 'X' | 'x', _)) | None => None,
        Some((comm, _, ppid)) => Some(SchedulerProcess { pid, ppid, comm }),
    })
}

/// The `comm` a scheduler's process carries: `scx_<prefix>`, cut to 15 bytes.
fn expected_comm(scheduler: &str) -> String {
    let mut comm = format!("scx_{}", ops_prefix(scheduler));
    comm.truncate(COMM_MAX);
    comm
}

/// Live processes whose comm is the scheduler's (`scheduler` may be
/// `scx_lavd` or the ops prefix `lavd`), lowest pid first.
pub fn find_scheduler_processes(
    proc_root: &Path,
    scheduler: &str,
) -> io::Result<Vec<SchedulerProcess>> {
    let want = expected_comm(scheduler);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(proc_root)? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(p) = read_process(proc_root, pid)?.filter(|p| p.comm == want) {
            found.push(p);
        }
    }
    found.sort_by_key(|p| p.pid);
    Ok(found)
}

impl SchedulerProcess {
    /// Re-parented to init: its starter (a previous autosa, schedcp, a
    /// shell) is gone. Whether autosa started it is for the journal to say.
    pub fn is_orphan(&self) -> bool {
        self.ppid == 1
    }
}

/// The processes of the scheduler sysfs shows active (none when sched_ext
/// is not enabled): where cleanup at start-up begins.
pub fn processes_of_active_scheduler(
    proc_root: &Path,
    view: &SchedExtView,
) -> io::Result<Vec<SchedulerProcess>> {
    match (&view.state, view.ops.as_deref()) {
        (ScxState::Enabled, Some(ops)) => {
            find_scheduler_processes(proc_root, &scheduler_of_ops(ops))
        }
        _ => Ok(Vec::new()),
    }
}

/// How an orphan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanStop {
    /// It was gone before any signal.
    AlreadyGone,
    /// It exited after SIGINT.
    Interrupted,
    /// It ignored SIGINT for the whole timeout and was killed.
    Killed,
}

#[derive(Debug, thiserror::Error)]
pub enum OrphanError {
    #[error("pid {pid} is now {comm:?}, not a sched_ext scheduler: left alone")]
    NotScheduler { pid: i32, comm: String },
    #[error("cannot signal pid {pid}: {source}")]
    Signal {
        pid: i32,
        #[source]
        source: nix::Error,
    },
    #[error("pid {pid} is still alive after SIGKILL; check it with `ps -o pid,stat,comm -p {pid}`")]
    StillAlive { pid: i32 },
    #[error("cannot read {proc_root}/{pid}: {source}")]
    Proc {
        proc_root: String,
        pid: i32,
        #[source]
        source: io::Error,
    },
}

/// Stops a scheduler process that is not our child: SIGINT, wait up to
/// `timeout`, SIGKILL, wait up to `timeout` again. The comm is checked
/// right before signalling so a recycled pid is never hit.
pub async fn stop_orphan(
    proc_root: &Path,
    pid: i32,
    timeout: Duration,
) -> Result<OrphanStop, OrphanError> {
    let read = |pid| {
        read_process(proc_root, pid).map_err(|source| OrphanError::Proc {
            proc_root: proc_root.display().to_string(),
            pid,
            source,
        })
    };
    let Some(process) = read(pid)? else {
        return Ok(OrphanStop::AlreadyGone);
    };
    if !process.comm.starts_with("scx_") {
        return Err(OrphanError::NotScheduler {
            pid,
            comm: process.comm,
        });
    }
    for (signal, outcome) in [
        (Signal::SIGINT, OrphanStop::Interrupted),
        (Signal::SIGKILL, OrphanStop::Killed),
    ] {
        match kill(Pid::from_raw(pid), signal) {
            Ok(()) => {}
            Err(nix::errno::Errno::ESRCH) => return Ok(outcome),
            Err(source) => return Err(OrphanError::Signal { pid, source }),
        }
        let deadline = Instant::now() + timeout;
        loop {
            if read(pid)?.is_none() {
                tracing::info!(pid, ?signal, "orphan scheduler stopped");
                return Ok(outcome);
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(GONE_POLL.min(deadline - Instant::now())).await;
        }
        tracing::warn!(pid, ?signal, ?timeout, "orphan scheduler still running");
    }
    Err(OrphanError::StillAlive { pid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(entries: &[(i32, &str)]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for (pid, stat) in entries {
            let dir = tmp.path().join(pid.to_string());
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("stat"), stat).unwrap();
        }
        std::fs::create_dir(tmp.path().join("self")).unwrap();
        std::fs::write(tmp.path().join("uptime"), "1.0 1.0\n").unwrap();
        tmp
    }

    #[test]
    fn stat_parsing_survives_odd_comms() {
        assert_eq!(
            parse_stat("42 (scx_lavd) S 1 42 42 0 -1"),
            Some(("scx_lavd".into(), 'S', 1))
        );
        assert_eq!(
            parse_stat("7 (a) (b) R 3 7"),
            Some(("a) (b".into(), 'R', 3))
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn finds_live_schedulers_only() {
        let tmp = fake_proc(&[
            (300, "300 (scx_lavd) S 1 300 300 0"),
            (12, "12 (scx_lavd) S 299 12 12 0"),
            (13, "13 (scx_lavd) Z 1 13 13 0"),
            (14, "14 (scx_bpfland) S 1 14 14 0"),
            (15, "15 (bash) S 1 15 15 0"),
        ]);
        let found = find_scheduler_processes(tmp.path(), "scx_lavd").unwrap();
        let pids: Vec<(i32, i32)> = found.iter().map(|p| (p.pid, p.ppid)).collect();
        assert_eq!(pids, vec![(12, 299), (300, 1)]);
        let found = find_scheduler_processes(tmp.path(), "bpfland").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].comm, "scx_bpfland");
    }

    #[test]
    fn the_active_scheduler_s_processes_are_found_from_sysfs() {
        let tmp = fake_proc(&[
            (40, "40 (scx_bpfland) S 1 40 40 0"),
            (41, "41 (scx_lavd) S 1 41 41 0"),
        ]);
        let view = SchedExtView {
            state: ScxState::Enabled,
            ops: Some("bpfland_1.1.4_x86_64_unknown_linux_gnu".into()),
        };
        let found = processes_of_active_scheduler(tmp.path(), &view).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pid, 40);
        assert!(found[0].is_orphan());
        let off = SchedExtView {
            state: ScxState::Disabled,
            ops: None,
        };
        assert!(
            processes_of_active_scheduler(tmp.path(), &off)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn long_names_match_the_truncated_comm() {
        let tmp = fake_proc(&[(5, "5 (scx_verylongnam) S 1 5 5 0")]);
        let found = find_scheduler_processes(tmp.path(), "scx_verylongname").unwrap();
        assert_eq!(found.len(), 1);
    }

    #[tokio::test]
    async fn a_gone_or_foreign_pid_is_not_signalled() {
        let tmp = fake_proc(&[(6, "6 (bash) S 1 6 6 0")]);
        let gone = stop_orphan(tmp.path(), 5, Duration::from_millis(10)).await;
        assert_eq!(gone.unwrap(), OrphanStop::AlreadyGone);
        // The fake tree says pid 6 is bash: the real pid 6 must not be touched.
        match stop_orphan(tmp.path(), 6, Duration::from_millis(10)).await {
            Err(OrphanError::NotScheduler { pid: 6, comm }) => assert_eq!(comm, "bash"),
            other => panic!("{other:?}"),
        }
    }
}
