//! TODO(skeleton): backends.

pub mod scx;
