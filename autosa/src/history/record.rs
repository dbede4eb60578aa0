//! What the history keeps. JSON field names are a public interface
//! (`autosa history --json`): add fields, never rename them.

use serde::{Deserialize, Serialize};

use crate::policy::plan::WorkloadClass;
use crate::switching::Decision;

/// One record with its wall-clock time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub time_unix_ms: u64,
    #[serde(flatten)]
    pub record: Record,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The daemon started.
    Start {
        version: String,
        pid: u32,
        backend: String,
        dry_run: bool,
    },
    /// The daemon stopped (after restoring).
    Stop { reason: String },
    /// A decision that changed something: switch, rollback, restore, back-off.
    Decision { decision: Decision },
    /// A change a backend made or undid.
    Applied {
        what: String,
        from: String,
        to: String,
    },
    /// A command from the control socket and what came of it.
    Manual {
        command: String,
        accepted: bool,
        message: String,
    },
    /// A downsampled view of the machine.
    Metrics(MetricsPoint),
}

impl Record {
    /// Records that must survive a crash are synced at once; metrics points
    /// are batched.
    pub fn is_important(&self) -> bool {
        !matches!(self, Record::Metrics(_))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsPoint {
    pub class: Option<WorkloadClass>,
    pub confidence: f64,
    /// Fraction of CPU time busy, `[0, 1]`.
    pub cpu_busy: f64,
    pub runq_p50_ns: f64,
    pub runq_p99_ns: f64,
    /// PSI `some` share of time stalled, `[0, 1]`.
    pub psi_cpu: f64,
    pub psi_io: f64,
    pub psi_memory: f64,
    /// Switches (and rollbacks) since the daemon started.
    pub switches: u64,
}
