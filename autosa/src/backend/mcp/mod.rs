//! The schedcp MCP backend: drives sched_ext schedulers through schedcp's
//! MCP server (stdio, JSON-RPC 2.0) and takes the truth from sysfs.
//!
//! `config` (how to start the server), `client` (rmcp plumbing),
//! `protocol` (typed replies, pure), `truth` (sysfs waits, process finder),
//! `orphan` (stopping a lost scheduler), `backoff` (restart pacing, pure),
//! `report` (what was done), `scheduler` (the orchestration).

mod backend;
pub mod backoff;
mod client;
pub mod config;
pub mod error;
mod orphan;
pub mod protocol;
pub mod report;
mod scheduler;
pub mod truth;

pub use backend::McpBackend;
pub use backoff::{Backoff, BackoffConfig};
pub use config::McpConfig;
pub use error::McpError;
pub use protocol::{ExecutionStatus, SchedulerEntry, TuningParameter};
pub use report::{ActionReport, Running, Step};
pub use scheduler::McpScheduler;
pub use truth::{Observation, ScxState};
