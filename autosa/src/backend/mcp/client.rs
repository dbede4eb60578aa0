//! rmcp plumbing: one live session with a schedcp server child (spawn,
//! handshake, one tool call with a timeout, teardown).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
};
use rmcp::service::{RunningService, ServiceError};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Map, Value};
use tokio::process::Command;

use super::config::McpConfig;
use super::error::McpError;
use super::protocol::classify_rpc_error;

/// Who we say we are; schedcp speaks protocol 2024-11-05.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity;

impl ClientHandler for Identity {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("autosa", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::V_2024_11_05)
    }
}

/// A tool's answer: the text of its first text block and the isError flag.
#[derive(Debug)]
pub(crate) struct ToolReply {
    pub text: Option<String>,
    pub is_error: bool,
}

/// The server binary, checked like a scheduler binary (autosa runs it as
/// root): an absolute path, never a `$PATH` search, to a file that only
/// root can replace. A missing file stays a `Spawn` error.
fn trusted_command(command: &Path) -> Result<PathBuf, McpError> {
    use crate::trust::{Kind, TrustError, check};
    if !command.is_absolute() {
        return Err(McpError::Untrusted {
            command: command.to_path_buf(),
            reason: "not an absolute path (autosa does not search $PATH for a program it runs \
                     as root)"
                .into(),
        });
    }
    match check(command, Kind::Executable) {
        Ok(real) => Ok(real),
        Err(TrustError::Insecure { path, reason }) => Err(McpError::Untrusted {
            command: command.to_path_buf(),
            reason: if path == command {
                reason
            } else {
                format!("{}: {reason}", path.display())
            },
        }),
        Err(TrustError::Io { source, .. }) => Err(McpError::Spawn {
            command: command.to_path_buf(),
            source,
        }),
    }
}

pub(crate) struct Session {
    service: RunningService<RoleClient, Identity>,
    pid: Option<u32>,
}

impl Session {
    /// Spawns the server and does the handshake (initialize, then the
    /// initialized notification), all within the call timeout.
    pub async fn start(config: &McpConfig) -> Result<Self, McpError> {
        let program = trusted_command(&config.command)?;
        let mut command = Command::new(&program);
        command.args(&config.args).envs(&config.env);
        if let Some(dir) = &config.working_dir {
            command.current_dir(dir);
        }
        if let Some(home) = config.child_home() {
            command.env("HOME", home);
        }
        let transport = TokioChildProcess::new(command).map_err(|source| McpError::Spawn {
            command: config.command.clone(),
            source,
        })?;
        let pid = transport.id();
        let handshake = Identity.serve(transport);
        let service = match tokio::time::timeout(config.call_timeout, handshake).await {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => {
                kill_pid(pid);
                return Err(McpError::Handshake {
                    command: config.command.clone(),
                    detail: e.to_string(),
                });
            }
            Err(_) => {
                // The dropped future dropped the transport, whose guard kills the child.
                kill_pid(pid);
                return Err(McpError::Handshake {
                    command: config.command.clone(),
                    detail: format!("no answer within {:?}", config.call_timeout),
                });
            }
        };
        Ok(Self { service, pid })
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    pub fn is_closed(&self) -> bool {
        self.service.is_transport_closed()
    }

    pub async fn call(
        &self,
        tool: &str,
        arguments: Map<String, Value>,
        timeout: Duration,
    ) -> Result<ToolReply, McpError> {
        if self.is_closed() {
            return Err(McpError::ServerGone);
        }
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let result = match tokio::time::timeout(timeout, self.service.call_tool(params)).await {
            Err(_) => {
                return Err(McpError::Timeout {
                    tool: tool.to_owned(),
                    after: timeout,
                });
            }
            Ok(Err(ServiceError::McpError(e))) => {
                return Err(classify_rpc_error(
                    tool,
                    e.code.0,
                    &e.message,
                    e.data.as_ref(),
                ));
            }
            Ok(Err(ServiceError::Timeout { .. })) => {
                return Err(McpError::Timeout {
                    tool: tool.to_owned(),
                    after: timeout,
                });
            }
            Ok(Err(ServiceError::UnexpectedResponse)) => {
                return Err(McpError::Garbage {
                    tool: tool.to_owned(),
                    detail: "the reply is not a tool result".into(),
                });
            }
            // Closed pipes, a failed send, a cancelled request: the server is gone.
            Ok(Err(e)) => {
                tracing::warn!(tool, error = %e, "MCP call failed at the transport");
                return Err(McpError::ServerGone);
            }
            Ok(Ok(result)) => result,
        };
        let text = result
            .content
            .iter()
            .find_map(|block| block.as_text().map(|t| t.text.clone()));
        Ok(ToolReply {
            text,
            is_error: result.is_error.unwrap_or(false),
        })
    }

    /// Closes the pipes (a stdio server exits on EOF); kills the server if
    /// it is still there after half a second.
    pub async fn shutdown(mut self) {
        let pid = self.pid;
        if tokio::time::timeout(Duration::from_millis(500), self.service.close())
            .await
            .is_err()
        {
            tracing::debug!(?pid, "server did not close in time, killing it");
            kill_pid(pid);
        }
    }

    /// For a hung or broken server: no goodbye.
    pub fn kill(self) {
        kill_pid(self.pid);
    }
}

fn kill_pid(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // The child is ours and not reaped yet, so the pid cannot be reused.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
