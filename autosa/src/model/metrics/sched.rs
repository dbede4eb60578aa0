//! The eBPF scheduler and block parts of the snapshot.

use std::collections::HashMap;

use autosa_common::hist::BUCKETS;

use super::Elapsed;
use crate::model::bpf_raw::{BlockRaw, BpfRaw, CpuSchedRaw};
use crate::model::hist::{self, counter_delta};
use crate::model::sample::DiskRaw;
use crate::model::snapshot::{BlockLatencyView, CpuSchedView, IoOp, ProbeDrops, SchedView};

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

pub(super) fn sched_view(prev: &BpfRaw, cur: &BpfRaw, el: Elapsed) -> SchedView {
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
pub(super) fn block_views(
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
