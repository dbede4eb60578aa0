//! Which kind of workload the (smoothed) features show, how sure we are, and why.
//!
//! Each class gets a score in `[0, 1]` built from "signals" (ramps over the
//! thresholds in [`Thresholds`]): CPU saturation, CPU hogs, latency-sensitive
//! wakers, run-queue contention, I/O stall, memory stall. The best score wins.
//!
//! Confidence = best score × (0.4 + 0.6 × margin) × warm-up × data, where
//! margin = (best − second) / best, warm-up = min(1, samples / window) and
//! data = `no_ebpf_confidence` when eBPF is missing: strong, unambiguous,
//! well-observed evidence gives confidence near 1; contradictory signals (two
//! classes scoring alike), few samples or procfs-only data lower it.
//!
//! Stability rule ([`Classifier`]): the features are already filtered (median
//! of 3, which removes any single outlier, then an EWMA); on top of that a new class replaces the current one only after it has been the
//! best for `hold_intervals` consecutive intervals *and* beats the current
//! class's score by `min_margin` (or the current class has lost its evidence,
//! scoring below `min_margin`). One outlier sample therefore never flips the
//! class; a real change takes `hold_intervals` intervals.

use serde::{Deserialize, Serialize};

use super::config::{PolicyConfig, Thresholds};
use super::features::{Features, TaskFeatures, TaskRoles};
use super::plan::WorkloadClass;
use super::reasons::{ns, pct, rate};

/// One score per class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub idle: f64,
    pub cpu_bound: f64,
    pub latency_sensitive: f64,
    pub io_bound: f64,
    pub memory_bound: f64,
    pub mixed: f64,
}

impl ClassScores {
    pub fn get(&self, class: WorkloadClass) -> f64 {
        match class {
            WorkloadClass::Idle => self.idle,
            WorkloadClass::CpuBound => self.cpu_bound,
            WorkloadClass::LatencySensitive => self.latency_sensitive,
            WorkloadClass::IoBound => self.io_bound,
            WorkloadClass::MemoryBound => self.memory_bound,
            WorkloadClass::Mixed => self.mixed,
        }
    }

    /// Classes from best to worst (ties keep [`WorkloadClass::ALL`] order).
    pub fn ranked(&self) -> Vec<(WorkloadClass, f64)> {
        let mut v: Vec<(WorkloadClass, f64)> = WorkloadClass::ALL
            .iter()
            .map(|&c| (c, self.get(c)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }
}

/// The intermediate signals, each in `[0, 1]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// CPU busy and run queues full.
    pub cpu_load: f64,
    /// Saturation by identified hogs (with eBPF) or by load (without).
    pub saturation: f64,
    /// Not busy.
    pub quiet: f64,
    /// Latency-sensitive tasks waking often.
    pub latency: f64,
    /// Lightly loaded enough for latency work to be alone.
    pub light: f64,
    /// Tasks waiting on run queues (p99 run-queue delay).
    pub contention: f64,
    pub io: f64,
    pub memory: f64,
}

/// One process named as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessEvidence {
    pub tgid: u32,
    pub comm: String,
    pub cpu_fraction: f64,
    pub wakeups_per_sec: f64,
    pub avg_slice_ns: u64,
    /// The key figure in words, e.g. "100 % CPU, 3.0 ms slices".
    pub figure: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub hogs: Vec<ProcessEvidence>,
    pub latency_sensitive: Vec<ProcessEvidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub class: WorkloadClass,
    /// In `[0, 1]`.
    pub confidence: f64,
    /// For people, most important first; the first is the headline.
    pub reasons: Vec<String>,
    pub evidence: Evidence,
    pub scores: ClassScores,
    pub signals: Signals,
    /// eBPF data was present (otherwise procfs only).
    pub has_ebpf: bool,
}

