//! `autosa run`: every interval, snapshot → policy → switching policy →
//! backend, each decision logged with what and why. SIGTERM and SIGINT
//! restore everything autosa changed before it exits; SIGHUP re-reads the
//! configuration (`reload.rs`). systemd is told READY/RELOADING/STOPPING and
//! pinged from the loop (`notify.rs`). Commands from the control socket
//! arrive on a channel and run between intervals (`commands`); decisions,
//! changes and metrics go to the history (`history_log`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

mod commands;
mod history_log;

use tokio::sync::mpsc;

use self::history_log::HistoryLog;
use super::backends;
use super::live::{Live, LiveState};
use super::metrics::SharedTotals;
use super::notify::{Notifier, Watchdog};
use super::reload::{ConfigSource, Reloader};
use super::sampler::Sampler;
use crate::backend::{Applied, Backend, Observed};
use crate::config::{BackendKind, Config};
use crate::control::protocol::{DaemonStatus, PROTOCOL_VERSION, SourceHealth, TimedDecision};
use crate::control::server::Server;
use crate::history::Record;
use crate::model::Snapshot;
use crate::policy::Engine;
use crate::switching::{Action, Command, Decision, Input, SwitchingPolicy, target_sample};

/// How many changing decisions `status` keeps.
const RECENT_DECISIONS: usize = 20;

/// Command-line choices that override the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    pub backend: Option<BackendKind>,
    /// The file the configuration was read from: SIGHUP reads it again.
    pub config_path: Option<PathBuf>,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(config: Config, opts: RunOptions) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(config, opts))
}

