//! End-to-end tests: the built `dist/wasiclaw.wasm` run through the real
//! `wasmtime run` CLI against mock providers on 127.0.0.1. Build first with
//! `scripts/build`; a missing artifact fails the suite rather than skipping it.

#[macro_use]
mod harness;

mod agent_faults;
mod agent_run;
mod agent_state;
mod host;
mod limits;
mod mcp;
mod memory_skills;
mod named_workspace;
mod parsers;
mod plugins;
mod provider_tls;
mod redis;
mod secrets;
mod serve;
mod vector;
mod wamr;
