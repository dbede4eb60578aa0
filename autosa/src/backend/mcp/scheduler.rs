//! `McpScheduler`: starts, switches and stops sched_ext schedulers through
//! schedcp, confirms every change in sysfs, restarts a dead server with
//! backoff and clears the orphans schedcp leaves behind.

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::client::{Session, ToolReply};
use super::config::McpConfig;
use super::error::McpError;
use super::orphan;
use super::protocol::{
    self, ExecutionStatus, RunReply, SchedulerEntry, TOOL_LIST, TOOL_RUN, TOOL_STATUS, TOOL_STOP,
};
use super::report::{ActionReport, Running, Step};
use super::truth::{self, Observation};

/// One owner drives the server: methods take `&mut self`. Drop it inside the
/// tokio runtime (rmcp reaps the server child from a spawned task), or call
/// [`McpScheduler::shutdown`].
pub struct McpScheduler {
    config: McpConfig,
    session: Option<Session>,
    /// Server instances started so far.
    generation: u64,
    backoff: Backoff,
    catalogue: Vec<SchedulerEntry>,
    running: Option<Running>,
}

/// How a start looked in sysfs.
enum StartSeen {
    Started(Observation, std::time::Duration),
    /// The previous scheduler (named) is still loaded: the new one cannot be.
    OldStillThere(String, Observation),
    NotStarted(Observation, std::time::Duration),
}

impl McpScheduler {
    /// Starts the server and reads its catalogue.
    pub async fn start(config: McpConfig) -> Result<Self, McpError> {
        let backoff = Backoff::new(config.restart);
        let mut this = Self {
            config,
            session: None,
            generation: 0,
            backoff,
            catalogue: Vec::new(),
            running: None,
        };
        this.ensure_session(&mut ActionReport::default()).await?;
        Ok(this)
    }

    pub fn config(&self) -> &McpConfig {
        &self.config
    }

    /// The catalogue as read at the last (re)start of the server.
    pub fn catalogue(&self) -> &[SchedulerEntry] {
        &self.catalogue
    }

    /// What autosa started and has not seen stop.
    pub fn running(&self) -> Option<&Running> {
        self.running.as_ref()
    }

