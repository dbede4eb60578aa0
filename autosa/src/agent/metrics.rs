//! The latest snapshot summarised for an agent: CPU, pressure, run-queue
//! latency percentiles and the processes that waited longest, with units in
//! the field names (milliseconds, fractions, percent).

use serde::Serialize;

use crate::model::snapshot::{PsiResource, Snapshot, TaskView};

pub(super) fn ms(ns: u64) -> f64 {
    // Three decimals: microsecond resolution is all an agent needs.
    (ns as f64 / 1e6 * 1000.0).round() / 1000.0
}

pub(super) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// For values the kernel gives with two decimals (PSI averages, load) that
/// went through an `f32` on the way.
pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuSummary {
    pub nr_cpus: u32,
    /// Fraction of all CPUs' time doing work.
    pub busy_fraction: f64,
    pub user_fraction: f64,
    pub system_fraction: f64,
    pub iowait_fraction: f64,
    pub steal_fraction: f64,
    pub load1: f64,
    pub procs_running: u32,
    pub procs_blocked: u32,
    pub context_switches_per_sec: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PsiSummary {
    /// The kernel's 10 s averages, percent of time some task stalled.
    pub some_avg10_pct: f64,
    /// Percent of time all non-idle tasks stalled (absent for CPU on some kernels).
    pub full_avg10_pct: Option<f64>,
    /// Fraction of the last interval some task stalled.
    pub some_stall_fraction: f64,
}

impl PsiSummary {
    fn of(r: &PsiResource) -> PsiSummary {
        PsiSummary {
            some_avg10_pct: round2(r.some.avg10),
            full_avg10_pct: r.full.map(|f| round2(f.avg10)),
            some_stall_fraction: round3(r.some.stall_fraction),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PressureSummary {
    pub cpu: PsiSummary,
    pub io: PsiSummary,
    pub memory: PsiSummary,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunqSummary {
    /// Tasks that waited on a run queue this interval.
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingProcess {
    pub tgid: u32,
    pub comm: String,
    /// Time its threads spent runnable but waiting for a CPU this interval.
    pub runq_delay_total_ms: f64,
    pub runq_delay_avg_ms: f64,
    pub runq_delay_max_ms: f64,
    pub runq_count: u64,
    /// CPU time as a fraction of one CPU.
    pub cpu_fraction: f64,
}

/// The latest snapshot, summarised for an agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsSummary {
    pub time_unix_ms: u64,
    pub interval_ms: u64,
    pub cpu: CpuSummary,
    pub memory_available_fraction: f64,
    /// `None`: the kernel has no PSI.
    pub pressure: Option<PressureSummary>,
    /// `None`: the eBPF probes are not loaded (procfs only).
    pub runq_latency: Option<RunqSummary>,
    /// The processes that waited longest on a run queue, longest first.
    pub top_waiting: Vec<WaitingProcess>,
    /// Sources that delivered nothing this interval, with why.
    pub sources_down: Vec<String>,
}

pub fn metrics_summary(s: &Snapshot, top: usize) -> MetricsSummary {
    let t = &s.cpu.total;
    let runq_latency = s.sched.as_ref().map(|sched| {
        let h = &sched.runq_latency;
        RunqSummary {
            count: h.count,
            mean_ms: ms(h.sum_ns.checked_div(h.count).unwrap_or(0)),
            p50_ms: ms(h.p50_ns),
            p90_ms: ms(h.p90_ns),
            p99_ms: ms(h.p99_ns),
            max_ms: ms(h.max_ns),
        }
    });
    let mut waiting: Vec<&TaskView> = s
        .tasks
        .iter()
        .filter(|t| t.runq_delay_total_ns > 0)
        .collect();
    waiting.sort_by(|a, b| {
        b.runq_delay_total_ns
            .cmp(&a.runq_delay_total_ns)
            .then(a.tgid.cmp(&b.tgid))
    });
    let top_waiting = waiting
        .into_iter()
        .take(top)
        .map(|t| WaitingProcess {
            tgid: t.tgid,
            comm: t.comm.clone(),
            runq_delay_total_ms: ms(t.runq_delay_total_ns),
            runq_delay_avg_ms: ms(t.runq_delay_avg_ns),
            runq_delay_max_ms: ms(t.runq_delay_max_ns),
            runq_count: t.runq_count,
            cpu_fraction: round3(t.cpu_fraction),
        })
        .collect();
    MetricsSummary {
        time_unix_ms: s.time_unix_ms,
        interval_ms: s.interval_ms,
        cpu: CpuSummary {
            nr_cpus: s.cpu.nr_cpus,
            busy_fraction: round3(t.busy()),
            user_fraction: round3(t.user + t.nice),
            system_fraction: round3(t.system + t.irq + t.softirq),
            iowait_fraction: round3(t.iowait),
            steal_fraction: round3(t.steal),
            load1: round2(s.load.load1),
            procs_running: s.load.procs_running,
            procs_blocked: s.load.procs_blocked,
            context_switches_per_sec: s.cpu.context_switches_per_sec.round(),
        },
        memory_available_fraction: if s.memory.total_bytes == 0 {
            0.0
        } else {
            round3(s.memory.available_bytes as f64 / s.memory.total_bytes as f64)
        },
        pressure: s.psi.as_ref().map(|p| PressureSummary {
            cpu: PsiSummary::of(&p.cpu),
            io: PsiSummary::of(&p.io),
            memory: PsiSummary::of(&p.memory),
        }),
        runq_latency,
        top_waiting,
        sources_down: s
            .sources
            .iter()
            .filter(|src| !src.ok)
            .map(|src| format!("{}: {}", src.name, src.detail))
            .collect(),
    }
}

pub fn metrics_line(m: &MetricsSummary) -> String {
    let mut line = format!(
        "CPU {:.0}% busy on {} CPUs, {} runnable",
        m.cpu.busy_fraction * 100.0,
        m.cpu.nr_cpus,
        m.cpu.procs_running
    );
    if let Some(p) = &m.pressure {
        line += &format!(
            "; PSI some avg10 cpu {:.1}% io {:.1}% memory {:.1}%",
            p.cpu.some_avg10_pct, p.io.some_avg10_pct, p.memory.some_avg10_pct
        );
    }
    match &m.runq_latency {
        Some(r) => line += &format!("; run-queue wait p50 {} ms, p99 {} ms", r.p50_ms, r.p99_ms),
        None => line += "; no run-queue latency (eBPF not loaded)",
    }
    if let Some(w) = m.top_waiting.first() {
        line += &format!(
            "; waited most: {} (tgid {}) {} ms",
            w.comm, w.tgid, w.runq_delay_total_ms
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::{
        CpuTimes, LatencyHistogram, PsiLine, PsiView, SchedView, SourceStatus,
    };

    fn task(tgid: u32, comm: &str, wait_ns: u64) -> TaskView {
        TaskView {
            tgid,
            comm: comm.into(),
            cpu_fraction: 0.5,
            runq_count: 10,
            runq_delay_total_ns: wait_ns,
            runq_delay_max_ns: wait_ns / 2,
            runq_delay_avg_ns: wait_ns / 10,
            ..TaskView::default()
        }
    }

    #[test]
    fn metrics_keep_the_longest_waiters_and_convert_units() {
        let mut s = Snapshot {
            time_unix_ms: 5,
            interval_ms: 1000,
            ..Snapshot::default()
        };
        s.cpu.nr_cpus = 2;
        s.cpu.total = CpuTimes {
            user: 0.5,
            system: 0.25,
            idle: 0.25,
            ..CpuTimes::default()
        };
        s.load.load1 = f64::from(22.4f32);
        s.memory.total_bytes = 1000;
        s.memory.available_bytes = 250;
        s.psi = Some(PsiView {
            cpu: PsiResource {
                some: PsiLine {
                    avg10: f64::from(12.5f32),
                    stall_fraction: 0.1234,
                    ..PsiLine::default()
                },
                full: None,
            },
            ..PsiView::default()
        });
        s.sched = Some(SchedView {
            runq_latency: LatencyHistogram {
                count: 4,
                sum_ns: 8_000_000,
                p50_ns: 50_000,
                p90_ns: 1_000_000,
                p99_ns: 5_600_000,
                max_ns: 8_388_608,
                buckets: vec![],
            },
            ..SchedView::default()
        });
        s.tasks = vec![
            task(1, "idle-ish", 0),
            task(7, "worker", 3_000_000),
            task(9, "stress-ng", 340_000_000),
            task(3, "shell", 1_000),
        ];
        s.sources = vec![
            SourceStatus {
                name: "stat".into(),
                ok: true,
                detail: String::new(),
            },
            SourceStatus {
                name: "bpf".into(),
                ok: false,
                detail: "not root".into(),
            },
        ];
        let m = metrics_summary(&s, 2);
        assert_eq!(m.cpu.busy_fraction, 0.75);
        assert_eq!(m.memory_available_fraction, 0.25);
        assert_eq!(m.cpu.load1, 22.4, "f32 artefacts rounded away");
        let r = m.runq_latency.as_ref().unwrap();
        assert_eq!((r.mean_ms, r.p50_ms, r.p99_ms), (2.0, 0.05, 5.6));
        assert_eq!(r.max_ms, 8.389);
        let names: Vec<&str> = m.top_waiting.iter().map(|w| w.comm.as_str()).collect();
        assert_eq!(names, ["stress-ng", "worker"]);
        assert_eq!(m.top_waiting[0].runq_delay_total_ms, 340.0);
        assert_eq!(m.sources_down, ["bpf: not root"]);
        let p = m.pressure.as_ref().unwrap();
        assert_eq!(
            (p.cpu.some_avg10_pct, p.cpu.some_stall_fraction),
            (12.5, 0.123)
        );
        assert_eq!(
            metrics_line(&m),
            "CPU 75% busy on 2 CPUs, 0 runnable; PSI some avg10 cpu 12.5% io 0.0% memory 0.0%; \
             run-queue wait p50 0.05 ms, p99 5.6 ms; waited most: stress-ng (tgid 9) 340 ms"
        );
    }

    #[test]
    fn metrics_without_ebpf_or_psi_say_so() {
        let m = metrics_summary(&Snapshot::default(), 5);
        assert!(m.runq_latency.is_none() && m.pressure.is_none());
        assert!(m.top_waiting.is_empty());
        assert_eq!(m.memory_available_fraction, 0.0);
        assert!(metrics_line(&m).ends_with("no run-queue latency (eBPF not loaded)"));
    }
}
