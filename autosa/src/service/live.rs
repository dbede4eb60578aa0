//! What the daemon knows now, shared with the control socket and the metrics
//! endpoint. The daemon loop is the only writer; readers take a clone.

use std::sync::{Arc, RwLock};

use crate::control::protocol::DaemonStatus;
use crate::model::Snapshot;
use crate::policy::Decision as PolicyDecision;

#[derive(Debug, Clone)]
pub struct LiveState {
    pub status: DaemonStatus,
    /// The latest snapshot and what the policy engine made of it.
    pub snapshot: Option<Snapshot>,
    pub decision: Option<PolicyDecision>,
    /// Every decision that changed something since start (switch, rollback,
    /// restore, back-off): counters for metrics.
    pub switches: u64,
    pub rollbacks: u64,
}

#[derive(Debug, Clone)]
pub struct Live(Arc<RwLock<LiveState>>);

impl Live {
    pub fn new(state: LiveState) -> Live {
        Live(Arc::new(RwLock::new(state)))
    }

    /// A copy of the current state (a poisoned lock still holds valid data:
    /// the writer only assigns whole fields).
    pub fn get(&self) -> LiveState {
        self.read(LiveState::clone)
    }

    /// What `f` takes from the current state: cheaper than `get` when only
    /// a part is needed (the snapshot is the large part).
    pub fn read<T>(&self, f: impl FnOnce(&LiveState) -> T) -> T {
        match self.0.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut LiveState)) {
        let mut g = match self.0.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g);
    }
}
