//! The optional OpenMetrics endpoint (`[metrics] enabled = true`): what the
//! daemon knows, for Prometheus. The daemon feeds every interval's snapshot
//! into [`Totals`] (histograms and counters need the whole run, not the last
//! interval); a scrape renders those totals with the daemon's [`Live`] state.
//!
//! [`Live`]: super::live::Live

pub mod buckets;
pub mod http;
pub mod render;
pub mod totals;

pub use http::{bind, serve};
pub use render::{Format, render};
pub use totals::{SharedTotals, Totals};
