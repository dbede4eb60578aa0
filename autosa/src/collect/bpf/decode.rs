//! Pure conversions from the kernel's per-CPU map values to [`BpfRaw`] parts.
//! Per-CPU values are summed here; nothing in this module touches a map.

use autosa_common::{
    event::{RunqEvent, comm_bytes},
    maps::{BlockKey, BlockStats, CpuCounters, SchedHists, TaskStats, io_op},
};

use crate::model::{
    bpf_raw::{BlockRaw, CpuSchedRaw, DropsRaw, TaskRaw},
    snapshot::{IoOp, LatencyEvent},
};

/// One CPU's scheduler view from its counters and histograms.
pub fn cpu_raw(c: &CpuCounters, h: &SchedHists) -> CpuSchedRaw {
    CpuSchedRaw {
        runq_hist: h.runq.to_vec(),
        runq_sum_ns: h.runq_sum_ns,
        slice_hist: h.slice.to_vec(),
        slice_sum_ns: h.slice_sum_ns,
        switches_voluntary: c.switches_voluntary,
        switches_involuntary: c.switches_involuntary,
        wakeups: c.wakeups,
        wakeups_new: c.wakeups_new,
        migrations: c.migrations,
    }
}

/// Drop counters summed over CPUs.
pub fn drops(per_cpu: &[CpuCounters]) -> DropsRaw {
    per_cpu.iter().fold(DropsRaw::default(), |d, c| DropsRaw {
        events_lost: d.events_lost.wrapping_add(c.events_lost),
        pid_map_full: d.pid_map_full.wrapping_add(c.pid_map_full),
        tgid_map_full: d.tgid_map_full.wrapping_add(c.tgid_map_full),
        block_map_full: d.block_map_full.wrapping_add(c.block_map_full),
    })
}

/// A process's totals from its per-CPU entries. Only CPUs whose entry was
/// touched during `epoch` contribute to the maximum (the others hold the
/// maximum of an earlier interval). The name comes from the CPU that saw the
/// process most recently, i.e. with the highest epoch.
pub fn task_raw(tgid: u32, per_cpu: &[TaskStats], epoch: u64) -> TaskRaw {
    let mut t = TaskRaw {
        tgid,
        ..TaskRaw::default()
    };
    let mut best: Option<&TaskStats> = None;
    for s in per_cpu {
        t.cpu_ns = t.cpu_ns.wrapping_add(s.cpu_ns);
        t.switch_ins = t.switch_ins.wrapping_add(s.switch_ins);
        t.runq_count = t.runq_count.wrapping_add(s.runq_count);
        t.runq_delay_ns = t.runq_delay_ns.wrapping_add(s.runq_delay_ns);
        t.wakeups = t.wakeups.wrapping_add(s.wakeups);
        t.switches_voluntary = t.switches_voluntary.wrapping_add(s.switches_voluntary);
        t.switches_involuntary = t.switches_involuntary.wrapping_add(s.switches_involuntary);
        if s.epoch == epoch {
            t.runq_max_ns = t.runq_max_ns.max(s.runq_max_ns);
        }
        let named = s.comm[0] != 0;
        if named && best.is_none_or(|b| s.epoch > b.epoch) {
            best = Some(s);
        }
    }
    if let Some(b) = best {
        t.comm = String::from_utf8_lossy(comm_bytes(&b.comm)).into_owned();
    }
    t
}

/// Whether a process's entry was last touched in the interval before the
/// current epoch: it ran then and not since (the kernel stamps each CPU's
/// entry with the epoch at every switch-out). A process that exits is seen so
/// exactly once, on the first read after its last switch-out.
pub fn went_idle_last_interval(per_cpu: &[TaskStats], epoch: u64) -> bool {
    let last = per_cpu.iter().map(|s| s.epoch).max().unwrap_or(0);
    epoch > 0 && last == epoch - 1
}

