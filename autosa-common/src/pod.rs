//! `aya::Pod` for every type that crosses a map boundary (userspace only).

use crate::config::{ProbeConfig, RuntimeConfig};
use crate::event::RunqEvent;
use crate::maps::{BlockKey, BlockStats, CpuCounters, SchedHists, TaskStats};

// SAFETY: all of these are #[repr(C)], made of integers only, with explicit
// padding fields, so every bit pattern is valid and there are no holes.
unsafe impl aya::Pod for ProbeConfig {}
unsafe impl aya::Pod for RuntimeConfig {}
unsafe impl aya::Pod for RunqEvent {}
unsafe impl aya::Pod for CpuCounters {}
unsafe impl aya::Pod for SchedHists {}
unsafe impl aya::Pod for TaskStats {}
unsafe impl aya::Pod for BlockKey {}
unsafe impl aya::Pod for BlockStats {}
