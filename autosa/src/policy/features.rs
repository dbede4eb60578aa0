//! Per-interval features: the numbers the classifier reads, taken from one
//! [`Snapshot`], and the [`Smoother`] that turns a stream of them into EWMAs.
//!
//! Pure: a snapshot in, numbers out. Fields that need eBPF are 0 when
//! `has_sched` is false; the classifier then relies on procfs signals and
//! lowers its confidence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::TaskThresholds;
use crate::model::snapshot::{PsiLine, Snapshot};

/// One process as the features see it (from the eBPF per-process view).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskFeatures {
    pub tgid: u32,
    pub comm: String,
    /// Fraction of one CPU.
    pub cpu_fraction: f64,
    pub wakeups_per_sec: f64,
    pub switches_voluntary_per_sec: f64,
    pub switches_involuntary_per_sec: f64,
    pub avg_slice_ns: f64,
    pub runq_delay_avg_ns: f64,
    /// Time spent runnable but waiting, as a fraction of the interval.
    pub runq_wait_fraction: f64,
}

impl TaskFeatures {
    /// How much CPU the process wanted: time on CPU plus time waiting for
    /// one, as a fraction of one CPU.
    pub fn demand(&self) -> f64 {
        self.cpu_fraction + self.runq_wait_fraction
    }

    /// Share of its switches the task did not choose (preemptions), `None`
    /// when it did not switch at all.
    pub fn involuntary_share(&self) -> Option<f64> {
        let total = self.switches_voluntary_per_sec + self.switches_involuntary_per_sec;
        (total > 0.0).then(|| self.switches_involuntary_per_sec / total)
    }

    pub fn is_hog(&self, t: &TaskThresholds) -> bool {
        self.demand() >= t.hog_min_demand
            && (self
                .involuntary_share()
                .is_some_and(|s| s >= t.hog_min_involuntary_share)
                || self.avg_slice_ns >= t.hog_min_slice_ns as f64)
    }

    pub fn is_latency_sensitive(&self, t: &TaskThresholds) -> bool {
        self.cpu_fraction <= t.latency_max_cpu
            && self.wakeups_per_sec >= t.latency_min_wakeups_per_sec
            && self.avg_slice_ns > 0.0
            && self.avg_slice_ns <= t.latency_max_slice_ns as f64
            && self
                .involuntary_share()
                .is_some_and(|s| 1.0 - s >= t.latency_min_voluntary_share)
    }
}

/// Pressure stall fractions (of the interval, and the kernel's avg10 as a fraction).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PsiFeatures {
    pub cpu_some: f64,
    pub cpu_some_avg10: f64,
    pub io_some: f64,
    pub io_full: f64,
    pub io_some_avg10: f64,
    pub memory_some: f64,
    pub memory_full: f64,
    pub memory_some_avg10: f64,
}

/// Everything the classifier reads about one interval (or its EWMA).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub time_unix_ms: u64,
    pub nr_cpus: u32,
    /// eBPF scheduler view present (run-queue latency, per-process view).
    pub has_sched: bool,
    /// PSI present.
    pub has_psi: bool,

    /// Busy fraction of all CPUs (not idle, not iowait).
    pub cpu_busy: f64,
    pub cpu_user: f64,
    pub cpu_system: f64,
    pub cpu_iowait: f64,
    /// procs_running / nr_cpus.
    pub runnable_per_cpu: f64,
    /// procs_blocked / nr_cpus.
    pub blocked_per_cpu: f64,
    pub procs_blocked: f64,
    pub context_switches_per_sec: f64,

    pub runq_p50_ns: f64,
    pub runq_p90_ns: f64,
    pub runq_p99_ns: f64,
    pub wakeups_per_sec: f64,
    pub switches_voluntary_per_sec: f64,
    pub switches_involuntary_per_sec: f64,
    pub migrations_per_sec: f64,
    pub slice_p50_ns: f64,

    pub psi: PsiFeatures,

    /// Worst per-device p99 block latency (eBPF).
    pub io_p99_ns: f64,
    /// Reads + writes per second over all disks (procfs).
    pub iops: f64,
    /// Busiest disk's utilisation.
    pub disk_utilization: f64,

    /// available / total memory.
    pub memory_available_fraction: f64,
    pub major_faults_per_sec: f64,
    pub swap_in_pages_per_sec: f64,
    pub swap_out_pages_per_sec: f64,
    /// Refaults (evicted pages needed again) per second: thrashing.
    #[serde(default)]
    pub refaults_per_sec: f64,
    /// Direct-reclaim scans per second: allocations stalled on reclaim.
    #[serde(default)]
    pub direct_reclaim_pages_per_sec: f64,

    /// Per-process view, longest CPU time first (empty without eBPF).
    pub tasks: Vec<TaskFeatures>,
}

