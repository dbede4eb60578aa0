//! TODO(skeleton): backends.