async fn run_async(config: Config, opts: RunOptions) -> anyhow::Result<()> {
    let kind = opts.backend.unwrap_or(config.daemon.backend);
    let dry_run = opts.dry_run || config.daemon.dry_run;
    std::fs::create_dir_all(&config.daemon.state_dir).with_context(|| {
        format!(
            "creating the state directory {} (run as root, or set daemon.state_dir)",
            config.daemon.state_dir.display()
        )
    })?;
    // Before anything is touched: a second daemon stops here.
    let control = Server::bind(&config.control)?;
    let mut history = HistoryLog::open(&config);
    let cancel = CancellationToken::new();
    // Bound before anything else is set up: a taken port is a start-up error.
    let metrics_listener = bind_metrics(&config).await?;
    // First: the backend, which restores what a crashed run left behind.
    let (mut backend, recovered) = backends::build(&config, kind, dry_run, &cancel)?;
    let mut engine = Engine::new(config.policy.clone())?;
    let mut switching = SwitchingPolicy::new(config.switching.clone());

    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut notifier = Notifier::from_env();
    let mut reloader = Reloader::new(opts.config_path.map(ConfigSource::new), config.clone());

    let mut sampler = Sampler::start(&config.collect, cancel.child_token());
    tracing::info!(
        backend = backend.name(),
        dry_run,
        interval = %humantime::format_duration(config.collect.interval),
        ebpf = sampler.bpf.is_ok(),
        "autosa running"
    );
    for cap in backend.describe_capabilities() {
        if cap.available {
            tracing::info!(capability = %cap.name, "{}", cap.detail);
        } else {
            tracing::warn!(capability = %cap.name, "unavailable: {}", cap.detail);
        }
    }

    watch_for_shutdown(backend.interrupter())?;
    let start = Instant::now();
    let started_unix_ms = crate::model::unix_ms_now();
    let live = Live::new(LiveState {
        status: DaemonStatus {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            started_unix_ms,
            backend: backend.name().to_owned(),
            dry_run,
            interval_ms: config.collect.interval.as_millis() as u64,
            class: None,
            confidence: 0.0,
            reasons: Vec::new(),
            scheduler: String::new(),
            since_unix_ms: started_unix_ms,
            switching: switching.status(Duration::ZERO),
            paused_until_unix_ms: None,
            paused: false,
            manual: None,
            recent: Vec::new(),
            sources: match &sampler.bpf {
                Ok(()) => Vec::new(),
                Err(why) => vec![SourceHealth {
                    name: "bpf".into(),
                    ok: false,
                    detail: why.clone(),
                }],
            },
            dropped_intervals: 0,
            probe_losses: Default::default(),
        },
        snapshot: None,
        decision: None,
        switches: 0,
        rollbacks: 0,
    });
    history.record(
        started_unix_ms,
        Record::Start {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            backend: backend.name().to_owned(),
            dry_run,
        },
    );
    // What the start undid of a run that did not exit cleanly.
    history.applied(started_unix_ms, &recovered);
    let (command_tx, mut commands) = mpsc::channel(16);
    let control_cancel = cancel.child_token();
    let server = control.start(
        live.clone(),
        command_tx,
        history.dir(),
        control_cancel.clone(),
    );
    let totals = metrics_listener.map(|l| serve_metrics(l, &live, &cancel));
    let mut watchdog = Watchdog::new(config.collect.interval, Instant::now());
    let mut pings = notifier
        .watchdog_every()
        .map(|every| tokio::time::interval_at(tokio::time::Instant::now() + every, every));
    let mut ctx = Tick {
        engine: &mut engine,
        switching: &mut switching,
        backend: &mut backend,
        live: &live,
        history: &mut history,
        started_unix_ms,
    };
    let result = loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: restoring and exiting"); break Ok(()) }
            _ = int.recv() => { tracing::info!("SIGINT: restoring and exiting"); break Ok(()) }
            _ = hup.recv() => {
                notifier.reloading();
                if let Some(applied) = reloader.reload(ctx.engine, ctx.switching)
                    && let Some(interval) = applied.interval
                {
                    sampler.set_interval(interval);
                    watchdog.set_interval(interval);
                    live.update(|l| l.status.interval_ms = interval.as_millis() as u64);
                }
                notifier.reloaded(&status_line(&live));
            }
            _ = next_ping(&mut pings) => if watchdog.healthy(Instant::now()) { notifier.ping() },
            snap = sampler.snapshots.recv() => match snap {
                Some(snap) => {
                    ctx.tick(&snap, start.elapsed());
                    let dropped = sampler.dropped.load(std::sync::atomic::Ordering::Relaxed);
                    live.update(|l| l.status.dropped_intervals = dropped);
                    if let Some(t) = &totals { t.add(&snap) }
                    watchdog.ticked(Instant::now());
                    notifier.ready(&status_line(&live));
                }
                None => break Err(anyhow::anyhow!("the sampler stopped unexpectedly")),
            },
            Some(cmd) = commands.recv() => ctx.command(cmd, start.elapsed()),
        }
    };

    // `cancel` is left alone: the scx backend's supervisor hangs off it and
    // must still be there for the restore. Metrics serve until the runtime ends.
    notifier.stopping("restoring the scheduler settings");
    sampler.stop();
    let stopped = switching.stop(start.elapsed());
    record_decisions(&live, &mut history, started_unix_ms, &stopped.decisions);
    let restored = tokio::task::block_in_place(|| backend.restore());
    let stopped_unix_ms = started_unix_ms + start.elapsed().as_millis() as u64;
    match restored {
        Ok(applied) => log_applied(&applied, "restored", &mut history, stopped_unix_ms),
        Err(e) => tracing::error!(
            "restoring failed: {e}; the journal keeps the originals for the next start"
        ),
    }
    let reason = match &result {
        Ok(()) => "signal".to_owned(),
        Err(e) => e.to_string(),
    };
    history.record(stopped_unix_ms, Record::Stop { reason });
    history.sync();
    control_cancel.cancel();
    let _ = server.await;
    result
}

/// SIGTERM or SIGINT during a long backend step (a sched_ext scheduler that
/// takes many seconds to load) cuts that step short, so the loop gets to the
/// signal and the restore at once instead of after the step's timeout.
fn watch_for_shutdown(interrupter: Option<crate::backend::Interrupter>) -> anyhow::Result<()> {
    let Some(interrupt) = interrupter else {
        return Ok(());
    };
    // Every registered listener of a signal is woken: the loop's own
    // listeners still see it.
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        interrupt();
    });
    Ok(())
}

