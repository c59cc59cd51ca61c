//! The error type every tool returns. It mirrors the WIT `tool-error` variant
//! one-to-one so the shim is a plain match; every message is written for the
//! model, which reads it as the tool result and is expected to recover.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// No tool of that name; the message lists the valid names.
    UnknownTool(String),
    /// Arguments are not JSON or a field is missing or mistyped; names the field.
    InvalidArguments(String),
    /// Refused by policy, e.g. a path that leads out of the workspace.
    Denied(String),
    /// The file, directory or memory entry does not exist.
    NotFound(String),
    /// The tool ran but failed (I/O, HTTP, ambiguous edit, ...).
    Failed(String),
}

impl ToolError {
    pub fn message(&self) -> &str {
        match self {
            ToolError::UnknownTool(m)
            | ToolError::InvalidArguments(m)
            | ToolError::Denied(m)
            | ToolError::NotFound(m)
            | ToolError::Failed(m) => m,
        }
    }
}

/// Builds a message from parts without going through `core::fmt`, which keeps
/// the many error paths from each pulling in formatting machinery.
pub fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// Decimal rendering of an integer without `core::fmt`.
pub fn num(mut n: u64) -> String {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    String::from(core::str::from_utf8(&buf[i..]).unwrap_or("0"))
}
