//! wasiclaw's agent: an LLM in a tool-use loop with sessions, as a WASI 0.2
//! component. Everything except `wasm` is plain Rust behind small seams
//! ([`http::Http`], [`http::Clock`], [`tools::Tools`], [`files::Files`]), so the
//! whole loop is tested natively; `wasm` maps the seams onto WASI.

pub mod agent;
pub mod app;
pub mod cli;
pub mod config;
pub mod context;
pub mod edge;
pub mod error;
pub mod files;
pub mod http;
mod jsonw;
pub mod message;
pub mod prompt;
pub mod provider;
pub mod session;
pub mod sse;
pub mod tools;

#[cfg(test)]
mod tests;

#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
mod wasm;

pub use error::AgentError;
