//! Memory that works without being asked. **Recall**: before each turn the
//! memories most like the user's message (this session's consolidated
//! history and the workspace's saved memories, never another session's
//! private history) go into the system prompt. **Consolidation**: when the
//! part of a session still sent to the model grows past a share of the
//! context budget, its oldest turns are summarised by the model into a dated
//! entry of `memory/HISTORY.md` and `FACT:` lines for `MEMORY.md` (both also
//! saved as memories), then left out of the context while staying in the
//! session file. On a threshold, never a timer; at most once per turn; and
//! a failed consolidation changes nothing.

use wasiclaw_json::Value;

use crate::files::Files;
use crate::message::{Message, Role};
use crate::prelude::*;
use crate::prompt::format_utc;
use crate::tools::{ToolSpec, Tools};

/// The first line of every consolidation request's system prompt.
pub const MARK: &str = "[wasiclaw consolidation]";
pub const HISTORY: &str = "memory/HISTORY.md";
pub const FACTS: &str = "MEMORY.md";
/// How many memories recall asks for, and how alike they must be.
const RECALL_K: &str = "5";
const RECALL_MIN_SCORE: &str = "0.25";
/// The consolidation reply's length limit, in tokens.
pub const MAX_REPLY_TOKENS: u32 = 1024;

const INSTRUCTIONS: &str = "You keep the long-term memory of a personal assistant. Below is \
the oldest part of a conversation, about to leave the assistant's context. Write a short \
summary of it (a few sentences: what was asked, decided and done). Then, one per line, \
each durable fact worth keeping (about the user, their preferences, projects, names, \
dates) as a line that starts with FACT: . Plain text only; no tool calls.";

/// Where a session's consolidation progress is kept: how many of its saved
/// messages are consolidated (and so no longer sent).
pub fn marker(session: &str) -> String {
    cat!("sessions/.", session, ".consolidated")
}

/// How many of `saved` are consolidated. A marker that does not fall on a
/// turn's start (the file was edited) counts as none.
pub fn consolidated(files: &mut dyn Files, session: &str, saved: &[Message]) -> usize {
    let n = match files.read(&marker(session)) {
        Ok(Some(b)) => core::str::from_utf8(&b)
            .ok()
            .and_then(|t| wasiclaw_json::parse(t).ok())
            .and_then(|v| v.get("through").and_then(Value::as_u64))
            .unwrap_or(0) as usize,
        _ => 0,
    };
    let on_turn = n == saved.len() || saved.get(n).is_some_and(|m| m.role == Role::User);
    if n <= saved.len() && on_turn {
        n
    } else {
        0
    }
}

fn tokens(msgs: &[Message]) -> usize {
    msgs.iter().map(Message::estimate_tokens).sum()
}

/// Whether to consolidate: when `saved[from..]` costs more than
/// `threshold` tokens, the end of the oldest turns to consolidate, chosen so
/// that what stays is at most half the threshold (so the next consolidation
/// is many turns away) and what goes is at most `max_span` tokens. Whole
/// turns only (a tool call stays with its result), and never the latest.
pub fn plan(saved: &[Message], from: usize, threshold: usize, max_span: usize) -> Option<usize> {
    let rest = saved.get(from..)?;
    let mut remaining = tokens(rest);
    if remaining <= threshold {
        return None;
    }
    let starts: Vec<usize> = (from + 1..saved.len())
        .filter(|&i| saved[i].role == Role::User)
        .collect();
    let mut cut = None;
    let mut span = 0;
    let mut prev = from;
    for &s in &starts {
        let turn = tokens(&saved[prev..s]);
        if cut.is_some() && span + turn > max_span {
            break;
        }
        span += turn;
        remaining -= turn;
        cut = Some(s);
        prev = s;
        if remaining <= threshold / 2 {
            break;
        }
    }
    cut
}

/// The transcript the model summarises, at most `max_bytes`.
pub fn transcript(msgs: &[Message], max_bytes: usize) -> String {
    let mut out = String::new();
    for m in msgs {
        let who = match m.role {
            Role::User => "User",
            Role::Assistant => "Assistant",
            Role::Tool => "Tool result",
        };
        let mut line = cat!(who, ": ", m.content.trim());
        for c in &m.tool_calls {
            line.push_str(&cat!("\n(called ", c.name, " with ", c.arguments, ")"));
        }
        line.push_str("\n\n");
        if out.len() + line.len() > max_bytes {
            let room = max_bytes.saturating_sub(out.len());
            out.push_str(wasiclaw_json::text::prefix_chars(&line, room / 4));
            out.push_str("\n[... cut]\n");
            break;
        }
        out.push_str(&line);
    }
    out
}

/// The consolidation request's system prompt and user message.
pub fn request(msgs: &[Message], max_bytes: usize) -> (String, Message) {
    let system = cat!(MARK, "\n", INSTRUCTIONS);
    (system, Message::user(transcript(msgs, max_bytes)))
}

