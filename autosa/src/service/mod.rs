//! The daemon (`autosa run`): collector thread → policy → switching → backend,
//! with signal handling and a clean restore on the way out.

pub mod backends;
pub mod daemon;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod reload;
pub mod sampler;

pub use daemon::{RunOptions, run};
