//! The one task that owns the scheduler process. Commands come in over a
//! channel; unrequested ends go out as [`ScxEvent`]s; a cancellation token
//! stops it (and the scheduler with it). Every claim about what runs is
//! checked in sysfs: a start counts once `state` is `enabled` with our ops,
//! a stop once `state` is `disabled`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::process::{Child, Command as ProcessCommand};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::config::ScxConfig;
use super::error::ScxError;
use super::events::{ExitInfo, ScxEvent};
use super::output::Output;
use super::resolve::{resolve_binary, validate_args, validate_name};
use super::sysfs_truth::{SchedExtView, ScxState, ops_matches, read_sched_ext};

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

enum Command {
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
    let mut watchdog = tokio::time::interval(config.poll_interval);
    watchdog.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let supervisor = Supervisor {
        config,
        cancel,
        events: events.clone(),
        watchdog,
        inbox,
        deferred: VecDeque::new(),
        running: None,
        winding_down: None,
    };
    let task = tokio::spawn(supervisor.run());
    (ScxHandle { commands, events }, task)
}

/// The scheduler process we own.
struct Running {
    scheduler: String,
    args: Vec<String>,
    path: PathBuf,
    pid: u32,
    /// Confirmed `root/ops` (empty until confirmed).
    ops: String,
    /// The `root/ops` prefix expected before confirmation (`bpfland`).
    ops_key: String,
    since: Instant,
    child: Child,
    output: Output,
}

impl Running {
    /// Whether `ops` is this scheduler's: exactly the confirmed ops once
    /// confirmed (a new instance of the same scheduler is not ours), the
    /// expected prefix before.
    fn is_ours(&self, ops: &str) -> bool {
        if self.ops.is_empty() {
            ops_matches(ops, &self.ops_key)
        } else {
            ops == self.ops
        }
    }
}

struct Supervisor {
    config: ScxConfig,
    cancel: CancellationToken,
    events: broadcast::Sender<ScxEvent>,
    watchdog: Interval,
    inbox: mpsc::Receiver<Command>,
    /// Commands that arrived while a start was being confirmed.
    deferred: VecDeque<Command>,
    running: Option<Running>,
    /// A scheduler of ours that died by itself: sched_ext may still be
    /// unregistering it, which is not a foreign scheduler.
    winding_down: Option<String>,
}

async fn wait_child(running: &mut Option<Running>) -> std::io::Result<ExitStatus> {
    match running {
        Some(r) => r.child.wait().await,
        None => std::future::pending().await,
    }
}

