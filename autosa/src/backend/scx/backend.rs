//! [`ScxBackend`]: the supervisor behind the synchronous [`Backend`] trait the
//! daemon drives, plus a small state file so that a scheduler left running by
//! an autosa that was SIGKILLed is stopped by the next start.

use std::path::Path;

use tokio::runtime::Handle;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{ScxConfig, ScxEvent, ScxHandle, spawn_supervisor};
use crate::backend::running_file::{RunningFile, RunningRecord, recover};
use crate::backend::{
    Applied, Backend, BackendError, Capability, Change, ForeignChange, Observed, Target,
};
use crate::policy::plan::{Plan, ScxChoice};
use crate::sched_ext::{ScxState, read_sched_ext};

pub struct ScxBackend {
    config: ScxConfig,
    handle: ScxHandle,
    events: broadcast::Receiver<ScxEvent>,
    rt: Handle,
    cancel: CancellationToken,
    state_file: RunningFile,
    /// What autosa runs, as confirmed by the supervisor.
    running: Option<ScxChoice>,
    failure: Option<String>,
    /// Our scheduler that died: sysfs may show it for a moment while the
    /// kernel unregisters it, which is not someone else's doing.
    dying: Option<String>,
    recovered: Applied,
}

impl ScxBackend {
    /// Starts the supervisor on the current tokio runtime. Stops first a
    /// scheduler that a previous autosa started and left behind (it recorded
    /// it in `state_dir`).
    pub fn new(
        config: ScxConfig,
        state_dir: &Path,
        cancel: CancellationToken,
    ) -> Result<Self, BackendError> {
        let rt = Handle::current();
        let state_file = RunningFile::new(state_dir, "scx-running.json");
        let recovered = tokio::task::block_in_place(|| {
            rt.block_on(recover(
                &state_file,
                &config.sys_root,
                &config.proc_root,
                config.stop_timeout,
            ))
        })?;
        let (handle, _join) = spawn_supervisor(config.clone(), cancel.clone());
        let events = handle.subscribe();
        Ok(Self {
            config,
            handle,
            events,
            rt,
            cancel,
            state_file,
            running: None,
            failure: None,
            dying: None,
            recovered,
        })
    }

    /// What the start-up recovery did.
    pub fn recovered(&self) -> &Applied {
        &self.recovered
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::task::block_in_place(|| self.rt.block_on(f))
    }

    fn stop_running(&mut self, applied: &mut Applied) -> Result<(), BackendError> {
        let stopped = self.block_on(self.handle.stop())?;
        if let Some(s) = stopped {
            applied.changes.push(Change {
                what: "sched_ext scheduler".into(),
                from: s.scheduler.clone(),
                to: "eevdf (kernel default)".into(),
            });
            if s.signal == super::StopSignal::Sigkill {
                applied
                    .notes
                    .push(format!("{} ignored SIGINT and was killed", s.scheduler));
            }
        }
        self.running = None;
        self.state_file.clear()
    }
}

