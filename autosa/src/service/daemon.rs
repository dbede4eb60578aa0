//! `autosa run`: every interval, snapshot → policy → switching policy →
//! backend, each decision logged with what and why. SIGTERM and SIGINT
//! restore everything autosa changed before it exits.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::backends;
use super::sampler::Sampler;
use crate::backend::{Applied, Backend, Observed};
use crate::config::{BackendKind, Config};
use crate::model::Snapshot;
use crate::policy::Engine;
use crate::switching::{Command, Input, SwitchingPolicy, target_sample};

/// Command-line choices that override the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    pub backend: Option<BackendKind>,
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
    let cancel = CancellationToken::new();
    // First: the backend, which restores what a crashed run left behind.
    let mut backend = backends::build(&config, kind, dry_run, &cancel)?;
    let mut engine = Engine::new(config.policy.clone())?;
    let mut switching = SwitchingPolicy::new(config.switching.clone());

    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;

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

    let start = Instant::now();
    let result = loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: restoring and exiting"); break Ok(()) }
            _ = int.recv() => { tracing::info!("SIGINT: restoring and exiting"); break Ok(()) }
            snap = sampler.snapshots.recv() => match snap {
                Some(snap) => tick(&snap, start.elapsed(), &mut engine, &mut switching, &mut backend),
                None => break Err(anyhow::anyhow!("the sampler stopped unexpectedly")),
            }
        }
    };

    sampler.stop();
    for d in switching.stop(start.elapsed()).decisions {
        d.log();
    }
    let restored = tokio::task::block_in_place(|| backend.restore());
    match restored {
        Ok(applied) => log_applied(&applied, "restored"),
        Err(e) => tracing::error!(
            "restoring failed: {e}; the journal keeps the originals for the next start"
        ),
    }
    result
}

/// One interval through the policy, the switching rules and the backend.
fn tick(
    snap: &Snapshot,
    now: Duration,
    engine: &mut Engine,
    switching: &mut SwitchingPolicy,
    backend: &mut Box<dyn Backend>,
) {
    let decision = engine.push(snap);
    let c = &decision.classification;
    tracing::debug!(class = %c.class, confidence = c.confidence, why = c.reasons.first().map(String::as_str).unwrap_or(""), "interval");
    let plan = &decision.recommendation.plan;
    // Acting on a state we could not read would be acting blind.
    let observed: Observed = match tokio::task::block_in_place(|| backend.observe()) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!("cannot observe the scheduler state, skipping this interval: {e}");
            return;
        }
    };
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
    for d in &out.decisions {
        d.log();
    }
    let result = match out.command {
        Command::Nothing => return,
        Command::Apply(plan) => match tokio::task::block_in_place(|| backend.apply(&plan)) {
            Err(e) => {
                // A plan that cannot be carried out is a failed switch.
                tracing::error!("applying the {} plan failed: {e}", plan.class);
                let out = switching.failed(now, &format!("applying {} failed: {e}", plan.class));
                for d in &out.decisions {
                    d.log();
                }
                match out.command {
                    Command::Apply(back) => tokio::task::block_in_place(|| backend.apply(&back)),
                    Command::Restore => tokio::task::block_in_place(|| backend.restore()),
                    Command::Nothing => return,
                }
            }
            ok => ok,
        },
        Command::Restore => tokio::task::block_in_place(|| backend.restore()),
    };
    match result {
        Ok(applied) => log_applied(&applied, "changed"),
        Err(e) => tracing::error!("the backend failed: {e}"),
    }
}

fn log_applied(applied: &Applied, verb: &str) {
    for c in &applied.changes {
        tracing::info!(what = %c.what, from = %c.from, to = %c.to, "{verb}");
    }
    for n in &applied.notes {
        tracing::info!("{n}");
    }
}
