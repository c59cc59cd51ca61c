//! The offline, scripted demo model. It follows a fixed plan driven only by
//! the conversation it is sent (never a counter), so it behaves the same in
//! any session and across turns: for the latest user message it writes a
//! note, reads it back, saves the message to memory, then answers with a
//! summary quoting what those tools actually returned.

use serde_json::{json, Value};

use crate::conversation::{ChatRequest, Turn};
use crate::script::{Reply, Responder};

/// Shown as the model name and in every answer: nobody should mistake it
/// for a real LLM.
pub const DEMO_LABEL: &str = "wasiclaw demo model (offline, scripted)";

/// The [`Responder`] behind `wasiclaw-demo-model`.
#[derive(Debug, Default)]
pub struct DemoModel {
    /// Print each step on stderr.
    pub verbose: bool,
}

/// A note path derived from the message, so different messages get different notes.
pub fn note_path(message: &str) -> String {
    let words: Vec<String> = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(5)
        .map(str::to_ascii_lowercase)
        .collect();
    let mut slug = words.join("-");
    slug.truncate(40);
    let slug = slug.trim_end_matches('-');
    format!("notes/{}.md", if slug.is_empty() { "note" } else { slug })
}

fn quote(text: &str, max: usize) -> String {
    let mut t: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        t.push_str(" [...]");
    }
    t.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the model does next, given the conversation so far.
pub fn next_step(turns: &[Turn], advertised: &[String]) -> Reply {
    let last_user = turns.iter().enumerate().rev().find_map(|(i, t)| match t {
        Turn::User(m) => Some((i, m.trim())),
        _ => None,
    });
    let Some((u, message)) = last_user else {
        return Reply::text(&format!(
            "{DEMO_LABEL}: send me a message and I will write it to a note, read it back and \
             save it to memory."
        ));
    };
    let path = note_path(message);
    // Results since the user spoke, by the name of the tool that produced them.
    let tail = &turns[u + 1..];
    let mut called: Vec<(String, String)> = Vec::new();
    for t in tail {
        if let Turn::Assistant { tool_calls, .. } = t {
            called.extend(tool_calls.iter().map(|c| (c.id.clone(), c.name.clone())));
        }
    }
    let result = |name: &str| -> Option<String> {
        tail.iter().find_map(|t| match t {
            Turn::ToolResult { id, content, .. }
                if called.iter().any(|(cid, n)| cid == id && n == name) =>
            {
                Some(content.clone())
            }
            _ => None,
        })
    };
    let was_called = |name: &str| called.iter().any(|(_, n)| n == name);
    let offers = |name: &str| advertised.iter().any(|a| a == name);
    let plan: [(&str, Value); 3] = [
        (
            "write_file",
            json!({"path": path, "content": format!("# Note\n\n{message}\n")}),
        ),
        ("read_file", json!({"path": path})),
        ("memory_save", json!({"text": message, "tags": ["demo"]})),
    ];
    for (name, args) in plan {
        if offers(name) && !was_called(name) {
            return Reply::tool(name, args);
        }
    }
    let shown = |name: &str| match result(name) {
        Some(r) => quote(&r, 400),
        None => "    (tool not available in this request)".to_string(),
    };
    let read = result("read_file").unwrap_or_default();
    let verdict = if read.contains(message) {
        "The note read back contains your message, so the tools really ran."
    } else {
        "The note read back does NOT contain your message: look at the tool output above."
    };
    Reply::text(&format!(
        "{DEMO_LABEL}. You said: \"{message}\"\n\
         1. write_file {path} returned:\n{}\n\
         2. read_file {path} returned:\n{}\n\
         3. memory_save returned:\n{}\n\
         {verdict}",
        shown("write_file"),
        shown("read_file"),
        shown("memory_save"),
    ))
}

impl Responder for DemoModel {
    fn respond(&self, request: &ChatRequest) -> Option<Reply> {
        let advertised: Vec<String> = request
            .body
            .get("tools")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|t| t.pointer("/function/name").or_else(|| t.get("name")))
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let reply = next_step(&request.conversation(), &advertised);
        if self.verbose {
            match &reply {
                Reply::Answer { tool_calls, .. } if !tool_calls.is_empty() => {
                    eprintln!(
                        "demo model: request #{}: calling {}",
                        request.index, tool_calls[0].name
                    )
                }
                _ => eprintln!("demo model: request #{}: answering", request.index),
            }
        }
        Some(reply)
    }

    fn model_name(&self) -> Option<String> {
        Some(DEMO_LABEL.to_string())
    }
}

