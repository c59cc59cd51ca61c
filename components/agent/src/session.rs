//! Sessions: `sessions/<name>.jsonl` in the workspace, one message per line.
//! Saving rewrites the file through a temp file and a rename, so a crash or a
//! failed turn leaves the previous version whole. Two turns of one session
//! may run at once (`wasmtime serve` handles requests concurrently, and two
//! `run`s can overlap): a save holds a lock file while it reads, checks and
//! replaces the session, and a save that finds another turn's messages
//! appended since its load keeps them and adds its own after them, so
//! neither turn is lost.

use crate::prelude::*;
use core::time::Duration;
use wasiclaw_json::text::hex;

use crate::error::AgentError;
use crate::files::Files;
use crate::http::Clock;
use crate::message::{Message, Role};

pub use wasiclaw_contract::DEFAULT_SESSION;

/// Checks a session name (`default` when empty); the rule is the contract's,
/// so the hosts lock and meter the session the guest will use.
pub fn validate_name(name: &str) -> Result<&str, String> {
    wasiclaw_contract::validate_session(name).map_err(|e| {
        cat!(
            "invalid session name '",
            e.0,
            "' (",
            wasiclaw_contract::SessionNameError::RULE,
            ")"
        )
    })
}

pub fn path(name: &str) -> String {
    cat!("sessions/", name, ".jsonl")
}

/// The session file as a turn loaded it: a save compares the file against
/// it to notice another writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Base {
    len: usize,
    hash: u64,
}

impl Default for Base {
    /// A session that did not exist.
    fn default() -> Self {
        Base {
            len: 0,
            hash: fnv1a(b""),
        }
    }
}

/// FNV-1a: enough to tell whether a file still starts with what was read.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Reads a session, with the [`Base`] to give [`save`]; a missing file is an
/// empty session. Damaged lines (not UTF-8, not a message) are skipped and
/// reported through `warn`; every line that parses is returned as it was,
/// even where the history is no longer one a provider accepts, so that the
/// next save keeps it. What is sent is made valid by [`repair`].
pub fn load(
    files: &mut dyn Files,
    name: &str,
    warn: &mut dyn FnMut(&str),
) -> Result<(Vec<Message>, Base), AgentError> {
    let p = path(name);
    let bytes = match files.read(&p) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok((Vec::new(), Base::default())),
        Err(e) => return Err(AgentError::Session(cat!("cannot read ", p, ": ", e))),
    };
    let mut out = Vec::new();
    parse_lines(&bytes, &p, warn, &mut out);
    let base = Base {
        len: bytes.len(),
        hash: fnv1a(&bytes),
    };
    Ok((out, base))
}

/// Appends the messages of JSONL `bytes` (read from `what`, named in the
/// warnings) to `out`, skipping and reporting each damaged line.
pub(crate) fn parse_lines(
    bytes: &[u8],
    what: &str,
    warn: &mut dyn FnMut(&str),
    out: &mut Vec<Message>,
) {
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = core::str::from_utf8(line)
            .map_err(|_| "not UTF-8".to_string())
            .and_then(Message::from_json);
        match parsed {
            Ok(m) => out.push(m),
            Err(e) => warn(&cat!(
                "wasiclaw: warning: ",
                what,
                " line ",
                i + 1,
                ": ",
                e,
                "; line skipped"
            )),
        }
    }
}

/// Stands in for the start of a history whose first lines were lost.
pub const LOST_START: &str = "[wasiclaw: the start of this session was lost]";

