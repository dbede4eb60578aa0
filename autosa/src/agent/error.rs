//! What can go wrong in a tool call, each with a message an agent (or the
//! person behind it) can act on.

use std::path::PathBuf;

use crate::control::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments: {detail}")]
    BadArguments { detail: String },
    #[error(
        "the autosa daemon is not running (no control socket at {socket}): start it with \
         `sudo systemctl start autosa` or `sudo autosa run`, or give `autosa mcp --socket PATH` \
         the socket it listens on. {what_works}"
    )]
    DaemonNotRunning {
        socket: PathBuf,
        /// What the agent can still do without the daemon.
        what_works: &'static str,
    },
    #[error(
        "permission denied on the autosa control socket {socket}: run `autosa mcp` as root or \
         as a member of the group that owns the socket"
    )]
    PermissionDenied { socket: PathBuf },
    #[error("the autosa daemon refused: {message}")]
    Refused { message: String },
    #[error(
        "talking to the autosa daemon failed: {detail}; check `journalctl -u autosa` or the daemon's log"
    )]
    Daemon { detail: String },
    #[error(
        "the autosa daemon answered `{got}` to `{request}`: the daemon and `autosa mcp` are \
         probably different versions; install the same autosa for both"
    )]
    UnexpectedAnswer { request: String, got: String },
    #[error("sampling this machine failed: {detail}")]
    Sampling { detail: String },
    #[error("cancelled by the client")]
    Cancelled,
}

/// Without the daemon only `recommend` still works (it samples locally).
pub const WITHOUT_DAEMON: &str = "Without the daemon only `recommend` works (it watches this machine itself and changes nothing).";

/// Why a switch, pause or resume is refused without the daemon.
pub const NO_SWITCH_WITHOUT_DAEMON: &str = "Request refused: `autosa mcp` never changes the \
     scheduler itself; only the daemon does, under its safety rules. `recommend` still works \
     without it.";

impl ToolError {
    /// A short stable name for the error, for agents that branch on it.
    pub fn kind(&self) -> &'static str {
        match self {
            ToolError::BadArguments { .. } => "bad_arguments",
            ToolError::DaemonNotRunning { .. } => "daemon_not_running",
            ToolError::PermissionDenied { .. } => "permission_denied",
            ToolError::Refused { .. } => "refused_by_daemon",
            ToolError::Daemon { .. } => "daemon_failed",
            ToolError::UnexpectedAnswer { .. } => "unexpected_answer",
            ToolError::Sampling { .. } => "sampling_failed",
            ToolError::Cancelled => "cancelled",
        }
    }

    pub fn from_client(e: ClientError) -> ToolError {
        match e {
            ClientError::Connect { path, source } => match source.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    ToolError::PermissionDenied { socket: path }
                }
                // Absent socket, or a stale one nobody listens on.
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    ToolError::DaemonNotRunning {
                        socket: path,
                        what_works: WITHOUT_DAEMON,
                    }
                }
                _ => ToolError::Daemon {
                    detail: format!("connecting to {}: {source}", path.display()),
                },
            },
            // The client's read timeout shows as EAGAIN on a Unix socket.
            ClientError::Io { path, source }
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                ToolError::Daemon {
                    detail: format!(
                        "no answer from {} in time (the daemon may be stuck; \
                         `autosa mcp --timeout` sets how long to wait)",
                        path.display()
                    ),
                }
            }
            other => ToolError::Daemon {
                detail: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(kind: std::io::ErrorKind) -> ClientError {
        ClientError::Connect {
            path: "/run/autosa/autosa.sock".into(),
            source: std::io::Error::from(kind),
        }
    }

    #[test]
    fn an_absent_daemon_says_how_to_start_it() {
        for kind in [
            std::io::ErrorKind::NotFound,
            std::io::ErrorKind::ConnectionRefused,
        ] {
            let e = ToolError::from_client(connect(kind));
            assert_eq!(e.kind(), "daemon_not_running");
            let msg = e.to_string();
            assert!(msg.contains("autosa run"), "{msg}");
            assert!(msg.contains("/run/autosa/autosa.sock"), "{msg}");
            assert!(msg.contains("--socket"), "{msg}");
        }
        let e = ToolError::from_client(connect(std::io::ErrorKind::PermissionDenied));
        assert_eq!(e.kind(), "permission_denied");
        assert!(e.to_string().contains("as root"));
        let e = ToolError::from_client(ClientError::Closed { path: "/x".into() });
        assert_eq!(e.kind(), "daemon_failed");
    }
}
