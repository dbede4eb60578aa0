//! autosa: automatic scheduler adjustment for Linux.
//!
//! Data flows one way: `collect` (eBPF maps, procfs) → `model` (raw samples,
//! the per-interval `Snapshot`) → `policy` (classify, recommend) → switching
//! and backends. `view` renders snapshots for people; `cli` wires commands.

pub mod agent;
pub mod backend;
pub mod cli;
pub mod collect;
pub mod config;
pub mod control;
pub mod doctor;
pub mod history;
pub mod model;
pub mod policy;
pub mod record;
pub mod replay;
pub mod sched_ext;
pub mod service;
pub mod switching;
pub mod trust;
pub mod tui;
pub mod view;
