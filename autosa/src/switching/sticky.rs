//! Tasks a plan treated stay treated while that plan is active. Treatment
//! changes the evidence: a hog at nice 19 or SCHED_IDLE gets less CPU and stops
//! looking like a hog, a sleeper with a short slice waits less and stops
//! standing out. Following each interval's list would undo the plan one
//! interval after applying it, then redo it (measured: five per-thread changes
//! in each eight-second window of the benefit bench).

use crate::policy::plan::Plan;

/// At most this many processes per role are remembered (the newest kept).
pub const MAX_REMEMBERED: usize = 1024;

/// `next` (this interval's plan for the active class) plus the processes the
/// active plan already treats. A process named in `next` takes the role
/// `next` gives it.
pub fn keep_treated(active: &Plan, next: &Plan) -> Plan {
    let mut out = next.clone();
    let (a, n) = (&active.eevdf, &next.eevdf);
    for &t in &a.hog_tgids {
        if !n.latency_tgids.contains(&t) && !out.eevdf.hog_tgids.contains(&t) {
            out.eevdf.hog_tgids.push(t);
        }
    }
    for &t in &a.latency_tgids {
        if !n.hog_tgids.contains(&t) && !out.eevdf.latency_tgids.contains(&t) {
            out.eevdf.latency_tgids.push(t);
        }
    }
    out.eevdf.hog_tgids.truncate(MAX_REMEMBERED);
    out.eevdf.latency_tgids.truncate(MAX_REMEMBERED);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::plan::{EevdfPlan, HogTreatment, WorkloadClass};

    fn plan(hogs: &[u32], lat: &[u32]) -> Plan {
        Plan {
            class: WorkloadClass::Mixed,
            scx: None,
            eevdf: EevdfPlan {
                hogs: HogTreatment::Nice(19),
                latency_slice_ns: Some(300_000),
                hog_tgids: hogs.to_vec(),
                latency_tgids: lat.to_vec(),
                global_knobs: vec![],
            },
        }
    }

    #[test]
    fn treated_processes_stay_until_the_plan_changes() {
        // 11 and 12 were niced and dropped out of the hog list; 20's slice
        // made it wait less and it dropped out of the latency list.
        let active = plan(&[10, 11, 12], &[20]);
        let next = plan(&[10, 13], &[]);
        let kept = keep_treated(&active, &next);
        assert_eq!(kept.eevdf.hog_tgids, [10, 13, 11, 12]);
        assert_eq!(kept.eevdf.latency_tgids, [20]);
    }

    #[test]
    fn the_newest_role_wins() {
        let active = plan(&[10], &[20]);
        let next = plan(&[20], &[10]);
        let kept = keep_treated(&active, &next);
        assert_eq!(kept.eevdf.hog_tgids, [20]);
        assert_eq!(kept.eevdf.latency_tgids, [10]);
    }

    #[test]
    fn memory_is_bounded() {
        let many: Vec<u32> = (0..3000).collect();
        let active = plan(&many, &[]);
        let kept = keep_treated(&active, &plan(&[5000], &[]));
        assert_eq!(kept.eevdf.hog_tgids.len(), MAX_REMEMBERED);
        assert_eq!(kept.eevdf.hog_tgids[0], 5000);
    }
}
