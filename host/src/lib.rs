//! wasiclaw's native host: runs the wasiclaw component under wasmtime with a
//! policy (outbound hosts, limits, budgets), injects provider API keys the
//! guest never sees, meters tokens, caches compiled code and serves the edge
//! build over HTTP. One module per capability.

pub mod cache;
pub mod connect;
pub mod embedded;
pub mod files;
pub mod guarded;
pub mod http;
pub mod inspect;
pub mod kv;
pub mod kv_draft2;
pub mod limits;
pub mod plugins;
pub mod policy;
pub mod runtime;
pub mod serve;
pub mod vector_kernel;

/// The policy crate's modules under their old paths.
pub use wasiclaw_policy::{addr, metering};

#[cfg(test)]
mod tls_tests;
