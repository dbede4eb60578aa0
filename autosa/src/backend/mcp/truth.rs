//! What sched_ext really runs (sysfs), and finding and stopping a scheduler
//! process the server lost track of (procfs). The server's word is never
//! taken for the truth.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::time::Instant;

use super::error::McpError;

pub use crate::sched_ext::{SchedExtView as Observation, ScxState, ops_matches};

pub fn observe(sys_root: &Path) -> Result<Observation, McpError> {
    crate::sched_ext::read_sched_ext(sys_root).map_err(|source| McpError::Sysfs {
        path: sys_root.join("kernel/sched_ext"),
        source,
    })
}

/// Polls sysfs until `done` holds or `deadline` passes. Ok(last reading)
/// either way; the caller checks `done` again to tell which.
pub async fn wait_until(
    sys_root: &Path,
    deadline: Duration,
    poll: Duration,
    mut done: impl FnMut(&Observation, Duration) -> bool,
) -> Result<(Observation, Duration), McpError> {
    let start = Instant::now();
    loop {
        let seen = observe(sys_root)?;
        let elapsed = start.elapsed();
        if done(&seen, elapsed) || elapsed >= deadline {
            return Ok((seen, elapsed));
        }
        // A zero poll interval would spin.
        let pause = poll.max(Duration::from_millis(1));
        tokio::time::sleep(pause.min(deadline - elapsed)).await;
    }
}

/// A process that looks like the scheduler sched_ext still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScxProcess {
    pub pid: i32,
    pub comm: String,
}

/// Processes whose `comm` is `scheduler` (cut to the kernel's 15 bytes);
/// only `scx_` names are ever looked for.
pub fn find_scheduler_processes(proc_root: &Path, scheduler: &str) -> Vec<ScxProcess> {
    if !scheduler.starts_with("scx_") {
        return Vec::new();
    }
    let wanted = comm_of(scheduler);
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut found: Vec<ScxProcess> = entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            let comm = comm.trim_end_matches('\n');
            (comm == wanted && is_alive(proc_root, pid)).then(|| ScxProcess {
                pid,
                comm: comm.to_owned(),
            })
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    found
}

/// The kernel keeps 15 bytes of a task name.
fn comm_of(name: &str) -> &str {
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Running, sleeping, … but not gone and not a zombie.
pub fn is_alive(proc_root: &Path, pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")) else {
        return false;
    };
    // The state letter follows the last ')' (comm may contain ')').
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z') | Some('X') | Some('x'))
}

/// What was done to one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Signalled {
    Interrupt,
    Kill,
}

pub fn signal(pid: i32, how: Signalled) -> bool {
    let sig = match how {
        Signalled::Interrupt => Signal::SIGINT,
        Signalled::Kill => Signal::SIGKILL,
    };
    kill(Pid::from_raw(pid), sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn ops_prefix_matching() {
        assert!(ops_matches(
            "bpfland_1.1.4_x86_64_unknown_linux_gnu",
            "scx_bpfland"
        ));
        assert!(ops_matches("lavd_1.1.2_x86_64", "scx_lavd"));
        assert!(ops_matches("simple", "scx_simple"));
        assert!(ops_matches("simple", "simple"));
        assert!(!ops_matches("rustland_1.0", "scx_rusty"));
        assert!(!ops_matches("rusty_1.0", "scx_rustland"));
        assert!(!ops_matches("flatcg", "scx_flash"));
        assert!(!ops_matches("anything", "scx_"));
        assert_eq!(crate::sched_ext::ops_prefix("scx_p2dq"), "p2dq");
    }

    #[test]
    fn reads_a_fake_sysfs() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(observe(dir.path()).unwrap().state, ScxState::Unsupported);

        write(dir.path(), "kernel/sched_ext/state", "enabled\n");
        write(
            dir.path(),
            "kernel/sched_ext/root/ops",
            "bpfland_1.1.4_x86_64\n",
        );
        let seen = observe(dir.path()).unwrap();
        assert!(seen.runs("scx_bpfland"));
        assert!(!seen.runs("scx_lavd"));
        assert_eq!(seen.to_string(), "state enabled, ops bpfland_1.1.4_x86_64");

        write(dir.path(), "kernel/sched_ext/state", "disabling\n");
        let seen = observe(dir.path()).unwrap();
        assert_eq!(seen.state, ScxState::Disabling);
        assert!(!seen.runs("scx_bpfland") && !seen.is_disabled());
        assert!(!seen.no_longer_runs("scx_bpfland"));

        write(dir.path(), "kernel/sched_ext/state", "enabled\n");
        write(dir.path(), "kernel/sched_ext/root/ops", "");
        let seen = observe(dir.path()).unwrap();
        assert!(!seen.runs("scx_bpfland") && !seen.no_longer_runs("scx_bpfland"));

        write(dir.path(), "kernel/sched_ext/root/ops", "lavd_1.1.4\n");
        let seen = observe(dir.path()).unwrap();
        assert!(seen.no_longer_runs("scx_bpfland") && !seen.no_longer_runs("scx_lavd"));

        write(dir.path(), "kernel/sched_ext/state", "disabled\n");
        write(dir.path(), "kernel/sched_ext/root/ops", "");
        let seen = observe(dir.path()).unwrap();
        assert!(seen.is_disabled());
        assert_eq!(seen.ops, None);
    }

    #[test]
    fn finds_processes_by_comm_in_a_fake_proc() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        write(p, "10/comm", "scx_bpfland\n");
        write(p, "10/stat", "10 (scx_bpfland) S 1 10");
        write(p, "11/comm", "scx_bpfland\n");
        write(p, "11/stat", "11 (scx_bpfland) Z 1 11");
        write(p, "12/comm", "scx_lavd\n");
        write(p, "12/stat", "12 (scx_lavd) R 1 12");
        write(p, "13/comm", "scx_layered_sch\n");
        write(p, "13/stat", "13 (a) b) S 1 13");
        write(p, "self/comm", "scx_bpfland\n");
        let found = find_scheduler_processes(p, "scx_bpfland");
        assert_eq!(
            found,
            vec![ScxProcess {
                pid: 10,
                comm: "scx_bpfland".into()
            }]
        );
        let long = find_scheduler_processes(p, "scx_layered_scheduler");
        assert_eq!(long.iter().map(|p| p.pid).collect::<Vec<_>>(), vec![13]);
        assert!(find_scheduler_processes(p, "bash").is_empty());
        assert!(find_scheduler_processes(&p.join("missing"), "scx_lavd").is_empty());
    }

    #[tokio::test]
    async fn wait_until_returns_at_deadline_with_last_reading() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "kernel/sched_ext/state", "disabled");
        let (seen, waited) = wait_until(
            dir.path(),
            Duration::from_millis(50),
            Duration::from_millis(10),
            |o, _| o.runs("scx_lavd"),
        )
        .await
        .unwrap();
        assert!(seen.is_disabled());
        assert!(waited >= Duration::from_millis(50));
    }
}
