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

use std::collections::HashMap;

use autosa_common::hist::BUCKETS;

use super::bpf_raw::{BlockRaw, BpfRaw, CpuSchedRaw, TaskRaw};
use super::hist::{self, counter_delta};
use super::sample::{CpuTicks, DiskRaw, PsiLineRaw, PsiResourceRaw, RawSample};
use super::snapshot::{
    BlockLatencyView, CpuSchedView, CpuTimes, CpuView, DiskView, IoOp, LoadView, MemoryView,
    ProbeDrops, PsiLine, PsiResource, PsiView, SNAPSHOT_VERSION, SchedView, Snapshot, TaskView,
    VmView,
};

const SECTOR_BYTES: u64 = 512;

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

fn cpu_view(
    prev: Option<&super::sample::StatRaw>,
    cur: Option<&super::sample::StatRaw>,
    el: Elapsed,
) -> CpuView {
    let Some(cur) = cur else {
        return CpuView::default();
    };
    let nr_cpus = cur.per_cpu.len() as u32;
    let Some(prev) = prev else {
        return CpuView {
            nr_cpus,
            per_cpu: vec![CpuTimes::default(); cur.per_cpu.len()],
            ..CpuView::default()
        };
    };
    // /proc/stat lists online CPUs only, by position: when the count changed
    // (hotplug) positions no longer match, so per-CPU splits are unknown.
    let per_cpu = if prev.per_cpu.len() == cur.per_cpu.len() {
        prev.per_cpu
            .iter()
            .zip(&cur.per_cpu)
            .map(|(p, c)| cpu_times(p, c))
            .collect()
    } else {
        vec![CpuTimes::default(); cur.per_cpu.len()]
    };
    CpuView {
        nr_cpus,
        total: cpu_times(&prev.total, &cur.total),
        per_cpu,
        context_switches_per_sec: el.rate(counter_delta(prev.ctxt, cur.ctxt)),
        forks_per_sec: el.rate(counter_delta(prev.processes, cur.processes)),
    }
}

/// Fractions of the ticks that passed on this CPU. A tick count that went
/// backwards counts 0: iowait is documented to decrease at times, and a
/// real restart (reboot) would also reset the monotonic clock.
fn cpu_times(prev: &CpuTicks, cur: &CpuTicks) -> CpuTimes {
    let d = |p: u64, c: u64| c.saturating_sub(p);
    let delta = CpuTicks {
        user: d(prev.user, cur.user),
        nice: d(prev.nice, cur.nice),
        system: d(prev.system, cur.system),
        idle: d(prev.idle, cur.idle),
        iowait: d(prev.iowait, cur.iowait),
        irq: d(prev.irq, cur.irq),
        softirq: d(prev.softirq, cur.softirq),
        steal: d(prev.steal, cur.steal),
    };
    let total = delta.total();
    if total == 0 {
        // No tick landed on this CPU (interval shorter than a tick): nothing known.
        return CpuTimes::default();
    }
    let f = |v: u64| v as f64 / total as f64;
    CpuTimes {
        user: f(delta.user),
        nice: f(delta.nice),
        system: f(delta.system),
        iowait: f(delta.iowait),
        irq: f(delta.irq),
        softirq: f(delta.softirq),
        steal: f(delta.steal),
        idle: f(delta.idle),
    }
}

fn load_view(cur: &RawSample) -> LoadView {
    let la = cur.procfs.loadavg.unwrap_or_default();
    let st = cur.procfs.stat.as_ref();
    LoadView {
        load1: la.load1,
        load5: la.load5,
        load15: la.load15,
        procs_running: st.map_or(la.runnable, |s| s.procs_running),
        procs_blocked: st.map_or(0, |s| s.procs_blocked),
        total_tasks: la.total_tasks,
    }
}

fn psi_resource(prev: Option<&PsiResourceRaw>, cur: &PsiResourceRaw, el: Elapsed) -> PsiResource {
    PsiResource {
        some: psi_line(prev.map(|p| &p.some), &cur.some, el),
        full: cur
            .full
            .as_ref()
            .map(|cf| psi_line(prev.and_then(|p| p.full.as_ref()), cf, el)),
    }
}

/// Without a previous line there is no interval to measure: stall fraction 0.
fn psi_line(prev: Option<&PsiLineRaw>, cur: &PsiLineRaw, el: Elapsed) -> PsiLine {
    let stall_us = prev.map_or(0, |p| counter_delta(p.total_us, cur.total_us));
    PsiLine {
        avg10: cur.avg10,
        avg60: cur.avg60,
        avg300: cur.avg300,
        total_us: cur.total_us,
        stall_fraction: el.fraction(stall_us.saturating_mul(1000)),
    }
}

