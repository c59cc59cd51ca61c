//! Sessions: `sessions/<name>.jsonl` in the workspace, one message per line.
//! Saving rewrites the file through a temp file and a rename, so a crash or a
//! failed turn leaves the previous version whole.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::AgentError;
use crate::message::{Message, Role};

pub const DEFAULT_SESSION: &str = "default";
const MAX_NAME: usize = 64;

/// Checks a session name (`default` when empty). Only `[A-Za-z0-9._-]` is
/// allowed and no leading dot, so a name can never escape `sessions/` or
/// collide with a temp file.
pub fn validate_name(name: &str) -> Result<&str, String> {
    if name.is_empty() {
        return Ok(DEFAULT_SESSION);
    }
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok_chars || name.starts_with('.') || name.len() > MAX_NAME {
        return Err(format!(
            "invalid session name '{name}' (use up to {MAX_NAME} of A-Z a-z 0-9 . _ -, not starting with '.')"
        ));
    }
    Ok(name)
}

pub fn path(workspace: &Path, name: &str) -> PathBuf {
    workspace.join("sessions").join(format!("{name}.jsonl"))
}

/// Reads a session; a missing file is an empty session. Corrupt lines are
/// skipped and reported through `warn`, the rest is kept.
pub fn load(
    workspace: &Path,
    name: &str,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Message>, AgentError> {
    let p = path(workspace, name);
    let bytes = match fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(AgentError::Session(format!("cannot read {}: {e}", p.display())))
        }
    };
    let mut out = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = std::str::from_utf8(line)
            .map_err(|_| "not UTF-8".to_string())
            .and_then(Message::from_json);
        match parsed {
            Ok(m) => out.push(m),
            Err(e) => warn(&format!(
                "wasiclaw: warning: {} line {}: {e}; line skipped",
                p.display(),
                i + 1
            )),
        }
    }
    Ok(repair(out))
}

/// Makes a loaded history valid for the providers after lines were lost:
/// drops leading non-user messages and orphan tool results, and answers
/// tool calls whose results are missing with an error result.
pub fn repair(msgs: Vec<Message>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(msgs.len());
    // Tool calls of the latest assistant message still awaiting a result.
    let mut pending: Vec<crate::message::ToolCall> = Vec::new();
    let flush = |out: &mut Vec<Message>, pending: &mut Vec<crate::message::ToolCall>| {
        for c in pending.drain(..) {
            out.push(Message::tool_result(
                &c,
                "error: no result was recorded for this call".into(),
                true,
            ));
        }
    };
    for m in msgs {
        if out.is_empty() && m.role != Role::User {
            continue;
        }
        match m.role {
            Role::Tool => {
                if let Some(at) = pending.iter().position(|c| c.id == m.tool_call_id) {
                    pending.remove(at);
                    out.push(m);
                }
            }
            Role::User | Role::Assistant => {
                flush(&mut out, &mut pending);
                pending = m.tool_calls.clone();
                out.push(m);
            }
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// Writes the whole session to a temp file, syncs it and renames it over the
/// old one.
pub fn save(workspace: &Path, name: &str, msgs: &[Message]) -> Result<(), AgentError> {
    let dir = workspace.join("sessions");
    let err = |what: &str, p: &Path, e: std::io::Error| {
        AgentError::Session(format!("cannot {what} {}: {e}", p.display()))
    };
    fs::create_dir_all(&dir).map_err(|e| err("create", &dir, e))?;
    let mut text = String::new();
    for m in msgs {
        text.push_str(&m.to_json());
        text.push('\n');
    }
    let tmp = dir.join(format!(".{name}.jsonl.tmp"));
    let target = path(workspace, name);
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        match f.sync_all() {
            // Some hosts cannot sync; the rename still keeps the old file whole.
            Err(e) if e.kind() == ErrorKind::Unsupported => Ok(()),
            r => r,
        }
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(err("write", &tmp, e));
    }
    fs::rename(&tmp, &target).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        err("replace", &target, e)
    })
}
