//! wasiclaw as one `wasm32-wasip1` core module, for WebAssembly runtimes
//! without the component model or `wasi:http` (WAMR on devices).
//!
//! The agent, tools and vector crates are linked in as plain Rust; only their
//! platform seams differ from the components: files, environment, clocks and
//! stdio come from preview 1 (`wasi.rs`, declared directly), HTTP from the
//! `wasiclaw_http` import (wit/wasiclaw-http-p1.md), tools and the vector
//! index are direct calls.
//!
//! On wasm the crate graph is `no_std`: std would bring its WASI layer,
//! dlmalloc and panic runtime, a sixth of the module. The binary supplies a
//! small allocator and an abort-only panic handler. Natively (unit tests)
//! the crate is std, with `platform.rs` standing in for the preview-1 files.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod abi;
pub mod agent_http;
pub mod client;
pub mod dirent;
pub mod env;
pub mod tools_seam;
pub mod vectors;

#[cfg(target_arch = "wasm32")]
pub mod entry;
#[cfg(target_arch = "wasm32")]
pub mod fs;
#[cfg(target_arch = "wasm32")]
pub mod wasi;
#[cfg(target_arch = "wasm32")]
pub mod wasi_platform;

#[cfg(not(target_arch = "wasm32"))]
pub mod platform;

#[cfg(test)]
mod tests;