/// Loop, RAM and zram devices only mirror memory or files: left out.
fn is_virtual_disk(name: &str) -> bool {
    name.starts_with("loop") || name.starts_with("ram") || name.starts_with("zram")
}

fn disk_views(prev: &[DiskRaw], cur: &[DiskRaw], el: Elapsed) -> Vec<DiskView> {
    let by_dev: HashMap<(u32, u32, &str), &DiskRaw> = prev
        .iter()
        .map(|d| ((d.major, d.minor, d.name.as_str()), d))
        .collect();
    let zero = DiskRaw::default();
    let ms = el.ns as f64 / 1e6;
    cur.iter()
        .filter(|d| !is_virtual_disk(&d.name))
        .map(|c| {
            let p = by_dev
                .get(&(c.major, c.minor, c.name.as_str()))
                .copied()
                .unwrap_or(&zero);
            DiskView {
                name: c.name.clone(),
                read_iops: el.rate(counter_delta(p.reads, c.reads)),
                write_iops: el.rate(counter_delta(p.writes, c.writes)),
                read_bytes_per_sec: el.rate(
                    counter_delta(p.sectors_read, c.sectors_read).saturating_mul(SECTOR_BYTES),
                ),
                write_bytes_per_sec: el.rate(
                    counter_delta(p.sectors_written, c.sectors_written)
                        .saturating_mul(SECTOR_BYTES),
                ),
                in_flight: c.in_flight,
                utilization: (counter_delta(p.io_ticks_ms, c.io_ticks_ms) as f64 / ms)
                    .clamp(0.0, 1.0),
                avg_queue_depth: counter_delta(p.weighted_io_ticks_ms, c.weighted_io_ticks_ms)
                    as f64
                    / ms,
            }
        })
        .collect()
}

/// Per-CPU deltas of one CPU's scheduler counters.
struct CpuDelta {
    runq: Vec<u64>,
    runq_sum: u64,
    slice: Vec<u64>,
    slice_sum: u64,
    vol: u64,
    invol: u64,
    wakeups: u64,
    wakeups_new: u64,
    migrations: u64,
}

fn cpu_delta(p: &CpuSchedRaw, c: &CpuSchedRaw) -> CpuDelta {
    CpuDelta {
        runq: hist::delta(&p.runq_hist, &c.runq_hist),
        runq_sum: counter_delta(p.runq_sum_ns, c.runq_sum_ns),
        slice: hist::delta(&p.slice_hist, &c.slice_hist),
        slice_sum: counter_delta(p.slice_sum_ns, c.slice_sum_ns),
        vol: counter_delta(p.switches_voluntary, c.switches_voluntary),
        invol: counter_delta(p.switches_involuntary, c.switches_involuntary),
        wakeups: counter_delta(p.wakeups, c.wakeups),
        wakeups_new: counter_delta(p.wakeups_new, c.wakeups_new),
        migrations: counter_delta(p.migrations, c.migrations),
    }
}

fn sched_view(prev: &BpfRaw, cur: &BpfRaw, el: Elapsed) -> SchedView {
    let zero = CpuSchedRaw::default();
    let deltas: Vec<CpuDelta> = cur
        .per_cpu
        .iter()
        .enumerate()
        .map(|(i, c)| cpu_delta(prev.per_cpu.get(i).unwrap_or(&zero), c))
        .collect();
    let mut runq = vec![0u64; BUCKETS];
    let mut slice = vec![0u64; BUCKETS];
    let (mut runq_sum, mut slice_sum) = (0u64, 0u64);
    let (mut vol, mut invol, mut wk, mut wk_new, mut mig) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for d in &deltas {
        hist::merge_into(&mut runq, &d.runq);
        hist::merge_into(&mut slice, &d.slice);
        runq_sum = runq_sum.saturating_add(d.runq_sum);
        slice_sum = slice_sum.saturating_add(d.slice_sum);
        vol = vol.saturating_add(d.vol);
        invol = invol.saturating_add(d.invol);
        wk = wk.saturating_add(d.wakeups);
        wk_new = wk_new.saturating_add(d.wakeups_new);
        mig = mig.saturating_add(d.migrations);
    }
    let (pd, cd) = (&prev.drops, &cur.drops);
    SchedView {
        runq_latency: hist::build(&runq, runq_sum),
        slice: hist::build(&slice, slice_sum),
        switches_voluntary_per_sec: el.rate(vol),
        switches_involuntary_per_sec: el.rate(invol),
        wakeups_per_sec: el.rate(wk),
        wakeups_new_per_sec: el.rate(wk_new),
        migrations_per_sec: el.rate(mig),
        per_cpu: deltas
            .iter()
            .enumerate()
            .map(|(cpu, d)| CpuSchedView {
                cpu: cpu as u32,
                runq_count: hist::total(&d.runq),
                runq_p50_ns: hist::quantile(&d.runq, 0.50),
                runq_p99_ns: hist::quantile(&d.runq, 0.99),
                switches_voluntary: d.vol,
                switches_involuntary: d.invol,
                wakeups: d.wakeups,
                migrations: d.migrations,
            })
            .collect(),
        drops: ProbeDrops {
            events_lost: counter_delta(pd.events_lost, cd.events_lost),
            pid_map_full: counter_delta(pd.pid_map_full, cd.pid_map_full),
            tgid_map_full: counter_delta(pd.tgid_map_full, cd.tgid_map_full),
            block_map_full: counter_delta(pd.block_map_full, cd.block_map_full),
        },
    }
}