pub fn io_op_of(op: u32) -> IoOp {
    match op {
        io_op::READ => IoOp::Read,
        io_op::WRITE => IoOp::Write,
        _ => IoOp::Other,
    }
}

/// One (device, op)'s totals from its per-CPU entries.
pub fn block_raw(key: BlockKey, per_cpu: &[BlockStats]) -> BlockRaw {
    let mut hist = vec![0u64; autosa_common::hist::BUCKETS];
    let mut b = BlockRaw {
        dev: key.dev,
        op: io_op_of(key.op),
        ..BlockRaw::default()
    };
    for s in per_cpu {
        for (acc, v) in hist.iter_mut().zip(s.hist.iter()) {
            *acc = acc.wrapping_add(*v);
        }
        b.sum_ns = b.sum_ns.wrapping_add(s.sum_ns);
        b.count = b.count.wrapping_add(s.count);
        b.bytes = b.bytes.wrapping_add(s.bytes);
    }
    b.hist = hist;
    b
}

/// Several (device, op) keys can only differ by op; entries of the same key
/// cannot repeat (hash map), but ops outside R/W fold into `Other`, so merge.
pub fn merge_block(mut blocks: Vec<BlockRaw>) -> Vec<BlockRaw> {
    blocks.sort_by_key(|b| (b.dev, b.op as u8));
    let mut out: Vec<BlockRaw> = Vec::with_capacity(blocks.len());
    for b in blocks {
        match out.last_mut() {
            Some(last) if last.dev == b.dev && last.op == b.op => {
                for (acc, v) in last.hist.iter_mut().zip(b.hist.iter()) {
                    *acc = acc.wrapping_add(*v);
                }
                last.sum_ns = last.sum_ns.wrapping_add(b.sum_ns);
                last.count = last.count.wrapping_add(b.count);
                last.bytes = last.bytes.wrapping_add(b.bytes);
            }
            _ => out.push(b),
        }
    }
    out
}