impl Backend for ScxBackend {
    fn name(&self) -> &'static str {
        "scx"
    }

    /// The installed catalogue schedulers, when the kernel has sched_ext.
    fn offers(&self) -> crate::control::protocol::BackendOffer {
        let caps = self.describe_capabilities();
        let (kernel, schedulers) = caps.split_first().expect("sched_ext comes first");
        let mut offer = crate::backend::offer_from_capabilities(self.name(), schedulers);
        offer.available &= kernel.available;
        offer.detail = format!("sched_ext {}; {}", kernel.detail, offer.detail);
        offer
    }

    fn describe_capabilities(&self) -> Vec<Capability> {
        let state = read_sched_ext(&self.config.sys_root);
        let mut caps = vec![Capability {
            name: "sched_ext".into(),
            available: matches!(&state, Ok(v) if v.state != ScxState::Unsupported),
            detail: match &state {
                Ok(v) => format!("state {}", v.state),
                Err(e) => format!("cannot read sched_ext state: {e}"),
            },
        }];
        for info in crate::policy::catalog::SCHEDULERS {
            let found = super::resolve_binary(&self.config, info.name);
            caps.push(Capability {
                name: info.name.into(),
                available: found.is_ok(),
                detail: match found {
                    Ok(p) => p.display().to_string(),
                    Err(e) => e.to_string(),
                },
            });
        }
        caps
    }

    fn observe(&mut self) -> Result<Observed, BackendError> {
        loop {
            match self.events.try_recv() {
                Ok(ev) => {
                    let why = describe_event(&ev);
                    tracing::warn!("{why}");
                    self.dying = self.running.take().map(|c| c.scheduler);
                    self.state_file.clear()?;
                    self.failure = Some(why);
                }
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    tracing::warn!("{n} scheduler events were missed")
                }
                Err(_) => break,
            }
        }
        let view = read_sched_ext(&self.config.sys_root).map_err(|source| BackendError::Read {
            path: self.config.sys_root.clone(),
            source,
        })?;
        let scheduler = view.scheduler_name();
        if view.state != ScxState::Enabled {
            self.dying = None;
        }
        let mut foreign = Vec::new();
        // Someone else's scheduler: loaded while we run none (and are not
        // between a failure and its handling), or a different one from ours.
        let ours = self.running.as_ref().map(|c| c.scheduler.as_str());
        if view.state == ScxState::Enabled {
            let theirs = view.ops.clone().unwrap_or_default();
            let is_ours = ours.is_some_and(|s| view.runs(s));
            let is_dying = self.dying.as_deref().is_some_and(|s| view.runs(s));
            if !is_ours && !is_dying {
                foreign.push(ForeignChange {
                    target: Target::Scheduler,
                    what: "the sched_ext scheduler".into(),
                    expected: ours.unwrap_or("eevdf (none)").to_owned(),
                    found: theirs,
                });
            }
        }
        Ok(Observed { scheduler, foreign })
    }

    fn apply(&mut self, plan: &Plan) -> Result<Applied, BackendError> {
        let mut applied = Applied::default();
        match &plan.scx {
            None if self.running.is_some() => self.stop_running(&mut applied)?,
            None => {}
            Some(choice) if self.running.as_ref() == Some(choice) => {}
            Some(choice) => {
                let from = self
                    .running
                    .as_ref()
                    .map_or("eevdf (kernel default)".to_owned(), |c| c.scheduler.clone());
                let started = self.block_on(self.handle.start(&choice.scheduler, &choice.args))?;
                self.state_file.write(&RunningRecord {
                    scheduler: started.scheduler.clone(),
                    args: started.args.clone(),
                    pid: Some(started.pid),
                })?;
                applied.changes.push(Change {
                    what: "sched_ext scheduler".into(),
                    from,
                    to: format!(
                        "{} {} (ops {}, enabled in {:.1} s)",
                        started.scheduler,
                        started.args.join(" "),
                        started.ops,
                        started.took.as_secs_f64()
                    )
                    .replace("  ", " "),
                });
                self.running = Some(choice.clone());
            }
        }
        Ok(applied)
    }

    fn restore(&mut self) -> Result<Applied, BackendError> {
        let mut applied = Applied::default();
        self.stop_running(&mut applied)?;
        Ok(applied)
    }

    fn resume(&mut self, _target: Option<&Target>) {}

    fn interrupter(&self) -> Option<super::super::Interrupter> {
        let handle = self.handle.clone();
        Some(Box::new(move || handle.abort_start()))
    }

    fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }
}

impl Drop for ScxBackend {
    fn drop(&mut self) {
        // The supervisor stops its child on cancel; the daemon restores first.
        self.cancel.cancel();
    }
}

fn describe_event(ev: &ScxEvent) -> String {
    match ev {
        ScxEvent::Exited {
            scheduler,
            pid,
            status,
            last_lines,
        } => format!(
            "{scheduler} (pid {pid}) exited with {status}{}",
            last_lines
                .last()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        ),
        ScxEvent::Ejected { scheduler, pid, .. } => {
            format!("sched_ext ejected {scheduler} (pid {pid}): state went back to disabled")
        }
        ScxEvent::Replaced { scheduler, ops, .. } => {
            format!("{scheduler} was replaced by another sched_ext scheduler ({ops})")
        }
    }
}
