//! Telemetry sources: procfs, sysfs and the eBPF programs.

pub mod bpf;
pub mod procfs;
pub mod sysfs;
