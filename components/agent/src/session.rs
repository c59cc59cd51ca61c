//! Sessions: `sessions/<name>.jsonl` in the workspace, one message per line.
//! Saving rewrites the file through a temp file and a rename, so a crash or a
//! failed turn leaves the previous version whole.

use crate::error::AgentError;
use crate::files::Files;
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

pub fn path(name: &str) -> String {
    format!("sessions/{name}.jsonl")
}

/// Reads a session; a missing file is an empty session. Corrupt lines are
/// skipped and reported through `warn`, the rest is kept.
pub fn load(
    files: &mut dyn Files,
    name: &str,
    warn: &mut dyn FnMut(&str),
) -> Result<Vec<Message>, AgentError> {
    let p = path(name);
    let bytes = match files.read(&p) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => return Err(AgentError::Session(format!("cannot read {p}: {e}"))),
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
                "wasiclaw: warning: {p} line {}: {e}; line skipped",
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

/// Writes the whole session to a temp file (synced) and renames it over the
/// old one; on any failure the old file is untouched.
pub fn save(files: &mut dyn Files, name: &str, msgs: &[Message]) -> Result<(), AgentError> {
    let err =
        |what: &str, p: &str, e: String| AgentError::Session(format!("cannot {what} {p}: {e}"));
    files
        .create_dir("sessions")
        .map_err(|e| err("create", "sessions", e))?;
    let mut text = String::new();
    for m in msgs {
        text.push_str(&m.to_json());
        text.push('\n');
    }
    let tmp = format!("sessions/.{name}.jsonl.tmp");
    let target = path(name);
    if let Err(e) = files.write(&tmp, text.as_bytes()) {
        let _ = files.remove(&tmp);
        return Err(err("write", &tmp, e));
    }
    files.rename(&tmp, &target).map_err(|e| {
        let _ = files.remove(&tmp);
        err("replace", &target, e)
    })
}