/// `dev` is the kernel-internal dev_t: 12 bits of major above 20 bits of minor.
pub fn dev_major_minor(dev: u32) -> (u32, u32) {
    (dev >> 20, dev & 0xf_ffff)
}

fn op_order(op: IoOp) -> u8 {
    match op {
        IoOp::Read => 0,
        IoOp::Write => 1,
        IoOp::Other => 2,
    }
}

/// Devices and directions with requests completed this interval.
fn block_views(
    prev: &[BlockRaw],
    cur: &[BlockRaw],
    disks: &[DiskRaw],
    el: Elapsed,
) -> Vec<BlockLatencyView> {
    let prev_by: HashMap<(u32, u8), &BlockRaw> =
        prev.iter().map(|b| ((b.dev, op_order(b.op)), b)).collect();
    let zero = BlockRaw::default();
    let mut out: Vec<(u32, u8, BlockLatencyView)> = cur
        .iter()
        .filter_map(|c| {
            let p = prev_by
                .get(&(c.dev, op_order(c.op)))
                .copied()
                .unwrap_or(&zero);
            let counts = hist::delta(&p.hist, &c.hist);
            let requests = counter_delta(p.count, c.count);
            if requests == 0 && hist::total(&counts) == 0 {
                return None;
            }
            let (major, minor) = dev_major_minor(c.dev);
            let name = disks
                .iter()
                .find(|d| d.major == major && d.minor == minor)
                .map_or_else(String::new, |d| d.name.clone());
            let view = BlockLatencyView {
                dev: format!("{major}:{minor}"),
                name,
                op: c.op,
                latency: hist::build(&counts, counter_delta(p.sum_ns, c.sum_ns)),
                requests_per_sec: el.rate(requests),
                bytes_per_sec: el.rate(counter_delta(p.bytes, c.bytes)),
            };
            Some((c.dev, op_order(c.op), view))
        })
        .collect();
    out.sort_by_key(|(dev, op, _)| (*dev, *op));
    out.into_iter().map(|(_, _, v)| v).collect()
}

struct TaskDelta<'a> {
    raw: &'a TaskRaw,
    cpu_ns: u64,
    switch_ins: u64,
    runq_count: u64,
    runq_delay_ns: u64,
    wakeups: u64,
    vol: u64,
    invol: u64,
}

