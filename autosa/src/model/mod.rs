//! Plain data: what was measured (`sample`, `bpf_raw`), what it means per
//! interval (`snapshot`), and the pure functions between them.

pub mod bpf_raw;
pub mod hist;
pub mod metrics;
pub mod sample;
pub mod snapshot;

pub use snapshot::Snapshot;
