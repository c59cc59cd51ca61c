//! Loading plugins at start: read, check that it is a component importing
//! nothing outside the `tool-plugin` world, compile (through the compile
//! cache), link, ask it for its tools, and name them `PLUGIN_TOOL`. A
//! plugin that fails any step is refused with the reason and the host goes
//! on without it; a tool name clash stops the host, because which tool the
//! model would get is then ambiguous.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::{Plugin, Plugins, ToolSpec, ToolsPre};
use crate::cache;
use crate::limits;
use crate::policy::{HostPolicy, PluginSpec};
use crate::runtime::{self, HostState};

/// The interfaces world `tool-plugin` (wit/plugin.wit) lets a plugin
/// import, at any 0.2.x version.
pub const ALLOWED_IMPORTS: [&str; 22] = [
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

/// Concurrent plugin instances the pool holds (all plugins together).
const POOL_INSTANCES: u32 = 64;

/// Why one plugin was not loaded; the host goes on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub plugin: String,
    pub why: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin {} refused: {}", self.plugin, self.why)
    }
}

/// Why the host cannot start with its plugins.
#[derive(Debug)]
pub enum LoadError {
    /// The plugin engine or linker could not be set up.
    Engine(wasmtime::Error),
    /// Two tools would reach the model under one name.
    Clash {
        name: String,
        first: String,
        second: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Engine(e) => write!(f, "cannot set up the plugin engine: {e}"),
            LoadError::Clash {
                name,
                first,
                second,
            } => write!(
                f,
                "tool name {name:?} of {second} clashes with {first}; rename a plugin in wasiclaw.json"
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// The engine every plugin runs on: fuel metering (which the agent's engine
/// does without), epoch interruption, and a pooling allocator, so that a
/// fresh instance per call costs microseconds.
pub fn plugin_engine() -> Result<Engine, wasmtime::Error> {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    c.consume_fuel(true);
    let mut p = PoolingAllocationConfig::default();
    p.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 16)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 16)
        .max_memory_size(1 << 30);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    let engine = Engine::new(&c)?;
    limits::start_ticker(&engine);
    Ok(engine)
}

/// `ns:pkg/iface@0.2.x` of the allowed list, or why not.
pub fn check_import(name: &str) -> Result<(), String> {
    let (base, version) = name.split_once('@').unwrap_or((name, ""));
    if !ALLOWED_IMPORTS.contains(&base) {
        return Err(format!(
            "it imports {name}, which the tool-plugin world does not allow (wit/plugin.wit)"
        ));
    }
    if !version.starts_with("0.2.") {
        return Err(format!(
            "it imports {name}; the tool-plugin world takes WASI 0.2.x"
        ));
    }
    Ok(())
}

/// Component, core module or neither, from the preamble alone, so the
/// message says what the file is instead of a parser error.
fn check_binary(bytes: &[u8]) -> Result<(), String> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Err(
            "it is a core WebAssembly module, not a component (build for wasm32-wasip2, or wrap it with `wasm-tools component new`)".into(),
        ),
        _ => Err("it is not a WebAssembly binary".into()),
    }
}

fn load_one(
    engine: &Engine,
    linker: &Linker<HostState>,
    host: &HostPolicy,
    spec: &PluginSpec,
    cache_dir: Option<&Path>,
) -> Result<Plugin, String> {
    let bytes = std::fs::read(&spec.path)
        .map_err(|e| format!("cannot read {}: {e}", spec.path.display()))?;
    check_binary(&bytes)?;
    let (component, _) =
        cache::load(engine, &bytes, cache_dir).map_err(|e| format!("does not compile: {e}"))?;
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        check_import(name)?;
    }
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| format!("does not link: {e}"))?;
    let pre = ToolsPre::new(pre)
        .map_err(|e| format!("it does not export wasiclaw:core/tools@0.1.0: {e}"))?;
    let policy = Arc::new(HostPolicy {
        rules: spec.policy(host),
        trust: host.trust.clone(),
    });
    Ok(Plugin {
        spec: spec.clone(),
        engine: engine.clone(),
        pre,
        policy,
        tools: Vec::new(),
    })
}

/// Most tools one plugin may offer, and the largest description and
/// schema: every spec goes into every model request, so a plugin must not
/// be able to crowd out the conversation.
const MAX_TOOLS: usize = 64;
const MAX_DESCRIPTION: usize = 4096;
const MAX_PARAMETERS: usize = 64 * 1024;

/// A spec the agent can hand to a provider as it is: its `parameters` a
/// JSON object (a provider refuses the whole request otherwise, which
/// would fail every turn), within the size limits.
fn check_spec(t: &ToolSpec) -> Result<(), String> {
    if t.description.len() > MAX_DESCRIPTION {
        return Err(format!(
            "its tool {:?} has a description over {MAX_DESCRIPTION} bytes",
            t.name
        ));
    }
    if t.parameters.len() > MAX_PARAMETERS {
        return Err(format!(
            "its tool {:?} has a parameter schema over {MAX_PARAMETERS} bytes",
            t.name
        ));
    }
    match serde_json::from_str::<serde_json::Value>(&t.parameters) {
        Ok(v) if v.is_object() => Ok(()),
        _ => Err(format!(
            "its tool {:?} has parameters that are not a JSON Schema object",
            t.name
        )),
    }
}

