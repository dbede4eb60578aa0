//! `autosa mcp`: an MCP server over stdio that serves autosa's knowledge to
//! an LLM agent (schedcp's sched-agent, Claude Code, …).
//!
//! Everything that changes the machine goes to the daemon over its control
//! socket and through the daemon's safety rules; this process only reads
//! (and, for `recommend` without a daemon, samples procfs/eBPF itself).
//! Nothing from a request is ever run as a command.
//!
//! `args` holds the tool arguments and their validation, `tools` the tool
//! table, `summary` and `metrics` the pure shaping of the daemon's status
//! and snapshot for an agent, `daemon` the control-socket link,
//! `standalone` the local sampling, `server` the rmcp handler that ties
//! them together.

pub mod args;
pub mod daemon;
pub mod error;
pub mod metrics;
pub mod server;
pub mod standalone;
pub mod summary;
pub mod tools;

pub use error::ToolError;
pub use server::AutosaMcp;
