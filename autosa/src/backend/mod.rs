//! TODO(skeleton): backends.
pub mod mcp;
