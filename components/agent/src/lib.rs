//! wasiclaw's agent: an LLM in a tool-use loop with sessions, as a WASI 0.2
//! component. Everything except `wasm` is plain Rust behind small seams
//! ([`http::Http`], [`http::Clock`], [`tools::Tools`], [`files::Files`]), so the
//! whole loop is tested natively; `wasm` maps the seams onto WASI.
//!
//! On every wasm target the crate is `no_std`, like the tools: std's WASI
//! layer, dlmalloc and panic machinery cost more than a third of the
//! component, and as much again of the WAMR module (`wasm32-wasip1`,
//! components/p1), which brings its own allocator and panic handler. Native
//! tests link it with std.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

/// `alloc` names for modules that must also build without std (the component).
mod prelude {
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
    pub use wasiclaw_json::cat;
}

pub mod agent;
pub mod app;
pub mod cli;
pub mod config;
pub mod context;
pub mod edge;
pub mod error;
pub mod files;
pub mod frontmatter;
pub mod http;
mod jsonw;
pub mod mcp;
pub mod memory;
pub mod message;
pub mod prompt;
pub mod provider;
pub mod session;
pub mod skills;
pub mod sse;
pub mod stdio;
pub mod store;
pub mod tools;

#[cfg(test)]
mod tests;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod wasm;

pub use error::AgentError;
