//! Scheduler tracepoints: run-queue latency, slice length, switch and wakeup
//! counters, per-process statistics.
//!
//! A thread's run-queue wait starts at sched_wakeup/sched_wakeup_new, or at a
//! sched_switch that preempts it, and ends when sched_switch puts it on a CPU.
//! The delay is parked in the CPU's slot and recorded at the thread's
//! switch-out, where `current` is that thread: its tgid is then known without
//! BTF, so the daemon's own threads are left out exactly.

use autosa_common::{
    event::COMM_LEN,
    hist::bucket_of,
    maps::{CpuCounters, CpuSlot, TaskStats, WAKE_SLOTS, WakeStamp, slot_flags, wake_kind},
};
use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_smp_processor_id, bpf_ktime_get_ns,
    },
    programs::TracePointContext,
};

use crate::{
    emit,
    globals::probe_cfg,
    maps::{
        AUTOSA_CPU_SLOT, AUTOSA_SCHED_HISTS, AUTOSA_TASKS, AUTOSA_WAKE_STAMPS, counters, runtime,
    },
    record::Fields,
};

/// Error of a helper or a missing map slot; the programs ignore it.
pub type Res = Result<(), i64>;

/// The wake-stamp slot of a thread (see `autosa_common::maps::WAKE_SLOTS`).
#[inline(always)]
fn slot_of(pid: u32) -> Option<&'static mut WakeStamp> {
    AUTOSA_WAKE_STAMPS
        .get_ptr_mut(pid & (WAKE_SLOTS - 1))
        .map(|p| unsafe { &mut *p })
}

/// Opens a thread's run-queue wait: a store into its slot, no map update.
#[inline(always)]
fn stamp(pid: u32, kind: u32, now: u64) {
    let Some(st) = slot_of(pid) else { return };
    if st.time_ns != 0
        && st.pid != pid
        && let Some(c) = counters()
    {
        // Another thread's open wait shares the slot: its sample is lost.
        c.pid_map_full += 1;
    }
    st.pid = pid;
    st.kind = kind;
    st.time_ns = now;
}

pub fn try_sched_wakeup<F: Fields>(ctx: &TracePointContext) -> Res {
    let pid = F::wakeup_pid(ctx)?;
    if pid != 0 {
        stamp(pid, wake_kind::WAKEUP, unsafe { bpf_ktime_get_ns() });
    }
    Ok(())
}

pub fn try_sched_wakeup_new<F: Fields>(ctx: &TracePointContext) -> Res {
    let pid = F::wakeup_new_pid(ctx)?;
    if pid != 0 {
        stamp(pid, wake_kind::WAKEUP_NEW, unsafe { bpf_ktime_get_ns() });
    }
    if let Some(c) = counters() {
        c.wakeups_new += 1;
    }
    Ok(())
}

#[inline(always)]
pub fn count_migration() {
    if let Some(c) = counters() {
        c.migrations += 1;
    }
}

pub fn try_sched_switch<F: Fields>(ctx: &TracePointContext) -> Res {
    let now = unsafe { bpf_ktime_get_ns() };
    let prev_pid = F::switch_prev_pid(ctx)?;
    let next_pid = F::switch_next_pid(ctx)?;
    let prev_state = F::switch_prev_state(ctx)?;
    let preempted = prev_state & probe_cfg!(runnable_mask) == 0;
    // `current` is still the outgoing thread at this tracepoint.
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let counted = prev_pid != 0 && tgid != probe_cfg!(self_tgid);

    let slot = AUTOSA_CPU_SLOT.get_ptr_mut(0).ok_or(-1i64)?;
    let slot = unsafe { &mut *slot };
    let c = counters().ok_or(-1i64)?;

    if counted {
        switch_out(c, slot, prev_pid, tgid, preempted, now);
    }
    if prev_pid != 0 {
        if preempted {
            if counted {
                stamp(prev_pid, wake_kind::PREEMPTED, now);
            }
        } else if let Some(st) = slot_of(prev_pid)
            && st.pid == prev_pid
        {
            // Going to sleep: a stamp left by a wakeup that came while it
            // still ran is stale; clear it so it is not taken for an open wait.
            st.time_ns = 0;
        }
    }

    // Switch-in of next: close its run-queue wait, if one was open.
    slot.pid = next_pid;
    slot.start_ns = now;
    slot.flags = 0;
    slot.runq_delay_ns = 0;
    if next_pid != 0
        && let Some(st) = slot_of(next_pid)
        && st.pid == next_pid
    {
        if st.time_ns != 0 && now >= st.time_ns {
            slot.runq_delay_ns = now - st.time_ns;
            slot.flags = slot_flags::WAITED
                | if st.kind == wake_kind::WAKEUP {
                    slot_flags::WOKEN
                } else {
                    0
                };
        }
        st.time_ns = 0;
    }
    Ok(())
}

