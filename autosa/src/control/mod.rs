//! The control socket: how `autosa status|schedulers|switch|pause|resume|
//! history`, `autosa top` and `autosa mcp` talk to the running daemon.
//! One JSON request per line, one JSON response per line (see `protocol`).

pub mod client;
pub mod config;
pub mod protocol;
pub mod server;

pub use client::{Client, ClientError};
pub use protocol::{DaemonStatus, Request, Response};
