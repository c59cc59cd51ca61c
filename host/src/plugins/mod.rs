//! Tool plugins: third-party components exporting `wasiclaw:core/tools`
//! (world `tool-plugin` in `wit/plugin.wit`), loaded and checked at start
//! (`load`), each call run in a fresh sandboxed instance built from the
//! plugin's grants only (`sandbox`), and routed beside the built-in tools
//! when the host answers the agent's `tools` import itself (`router`).

mod load;
mod log;
pub mod router;
mod sandbox;

pub use load::{check_import, load_all, plugin_engine, LoadError, Refusal, ALLOWED_IMPORTS};
pub use router::{link_tools, Router, Toolbox};
pub use sandbox::{CallReport, Outcome, Plugin};

/// Typed access to a component's `wasiclaw:core/tools` export: the
/// plugins' and the built-in toolbox's. The types double as the agent's
/// `tools` import, which the router defines by hand with them.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "package wasiclaw:host; world tools-export { export wasiclaw:core/tools@0.1.0; }",
        world: "wasiclaw:host/tools-export",
        exports: { default: async },
    });
}

pub use bindings::exports::wasiclaw::core::tools::{ToolError, ToolSpec};
pub use bindings::ToolsExportPre as ToolsPre;

/// The loaded plugins of one host process, and which model-facing tool
/// name (`PLUGIN_TOOL`) goes to which plugin's which tool.
#[derive(Default)]
pub struct Plugins {
    pub plugins: Vec<Plugin>,
    /// `(model-facing name, plugin index, the plugin's own tool name)`.
    pub routes: Vec<(String, usize, String)>,
    /// The specs the model sees, renamed.
    pub specs: Vec<ToolSpec>,
}

impl Plugins {
    /// The plugin and its own tool name behind a model-facing name.
    pub fn route(&self, name: &str) -> Option<(&Plugin, &str)> {
        let (_, i, tool) = self.routes.iter().find(|(n, _, _)| n == name)?;
        Some((self.plugins.get(*i)?, tool.as_str()))
    }
}
