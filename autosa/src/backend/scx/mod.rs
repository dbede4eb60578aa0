//! The sched_ext backend: runs `scx_*` schedulers directly, one at a time,
//! under a single supervising task, and believes only sysfs.
//!
//! - [`spawn_supervisor`] → [`ScxHandle`]: `start` (also the switch), `stop`,
//!   `status`, `subscribe` to [`ScxEvent`]s (exited, ejected, replaced).
//! - [`resolve`]: scheduler names, arguments and binaries checked before execve.
//! - [`orphans`]: schedulers a previous autosa left behind.

pub mod config;
pub mod error;
pub mod events;
pub mod orphans;
mod output;
pub mod resolve;
pub mod supervisor;
pub mod sysfs_truth;

pub use config::{InvalidScxConfig, ScxConfig};
pub use error::ScxError;
pub use events::{ExitInfo, ScxEvent};
pub use orphans::{
    OrphanError, OrphanStop, SchedulerProcess, find_scheduler_processes,
    processes_of_active_scheduler, stop_orphan,
};
pub use resolve::{ResolveError, check_trusted, resolve_binary, validate_args, validate_name};
pub use supervisor::{
    RunningInfo, ScxHandle, ScxStatus, Started, StopSignal, Stopped, spawn_supervisor,
};
pub use sysfs_truth::{SchedExtView, ScxState, ops_matches, ops_prefix, scheduler_of_ops};
