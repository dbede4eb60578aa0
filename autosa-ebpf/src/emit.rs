//! Rare events into the ring buffer, never waking the reader: userspace drains
//! it on its own timer, so a burst of slow wakeups costs no extra wakeups.

use autosa_common::event::{COMM_LEN, RunqEvent};
use aya_ebpf::bindings::BPF_RB_NO_WAKEUP;

use crate::maps::{AUTOSA_EVENTS, counters};

#[inline(always)]
pub fn runq_event(
    time_ns: u64,
    delay_ns: u64,
    pid: u32,
    tgid: u32,
    cpu: u32,
    comm: &[u8; COMM_LEN],
) {
    match AUTOSA_EVENTS.reserve::<RunqEvent>(0) {
        Some(mut entry) => {
            entry.write(RunqEvent {
                time_ns,
                delay_ns,
                pid,
                tgid,
                cpu,
                _pad: 0,
                comm: *comm,
            });
            entry.submit(BPF_RB_NO_WAKEUP as u64);
        }
        None => {
            if let Some(c) = counters() {
                c.events_lost += 1;
            }
        }
    }
}
