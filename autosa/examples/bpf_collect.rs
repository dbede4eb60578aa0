//! Loads autosa's eBPF collector, reads it once per second like the daemon,
//! and prints the run-queue latency of the whole window as one JSON line.
//! Used by `cargo xtask bench` (accuracy against bpftrace, overhead).
//!
//! `bpf_collect <seconds>`: stops after that many seconds or when stdin
//! closes, whichever comes first. Prints `ready` on stderr once attached.

use std::{
    io::Read,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
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

fn main() -> anyhow::Result<()> {
    let secs: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10.0);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            stop.store(true, Ordering::Relaxed);
        });
    }
    let mut c = BpfCollector::load(&BpfSettings {
        event_threshold_ns: u64::MAX,
        ..Default::default()
    })?;
    let start = Instant::now();
    let first = c.read()?;
    eprintln!("ready");
    let deadline = start + Duration::from_secs_f64(secs);
    let mut last = first.clone();
    // Read once a second, like the daemon's interval.
    let mut next_read = start + Duration::from_secs(1);
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next_read {
            last = c.read()?;
            next_read += Duration::from_secs(1);
            continue;
        }
        std::thread::sleep(Duration::from_millis(100).min(next_read - now));
    }
    last = c.read().unwrap_or(last);
    let window = start.elapsed();
    let (h1, s1) = runq_total(&last);
    let (h0, s0) = runq_total(&first);
    let hist: Vec<u64> = h1.iter().zip(&h0).map(|(a, b)| a - b).collect();
    let count: u64 = hist.iter().sum();
    let buckets: Vec<(u64, u64, u64)> = hist
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| (bucket_lower(i), bucket_upper(i), *n))
        .collect();
    let out = serde_json::json!({
        "window_ms": window.as_millis() as u64,
        "count": count,
        "sum_ns": s1 - s0,
        "p50_ns": percentile(&hist, 0.50),
        "p90_ns": percentile(&hist, 0.90),
        "p99_ns": percentile(&hist, 0.99),
        "buckets": buckets,
        "drops": format!("{:?}", last.drops),
    });
    println!("{out}");
    Ok(())
}