/// A reply split into the summary and its `FACT:` lines.
pub fn split_reply(reply: &str) -> (String, Vec<String>) {
    let mut summary = String::new();
    let mut facts = Vec::new();
    for line in reply.lines() {
        let t = line.trim();
        let t = t.strip_prefix("- ").unwrap_or(t);
        if let Some(f) = t.strip_prefix("FACT:") {
            let f = f.trim();
            if !f.is_empty() && !facts.iter().any(|x: &String| x == f) {
                facts.push(f.to_string());
            }
        } else {
            summary.push_str(line);
            summary.push('\n');
        }
    }
    (summary.trim().to_string(), facts)
}

/// Replaces `path` with `data` through a temp file and a rename.
fn replace(files: &mut dyn Files, path: &str, data: &str) -> Result<(), String> {
    let tmp = cat!(path, ".tmp");
    files.write(&tmp, data.as_bytes())?;
    files.rename(&tmp, path)
}

fn read_text(files: &mut dyn Files, path: &str) -> Result<String, String> {
    match files.read(path)? {
        Some(b) => String::from_utf8(b).map_err(|_| cat!(path, " is not UTF-8")),
        None => Ok(String::new()),
    }
}

/// Records a consolidation: the dated history entry, the new facts, their
/// memories, and last the marker, so that a crash part-way repeats it (the
/// entry's heading makes the repeat write nothing twice) rather than
/// losing it. `range` is the 1-based span of session messages it covers.
pub fn record(
    files: &mut dyn Files,
    tools: &mut dyn Tools,
    log: &mut dyn FnMut(&str),
    session: &str,
    now_unix: u64,
    range: (usize, usize),
    reply: &str,
) -> Result<(), String> {
    let (summary, facts) = split_reply(reply);
    if summary.is_empty() && facts.is_empty() {
        return Err("the model's summary was empty".to_string());
    }
    let heading = cat!(
        "## ",
        format_utc(now_unix),
        " - session ",
        session,
        ", messages ",
        range.0,
        "-",
        range.1
    );
    files.create_dir("memory")?;
    let mut history = read_text(files, HISTORY)?;
    let fresh = !history.lines().any(|l| l == heading);
    if fresh {
        if history.is_empty() {
            history.push_str("# History\n\nWhat older conversations were about, written as they left the context.\n");
        }
        history.push_str(&cat!("\n", heading, "\n\n", summary, "\n"));
        replace(files, HISTORY, &history)?;
    }
    let mut known = read_text(files, FACTS)?;
    let mut new_facts = Vec::new();
    for f in &facts {
        let line = cat!("- ", f);
        if !known.lines().any(|l| l.trim() == line) {
            if !known.is_empty() && !known.ends_with('\n') {
                known.push('\n');
            }
            known.push_str(&line);
            known.push('\n');
            new_facts.push(f);
        }
    }
    if !new_facts.is_empty() {
        replace(files, FACTS, &known)?;
    }
    // Memories: best effort (a workspace without the memory tools, or an
    // embedder that is down, still gets its history and facts files).
    let mut save = |text: &str, tags: &[&str]| {
        let mut args = String::from("{\"text\":");
        wasiclaw_json::write_escaped(&mut args, text);
        args.push_str(",\"tags\":[");
        for (i, t) in tags.iter().enumerate() {
            if i > 0 {
                args.push(',');
            }
            wasiclaw_json::write_escaped(&mut args, t);
        }
        args.push_str("]}");
        if let Err(e) = tools.call("memory_save", &args) {
            log(&cat!(
                "wasiclaw: warning: consolidation: memory_save: ",
                e.message()
            ));
        }
    };
    if fresh && !summary.is_empty() {
        let tag = cat!("session:", session);
        save(&summary, &["history", &tag]);
    }
    for f in new_facts {
        save(f, &["fact"]);
    }
    replace(
        files,
        &marker(session),
        &cat!("{\"through\":", range.1, "}\n"),
    )
}

/// The recall section of the system prompt: what `memory_search` finds for
/// `message` in this session's and the workspace's memories, within
/// `max_bytes`; empty when there is nothing (or no memory tools).
pub fn recall(
    tools: &mut dyn Tools,
    specs: &[ToolSpec],
    session: &str,
    message: &str,
    max_bytes: usize,
) -> String {
    if !specs.iter().any(|s| s.name == "memory_search") || message.trim().is_empty() {
        return String::new();
    }
    let mut args = String::from("{\"query\":");
    wasiclaw_json::write_escaped(&mut args, wasiclaw_json::text::prefix_chars(message, 2000));
    args.push_str(&cat!(
        ",\"k\":",
        RECALL_K,
        ",\"min_score\":",
        RECALL_MIN_SCORE,
        ",\"session\":"
    ));
    wasiclaw_json::write_escaped(&mut args, session);
    args.push('}');
    let Ok(found) = tools.call("memory_search", &args) else {
        return String::new();
    };
    if !found.starts_with("Top ") {
        return String::new();
    }
    let head = "\n## Recalled memories\n\nFrom long-term memory, chosen for the user's latest \
                message (may be out of date):\n\n";
    let room = max_bytes.saturating_sub(head.len() + 16);
    if room < 64 {
        return String::new();
    }
    let mut body = found;
    if body.len() > room {
        let cut = wasiclaw_json::text::prefix_chars(&body, room / 4).len();
        body.truncate(cut);
        body.push_str("\n[... cut]");
    }
    cat!(head, body, "\n")
}
