//! Errors of the schedcp MCP backend: each says what happened and, where a
//! user can act, what to do.

use std::path::PathBuf;
use std::time::Duration;

use super::truth::Observation;

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error(
        "could not start the schedcp MCP server `{command}`: {source}; set `command` (and \
         `working_dir`, a schedcp checkout) in the MCP backend configuration"
    )]
    Spawn {
        command: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "refusing to start the schedcp MCP server `{command}`: {reason}; set `command` in \
         [mcp] to the absolute path of a binary owned by root that only root can write \
         (chown root; chmod go-w; the same for every directory above it)"
    )]
    Untrusted { command: PathBuf, reason: String },

    #[error("MCP handshake with `{command}` failed: {detail}")]
    Handshake { command: PathBuf, detail: String },

    #[error("the schedcp MCP server exited or closed its pipes; it is restarted on the next call")]
    ServerGone,

    #[error("the schedcp MCP server keeps dying; next restart allowed in {retry_in:?}")]
    RestartBackoff { retry_in: Duration },

    #[error("`{tool}` got no answer within {after:?}: the server is treated as hung and restarted")]
    Timeout { tool: String, after: Duration },

    #[error("schedcp does not know scheduler `{name}`: {message}")]
    UnknownScheduler { name: String, message: String },

    #[error("schedcp does not know execution `{execution_id}`: {message}")]
    UnknownExecution {
        execution_id: String,
        message: String,
    },

    #[error("schedcp rejected the parameters of `{tool}`: {message}")]
    InvalidParams { tool: String, message: String },

    #[error("`{tool}` failed with JSON-RPC error {code}: {message}")]
    Rpc {
        tool: String,
        code: i32,
        message: String,
    },

    #[error("`{tool}` reported a failure: {message}")]
    ToolFailed { tool: String, message: String },

    #[error("`{tool}` answered something unreadable: {detail}")]
    Garbage { tool: String, detail: String },

    #[error(
        "`{scheduler}` did not show up in sched_ext within {waited:?} (saw {seen}); check that \
         the kernel has sched_ext and that the scheduler runs by hand"
    )]
    NotEnabled {
        scheduler: String,
        waited: Duration,
        seen: Observation,
    },

    #[error(
        "sched_ext still runs `{seen}` {waited:?} after stopping it, even after signalling its \
         process; stop it by hand (SIGINT to the scx_ process)"
    )]
    NotDisabled { waited: Duration, seen: Observation },

    #[error("cannot read sched_ext state under {path}: {source}")]
    Sysfs {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl McpError {
    /// Errors after which the server process is not trusted any more.
    pub fn server_is_broken(&self) -> bool {
        matches!(self, McpError::ServerGone | McpError::Timeout { .. })
    }
}