fn task_views(prev: &[TaskRaw], cur: &[TaskRaw], el: Elapsed, top: usize) -> Vec<TaskView> {
    let prev_by: HashMap<u32, &TaskRaw> = prev.iter().map(|t| (t.tgid, t)).collect();
    let zero = TaskRaw::default();
    let deltas: Vec<TaskDelta> = cur
        .iter()
        .map(|c| {
            let p = prev_by.get(&c.tgid).copied().unwrap_or(&zero);
            TaskDelta {
                raw: c,
                cpu_ns: counter_delta(p.cpu_ns, c.cpu_ns),
                switch_ins: counter_delta(p.switch_ins, c.switch_ins),
                runq_count: counter_delta(p.runq_count, c.runq_count),
                runq_delay_ns: counter_delta(p.runq_delay_ns, c.runq_delay_ns),
                wakeups: counter_delta(p.wakeups, c.wakeups),
                vol: counter_delta(p.switches_voluntary, c.switches_voluntary),
                invol: counter_delta(p.switches_involuntary, c.switches_involuntary),
            }
        })
        .filter(|d| d.cpu_ns > 0 || d.runq_count > 0 || d.switch_ins > 0 || d.wakeups > 0)
        .collect();

    let mut by_cpu: Vec<usize> = (0..deltas.len()).collect();
    by_cpu.sort_by_key(|&i| (std::cmp::Reverse(deltas[i].cpu_ns), deltas[i].raw.tgid));
    let mut by_delay: Vec<usize> = (0..deltas.len()).collect();
    by_delay.sort_by_key(|&i| {
        (
            std::cmp::Reverse(deltas[i].runq_delay_ns),
            deltas[i].raw.tgid,
        )
    });

    let mut keep: Vec<usize> = by_cpu.iter().take(top).copied().collect();
    for &i in by_delay.iter().take(top) {
        if deltas[i].runq_delay_ns > 0 && !keep.contains(&i) {
            keep.push(i);
        }
    }
    keep.sort_by_key(|&i| (std::cmp::Reverse(deltas[i].cpu_ns), deltas[i].raw.tgid));

    keep.into_iter()
        .map(|i| {
            let d = &deltas[i];
            TaskView {
                tgid: d.raw.tgid,
                comm: d.raw.comm.clone(),
                cpu_fraction: d.cpu_ns as f64 / el.ns as f64,
                runq_count: d.runq_count,
                runq_delay_total_ns: d.runq_delay_ns,
                runq_delay_max_ns: d.raw.runq_max_ns,
                runq_delay_avg_ns: d.runq_delay_ns.checked_div(d.runq_count).unwrap_or(0),
                wakeups_per_sec: el.rate(d.wakeups),
                switches_voluntary_per_sec: el.rate(d.vol),
                switches_involuntary_per_sec: el.rate(d.invol),
                avg_slice_ns: d.cpu_ns.checked_div(d.switch_ins).unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample::{
        DiskRaw, LoadavgRaw, MeminfoRaw, ProcfsRaw, PsiRaw, StatRaw, VmstatRaw,
    };
    use crate::model::snapshot::SourceStatus;
    use autosa_common::hist::{bucket_mid, bucket_of};

    const SEC: u64 = 1_000_000_000;

    fn ticks(user: u64, system: u64, idle: u64, iowait: u64, steal: u64) -> CpuTicks {
        CpuTicks {
            user,
            system,
            idle,
            iowait,
            steal,
            ..CpuTicks::default()
        }
    }

    fn sample(t_ns: u64) -> RawSample {
        RawSample {
            monotonic_ns: t_ns,
            time_unix_ms: t_ns / 1_000_000 + 1_700_000_000_000,
            ..RawSample::default()
        }
    }

    fn hist_with(values: &[(u64, u64)]) -> Vec<u64> {
        let mut h = vec![0u64; BUCKETS];
        for &(v, n) in values {
            h[bucket_of(v)] += n;
        }
        h
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn zero_or_negative_elapsed_is_an_error() {
        let s = sample(5 * SEC);
        let err = derive(&s, &s, &DeriveOptions::default()).unwrap_err();
        assert_eq!(
            err,
            DeriveError::NoElapsedTime {
                prev_ns: 5 * SEC,
                cur_ns: 5 * SEC
            }
        );
        assert!(derive(&sample(6 * SEC), &s, &DeriveOptions::default()).is_err());
    }

    #[test]
    fn cpu_fractions_and_rates() {
        let mut a = sample(10 * SEC);
        a.procfs.stat = Some(StatRaw {
            total: ticks(100, 50, 1000, 10, 0),
            per_cpu: vec![ticks(50, 25, 500, 5, 0), ticks(50, 25, 500, 5, 0)],
            ctxt: 1000,
            processes: 50,
            procs_running: 1,
            procs_blocked: 0,
        });
        let mut b = sample(12 * SEC);
        b.procfs.stat = Some(StatRaw {
            // CPU0 fully busy in user, CPU1 idle with some iowait and steal.
            total: ticks(300, 50, 1180, 20, 10),
            per_cpu: vec![ticks(250, 25, 500, 5, 0), ticks(50, 25, 680, 15, 10)],
            ctxt: 5000,
            processes: 70,
            procs_running: 3,
            procs_blocked: 2,
        });
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        assert_eq!(s.version, SNAPSHOT_VERSION);
        assert_eq!(s.interval_ms, 2000);
        assert_eq!(s.cpu.nr_cpus, 2);
        assert!(close(s.cpu.per_cpu[0].user, 1.0));
        assert!(close(s.cpu.per_cpu[0].idle, 0.0));
        assert!(close(s.cpu.per_cpu[1].idle, 0.9));
        assert!(close(s.cpu.per_cpu[1].iowait, 0.05));
        assert!(close(s.cpu.per_cpu[1].steal, 0.05));
        assert!(close(s.cpu.total.user, 0.5));
        assert!(close(s.cpu.total.busy(), 0.525));
        assert!(close(s.cpu.context_switches_per_sec, 2000.0));
        assert!(close(s.cpu.forks_per_sec, 10.0));
        assert_eq!((s.load.procs_running, s.load.procs_blocked), (3, 2));
    }

    #[test]
    fn cpu_tick_going_backwards_counts_zero_and_stays_in_range() {
        let mut a = sample(SEC);
        a.procfs.stat = Some(StatRaw {
            total: ticks(100, 0, 100, 50, 0),
            per_cpu: vec![ticks(100, 0, 100, 50, 0)],
            ..StatRaw::default()
        });
        let mut b = sample(2 * SEC);
        b.procfs.stat = Some(StatRaw {
            total: ticks(150, 0, 150, 40, 0),
            per_cpu: vec![ticks(150, 0, 150, 40, 0)],
            ..StatRaw::default()
        });
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        let c = s.cpu.per_cpu[0];
        assert!(close(c.iowait, 0.0));
        assert!(close(c.user, 0.5) && close(c.idle, 0.5));
    }

    #[test]
    fn no_ticks_gives_zero_fractions_not_nan() {
        let mut a = sample(SEC);
        a.procfs.stat = Some(StatRaw {
            per_cpu: vec![ticks(1, 1, 1, 1, 1)],
            total: ticks(1, 1, 1, 1, 1),
            ..StatRaw::default()
        });
        let mut b = sample(SEC + 1000);
        b.procfs.stat = a.procfs.stat.clone();
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        assert_eq!(s.cpu.per_cpu[0], CpuTimes::default());
        assert_eq!(s.cpu.context_switches_per_sec, 0.0);
    }

    #[test]
    fn psi_stall_fraction_from_totals() {
        let line = |total_us| PsiLineRaw {
            avg10: 1.5,
            avg60: 0.5,
            avg300: 0.1,
            total_us,
        };
        let res = |some, full: Option<u64>| PsiResourceRaw {
            some: line(some),
            full: full.map(line),
        };
        let mut a = sample(SEC);
        a.procfs.psi = Some(PsiRaw {
            cpu: res(1_000_000, None),
            io: res(0, Some(0)),
            memory: res(10, Some(10)),
        });
        let mut b = sample(3 * SEC);
        // 500 ms of CPU stall in 2 s; io restarted (went backwards): 100 ms.
        b.procfs.psi = Some(PsiRaw {
            cpu: res(1_500_000, None),
            io: res(100_000, Some(50_000)),
            memory: res(5, Some(5)),
        });
        b.procfs.psi.as_mut().unwrap().io.some.total_us = 100_000;
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        let psi = s.psi.unwrap();
        assert!(close(psi.cpu.some.stall_fraction, 0.25));
        assert!(psi.cpu.full.is_none());
        assert!(close(psi.io.some.stall_fraction, 0.05));
        assert!(close(psi.io.full.unwrap().stall_fraction, 0.025));
        // Backwards memory total: restart, 5 µs.
        assert!(close(psi.memory.some.stall_fraction, 5_000.0 / 2e9));
        assert!(close(psi.cpu.some.avg10, 1.5));
        assert_eq!(psi.cpu.some.total_us, 1_500_000);
    }

    #[test]
    fn psi_absent_now_is_none_and_absent_before_has_no_stall() {
        let a = sample(SEC);
        let mut b = sample(2 * SEC);
        assert!(
            derive(&a, &b, &DeriveOptions::default())
                .unwrap()
                .psi
                .is_none()
        );
        b.procfs.psi = Some(PsiRaw::default());
        b.procfs.psi.as_mut().unwrap().cpu.some.total_us = 999_999;
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        assert_eq!(s.psi.unwrap().cpu.some.stall_fraction, 0.0);
    }

    #[test]
    fn memory_load_and_vm_rates() {
        let mut a = sample(SEC);
        a.procfs.vmstat = Some(VmstatRaw {
            pgfault: 1000,
            pgmajfault: 10,
            pswpin: 0,
            pswpout: 7,
        });
        let mut b = sample(1_500_000_000);
        b.procfs.vmstat = Some(VmstatRaw {
            pgfault: 2000,
            pgmajfault: 12,
            pswpin: 5,
            pswpout: 3,
        });
        b.procfs.meminfo = Some(MeminfoRaw {
            total_bytes: 8 << 30,
            available_bytes: 4 << 30,
            ..MeminfoRaw::default()
        });
        b.procfs.loadavg = Some(LoadavgRaw {
            load1: 1.25,
            load5: 0.5,
            load15: 0.25,
            runnable: 2,
            total_tasks: 300,
        });
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        assert!(close(s.vm.page_faults_per_sec, 2000.0));
        assert!(close(s.vm.major_faults_per_sec, 4.0));
        assert!(close(s.vm.swap_in_pages_per_sec, 10.0));
        // pswpout went 7 → 3: restart, 3 pages.
        assert!(close(s.vm.swap_out_pages_per_sec, 6.0));
        assert_eq!(s.memory.total_bytes, 8 << 30);
        assert_eq!(s.load.total_tasks, 300);
        assert!(close(s.load.load1, 1.25));
        // No /proc/stat: runnable comes from loadavg.
        assert_eq!(s.load.procs_running, 2);
    }

    fn disk(name: &str, minor: u32, n: u64) -> DiskRaw {
        DiskRaw {
            major: if name.starts_with("loop") { 7 } else { 254 },
            minor,
            name: name.to_owned(),
            reads: n,
            writes: 2 * n,
            sectors_read: 8 * n,
            sectors_written: 16 * n,
            in_flight: 3,
            io_ticks_ms: n,
            weighted_io_ticks_ms: 4 * n,
        }
    }

    #[test]
    fn disks_rates_util_queue_and_filters() {
        let mut a = sample(SEC);
        a.procfs.diskstats = Some(vec![disk("vda", 0, 100), disk("loop0", 0, 100)]);
        let mut b = sample(2 * SEC);
        b.procfs.diskstats = Some(vec![
            disk("vda", 0, 600),
            disk("loop0", 0, 200),
            disk("zram0", 0, 5),
            disk("ram0", 0, 5),
            disk("vdb", 16, 50),
        ]);
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        let names: Vec<&str> = s.disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["vda", "vdb"]);
        let vda = &s.disks[0];
        assert!(close(vda.read_iops, 500.0));
        assert!(close(vda.write_iops, 1000.0));
        assert!(close(vda.read_bytes_per_sec, 500.0 * 8.0 * 512.0));
        assert!(close(vda.write_bytes_per_sec, 500.0 * 16.0 * 512.0));
        assert!(close(vda.utilization, 0.5));
        assert!(close(vda.avg_queue_depth, 2.0));
        assert_eq!(vda.in_flight, 3);
        // New device: counted from zero.
        assert!(close(s.disks[1].read_iops, 50.0));
    }

    #[test]
    fn disk_counter_reset_does_not_underflow() {
        let mut a = sample(SEC);
        a.procfs.diskstats = Some(vec![disk("vda", 0, 10_000)]);
        let mut b = sample(2 * SEC);
        b.procfs.diskstats = Some(vec![disk("vda", 0, 100)]);
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        assert!(close(s.disks[0].read_iops, 100.0));
        assert!(close(s.disks[0].utilization, 0.1));
    }

    fn cpu_raw(runq: &[(u64, u64)], vol: u64) -> CpuSchedRaw {
        let runq_hist = hist_with(runq);
        CpuSchedRaw {
            runq_sum_ns: runq.iter().map(|&(v, n)| v * n).sum(),
            runq_hist,
            slice_hist: hist_with(&[(1_000_000, vol)]),
            slice_sum_ns: vol * 1_000_000,
            switches_voluntary: vol,
            switches_involuntary: vol / 2,
            wakeups: vol * 3,
            wakeups_new: 1,
            migrations: vol / 10,
        }
    }

    #[test]
    fn sched_histograms_merge_over_cpus_and_rates() {
        let mut a = sample(SEC);
        a.procfs.stat = Some(StatRaw::default());
        a.bpf = Some(BpfRaw {
            per_cpu: vec![cpu_raw(&[(10_000, 5)], 100), cpu_raw(&[], 0)],
            drops: crate::model::bpf_raw::DropsRaw {
                events_lost: 3,
                ..Default::default()
            },
            ..BpfRaw::default()
        });
        let mut b = sample(3 * SEC);
        b.bpf = Some(BpfRaw {
            per_cpu: vec![
                cpu_raw(&[(10_000, 5), (20_000, 90)], 300),
                cpu_raw(&[(5_000_000, 10)], 100),
            ],
            drops: crate::model::bpf_raw::DropsRaw {
                events_lost: 4,
                pid_map_full: 2,
                ..Default::default()
            },
            ..BpfRaw::default()
        });
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        let sched = s.sched.unwrap();
        assert_eq!(sched.runq_latency.count, 100);
        assert_eq!(sched.runq_latency.sum_ns, 90 * 20_000 + 10 * 5_000_000);
        assert_eq!(sched.runq_latency.p50_ns, bucket_mid(bucket_of(20_000)));
        assert_eq!(sched.runq_latency.p99_ns, bucket_mid(bucket_of(5_000_000)));
        assert!(close(sched.switches_voluntary_per_sec, 150.0));
        assert!(close(sched.switches_involuntary_per_sec, 75.0));
        assert!(close(sched.wakeups_per_sec, 450.0));
        assert!(close(sched.wakeups_new_per_sec, 0.0)); // 1 → 1 on both CPUs
        assert!(close(sched.migrations_per_sec, 15.0));
        assert_eq!(sched.slice.count, 300);
        assert_eq!(sched.per_cpu.len(), 2);
        assert_eq!(sched.per_cpu[0].runq_count, 90);
        assert_eq!(sched.per_cpu[0].switches_voluntary, 200);
        assert_eq!(
            sched.per_cpu[1].runq_p50_ns,
            bucket_mid(bucket_of(5_000_000))
        );
        assert_eq!(sched.drops.events_lost, 1);
        assert_eq!(sched.drops.pid_map_full, 2);
    }

    #[test]
    fn no_bpf_now_means_no_sched_view() {
        let mut a = sample(SEC);
        a.bpf = Some(BpfRaw::default());
        let s = derive(&a, &sample(2 * SEC), &DeriveOptions::default()).unwrap();
        assert!(s.sched.is_none() && s.tasks.is_empty() && s.block_latency.is_empty());
    }

    #[test]
    fn sched_counters_reset_restart_from_current_value() {
        let mut a = sample(SEC);
        a.bpf = Some(BpfRaw {
            per_cpu: vec![cpu_raw(&[(1000, 1000)], 1000)],
            ..BpfRaw::default()
        });
        let mut b = sample(2 * SEC);
        b.bpf = Some(BpfRaw {
            per_cpu: vec![cpu_raw(&[(1000, 10)], 10)],
            ..BpfRaw::default()
        });
        let sched = derive(&a, &b, &DeriveOptions::default())
            .unwrap()
            .sched
            .unwrap();
        assert_eq!(sched.runq_latency.count, 10);
        assert!(close(sched.switches_voluntary_per_sec, 10.0));
    }

    #[test]
    fn block_latency_per_device_and_direction() {
        let dev = (254 << 20) | 16;
        let blk = |op, n: u64| BlockRaw {
            dev,
            op,
            hist: hist_with(&[(100_000, n)]),
            sum_ns: n * 100_000,
            count: n,
            bytes: n * 4096,
        };
        let mut a = sample(SEC);
        a.bpf = Some(BpfRaw {
            block: vec![blk(IoOp::Write, 10), blk(IoOp::Read, 10)],
            ..BpfRaw::default()
        });
        let mut b = sample(2 * SEC);
        b.procfs.diskstats = Some(vec![disk("vdb", 16, 1)]);
        b.bpf = Some(BpfRaw {
            block: vec![
                blk(IoOp::Write, 30),
                blk(IoOp::Read, 10),
                blk(IoOp::Other, 1),
            ],
            ..BpfRaw::default()
        });
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        // Read had no new requests: left out. Sorted read, write, other.
        assert_eq!(s.block_latency.len(), 2);
        let w = &s.block_latency[0];
        assert_eq!(
            (w.dev.as_str(), w.name.as_str(), w.op),
            ("254:16", "vdb", IoOp::Write)
        );
        assert_eq!(w.latency.count, 20);
        assert!(close(w.requests_per_sec, 20.0));
        assert!(close(w.bytes_per_sec, 20.0 * 4096.0));
        assert_eq!(s.block_latency[1].op, IoOp::Other);
        assert_eq!(dev_major_minor(dev), (254, 16));
    }

    fn task(tgid: u32, cpu_ms: u64, delay_ms: u64) -> TaskRaw {
        TaskRaw {
            tgid,
            comm: format!("t{tgid}"),
            cpu_ns: cpu_ms * 1_000_000,
            switch_ins: cpu_ms,
            runq_count: 10,
            runq_delay_ns: delay_ms * 1_000_000,
            runq_max_ns: delay_ms * 100_000,
            wakeups: 20,
            switches_voluntary: 8,
            switches_involuntary: 2,
        }
    }

    #[test]
    fn tasks_top_by_cpu_plus_top_by_delay_sorted_by_cpu() {
        let mut a = sample(SEC);
        a.bpf = Some(BpfRaw {
            tasks: vec![
                task(1, 100, 0),
                task(2, 100, 0),
                task(3, 5000, 50),
                task(9, 1, 1),
            ],
            ..BpfRaw::default()
        });
        let mut b = sample(2 * SEC);
        b.bpf = Some(BpfRaw {
            tasks: vec![
                task(1, 900, 0),  // +800 ms CPU
                task(2, 400, 0),  // +300 ms CPU
                task(3, 10, 2),   // restarted: 10 ms CPU, 2 ms delay
                task(4, 50, 500), // new: 50 ms CPU, 500 ms delay
                task(5, 60, 0),   // new: 60 ms
                task(9, 1, 1),    // idle this interval: dropped
            ],
            ..BpfRaw::default()
        });
        b.bpf.as_mut().unwrap().tasks[5].runq_count = 10;
        b.bpf.as_mut().unwrap().tasks[5].wakeups = 20;
        b.bpf.as_mut().unwrap().tasks[5].switches_voluntary = 8;
        b.bpf.as_mut().unwrap().tasks[5].switches_involuntary = 2;
        let s = derive(&a, &b, &DeriveOptions { top_tasks: 2 }).unwrap();
        let tgids: Vec<u32> = s.tasks.iter().map(|t| t.tgid).collect();
        // Top 2 by CPU: 1, 2; top 2 by delay: 4, 3.
        assert_eq!(tgids, [1, 2, 4, 3]);
        let t1 = &s.tasks[0];
        assert!(close(t1.cpu_fraction, 0.8));
        assert_eq!(t1.avg_slice_ns, 1_000_000);
        assert_eq!(t1.runq_count, 0);
        assert_eq!(t1.runq_delay_avg_ns, 0);
        let t4 = &s.tasks[2];
        assert_eq!(t4.runq_count, 10);
        assert_eq!(t4.runq_delay_total_ns, 500_000_000);
        assert_eq!(t4.runq_delay_avg_ns, 50_000_000);
        assert_eq!(t4.runq_delay_max_ns, 50_000_000);
        assert!(close(t4.wakeups_per_sec, 20.0));
        assert!(close(t4.switches_voluntary_per_sec, 8.0));
        assert!(close(t4.switches_involuntary_per_sec, 2.0));
        let t3 = &s.tasks[3];
        assert!(close(t3.cpu_fraction, 0.01));
        assert_eq!(t3.runq_delay_total_ns, 2_000_000);
    }

    #[test]
    fn source_missing_before_gives_no_rates_not_since_boot_totals() {
        let a = sample(SEC);
        let mut b = sample(2 * SEC);
        b.procfs.stat = Some(StatRaw {
            total: ticks(100_000, 0, 100_000, 0, 0),
            per_cpu: vec![ticks(100_000, 0, 100_000, 0, 0)],
            ctxt: 10_000_000,
            ..StatRaw::default()
        });
        b.procfs.vmstat = Some(VmstatRaw {
            pgfault: 1 << 40,
            ..VmstatRaw::default()
        });
        b.procfs.diskstats = Some(vec![disk("vda", 0, 1_000_000)]);
        b.bpf = Some(BpfRaw {
            per_cpu: vec![cpu_raw(&[(1000, 1_000_000)], 1_000_000)],
            tasks: vec![task(1, 100_000, 0)],
            ..BpfRaw::default()
        });
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        assert_eq!(s.cpu.nr_cpus, 1);
        assert_eq!(s.cpu.per_cpu, vec![CpuTimes::default()]);
        assert_eq!(s.cpu.context_switches_per_sec, 0.0);
        assert_eq!(s.vm, VmView::default());
        assert!(s.disks.is_empty());
        assert!(s.sched.is_none() && s.tasks.is_empty());
    }

    #[test]
    fn cpu_count_change_keeps_total_but_not_per_cpu() {
        let mut a = sample(SEC);
        a.procfs.stat = Some(StatRaw {
            total: ticks(100, 0, 100, 0, 0),
            per_cpu: vec![ticks(50, 0, 50, 0, 0), ticks(50, 0, 50, 0, 0)],
            ..StatRaw::default()
        });
        let mut b = sample(2 * SEC);
        b.procfs.stat = Some(StatRaw {
            total: ticks(200, 0, 200, 0, 0),
            per_cpu: vec![ticks(100, 0, 100, 0, 0)],
            ..StatRaw::default()
        });
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        assert_eq!(s.cpu.nr_cpus, 1);
        assert_eq!(s.cpu.per_cpu, vec![CpuTimes::default()]);
        assert!(close(s.cpu.total.user, 0.5));
    }

    #[test]
    fn sources_and_events_are_carried() {
        let a = sample(SEC);
        let mut b = sample(2 * SEC);
        b.sources = vec![SourceStatus {
            name: "psi".into(),
            ok: false,
            detail: "gone".into(),
        }];
        b.bpf = Some(BpfRaw {
            events: vec![crate::model::snapshot::LatencyEvent {
                delay_ns: 7,
                ..Default::default()
            }],
            ..BpfRaw::default()
        });
        let s = derive(&a, &b, &DeriveOptions::default()).unwrap();
        assert_eq!(s.sources, b.sources);
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.time_unix_ms, b.time_unix_ms);
        let _ = ProcfsRaw::default();
    }
}
