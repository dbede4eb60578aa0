//! autosa's kernel programs: classic tracepoints only, so they load without
//! BTF on any kernel with BPF ring buffers (5.8+). Record offsets come from
//! userspace (see `globals`); the logic lives in `sched` and `block`.
#![no_std]
#![no_main]

mod block;
mod emit;
mod globals;
mod maps;
mod record;
mod sched;

use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use record::{FromConfig, Known};

// Each probe comes twice: `<name>` reads the record with direct loads at the
// offsets of current kernels, `<name>_dyn` with helper reads at the offsets
// tracefs gave; userspace attaches the one that fits (see `record`).

#[tracepoint]
pub fn autosa_sched_switch(ctx: TracePointContext) -> u32 {
    let _ = sched::try_sched_switch::<Known>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_sched_switch_dyn(ctx: TracePointContext) -> u32 {
    let _ = sched::try_sched_switch::<FromConfig>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_sched_wakeup(ctx: TracePointContext) -> u32 {
    let _ = sched::try_sched_wakeup::<Known>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_sched_wakeup_dyn(ctx: TracePointContext) -> u32 {
    let _ = sched::try_sched_wakeup::<FromConfig>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_sched_wakeup_new(ctx: TracePointContext) -> u32 {
    let _ = sched::try_sched_wakeup_new::<Known>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_sched_wakeup_new_dyn(ctx: TracePointContext) -> u32 {
    let _ = sched::try_sched_wakeup_new::<FromConfig>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_block_rq_issue(ctx: TracePointContext) -> u32 {
    let _ = block::try_block_rq_issue::<Known>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_block_rq_issue_dyn(ctx: TracePointContext) -> u32 {
    let _ = block::try_block_rq_issue::<FromConfig>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_block_rq_complete(ctx: TracePointContext) -> u32 {
    let _ = block::try_block_rq_complete::<Known>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_block_rq_complete_dyn(ctx: TracePointContext) -> u32 {
    let _ = block::try_block_rq_complete::<FromConfig>(&ctx);
    0
}

#[tracepoint]
pub fn autosa_sched_migrate_task(_ctx: TracePointContext) -> u32 {
    sched::count_migration();
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
