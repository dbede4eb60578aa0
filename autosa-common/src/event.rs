//! The rare event the kernel sends through the ring buffer.

/// Bytes of a task name, with the NUL (TASK_COMM_LEN).
pub const COMM_LEN: usize = 16;

/// A run-queue delay at or above the configured threshold.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunqEvent {
    /// CLOCK_MONOTONIC time the task got the CPU (end of the delay).
    pub time_ns: u64,
    pub delay_ns: u64,
    pub pid: u32,
    pub tgid: u32,
    pub cpu: u32,
    pub _pad: u32,
    pub comm: [u8; COMM_LEN],
}

/// Text of a NUL-padded kernel task name, lossy for non-UTF-8 bytes.
#[inline]
pub fn comm_bytes(comm: &[u8; COMM_LEN]) -> &[u8] {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
    &comm[..end]
}