fn stall(line: &PsiLine) -> f64 {
    line.stall_fraction.clamp(0.0, 1.0)
}

impl Features {
    pub fn from_snapshot(s: &Snapshot) -> Features {
        let nr_cpus = s.cpu.nr_cpus.max(1);
        let per_cpu = |n: f64| n / f64::from(nr_cpus);
        let t = &s.cpu.total;
        let mut f = Features {
            time_unix_ms: s.time_unix_ms,
            nr_cpus: s.cpu.nr_cpus,
            has_sched: s.sched.is_some(),
            has_psi: s.psi.is_some(),
            cpu_busy: t.busy().clamp(0.0, 1.0),
            cpu_user: t.user + t.nice,
            cpu_system: t.system + t.irq + t.softirq,
            cpu_iowait: t.iowait,
            runnable_per_cpu: per_cpu(f64::from(s.load.procs_running)),
            blocked_per_cpu: per_cpu(f64::from(s.load.procs_blocked)),
            procs_blocked: f64::from(s.load.procs_blocked),
            context_switches_per_sec: s.cpu.context_switches_per_sec,
            memory_available_fraction: if s.memory.total_bytes > 0 {
                s.memory.available_bytes as f64 / s.memory.total_bytes as f64
            } else {
                1.0
            },
            major_faults_per_sec: s.vm.major_faults_per_sec,
            swap_in_pages_per_sec: s.vm.swap_in_pages_per_sec,
            swap_out_pages_per_sec: s.vm.swap_out_pages_per_sec,
            refaults_per_sec: s.vm.refaults_per_sec,
            direct_reclaim_pages_per_sec: s.vm.direct_reclaim_pages_per_sec,
            iops: s.disks.iter().map(|d| d.read_iops + d.write_iops).sum(),
            disk_utilization: s.disks.iter().map(|d| d.utilization).fold(0.0, f64::max),
            io_p99_ns: s
                .block_latency
                .iter()
                .filter(|b| b.latency.count > 0)
                .map(|b| b.latency.p99_ns as f64)
                .fold(0.0, f64::max),
            ..Features::default()
        };
        if let Some(p) = &s.psi {
            f.psi = PsiFeatures {
                cpu_some: stall(&p.cpu.some),
                cpu_some_avg10: p.cpu.some.avg10 / 100.0,
                io_some: stall(&p.io.some),
                io_full: p.io.full.as_ref().map_or(0.0, stall),
                io_some_avg10: p.io.some.avg10 / 100.0,
                memory_some: stall(&p.memory.some),
                memory_full: p.memory.full.as_ref().map_or(0.0, stall),
                memory_some_avg10: p.memory.some.avg10 / 100.0,
            };
        }
        if let Some(sched) = &s.sched {
            f.runq_p50_ns = sched.runq_latency.p50_ns as f64;
            f.runq_p90_ns = sched.runq_latency.p90_ns as f64;
            f.runq_p99_ns = sched.runq_latency.p99_ns as f64;
            f.wakeups_per_sec = sched.wakeups_per_sec;
            f.switches_voluntary_per_sec = sched.switches_voluntary_per_sec;
            f.switches_involuntary_per_sec = sched.switches_involuntary_per_sec;
            f.migrations_per_sec = sched.migrations_per_sec;
            f.slice_p50_ns = sched.slice.p50_ns as f64;
            f.tasks = s
                .tasks
                .iter()
                .map(|t| TaskFeatures {
                    tgid: t.tgid,
                    comm: t.comm.clone(),
                    cpu_fraction: t.cpu_fraction,
                    wakeups_per_sec: t.wakeups_per_sec,
                    switches_voluntary_per_sec: t.switches_voluntary_per_sec,
                    switches_involuntary_per_sec: t.switches_involuntary_per_sec,
                    avg_slice_ns: t.avg_slice_ns as f64,
                    runq_delay_avg_ns: t.runq_delay_avg_ns as f64,
                    runq_wait_fraction: if s.interval_ms > 0 {
                        t.runq_delay_total_ns as f64 / (s.interval_ms as f64 * 1e6)
                    } else {
                        0.0
                    },
                })
                .collect();
        }
        f
    }

