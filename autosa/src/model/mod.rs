//! Plain data: what was measured (`sample`, `bpf_raw`), what it means per
//! interval (`snapshot`), and the pure functions between them.

pub mod bpf_raw;
pub mod hist;
pub mod metrics;
pub mod sample;
pub mod snapshot;

pub use snapshot::Snapshot;

/// Wall-clock time in Unix milliseconds, the unit of every timestamp autosa
/// stores and shows (0 on a clock before 1970).
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
