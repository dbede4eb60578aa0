//! The procfs part of the snapshot: CPU split, load, pressure, disks.

use std::collections::HashMap;

use super::Elapsed;
use crate::model::hist::counter_delta;
use crate::model::sample::{CpuTicks, DiskRaw, PsiLineRaw, PsiResourceRaw, RawSample, StatRaw};
use crate::model::snapshot::{CpuTimes, CpuView, DiskView, LoadView, PsiLine, PsiResource};

const SECTOR_BYTES: u64 = 512;

pub(super) fn cpu_view(prev: Option<&StatRaw>, cur: Option<&StatRaw>, el: Elapsed) -> CpuView {
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

pub(super) fn load_view(cur: &RawSample) -> LoadView {
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

pub(super) fn psi_resource(
    prev: Option<&PsiResourceRaw>,
    cur: &PsiResourceRaw,
    el: Elapsed,
) -> PsiResource {
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

pub(super) fn disk_views(prev: &[DiskRaw], cur: &[DiskRaw], el: Elapsed) -> Vec<DiskView> {
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