impl Supervisor {
    async fn run(mut self) -> Result<(), ScxError> {
        loop {
            if let Some(command) = self.deferred.pop_front() {
                if self.cancel.is_cancelled() {
                    break;
                }
                self.handle(command).await;
                continue;
            }
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => break,
                status = wait_child(&mut self.running) => self.on_exit(status).await,
                _ = self.watchdog.tick(), if self.running.is_some() => self.check_sysfs().await,
                command = self.inbox.recv() => match command {
                    None => break,
                    Some(command) => self.handle(command).await,
                },
            }
        }
        tracing::info!("sched_ext supervisor stopping");
        self.stop_current().await.map(|_| ())
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Start {
                scheduler,
                args,
                reply,
            } => {
                let result = self.start(scheduler, args).await;
                let _ = reply.send(result);
            }
            Command::Stop { reply } => {
                let _ = reply.send(self.stop_current().await);
            }
            Command::Status { reply } => {
                let _ = reply.send(self.status(None));
            }
        }
    }

    fn read(&self) -> Result<SchedExtView, ScxError> {
        read_sched_ext(&self.config.sys_root).map_err(|source| ScxError::Sysfs {
            sys_root: self.config.sys_root.clone(),
            source,
        })
    }

    fn status(&self, starting: Option<&Running>) -> ScxStatus {
        let info = |r: &Running| RunningInfo {
            scheduler: r.scheduler.clone(),
            args: r.args.clone(),
            pid: r.pid,
            ops: r.ops.clone(),
            uptime: r.since.elapsed(),
        };
        ScxStatus {
            running: self.running.as_ref().map(info),
            starting: starting.map(info),
            sysfs: self.read().map_err(|e| e.to_string()),
        }
    }

    async fn start(&mut self, scheduler: String, args: Vec<String>) -> Result<Started, ScxError> {
        validate_name(&scheduler)?;
        validate_args(&args)?;
        let path = resolve_binary(&self.config, &scheduler)?;

        if let Some(r) = &self.running {
            let still_ours = |v: SchedExtView| {
                v.state == ScxState::Enabled && v.ops.is_some_and(|ops| r.is_ours(&ops))
            };
            if r.scheduler == scheduler && r.args == args && still_ours(self.read()?) {
                return Ok(Started {
                    scheduler,
                    args,
                    path: r.path.clone(),
                    pid: r.pid,
                    ops: r.ops.clone(),
                    took: Duration::ZERO,
                    already_running: true,
                });
            }
            self.stop_current().await?;
        }

        let view = self.settle().await?;
        match view.state {
            ScxState::Disabled => {}
            ScxState::Unsupported => {
                return Err(ScxError::Unsupported {
                    path: self.config.sys_root.join("kernel/sched_ext"),
                });
            }
            state => {
                return Err(ScxError::Foreign {
                    state,
                    ops: view.ops,
                });
            }
        }

        let mut running = self.spawn(&scheduler, &args, path)?;
        running.ops_key = self.config.ops_prefix_of(&scheduler).to_string();
        match self.confirm_start(&mut running).await {
            Ok(ops) => {
                running.ops = ops.clone();
                let took = running.since.elapsed();
                tracing::info!(%scheduler, pid = running.pid, %ops, ?took, "sched_ext scheduler running");
                let started = Started {
                    scheduler,
                    args,
                    path: running.path.clone(),
                    pid: running.pid,
                    ops,
                    took,
                    already_running: false,
                };
                self.running = Some(running);
                self.winding_down = None;
                self.watchdog.reset();
                Ok(started)
            }
            Err(e) => {
                tracing::warn!(%scheduler, error = %e, "sched_ext scheduler did not start");
                if matches!(e, ScxError::ExitedDuringStart { .. }) {
                    // It may have got as far as registering before dying.
                    self.winding_down = Some(self.config.ops_prefix_of(&scheduler).to_string());
                }
                Err(e)
            }
        }
    }

    /// Waits out a scheduler that is still unregistering (`disabling`, or
    /// our own dead one still listed) so it is not taken for a foreign one.
    async fn settle(&self) -> Result<SchedExtView, ScxError> {
        let view = self.read()?;
        // Ops already gone but state not yet `disabled` is the middle of an
        // unregistration too.
        let ours_dying = |v: &SchedExtView| {
            v.state == ScxState::Disabling
                || self.winding_down.as_deref().is_some_and(|ours| {
                    v.state != ScxState::Disabled
                        && v.ops.as_deref().is_none_or(|ops| ops_matches(ops, ours))
                })
        };
        if !ours_dying(&view) {
            return Ok(view);
        }
        let (_, view) =
            poll_sysfs(&self.config, self.config.stop_timeout, |v| !ours_dying(v)).await?;
        Ok(view)
    }

    fn spawn(&self, scheduler: &str, args: &[String], path: PathBuf) -> Result<Running, ScxError> {
        let mut command = ProcessCommand::new(&path);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C meant for autosa does not reach
            // the scheduler behind the supervisor's back.
            .process_group(0)
            .kill_on_drop(true);
        // A SIGINT ignored by whoever started autosa (a background job, nohup)
        // would be inherited through execve and defeat the clean stop.
        // SAFETY: only signal(2), which is async-signal-safe, runs between
        // fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|source| ScxError::Spawn {
            path: path.clone(),
            source,
        })?;
        let pid = child.id().unwrap_or_default();
        tracing::info!(%scheduler, pid, ?args, path = %path.display(), "sched_ext scheduler spawned");
        let output = Output::capture(&mut child, scheduler, self.config.output_lines);
        Ok(Running {
            scheduler: scheduler.to_string(),
            args: args.to_vec(),
            path,
            pid,
            ops: String::new(),
            ops_key: String::new(),
            since: Instant::now(),
            child,
            output,
        })
    }

    /// Polls sysfs until our ops are enabled; stops the child on any failure.
    async fn confirm_start(&mut self, running: &mut Running) -> Result<String, ScxError> {
        let deadline = running.since + self.config.start_timeout;
        let scheduler = running.scheduler.clone();
        let mut inbox_open = true;
        loop {
            let view = match self.read() {
                Ok(view) => view,
                Err(e) => {
                    let _ = stop_child(&self.config, running, false).await;
                    return Err(e);
                }
            };
            if view.state == ScxState::Enabled
                && let Some(ops) = view.ops.as_deref().filter(|ops| running.is_ours(ops))
            {
                return Ok(ops.to_string());
            }
            if view.state == ScxState::Enabled && view.ops.is_some() {
                // Another scheduler won the race; ours is not going to load.
                let _ = stop_child(&self.config, running, false).await;
                return Err(ScxError::Foreign {
                    state: view.state,
                    ops: view.ops,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                let stopped = stop_child(&self.config, running, true).await;
                let last_lines = match stopped {
                    Ok(s) => s.last_lines,
                    Err(_) => running.output.last_lines(),
                };
                return Err(ScxError::StartTimeout {
                    scheduler,
                    timeout: self.config.start_timeout,
                    state: view.state,
                    ops: view.ops,
                    last_lines,
                });
            }
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => {
                    stop_child(&self.config, running, true).await?;
                    return Err(ScxError::Cancelled { scheduler });
                }
                status = running.child.wait() => {
                    let status = status.map_err(|source| ScxError::Process {
                        scheduler: scheduler.clone(),
                        pid: running.pid,
                        source,
                    })?;
                    return Err(ScxError::ExitedDuringStart {
                        scheduler,
                        status: status.into(),
                        last_lines: running.output.finish().await,
                    });
                }
                command = self.inbox.recv(), if inbox_open => match command {
                    Some(Command::Status { reply }) => {
                        let _ = reply.send(self.status(Some(running)));
                    }
                    Some(command) => self.deferred.push_back(command),
                    // Every handle dropped: the run loop sees it after this start.
                    None => inbox_open = false,
                },
                _ = tokio::time::sleep(self.config.confirm_poll_interval.min(deadline - now)) => {}
            }
        }
    }

    async fn stop_current(&mut self) -> Result<Option<Stopped>, ScxError> {
        let Some(mut running) = self.running.take() else {
            return Ok(None);
        };
        let stopped = stop_child(&self.config, &mut running, true).await?;
        self.winding_down = None;
        Ok(Some(stopped))
    }

    async fn on_exit(&mut self, status: std::io::Result<ExitStatus>) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        let status = match status {
            Ok(status) => ExitInfo::from(status),
            Err(e) => {
                tracing::error!(scheduler = %running.scheduler, error = %e, "cannot wait for scheduler");
                ExitInfo {
                    code: None,
                    signal: None,
                }
            }
        };
        let last_lines = running.output.finish().await;
        tracing::warn!(scheduler = %running.scheduler, pid = running.pid, %status, ?last_lines, "sched_ext scheduler exited by itself");
        self.winding_down = Some(running.ops.clone());
        let _ = self.events.send(ScxEvent::Exited {
            scheduler: running.scheduler,
            pid: running.pid,
            status,
            last_lines,
        });
    }

    /// The watchdog: is our scheduler still the one sched_ext runs?
    async fn check_sysfs(&mut self) {
        let Some(running) = &self.running else {
            return;
        };
        let view = match self.read() {
            Ok(view) => view,
            Err(e) => {
                tracing::warn!(error = %e, "watchdog cannot read sched_ext state");
                return;
            }
        };
        let event = match (&view.state, view.ops.as_deref()) {
            (ScxState::Disabled | ScxState::Unsupported, _) => ScxEvent::Ejected {
                scheduler: running.scheduler.clone(),
                pid: running.pid,
                last_lines: running.output.last_lines(),
            },
            (ScxState::Enabled, Some(ops)) if !running.is_ours(ops) => ScxEvent::Replaced {
                scheduler: running.scheduler.clone(),
                pid: running.pid,
                ops: ops.to_string(),
            },
            // Ours, or in transition: look again next tick.
            _ => return,
        };
        tracing::warn!(
            ?event,
            "sched_ext no longer runs our scheduler; stopping it"
        );
        if let Some(mut running) = self.running.take()
            && let Err(e) = stop_child(&self.config, &mut running, false).await
        {
            tracing::error!(error = %e, "cannot stop the ejected scheduler");
        }
        let _ = self.events.send(event);
    }
}

