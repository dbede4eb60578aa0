//! Backends carry out a `Plan`: the EEVDF backend (per-task attributes and
//! global knobs), later sched_ext ones. Every change is journaled with its
//! original value first, so it can be undone after a clean exit or a crash.
//!
//! The trait is synchronous: the daemon calls it through `spawn_blocking`.

pub mod dry_run;
pub mod eevdf;
pub mod journal;
pub mod mcp;
pub mod running_file;
pub mod scx;

use serde::{Deserialize, Serialize};

use crate::control::protocol::BackendOffer;
use crate::policy::plan::Plan;

/// Something autosa changes and may have to leave alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Target {
    /// The system's CPU scheduler (which sched_ext scheduler runs, if any).
    Scheduler,
    /// A process, identified so that a recycled pid is never mistaken for it:
    /// `start_time` is field 22 of `/proc/<pid>/stat` (clock ticks since boot).
    Process { tgid: u32, start_time: u64 },
    /// A global knob, by its name in the plan (e.g. `base_slice_ns`).
    Knob { name: String },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Scheduler => f.write_str("scheduler"),
            Target::Process { tgid, start_time } => {
                write!(f, "process {tgid} (start time {start_time})")
            }
            Target::Knob { name } => write!(f, "knob {name}"),
        }
    }
}

/// A value autosa set that someone else has since changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignChange {
    pub target: Target,
    /// For people: e.g. `thread 1235 of 1234 (stress-ng) scheduling`.
    pub what: String,
    /// What autosa applied.
    pub expected: String,
    /// What is there now.
    pub found: String,
}

/// What a backend sees on the machine now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The scheduler the kernel runs, from sysfs: `eevdf` or `sched_ext:<ops name>`.
    pub scheduler: String,
    /// Values autosa applied that differ now: someone else acted.
    pub foreign: Vec<ForeignChange>,
}

/// One change made (or undone) by a backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub what: String,
    pub from: String,
    pub to: String,
}

/// What `apply` or `restore` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub changes: Vec<Change>,
    /// Things skipped or refused, one sentence each.
    pub notes: Vec<String>,
}

/// A feature of a backend and whether this host allows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    pub name: String,
    pub available: bool,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Scx(#[from] scx::ScxError),
    #[error(transparent)]
    Mcp(#[from] mcp::McpError),
    #[error("cannot write the scheduler state file {path}: {source}")]
    State {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// See [`Backend::interrupter`].
pub type Interrupter = Box<dyn Fn() + Send + Sync>;

/// A way of carrying out plans.
pub trait Backend: Send {
    fn name(&self) -> &'static str;
    /// What this host allows this backend to do.
    fn describe_capabilities(&self) -> Vec<Capability>;
    /// The state now, including values someone else changed.
    fn observe(&mut self) -> Result<Observed, BackendError>;
    /// Make the machine match `plan`: changes what the plan asks for, undoes
    /// earlier changes the plan no longer asks for. Idempotent; called every
    /// interval so that new processes and threads get the plan too.
    fn apply(&mut self, plan: &Plan) -> Result<Applied, BackendError>;
    /// Undo every change (values someone else changed since are left alone).
    fn restore(&mut self) -> Result<Applied, BackendError>;
    /// Stop leaving `target` (all targets when `None`) alone after a manual change.
    fn resume(&mut self, target: Option<&Target>);
    /// What made the active choice fail since the last call (a scheduler that
    /// exited or was ejected), for the daemon to roll back and block it.
    fn take_failure(&mut self) -> Option<String> {
        None
    }
    /// Something the daemon's signal watcher can call, from another task,
    /// to cut short a long operation in progress (a scheduler start waiting
    /// for sched_ext) so that SIGTERM is answered at once.
    fn interrupter(&self) -> Option<Interrupter> {
        None
    }
    /// What `autosa schedulers` lists and `autosa switch NAME` accepts: by
    /// default the available capabilities (actions); sched_ext backends list
    /// the schedulers they can start.
    fn offers(&self) -> BackendOffer {
        offer_from_capabilities(self.name(), &self.describe_capabilities())
    }
}

/// The available capabilities as offers; the unavailable ones go to `detail`.
pub fn offer_from_capabilities(backend: &str, caps: &[Capability]) -> BackendOffer {
    let missing: Vec<String> = caps
        .iter()
        .filter(|c| !c.available)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    BackendOffer {
        backend: backend.to_owned(),
        available: caps.iter().any(|c| c.available),
        offers: caps
            .iter()
            .filter(|c| c.available)
            .map(|c| c.name.clone())
            .collect(),
        detail: if caps.is_empty() {
            "offers nothing on this host".into()
        } else if missing.is_empty() {
            "everything available".into()
        } else {
            format!("unavailable: {}", missing.join("; "))
        },
    }
}

/// So that `Box<dyn Backend>` (chosen at run time) is a backend too, e.g.
/// inside `DryRun`.
impl<B: Backend + ?Sized> Backend for Box<B> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn describe_capabilities(&self) -> Vec<Capability> {
        (**self).describe_capabilities()
    }
    fn observe(&mut self) -> Result<Observed, BackendError> {
        (**self).observe()
    }
    fn apply(&mut self, plan: &Plan) -> Result<Applied, BackendError> {
        (**self).apply(plan)
    }
    fn restore(&mut self) -> Result<Applied, BackendError> {
        (**self).restore()
    }
    fn resume(&mut self, target: Option<&Target>) {
        (**self).resume(target)
    }
    fn take_failure(&mut self) -> Option<String> {
        (**self).take_failure()
    }
    fn offers(&self) -> BackendOffer {
        (**self).offers()
    }
    fn interrupter(&self) -> Option<Interrupter> {
        (**self).interrupter()
    }
}
