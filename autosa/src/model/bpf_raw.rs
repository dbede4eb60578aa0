//! Raw cumulative counters read from the eBPF maps at one instant.
//!
//! This is the contract between `collect::bpf` (which fills it) and
//! `model::metrics` (which turns two of them into a [`super::snapshot::SchedView`]).
//! Counters only grow, except when a bounded kernel map evicts an entry; the
//! derivation treats a counter that went backwards as restarted from zero.

use super::snapshot::{IoOp, LatencyEvent};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BpfRaw {
    /// One entry per possible CPU, index = CPU number.
    pub per_cpu: Vec<CpuSchedRaw>,
    /// Per-process totals, one entry per tgid the kernel map holds.
    pub tasks: Vec<TaskRaw>,
    /// Per device and direction.
    pub block: Vec<BlockRaw>,
    pub drops: DropsRaw,
    /// Events drained from the ring buffer since the previous read (not cumulative).
    pub events: Vec<LatencyEvent>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuSchedRaw {
    /// Run-queue latency histogram, `autosa_common::hist::BUCKETS` entries.
    pub runq_hist: Vec<u64>,
    pub runq_sum_ns: u64,
    /// On-CPU time per switch histogram, same buckets.
    pub slice_hist: Vec<u64>,
    pub slice_sum_ns: u64,
    pub switches_voluntary: u64,
    pub switches_involuntary: u64,
    pub wakeups: u64,
    pub wakeups_new: u64,
    pub migrations: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskRaw {
    pub tgid: u32,
    /// Thread name last seen on CPU (userspace may replace it with /proc/<tgid>/comm).
    pub comm: String,
    pub cpu_ns: u64,
    pub switch_ins: u64,
    pub runq_count: u64,
    pub runq_delay_ns: u64,
    /// Largest single delay in the current epoch (the kernel resets it when
    /// userspace advances the epoch, once per interval): not cumulative.
    pub runq_max_ns: u64,
    pub wakeups: u64,
    pub switches_voluntary: u64,
    pub switches_involuntary: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockRaw {
    /// Kernel-internal dev_t: `major << 20 | minor`.
    pub dev: u32,
    pub op: IoOp,
    /// Issue-to-completion latency histogram, `autosa_common::hist::BUCKETS` entries.
    pub hist: Vec<u64>,
    pub sum_ns: u64,
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DropsRaw {
    pub events_lost: u64,
    pub pid_map_full: u64,
    pub tgid_map_full: u64,
    pub block_map_full: u64,
}
