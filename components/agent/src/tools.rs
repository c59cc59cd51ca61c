//! The tools seam: in the component it is the imported `wasiclaw:core/tools`
//! interface, in tests a fake.

use crate::prelude::*;
use core::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema text, passed to the model as a JSON value.
    pub parameters: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolError {
    UnknownTool(String),
    InvalidArguments(String),
    Denied(String),
    NotFound(String),
    Failed(String),
}

impl ToolError {
    /// The text the model sees for a failed call, e.g. `error: denied: ...`.
    pub fn message(&self) -> String {
        let (kind, msg) = match self {
            ToolError::UnknownTool(m) => ("unknown tool", m),
            ToolError::InvalidArguments(m) => ("invalid arguments", m),
            ToolError::Denied(m) => ("denied", m),
            ToolError::NotFound(m) => ("not found", m),
            ToolError::Failed(m) => ("failed", m),
        };
        cat!("error: ", kind, ": ", msg)
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

pub trait Tools {
    fn list(&mut self) -> Vec<ToolSpec>;
    fn call(&mut self, name: &str, arguments: &str) -> Result<String, ToolError>;
}