    /// Server instances started so far (1 after `start`).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn server_pid(&self) -> Option<u32> {
        self.session.as_ref().and_then(Session::pid)
    }

    /// What sched_ext runs now, from sysfs.
    pub fn observe(&self) -> Result<Observation, McpError> {
        truth::observe(&self.config.sys_root)
    }

    pub async fn list_schedulers(&mut self) -> Result<Vec<SchedulerEntry>, McpError> {
        let reply = self
            .call(TOOL_LIST, Map::new(), &mut ActionReport::default())
            .await?;
        let list = protocol::parse_catalogue(reply.text.as_deref())?;
        self.catalogue.clone_from(&list);
        Ok(list)
    }

    /// The server's claim about what autosa runs (not the truth: see `observe`).
    pub async fn execution_status(&mut self) -> Result<Option<ExecutionStatus>, McpError> {
        let Some(running) = self.running.clone() else {
            return Ok(None);
        };
        let args = object(json!({ "execution_id": running.execution_id }));
        let reply = self
            .call(TOOL_STATUS, args, &mut ActionReport::default())
            .await?;
        protocol::parse_status(reply.text.as_deref()).map(Some)
    }

    /// Starts `scheduler`, replacing what runs, and waits until sysfs shows it.
    pub async fn run(
        &mut self,
        scheduler: &str,
        args: &[String],
    ) -> Result<ActionReport, McpError> {
        let mut report = ActionReport::default();
        self.live_session(&mut report).await?;
        // schedcp cannot switch a scheduler to itself, nor stop what an
        // earlier server instance started: stop those first, ourselves.
        if let Some(previous) = self.running.clone()
            && (previous.scheduler == scheduler || previous.server_generation != self.generation)
        {
            let stop = self.stop().await?;
            report.steps.extend(stop.steps);
            report.warnings.extend(stop.warnings);
        }
        let previous = self.running.clone();

        let new = self.request_run(scheduler, args, &mut report).await?;
        match self.confirm_start(&new, previous.as_ref()).await? {
            StartSeen::Started(seen, after) => {
                report.step(confirmed(Some(&new.scheduler), &seen, after));
                self.running = Some(new);
                Ok(report)
            }
            StartSeen::OldStillThere(old, seen) => {
                report.warn(format!(
                    "switching to `{scheduler}` left `{old}` running ({seen}); stopping it ourselves"
                ));
                // The new execution failed to load; the old one is tracked until it is gone.
                orphan::clear(&self.config, &old, &mut report).await?;
                self.running = None;
                report.step(Step::RetriedStart);
                let retry = self.request_run(scheduler, args, &mut report).await?;
                match self.confirm_start(&retry, None).await? {
                    StartSeen::Started(seen, after) => {
                        report.step(confirmed(Some(&retry.scheduler), &seen, after));
                        self.running = Some(retry);
                        Ok(report)
                    }
                    StartSeen::OldStillThere(_, seen) | StartSeen::NotStarted(seen, _) => {
                        self.forget_failed(&retry, &mut report).await;
                        Err(McpError::NotEnabled {
                            scheduler: scheduler.to_owned(),
                            waited: self.config.enable_timeout,
                            seen,
                        })
                    }
                }
            }
            StartSeen::NotStarted(seen, waited) => {
                self.forget_failed(&new, &mut report).await;
                if let Some(previous) = previous
                    && seen.no_longer_runs(&previous.scheduler)
                {
                    self.running = None;
                }
                Err(McpError::NotEnabled {
                    scheduler: scheduler.to_owned(),
                    waited,
                    seen,
                })
            }
        }
    }

    /// Stops what autosa started and waits until sysfs shows it gone,
    /// signalling the scheduler process itself when the server's stop did not.
    pub async fn stop(&mut self) -> Result<ActionReport, McpError> {
        let mut report = ActionReport::default();
        let Some(current) = self.running.clone() else {
            report.step(Step::NothingToStop);
            return Ok(report);
        };
        // A dead server is no reason not to stop: sysfs and signals still work.
        let mut server_stopped = false;
        if let Err(e) = self.live_session(&mut report).await {
            report.warn(format!("{e}; stopping by signal"));
        } else if current.server_generation == self.generation {
            let args = object(json!({ "execution_id": current.execution_id }));
            match self.call(TOOL_STOP, args, &mut report).await {
                Ok(reply) => match protocol::parse_stop(reply.text.as_deref()) {
                    Ok(stop) => {
                        server_stopped = true;
                        report.step(Step::StopRequested {
                            execution_id: current.execution_id.clone(),
                            server_status: stop.status,
                        });
                    }
                    Err(e) => report.warn(format!("{e}; checking sysfs")),
                },
                Err(e) => report.warn(format!("stop_scheduler failed: {e}; checking sysfs")),
            }
        } else {
            report.warn(format!(
                "the server restarted since `{}` ({}) was started and no longer knows it",
                current.scheduler, current.execution_id
            ));
        }

        // Nobody else will stop it when the server did not take the request.
        let grace = if server_stopped {
            self.config.orphan_grace
        } else {
            std::time::Duration::ZERO
        };
        let (seen, after) = truth::wait_until(
            &self.config.sys_root,
            grace,
            self.config.poll_interval,
            |o, _| o.no_longer_runs(&current.scheduler),
        )
        .await?;
        if !seen.no_longer_runs(&current.scheduler) {
            report.warn(format!(
                "`{}` still runs {after:?} after the stop ({seen})",
                current.scheduler
            ));
            orphan::clear(&self.config, &current.scheduler, &mut report).await?;
        } else {
            note_foreign(&seen, &mut report);
            report.step(confirmed(None, &seen, after));
        }
        self.running = None;
        Ok(report)
    }

    /// Stops the server (schedulers it started keep running: stop them first).
    pub async fn shutdown(mut self) {
        if let Some(session) = self.session.take() {
            session.shutdown().await;
        }
    }

    async fn request_run(
        &mut self,
        scheduler: &str,
        args: &[String],
        report: &mut ActionReport,
    ) -> Result<Running, McpError> {
        let params = object(json!({ "name": scheduler, "args": args }));
        let reply = match self.call(TOOL_RUN, params, report).await {
            Ok(reply) => reply,
            Err(e) => {
                self.reconcile(report);
                return Err(e);
            }
        };
        let RunReply { execution_id, .. } = protocol::parse_run(reply.text.as_deref())?;
        report.step(Step::RunRequested {
            scheduler: scheduler.to_owned(),
            execution_id: execution_id.clone(),
        });
        Ok(Running {
            execution_id,
            scheduler: scheduler.to_owned(),
            args: args.to_vec(),
            server_generation: self.generation,
        })
    }

    async fn confirm_start(
        &self,
        new: &Running,
        previous: Option<&Running>,
    ) -> Result<StartSeen, McpError> {
        let old = previous
            .map(|p| p.scheduler.as_str())
            .filter(|old| *old != new.scheduler);
        let grace = self.config.orphan_grace;
        let (seen, after) = truth::wait_until(
            &self.config.sys_root,
            self.config.enable_timeout,
            self.config.poll_interval,
            |o, elapsed| {
                o.runs(&new.scheduler) || (old.is_some_and(|s| o.runs(s)) && elapsed >= grace)
            },
        )
        .await?;
        Ok(match old {
            _ if seen.runs(&new.scheduler) => StartSeen::Started(seen, after),
            Some(old) if seen.runs(old) => StartSeen::OldStillThere(old.to_owned(), seen),
            _ => StartSeen::NotStarted(seen, after),
        })
    }

    /// A start that never showed in sysfs: ask the server to drop it.
    async fn forget_failed(&mut self, failed: &Running, report: &mut ActionReport) {
        let args = object(json!({ "execution_id": failed.execution_id }));
        if let Err(e) = self.call(TOOL_STOP, args, report).await {
            report.warn(format!(
                "could not stop the failed execution {}: {e}",
                failed.execution_id
            ));
        }
    }

    /// After a failed request, drop what sysfs shows is no longer running.
    fn reconcile(&mut self, report: &mut ActionReport) {
        let Some(running) = &self.running else { return };
        match self.observe() {
            Ok(seen) if seen.no_longer_runs(&running.scheduler) => {
                report.warn(format!(
                    "`{}` ({}) no longer runs ({seen})",
                    running.scheduler, running.execution_id
                ));
                self.running = None;
            }
            Ok(_) => {}
            Err(e) => report.warn(e.to_string()),
        }
    }

    /// One tool call on a live server, starting one if needed. A dead or
    /// hung server is dropped here and restarted by the next call.
    async fn call(
        &mut self,
        tool: &str,
        args: Map<String, Value>,
        report: &mut ActionReport,
    ) -> Result<ToolReply, McpError> {
        self.ensure_session(report).await?;
        let Some(session) = &self.session else {
            return Err(McpError::ServerGone);
        };
        let result = session.call(tool, args, self.config.call_timeout).await;
        match result {
            Err(e) if e.server_is_broken() => {
                self.drop_session();
                Err(e)
            }
            Ok(reply) if reply.is_error => Err(McpError::ToolFailed {
                tool: tool.to_owned(),
                message: reply.text.unwrap_or_default(),
            }),
            other => {
                self.backoff.record_success();
                other
            }
        }
    }

    /// Like `ensure_session`, but a server found dead is restarted at once.
    async fn live_session(&mut self, report: &mut ActionReport) -> Result<(), McpError> {
        match self.ensure_session(report).await {
            Err(McpError::ServerGone) => self.ensure_session(report).await,
            other => other,
        }
    }

    async fn ensure_session(&mut self, report: &mut ActionReport) -> Result<(), McpError> {
        if let Some(session) = &self.session {
            if !session.is_closed() {
                return Ok(());
            }
            self.drop_session();
            return Err(McpError::ServerGone);
        }
        let wait = self.backoff.wait_needed(Instant::now().into_std());
        if wait > self.config.call_timeout {
            return Err(McpError::RestartBackoff { retry_in: wait });
        }
        tokio::time::sleep(wait).await;
        let session = match Session::start(&self.config).await {
            Ok(session) => session,
            Err(e) => {
                self.backoff.record_failure(Instant::now().into_std());
                return Err(e);
            }
        };
        self.generation += 1;
        report.step(Step::ServerStarted {
            generation: self.generation,
            pid: session.pid(),
        });
        let listed = session
            .call(TOOL_LIST, Map::new(), self.config.call_timeout)
            .await
            .and_then(|reply| protocol::parse_catalogue(reply.text.as_deref()));
        match listed {
            Ok(list) => {
                self.catalogue = list;
                self.session = Some(session);
                Ok(())
            }
            Err(e) => {
                session.kill();
                self.backoff.record_failure(Instant::now().into_std());
                Err(e)
            }
        }
    }

    fn drop_session(&mut self) {
        if let Some(session) = self.session.take() {
            session.kill();
        }
        self.backoff.record_failure(Instant::now().into_std());
    }
}

pub(crate) fn confirmed(
    running: Option<&str>,
    seen: &Observation,
    after: std::time::Duration,
) -> Step {
    Step::Confirmed {
        running: running.map(str::to_owned),
        seen: seen.to_string(),
        after,
    }
}

/// Someone else's scheduler took over: worth saying, not ours to stop.
pub(crate) fn note_foreign(seen: &Observation, report: &mut ActionReport) {
    if !seen.is_disabled() {
        report.warn(format!(
            "sched_ext runs something autosa did not start ({seen})"
        ));
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
