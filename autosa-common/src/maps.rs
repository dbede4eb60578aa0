//! Map names, sizes and value layouts: the one description both sides use.
//!
//! | map | kind | key | value | written | read by userspace |
//! |---|---|---|---|---|---|
//! | [`RUNTIME`] | Array, 1 entry | 0 | [`RuntimeConfig`](crate::config::RuntimeConfig) | userspace | — |
//! | [`COUNTERS`] | PerCpuArray, 1 entry | 0 | [`CpuCounters`] | every program | summed per CPU |
//! | [`SCHED_HISTS`] | PerCpuArray, 1 entry | 0 | [`SchedHists`] | sched_switch | kept per CPU |
//! | [`WAKE_STAMPS`] | Array, [`WAKE_SLOTS`] | `pid % WAKE_SLOTS` | [`WakeStamp`] (`time_ns` 0 = consumed) | wakeup, wakeup_new, switch | — |
//! | [`CPU_SLOT`] | PerCpuArray, 1 entry | 0 | [`CpuSlot`] | sched_switch | — |
//! | [`TASKS`] | LruPerCpuHash | tgid `u32` | [`TaskStats`] | sched_switch | summed over CPUs |
//! | [`BLOCK_INFLIGHT`] | LruHash | [`InflightKey`] | [`InflightIo`] | block_rq_issue | — |
//! | [`BLOCK_STATS`] | PerCpuHash | [`BlockKey`] | [`BlockStats`] | block_rq_complete | summed over CPUs |
//! | [`EVENTS`] | RingBuf | — | [`RunqEvent`](crate::event::RunqEvent) | sched_switch | drained each interval |
//!
//! Per-CPU maps keep the hot path free of atomics: each CPU only touches its
//! own copy and userspace adds the copies up.

use crate::event::COMM_LEN;
use crate::hist::BUCKETS;

pub const RUNTIME: &str = "AUTOSA_RUNTIME";
pub const COUNTERS: &str = "AUTOSA_COUNTERS";
pub const SCHED_HISTS: &str = "AUTOSA_SCHED_HISTS";
pub const WAKE_STAMPS: &str = "AUTOSA_WAKE_STAMPS";
pub const CPU_SLOT: &str = "AUTOSA_CPU_SLOT";
pub const TASKS: &str = "AUTOSA_TASKS";
pub const BLOCK_INFLIGHT: &str = "AUTOSA_BLOCK_INFLIGHT";
pub const BLOCK_STATS: &str = "AUTOSA_BLOCK_STATS";
pub const EVENTS: &str = "AUTOSA_EVENTS";

/// Slots of the wake-stamp table, a direct-mapped cache indexed by
/// `pid % WAKE_SLOTS` (power of two). An array lookup is a few inlined
/// instructions where a hash lookup hashes and walks a bucket: this is the
/// hottest map. Two threads whose pids share a slot and wait at the same
/// time lose one sample (counted in `pid_map_full`); with 65536 slots and
/// hundreds of runnable threads that is rare. 1 MiB.
pub const WAKE_SLOTS: u32 = 1 << 16;
/// Processes tracked at once (LRU: the least recently run one is evicted).
pub const TASKS_MAX: u32 = 8192;
/// Block requests in flight at once, all devices.
pub const BLOCK_INFLIGHT_MAX: u32 = 16384;
/// (device, op) pairs.
pub const BLOCK_STATS_MAX: u32 = 256;
/// Ring buffer size in bytes (power of two, multiple of the page size).
pub const EVENTS_BYTES: u32 = 256 * 1024;

/// Per-CPU counters, all cumulative.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuCounters {
    /// The outgoing task went to sleep (its state was not runnable).
    pub switches_voluntary: u64,
    /// The outgoing task was preempted (still runnable).
    pub switches_involuntary: u64,
    /// Switch-ins of a task that had been woken (sched_wakeup).
    pub wakeups: u64,
    /// sched_wakeup_new (new tasks), counted where the wakeup ran.
    pub wakeups_new: u64,
    /// sched_migrate_task, counted where the migration ran.
    pub migrations: u64,
    /// Open run-queue waits overwritten by another thread sharing their
    /// wake-stamp slot (see [`WAKE_SLOTS`]): samples lost.
    pub pid_map_full: u64,
    /// Per-process entries that could not be created (LRU too; an evicted
    /// process restarts from zero, which the metrics treat as a reset).
    pub tgid_map_full: u64,
    /// In-flight block requests or (dev, op) entries that could not be stored.
    pub block_map_full: u64,
    /// Ring-buffer events dropped because the buffer was full.
    pub events_lost: u64,
}

