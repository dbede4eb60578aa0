//! What the backend did for one request, step by step, and what it tracks.

use std::time::Duration;

use serde::Serialize;

use super::truth::Signalled;

/// The execution autosa started through schedcp. Kept across server
/// restarts: a new server does not know it, autosa still does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Running {
    pub execution_id: String,
    pub scheduler: String,
    pub args: Vec<String>,
    /// Which server instance started it (1 = the first).
    pub server_generation: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Step {
    /// A (re)started server finished its handshake.
    ServerStarted {
        generation: u64,
        pid: Option<u32>,
    },
    RunRequested {
        scheduler: String,
        execution_id: String,
    },
    StopRequested {
        execution_id: String,
        server_status: String,
    },
    /// sysfs shows what was asked for (`running` = the scheduler or none).
    Confirmed {
        running: Option<String>,
        seen: String,
        after: Duration,
    },
    /// The old scheduler outlived the server's stop: these processes run it.
    OrphanFound {
        scheduler: String,
        pids: Vec<i32>,
    },
    Signalled {
        pid: i32,
        signal: Signalled,
    },
    /// The start was tried a second time after clearing an orphan.
    RetriedStart,
    NothingToStop,
}

/// Steps taken and the warnings worth showing to a person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionReport {
    pub steps: Vec<Step>,
    pub warnings: Vec<String>,
}

impl ActionReport {
    pub(crate) fn step(&mut self, step: Step) {
        tracing::debug!(?step, "mcp backend");
        self.steps.push(step);
    }

    pub(crate) fn warn(&mut self, warning: String) {
        tracing::warn!("{warning}");
        self.warnings.push(warning);
    }

    /// True when an orphan had to be signalled.
    pub fn killed_orphan(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Signalled { .. }))
    }
}
