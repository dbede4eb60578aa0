//! Loads autosa's eBPF collector and reads it once per second like the
//! daemon; used by `cargo xtask bench` (accuracy against bpftrace, overhead).
//!
//! Prints `ready` on stderr once attached, then obeys lines on stdin:
//! `start` takes the baseline (answered by `started` on stderr), `stop` takes the final read and prints the
//! run-queue latency between the two as one JSON line. End of stdin exits.
//!
//! `--stats` turns on the kernel's per-program run-time accounting (through a
//! file descriptor: it turns off again when the process exits) and adds, for
//! every tracepoint program loaded (autosa's and any other tool's), its runs
//! and mean run time between `start` and `stop`.

use std::{
    io::BufRead,
    sync::mpsc::{RecvTimeoutError, channel},
    time::{Duration, Instant},
};

use autosa::{
    collect::bpf::{BpfCollector, BpfSettings},
    model::bpf_raw::BpfRaw,
};
use autosa_common::hist::{BUCKETS, bucket_lower, bucket_mid, bucket_upper};

fn runq_total(r: &BpfRaw) -> (Vec<u64>, u64) {
    let mut hist = vec![0u64; BUCKETS];
    let mut sum = 0u64;
    for c in &r.per_cpu {
        for (a, v) in hist.iter_mut().zip(&c.runq_hist) {
            *a += v;
        }
        sum += c.runq_sum_ns;
    }
    (hist, sum)
}

/// Midpoint of the bucket holding the `q` quantile.
fn percentile(hist: &[u64], q: f64) -> u64 {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 0;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, &n) in hist.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return bucket_mid(i);
        }
    }
    bucket_mid(BUCKETS - 1)
}

fn summary(first: &BpfRaw, last: &BpfRaw, window: Duration) -> serde_json::Value {
    let (h1, s1) = runq_total(last);
    let (h0, s0) = runq_total(first);
    let hist: Vec<u64> = h1.iter().zip(&h0).map(|(a, b)| a - b).collect();
    let buckets: Vec<(u64, u64, u64)> = hist
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| (bucket_lower(i), bucket_upper(i), *n))
        .collect();
    serde_json::json!({
        "window_ms": window.as_millis() as u64,
        "count": hist.iter().sum::<u64>(),
        "sum_ns": s1 - s0,
        "p50_ns": percentile(&hist, 0.50),
        "p90_ns": percentile(&hist, 0.90),
        "p99_ns": percentile(&hist, 0.99),
        "buckets": buckets,
        "events_lost": last.drops.events_lost,
        "pid_map_full": last.drops.pid_map_full,
        "tgid_map_full": last.drops.tgid_map_full,
    })
}

/// (id, name, runs, run time ns) of one loaded program.
type ProgStat = (u32, String, u64, u64);

/// Every loaded tracepoint program.
fn program_stats() -> Vec<ProgStat> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| p.program_type() == aya::programs::ProgramType::TracePoint.into())
        .map(|p| {
            let name = p.name_as_str().unwrap_or("?").to_string();
            (p.id(), name, p.run_count(), p.run_time().as_nanos() as u64)
        })
        .collect()
}

/// Runs and mean run time between two stats reads; `ours` holds the ids of
/// the programs this process loaded (other autosa instances may run too).
fn stats_delta(first: &[ProgStat], last: &[ProgStat], ours: &[u32]) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = last
        .iter()
        .filter_map(|(id, name, runs, ns)| {
            let (r0, n0) = first
                .iter()
                .find(|f| f.0 == *id)
                .map(|f| (f.2, f.3))
                .unwrap_or((0, 0));
            let runs = runs - r0;
            (runs > 0).then(|| {
                serde_json::json!({
                    "id": id,
                    "name": name,
                    "ours": ours.contains(id),
                    "runs": runs,
                    "avg_ns": (ns - n0) / runs,
                })
            })
        })
        .collect();
    serde_json::Value::Array(rows)
}

fn main() -> anyhow::Result<()> {
    let stats = std::env::args().any(|a| a == "--stats");
    let _stats_fd = if stats {
        Some(aya::sys::enable_stats(aya::sys::Stats::RunTime)?)
    } else {
        None
    };
    let (tx, rx) = channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().to_string()).is_err() {
                break;
            }
        }
    });
    let before: Vec<u32> = program_stats().iter().map(|p| p.0).collect();
    let mut c = BpfCollector::load(&BpfSettings {
        event_threshold_ns: u64::MAX,
        ..Default::default()
    })?;
    let ours: Vec<u32> = program_stats()
        .iter()
        .filter(|p| !before.contains(&p.0) && p.1.starts_with("autosa_"))
        .map(|p| p.0)
        .collect();
    eprintln!("ready");
    let mut baseline: Option<(BpfRaw, Instant, Vec<ProgStat>)> = None;
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            // The daemon's interval: read (and drain) once a second.
            Err(RecvTimeoutError::Timeout) => {
                c.read()?;
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
            Ok(cmd) if cmd == "start" => {
                baseline = Some((c.read()?, Instant::now(), program_stats()));
                eprintln!("started");
            }
            Ok(cmd) if cmd == "stop" => {
                let last = c.read()?;
                let (first, at, stats0) = baseline
                    .take()
                    .ok_or_else(|| anyhow::anyhow!("`stop` before `start`"))?;
                let mut out = summary(&first, &last, at.elapsed());
                if stats {
                    out["programs"] = stats_delta(&stats0, &program_stats(), &ours);
                }
                println!("{out}");
                return Ok(());
            }
            Ok(other) => anyhow::bail!("unknown command {other:?} (expected start or stop)"),
        }
    }
}