/// The history as a provider accepts it after lines were lost: it starts
/// with a user message ([`LOST_START`] when the first one left is the
/// assistant's), orphan tool results are left out, and a tool call whose
/// result is missing is answered with an error result. This is only what is
/// sent: the session file keeps the messages as they were read.
pub fn repair(msgs: &[Message]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(msgs.len() + 1);
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
        match m.role {
            Role::Tool => {
                if let Some(at) = pending.iter().position(|c| c.id == m.tool_call_id) {
                    pending.remove(at);
                    out.push(m.clone());
                }
            }
            Role::User | Role::Assistant => {
                flush(&mut out, &mut pending);
                if out.is_empty() && m.role == Role::Assistant {
                    out.push(Message::user(LOST_START));
                }
                pending.clone_from(&m.tool_calls);
                out.push(m.clone());
            }
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// Writes the session to a temp file (synced) and renames it over the old
/// one; on any failure the old file is untouched. `loaded` is what [`load`]
/// returned for the file `base` describes, `new` what this turn added. A
/// file still as loaded is rewritten as `loaded` then `new` (its damaged
/// lines are dropped then). If another turn has saved since (appended to the
/// file, or rewritten it so and appended), the file is kept and `new` goes
/// after it; if the file was otherwise replaced, nothing is written and the
/// error says so.
pub fn save(
    files: &mut dyn Files,
    clock: &mut dyn Clock,
    name: &str,
    loaded: &[Message],
    new: &[Message],
    base: &Base,
) -> Result<(), AgentError> {
    files
        .create_dir("sessions")
        .map_err(|e| AgentError::Session(cat!("cannot create sessions: ", e)))?;
    let lock = cat!("sessions/.", name, ".jsonl.lock");
    take_lock(files, clock, &lock)?;
    let saved = save_locked(files, name, loaded, new, base);
    let _ = files.remove(&lock);
    saved
}

/// Saves take milliseconds, so a lock older than this was left by a turn
/// that died mid-save (a host's time limit, a crash) and is taken over.
const LOCK_PATIENCE: Duration = Duration::from_secs(3);
const LOCK_POLL: Duration = Duration::from_millis(20);

fn take_lock(files: &mut dyn Files, clock: &mut dyn Clock, lock: &str) -> Result<(), AgentError> {
    let err = |e: String| AgentError::Session(cat!("cannot lock ", lock, ": ", e));
    let tries = LOCK_PATIENCE.as_millis() / LOCK_POLL.as_millis();
    for _ in 0..tries {
        if files.create_new(lock).map_err(err)? {
            return Ok(());
        }
        clock.sleep(LOCK_POLL);
    }
    let _ = files.remove(lock);
    match files.create_new(lock).map_err(err)? {
        true => Ok(()),
        false => Err(err("another turn keeps it".into())),
    }
}

fn save_locked(
    files: &mut dyn Files,
    name: &str,
    loaded: &[Message],
    new: &[Message],
    base: &Base,
) -> Result<(), AgentError> {
    let err = |what: &str, p: &str, e: String| {
        AgentError::Session(cat!("cannot ", what, " ", p, ": ", e))
    };
    let target = path(name);
    let now = files
        .read(&target)
        .map_err(|e| err("read", &target, e))?
        .unwrap_or_default();
    let mut text = lines(loaded);
    if now.len() != base.len || fnv1a(&now) != base.hash {
        let appended = now.len() > base.len && fnv1a(&now[..base.len]) == base.hash;
        if !appended && !now.starts_with(&text) {
            return Err(AgentError::Session(cat!(
                target,
                " was replaced while this turn ran, so this turn was not saved"
            )));
        }
        text = now;
        if text.last() != Some(&b'\n') {
            text.push(b'\n');
        }
    }
    text.extend_from_slice(&lines(new));
    // A name of its own per write: concurrent saves never share a temp file.
    let tmp = cat!("sessions/.", name, ".jsonl.", hex(fnv1a(&text), 16), ".tmp");
    if let Err(e) = files.write(&tmp, &text) {
        let _ = files.remove(&tmp);
        return Err(err("write", &tmp, e));
    }
    files.rename(&tmp, &target).map_err(|e| {
        let _ = files.remove(&tmp);
        err("replace", &target, e)
    })
}

/// Messages as the JSONL a save writes.
pub(crate) fn lines(msgs: &[Message]) -> Vec<u8> {
    let mut text = Vec::new();
    for m in msgs {
        text.extend_from_slice(m.to_json().as_bytes());
        text.push(b'\n');
    }
    text
}