/// The [`Responder`] behind `wasiclaw-demo-model --instant`: every chat
/// request gets the same short text answer at once, no tool calls, so a
/// benchmark of `wasiclaw serve` measures the host and the guest, not the
/// model. Each request is still validated and answered in its wire format.
#[derive(Debug, Default)]
pub struct InstantModel;

/// What [`InstantModel`] answers.
pub const INSTANT_REPLY: &str = "wasiclaw demo model (offline, scripted): instant reply.";

impl Responder for InstantModel {
    fn respond(&self, _request: &ChatRequest) -> Option<Reply> {
        Some(Reply::text(INSTANT_REPLY))
    }

    fn model_name(&self) -> Option<String> {
        Some(DEMO_LABEL.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::SentToolCall;
    use crate::script::ToolCall;

    fn all() -> Vec<String> {
        ["read_file", "write_file", "memory_save"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn call(id: &str, name: &str) -> Turn {
        Turn::Assistant {
            text: String::new(),
            tool_calls: vec![SentToolCall {
                id: id.into(),
                name: name.into(),
                arguments: "{}".into(),
            }],
        }
    }

    fn result(id: &str, content: &str) -> Turn {
        Turn::ToolResult {
            id: id.into(),
            content: content.into(),
            is_error: false,
        }
    }

    fn tool_name(r: &Reply) -> Option<&str> {
        match r {
            Reply::Answer { tool_calls, .. } => tool_calls.first().map(|c| c.name.as_str()),
            Reply::Fault(_) => None,
        }
    }

    #[test]
    fn follows_the_plan_from_conversation_state() {
        let mut turns = vec![
            Turn::System("s".into()),
            Turn::User("Hello from wasiclaw".into()),
        ];
        let r = next_step(&turns, &all());
        assert_eq!(
            r,
            Reply::Answer {
                text: String::new(),
                tool_calls: vec![ToolCall::new(
                    "write_file",
                    json!({"path": "notes/hello-from-wasiclaw.md", "content": "# Note\n\nHello from wasiclaw\n"})
                )]
            }
        );
        turns.extend([call("a", "write_file"), result("a", "wrote 31 bytes")]);
        assert_eq!(tool_name(&next_step(&turns, &all())), Some("read_file"));
        turns.extend([
            call("b", "read_file"),
            result("b", "# Note\n\nHello from wasiclaw\n"),
        ]);
        assert_eq!(tool_name(&next_step(&turns, &all())), Some("memory_save"));
        turns.extend([call("c", "memory_save"), result("c", "saved memory 1")]);
        let Reply::Answer { text, tool_calls } = next_step(&turns, &all()) else {
            panic!()
        };
        assert!(tool_calls.is_empty());
        assert!(text.contains(DEMO_LABEL));
        assert!(text.contains("wrote 31 bytes"));
        assert!(text.contains("saved memory 1"));
        assert!(text.contains("really ran"));
        // A new user message starts the plan again, whatever came before.
        turns.push(Turn::User("Second turn".into()));
        assert_eq!(tool_name(&next_step(&turns, &all())), Some("write_file"));
    }

    #[test]
    fn reports_a_note_that_did_not_read_back() {
        let turns = vec![
            Turn::User("abc".into()),
            call("a", "write_file"),
            result("a", "error: denied"),
            call("b", "read_file"),
            result("b", "error: not found"),
            call("c", "memory_save"),
            result("c", "ok"),
        ];
        let Reply::Answer { text, .. } = next_step(&turns, &all()) else {
            panic!()
        };
        assert!(text.contains("does NOT contain"));
        assert!(text.contains("error: not found"));
    }

    #[test]
    fn skips_tools_the_client_does_not_offer() {
        let turns = vec![Turn::User("hi".into())];
        let r = next_step(&turns, &["read_file".to_string()]);
        assert_eq!(tool_name(&r), Some("read_file"));
        let Reply::Answer { tool_calls, .. } = next_step(&turns, &[]) else {
            panic!()
        };
        assert!(tool_calls.is_empty());
    }

    #[test]
    fn instant_model_answers_text_even_when_tools_are_offered() {
        let request = ChatRequest {
            format: crate::conversation::Format::OpenAi,
            index: 7,
            body: json!({
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "function", "function": {"name": "write_file"}}],
            }),
        };
        assert_eq!(
            InstantModel.respond(&request),
            Some(Reply::text(INSTANT_REPLY))
        );
        assert_eq!(InstantModel.model_name().as_deref(), Some(DEMO_LABEL));
    }

    #[test]
    fn note_paths() {
        assert_eq!(
            note_path("Hello from wasiclaw"),
            "notes/hello-from-wasiclaw.md"
        );
        assert_eq!(note_path("!!!"), "notes/note.md");
        assert!(note_path(&"word ".repeat(50)).len() <= "notes/.md".len() + 40);
    }
}
