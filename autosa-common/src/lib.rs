//! Types and maths shared by the kernel programs (`autosa-ebpf`) and userspace (`autosa`).
//!
//! Everything here is `no_std` and `#[repr(C)]` so that one definition describes
//! a map value on both sides. Userspace gets `aya::Pod` impls through the `user` feature.
#![no_std]

pub mod config;
pub mod event;
pub mod hist;
pub mod maps;
#[cfg(feature = "user")]
mod pod;