/// Signals and scores for one set of features.
pub fn score(f: &Features, cfg: &PolicyConfig) -> (ClassScores, Signals, TaskRoles) {
    let t: &Thresholds = &cfg.thresholds;
    let roles = f.task_roles(&cfg.tasks);
    let nr_cpus = f64::from(f.nr_cpus.max(1));

    let cpu_load =
        t.cpu_busy.at(f.cpu_busy) * (0.6 + 0.4 * t.runnable_per_cpu.at(f.runnable_per_cpu));
    let (saturation, latency, contention) = if f.has_sched {
        (
            cpu_load * t.hog_share.at(roles.hog_demand() / nr_cpus),
            t.latency_wakeups_per_sec
                .at(roles.latency_wakeups_per_sec()),
            t.runq_p99_ns.at(f.runq_p99_ns),
        )
    } else {
        // A synchronous I/O costs about two switches (sleep, wake): switches
        // the block I/O explains are not evidence of latency-sensitive work.
        let unexplained = (f.context_switches_per_sec - 2.0 * f.iops).max(0.0);
        (
            cpu_load,
            t.context_switches_per_cpu.at(unexplained / nr_cpus),
            0.0,
        )
    };
    let io = if f.has_psi {
        t.psi_io_some
            .at(f.psi.io_some)
            .max(t.iowait.at(f.cpu_iowait))
            .max(0.5 * t.blocked_per_cpu.at(f.blocked_per_cpu))
    } else {
        t.iowait
            .at(f.cpu_iowait)
            .max(0.8 * t.blocked_per_cpu.at(f.blocked_per_cpu))
    };
    // Major faults alone can be plain file reads through mmap (that is I/O);
    // they count fully only with stall or shortage evidence.
    // Reclaim comes in bursts (measured here: 0–24 % stall from one second to
    // the next under steady thrash); the kernel's own 10 s average holds the
    // signal between bursts. It also lingers ~10 s after the pressure ends,
    // which is harmless: memory_bound's plan is to change nothing.
    let memory_stall = f.psi.memory_some.max(f.psi.memory_some_avg10);
    let memory = t
        .psi_memory_some
        .at(memory_stall)
        .max(
            t.swap_pages_per_sec
                .at(f.swap_in_pages_per_sec + f.swap_out_pages_per_sec),
        )
        .max(t.memory_used.at(1.0 - f.memory_available_fraction))
        .max(t.refaults_per_sec.at(f.refaults_per_sec))
        .max(
            t.direct_reclaim_pages_per_sec
                .at(f.direct_reclaim_pages_per_sec),
        )
        .max(0.5 * t.major_faults_per_sec.at(f.major_faults_per_sec));
    let quiet = 1.0 - t.idle_busy.at(f.cpu_busy);
    let light = 1.0 - t.latency_busy.at(f.cpu_busy);

    let signals = Signals {
        cpu_load,
        saturation,
        quiet,
        latency,
        light,
        contention,
        io,
        memory,
    };
    let not_mem = 1.0 - memory;
    let scores = ClassScores {
        idle: quiet * (1.0 - latency) * (1.0 - io) * not_mem,
        cpu_bound: saturation * (1.0 - latency) * not_mem * (1.0 - 0.5 * io),
        latency_sensitive: latency * light * (1.0 - io) * not_mem,
        io_bound: io * (1.0 - 0.7 * memory),
        memory_bound: memory,
        // Under a strong I/O stall the frequent wakers are mostly I/O
        // waiters: I/O explains them better than latency-sensitive work.
        mixed: saturation * latency * (0.75 + 0.25 * contention) * not_mem * (1.0 - io),
    };
    (scores, signals, roles)
}

fn confidence(
    class: WorkloadClass,
    scores: &ClassScores,
    samples: u64,
    has_ebpf: bool,
    cfg: &PolicyConfig,
) -> f64 {
    let own = scores.get(class);
    let best_other = WorkloadClass::ALL
        .iter()
        .filter(|&&c| c != class)
        .map(|&c| scores.get(c))
        .fold(0.0, f64::max);
    let margin = if own > 0.0 {
        ((own - best_other) / own).max(0.0)
    } else {
        0.0
    };
    let warm = (samples as f64 / f64::from(cfg.smoothing.window.max(1))).min(1.0);
    let data = if has_ebpf {
        1.0
    } else {
        cfg.smoothing.no_ebpf_confidence
    };
    (own * (0.4 + 0.6 * margin) * warm * data).clamp(0.0, 1.0)
}

fn names(tasks: &[TaskFeatures], max: usize) -> String {
    let mut parts: Vec<String> = tasks
        .iter()
        .take(max)
        .map(|t| format!("{} ({})", t.comm, t.tgid))
        .collect();
    if tasks.len() > max {
        parts.push(format!("+{} more", tasks.len() - max));
    }
    parts.join(", ")
}

