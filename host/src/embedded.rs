//! The guest modules built into this binary by build.rs (empty when
//! `dist/` had none at build time; `--module PATH` then supplies one).

pub static CLI: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasiclaw.wasm"));
pub static HTTP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasiclaw-http.wasm"));
