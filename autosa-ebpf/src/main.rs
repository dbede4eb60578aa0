//! autosa's kernel programs: classic tracepoints only, so they load without
//! BTF on any kernel with BPF ring buffers (5.8+). Record offsets come from
//! userspace (see `globals`); the logic lives in `sched` and `block`.
#![no_std]
#![no_main]

mod block;
mod emit;
mod globals;
mod maps;
mod sched;

use aya_ebpf::{macros::tracepoint, programs::TracePointContext};

#[tracepoint]
pub fn autosa_sched_switch(ctx: TracePointContext) -> u32 {
    let _ = sched::try_sched_switch(&ctx);
    0
}

#[tracepoint]
pub fn autosa_sched_wakeup(ctx: TracePointContext) -> u32 {
    let _ = sched::try_sched_wakeup(&ctx);
    0
}

#[tracepoint]
pub fn autosa_sched_wakeup_new(ctx: TracePointContext) -> u32 {
    let _ = sched::try_sched_wakeup_new(&ctx);
    0
}

#[tracepoint]
pub fn autosa_sched_migrate_task(_ctx: TracePointContext) -> u32 {
    sched::count_migration();
    0
}

#[tracepoint]
pub fn autosa_block_rq_issue(ctx: TracePointContext) -> u32 {
    let _ = block::try_block_rq_issue(&ctx);
    0
}

#[tracepoint]
pub fn autosa_block_rq_complete(ctx: TracePointContext) -> u32 {
    let _ = block::try_block_rq_complete(&ctx);
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
