//! The eBPF collector: loads autosa's kernel programs and reads their maps
//! into [`BpfRaw`] once per interval.
//!
//! Kernel side (crate `autosa-ebpf`, object committed under `autosa/bpf/`):
//! classic tracepoints sched_switch, sched_wakeup, sched_wakeup_new,
//! sched_migrate_task, block_rq_issue, block_rq_complete. Record offsets are
//! read from tracefs at start-up ([`tp_format`], [`layout`]) and written into
//! the object's `.rodata` before load, so no BTF is needed. The map layout is
//! documented in `autosa_common::maps`.
//!
//! Each probe has two programs in the object: one reading the record with
//! direct loads at the offsets current kernels use, and a `_dyn` twin reading
//! it with helper calls at whatever offsets tracefs reports; the loader
//! attaches the direct one when the layout matches (see
//! [`BpfCollector::programs`]).
//!
//! Reading is cheap: one syscall per per-CPU array, one per hash entry, and
//! the ring buffer is drained without blocking (the kernel never wakes us).

pub mod decode;
pub mod error;
pub mod layout;
pub mod loader;
pub mod tp_format;
pub mod tracefs;

use autosa_common::{
    config::{ProbeConfig, RuntimeConfig},
    maps::{self as names, BlockKey, BlockStats, CpuCounters, SchedHists, TaskStats},
};
use aya::maps::{MapData, PerCpuArray, PerCpuHashMap, RingBuf};

pub use error::BpfError;
pub use layout::Tracepoint;
pub use loader::BpfSettings;

use crate::model::bpf_raw::BpfRaw;

/// Whether a process with this tgid exists (a zombie counts: it still holds its pid).
fn process_exists(tgid: u32) -> bool {
    let Ok(pid) = i32::try_from(tgid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        // Alive but not ours to signal; anything but "no such process" keeps the entry.
        Err(e) => e != nix::errno::Errno::ESRCH,
    }
}

/// Upper bound of events taken per read, so a flood cannot stall a tick;
/// what is left stays in the buffer for the next read.
const MAX_EVENTS_PER_READ: usize = 8192;

/// Loaded and attached programs; dropping it detaches them.
pub struct BpfCollector {
    ebpf: aya::Ebpf,
    events: RingBuf<MapData>,
    runtime: RuntimeConfig,
    config: ProbeConfig,
    attached: Vec<Tracepoint>,
    programs: Vec<&'static str>,
    skipped: Vec<(Tracepoint, String)>,
    /// Per-process entries removed because their process exited.
    forgotten: u64,
}

fn missing_map(map: &'static str) -> BpfError {
    BpfError::Map {
        map,
        detail: "missing from the object".into(),
    }
}

fn map_err(map: &'static str) -> impl Fn(aya::maps::MapError) -> BpfError {
    move |e| BpfError::Map {
        map,
        detail: error::chain(&e),
    }
}

impl BpfCollector {
    /// Loads and attaches the programs (needs root or CAP_BPF + CAP_PERFMON).
    pub fn load(settings: &BpfSettings) -> Result<Self, BpfError> {
        let loader::Loaded {
            mut ebpf,
            config,
            attached,
            programs,
            skipped,
        } = loader::load(settings)?;
        let ring = ebpf
            .take_map(names::EVENTS)
            .ok_or_else(|| missing_map(names::EVENTS))?;
        let events = RingBuf::try_from(ring).map_err(map_err(names::EVENTS))?;
        Ok(Self {
            ebpf,
            events,
            runtime: loader::initial_runtime(settings),
            config,
            attached,
            programs,
            skipped,
            forgotten: 0,
        })
    }

    /// Names of the attached programs: `<probe>` reads records with direct
    /// loads, `<probe>_dyn` with helper reads at tracefs offsets.
    pub fn programs(&self) -> &[&'static str] {
        &self.programs
    }

    /// Probes attached, in attach order.
    pub fn attached(&self) -> &[Tracepoint] {
        &self.attached
    }

    /// Optional probes not attached, with the reason.
    pub fn skipped(&self) -> &[(Tracepoint, String)] {
        &self.skipped
    }

    /// The offsets and values the programs were loaded with.
    pub fn probe_config(&self) -> &ProbeConfig {
        &self.config
    }

    /// Changes the ring-buffer threshold without reloading (`u64::MAX`: off).
    pub fn set_event_threshold(&mut self, ns: u64) -> Result<(), BpfError> {
        self.runtime.event_threshold_ns = ns;
        self.write_runtime()
    }

    fn write_runtime(&mut self) -> Result<(), BpfError> {
        loader::write_runtime(&mut self.ebpf, &self.runtime)
    }

