//! Probe configuration shared by both sides.
//!
//! [`ProbeConfig`] is fixed at load time: userspace writes it into the
//! `AUTOSA_PROBE_CONFIG` global (`.rodata`) with `EbpfLoader::override_global`,
//! so the verifier sees constants and the hot path reads no map.
//! [`RuntimeConfig`] lives in the one-entry `AUTOSA_RUNTIME` array map because
//! userspace changes it while the programs run (threshold, epoch).

/// Name of the load-time global holding a [`ProbeConfig`].
pub const PROBE_CONFIG_SYMBOL: &str = "AUTOSA_PROBE_CONFIG";

/// Marks a field the kernel's tracepoint does not have.
pub const NO_FIELD: u32 = u32::MAX;

/// Tracepoint record offsets (bytes from the start of the raw record, as
/// tracefs `format` files give them) and other values fixed at load.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The daemon's own process: its threads are left out of every statistic.
    pub self_tgid: u32,
    /// `sched_switch`: `prev_pid` (pid_t).
    pub switch_prev_pid: u32,
    /// `sched_switch`: `prev_state` (`long` on 64-bit kernels).
    pub switch_prev_state: u32,
    /// Size of `prev_state` in bytes: 4 or 8.
    pub switch_prev_state_size: u32,
    /// `sched_switch`: `next_pid` (pid_t).
    pub switch_next_pid: u32,
    /// `sched_wakeup`: `pid`.
    pub wakeup_pid: u32,
    /// `sched_wakeup_new`: `pid`.
    pub wakeup_new_pid: u32,
    /// `block_rq_issue`: `dev` (dev_t, u32).
    pub issue_dev: u32,
    /// `block_rq_issue`: `sector` (u64).
    pub issue_sector: u32,
    /// `block_rq_issue`: `bytes` (u32), or [`NO_FIELD`] to use `nr_sector * 512`.
    pub issue_bytes: u32,
    /// `block_rq_issue`: `nr_sector` (u32).
    pub issue_nr_sector: u32,
    /// `block_rq_issue`: `rwbs` (char[]), first byte R/W/other.
    pub issue_rwbs: u32,
    /// `block_rq_complete`: `dev`.
    pub complete_dev: u32,
    /// `block_rq_complete`: `sector`.
    pub complete_sector: u32,
    /// A switched-out task is still runnable (preempted) iff
    /// `prev_state & runnable_mask == 0`. 0xff on current kernels (0x100 is
    /// the "preempted" report bit, outside the mask).
    pub runnable_mask: u64,
}

impl ProbeConfig {
    /// The record layout of 64-bit kernels for years (6.18 included): the
    /// kernel side has programs reading exactly these offsets with direct
    /// loads, used when tracefs reports them (see [`ProbeConfig::same_sched_layout`]).
    pub const KNOWN: Self = Self {
        self_tgid: 0,
        switch_prev_pid: 24,
        switch_prev_state: 32,
        switch_prev_state_size: 8,
        switch_next_pid: 56,
        wakeup_pid: 24,
        wakeup_new_pid: 24,
        issue_dev: 8,
        issue_sector: 16,
        issue_bytes: 28,
        issue_nr_sector: 24,
        issue_rwbs: 34,
        complete_dev: 8,
        complete_sector: 16,
        runnable_mask: 0xff,
    };
}

impl ProbeConfig {
    /// Initial value of the global: the known layout, so it is non-zero and
    /// lands in `.rodata`; userspace always overwrites it.
    pub const DEFAULT: Self = Self::KNOWN;

    /// The scheduler fields sit where [`Self::KNOWN`] has them.
    pub const fn same_sched_layout(&self, k: &Self) -> bool {
        self.switch_prev_pid == k.switch_prev_pid
            && self.switch_prev_state == k.switch_prev_state
            && self.switch_prev_state_size == k.switch_prev_state_size
            && self.switch_next_pid == k.switch_next_pid
            && self.wakeup_pid == k.wakeup_pid
            && self.wakeup_new_pid == k.wakeup_new_pid
    }

    /// The block fields sit where [`Self::KNOWN`] has them.
    pub const fn same_block_layout(&self, k: &Self) -> bool {
        self.issue_dev == k.issue_dev
            && self.issue_sector == k.issue_sector
            && self.issue_bytes == k.issue_bytes
            && self.issue_rwbs == k.issue_rwbs
            && self.complete_dev == k.complete_dev
            && self.complete_sector == k.complete_sector
    }
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Values userspace changes while the programs run.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Run-queue delays at or above this many nanoseconds go to the ring buffer.
    /// `u64::MAX` turns events off.
    pub event_threshold_ns: u64,
    /// Interval counter: per-task maxima restart when it changes.
    pub epoch: u64,
}