/// Binds the metrics listener when `[metrics] enabled`.
async fn bind_metrics(config: &Config) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    if !config.metrics.enabled {
        return Ok(None);
    }
    let addr = config
        .metrics
        .listen_addr()
        .map_err(|m| anyhow::anyhow!("metrics.listen: {m}"))?;
    let listener = super::metrics::bind(addr).await.with_context(|| {
        format!(
            "serving metrics on {addr}: is the port taken (set metrics.listen)? Under systemd \
             the unit must allow AF_INET/AF_INET6 and the host network (see autosa.service)"
        )
    })?;
    tracing::info!(%addr, "serving OpenMetrics at http://{addr}/metrics");
    Ok(Some(listener))
}

/// Serves metrics until `cancel`; returns the totals the loop feeds.
fn serve_metrics(
    listener: tokio::net::TcpListener,
    live: &Live,
    cancel: &CancellationToken,
) -> SharedTotals {
    let totals = SharedTotals::default();
    tokio::spawn(super::metrics::serve(
        listener,
        live.clone(),
        totals.clone(),
        cancel.child_token(),
    ));
    totals
}

/// The next watchdog ping, never when systemd did not ask for them.
async fn next_ping(pings: &mut Option<tokio::time::Interval>) {
    match pings {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The one line systemd shows in `systemctl status`.
fn status_line(live: &Live) -> String {
    live.read(|l| status_text(&l.status))
}

fn status_text(s: &DaemonStatus) -> String {
    match s.class {
        Some(class) => format!(
            "backend {}{}, class {class}, scheduler {}",
            s.backend,
            if s.dry_run { " (dry run)" } else { "" },
            if s.scheduler.is_empty() {
                "?"
            } else {
                &s.scheduler
            },
        ),
        None => format!("backend {}, no interval yet", s.backend),
    }
}

/// What one interval works on.
struct Tick<'a> {
    engine: &'a mut Engine,
    switching: &'a mut SwitchingPolicy,
    backend: &'a mut Box<dyn Backend>,
    live: &'a Live,
    history: &'a mut HistoryLog,
    started_unix_ms: u64,
}

impl Tick<'_> {
    /// One interval through the policy, the switching rules and the backend.
    fn tick(&mut self, snap: &Snapshot, now: Duration) {
        let decision = self.engine.push(snap);
        let c = &decision.classification;
        tracing::debug!(class = %c.class, confidence = c.confidence, why = c.reasons.first().map(String::as_str).unwrap_or(""), "interval");
        self.live.update(|l| {
            l.status.class = Some(c.class);
            l.status.confidence = c.confidence;
            l.status.reasons = c.reasons.clone();
            l.status.sources = snap
                .sources
                .iter()
                .map(|s| SourceHealth {
                    name: s.name.clone(),
                    ok: s.ok,
                    detail: s.detail.clone(),
                })
                .collect();
            if let Some(sched) = &snap.sched {
                l.status.probe_losses.add(&sched.drops);
            }
            l.snapshot = Some(snap.clone());
            l.decision = Some(decision.clone());
        });
        let switches = self.live.read(|l| l.switches);
        self.history.metrics(self.unix_ms(now), &decision, switches);
        self.refresh_manual(&decision.classification);
        let plan = &decision.recommendation.plan;
        let was_paused = self.switching.pause_state().is_some();
        let (switching, backend) = (&mut *self.switching, &mut *self.backend);
        // Acting on a state we could not read would be acting blind.
        let observed: Observed = match tokio::task::block_in_place(|| backend.observe()) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!("cannot observe the scheduler state, skipping this interval: {e}");
                return;
            }
        };
        self.live
            .update(|l| l.status.scheduler = observed.scheduler.clone());
        // Our scheduler died or was ejected: roll back and block that choice.
        let out = if let Some(why) = backend.take_failure() {
            switching.failed(now, &why)
        } else {
            switching.step(Input {
                now,
                class: c.class,
                confidence: c.confidence,
                plan,
                observed: &observed,
                metric: target_sample(snap, plan),
            })
        };
        let _ = self.carry_out(out, now);
        self.note_pause_end(was_paused, now);
        self.publish(now);
    }

    /// Logs and records the decisions, then runs the command on the backend.
    fn carry_out(&mut self, out: crate::switching::Outcome, now: Duration) -> Result<(), String> {
        record_decisions(
            self.live,
            self.history,
            self.started_unix_ms,
            &out.decisions,
        );
        self.execute(out.command, now)
    }

    /// Carries out a command on the backend; a plan that cannot be applied
    /// is a failed switch (rolled back). `Err` says what failed.
    fn execute(&mut self, command: Command, now: Duration) -> Result<(), String> {
        let backend = &mut *self.backend;
        let result = match command {
            Command::Nothing => return Ok(()),
            Command::Apply(plan) => match tokio::task::block_in_place(|| backend.apply(&plan)) {
                Err(e) => {
                    tracing::error!("applying the {} plan failed: {e}", plan.class);
                    let out = self
                        .switching
                        .failed(now, &format!("applying {} failed: {e}", plan.class));
                    record_decisions(
                        self.live,
                        self.history,
                        self.started_unix_ms,
                        &out.decisions,
                    );
                    let back = match out.command {
                        Command::Apply(back) => {
                            tokio::task::block_in_place(|| backend.apply(&back))
                        }
                        Command::Restore => tokio::task::block_in_place(|| backend.restore()),
                        Command::Nothing => Ok(Applied::default()),
                    };
                    match &back {
                        Ok(applied) => {
                            log_applied(applied, "changed", self.history, self.unix_ms(now))
                        }
                        // The state is whatever the backend left; the next
                        // interval (or the restore on exit) starts from it.
                        Err(back_err) => tracing::error!(
                            "going back after the failed {} switch failed too: {back_err}",
                            plan.class
                        ),
                    }
                    return Err(e.to_string());
                }
                ok => ok,
            },
            Command::Restore => tokio::task::block_in_place(|| backend.restore()),
        };
        match result {
            Ok(applied) => {
                log_applied(&applied, "changed", self.history, self.unix_ms(now));
                Ok(())
            }
            Err(e) => {
                tracing::error!("the backend failed: {e}");
                Err(e.to_string())
            }
        }
    }
}

