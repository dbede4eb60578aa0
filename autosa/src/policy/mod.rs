//! The policy engine: pure functions from snapshots to a classification and a plan.
//!
//! `features` (numbers from a snapshot, EWMA) → `classify` (class, confidence,
//! reasons) → `recommend` (plan from `config`'s table, schedulers checked
//! against `catalog`); `engine` ties them together, one snapshot at a time.

pub mod catalog;
pub mod classify;
pub mod config;
pub mod engine;
pub mod features;
pub mod plan;
pub mod reasons;
pub mod recommend;

pub use classify::{Classification, Classifier, classify};
pub use config::PolicyConfig;
pub use engine::{Decision, Engine};
pub use features::{Features, Smoother};
pub use plan::{Plan, WorkloadClass};
pub use recommend::{Recommendation, recommend};
