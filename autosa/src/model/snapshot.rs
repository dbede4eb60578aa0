//! The `Snapshot`: everything autosa knows about one interval, as plain data.
//!
//! It is what `autosa snapshot --json` prints, what `autosa record` stores (one
//! JSON object per line) and what the policy engine reads. Field names are part
//! of the public interface: add fields, never rename them; bump
//! [`SNAPSHOT_VERSION`] when a field changes meaning.
//!
//! Units are in the names: `_ns` nanoseconds, `_bytes` bytes, `_per_sec` rates
//! over the interval, fractions are in `[0, 1]`.

use serde::{Deserialize, Serialize};

/// Version of the snapshot schema written in every snapshot and recording.
pub const SNAPSHOT_VERSION: u32 = 1;

/// One interval of telemetry: procfs counters and, when the eBPF programs are
/// loaded, scheduler and block-latency histograms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// Schema version, [`SNAPSHOT_VERSION`] when written by this build.
    pub version: u32,
    /// Wall-clock end of the interval, milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// Measured length of the interval (monotonic clock), milliseconds.
    pub interval_ms: u64,
    pub cpu: CpuView,
    pub load: LoadView,
    /// Pressure stall information; `None` when the kernel has no PSI.
    pub psi: Option<PsiView>,
    pub memory: MemoryView,
    pub vm: VmView,
    /// Whole disks and partitions from /proc/diskstats (loop and ram devices left out).
    pub disks: Vec<DiskView>,
    /// Scheduler view from eBPF; `None` when the programs are not loaded.
    pub sched: Option<SchedView>,
    /// Block I/O latency per device and direction from eBPF; empty without eBPF.
    pub block_latency: Vec<BlockLatencyView>,
    /// Per-process scheduler view from eBPF (the processes that ran or waited
    /// most this interval), sorted by CPU time, longest first.
    pub tasks: Vec<TaskView>,
    /// Rare events: run-queue delays above the configured threshold.
    pub events: Vec<LatencyEvent>,
    /// What each source delivered this interval.
    pub sources: Vec<SourceStatus>,
}

/// CPU time split, as fractions of the interval (they sum to ~1 per CPU).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuTimes {
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
    pub idle: f64,
}

