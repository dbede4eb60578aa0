//! Per-process deltas and the choice of which processes to show.

use std::collections::HashMap;

use super::Elapsed;
use crate::model::bpf_raw::TaskRaw;
use crate::model::hist::counter_delta;
use crate::model::snapshot::TaskView;

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

pub(super) fn task_views(
    prev: &[TaskRaw],
    cur: &[TaskRaw],
    el: Elapsed,
    top: usize,
) -> Vec<TaskView> {
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