/// Polls sysfs every confirm interval until `done` or `timeout`; returns
/// whether `done` was reached and the last view.
async fn poll_sysfs(
    config: &ScxConfig,
    timeout: Duration,
    done: impl Fn(&SchedExtView) -> bool,
) -> Result<(bool, SchedExtView), ScxError> {
    let deadline = Instant::now() + timeout;
    loop {
        let view = read_sched_ext(&config.sys_root).map_err(|source| ScxError::Sysfs {
            sys_root: config.sys_root.clone(),
            source,
        })?;
        if done(&view) {
            return Ok((true, view));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok((false, view));
        }
        tokio::time::sleep(config.confirm_poll_interval.min(deadline - now)).await;
    }
}

/// SIGINT, wait up to the stop timeout, SIGKILL, reap; then, when
/// `confirm`, wait for sched_ext to no longer list the scheduler.
async fn stop_child(
    config: &ScxConfig,
    running: &mut Running,
    confirm: bool,
) -> Result<Stopped, ScxError> {
    let scheduler = running.scheduler.clone();
    let pid = running.pid;
    let process_err = |source| ScxError::Process {
        scheduler: scheduler.clone(),
        pid,
        source,
    };
    let (signal, status) = match running.child.try_wait().map_err(process_err)? {
        Some(status) => (StopSignal::None, status),
        None => {
            let target = Pid::from_raw(pid as i32);
            match kill(target, Signal::SIGINT) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => return Err(process_err(e.into())),
            }
            match tokio::time::timeout(config.stop_timeout, running.child.wait()).await {
                Ok(status) => (StopSignal::Sigint, status.map_err(process_err)?),
                Err(_) => {
                    tracing::warn!(%scheduler, pid, timeout = ?config.stop_timeout, "scheduler ignored SIGINT; sending SIGKILL");
                    running.child.start_kill().map_err(process_err)?;
                    match tokio::time::timeout(config.stop_timeout, running.child.wait()).await {
                        Ok(status) => (StopSignal::Sigkill, status.map_err(process_err)?),
                        Err(_) => {
                            return Err(ScxError::Unkillable {
                                scheduler,
                                pid,
                                timeout: config.stop_timeout,
                            });
                        }
                    }
                }
            }
        }
    };
    let last_lines = running.output.finish().await;
    let status = ExitInfo::from(status);
    tracing::info!(%scheduler, pid, ?signal, %status, "sched_ext scheduler stopped");
    if confirm {
        // Done once our ops are gone: disabled, or someone else's loaded.
        let (done, view) = poll_sysfs(config, config.stop_timeout, |v| {
            matches!(v.state, ScxState::Disabled | ScxState::Unsupported)
                || (v.state == ScxState::Enabled
                    && v.ops.as_deref().is_some_and(|ops| !running.is_ours(ops)))
        })
        .await?;
        if !done {
            return Err(ScxError::NotDisabled {
                scheduler,
                state: view.state,
                ops: view.ops,
                timeout: config.stop_timeout,
            });
        }
    }
    Ok(Stopped {
        scheduler,
        pid,
        signal,
        status,
        last_lines,
    })
}