    /// CPU hogs and latency-sensitive processes by the task thresholds,
    /// each sorted by its key figure (CPU use, wakeups), largest first.
    pub fn task_roles(&self, t: &TaskThresholds) -> TaskRoles {
        let mut hogs: Vec<TaskFeatures> =
            self.tasks.iter().filter(|x| x.is_hog(t)).cloned().collect();
        let mut latency: Vec<TaskFeatures> = self
            .tasks
            .iter()
            .filter(|x| x.is_latency_sensitive(t))
            .cloned()
            .collect();
        hogs.sort_by(|a, b| {
            b.cpu_fraction
                .total_cmp(&a.cpu_fraction)
                .then(a.tgid.cmp(&b.tgid))
        });
        latency.sort_by(|a, b| {
            b.wakeups_per_sec
                .total_cmp(&a.wakeups_per_sec)
                .then(a.tgid.cmp(&b.tgid))
        });
        TaskRoles { hogs, latency }
    }
}

/// The processes that matter to the plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskRoles {
    pub hogs: Vec<TaskFeatures>,
    pub latency: Vec<TaskFeatures>,
}

impl TaskRoles {
    /// CPUs the hogs use together (1.0 = one CPU).
    pub fn hog_cpu(&self) -> f64 {
        self.hogs.iter().map(|t| t.cpu_fraction).sum()
    }

    /// CPUs the hogs want together: CPU time plus run-queue wait.
    pub fn hog_demand(&self) -> f64 {
        self.hogs.iter().map(TaskFeatures::demand).sum()
    }

    pub fn latency_wakeups_per_sec(&self) -> f64 {
        self.latency.iter().map(|t| t.wakeups_per_sec).sum()
    }
}

/// Median-of-3 prefilter, then an EWMA over a window of intervals, fed one
/// snapshot's features at a time.
///
/// The median of the last three raw samples removes any single outlier
/// entirely (a one-second spike of 30 % memory stall would otherwise stay
/// above the memory thresholds for several intervals of EWMA decay); it costs
/// one interval of delay on a real change. The EWMA weight of a new sample is
/// `2 / (window + 1)` (the usual span-to-alpha rule: a window of 5 gives 1/3).
/// The first sample is taken as is, and so is the first after eBPF or PSI
/// appeared or went away (the numbers changed meaning). A process that does
/// not appear in an interval decays towards zero CPU and wakeups (it did not
/// run); one seen for the first time after the start is blended in from zero,
/// so a one-interval burst does not make a hog.
#[derive(Debug, Clone)]
pub struct Smoother {
    alpha: f64,
    median: bool,
    state: Option<Features>,
    /// The last two raw scalar vectors, for the median.
    recent: Vec<[f64; SCALARS]>,
    /// The last two raw process lists, for the median.
    recent_tasks: Vec<Vec<TaskFeatures>>,
    samples: u64,
}

/// Below this the EWMA of a process is forgotten.
const TASK_FORGET_CPU: f64 = 0.005;
const TASK_FORGET_WAKEUPS: f64 = 1.0;

/// Number of scalar features (see [`scalars_mut`]).
const SCALARS: usize = 33;

