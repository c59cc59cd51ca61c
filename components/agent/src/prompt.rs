//! The system prompt: a short built-in preamble plus the workspace's
//! bootstrap files in nanobot's layout.

use crate::files::Files;
use crate::prelude::*;
use wasiclaw_json::text::push_padded;

/// Read in this order when present; each shapes a different part of the agent.
pub const BOOTSTRAP_FILES: [&str; 5] = ["AGENTS.md", "SOUL.md", "USER.md", "TOOLS.md", "MEMORY.md"];
/// Larger files are cut: the prompt must leave room for the conversation.
const MAX_FILE_BYTES: usize = 32 << 10;

/// `workspace` is the directory's name as the model should see it.
/// `max_files` bounds the bootstrap files together, in bytes.
pub fn system_prompt(
    files: &mut dyn Files,
    workspace: &str,
    now_unix: u64,
    max_files: usize,
) -> String {
    let mut p = String::from(
        "You are wasiclaw, a personal AI assistant running in a WebAssembly sandbox.\n",
    );
    p.push_str("Current date and time: ");
    p.push_str(&format_utc(now_unix));
    p.push_str("\nWorkspace: ");
    p.push_str(workspace);
    p.push_str(
        " (file tool paths are relative to it; nothing outside it is reachable).\n\
         Use the tools when they help: read a file before editing it, prefer small \
         precise edits, save durable facts about the user with the memory tools and \
         search memory before saying you don't know. When a tool returns an error, \
         read it and adjust instead of repeating the same call. Answer concisely.\n",
    );
    let mut used = 0;
    for name in BOOTSTRAP_FILES {
        // An unreadable bootstrap file is skipped like a missing one: the
        // agent still works without it.
        let Ok(Some(bytes)) = files.read(name) else {
            continue;
        };
        let Ok(mut text) = String::from_utf8(bytes) else {
            continue; // not text; nothing a model could use
        };
        let room = MAX_FILE_BYTES.min(max_files.saturating_sub(used));
        if room < 64 {
            continue;
        }
        if text.len() > room {
            let mut cut = room;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("\n[... truncated]");
        }
        p.push_str("\n## ");
        p.push_str(name);
        p.push_str("\n\n");
        p.push_str(text.trim_end());
        p.push('\n');
        used += text.len();
    }
    p
}

/// `YYYY-MM-DD HH:MM UTC` without a date library (days-to-civil algorithm).
pub fn format_utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // `{year:04}-{month:02}-{day:02} {hh:02}:{mm:02} UTC` without core::fmt;
    // from u64 seconds every part is non-negative.
    let mut out = String::with_capacity(20);
    push_padded(&mut out, year.unsigned_abs(), 4);
    for (sep, n) in [
        ('-', month.unsigned_abs()),
        ('-', day.unsigned_abs()),
        (' ', secs / 3600),
        (':', secs % 3600 / 60),
    ] {
        out.push(sep);
        push_padded(&mut out, n, 2);
    }
    out.push_str(" UTC");
    out
}
