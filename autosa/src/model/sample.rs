//! Raw cumulative counters read at one instant: the input of
//! [`super::metrics::derive`].
//!
//! Nothing here is a rate: two samples and the monotonic time between them
//! make one [`super::snapshot::Snapshot`]. A source that could not be read is
//! `None` (or empty) here and explained in `sources`.

use super::bpf_raw::BpfRaw;
use super::snapshot::SourceStatus;

/// Everything read in one tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawSample {
    /// CLOCK_MONOTONIC at the read, nanoseconds; elapsed time comes from here.
    pub monotonic_ns: u64,
    /// Wall clock at the read, milliseconds since the Unix epoch (display only).
    pub time_unix_ms: u64,
    pub procfs: ProcfsRaw,
    /// `None` when the eBPF programs are not loaded.
    pub bpf: Option<BpfRaw>,
    /// One entry per source, in read order.
    pub sources: Vec<SourceStatus>,
}

/// The procfs part of a sample; a field is `None` when its file could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcfsRaw {
    pub stat: Option<StatRaw>,
    pub psi: Option<PsiRaw>,
    pub loadavg: Option<LoadavgRaw>,
    pub vmstat: Option<VmstatRaw>,
    /// Every line of /proc/diskstats (filtering happens in the derivation); `None` when unreadable.
    pub diskstats: Option<Vec<DiskRaw>>,
    pub meminfo: Option<MeminfoRaw>,
}

/// CPU time in USER_HZ ticks since boot (one `cpu` line of /proc/stat).
/// Columns an older kernel does not have are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// Includes guest time, as the kernel counts it.
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTicks {
    /// Sum of all states (guest is already inside user and nice).
    pub fn total(&self) -> u64 {
        self.user
            .saturating_add(self.nice)
            .saturating_add(self.system)
            .saturating_add(self.idle)
            .saturating_add(self.iowait)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
            .saturating_add(self.steal)
    }
}

/// /proc/stat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatRaw {
    /// The aggregate `cpu` line.
    pub total: CpuTicks,
    /// The `cpuN` lines in file order (offline CPUs are absent from the file).
    pub per_cpu: Vec<CpuTicks>,
    /// Context switches since boot.
    pub ctxt: u64,
    /// Forks since boot.
    pub processes: u64,
    pub procs_running: u32,
    pub procs_blocked: u32,
}

/// One `some` or `full` line of a /proc/pressure file.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PsiLineRaw {
    /// Percent, as printed by the kernel.
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    /// Cumulative stall time, microseconds.
    pub total_us: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PsiResourceRaw {
    pub some: PsiLineRaw,
    /// Absent for `cpu` on kernels before 5.13.
    pub full: Option<PsiLineRaw>,
}

/// /proc/pressure/{cpu,io,memory}.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PsiRaw {
    pub cpu: PsiResourceRaw,
    pub io: PsiResourceRaw,
    pub memory: PsiResourceRaw,
}

/// /proc/loadavg.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadavgRaw {
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
    /// Runnable scheduling entities (4th field, before the slash).
    pub runnable: u32,
    /// Scheduling entities that exist (4th field, after the slash).
    pub total_tasks: u32,
}

/// The /proc/vmstat counters autosa uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VmstatRaw {
    pub pgfault: u64,
    pub pgmajfault: u64,
    pub pswpin: u64,
    pub pswpout: u64,
    /// Pages read back soon after reclaim evicted them (file + anon): the
    /// kernel's own thrashing signal. 0 where the kernel lacks the counters.
    pub workingset_refault: u64,
    /// Pages scanned by reclaim (kswapd + direct + khugepaged).
    pub pgscan: u64,
    /// Pages scanned by direct reclaim: allocating tasks reclaiming themselves.
    pub pgscan_direct: u64,
}

/// One line of /proc/diskstats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskRaw {
    pub major: u32,
    pub minor: u32,
    pub name: String,
    /// Reads completed.
    pub reads: u64,
    pub writes: u64,
    /// 512-byte sectors, whatever the device's block size.
    pub sectors_read: u64,
    pub sectors_written: u64,
    /// Requests in flight now (a gauge, not a counter).
    pub in_flight: u64,
    /// Milliseconds with at least one request in flight.
    pub io_ticks_ms: u64,
    /// Milliseconds in flight summed over requests (queue depth × time).
    pub weighted_io_ticks_ms: u64,
}

/// The /proc/meminfo values autosa uses, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeminfoRaw {
    pub total_bytes: u64,
    /// `MemAvailable`, or `MemFree` on kernels without it.
    pub available_bytes: u64,
    pub free_bytes: u64,
    pub cached_bytes: u64,
    pub dirty_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_free_bytes: u64,
}
