//! The sched_ext backend: runs `scx_*` schedulers directly, one at a time,
//! under a single supervising task, and believes only sysfs.
//!
//! For the daemon:
//! - [`spawn_supervisor`]`(config, cancel)` → ([`ScxHandle`], join handle).
//!   Subscribe first ([`ScxHandle::subscribe`]), then `start(name, args)`
//!   (also the switch: the old one is stopped and confirmed `disabled`
//!   first), `stop()`, `status()`. A start returns only once
//!   `<sys>/kernel/sched_ext/state` is `enabled` with the scheduler's
//!   `root/ops`; [`ScxError::Foreign`] means someone else's scheduler holds
//!   sched_ext: back off.
//! - [`ScxEvent`] on the broadcast channel: `Exited`, `Ejected`, `Replaced`
//!   (the supervisor has already stopped its child); record, roll back,
//!   block that choice.
//! - Cancelling the token stops the scheduler (SIGINT, SIGKILL after
//!   `stop_timeout`) and confirms `disabled`; the join handle's result says
//!   whether that worked.
//! - [`orphans`]: at start-up, [`processes_of_active_scheduler`] and
//!   [`stop_orphan`] for a scheduler a previous autosa left behind (the
//!   journal decides whether it was ours).
//! - [`resolve`]: names, arguments and binaries checked before execve.

mod backend;
mod child;
pub mod config;
pub mod error;
pub mod events;
pub mod handle;
pub mod orphans;
mod output;
pub mod resolve;
mod supervisor;

pub use crate::sched_ext::{SchedExtView, ScxState, ops_matches, ops_prefix, scheduler_of_ops};
pub use backend::ScxBackend;
pub use config::{InvalidScxConfig, ScxConfig};
pub use error::ScxError;
pub use events::{ExitInfo, ScxEvent};
pub use handle::{
    RunningInfo, ScxHandle, ScxStatus, Started, StopSignal, Stopped, spawn_supervisor,
};
pub use orphans::{
    OrphanError, OrphanStop, SchedulerProcess, find_scheduler_processes,
    processes_of_active_scheduler, stop_orphan,
};
pub use resolve::{ResolveError, check_trusted, resolve_binary, validate_args, validate_name};
