//! What the supervisor tells the daemon without being asked: the scheduler
//! it runs went away. The daemon records it, rolls back and blocks that
//! choice.

use std::process::ExitStatus;

use serde::{Deserialize, Serialize};

/// How a scheduler process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code, when it exited by itself.
    pub code: Option<i32>,
    /// Signal number, when a signal ended it.
    pub signal: Option<i32>,
}

impl From<ExitStatus> for ExitInfo {
    fn from(status: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self {
            code: status.code(),
            signal: status.signal(),
        }
    }
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(sig)) => write!(f, "signal {sig}"),
            (None, None) => f.write_str("unknown status"),
        }
    }
}

/// An unrequested end of the scheduler autosa runs. Sent on the supervisor's
/// broadcast channel ([`super::ScxHandle::subscribe`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum ScxEvent {
    /// The scheduler process ended by itself.
    Exited {
        scheduler: String,
        pid: u32,
        status: ExitInfo,
        /// Its last output lines (stdout and stderr interleaved), oldest first.
        last_lines: Vec<String>,
    },
    /// sched_ext turned itself off (`state` back to `disabled`) while the
    /// process still ran, e.g. the kernel's watchdog ejected a stalled
    /// scheduler. The supervisor has stopped the process.
    Ejected {
        scheduler: String,
        pid: u32,
        last_lines: Vec<String>,
    },
    /// Another scheduler's ops now occupy sched_ext while ours still ran;
    /// the supervisor has stopped ours.
    Replaced {
        scheduler: String,
        pid: u32,
        ops: String,
    },
}

impl ScxEvent {
    /// The scheduler the event is about (e.g. `scx_lavd`).
    pub fn scheduler(&self) -> &str {
        match self {
            ScxEvent::Exited { scheduler, .. }
            | ScxEvent::Ejected { scheduler, .. }
            | ScxEvent::Replaced { scheduler, .. } => scheduler,
        }
    }
}
