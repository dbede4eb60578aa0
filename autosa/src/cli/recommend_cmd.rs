use std::path::Path;
use std::time::Duration;

use crate::collect::Collector;
use crate::collect::sysfs::{ScxState, SysfsReader};
use crate::policy::Engine;
use crate::view::{BackendAvailability, RecommendReport, render_recommend};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to watch before answering.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, config_path: &Path) -> anyhow::Result<()> {
    let config = super::load_config(config_path)?;
    let interval = config.collect.interval;
    let intervals = (args.duration.as_nanos() / interval.as_nanos().max(1)).max(1) as u64;
    let mut engine = Engine::new(config.policy.clone())?;
    let mut collector = Collector::start(&config.collect);
    if !args.json {
        eprintln!(
            "watching for {} ({intervals} intervals)…",
            humantime::format_duration(args.duration)
        );
    }
    let mut last = None;
    super::snapshot_cmd::each_snapshot(&mut collector, interval, intervals, |snap| {
        last = Some(engine.push(snap));
        Ok(())
    })?;
    let decision = last.expect("at least one interval was sampled");
    let report = RecommendReport {
        intervals,
        interval_ms: interval.as_millis() as u64,
        decision,
        backends: backends(&SysfsReader::new(&config.collect.sys_root)),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_recommend(&report));
    }
    Ok(())
}

/// Which kinds of backend this host offers.
fn backends(sysfs: &SysfsReader) -> Vec<BackendAvailability> {
    let scx = match sysfs.sched_ext_state() {
        Ok(ScxState::Unsupported) | Err(_) => BackendAvailability {
            backend: "sched_ext".into(),
            available: false,
            detail: "kernel without sched_ext (CONFIG_SCHED_CLASS_EXT)".into(),
        },
        Ok(state) => BackendAvailability {
            backend: "sched_ext".into(),
            available: true,
            detail: format!("state {}", state.as_str()),
        },
    };
    let eevdf = BackendAvailability {
        backend: "eevdf".into(),
        available: true,
        detail: "per-task nice, SCHED_BATCH/SCHED_IDLE and slices".into(),
    };
    vec![scx, eevdf]
}
