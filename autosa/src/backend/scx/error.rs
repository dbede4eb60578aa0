//! Everything that can go wrong in the sched_ext backend, each with what to do.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::events::ExitInfo;
use super::resolve::ResolveError;
use crate::sched_ext::ScxState;

#[derive(Debug, thiserror::Error)]
pub enum ScxError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(
        "sched_ext is not available: {} is missing; boot a kernel built with CONFIG_SCHED_CLASS_EXT=y (6.12 or later)",
        path.display()
    )]
    Unsupported { path: PathBuf },
    /// Someone else's scheduler holds sched_ext: autosa backs off.
    #[error(
        "another sched_ext scheduler is active (state {state}, ops {}); autosa does not replace what it did not start: stop it, or let autosa back off (if these ops belong to the scheduler autosa was starting, map it in scx.ops_names)",
        ops.as_deref().unwrap_or("unknown")
    )]
    Foreign {
        state: ScxState,
        ops: Option<String>,
    },
    #[error("cannot start {}: {source}", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{scheduler} exited with {status} before sched_ext enabled it; last output: {}",
        show_lines(last_lines)
    )]
    ExitedDuringStart {
        scheduler: String,
        status: ExitInfo,
        last_lines: Vec<String>,
    },
    #[error(
        "{scheduler} was not enabled by sched_ext within {timeout:?} (state {state}, ops {}), so it was stopped; raise scx.start_timeout on a slow machine; last output: {}",
        ops.as_deref().unwrap_or("none"),
        show_lines(last_lines)
    )]
    StartTimeout {
        scheduler: String,
        timeout: Duration,
        state: ScxState,
        ops: Option<String>,
        last_lines: Vec<String>,
    },
    #[error(
        "{scheduler} was stopped but sched_ext still shows state {state}, ops {} after {timeout:?}; check `cat /sys/kernel/sched_ext/state` and `dmesg`",
        ops.as_deref().unwrap_or("none")
    )]
    NotDisabled {
        scheduler: String,
        state: ScxState,
        ops: Option<String>,
        timeout: Duration,
    },
    #[error(
        "{scheduler} (pid {pid}) survived SIGKILL for {timeout:?}; check `ps -o pid,stat,wchan -p {pid}`"
    )]
    Unkillable {
        scheduler: String,
        pid: u32,
        timeout: Duration,
    },
    #[error("cannot read sched_ext state under {}: {source}", sys_root.display())]
    Sysfs {
        sys_root: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot signal or wait for {scheduler} (pid {pid}): {source}")]
    Process {
        scheduler: String,
        pid: u32,
        #[source]
        source: io::Error,
    },
    #[error("start of {scheduler} cancelled: autosa is shutting down")]
    Cancelled { scheduler: String },
    #[error("the sched_ext supervisor has stopped (autosa is shutting down)")]
    SupervisorGone,
}

fn show_lines(lines: &[String]) -> String {
    if lines.is_empty() {
        "(none)".into()
    } else {
        lines.join(" | ")
    }
}