/// Logs every decision, and keeps those that changed something for the
/// history, `status` and the metrics.
fn record_decisions(
    live: &Live,
    history: &mut HistoryLog,
    started_unix_ms: u64,
    decisions: &[Decision],
) {
    for d in decisions {
        d.log();
        if !matches!(d.action, Action::Hold { .. }) {
            record_decision(live, history, started_unix_ms, d);
        }
    }
}

fn record_decision(live: &Live, history: &mut HistoryLog, started_unix_ms: u64, d: &Decision) {
    let time_unix_ms = started_unix_ms + d.at.as_millis() as u64;
    history.decision(time_unix_ms, d);
    live.update(|l| {
        match d.action {
            Action::Switch { .. } | Action::Restore => l.switches += 1,
            Action::Rollback { .. } => {
                l.switches += 1;
                l.rollbacks += 1;
            }
            _ => {}
        }
        if !matches!(d.action, Action::BackOff { .. }) {
            l.status.since_unix_ms = time_unix_ms;
        }
        l.status.recent.push(TimedDecision {
            time_unix_ms,
            decision: d.clone(),
        });
        let excess = l.status.recent.len().saturating_sub(RECENT_DECISIONS);
        l.status.recent.drain(..excess);
    });
}

fn log_applied(applied: &Applied, verb: &str, history: &mut HistoryLog, time_unix_ms: u64) {
    history.applied(time_unix_ms, applied);
    for c in &applied.changes {
        tracing::info!(what = %c.what, from = %c.from, to = %c.to, "{verb}");
    }
    for n in &applied.notes {
        tracing::info!("{n}");
    }
}
