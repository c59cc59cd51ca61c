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

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Config(m) => write!(f, "config: {}", one_line(m)),
            AgentError::Http(m) => write!(f, "http: {}", one_line(m)),
            AgentError::Provider(m) => write!(f, "provider: {}", one_line(m)),
            AgentError::Session(m) => write!(f, "session: {}", one_line(m)),
            AgentError::MaxIterations(n) => write!(
                f,
                "max iterations: the model was still calling tools after {n} iterations (session saved)"
            ),
        }
    }
}

impl core::error::Error for AgentError {}
