//! The error type every tool returns. It mirrors the WIT `tool-error` variant
//! one-to-one so the shim is a plain match; every message is written for the
//! model, which reads it as the tool result and is expected to recover.

use crate::prelude::*;

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
pub fn num(n: u64) -> String {
    let mut s = String::new();
    wasiclaw_json::text::push_u64(&mut s, n);
    s
}

/// Byte offset of the first `needle` in `hay` at or after `from`. A plain
/// scan: core's two-way string searcher costs 2.5 KB and inputs here are
/// small (argument text, one file for edit_file, HTTP header values).
pub fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return (from <= hay.len()).then_some(from);
    }
    let last = hay.len().checked_sub(needle.len())?;
    (from..=last).find(|&i| hay[i..i + needle.len()] == *needle)
}

/// Characters in `s`, counted without core's SIMD-style `chars().count()`.
pub fn char_count(s: &str) -> usize {
    s.bytes().filter(|b| b & 0xC0 != 0x80).count()
}

/// Bytes as text, invalid UTF-8 replaced; reuses the buffer when valid.
pub fn lossy(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// `parts` joined by `sep`; `[T]::join` instantiates a 1 KB generic copier.
pub fn join(parts: &[String], sep: &str) -> String {
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        s.push_str(p);
    }
    s
}

/// The first `n` characters of `s`.
pub fn prefix_chars(s: &str, n: usize) -> &str {
    let mut seen = 0;
    for (i, b) in s.bytes().enumerate() {
        if b & 0xC0 != 0x80 {
            if seen == n {
                return sub(s, 0, i);
            }
            seen += 1;
        }
    }
    s
}

/// `&s[a..b]`, or `""` when out of range or off a character boundary. Every
/// caller cuts at ASCII delimiters, so the fallback never triggers; `get`
/// keeps core's slice-error formatter (about 5 KB with its Unicode tables)
/// out of the component.
pub fn sub(s: &str, a: usize, b: usize) -> &str {
    s.get(a..b).unwrap_or("")
}

/// `&s[a..]`, see [`sub`].
pub fn tail(s: &str, a: usize) -> &str {
    s.get(a..).unwrap_or("")
}
