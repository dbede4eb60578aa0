//! The target metrics of one interval, taken from its snapshot and the plan:
//! what the regression check compares before and after a switch.

use crate::model::Snapshot;
use crate::policy::plan::Plan;

use super::regression::TargetSample;

/// Latency: the worst run-queue delay of the plan's latency-sensitive
/// processes this interval (the tail they felt; the median over a window then
/// evens out single spikes). Only when the plan names none, the system-wide
/// p99 — never mixed with the hogs' own delays otherwise, which SCHED_IDLE
/// makes longer on purpose.
/// Throughput: CPU time of the plan's hogs (fraction of one CPU, summed),
/// or the busy fraction of all CPUs when it names none.
pub fn target_sample(snapshot: &Snapshot, plan: &Plan) -> TargetSample {
    let e = &plan.eevdf;
    let latency_tasks: Vec<_> = snapshot
        .tasks
        .iter()
        .filter(|t| e.latency_tgids.contains(&t.tgid) && t.runq_count > 0)
        .collect();
    let latency_p99_ns = if !latency_tasks.is_empty() {
        latency_tasks
            .iter()
            .map(|t| t.runq_delay_max_ns as f64)
            .reduce(f64::max)
    } else if e.latency_tgids.is_empty() {
        snapshot
            .sched
            .as_ref()
            .filter(|s| s.runq_latency.count > 0)
            .map(|s| s.runq_latency.p99_ns as f64)
    } else {
        None
    };
    let hogs: Vec<_> = snapshot
        .tasks
        .iter()
        .filter(|t| e.hog_tgids.contains(&t.tgid))
        .collect();
    let throughput = if !hogs.is_empty() {
        Some(hogs.iter().map(|t| t.cpu_fraction).sum())
    } else if e.hog_tgids.is_empty() && snapshot.cpu.nr_cpus > 0 {
        Some(snapshot.cpu.total.busy())
    } else {
        None
    };
    TargetSample {
        latency_p99_ns,
        throughput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::{SchedView, TaskView};
    use crate::policy::plan::{EevdfPlan, HogTreatment, WorkloadClass};

    fn plan(hogs: Vec<u32>, lat: Vec<u32>) -> Plan {
        Plan {
            class: WorkloadClass::Mixed,
            scx: None,
            eevdf: EevdfPlan {
                hogs: HogTreatment::Idle,
                latency_slice_ns: None,
                hog_tgids: hogs,
                latency_tgids: lat,
                global_knobs: vec![],
            },
        }
    }

    fn task(tgid: u32, cpu: f64, runq_count: u64, max_ns: u64) -> TaskView {
        TaskView {
            tgid,
            cpu_fraction: cpu,
            runq_count,
            runq_delay_max_ns: max_ns,
            ..TaskView::default()
        }
    }

    #[test]
    fn named_tasks_first_then_system_wide() {
        let mut snap = Snapshot {
            tasks: vec![
                task(1, 0.9, 10, 9_000_000),
                task(2, 0.8, 10, 8_000_000),
                task(3, 0.01, 50, 40_000),
                task(4, 0.01, 20, 60_000),
            ],
            ..Snapshot::default()
        };
        snap.cpu.nr_cpus = 2;
        snap.cpu.total.user = 0.7;
        let mut sched = SchedView::default();
        sched.runq_latency.count = 100;
        sched.runq_latency.p99_ns = 5_000_000;
        snap.sched = Some(sched);

        let s = target_sample(&snap, &plan(vec![1, 2], vec![3, 4]));
        assert_eq!(s.latency_p99_ns, Some(60_000.0));
        assert!((s.throughput.unwrap() - 1.7).abs() < 1e-9);

        let s = target_sample(&snap, &plan(vec![], vec![]));
        assert_eq!(s.latency_p99_ns, Some(5_000_000.0));
        assert!((s.throughput.unwrap() - 0.7).abs() < 1e-9);

        // Named but not seen this interval: no sample rather than a wrong one.
        let s = target_sample(&snap, &plan(vec![9], vec![8]));
        assert_eq!(s, TargetSample::default());
    }
}
