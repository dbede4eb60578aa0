//! The policy engine: pure functions from snapshots to a classification and a plan.

pub mod plan;