/// "1 task", "3 tasks".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn headline(class: WorkloadClass, f: &Features, roles: &TaskRoles) -> String {
    let nr = f.nr_cpus.max(1);
    let cs_per_cpu = f.context_switches_per_sec / f64::from(nr);
    match class {
        WorkloadClass::Idle => format!(
            "CPU busy {}, no I/O or memory pressure, {} context switches/s",
            pct(f.cpu_busy),
            rate(f.context_switches_per_sec)
        ),
        WorkloadClass::CpuBound if f.has_sched && !roles.hogs.is_empty() => format!(
            "{} use {} of {} CPUs ({}) and no task waits for wakeups often",
            count(roles.hogs.len(), "CPU hog", "CPU hogs"),
            pct(roles.hog_cpu() / f64::from(nr)),
            nr,
            names(&roles.hogs, 3)
        ),
        WorkloadClass::CpuBound => format!(
            "CPU busy {} with {:.1} runnable tasks per CPU",
            pct(f.cpu_busy),
            f.runnable_per_cpu
        ),
        WorkloadClass::Mixed if f.has_sched => format!(
            "{} {} waking {}/s while {} use {} CPU",
            if f.runq_p99_ns > 0.0 {
                format!("p99 run-queue delay {} over", ns(f.runq_p99_ns))
            } else {
                "no run-queue latency histogram;".to_string()
            },
            count(roles.latency.len(), "task", "tasks"),
            rate(roles.latency_wakeups_per_sec()),
            count(roles.hogs.len(), "task", "tasks"),
            pct(roles.hog_cpu() / f64::from(nr))
        ),
        WorkloadClass::Mixed => format!(
            "{} context switches/s per CPU while CPU busy {} with {:.1} runnable per CPU: \
             frequent sleepers compete with CPU load",
            rate(cs_per_cpu),
            pct(f.cpu_busy),
            f.runnable_per_cpu
        ),
        WorkloadClass::LatencySensitive if f.has_sched => format!(
            "{} wake {}/s with {} slices ({}); CPU busy {}",
            count(
                roles.latency.len(),
                "latency-sensitive task",
                "latency-sensitive tasks"
            ),
            rate(roles.latency_wakeups_per_sec()),
            ns(mean(roles.latency.iter().map(|t| t.avg_slice_ns))),
            names(&roles.latency, 3),
            pct(f.cpu_busy)
        ),
        WorkloadClass::LatencySensitive => format!(
            "{} context switches/s per CPU at only {} CPU busy: many short sleep/wake cycles",
            rate(cs_per_cpu),
            pct(f.cpu_busy)
        ),
        WorkloadClass::IoBound => {
            let mut s = if f.has_psi {
                format!(
                    "tasks stalled on I/O {} of the time (PSI io some), iowait {}, {} IOPS, {:.1} tasks blocked",
                    pct(f.psi.io_some),
                    pct(f.cpu_iowait),
                    rate(f.iops),
                    f.procs_blocked
                )
            } else {
                format!(
                    "iowait {}, {} IOPS, {:.1} tasks blocked",
                    pct(f.cpu_iowait),
                    rate(f.iops),
                    f.procs_blocked
                )
            };
            if f.io_p99_ns > 0.0 {
                s.push_str(&format!(", p99 I/O latency {}", ns(f.io_p99_ns)));
            }
            s
        }
        WorkloadClass::MemoryBound => format!(
            "memory pressure: {} evicted pages/s needed again (thrashing), tasks stalled on \
             memory {} of the time (PSI memory some), {} major faults/s, {} of memory \
             available, swap {} pages/s",
            rate(f.refaults_per_sec),
            pct(f.psi.memory_some),
            rate(f.major_faults_per_sec),
            pct(f.memory_available_fraction),
            rate(f.swap_in_pages_per_sec + f.swap_out_pages_per_sec)
        ),
    }
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = it.fold((0.0, 0u32), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { sum / f64::from(n) }
}

fn evidence(roles: &TaskRoles) -> Evidence {
    let hog = |t: &TaskFeatures| ProcessEvidence {
        tgid: t.tgid,
        comm: t.comm.clone(),
        cpu_fraction: t.cpu_fraction,
        wakeups_per_sec: t.wakeups_per_sec,
        avg_slice_ns: t.avg_slice_ns as u64,
        figure: format!(
            "{} CPU, preempted {}/s, {} slices",
            pct(t.cpu_fraction),
            rate(t.switches_involuntary_per_sec),
            ns(t.avg_slice_ns)
        ),
    };
    let lat = |t: &TaskFeatures| ProcessEvidence {
        tgid: t.tgid,
        comm: t.comm.clone(),
        cpu_fraction: t.cpu_fraction,
        wakeups_per_sec: t.wakeups_per_sec,
        avg_slice_ns: t.avg_slice_ns as u64,
        figure: format!(
            "wakes {}/s, {} slices, waits {} on average",
            rate(t.wakeups_per_sec),
            ns(t.avg_slice_ns),
            ns(t.runq_delay_avg_ns)
        ),
    };
    Evidence {
        hogs: roles.hogs.iter().map(hog).collect(),
        latency_sensitive: roles.latency.iter().map(lat).collect(),
    }
}