/// Every scalar feature, in one fixed order: what smoothing applies to.
fn scalars_mut(f: &mut Features) -> [&mut f64; SCALARS] {
    let p = &mut f.psi;
    [
        &mut f.cpu_busy,
        &mut f.cpu_user,
        &mut f.cpu_system,
        &mut f.cpu_iowait,
        &mut f.runnable_per_cpu,
        &mut f.blocked_per_cpu,
        &mut f.procs_blocked,
        &mut f.context_switches_per_sec,
        &mut f.runq_p50_ns,
        &mut f.runq_p90_ns,
        &mut f.runq_p99_ns,
        &mut f.wakeups_per_sec,
        &mut f.switches_voluntary_per_sec,
        &mut f.switches_involuntary_per_sec,
        &mut f.migrations_per_sec,
        &mut f.slice_p50_ns,
        &mut p.cpu_some,
        &mut p.cpu_some_avg10,
        &mut p.io_some,
        &mut p.io_full,
        &mut p.io_some_avg10,
        &mut p.memory_some,
        &mut p.memory_full,
        &mut p.memory_some_avg10,
        &mut f.io_p99_ns,
        &mut f.iops,
        &mut f.disk_utilization,
        &mut f.memory_available_fraction,
        &mut f.major_faults_per_sec,
        &mut f.swap_in_pages_per_sec,
        &mut f.swap_out_pages_per_sec,
        &mut f.refaults_per_sec,
        &mut f.direct_reclaim_pages_per_sec,
    ]
}

fn scalars(f: &Features) -> [f64; SCALARS] {
    let mut copy = f.clone();
    scalars_mut(&mut copy).map(|v| *v)
}

fn median3(a: f64, b: f64, c: f64) -> f64 {
    a.max(b).min(a.min(b).max(c))
}

fn blend(old: &mut f64, new: f64, alpha: f64) {
    *old += alpha * (new - *old);
}

impl Smoother {
    /// `window`: EWMA span in intervals; `median`: the median-of-3 prefilter.
    pub fn new(window: u32, median: bool) -> Smoother {
        Smoother {
            alpha: 2.0 / (f64::from(window.max(1)) + 1.0),
            median,
            state: None,
            recent: Vec::with_capacity(2),
            recent_tasks: Vec::with_capacity(2),
            samples: 0,
        }
    }

    /// Samples fed so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The current EWMA, `None` before the first sample.
    pub fn current(&self) -> Option<&Features> {
        self.state.as_ref()
    }

    /// Feed one interval; returns the smoothed features.
    pub fn push(&mut self, f: &Features) -> &Features {
        self.samples += 1;
        let raw = scalars(f);
        let restart = self
            .state
            .as_ref()
            .is_none_or(|s| s.has_sched != f.has_sched || s.has_psi != f.has_psi);
        if restart {
            self.recent = vec![raw];
            self.recent_tasks = vec![f.tasks.clone()];
            return self.state.insert(f.clone());
        }
        let (filtered, filtered_tasks) = match (
            self.median,
            self.recent.as_slice(),
            self.recent_tasks.as_slice(),
        ) {
            (true, [a, b], [ta, tb]) => (
                std::array::from_fn(|i| median3(a[i], b[i], raw[i])),
                median_tasks(ta, tb, &f.tasks),
            ),
            _ => (raw, f.tasks.clone()),
        };
        if self.recent.len() == 2 {
            self.recent.remove(0);
            self.recent_tasks.remove(0);
        }
        self.recent.push(raw);
        self.recent_tasks.push(f.tasks.clone());

        let a = self.alpha;
        let s = self.state.get_or_insert_with(|| f.clone());
        s.time_unix_ms = f.time_unix_ms;
        s.nr_cpus = f.nr_cpus;
        for (old, new) in scalars_mut(s).into_iter().zip(filtered) {
            blend(old, new, a);
        }
        s.tasks = blend_tasks(&s.tasks, &filtered_tasks, a);
        s
    }
}

