//! Snapshots rendered for people.

pub mod histogram;
mod text;
pub mod units;

pub use text::render_text;
