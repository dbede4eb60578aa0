//! TODO(skeleton): switching policy.