    /// Reads every map (cumulative counters), drains the ring buffer and
    /// starts a new epoch for the per-interval maxima.
    pub fn read(&mut self) -> Result<BpfRaw, BpfError> {
        let counters = self.per_cpu_array::<CpuCounters>(names::COUNTERS)?;
        let hists = self.per_cpu_array::<SchedHists>(names::SCHED_HISTS)?;
        let per_cpu = counters
            .iter()
            .zip(hists.iter())
            .map(|(c, h)| decode::cpu_raw(c, h))
            .collect();
        let drops = decode::drops(&counters);

        let mut tasks = Vec::new();
        let mut went_idle = Vec::new();
        {
            let map = self.map(names::TASKS)?;
            let m: PerCpuHashMap<&MapData, u32, TaskStats> =
                PerCpuHashMap::try_from(map).map_err(map_err(names::TASKS))?;
            for entry in m.iter() {
                match entry {
                    Ok((tgid, values)) => {
                        if decode::went_idle_last_interval(&values, self.runtime.epoch) {
                            went_idle.push(tgid);
                        }
                        tasks.push(decode::task_raw(tgid, &values, self.runtime.epoch))
                    }
                    // Evicted between listing and lookup.
                    Err(aya::maps::MapError::KeyNotFound) => {}
                    Err(e) => return Err(map_err(names::TASKS)(e)),
                }
            }
        }
        self.forget_exited(&went_idle)?;
        let mut block = Vec::new();
        {
            let map = self.map(names::BLOCK_STATS)?;
            let m: PerCpuHashMap<&MapData, BlockKey, BlockStats> =
                PerCpuHashMap::try_from(map).map_err(map_err(names::BLOCK_STATS))?;
            for entry in m.iter() {
                let (key, values) = entry.map_err(map_err(names::BLOCK_STATS))?;
                block.push(decode::block_raw(key, &values));
            }
        }
        let block = decode::merge_block(block);

        let mut events = Vec::new();
        while events.len() < MAX_EVENTS_PER_READ {
            let Some(item) = self.events.next() else {
                break;
            };
            if let Some(e) = decode::event(&item) {
                events.push(e);
            }
        }

        // Entries touched between the task read above and this write keep the
        // old epoch: a delay in that window is missing from both intervals'
        // maxima (the sums are unaffected). Microseconds against a 1 s interval.
        self.runtime.epoch += 1;
        self.write_runtime()?;
        Ok(BpfRaw {
            per_cpu,
            tasks,
            block,
            drops,
            events,
        })
    }

    /// Removes the entries of processes that have exited, once their last
    /// counts were read above. Without this the LRU map keeps every process
    /// ever seen until it is full (8,192 entries), and each interval reads
    /// them all. Only entries idle since the last read are checked (a process
    /// switches out on its way to exit, so it is among them exactly once): one
    /// `kill(tgid, 0)` each.
    fn forget_exited(&mut self, went_idle: &[u32]) -> Result<(), BpfError> {
        if went_idle.is_empty() {
            return Ok(());
        }
        let map = self
            .ebpf
            .map_mut(names::TASKS)
            .ok_or_else(|| missing_map(names::TASKS))?;
        let mut m: PerCpuHashMap<&mut MapData, u32, TaskStats> =
            PerCpuHashMap::try_from(map).map_err(map_err(names::TASKS))?;
        for &tgid in went_idle {
            if !process_exists(tgid) {
                match m.remove(&tgid) {
                    Ok(()) => self.forgotten += 1,
                    // Evicted meanwhile: gone either way.
                    Err(aya::maps::MapError::KeyNotFound) => {}
                    Err(aya::maps::MapError::SyscallError(e))
                        if e.io_error.raw_os_error() == Some(libc::ENOENT) => {}
                    Err(e) => return Err(map_err(names::TASKS)(e)),
                }
            }
        }
        Ok(())
    }

    /// Entries removed from the per-process map because their process exited.
    pub fn forgotten_processes(&self) -> u64 {
        self.forgotten
    }

    fn map(&self, name: &'static str) -> Result<&aya::maps::Map, BpfError> {
        self.ebpf.map(name).ok_or_else(|| missing_map(name))
    }

    /// Values of entry 0 of a one-entry per-CPU array, one per possible CPU.
    fn per_cpu_array<T: aya::Pod>(&self, name: &'static str) -> Result<Vec<T>, BpfError> {
        let arr: PerCpuArray<&MapData, T> =
            PerCpuArray::try_from(self.map(name)?).map_err(map_err(name))?;
        let values = arr.get(&0, 0).map_err(map_err(name))?;
        Ok(values.iter().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    /// The daemon reads the collector from a blocking task on another thread.
    #[test]
    fn collector_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<super::BpfCollector>();
    }
}
