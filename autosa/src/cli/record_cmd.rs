use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::collect::Collector;
use crate::record::{RecordingHeader, RecordingWriter};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// File to write (JSON Lines: a header, then one snapshot per line).
    #[arg(long)]
    out: PathBuf,
    /// Time between snapshots [default: collect.interval from the config].
    #[arg(long, value_parser = humantime::parse_duration)]
    interval: Option<Duration>,
    /// Snapshots to record; 0 records until interrupted.
    #[arg(long, default_value_t = 0, conflicts_with = "duration")]
    count: u64,
    /// Record for this long instead of a count.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
}

pub fn run(args: Args, config_path: &Path) -> anyhow::Result<()> {
    let mut config = super::load_config(config_path)?;
    if let Some(i) = args.interval {
        config.collect.interval = i;
    }
    config
        .validate()
        .map_err(|(k, m)| anyhow::anyhow!("{k}: {m}"))?;
    let interval = config.collect.interval;
    let count = match args.duration {
        Some(d) => (d.as_nanos() / interval.as_nanos().max(1)).max(1) as u64,
        None => args.count,
    };
    let header = RecordingHeader::for_host(&config.collect.proc_root, crate::model::unix_ms_now());
    let mut writer = RecordingWriter::create(&args.out, &header)?;
    let mut collector = Collector::start(&config.collect);
    super::snapshot_cmd::each_snapshot(&mut collector, interval, count, |snap| {
        writer.write(snap)?;
        Ok(())
    })?;
    eprintln!(
        "recorded {} snapshots to {}",
        writer.snapshots(),
        args.out.display()
    );
    Ok(())
}
