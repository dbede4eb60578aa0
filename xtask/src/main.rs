//! Project tooling: `cargo xtask <command>`.
fn main() {}
