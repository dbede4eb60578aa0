//! What the policy engine asks for: the contract between `policy` (which fills
//! these types) and `switching`/`backend` (which act on them).

use serde::{Deserialize, Serialize};

/// The kind of workload an interval (smoothed over a window) shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadClass {
    /// Nothing much runs.
    Idle,
    /// Throughput work: CPU hogs, batch jobs, no one waiting on latency.
    CpuBound,
    /// Interactive or request/response: short runs, frequent wakeups.
    LatencySensitive,
    /// Dominated by waiting for block I/O.
    IoBound,
    /// Dominated by memory pressure: reclaim, major faults, swapping.
    MemoryBound,
    /// Latency-sensitive tasks competing with CPU hogs: where scheduling matters most.
    Mixed,
}

impl WorkloadClass {
    pub const ALL: [WorkloadClass; 6] = [
        WorkloadClass::Idle,
        WorkloadClass::CpuBound,
        WorkloadClass::LatencySensitive,
        WorkloadClass::IoBound,
        WorkloadClass::MemoryBound,
        WorkloadClass::Mixed,
    ];

    /// The snake_case name used in JSON, config keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadClass::Idle => "idle",
            WorkloadClass::CpuBound => "cpu_bound",
            WorkloadClass::LatencySensitive => "latency_sensitive",
            WorkloadClass::IoBound => "io_bound",
            WorkloadClass::MemoryBound => "memory_bound",
            WorkloadClass::Mixed => "mixed",
        }
    }
}

impl std::fmt::Display for WorkloadClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sched_ext scheduler and the arguments to start it with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScxChoice {
    /// Binary name, e.g. `scx_lavd`.
    pub scheduler: String,
    /// Its command-line arguments.
    pub args: Vec<String>,
}

/// What to do with the CPU hogs on an EEVDF kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum HogTreatment {
    Leave,
    /// Set this nice value (higher = less CPU share when contended).
    Nice(i32),
    /// SCHED_BATCH: no wakeup preemption, throughput first.
    Batch,
    /// SCHED_IDLE: run only when nothing else wants the CPU.
    Idle,
}

/// Per-task and global EEVDF actions for hosts without sched_ext.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EevdfPlan {
    pub hogs: HogTreatment,
    /// EEVDF slice (`sched_setattr` `sched_runtime`) for latency-sensitive tasks.
    pub latency_slice_ns: Option<u64>,
    /// Processes (tgid) the policy named as CPU hogs this interval.
    pub hog_tgids: Vec<u32>,
    /// Processes (tgid) the policy named as latency-sensitive this interval.
    pub latency_tgids: Vec<u32>,
    /// Global knobs to write where the kernel allows, e.g. ("base_slice_ns", "1500000").
    pub global_knobs: Vec<(String, String)>,
}

/// The scheduler wanted for each kind of backend, for one class.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Plan {
    pub class: WorkloadClass,
    /// `None`: stay on the kernel's default scheduler.
    pub scx: Option<ScxChoice>,
    pub eevdf: EevdfPlan,
}

impl Plan {
    /// Whether applying this plan leaves the machine as the kernel's defaults
    /// have it (no sched_ext scheduler, no per-task or global change): e.g.
    /// the idle, io_bound and memory_bound plans as shipped.
    pub fn changes_nothing(&self) -> bool {
        self.scx.is_none()
            && self.eevdf.hogs == HogTreatment::Leave
            && self.eevdf.latency_slice_ns.is_none()
            && self.eevdf.global_knobs.is_empty()
    }
}