/// The best-scoring class; Idle ("nothing to tune") when no class reaches
/// `thresholds.min_class_score`: weak evidence must not drive a switch.
fn best_class(scores: &ClassScores, cfg: &PolicyConfig) -> WorkloadClass {
    let (best, score) = scores.ranked()[0];
    if score < cfg.thresholds.min_class_score {
        WorkloadClass::Idle
    } else {
        best
    }
}

/// Classify one set of (smoothed) features on its own, without hold-down.
/// `samples` is how many intervals the smoothing has seen.
pub fn classify(f: &Features, samples: u64, cfg: &PolicyConfig) -> Classification {
    let (scores, signals, roles) = score(f, cfg);
    let class = best_class(&scores, cfg);
    build(class, f, samples, cfg, scores, signals, &roles, None)
}

#[allow(clippy::too_many_arguments)]
fn build(
    class: WorkloadClass,
    f: &Features,
    samples: u64,
    cfg: &PolicyConfig,
    scores: ClassScores,
    signals: Signals,
    roles: &TaskRoles,
    held_against: Option<(WorkloadClass, u32)>,
) -> Classification {
    let ranked = scores.ranked();
    let mut reasons = vec![headline(class, f, roles)];
    if class == WorkloadClass::Idle && ranked[0].1 < cfg.thresholds.min_class_score {
        reasons[0] = format!(
            "no class fits clearly (best: {} at {:.2}, below {:.2}): nothing to change; CPU busy {}",
            ranked[0].0,
            ranked[0].1,
            cfg.thresholds.min_class_score,
            pct(f.cpu_busy)
        );
    }
    if let Some((cand, n)) = held_against {
        reasons.push(format!(
            "kept {class}: {cand} scored higher for {n} of the {} intervals needed \
             (score {:.2} vs {:.2}, margin needed {:.2})",
            cfg.smoothing.hold_intervals,
            scores.get(cand),
            scores.get(class),
            cfg.smoothing.min_margin
        ));
    }
    if f.has_sched && f.runq_p99_ns > 0.0 && class != WorkloadClass::Mixed {
        reasons.push(format!(
            "run-queue delay p50 {} / p99 {}, {} wakeups/s",
            ns(f.runq_p50_ns),
            ns(f.runq_p99_ns),
            rate(f.wakeups_per_sec)
        ));
    }
    if let Some(&(other, s)) = ranked.iter().find(|(c, _)| *c != class)
        && s >= 0.3
    {
        reasons.push(format!(
            "also looks {other} (score {s:.2} against {:.2}): confidence lowered",
            scores.get(class)
        ));
    }
    let warm_needed = u64::from(cfg.smoothing.window);
    if samples < warm_needed {
        reasons.push(format!(
            "only {samples} of {warm_needed} intervals seen yet: confidence lowered"
        ));
    }
    if !f.has_sched {
        reasons.push(
            "no eBPF data: classified from procfs only (no run-queue latency, no per-process \
             view), confidence lowered"
                .to_string(),
        );
    }
    Classification {
        class,
        confidence: confidence(class, &scores, samples, f.has_sched, cfg),
        reasons,
        evidence: evidence(roles),
        scores,
        signals,
        has_ebpf: f.has_sched,
    }
}

/// The stateful classifier: [`classify`] plus the hold-down rule.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    current: Option<WorkloadClass>,
    /// A class that beat the current one, and for how many intervals in a row.
    candidate: Option<(WorkloadClass, u32)>,
}

impl Classifier {
    pub fn new() -> Classifier {
        Classifier::default()
    }

    pub fn current(&self) -> Option<WorkloadClass> {
        self.current
    }

    /// Classify the next interval's smoothed features.
    pub fn update(&mut self, f: &Features, samples: u64, cfg: &PolicyConfig) -> Classification {
        let (scores, signals, roles) = score(f, cfg);
        let best = best_class(&scores, cfg);
        let (chosen, held) = match self.current {
            None => (best, None),
            Some(cur) if cur == best => {
                self.candidate = None;
                (cur, None)
            }
            Some(cur) => {
                let n = match self.candidate {
                    Some((c, n)) if c == best => n + 1,
                    _ => 1,
                };
                let lead = scores.get(best) - scores.get(cur);
                let margin = cfg.smoothing.min_margin;
                if n >= cfg.smoothing.hold_intervals && (lead >= margin || scores.get(cur) < margin)
                {
                    self.candidate = None;
                    (best, None)
                } else {
                    self.candidate = Some((best, n));
                    (cur, Some((best, n)))
                }
            }
        };
        self.current = Some(chosen);
        build(chosen, f, samples, cfg, scores, signals, &roles, held)
    }
}