/// A tool name providers accept: `[A-Za-z0-9_-]{1,64}`.
fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Loads every plugin of the policy beside the `builtin` tools. Refusals
/// are printed (`wasiclaw: plugin NAME refused: WHY`) and skipped.
pub async fn load_all(
    policy: &HostPolicy,
    builtin: &[ToolSpec],
    cache_dir: Option<&Path>,
) -> Result<Plugins, LoadError> {
    let mut out = Plugins::default();
    if policy.plugins.is_empty() {
        return Ok(out);
    }
    let engine = plugin_engine().map_err(LoadError::Engine)?;
    let linker =
        runtime::linker(&engine).map_err(|e| LoadError::Engine(wasmtime::Error::from_anyhow(e)))?;
    let mut owner: Vec<(String, String)> = builtin
        .iter()
        .map(|t| (t.name.clone(), format!("the built-in tool {}", t.name)))
        .collect();
    for spec in &policy.plugins {
        let refuse = |why: String| {
            eprintln!(
                "wasiclaw: {}; the host goes on without it",
                Refusal {
                    plugin: spec.name.clone(),
                    why
                }
            )
        };
        let mut plugin = match load_one(&engine, &linker, policy, spec, cache_dir) {
            Ok(p) => p,
            Err(why) => {
                refuse(why);
                continue;
            }
        };
        let tools = match plugin.list().await {
            Ok(t) => t,
            Err(why) => {
                refuse(format!("its list failed: {why}"));
                continue;
            }
        };
        if tools.len() > MAX_TOOLS {
            refuse(format!(
                "it offers {} tools, more than {MAX_TOOLS}",
                tools.len()
            ));
            continue;
        }
        if let Err(why) = tools.iter().try_for_each(check_spec) {
            refuse(why);
            continue;
        }
        let mut renamed = Vec::new();
        for t in &tools {
            let name = format!("{}_{}", spec.name, t.name);
            if !valid_tool_name(&name) {
                refuse(format!(
                    "its tool {:?} makes {name:?}, not a valid tool name ([A-Za-z0-9_-], at most 64)",
                    t.name
                ));
                renamed.clear();
                break;
            }
            let who = format!("tool {} of plugin {}", t.name, spec.name);
            if let Some((_, first)) = owner.iter().find(|(n, _)| *n == name) {
                return Err(LoadError::Clash {
                    name,
                    first: first.clone(),
                    second: who,
                });
            }
            owner.push((name.clone(), who));
            renamed.push((name, t.clone()));
        }
        if renamed.is_empty() {
            if tools.is_empty() {
                refuse("it offers no tools".into());
            }
            continue;
        }
        let index = out.plugins.len();
        let names: Vec<&str> = renamed.iter().map(|(n, _)| n.as_str()).collect();
        eprintln!(
            "wasiclaw: plugin {} loaded: {}",
            spec.name,
            names.join(", ")
        );
        for (name, t) in renamed {
            out.routes.push((name.clone(), index, t.name.clone()));
            out.specs.push(ToolSpec { name, ..t });
        }
        plugin.tools = tools;
        out.plugins.push(plugin);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowed_imports_are_the_worlds() {
        let wit = include_str!("../../../wit/plugin.wit");
        let imports: Vec<&str> = wit
            .lines()
            .filter_map(|l| l.trim().strip_prefix("import "))
            .map(|l| l.trim_end_matches(';').split('@').next().unwrap_or(""))
            .collect();
        assert_eq!(imports, ALLOWED_IMPORTS);
    }

    #[test]
    fn imports_and_binaries_are_checked() {
        assert!(check_import("wasi:cli/stdout@0.2.0").is_ok());
        assert!(check_import("wasi:http/outgoing-handler@0.2.12").is_ok());
        let e = check_import("wasi:sockets/tcp@0.2.0").unwrap_err();
        assert!(e.contains("wasi:sockets/tcp@0.2.0"), "{e}");
        assert!(check_import("wasiclaw:core/vector@0.1.0").is_err());
        assert!(check_import("wasi:cli/stdout@0.3.0").is_err());
        assert!(check_binary(b"\0asm\x0d\0\x01\0").is_ok());
        assert!(check_binary(b"\0asm\x01\0\0\0")
            .unwrap_err()
            .contains("core"));
        assert!(check_binary(b"#!/bin/sh")
            .unwrap_err()
            .contains("not a WebAssembly"));
        assert!(valid_tool_name("weather_forecast") && !valid_tool_name("a b"));
        let spec = |parameters: &str| ToolSpec {
            name: "t".into(),
            description: "d".into(),
            parameters: parameters.into(),
        };
        assert!(check_spec(&spec(r#"{"type":"object"}"#)).is_ok());
        for bad in ["", "[]", "{", "\"object\""] {
            assert!(check_spec(&spec(bad)).is_err(), "{bad}");
        }
        let long = ToolSpec {
            description: "x".repeat(MAX_DESCRIPTION + 1),
            ..spec("{}")
        };
        assert!(check_spec(&long).is_err());
    }
}