impl CpuTimes {
    /// Fraction of the interval the CPU did work (not idle, not waiting for I/O).
    pub fn busy(&self) -> f64 {
        self.user + self.nice + self.system + self.irq + self.softirq + self.steal
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuView {
    /// Online CPUs seen in /proc/stat.
    pub nr_cpus: u32,
    /// Average over all CPUs.
    pub total: CpuTimes,
    /// One entry per CPU, in CPU order.
    pub per_cpu: Vec<CpuTimes>,
    pub context_switches_per_sec: f64,
    pub forks_per_sec: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadView {
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
    /// Runnable tasks (/proc/stat procs_running).
    pub procs_running: u32,
    /// Tasks in uninterruptible sleep (/proc/stat procs_blocked).
    pub procs_blocked: u32,
    /// Scheduling entities that exist (/proc/loadavg 4th field, after the slash).
    pub total_tasks: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PsiLine {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    /// Cumulative stall time from the kernel, microseconds.
    pub total_us: u64,
    /// Stall time this interval as a fraction of the interval.
    pub stall_fraction: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PsiResource {
    pub some: PsiLine,
    /// `None` for CPU on kernels that do not report `full` for it.
    pub full: Option<PsiLine>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PsiView {
    pub cpu: PsiResource,
    pub io: PsiResource,
    pub memory: PsiResource,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryView {
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub free_bytes: u64,
    pub cached_bytes: u64,
    pub dirty_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_free_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmView {
    pub page_faults_per_sec: f64,
    pub major_faults_per_sec: f64,
    pub swap_in_pages_per_sec: f64,
    pub swap_out_pages_per_sec: f64,
    /// Evicted pages needed again soon after (thrashing), per second.
    pub refaults_per_sec: f64,
    /// Pages scanned by reclaim per second.
    pub reclaim_scan_pages_per_sec: f64,
    /// Pages scanned by direct reclaim (allocating tasks stalled) per second.
    pub direct_reclaim_pages_per_sec: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskView {
    pub name: String,
    pub read_iops: f64,
    pub write_iops: f64,
    pub read_bytes_per_sec: f64,
    pub write_bytes_per_sec: f64,
    /// Requests in flight at the end of the interval.
    pub in_flight: u64,
    /// Fraction of the interval the device had I/O in flight.
    pub utilization: f64,
    /// Average queue depth over the interval (weighted time in queue / interval).
    pub avg_queue_depth: f64,
}

/// A latency histogram for one interval, with the percentiles read from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencyHistogram {
    /// Events counted this interval.
    pub count: u64,
    /// Sum of all latencies, for the mean.
    pub sum_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    /// Upper bound of the highest non-empty bucket.
    pub max_ns: u64,
    /// Non-empty buckets as `[index, count]` pairs, index ascending; the
    /// bucket bounds are `autosa_common::hist::bucket_lower/upper(index)`.
    pub buckets: Vec<(u32, u64)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedView {
    /// Run-queue latency (wakeup or preemption until the task runs), all CPUs.
    pub runq_latency: LatencyHistogram,
    /// On-CPU time per switch (slice length), all CPUs.
    pub slice: LatencyHistogram,
    pub switches_voluntary_per_sec: f64,
    pub switches_involuntary_per_sec: f64,
    pub wakeups_per_sec: f64,
    pub wakeups_new_per_sec: f64,
    pub migrations_per_sec: f64,
    pub per_cpu: Vec<CpuSchedView>,
    pub drops: ProbeDrops,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuSchedView {
    pub cpu: u32,
    pub runq_count: u64,
    pub runq_p50_ns: u64,
    pub runq_p99_ns: u64,
    pub switches_voluntary: u64,
    pub switches_involuntary: u64,
    pub wakeups: u64,
    pub migrations: u64,
}

/// Things the kernel side could not record this interval (maps full, ring buffer full).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeDrops {
    pub events_lost: u64,
    pub pid_map_full: u64,
    pub tgid_map_full: u64,
    pub block_map_full: u64,
}

impl ProbeDrops {
    /// Adds another interval's drops (running totals).
    pub fn add(&mut self, other: &ProbeDrops) {
        self.events_lost = self.events_lost.saturating_add(other.events_lost);
        self.pid_map_full = self.pid_map_full.saturating_add(other.pid_map_full);
        self.tgid_map_full = self.tgid_map_full.saturating_add(other.tgid_map_full);
        self.block_map_full = self.block_map_full.saturating_add(other.block_map_full);
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoOp {
    #[default]
    Read,
    Write,
    /// Flush, discard and everything else.
    Other,
}

impl IoOp {
    /// The name shown and exported (as serde spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            IoOp::Read => "read",
            IoOp::Write => "write",
            IoOp::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockLatencyView {
    /// `major:minor`.
    pub dev: String,
    /// Device name from /proc/diskstats when known (`vda`, `nvme0n1`).
    pub name: String,
    pub op: IoOp,
    /// Issue-to-completion latency of requests completed this interval.
    pub latency: LatencyHistogram,
    pub requests_per_sec: f64,
    pub bytes_per_sec: f64,
}

/// One process (tgid) as the scheduler saw it this interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskView {
    pub tgid: u32,
    pub comm: String,
    /// CPU time this interval as a fraction of one CPU (2.0 = two CPUs busy).
    pub cpu_fraction: f64,
    /// Times a thread of it was switched in after waiting on a run queue.
    pub runq_count: u64,
    pub runq_delay_total_ns: u64,
    pub runq_delay_max_ns: u64,
    pub runq_delay_avg_ns: u64,
    pub wakeups_per_sec: f64,
    pub switches_voluntary_per_sec: f64,
    pub switches_involuntary_per_sec: f64,
    /// Mean on-CPU time per switch-in.
    pub avg_slice_ns: u64,
}

/// A run-queue delay above the configured threshold, from the ring buffer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencyEvent {
    /// CLOCK_MONOTONIC (boot-relative) time of the event.
    pub time_ns: u64,
    pub cpu: u32,
    pub pid: u32,
    pub tgid: u32,
    pub comm: String,
    pub delay_ns: u64,
}

/// Health of one telemetry source for this interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceStatus {
    /// `stat`, `psi`, `loadavg`, `vmstat`, `diskstats`, `meminfo`, `bpf`.
    pub name: String,
    pub ok: bool,
    /// Why not, when `ok` is false.
    pub detail: String,
}
