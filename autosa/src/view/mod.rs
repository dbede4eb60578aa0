//! Snapshots rendered for people.

pub mod control;
pub mod histogram;
mod recommend;
mod text;
pub mod units;

pub use recommend::{BackendAvailability, RecommendReport, render_recommend};
pub use text::render_text;
