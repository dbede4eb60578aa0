//! Telemetry sources (procfs, sysfs, the eBPF programs) and the [`Collector`]
//! that reads them together once per interval.

pub mod bpf;
pub mod procfs;
pub mod sysfs;
pub mod ticker;

use crate::config::CollectConfig;
use crate::model::metrics::{self, DeriveOptions};
use crate::model::sample::RawSample;
use crate::model::snapshot::{Snapshot, SourceStatus};

use self::bpf::{BpfCollector, BpfSettings};
use self::procfs::ProcfsReader;

/// Name of the eBPF source in [`Snapshot::sources`].
pub const BPF_SOURCE: &str = "bpf";

/// What the scheduler view loses without the eBPF programs, said once.
const WITHOUT_BPF: &str = "running on procfs alone: no run-queue or slice latency, \
                           no block I/O latency, no per-process scheduler view";

/// Reads procfs and (when loaded) the eBPF maps, and turns consecutive reads
/// into [`Snapshot`]s.
pub struct Collector {
    procfs: ProcfsReader,
    bpf: Option<BpfCollector>,
    /// Why the eBPF source is off, when it is.
    bpf_off: Option<String>,
    derive: DeriveOptions,
    prev: Option<RawSample>,
}

impl Collector {
    /// Starts collecting: loads the eBPF programs when the config asks for
    /// them and falls back to procfs alone, saying why, when they cannot load.
    pub fn start(cfg: &CollectConfig) -> Self {
        let (bpf, bpf_off) = if cfg.bpf {
            let settings = BpfSettings {
                event_threshold_ns: u64::try_from(cfg.event_threshold.as_nanos())
                    .unwrap_or(u64::MAX),
                block: cfg.block_latency,
                ..BpfSettings::default()
            };
            match BpfCollector::load(&settings) {
                Ok(c) => {
                    for (tp, why) in c.skipped() {
                        tracing::warn!(tracepoint = ?tp, "probe skipped: {why}");
                    }
                    (Some(c), None)
                }
                Err(e) => {
                    tracing::warn!("eBPF unavailable: {e}; {WITHOUT_BPF}");
                    (None, Some(e.to_string()))
                }
            }
        } else {
            (
                None,
                Some("disabled in the configuration (collect.bpf = false)".to_owned()),
            )
        };
        Self::with_sources(
            ProcfsReader::new(&cfg.proc_root),
            bpf,
            bpf_off,
            cfg.top_tasks,
        )
    }

    /// A collector over given sources; tests use a fixture procfs and no eBPF.
    pub fn with_sources(
        procfs: ProcfsReader,
        bpf: Option<BpfCollector>,
        bpf_off: Option<String>,
        top_tasks: usize,
    ) -> Self {
        Self {
            procfs,
            bpf,
            bpf_off,
            derive: DeriveOptions { top_tasks },
            prev: None,
        }
    }

    /// Whether the eBPF programs are loaded.
    pub fn has_bpf(&self) -> bool {
        self.bpf.is_some()
    }

    /// Why the eBPF source is off, if it is.
    pub fn bpf_off_reason(&self) -> Option<&str> {
        self.bpf_off.as_deref()
    }

    /// Changes the ring-buffer event threshold without reloading the programs.
    pub fn set_event_threshold(&mut self, ns: u64) -> Result<(), bpf::BpfError> {
        match &mut self.bpf {
            Some(b) => b.set_event_threshold(ns),
            None => Ok(()),
        }
    }

    /// Reads every source once, now.
    pub fn sample(&mut self) -> RawSample {
        let read = self.procfs.read();
        let mut sources = read.sources;
        let bpf = match &mut self.bpf {
            Some(b) => match b.read() {
                Ok(raw) => {
                    sources.push(SourceStatus {
                        name: BPF_SOURCE.into(),
                        ok: true,
                        detail: String::new(),
                    });
                    Some(raw)
                }
                Err(e) => {
                    tracing::warn!("reading the eBPF maps failed: {e}");
                    sources.push(SourceStatus {
                        name: BPF_SOURCE.into(),
                        ok: false,
                        detail: e.to_string(),
                    });
                    None
                }
            },
            None => {
                let detail = format!(
                    "{}; {WITHOUT_BPF}",
                    self.bpf_off.as_deref().unwrap_or("not loaded")
                );
                sources.push(SourceStatus {
                    name: BPF_SOURCE.into(),
                    ok: false,
                    detail,
                });
                None
            }
        };
        RawSample {
            monotonic_ns: monotonic_ns(),
            time_unix_ms: crate::model::unix_ms_now(),
            procfs: read.raw,
            bpf,
            sources,
        }
    }

    /// Reads every source and returns the interval since the previous read;
    /// `None` on the first call (nothing to compare with yet).
    pub fn next_snapshot(&mut self) -> Option<Snapshot> {
        let cur = self.sample();
        let snap = match &self.prev {
            Some(prev) => match metrics::derive(prev, &cur, &self.derive) {
                Ok(mut s) => {
                    self.name_tasks(&mut s);
                    Some(s)
                }
                Err(e) => {
                    tracing::warn!("skipping an interval: {e}");
                    None
                }
            },
            None => None,
        };
        self.prev = Some(cur);
        snap
    }

    /// The kernel knows the name of the thread that ran; people know processes
    /// by the name in /proc/<tgid>/comm. Only the few kept tasks are looked up.
    fn name_tasks(&self, snap: &mut Snapshot) {
        for t in &mut snap.tasks {
            if let Ok(comm) = self.procfs.read_comm(t.tgid) {
                t.comm = comm;
            }
        }
    }
}

fn monotonic_ns() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always available on Linux");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_collector() -> Collector {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc/host-6.18");
        Collector::with_sources(ProcfsReader::new(root), None, Some("test".into()), 5)
    }

    #[test]
    fn first_read_gives_nothing_then_intervals_follow() {
        let mut c = fixture_collector();
        assert!(c.next_snapshot().is_none());
        std::thread::sleep(std::time::Duration::from_millis(2));
        let snap = c.next_snapshot().expect("second read gives an interval");
        assert!(snap.interval_ms < 1000);
        assert!(snap.sched.is_none());
        let bpf = snap.sources.iter().find(|s| s.name == BPF_SOURCE).unwrap();
        assert!(!bpf.ok);
        assert!(bpf.detail.contains("procfs alone"), "{}", bpf.detail);
        assert!(
            snap.sources
                .iter()
                .filter(|s| s.name != BPF_SOURCE)
                .all(|s| s.ok)
        );
    }

    #[test]
    fn monotonic_clock_advances() {
        let a = monotonic_ns();
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert!(monotonic_ns() > a);
    }
}
