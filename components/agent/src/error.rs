use crate::prelude::*;
use core::fmt;

/// Why a turn failed; mirrors the WIT `error` variant one to one so the
/// component export is a plain mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentError {
    /// Missing or invalid configuration.
    Config(String),
    /// The provider could not be reached, or kept failing after retries.
    Http(String),
    /// The provider answered with an error status or an unreadable body.
    Provider(String),
    /// The session file could not be read or written.
    Session(String),
    /// The model was still calling tools after this many iterations.
    MaxIterations(u32),
}

/// Messages may quote server bodies or host errors; the CLI promises one
/// error line, so line breaks become spaces.
pub fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

impl AgentError {
    /// The one-line text the CLI prints after `wasiclaw: error: `.
    pub fn message(&self) -> String {
        let (kind, m) = match self {
            AgentError::Config(m) => ("config: ", m),
            AgentError::Http(m) => ("http: ", m),
            AgentError::Provider(m) => ("provider: ", m),
            AgentError::Session(m) => ("session: ", m),
            AgentError::MaxIterations(n) => {
                return cat!(
                    "max iterations: the model was still calling tools after ",
                    n,
                    " iterations (session saved)"
                )
            }
        };
        cat!(kind, one_line(m))
    }
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl wasiclaw_json::text::Piece for AgentError {
    fn add_to(&self, out: &mut String) {
        out.push_str(&self.message());
    }
}

impl core::error::Error for AgentError {}