/// Per process, the median of three intervals; absent counts as not running
/// (zero rates), so a process seen once is filtered out and one missing once
/// is kept. Per-switch figures take the median of the intervals it ran in.
fn median_tasks(a: &[TaskFeatures], b: &[TaskFeatures], c: &[TaskFeatures]) -> Vec<TaskFeatures> {
    let find = |list: &[TaskFeatures], tgid: u32| list.iter().find(|t| t.tgid == tgid).cloned();
    let mut tgids: Vec<u32> = a.iter().chain(b).chain(c).map(|t| t.tgid).collect();
    tgids.sort_unstable();
    tgids.dedup();
    tgids
        .into_iter()
        .filter_map(|tgid| {
            let seen: Vec<TaskFeatures> = [find(c, tgid), find(b, tgid), find(a, tgid)]
                .into_iter()
                .flatten()
                .collect();
            if seen.len() < 2 {
                return None;
            }
            let rate = |get: fn(&TaskFeatures) -> f64| {
                let v: Vec<f64> = [a, b, c]
                    .iter()
                    .map(|l| find(l, tgid).map_or(0.0, |t| get(&t)))
                    .collect();
                median3(v[0], v[1], v[2])
            };
            let per_switch = |get: fn(&TaskFeatures) -> f64| {
                let v: Vec<f64> = seen.iter().map(get).collect();
                match v.as_slice() {
                    [x, y, z] => median3(*x, *y, *z),
                    [x, y] => (x + y) / 2.0,
                    _ => v[0],
                }
            };
            Some(TaskFeatures {
                tgid,
                comm: seen[0].comm.clone(),
                cpu_fraction: rate(|t| t.cpu_fraction),
                wakeups_per_sec: rate(|t| t.wakeups_per_sec),
                switches_voluntary_per_sec: rate(|t| t.switches_voluntary_per_sec),
                switches_involuntary_per_sec: rate(|t| t.switches_involuntary_per_sec),
                runq_wait_fraction: rate(|t| t.runq_wait_fraction),
                avg_slice_ns: per_switch(|t| t.avg_slice_ns),
                runq_delay_avg_ns: per_switch(|t| t.runq_delay_avg_ns),
            })
        })
        .collect()
}

