//! The agent's `wasiclaw:core/tools` import, answered by the host when
//! plugins are configured: `list` is the built-in tools followed by every
//! plugin's (renamed `PLUGIN_TOOL`), and `call` goes to the plugin that
//! owns the name or else to the built-in toolbox. The toolbox
//! (dist/toolbox.wasm: the vector kernel and the tools) runs in a store of
//! its own with the same WASI context as the agent's, instantiated at the
//! first tool call and kept for the rest of the run, as it would be inside
//! the composed module; every plugin call gets a fresh instance.

use std::sync::Arc;

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, StoreContextMut};

use super::bindings::ToolsExport;
use super::{Plugins, ToolError, ToolSpec, ToolsPre};
use crate::metering::{now_rfc3339, Ledger, PluginCallRecord};
use crate::policy::HostPolicy;
use crate::runtime::{self, HostState};

/// The interface the agent imports and the plugins export.
pub const TOOLS_INTERFACE: &str = "wasiclaw:core/tools@0.1.0";

/// The built-in toolbox and the loaded plugins, shared by every run.
pub struct Toolbox {
    engine: Engine,
    pre: ToolsPre<HostState>,
    policy: Arc<HostPolicy>,
    pub plugins: Plugins,
}

impl Toolbox {
    /// Links the toolbox component; plugins are added with [`Toolbox::with_plugins`].
    pub fn new(
        engine: &Engine,
        component: &Component,
        policy: Arc<HostPolicy>,
    ) -> wasmtime::Result<Toolbox> {
        let linker = runtime::linker(engine).map_err(wasmtime::Error::from_anyhow)?;
        let pre = ToolsPre::new(linker.instantiate_pre(component)?)?;
        Ok(Toolbox {
            engine: engine.clone(),
            pre,
            policy,
            plugins: Plugins::default(),
        })
    }

    pub fn with_plugins(mut self, plugins: Plugins) -> Toolbox {
        self.plugins = plugins;
        self
    }

    /// The built-in tools, from a throwaway instance (for clash checks at start).
    pub async fn builtin_specs(&self) -> wasmtime::Result<Vec<ToolSpec>> {
        let mut store = runtime::store(&self.engine, &self.policy, &[], "default", false)
            .map_err(wasmtime::Error::from_anyhow)?;
        let inst = self.pre.instantiate_async(&mut store).await?;
        inst.wasiclaw_core_tools().call_list(&mut store).await
    }

    /// The per-run router for a guest run with `args` (the toolbox sees
    /// the same arguments and environment as the agent) in `session`.
    pub fn router(self: &Arc<Self>, args: &[String], session: &str) -> Router {
        Router {
            toolbox: self.clone(),
            args: args.to_vec(),
            session: session.to_string(),
            instance: None,
        }
    }
}

/// One run's view of the tools (lives in the agent's [`HostState`]).
pub struct Router {
    toolbox: Arc<Toolbox>,
    args: Vec<String>,
    session: String,
    instance: Option<(Store<HostState>, ToolsExport)>,
}

impl Router {
    async fn builtin(&mut self) -> wasmtime::Result<&mut (Store<HostState>, ToolsExport)> {
        if self.instance.is_none() {
            let tb = &self.toolbox;
            let mut store =
                runtime::store(&tb.engine, &tb.policy, &self.args, &self.session, false)
                    .map_err(wasmtime::Error::from_anyhow)?;
            let inst = tb.pre.instantiate_async(&mut store).await?;
            self.instance = Some((store, inst));
        }
        self.instance
            .as_mut()
            .ok_or_else(|| wasmtime::format_err!("the toolbox instance vanished"))
    }

    pub async fn list(&mut self) -> wasmtime::Result<Vec<ToolSpec>> {
        let (store, inst) = self.builtin().await?;
        let mut specs = inst.wasiclaw_core_tools().call_list(&mut *store).await?;
        specs.extend(self.toolbox.plugins.specs.iter().cloned());
        Ok(specs)
    }

    pub async fn call(
        &mut self,
        name: &str,
        arguments: &str,
    ) -> wasmtime::Result<Result<String, ToolError>> {
        let tb = self.toolbox.clone();
        let Some((plugin, tool)) = tb.plugins.route(name) else {
            let (store, inst) = self.builtin().await?;
            return inst
                .wasiclaw_core_tools()
                .call_call(&mut *store, name, arguments)
                .await;
        };
        let report = plugin.call(tool, arguments, &self.session).await;
        if let Err(e) = &report.result {
            eprintln!(
                "wasiclaw: plugin {} tool {tool}: {} ({e:?})",
                plugin.spec.name,
                report.outcome.as_str()
            );
        }
        let record = PluginCallRecord {
            ts: now_rfc3339(),
            session: self.session.clone(),
            plugin: plugin.spec.name.clone(),
            tool: tool.to_string(),
            duration_us: u64::try_from(report.duration.as_micros()).unwrap_or(u64::MAX),
            fuel_used: report.fuel_used,
            outcome: report.outcome.as_str().to_string(),
        };
        if let Err(e) = Ledger::new(&tb.policy.workspace).append_plugin_call(&record) {
            eprintln!("wasiclaw: cannot record the plugin call in usage.jsonl: {e}");
        }
        Ok(report.result)
    }
}

fn router<'a>(store: &'a mut StoreContextMut<'_, HostState>) -> wasmtime::Result<&'a mut Router> {
    store
        .data_mut()
        .tools
        .as_deref_mut()
        .ok_or_else(|| wasmtime::format_err!("this store has no tool router"))
}

/// Defines the agent's `tools` import in `linker` as the router's functions.
pub fn link_tools(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut inst = linker.instance(TOOLS_INTERFACE)?;
    inst.func_wrap_async(
        "list",
        |mut store: StoreContextMut<'_, HostState>, (): ()| {
            Box::new(async move { Ok((router(&mut store)?.list().await?,)) })
        },
    )?;
    inst.func_wrap_async(
        "call",
        |mut store: StoreContextMut<'_, HostState>, (name, arguments): (String, String)| {
            Box::new(async move { Ok((router(&mut store)?.call(&name, &arguments).await?,)) })
        },
    )?;
    Ok(())
}
