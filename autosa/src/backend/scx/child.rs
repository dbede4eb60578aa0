//! The scheduler process itself: spawning it, stopping it (SIGINT, then
//! SIGKILL), and waiting for sysfs to agree.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command as ProcessCommand};
use tokio::time::Instant;

use super::config::ScxConfig;
use super::error::ScxError;
use super::events::ExitInfo;
use super::handle::{StopSignal, Stopped};
use super::output::Output;
use crate::sched_ext::{SchedExtView, ScxState, ops_matches, read_sched_ext};

/// The scheduler process we own.
pub(super) struct Running {
    pub(super) scheduler: String,
    pub(super) args: Vec<String>,
    pub(super) path: PathBuf,
    pub(super) pid: u32,
    /// Confirmed `root/ops` (empty until confirmed).
    pub(super) ops: String,
    /// The `root/ops` prefix expected before confirmation (`bpfland`).
    pub(super) ops_key: String,
    pub(super) since: Instant,
    pub(super) child: Child,
    pub(super) output: Output,
}

impl Running {
    /// Spawns `path` with `args` and starts capturing its output.
    pub(super) fn spawn(
        config: &ScxConfig,
        scheduler: &str,
        args: &[String],
        path: PathBuf,
    ) -> Result<Running, ScxError> {
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
        let output = Output::capture(&mut child, scheduler, config.output_lines);
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

    /// Whether `ops` is this scheduler's: exactly the confirmed ops once
    /// confirmed (a new instance of the same scheduler is not ours), the
    /// expected prefix before.
    pub(super) fn is_ours(&self, ops: &str) -> bool {
        if self.ops.is_empty() {
            ops_matches(ops, &self.ops_key)
        } else {
            ops == self.ops
        }
    }
}

pub(super) async fn wait_child(running: &mut Option<Running>) -> std::io::Result<ExitStatus> {
    match running {
        Some(r) => r.child.wait().await,
        None => std::future::pending().await,
    }
}

/// Polls sysfs every confirm interval until `done` or `timeout`; returns
/// whether `done` was reached and the last view.
pub(super) async fn poll_sysfs(
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
pub(super) async fn stop_child(
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
