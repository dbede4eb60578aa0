//! What the daemon holds: a handle to the supervisor task, the commands it
//! sends and the answers it gets.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::ScxConfig;
use super::error::ScxError;
use super::events::{ExitInfo, ScxEvent};
use super::supervisor::Supervisor;
use crate::sched_ext::SchedExtView;

/// Queued commands; more than this means the daemon is far ahead of us.
const COMMAND_QUEUE: usize = 16;
/// Events kept for a slow subscriber before it sees `Lagged`.
const EVENT_QUEUE: usize = 64;

/// A scheduler sched_ext confirmed running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Started {
    pub scheduler: String,
    pub args: Vec<String>,
    pub path: PathBuf,
    pub pid: u32,
    /// `root/ops` as read when confirmed.
    pub ops: String,
    /// From spawn to confirmation (zero when it already ran).
    pub took: Duration,
    /// The same scheduler with the same arguments already ran: nothing done.
    pub already_running: bool,
}

/// How a stop ended the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopSignal {
    /// It had already exited.
    None,
    Sigint,
    /// SIGINT was ignored for the whole stop timeout.
    Sigkill,
}

/// A scheduler stopped on request (or by the watchdog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stopped {
    pub scheduler: String,
    pub pid: u32,
    pub signal: StopSignal,
    pub status: ExitInfo,
    pub last_lines: Vec<String>,
}

/// What the supervisor runs, beside what sysfs says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScxStatus {
    pub running: Option<RunningInfo>,
    /// A scheduler spawned and waiting for sched_ext to enable it (`ops`
    /// still empty).
    pub starting: Option<RunningInfo>,
    /// `Err` holds the read error's message.
    pub sysfs: Result<SchedExtView, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningInfo {
    pub scheduler: String,
    pub args: Vec<String>,
    pub pid: u32,
    pub ops: String,
    pub uptime: Duration,
}

pub(super) enum Command {
    Start {
        scheduler: String,
        args: Vec<String>,
        reply: oneshot::Sender<Result<Started, ScxError>>,
    },
    Stop {
        reply: oneshot::Sender<Result<Option<Stopped>, ScxError>>,
    },
    Status {
        reply: oneshot::Sender<ScxStatus>,
    },
    /// Give up a start that is still waiting for sched_ext (the daemon is
    /// shutting down): stop the child, answer the start with `Cancelled`.
    AbortStart,
}

/// The daemon's side of the supervisor. Cheap to clone.
#[derive(Clone)]
pub struct ScxHandle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<ScxEvent>,
}

impl ScxHandle {
    /// Starts `scheduler` (e.g. `scx_lavd`) with `args`; a different one
    /// already running is stopped first (confirmed `disabled`), so this is
    /// also the switch. Returns once sysfs confirms the new one. When the new
    /// one fails, nothing runs: restarting the old one is the caller's call.
    /// Takes at most about `start_timeout` + 4 × `stop_timeout` (waiting out
    /// an unregistration, stopping the old one, confirming it gone).
    pub async fn start(&self, scheduler: &str, args: &[String]) -> Result<Started, ScxError> {
        self.ask(|reply| Command::Start {
            scheduler: scheduler.to_string(),
            args: args.to_vec(),
            reply,
        })
        .await?
    }

    /// Stops what runs (SIGINT, then SIGKILL after the stop timeout) and
    /// confirms `disabled`. `None`: nothing ran.
    pub async fn stop(&self) -> Result<Option<Stopped>, ScxError> {
        self.ask(|reply| Command::Stop { reply }).await?
    }

    /// What runs, and what sysfs says. Answered at once, also while a start
    /// is being confirmed (other commands wait for that start to finish).
    pub async fn status(&self) -> Result<ScxStatus, ScxError> {
        self.ask(|reply| Command::Status { reply }).await
    }

    /// Unrequested ends of the scheduler: exit, ejection, replacement.
    /// Aborts a start in progress, if any, without waiting (callable from a
    /// signal handler task while the daemon is blocked in that start).
    pub fn abort_start(&self) {
        let _ = self.commands.try_send(Command::AbortStart);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ScxEvent> {
        self.events.subscribe()
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ScxError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| ScxError::SupervisorGone)?;
        answer.await.map_err(|_| ScxError::SupervisorGone)
    }
}

/// Starts the supervisor task. Cancelling `cancel` (or dropping every
/// handle) stops the scheduler and ends the task; the task's result says
/// whether that last stop was confirmed.
pub fn spawn_supervisor(
    config: ScxConfig,
    cancel: CancellationToken,
) -> (ScxHandle, JoinHandle<Result<(), ScxError>>) {
    let (commands, inbox) = mpsc::channel(COMMAND_QUEUE);
    let (events, _) = broadcast::channel(EVENT_QUEUE);
    let task = tokio::spawn(Supervisor::new(config, cancel, events.clone(), inbox).run());
    (ScxHandle { commands, events }, task)
}
