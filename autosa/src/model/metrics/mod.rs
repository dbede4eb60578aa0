//! Two raw samples → one [`Snapshot`]: rates, fractions, histograms.
//!
//! Pure: the samples carry their own times. Counters are cumulative; one that
//! went backwards was restarted (a reboot of the source, an evicted map
//! entry), so its current value is taken as the delta, never an underflow.
//!
//! Two kinds of "absent before" are told apart:
//! - an item (a disk, a process, a block map entry) missing from a source that
//!   was read: it appeared during the interval, so all of it counts;
//! - a whole source missing from the previous sample (its read failed, or the
//!   eBPF programs were not loaded yet): there is no baseline, so that part
//!   of the snapshot has no rates (defaults, `None` or empty) this interval.

mod sched;
mod system;
mod tasks;
#[cfg(test)]
mod tests;

use super::hist::counter_delta;
use super::sample::RawSample;
use super::snapshot::{MemoryView, PsiView, SNAPSHOT_VERSION, Snapshot, VmView};
use sched::{block_views, sched_view};
use system::{cpu_view, disk_views, load_view, psi_resource};
use tasks::task_views;

pub use sched::dev_major_minor;

/// Knobs of the derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeriveOptions {
    /// How many processes to keep by CPU time (and as many by run-queue delay).
    pub top_tasks: usize,
}

impl Default for DeriveOptions {
    fn default() -> Self {
        Self { top_tasks: 20 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeriveError {
    /// The samples are in the wrong order or were taken at the same instant.
    #[error(
        "no time elapsed between samples (previous at {prev_ns} ns, current at {cur_ns} ns monotonic)"
    )]
    NoElapsedTime { prev_ns: u64, cur_ns: u64 },
}

/// The interval from `prev` to `cur` as a [`Snapshot`].
pub fn derive(
    prev: &RawSample,
    cur: &RawSample,
    opts: &DeriveOptions,
) -> Result<Snapshot, DeriveError> {
    if cur.monotonic_ns <= prev.monotonic_ns {
        return Err(DeriveError::NoElapsedTime {
            prev_ns: prev.monotonic_ns,
            cur_ns: cur.monotonic_ns,
        });
    }
    let el = Elapsed::new(cur.monotonic_ns - prev.monotonic_ns);
    let (p, c) = (&prev.procfs, &cur.procfs);
    let bpf = prev.bpf.as_ref().zip(cur.bpf.as_ref());

    Ok(Snapshot {
        version: SNAPSHOT_VERSION,
        time_unix_ms: cur.time_unix_ms,
        interval_ms: el.ns / 1_000_000,
        cpu: cpu_view(p.stat.as_ref(), c.stat.as_ref(), el),
        load: load_view(cur),
        psi: c.psi.as_ref().map(|cp| PsiView {
            cpu: psi_resource(p.psi.as_ref().map(|x| &x.cpu), &cp.cpu, el),
            io: psi_resource(p.psi.as_ref().map(|x| &x.io), &cp.io, el),
            memory: psi_resource(p.psi.as_ref().map(|x| &x.memory), &cp.memory, el),
        }),
        memory: c.meminfo.map_or_else(MemoryView::default, |m| MemoryView {
            total_bytes: m.total_bytes,
            available_bytes: m.available_bytes,
            free_bytes: m.free_bytes,
            cached_bytes: m.cached_bytes,
            dirty_bytes: m.dirty_bytes,
            swap_total_bytes: m.swap_total_bytes,
            swap_free_bytes: m.swap_free_bytes,
        }),
        vm: match (p.vmstat, c.vmstat) {
            (Some(pv), Some(cv)) => VmView {
                page_faults_per_sec: el.rate(counter_delta(pv.pgfault, cv.pgfault)),
                major_faults_per_sec: el.rate(counter_delta(pv.pgmajfault, cv.pgmajfault)),
                swap_in_pages_per_sec: el.rate(counter_delta(pv.pswpin, cv.pswpin)),
                swap_out_pages_per_sec: el.rate(counter_delta(pv.pswpout, cv.pswpout)),
                refaults_per_sec: el
                    .rate(counter_delta(pv.workingset_refault, cv.workingset_refault)),
                reclaim_scan_pages_per_sec: el.rate(counter_delta(pv.pgscan, cv.pgscan)),
                direct_reclaim_pages_per_sec: el
                    .rate(counter_delta(pv.pgscan_direct, cv.pgscan_direct)),
            },
            _ => VmView::default(),
        },
        disks: match (&p.diskstats, &c.diskstats) {
            (Some(pd), Some(cd)) => disk_views(pd, cd, el),
            _ => Vec::new(),
        },
        sched: bpf.map(|(pb, cb)| sched_view(pb, cb, el)),
        block_latency: bpf.map_or_else(Vec::new, |(pb, cb)| {
            block_views(
                &pb.block,
                &cb.block,
                c.diskstats.as_deref().unwrap_or(&[]),
                el,
            )
        }),
        tasks: bpf.map_or_else(Vec::new, |(pb, cb)| {
            task_views(&pb.tasks, &cb.tasks, el, opts.top_tasks)
        }),
        // Events are not cumulative: the current read's are this interval's.
        events: cur
            .bpf
            .as_ref()
            .map_or_else(Vec::new, |cb| cb.events.clone()),
        sources: cur.sources.clone(),
    })
}

/// Length of the interval, never zero.
#[derive(Debug, Clone, Copy)]
struct Elapsed {
    ns: u64,
    secs: f64,
}

impl Elapsed {
    fn new(ns: u64) -> Self {
        debug_assert!(ns > 0);
        Self {
            ns,
            secs: ns as f64 / 1e9,
        }
    }

    fn rate(self, delta: u64) -> f64 {
        delta as f64 / self.secs
    }

    /// `part_ns` as a fraction of the interval, clamped to `[0, 1]`.
    fn fraction(self, part_ns: u64) -> f64 {
        (part_ns as f64 / self.ns as f64).clamp(0.0, 1.0)
    }
}
