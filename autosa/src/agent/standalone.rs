//! `recommend` without a daemon: watch this machine for a while in this
//! process (procfs, and eBPF when it loads) and run the policy engine, as
//! `autosa recommend` does. Reads only; changes nothing.

use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::collect::Collector;
use crate::collect::sysfs::SysfsReader;
use crate::collect::ticker::Ticker;
use crate::config::Config;
use crate::policy::Engine;
use crate::policy::plan::WorkloadClass;
use crate::policy::recommend::Recommendation;

use super::error::ToolError;

/// What `recommend` answers when it sampled the machine itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StandaloneRecommendation {
    /// Always `standalone`.
    pub source: &'static str,
    pub note: String,
    pub intervals: u64,
    pub interval_ms: u64,
    /// eBPF data was present (otherwise procfs only: no run-queue latency).
    pub has_ebpf: bool,
    pub class: WorkloadClass,
    pub confidence: f64,
    pub reasons: Vec<String>,
    /// The plan for this class and what it would change.
    pub recommendation: Recommendation,
    /// `/sys/kernel/sched_ext/state`, or why it cannot be read.
    pub sched_ext: String,
}

/// Whole intervals in `duration`, at least one.
pub fn intervals_for(duration: Duration, interval: Duration) -> u64 {
    u64::try_from(duration.as_nanos() / interval.as_nanos().max(1))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Samples for `duration` (blocking: run it on the blocking pool); stops
/// early with [`ToolError::Cancelled`] when `cancel` fires.
pub fn sample(
    config: &Config,
    duration: Duration,
    cancel: &CancellationToken,
) -> Result<StandaloneRecommendation, ToolError> {
    let interval = config.collect.interval;
    let intervals = intervals_for(duration, interval);
    let mut engine = Engine::new(config.policy.clone()).map_err(|e| ToolError::Sampling {
        detail: format!("the policy configuration is invalid: {e}"),
    })?;
    let mut collector = Collector::start(&config.collect);
    let ticker = Ticker::new(interval);
    collector.next_snapshot(); // the baseline the first interval is measured from
    let mut last = None;
    let mut done = 0;
    // A few spare ticks for intervals the collector could not measure.
    let mut ticks_left = intervals + 3;
    while done < intervals && ticks_left > 0 {
        if cancel.is_cancelled() {
            return Err(ToolError::Cancelled);
        }
        ticker.wait();
        ticks_left -= 1;
        if let Some(snap) = collector.next_snapshot() {
            last = Some(engine.push(&snap));
            done += 1;
        }
    }
    let decision = last.ok_or_else(|| ToolError::Sampling {
        detail: format!(
            "no interval could be measured from {} in {intervals} tries",
            config.collect.proc_root.display()
        ),
    })?;
    let sched_ext = match SysfsReader::new(&config.collect.sys_root).sched_ext_state() {
        Ok(s) => s.as_str().to_owned(),
        Err(e) => format!("unknown: {e}"),
    };
    let c = decision.classification;
    Ok(StandaloneRecommendation {
        source: "standalone",
        note: format!(
            "no autosa daemon answered, so this process watched the machine for {done} \
             interval(s) of {} ms itself; nothing was changed. Start the daemon \
             (`sudo autosa run`) to apply and verify recommendations.",
            interval.as_millis()
        ),
        intervals: done,
        interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
        has_ebpf: c.has_ebpf,
        class: c.class,
        confidence: c.confidence,
        reasons: c.reasons,
        recommendation: decision.recommendation,
        sched_ext,
    })
}

pub fn standalone_line(r: &StandaloneRecommendation) -> String {
    let scx = r
        .recommendation
        .plan
        .scx
        .as_ref()
        .map_or("the kernel default", |s| s.scheduler.as_str());
    format!(
        "standalone ({} interval(s) sampled here, {}): workload {} (confidence {:.2}); \
         with sched_ext ({}): {scx}; {} change(s) proposed; nothing was changed",
        r.intervals,
        if r.has_ebpf { "eBPF" } else { "procfs only" },
        r.class,
        r.confidence,
        if r.sched_ext == "unsupported" {
            "not in this kernel"
        } else {
            r.sched_ext.as_str()
        },
        r.recommendation.what_it_would_change.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_one_whole_interval_is_sampled() {
        let s = Duration::from_secs;
        assert_eq!(intervals_for(s(5), s(1)), 5);
        assert_eq!(intervals_for(Duration::from_millis(5500), s(1)), 5);
        assert_eq!(intervals_for(s(1), s(2)), 1);
        assert_eq!(intervals_for(s(1), Duration::ZERO), 1_000_000_000);
    }

    #[test]
    fn a_cancelled_request_stops_before_sampling() {
        let mut config = Config::default();
        config.collect.bpf = false;
        let cancel = CancellationToken::new();
        cancel.cancel();
        let started = std::time::Instant::now();
        let r = sample(&config, Duration::from_secs(60), &cancel);
        assert!(matches!(r, Err(ToolError::Cancelled)), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
