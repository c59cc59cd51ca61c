//! The agent's tools seam served by the tools crate in-process: what the
//! component does across the `wasiclaw:core/tools` boundary is a plain call
//! here, with the same catalogue and the same error cases.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use wasiclaw_agent::tools::{ToolError as AgentToolError, ToolSpec, Tools};
use wasiclaw_tools::{Platform, ToolError, Toolbox, Vectors};

pub struct LinkedTools<P: Platform, V: Vectors>(pub Toolbox<P, V>);

impl<P: Platform, V: Vectors> Tools for LinkedTools<P, V> {
    fn list(&mut self) -> Vec<ToolSpec> {
        self.0
            .specs()
            .iter()
            .map(|s| ToolSpec {
                name: s.name.to_string(),
                description: s.description.to_string(),
                parameters: s.parameters.to_string(),
            })
            .collect()
    }

    fn call(&mut self, name: &str, arguments: &str) -> Result<String, AgentToolError> {
        self.0.call(name, arguments).map_err(|e| match e {
            ToolError::UnknownTool(m) => AgentToolError::UnknownTool(m),
            ToolError::InvalidArguments(m) => AgentToolError::InvalidArguments(m),
            ToolError::Denied(m) => AgentToolError::Denied(m),
            ToolError::NotFound(m) => AgentToolError::NotFound(m),
            ToolError::Failed(m) => AgentToolError::Failed(m),
        })
    }
}