/// Run-queue latency and slice-length histograms of one CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedHists {
    /// Wakeup or preemption until switch-in, [`crate::hist::bucket_of`] buckets.
    pub runq: [u64; BUCKETS],
    pub runq_sum_ns: u64,
    /// Switch-in until switch-out.
    pub slice: [u64; BUCKETS],
    pub slice_sum_ns: u64,
}

impl SchedHists {
    pub const ZERO: Self = Self {
        runq: [0; BUCKETS],
        runq_sum_ns: 0,
        slice: [0; BUCKETS],
        slice_sum_ns: 0,
    };
}

/// How a task got onto a run queue.
pub mod wake_kind {
    /// Preempted while runnable (involuntary switch).
    pub const PREEMPTED: u32 = 0;
    /// sched_wakeup.
    pub const WAKEUP: u32 = 1;
    /// sched_wakeup_new.
    pub const WAKEUP_NEW: u32 = 2;
}

/// When a thread was put on a run queue, and why.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WakeStamp {
    /// 0 when no wait is open in this slot.
    pub time_ns: u64,
    /// The thread the slot holds now.
    pub pid: u32,
    /// One of [`wake_kind`].
    pub kind: u32,
}

/// Flags of [`CpuSlot::flags`].
pub mod slot_flags {
    /// The task on CPU waited on a run queue; `runq_delay_ns` is valid.
    pub const WAITED: u32 = 1;
    /// It was woken by sched_wakeup.
    pub const WOKEN: u32 = 2;
}

/// What is on a CPU now. The run-queue delay measured at switch-in is held
/// here until switch-out, when `bpf_get_current_pid_tgid()` names the task's
/// process (no BTF needed) and the daemon's own threads can be left out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuSlot {
    pub start_ns: u64,
    pub runq_delay_ns: u64,
    pub pid: u32,
    pub flags: u32,
}

/// One process, one CPU's share; userspace sums the CPUs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskStats {
    pub cpu_ns: u64,
    pub switch_ins: u64,
    pub runq_count: u64,
    pub runq_delay_ns: u64,
    /// Largest delay while `epoch` was current.
    pub runq_max_ns: u64,
    pub epoch: u64,
    pub wakeups: u64,
    pub switches_voluntary: u64,
    pub switches_involuntary: u64,
    /// Name of the thread last switched out (refreshed once per epoch).
    pub comm: [u8; COMM_LEN],
}

/// Key of an in-flight block request.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InflightKey {
    pub dev: u32,
    pub _pad: u32,
    pub sector: u64,
}

/// Block I/O direction as stored in [`BlockKey::op`].
pub mod io_op {
    pub const READ: u32 = 0;
    pub const WRITE: u32 = 1;
    pub const OTHER: u32 = 2;

    /// From the first two bytes of the tracepoint's `rwbs` string: the op
    /// letter, after a leading `F` when the request also carries a preflush
    /// (`FWS` is a write, `F` alone or `FF` a flush).
    #[inline(always)]
    pub const fn from_rwbs(b0: u8, b1: u8) -> u32 {
        let op = if b0 == b'F' { b1 } else { b0 };
        match op {
            b'R' => READ,
            b'W' => WRITE,
            _ => OTHER,
        }
    }
}

/// A block request between issue and completion.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InflightIo {
    pub issue_ns: u64,
    pub bytes: u32,
    pub op: u32,
}

/// Device and direction of completed block requests.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockKey {
    /// Kernel dev_t: `major << 20 | minor`.
    pub dev: u32,
    /// One of [`io_op`].
    pub op: u32,
}

/// Completed requests of one (device, op), one CPU's share.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockStats {
    pub hist: [u64; BUCKETS],
    pub sum_ns: u64,
    pub count: u64,
    pub bytes: u64,
}

impl BlockStats {
    pub const ZERO: Self = Self {
        hist: [0; BUCKETS],
        sum_ns: 0,
        count: 0,
        bytes: 0,
    };
}

#[cfg(test)]
mod tests {
    use super::io_op::*;

    #[test]
    fn rwbs_op_letter_skips_a_preflush() {
        assert_eq!(from_rwbs(b'R', b'A'), READ);
        assert_eq!(from_rwbs(b'W', b'S'), WRITE);
        assert_eq!(from_rwbs(b'F', b'W'), WRITE);
        assert_eq!(from_rwbs(b'F', b'R'), READ);
        assert_eq!(from_rwbs(b'F', 0), OTHER);
        assert_eq!(from_rwbs(b'F', b'F'), OTHER);
        assert_eq!(from_rwbs(b'D', 0), OTHER);
        assert_eq!(from_rwbs(b'N', 0), OTHER);
    }
}
