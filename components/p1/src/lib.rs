//! wasiclaw as one `wasm32-wasip1` core module, for WebAssembly runtimes
//! without the component model or `wasi:http` (WAMR on devices).
//!
//! The agent, tools and vector crates are linked in as plain Rust; only their
//! platform seams differ from the components: files, environment and clocks
//! come from preview 1 (`std`), HTTP from the `wasiclaw_http` import
//! (wit/wasiclaw-http-p1.md), tools and the vector index are direct calls.

pub mod abi;
pub mod agent_http;
pub mod client;
pub mod entry;
pub mod platform;
pub mod tools_seam;
pub mod vectors;

#[cfg(test)]
mod tests;
