use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::collect::{Collector, ticker::Ticker};
use crate::model::Snapshot;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Time between snapshots [default: collect.interval from the config, 1s].
    #[arg(long, value_parser = humantime::parse_duration)]
    interval: Option<Duration>,
    /// Number of snapshots to print; 0 prints until interrupted.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// One JSON object per snapshot and line (schema: model::snapshot, stable field names).
    #[arg(long)]
    json: bool,
    /// Do not load the eBPF programs: procfs only.
    #[arg(long)]
    no_bpf: bool,
}

pub fn run(args: Args, config_path: &Path) -> anyhow::Result<()> {
    let mut config = super::load_config(config_path)?;
    if let Some(i) = args.interval {
        config.collect.interval = i;
    }
    if args.no_bpf {
        config.collect.bpf = false;
    }
    config
        .validate()
        .map_err(|(k, m)| anyhow::anyhow!("--interval: {k}: {m}"))?;
    let mut collector = Collector::start(&config.collect);
    let mut out = std::io::stdout().lock();
    each_snapshot(
        &mut collector,
        config.collect.interval,
        args.count,
        |snap| {
            if args.json {
                serde_json::to_writer(&mut out, snap)?;
                writeln!(out)?;
            } else {
                writeln!(out, "{}", crate::view::render_text(snap))?;
            }
            out.flush()?;
            Ok(())
        },
    )
}

/// Calls `f` with `count` consecutive interval snapshots (0: forever).
pub(crate) fn each_snapshot(
    collector: &mut Collector,
    interval: Duration,
    count: u64,
    mut f: impl FnMut(&Snapshot) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let ticker = Ticker::new(interval);
    collector.next_snapshot(); // the baseline the first interval is measured from
    let mut done = 0;
    while count == 0 || done < count {
        ticker.wait();
        if let Some(snap) = collector.next_snapshot() {
            f(&snap)?;
            done += 1;
        }
    }
    Ok(())
}