/// Decodes one ring-buffer record; `None` when it is too short.
pub fn event(bytes: &[u8]) -> Option<LatencyEvent> {
    if bytes.len() < size_of::<RunqEvent>() {
        return None;
    }
    // SAFETY: the length is checked; RunqEvent is plain integers (any bit
    // pattern is valid) and read_unaligned needs no alignment.
    let e: RunqEvent = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    Some(LatencyEvent {
        time_ns: e.time_ns,
        cpu: e.cpu,
        pid: e.pid,
        tgid: e.tgid,
        comm: String::from_utf8_lossy(comm_bytes(&e.comm)).into_owned(),
        delay_ns: e.delay_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use autosa_common::hist::{BUCKETS, bucket_of};

    fn comm(s: &str) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[..s.len()].copy_from_slice(s.as_bytes());
        c
    }

    #[test]
    fn an_entry_went_idle_when_its_newest_cpu_stamp_is_the_previous_epoch() {
        let at = |epochs: &[u64]| -> Vec<TaskStats> {
            epochs
                .iter()
                .map(|&epoch| TaskStats {
                    epoch,
                    ..TaskStats::default()
                })
                .collect()
        };
        // Ran on CPU 1 in epoch 6, nothing since: check it once, at epoch 7.
        assert!(went_idle_last_interval(&at(&[0, 6]), 7));
        // Ran this interval on one CPU: active.
        assert!(!went_idle_last_interval(&at(&[7, 6]), 7));
        // Idle for longer: already checked when it went idle.
        assert!(!went_idle_last_interval(&at(&[5, 0]), 7));
        // Untouched entry and the first epoch: nothing to say.
        assert!(!went_idle_last_interval(&at(&[0, 0]), 0));
        assert!(!went_idle_last_interval(&[], 7));
    }

    #[test]
    fn task_sums_cpus_and_takes_max_of_current_epoch_only() {
        let a = TaskStats {
            cpu_ns: 10,
            switch_ins: 1,
            runq_count: 2,
            runq_delay_ns: 30,
            runq_max_ns: 20,
            epoch: 5,
            wakeups: 1,
            switches_voluntary: 1,
            switches_involuntary: 0,
            comm: comm("old"),
        };
        let b = TaskStats {
            cpu_ns: 5,
            switch_ins: 3,
            runq_count: 1,
            runq_delay_ns: 7,
            runq_max_ns: 7,
            epoch: 6,
            wakeups: 2,
            switches_voluntary: 0,
            switches_involuntary: 4,
            comm: comm("new"),
        };
        let t = task_raw(42, &[a, b, TaskStats::default()], 6);
        assert_eq!(t.tgid, 42);
        assert_eq!(
            (t.cpu_ns, t.switch_ins, t.runq_count, t.runq_delay_ns),
            (15, 4, 3, 37)
        );
        assert_eq!(t.runq_max_ns, 7, "CPU 0's max belongs to epoch 5");
        assert_eq!(
            (t.wakeups, t.switches_voluntary, t.switches_involuntary),
            (3, 1, 4)
        );
        assert_eq!(t.comm, "new");
    }

    #[test]
    fn drops_are_summed() {
        let c = CpuCounters {
            events_lost: 1,
            pid_map_full: 2,
            tgid_map_full: 3,
            block_map_full: 4,
            ..Default::default()
        };
        let d = drops(&[c, c]);
        assert_eq!(
            (
                d.events_lost,
                d.pid_map_full,
                d.tgid_map_full,
                d.block_map_full
            ),
            (2, 4, 6, 8)
        );
    }

    #[test]
    fn cpu_and_block_histograms_keep_their_buckets() {
        let mut h = SchedHists::ZERO;
        h.runq[bucket_of(1500)] = 3;
        h.slice[BUCKETS - 1] = 1;
        let c = CpuCounters {
            switches_voluntary: 9,
            migrations: 2,
            ..Default::default()
        };
        let r = cpu_raw(&c, &h);
        assert_eq!(r.runq_hist.len(), BUCKETS);
        assert_eq!(r.runq_hist[bucket_of(1500)], 3);
        assert_eq!(r.slice_hist[BUCKETS - 1], 1);
        assert_eq!((r.switches_voluntary, r.migrations), (9, 2));

        let mut s = BlockStats::ZERO;
        s.hist[7] = 2;
        s.count = 2;
        s.bytes = 8192;
        s.sum_ns = 100;
        let b = block_raw(
            BlockKey {
                dev: (254 << 20) | 1,
                op: io_op::WRITE,
            },
            &[s, s],
        );
        assert_eq!(
            (b.dev, b.op, b.count, b.bytes, b.sum_ns, b.hist[7]),
            ((254 << 20) | 1, IoOp::Write, 4, 16384, 200, 4)
        );
        let merged = merge_block(vec![
            b.clone(),
            block_raw(BlockKey { dev: 1, op: 7 }, &[s]),
            block_raw(BlockKey { dev: 1, op: 9 }, &[s]),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            (merged[0].dev, merged[0].op, merged[0].count),
            (1, IoOp::Other, 4)
        );
    }

    #[test]
    fn events_decode_and_short_records_are_refused() {
        let e = RunqEvent {
            time_ns: 1,
            delay_ns: 2,
            pid: 3,
            tgid: 4,
            cpu: 1,
            _pad: 0,
            comm: comm("stress-ng"),
        };
        // SAFETY: RunqEvent is plain integers.
        let bytes: &[u8] = unsafe {
            std::slice::from_raw_parts((&e as *const RunqEvent).cast(), size_of::<RunqEvent>())
        };
        let d = event(bytes).unwrap();
        assert_eq!(
            (d.time_ns, d.delay_ns, d.pid, d.tgid, d.cpu),
            (1, 2, 3, 4, 1)
        );
        assert_eq!(d.comm, "stress-ng");
        assert!(event(&bytes[..10]).is_none());
    }
}
