//! Map definitions; names, sizes and value layouts are in `autosa_common::maps`.

use autosa_common::{
    config::RuntimeConfig,
    maps::{
        BLOCK_INFLIGHT_MAX, BLOCK_STATS_MAX, BlockKey, BlockStats, CpuCounters, CpuSlot,
        EVENTS_BYTES, InflightIo, InflightKey, SchedHists, TASKS_MAX, TaskStats, WAKE_SLOTS,
        WakeStamp,
    },
};
use aya_ebpf::{
    macros::map,
    maps::{Array, LruHashMap, LruPerCpuHashMap, PerCpuArray, PerCpuHashMap, RingBuf},
};

#[map]
pub static AUTOSA_RUNTIME: Array<RuntimeConfig> = Array::with_max_entries(1, 0);

#[map]
pub static AUTOSA_COUNTERS: PerCpuArray<CpuCounters> = PerCpuArray::with_max_entries(1, 0);

#[map]
pub static AUTOSA_SCHED_HISTS: PerCpuArray<SchedHists> = PerCpuArray::with_max_entries(1, 0);

#[map]
pub static AUTOSA_CPU_SLOT: PerCpuArray<CpuSlot> = PerCpuArray::with_max_entries(1, 0);

#[map]
pub static AUTOSA_WAKE_STAMPS: Array<WakeStamp> = Array::with_max_entries(WAKE_SLOTS, 0);

#[map]
pub static AUTOSA_TASKS: LruPerCpuHashMap<u32, TaskStats> =
    LruPerCpuHashMap::with_max_entries(TASKS_MAX, 0);

#[map]
pub static AUTOSA_BLOCK_INFLIGHT: LruHashMap<InflightKey, InflightIo> =
    LruHashMap::with_max_entries(BLOCK_INFLIGHT_MAX, 0);

#[map]
pub static AUTOSA_BLOCK_STATS: PerCpuHashMap<BlockKey, BlockStats> =
    PerCpuHashMap::with_max_entries(BLOCK_STATS_MAX, 0);

#[map]
pub static AUTOSA_EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_BYTES, 0);

/// Zeroed value to create a [`BlockStats`] entry from: too big for the stack.
#[unsafe(no_mangle)]
pub static AUTOSA_BLOCK_STATS_ZERO: BlockStats = BlockStats::ZERO;

/// This CPU's counters; always present (array), `None` only if the map is broken.
#[inline(always)]
pub fn counters() -> Option<&'static mut CpuCounters> {
    AUTOSA_COUNTERS.get_ptr_mut(0).map(|p| unsafe { &mut *p })
}

#[inline(always)]
pub fn runtime() -> RuntimeConfig {
    match AUTOSA_RUNTIME.get(0) {
        Some(r) => *r,
        None => RuntimeConfig {
            event_threshold_ns: u64::MAX,
            epoch: 0,
        },
    }
}
