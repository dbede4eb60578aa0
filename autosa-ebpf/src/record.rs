//! Reading fields of a classic tracepoint's raw record.
//!
//! Two ways, one program each, userspace attaches one of the pair:
//! - [`Known`]: the layout of 64-bit kernels since 4.x (the offsets in
//!   `ProbeConfig::KNOWN`), read with direct context loads at constant
//!   offsets, as bpftrace does: no helper call.
//! - [`FromConfig`]: any layout, offsets from the load-time config, read
//!   with `bpf_probe_read_kernel` (a helper call per field). A context load
//!   needs its offset fixed in the instruction, so offsets known only at load
//!   time cannot use direct loads.

use autosa_common::config::{NO_FIELD, ProbeConfig};
use aya_ebpf::{EbpfContext, programs::TracePointContext};

use crate::globals::probe_cfg;

/// The record fields the programs use.
pub trait Fields {
    fn switch_prev_pid(ctx: &TracePointContext) -> Result<u32, i64>;
    fn switch_prev_state(ctx: &TracePointContext) -> Result<u64, i64>;
    fn switch_next_pid(ctx: &TracePointContext) -> Result<u32, i64>;
    fn wakeup_pid(ctx: &TracePointContext) -> Result<u32, i64>;
    fn wakeup_new_pid(ctx: &TracePointContext) -> Result<u32, i64>;
    fn issue_dev(ctx: &TracePointContext) -> Result<u32, i64>;
    fn issue_sector(ctx: &TracePointContext) -> Result<u64, i64>;
    fn issue_bytes(ctx: &TracePointContext) -> Result<u32, i64>;
    /// First two bytes of `rwbs`.
    fn issue_rwbs(ctx: &TracePointContext) -> Result<[u8; 2], i64>;
    fn complete_dev(ctx: &TracePointContext) -> Result<u32, i64>;
    fn complete_sector(ctx: &TracePointContext) -> Result<u64, i64>;
}

/// A load at a constant offset (a literal or const at every call site).
#[inline(always)]
fn direct<T: Copy>(ctx: &TracePointContext, off: u32) -> Result<T, i64> {
    Ok(
        unsafe {
            core::ptr::read_volatile(ctx.as_ptr().cast::<u8>().add(off as usize).cast::<T>())
        },
    )
}

#[inline(always)]
fn probe<T>(ctx: &TracePointContext, off: u32) -> Result<T, i64> {
    unsafe { ctx.read_at::<T>(off as usize) }.map_err(|e| e as i64)
}

const K: ProbeConfig = ProbeConfig::KNOWN;

pub struct Known;

impl Fields for Known {
    #[inline(always)]
    fn switch_prev_pid(ctx: &TracePointContext) -> Result<u32, i64> {
        direct(ctx, K.switch_prev_pid)
    }
    #[inline(always)]
    fn switch_prev_state(ctx: &TracePointContext) -> Result<u64, i64> {
        direct(ctx, K.switch_prev_state)
    }
    #[inline(always)]
    fn switch_next_pid(ctx: &TracePointContext) -> Result<u32, i64> {
        direct(ctx, K.switch_next_pid)
    }
    #[inline(always)]
    fn wakeup_pid(ctx: &TracePointContext) -> Result<u32, i64> {
        direct(ctx, K.wakeup_pid)
    }
    #[inline(always)]
    fn wakeup_new_pid(ctx: &TracePointContext) -> Result<u32, i64> {
        direct(ctx, K.wakeup_new_pid)
    }
    #[inline(always)]
    fn issue_dev(ctx: &TracePointContext) -> Result<u32, i64> {
        direct(ctx, K.issue_dev)
    }
    #[inline(always)]
    fn issue_sector(ctx: &TracePointContext) -> Result<u64, i64> {
        direct(ctx, K.issue_sector)
    }
    #[inline(always)]
    fn issue_bytes(ctx: &TracePointContext) -> Result<u32, i64> {
        direct(ctx, K.issue_bytes)
    }
    #[inline(always)]
    fn issue_rwbs(ctx: &TracePointContext) -> Result<[u8; 2], i64> {
        Ok([direct(ctx, K.issue_rwbs)?, direct(ctx, K.issue_rwbs + 1)?])
    }
    #[inline(always)]
    fn complete_dev(ctx: &TracePointContext) -> Result<u32, i64> {
        direct(ctx, K.complete_dev)
    }
    #[inline(always)]
    fn complete_sector(ctx: &TracePointContext) -> Result<u64, i64> {
        direct(ctx, K.complete_sector)
    }
}

pub struct FromConfig;

impl Fields for FromConfig {
    #[inline(always)]
    fn switch_prev_pid(ctx: &TracePointContext) -> Result<u32, i64> {
        probe(ctx, probe_cfg!(switch_prev_pid))
    }
    #[inline(always)]
    fn switch_prev_state(ctx: &TracePointContext) -> Result<u64, i64> {
        let off = probe_cfg!(switch_prev_state);
        if probe_cfg!(switch_prev_state_size) == 8 {
            probe(ctx, off)
        } else {
            probe::<u32>(ctx, off).map(u64::from)
        }
    }
    #[inline(always)]
    fn switch_next_pid(ctx: &TracePointContext) -> Result<u32, i64> {
        probe(ctx, probe_cfg!(switch_next_pid))
    }
    #[inline(always)]
    fn wakeup_pid(ctx: &TracePointContext) -> Result<u32, i64> {
        probe(ctx, probe_cfg!(wakeup_pid))
    }
    #[inline(always)]
    fn wakeup_new_pid(ctx: &TracePointContext) -> Result<u32, i64> {
        probe(ctx, probe_cfg!(wakeup_new_pid))
    }
    #[inline(always)]
    fn issue_dev(ctx: &TracePointContext) -> Result<u32, i64> {
        probe(ctx, probe_cfg!(issue_dev))
    }
    #[inline(always)]
    fn issue_sector(ctx: &TracePointContext) -> Result<u64, i64> {
        probe(ctx, probe_cfg!(issue_sector))
    }
    #[inline(always)]
    fn issue_bytes(ctx: &TracePointContext) -> Result<u32, i64> {
        let off = probe_cfg!(issue_bytes);
        if off == NO_FIELD {
            probe::<u32>(ctx, probe_cfg!(issue_nr_sector)).map(|s| s.wrapping_shl(9))
        } else {
            probe(ctx, off)
        }
    }
    #[inline(always)]
    fn issue_rwbs(ctx: &TracePointContext) -> Result<[u8; 2], i64> {
        probe(ctx, probe_cfg!(issue_rwbs))
    }
    #[inline(always)]
    fn complete_dev(ctx: &TracePointContext) -> Result<u32, i64> {
        probe(ctx, probe_cfg!(complete_dev))
    }
    #[inline(always)]
    fn complete_sector(ctx: &TracePointContext) -> Result<u64, i64> {
        probe(ctx, probe_cfg!(complete_sector))
    }
}
