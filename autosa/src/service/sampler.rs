//! The collector on its own thread: reading the eBPF maps and procfs is
//! blocking work, and a slow tick must never delay signal handling or a
//! restore. Snapshots go to the daemon over a bounded channel; when the
//! daemon falls behind, an interval is dropped (and counted), never queued up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::collect::Collector;
use crate::collect::ticker::Ticker;
use crate::config::CollectConfig;
use crate::model::Snapshot;

/// At most one "intervals dropped" warning this often.
const DROP_WARNING_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Sampler {
    pub snapshots: mpsc::Receiver<Snapshot>,
    /// Intervals dropped because the daemon had not taken the previous ones.
    pub dropped: Arc<AtomicU64>,
    /// Whether the eBPF programs loaded (else why not).
    pub bpf: Result<(), String>,
    /// The sampling interval in nanoseconds; the thread picks up a change at
    /// its next tick (a reload changes it without reloading eBPF).
    interval_ns: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
    cancel: CancellationToken,
}

impl Sampler {
    /// Loads the collector (eBPF included) on the calling thread so that load
    /// errors are known before the daemon goes on, then samples on a thread.
    pub fn start(cfg: &CollectConfig, cancel: CancellationToken) -> Self {
        let mut collector = Collector::start(cfg);
        let bpf = match collector.bpf_off_reason() {
            None => Ok(()),
            Some(why) => Err(why.to_owned()),
        };
        let (tx, rx) = mpsc::channel(4);
        let dropped = Arc::new(AtomicU64::new(0));
        let interval_ns = Arc::new(AtomicU64::new(cfg.interval.as_nanos() as u64));
        let (d, c, i) = (dropped.clone(), cancel.clone(), interval_ns.clone());
        let thread = std::thread::Builder::new()
            .name("autosa-sampler".into())
            .spawn(move || {
                let mut interval = i.load(Ordering::Relaxed);
                let mut ticker = Ticker::new(Duration::from_nanos(interval));
                // One warning per burst of drops, not one per interval: a
                // daemon stuck for a minute at 100 ms would log 600 lines.
                let mut warned_at: Option<std::time::Instant> = None;
                let mut unreported = 0u64;
                collector.next_snapshot(); // baseline
                while !c.is_cancelled() {
                    ticker.wait();
                    let now = i.load(Ordering::Relaxed);
                    if now != interval {
                        interval = now;
                        ticker = Ticker::new(Duration::from_nanos(interval));
                    }
                    if c.is_cancelled() {
                        break;
                    }
                    let Some(snap) = collector.next_snapshot() else {
                        continue;
                    };
                    match tx.try_send(snap) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            d.fetch_add(1, Ordering::Relaxed);
                            unreported += 1;
                            if warned_at.is_none_or(|t| t.elapsed() >= DROP_WARNING_EVERY) {
                                tracing::warn!(
                                    dropped = unreported,
                                    total = d.load(Ordering::Relaxed),
                                    "the daemon is behind: intervals dropped"
                                );
                                warned_at = Some(std::time::Instant::now());
                                unreported = 0;
                            }
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => break,
                    }
                }
            })
            .expect("spawn the sampler thread");
        Self {
            snapshots: rx,
            dropped,
            bpf,
            interval_ns,
            thread: Some(thread),
            cancel,
        }
    }

    /// A new interval from the next tick on (the collector stays loaded).
    pub fn set_interval(&self, interval: Duration) {
        self.interval_ns
            .store(interval.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Stops sampling and waits for the thread (at most one interval).
    pub fn stop(&mut self) {
        self.cancel.cancel();
        self.snapshots.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop();
    }
}
