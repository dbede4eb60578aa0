//! The one task that owns the scheduler process. Commands come in over a
//! channel; unrequested ends go out as [`ScxEvent`]s; a cancellation token
//! stops it (and the scheduler with it). Every claim about what runs is
//! checked in sysfs: a start counts once `state` is `enabled` with our ops,
//! a stop once `state` is `disabled`.

use std::collections::VecDeque;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::child::{Running, poll_sysfs, stop_child, wait_child};
use super::config::ScxConfig;
use super::error::ScxError;
use super::events::{ExitInfo, ScxEvent};
use super::handle::{Command, RunningInfo, ScxStatus, Started, Stopped};
use super::resolve::{resolve_binary, validate_args, validate_name};
use crate::sched_ext::{SchedExtView, ScxState, ops_matches, read_sched_ext};

pub(super) struct Supervisor {
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

impl Supervisor {
    pub(super) fn new(
        config: ScxConfig,
        cancel: CancellationToken,
        events: broadcast::Sender<ScxEvent>,
        inbox: mpsc::Receiver<Command>,
    ) -> Self {
        let mut watchdog = tokio::time::interval(config.poll_interval);
        watchdog.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            config,
            cancel,
            events,
            watchdog,
            inbox,
            deferred: VecDeque::new(),
            running: None,
            winding_down: None,
        }
    }

    pub(super) async fn run(mut self) -> Result<(), ScxError> {
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
            // No start in progress: nothing to abort.
            Command::AbortStart => {}
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

        let mut running = Running::spawn(&self.config, &scheduler, &args, path)?;
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
                    Some(Command::AbortStart) => {
                        stop_child(&self.config, running, true).await?;
                        return Err(ScxError::Cancelled { scheduler });
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
