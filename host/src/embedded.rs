//! The guest modules built into this binary by build.rs (empty when
//! `dist/` had none at build time; `--module PATH` then supplies one).

pub static CLI: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasiclaw.wasm"));
pub static HTTP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasiclaw-http.wasm"));

/// Plugin mode: the agent and the edge agent without their tools, and the
/// tools alone (dist/components/agent.wasm, agent-http.wasm, dist/toolbox.wasm).
pub static AGENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/components-agent.wasm"));
pub static AGENT_HTTP: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/components-agent-http.wasm"));
pub static TOOLBOX: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/toolbox.wasm"));