/// Account the thread leaving the CPU: its slice, the run-queue delay it
/// waited before getting this CPU, its process's statistics.
#[inline(always)]
fn switch_out(c: &mut CpuCounters, slot: &CpuSlot, pid: u32, tgid: u32, preempted: bool, now: u64) {
    if preempted {
        c.switches_involuntary += 1;
    } else {
        c.switches_voluntary += 1;
    }
    // The slot describes this thread only if we saw it switch in here
    // (not so for the first switch after the programs were attached).
    let known = slot.pid == pid && slot.start_ns != 0 && now >= slot.start_ns;
    let slice = if known { now - slot.start_ns } else { 0 };
    let waited = known && slot.flags & slot_flags::WAITED != 0;
    let woken = known && slot.flags & slot_flags::WOKEN != 0;
    let delay = slot.runq_delay_ns;

    if let Some(h) = AUTOSA_SCHED_HISTS.get_ptr_mut(0) {
        let h = unsafe { &mut *h };
        if known {
            if let Some(b) = h.slice.get_mut(bucket_of(slice)) {
                *b += 1;
            }
            h.slice_sum_ns += slice;
        }
        if waited {
            if let Some(b) = h.runq.get_mut(bucket_of(delay)) {
                *b += 1;
            }
            h.runq_sum_ns += delay;
        }
    }
    if woken {
        c.wakeups += 1;
    }

    let rt = runtime();
    if waited && delay >= rt.event_threshold_ns {
        // Rare by design: the thread's own name is worth a helper call here.
        let comm = bpf_get_current_comm().unwrap_or([0; COMM_LEN]);
        emit::runq_event(slot.start_ns, delay, pid, tgid, cpu(), &comm);
    }
    let Some(t) = task_entry(c, tgid, rt.epoch) else {
        return;
    };
    if known {
        t.cpu_ns += slice;
        t.switch_ins += 1;
    }
    if waited {
        t.runq_count += 1;
        t.runq_delay_ns += delay;
        if delay > t.runq_max_ns {
            t.runq_max_ns = delay;
        }
    }
    if woken {
        t.wakeups += 1;
    }
    if preempted {
        t.switches_involuntary += 1;
    } else {
        t.switches_voluntary += 1;
    }
}

#[inline(always)]
fn cpu() -> u32 {
    unsafe { bpf_get_smp_processor_id() }
}

/// This CPU's entry for `tgid`, created if needed; the per-epoch maximum and
/// the name are refreshed when the epoch moved on.
#[inline(always)]
fn task_entry(c: &mut CpuCounters, tgid: u32, epoch: u64) -> Option<&'static mut TaskStats> {
    let t = match AUTOSA_TASKS.get_ptr_mut(tgid) {
        Some(p) => unsafe { &mut *p },
        None => {
            let mut zero = TaskStats::default();
            zero.epoch = epoch;
            zero.comm = bpf_get_current_comm().unwrap_or([0; COMM_LEN]);
            if AUTOSA_TASKS.insert(tgid, zero, BPF_NOEXIST as u64).is_err() {
                c.tgid_map_full += 1;
                return None;
            }
            return AUTOSA_TASKS.get_ptr_mut(tgid).map(|p| unsafe { &mut *p });
        }
    };
    if t.epoch != epoch {
        t.epoch = epoch;
        t.runq_max_ns = 0;
        t.comm = bpf_get_current_comm().unwrap_or([0; COMM_LEN]);
    }
    Some(t)
}
