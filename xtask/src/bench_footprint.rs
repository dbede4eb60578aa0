//! `cargo xtask bench footprint`: what the daemon itself costs. The release
//! `autosa run --backend none` (eBPF on, decides and changes nothing) runs
//! for a while at each interval; its CPU time (utime + stime from
//! /proc/<pid>/stat, children included: it has none) over the run, its peak
//! and final RSS, its threads and open files, and the binary's size.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::host::{TermOnDrop, cpu_ticks_and_rss, ticks_per_second};
use crate::plot::footprint::{FootprintData, FootprintRun, FootprintSample};

#[derive(clap::Args)]
pub struct FootprintArgs {
    /// Seconds measured per interval (after a warm-up of 5 s).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Collection intervals to measure.
    #[arg(long, value_delimiter = ',', default_value = "1s,100ms")]
    intervals: Vec<String>,
    /// The autosa binary (release).
    #[arg(long, default_value = "target/release/autosa")]
    autosa: PathBuf,
}

const WARMUP: Duration = Duration::from_secs(5);

/// CPU time of the process's live threads in ns, from each thread's
/// `schedstat` (ns resolution, where utime + stime count 10 ms ticks);
/// `None` when the kernel has no per-task schedstat.
fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut sum = 0;
    let mut read_any = false;
    for t in tasks.flatten() {
        // A thread that exited since the listing is simply gone.
        let Ok(text) = fs::read_to_string(t.path().join("schedstat")) else {
            continue;
        };
        sum += parse_schedstat(&text)?;
        read_any = true;
    }
    read_any.then_some(sum)
}

/// The first field of `/proc/<pid>/task/<tid>/schedstat`: time on CPU, ns.
fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// How often the daemon is sampled for the plot (RSS and CPU over time).
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

fn measure(autosa: &Path, interval: &str, seconds: u64) -> anyhow::Result<FootprintRun> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("autosa.toml");
    fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n\n[control]\nsocket = \"{}\"\n\n[collect]\ninterval = \"{interval}\"\n",
            dir.path().join("state").display(),
            dir.path().join("autosa.sock").display()
        ),
    )?;
    let child = Command::new(autosa)
        .args(["--log", "warn", "--config"])
        .arg(&config)
        .args(["run", "--backend", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", autosa.display()))?;
    let pid = child.id();
    let daemon = TermOnDrop(child);
    std::thread::sleep(WARMUP);
    let (t0, _) = cpu_ticks_and_rss(pid).context("the daemon exited during the warm-up")?;
    let hz = ticks_per_second();
    let start = Instant::now();
    let mut peak = 0;
    let mut samples = Vec::new();
    let mut next = start;
    while start.elapsed() < Duration::from_secs(seconds) {
        let t_s = start.elapsed().as_secs_f64();
        let (ticks, rss) = cpu_ticks_and_rss(pid)?;
        let cpu_ns = cpu_ns(pid).unwrap_or((ticks as f64 / hz * 1e9) as u64);
        peak = peak.max(rss);
        samples.push(FootprintSample {
            t_s,
            cpu_ns,
            rss_kib: rss,
        });
        next += SAMPLE_EVERY;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let (t1, rss_end) = cpu_ticks_and_rss(pid)?;
    let elapsed = start.elapsed().as_secs_f64();
    let figures = FootprintRun {
        interval: interval.to_owned(),
        cpu_percent: (t1 - t0) as f64 / hz / elapsed * 100.0,
        rss_peak_kib: peak.max(rss_end),
        rss_end_kib: rss_end,
        threads: fs::read_dir(format!("/proc/{pid}/task"))?.count(),
        fds: fs::read_dir(format!("/proc/{pid}/fd"))?.count(),
        samples,
    };
    drop(daemon);
    Ok(figures)
}

pub fn run(args: FootprintArgs) -> anyhow::Result<()> {
    crate::plot::style::ensure_font()?;
    let root = crate::host::workspace_root();
    let autosa = root.join(&args.autosa);
    ensure!(
        autosa.is_file(),
        "{} not found: build it with `cargo build --release -p autosa`",
        autosa.display()
    );
    let size = fs::metadata(&autosa)?.len();
    println!(
        "autosa binary: {} ({:.1} MiB)",
        autosa.display(),
        size as f64 / (1 << 20) as f64
    );
    println!("\n| interval | CPU (% of one CPU) | RSS peak | RSS at end | threads | open files |");
    println!("|---|---|---|---|---|---|");
    let mut data = FootprintData {
        binary_bytes: size,
        seconds: args.seconds,
        runs: Vec::new(),
    };
    for interval in &args.intervals {
        let f = measure(&autosa, interval, args.seconds)?;
        println!(
            "| {} | {:.2} % | {:.1} MiB | {:.1} MiB | {} | {} |",
            f.interval,
            f.cpu_percent,
            f.rss_peak_kib as f64 / 1024.0,
            f.rss_end_kib as f64 / 1024.0,
            f.threads,
            f.fds
        );
        data.runs.push(f);
    }
    println!(
        "\n`autosa run --backend none` (eBPF loaded, policy and switching run, nothing changed), {} s per interval after a {} s warm-up.",
        args.seconds,
        WARMUP.as_secs()
    );
    crate::plot::publish(
        crate::plot::footprint::NAME,
        &data,
        Some(crate::plot::footprint::render),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_first_field_is_cpu_ns() {
        assert_eq!(parse_schedstat("34335707 13595738 108\n"), Some(34_335_707));
        assert_eq!(parse_schedstat(""), None);
        // This test's own thread has run.
        assert!(cpu_ns(std::process::id()).is_some_and(|ns| ns > 0));
    }
}