fn blend_tasks(old: &[TaskFeatures], new: &[TaskFeatures], a: f64) -> Vec<TaskFeatures> {
    let mut by_tgid: BTreeMap<u32, TaskFeatures> =
        old.iter().map(|t| (t.tgid, t.clone())).collect();
    let seen: BTreeMap<u32, &TaskFeatures> = new.iter().map(|t| (t.tgid, t)).collect();
    for (tgid, t) in &seen {
        by_tgid.entry(*tgid).or_insert_with(|| TaskFeatures {
            tgid: *tgid,
            comm: t.comm.clone(),
            // Per-switch figures are not rates: start from the first value seen.
            avg_slice_ns: t.avg_slice_ns,
            runq_delay_avg_ns: t.runq_delay_avg_ns,
            ..TaskFeatures::default()
        });
    }
    let mut out: Vec<TaskFeatures> = by_tgid
        .into_values()
        .filter_map(|mut o| {
            match seen.get(&o.tgid) {
                Some(n) => {
                    o.comm.clone_from(&n.comm);
                    blend(&mut o.cpu_fraction, n.cpu_fraction, a);
                    blend(&mut o.wakeups_per_sec, n.wakeups_per_sec, a);
                    blend(
                        &mut o.switches_voluntary_per_sec,
                        n.switches_voluntary_per_sec,
                        a,
                    );
                    blend(
                        &mut o.switches_involuntary_per_sec,
                        n.switches_involuntary_per_sec,
                        a,
                    );
                    blend(&mut o.runq_wait_fraction, n.runq_wait_fraction, a);
                    blend(&mut o.avg_slice_ns, n.avg_slice_ns, a);
                    blend(&mut o.runq_delay_avg_ns, n.runq_delay_avg_ns, a);
                }
                None => {
                    // Not seen: it did not run. Rates decay; per-switch figures stay.
                    blend(&mut o.cpu_fraction, 0.0, a);
                    blend(&mut o.wakeups_per_sec, 0.0, a);
                    blend(&mut o.switches_voluntary_per_sec, 0.0, a);
                    blend(&mut o.switches_involuntary_per_sec, 0.0, a);
                    blend(&mut o.runq_wait_fraction, 0.0, a);
                }
            }
            (o.cpu_fraction >= TASK_FORGET_CPU || o.wakeups_per_sec >= TASK_FORGET_WAKEUPS)
                .then_some(o)
        })
        .collect();
    out.sort_by(|x, y| {
        y.cpu_fraction
            .total_cmp(&x.cpu_fraction)
            .then(x.tgid.cmp(&y.tgid))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(
        tgid: u32,
        cpu: f64,
        wakeups: f64,
        vol: f64,
        invol: f64,
        slice_ns: f64,
    ) -> TaskFeatures {
        TaskFeatures {
            tgid,
            comm: format!("t{tgid}"),
            cpu_fraction: cpu,
            wakeups_per_sec: wakeups,
            switches_voluntary_per_sec: vol,
            switches_involuntary_per_sec: invol,
            avg_slice_ns: slice_ns,
            runq_delay_avg_ns: 0.0,
            runq_wait_fraction: 0.0,
        }
    }

    #[test]
    fn roles_follow_thresholds() {
        let th = TaskThresholds::default();
        let hog = task(1, 1.0, 0.0, 0.0, 300.0, 3e6);
        let sleeper = task(2, 0.02, 1000.0, 1000.0, 2.0, 20e3);
        let busy_sleeper = task(3, 0.6, 1000.0, 1000.0, 10.0, 600e3);
        assert!(hog.is_hog(&th) && !hog.is_latency_sensitive(&th));
        assert!(sleeper.is_latency_sensitive(&th) && !sleeper.is_hog(&th));
        assert!(!busy_sleeper.is_hog(&th) && !busy_sleeper.is_latency_sensitive(&th));
        // Starved by other load: little CPU, but runnable the rest of the time.
        let starved = TaskFeatures {
            runq_wait_fraction: 0.89,
            ..task(4, 0.11, 0.0, 0.0, 68.0, 1.6e6)
        };
        assert!(starved.is_hog(&th));
        assert!(!task(5, 0.11, 0.0, 0.0, 68.0, 1.6e6).is_hog(&th));
    }

    #[test]
    fn ewma_first_sample_then_blend() {
        let mut sm = Smoother::new(3, false); // alpha 0.5
        let mut f = Features {
            cpu_busy: 1.0,
            ..Features::default()
        };
        assert_eq!(sm.push(&f).cpu_busy, 1.0);
        f.cpu_busy = 0.0;
        assert_eq!(sm.push(&f).cpu_busy, 0.5);
        assert_eq!(sm.push(&f).cpu_busy, 0.25);
        assert_eq!(sm.samples(), 3);
    }

    #[test]
    fn median_removes_a_single_outlier() {
        let mut sm = Smoother::new(3, true);
        let calm = Features::default();
        let spike = Features {
            psi: PsiFeatures {
                memory_some: 0.3,
                ..PsiFeatures::default()
            },
            ..Features::default()
        };
        for f in [&calm, &calm, &spike, &calm, &calm] {
            assert_eq!(sm.push(f).psi.memory_some, 0.0);
        }
        // Two in a row are a change, not an outlier.
        sm.push(&spike);
        assert!(sm.push(&spike).psi.memory_some > 0.1);
    }

    #[test]
    fn median3_is_the_middle() {
        assert_eq!(median3(1.0, 2.0, 3.0), 2.0);
        assert_eq!(median3(3.0, 1.0, 2.0), 2.0);
        assert_eq!(median3(2.0, 3.0, 1.0), 2.0);
        assert_eq!(median3(5.0, 5.0, 0.0), 5.0);
    }

    #[test]
    fn tasks_decay_when_absent_and_new_ones_ramp_in() {
        let mut sm = Smoother::new(3, false);
        let f1 = Features {
            has_sched: true,
            tasks: vec![task(1, 1.0, 0.0, 0.0, 300.0, 3e6)],
            ..Features::default()
        };
        let f2 = Features {
            has_sched: true,
            tasks: vec![task(2, 1.0, 0.0, 0.0, 300.0, 3e6)],
            ..Features::default()
        };
        sm.push(&f1);
        let s = sm.push(&f2);
        let t1 = s.tasks.iter().find(|t| t.tgid == 1).unwrap();
        let t2 = s.tasks.iter().find(|t| t.tgid == 2).unwrap();
        assert_eq!(t1.cpu_fraction, 0.5);
        assert_eq!(t2.cpu_fraction, 0.5);
        assert_eq!(t2.avg_slice_ns, 3e6);
        for _ in 0..20 {
            sm.push(&f2);
        }
        assert!(sm.current().unwrap().tasks.iter().all(|t| t.tgid == 2));
    }
}
