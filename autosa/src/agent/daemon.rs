//! The link to the daemon's control socket: the blocking client, run on
//! tokio's blocking pool so a slow daemon never stalls the MCP session.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::control::Client;
use crate::control::protocol::{BackendOffer, DaemonStatus, Request, Response};
use crate::model::Snapshot;

use super::error::ToolError;

#[derive(Debug, Clone)]
pub struct DaemonLink {
    socket: PathBuf,
    /// For questions (status, snapshot, …): the daemon answers from memory.
    read_timeout: Duration,
    /// For switch, pause and resume: starting a sched_ext scheduler may take
    /// many seconds (about 24 s for scx_lavd measured in a slow VM).
    command_timeout: Duration,
}

impl DaemonLink {
    pub fn new(
        socket: impl Into<PathBuf>,
        read_timeout: Duration,
        command_timeout: Duration,
    ) -> DaemonLink {
        DaemonLink {
            socket: socket.into(),
            read_timeout,
            command_timeout,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// One request, one response; a `Response::Error` becomes
    /// [`ToolError::Refused`] with the daemon's own message.
    pub async fn call(&self, request: Request) -> Result<Response, ToolError> {
        let timeout = match request {
            Request::Switch { .. } | Request::Pause { .. } | Request::Resume => {
                self.command_timeout
            }
            _ => self.read_timeout,
        };
        let client = Client::new(self.socket.clone()).with_timeout(timeout);
        let answer = tokio::task::spawn_blocking(move || client.call(&request))
            .await
            .map_err(|e| ToolError::Daemon {
                detail: format!("the control-socket call did not finish: {e}"),
            })?
            .map_err(ToolError::from_client)?;
        match answer {
            Response::Error { message } => Err(ToolError::Refused { message }),
            other => Ok(other),
        }
    }

    pub async fn status(&self) -> Result<DaemonStatus, ToolError> {
        match self.call(Request::Status).await? {
            Response::Status(s) => Ok(*s),
            other => Err(unexpected("status", &other)),
        }
    }

    pub async fn snapshot(&self) -> Result<Snapshot, ToolError> {
        match self.call(Request::Snapshot).await? {
            Response::Snapshot(s) => Ok(*s),
            other => Err(unexpected("snapshot", &other)),
        }
    }

    pub async fn schedulers(&self) -> Result<Vec<BackendOffer>, ToolError> {
        match self.call(Request::Schedulers).await? {
            Response::Schedulers(s) => Ok(s),
            other => Err(unexpected("schedulers", &other)),
        }
    }

    pub async fn history(
        &self,
        since_secs: Option<u64>,
        limit: Option<usize>,
    ) -> Result<Vec<serde_json::Value>, ToolError> {
        match self.call(Request::History { since_secs, limit }).await? {
            Response::History(h) => Ok(h),
            other => Err(unexpected("history", &other)),
        }
    }

    /// For switch, pause and resume: the daemon's message on acceptance.
    pub async fn command(&self, request: Request) -> Result<String, ToolError> {
        let name = request_name(&request);
        match self.call(request).await? {
            Response::Accepted { message } => Ok(message),
            other => Err(unexpected(name, &other)),
        }
    }
}

fn request_name(r: &Request) -> &'static str {
    match r {
        Request::Status => "status",
        Request::Snapshot => "snapshot",
        Request::Schedulers => "schedulers",
        Request::Switch { .. } => "switch",
        Request::Pause { .. } => "pause",
        Request::Resume => "resume",
        Request::History { .. } => "history",
    }
}

fn unexpected(request: &str, got: &Response) -> ToolError {
    ToolError::UnexpectedAnswer {
        request: request.to_owned(),
        got: got.kind().to_owned(),
    }
}
