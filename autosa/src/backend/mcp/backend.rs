//! [`McpBackend`]: schedcp's MCP server behind the synchronous [`Backend`]
//! trait. The server's word is never the truth: what runs is read from sysfs,
//! and a scheduler that an autosa killed with SIGKILL left behind (the server
//! dies with autosa, the scheduler may not) is stopped at the next start.

use std::path::Path;

use tokio::runtime::Handle;

use super::truth::{self, Observation, ScxState};
use super::{ActionReport, McpConfig, McpScheduler};
use crate::backend::running_file::{RunningFile, RunningRecord, recover};
use crate::backend::{
    Applied, Backend, BackendError, Capability, Change, ForeignChange, Observed, Target,
};
use crate::policy::plan::{Plan, ScxChoice};

pub struct McpBackend {
    sched: Option<McpScheduler>,
    config: McpConfig,
    rt: Handle,
    state_file: RunningFile,
    running: Option<ScxChoice>,
    failure: Option<String>,
    recovered: Applied,
}

impl McpBackend {
    /// Spawns the MCP server (handshake, catalogue) on the current runtime,
    /// after stopping a scheduler a previous autosa left running.
    pub fn new(config: McpConfig, state_dir: &Path) -> Result<Self, BackendError> {
        let rt = Handle::current();
        let state_file = RunningFile::new(state_dir, "mcp-running.json");
        let recovered = tokio::task::block_in_place(|| {
            rt.block_on(recover(
                &state_file,
                &config.sys_root,
                &config.proc_root,
                config.kill_grace,
            ))
        })?;
        let sched =
            tokio::task::block_in_place(|| rt.block_on(McpScheduler::start(config.clone())))?;
        tracing::info!(
            schedulers = sched.catalogue().len(),
            "schedcp MCP server ready"
        );
        Ok(Self {
            sched: Some(sched),
            config,
            rt,
            state_file,
            running: None,
            failure: None,
            recovered,
        })
    }

    pub fn recovered(&self) -> &Applied {
        &self.recovered
    }

    /// Stops what autosa runs, if anything, and says so in `applied`.
    fn stop_running(&mut self, applied: &mut Applied) -> Result<(), BackendError> {
        let Some(old) = self.running.take() else {
            return Ok(());
        };
        let report = self.stop_sched()?;
        report_notes(&report, applied);
        self.state_file.clear()?;
        applied.changes.push(Change {
            what: "sched_ext scheduler (through schedcp)".into(),
            from: old.scheduler,
            to: "eevdf (kernel default)".into(),
        });
        Ok(())
    }

    /// Asks the server to stop what we run; confirmed in sysfs by the client.
    fn stop_sched(&mut self) -> Result<ActionReport, super::McpError> {
        let rt = self.rt.clone();
        let sched = self
            .sched
            .as_mut()
            .expect("the scheduler client lives until drop");
        tokio::task::block_in_place(|| rt.block_on(sched.stop()))
    }
}

fn report_notes(report: &ActionReport, applied: &mut Applied) {
    applied.notes.extend(report.warnings.iter().cloned());
}

impl Backend for McpBackend {
    fn name(&self) -> &'static str {
        "mcp"
    }

    fn describe_capabilities(&self) -> Vec<Capability> {
        let catalogue = self
            .sched
            .as_ref()
            .map(|s| s.catalogue().to_vec())
            .unwrap_or_default();
        catalogue
            .into_iter()
            .map(|e| Capability {
                available: true,
                detail: format!(
                    "offered by schedcp{}",
                    if e.production_ready {
                        " (production ready)"
                    } else {
                        ""
                    }
                ),
                name: e.name,
            })
            .collect()
    }

    fn observe(&mut self) -> Result<Observed, BackendError> {
        let seen: Observation = truth::observe(&self.config.sys_root)?;
        if let Some(ours) = self.running.clone()
            && seen.no_longer_runs(&ours.scheduler)
        {
            self.failure = Some(format!(
                "{} is no longer running ({seen}): it exited or sched_ext ejected it",
                ours.scheduler
            ));
            self.running = None;
            self.state_file.clear()?;
            // The client still tracks the execution; forget it.
            let _ = self.stop_sched();
        }
        let scheduler = seen.scheduler_name();
        let mut foreign = Vec::new();
        let ours = self.running.as_ref().map(|c| c.scheduler.as_str());
        if seen.state == ScxState::Enabled
            && !ours.is_some_and(|s| seen.runs(s))
            && self.failure.is_none()
        {
            foreign.push(ForeignChange {
                target: Target::Scheduler,
                what: "the sched_ext scheduler".into(),
                expected: ours.unwrap_or("eevdf (none)").to_owned(),
                found: seen.ops.clone().unwrap_or_default(),
            });
        }
        Ok(Observed { scheduler, foreign })
    }

    fn apply(&mut self, plan: &Plan) -> Result<Applied, BackendError> {
        let mut applied = Applied::default();
        match &plan.scx {
            Some(choice) if self.running.as_ref() == Some(choice) => {}
            Some(choice) => {
                let from = self
                    .running
                    .as_ref()
                    .map_or("eevdf (kernel default)".to_owned(), |c| c.scheduler.clone());
                let report = {
                    let rt = self.rt.clone();
                    let sched = self
                        .sched
                        .as_mut()
                        .expect("the scheduler client lives until drop");
                    tokio::task::block_in_place(|| {
                        rt.block_on(sched.run(&choice.scheduler, &choice.args))
                    })?
                };
                report_notes(&report, &mut applied);
                self.state_file.write(&RunningRecord {
                    scheduler: choice.scheduler.clone(),
                    args: choice.args.clone(),
                    pid: None,
                })?;
                applied.changes.push(Change {
                    what: "sched_ext scheduler (through schedcp)".into(),
                    from,
                    to: format!("{} {}", choice.scheduler, choice.args.join(" "))
                        .trim_end()
                        .to_owned(),
                });
                self.running = Some(choice.clone());
            }
            None => self.stop_running(&mut applied)?,
        }
        Ok(applied)
    }

    fn restore(&mut self) -> Result<Applied, BackendError> {
        let mut applied = Applied::default();
        self.stop_running(&mut applied)?;
        Ok(applied)
    }

    fn resume(&mut self, _target: Option<&Target>) {}

    fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }
}

impl Drop for McpBackend {
    fn drop(&mut self) {
        // rmcp's child guard must be dropped inside the runtime.
        if let Some(s) = self.sched.take() {
            let rt = self.rt.clone();
            tokio::task::block_in_place(|| rt.block_on(s.shutdown()));
        }
    }
}
