//! The history store: what the daemon decided and changed, its commands and a
//! downsampled metrics point every minute, kept on disk for `autosa history`.
//!
//! Append-only JSON-lines segment files in `<state_dir>/history/`; every line
//! carries a CRC32 of its payload so a torn or corrupted record is recognised
//! and dropped instead of poisoning the rest (see `line`). Written by the
//! daemon loop only; read by the control server (`read`).

pub mod config;
pub mod line;
pub mod read;
pub mod record;
pub mod segment;
pub mod store;

pub use config::HistoryConfig;
pub use read::read;
pub use record::{Entry, MetricsPoint, Record};
pub use store::{HistoryError, HistoryStore, StoreOptions};
