//! Block I/O latency: issue to completion, per (device, direction).

use autosa_common::{
    hist::bucket_of,
    maps::{BlockKey, InflightIo, InflightKey, io_op},
};
use aya_ebpf::{bindings::BPF_NOEXIST, helpers::bpf_ktime_get_ns, programs::TracePointContext};

use crate::{
    maps::{AUTOSA_BLOCK_INFLIGHT, AUTOSA_BLOCK_STATS, AUTOSA_BLOCK_STATS_ZERO, counters},
    record::Fields,
    sched::Res,
};

pub fn try_block_rq_issue<F: Fields>(ctx: &TracePointContext) -> Res {
    let key = InflightKey {
        dev: F::issue_dev(ctx)?,
        _pad: 0,
        sector: F::issue_sector(ctx)?,
    };
    let bytes = F::issue_bytes(ctx)?;
    let rwbs = F::issue_rwbs(ctx)?;
    let op = io_op::from_rwbs(rwbs[0], rwbs[1]);
    let v = InflightIo {
        issue_ns: unsafe { bpf_ktime_get_ns() },
        bytes,
        op,
    };
    if AUTOSA_BLOCK_INFLIGHT.insert(key, v, 0).is_err()
        && let Some(c) = counters()
    {
        c.block_map_full += 1;
    }
    Ok(())
}

pub fn try_block_rq_complete<F: Fields>(ctx: &TracePointContext) -> Res {
    let now = unsafe { bpf_ktime_get_ns() };
    let key = InflightKey {
        dev: F::complete_dev(ctx)?,
        _pad: 0,
        sector: F::complete_sector(ctx)?,
    };
    // Issued before the programs were attached, or evicted: nothing to measure.
    let Some(io) = (unsafe { AUTOSA_BLOCK_INFLIGHT.get(key) }).copied() else {
        return Ok(());
    };
    let _ = AUTOSA_BLOCK_INFLIGHT.remove(key);
    if now < io.issue_ns {
        return Ok(());
    }
    let lat = now - io.issue_ns;
    let skey = BlockKey {
        dev: key.dev,
        op: io.op,
    };
    let stats = match AUTOSA_BLOCK_STATS.get_ptr_mut(skey) {
        Some(p) => p,
        None => {
            if AUTOSA_BLOCK_STATS
                .insert(skey, &AUTOSA_BLOCK_STATS_ZERO, BPF_NOEXIST as u64)
                .is_err()
            {
                if let Some(c) = counters() {
                    c.block_map_full += 1;
                }
                return Ok(());
            }
            AUTOSA_BLOCK_STATS.get_ptr_mut(skey).ok_or(-1i64)?
        }
    };
    let s = unsafe { &mut *stats };
    if let Some(b) = s.hist.get_mut(bucket_of(lat)) {
        *b += 1;
    }
    s.sum_ns += lat;
    s.count += 1;
    s.bytes += io.bytes as u64;
    Ok(())
}
