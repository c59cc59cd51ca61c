//! Chat requests in either wire format, read back into one neutral shape so
//! tests (and the demo model) can ask "what did the client send?" without
//! caring which provider it spoke to.

use serde_json::Value;

/// Which provider API a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OpenAI Chat Completions (`.../chat/completions`).
    OpenAi,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
}

/// One message of a conversation, provider-neutral.
#[derive(Clone, Debug, PartialEq)]
pub enum Turn {
    System(String),
    User(String),
    Assistant {
        text: String,
        tool_calls: Vec<SentToolCall>,
    },
    ToolResult {
        id: String,
        content: String,
        /// Anthropic's `is_error`; OpenAI has no such flag (always false).
        is_error: bool,
    },
}

/// A tool call as it appears in the history the client sends back.
#[derive(Clone, Debug, PartialEq)]
pub struct SentToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as text (Anthropic's `input` object re-serialised).
    pub arguments: String,
}

/// A chat request as the responder sees it.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    pub format: Format,
    /// Zero-based position among the chat requests this server received.
    pub index: usize,
    pub body: Value,
}

impl ChatRequest {
    pub fn stream(&self) -> bool {
        self.body
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn model(&self) -> &str {
        self.body.get("model").and_then(Value::as_str).unwrap_or("")
    }

    pub fn conversation(&self) -> Vec<Turn> {
        conversation(self.format, &self.body)
    }
}

/// Text of an OpenAI `content` (string or array of parts) or an Anthropic
/// `content`/`system` (string or array of blocks): the text parts joined.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                _ => p.get("text").and_then(Value::as_str),
            })
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The conversation carried by a request body.
pub fn conversation(format: Format, body: &Value) -> Vec<Turn> {
    let messages = body.get("messages").and_then(Value::as_array);
    let messages = messages.map(Vec::as_slice).unwrap_or(&[]);
    match format {
        Format::OpenAi => messages.iter().filter_map(openai_turn).collect(),
        Format::Anthropic => {
            let mut turns = Vec::new();
            if let Some(system) = body.get("system") {
                turns.push(Turn::System(content_text(system)));
            }
            for m in messages {
                anthropic_turns(m, &mut turns);
            }
            turns
        }
    }
}

fn openai_turn(m: &Value) -> Option<Turn> {
    let text = m.get("content").map(content_text).unwrap_or_default();
    Some(match m.get("role")?.as_str()? {
        "system" | "developer" => Turn::System(text),
        "user" => Turn::User(text),
        "tool" => Turn::ToolResult {
            id: m
                .get("tool_call_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            content: text,
            is_error: false,
        },
        "assistant" => {
            let calls = m.get("tool_calls").and_then(Value::as_array);
            let tool_calls = calls
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|c| {
                    let f = c.get("function");
                    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
                    SentToolCall {
                        id: s(c.get("id")),
                        name: s(f.and_then(|f| f.get("name"))),
                        arguments: s(f.and_then(|f| f.get("arguments"))),
                    }
                })
                .collect();
            Turn::Assistant { text, tool_calls }
        }
        _ => return None,
    })
}

fn anthropic_turns(m: &Value, out: &mut Vec<Turn>) {
    let role = m.get("role").and_then(Value::as_str).unwrap_or("");
    let content = m.get("content").cloned().unwrap_or(Value::Null);
    let blocks = match content {
        Value::String(s) => vec![serde_json::json!({"type": "text", "text": s})],
        Value::Array(b) => b,
        _ => Vec::new(),
    };
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    if role == "assistant" {
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for b in &blocks {
            match b.get("type").and_then(Value::as_str) {
                Some("text") => text.push_str(&s(b.get("text"))),
                Some("tool_use") => tool_calls.push(SentToolCall {
                    id: s(b.get("id")),
                    name: s(b.get("name")),
                    arguments: b.get("input").map(Value::to_string).unwrap_or_default(),
                }),
                _ => {}
            }
        }
        out.push(Turn::Assistant { text, tool_calls });
        return;
    }
    let mut text = String::new();
    for b in &blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(&s(b.get("text"))),
            Some("tool_result") => out.push(Turn::ToolResult {
                id: s(b.get("tool_use_id")),
                content: b.get("content").map(content_text).unwrap_or_default(),
                is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            }),
            _ => {}
        }
    }
    if !text.is_empty() {
        out.push(Turn::User(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_history() {
        let body = json!({"model": "m", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "A"},
        ]});
        let turns = conversation(Format::OpenAi, &body);
        assert_eq!(turns.len(), 4);
        assert_eq!(turns[1], Turn::User("hi".into()));
        match &turns[2] {
            Turn::Assistant { text, tool_calls } => {
                assert!(text.is_empty());
                assert_eq!(tool_calls[0].name, "read_file");
                assert_eq!(tool_calls[0].arguments, "{\"path\":\"a\"}");
            }
            t => panic!("unexpected {t:?}"),
        }
        assert_eq!(
            turns[3],
            Turn::ToolResult {
                id: "c1".into(),
                content: "A".into(),
                is_error: false
            }
        );
    }

    #[test]
    fn anthropic_history() {
        let body = json!({"model": "m", "system": [{"type": "text", "text": "sys"}], "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "let me"},
                {"type": "tool_use", "id": "t1", "name": "list_dir", "input": {"path": "."}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                "content": [{"type": "text", "text": "a.txt"}], "is_error": true}]},
        ]});
        let turns = conversation(Format::Anthropic, &body);
        assert_eq!(turns[0], Turn::System("sys".into()));
        assert_eq!(turns[1], Turn::User("hi".into()));
        match &turns[2] {
            Turn::Assistant { text, tool_calls } => {
                assert_eq!(text, "let me");
                assert_eq!(tool_calls[0].arguments, "{\"path\":\".\"}");
            }
            t => panic!("unexpected {t:?}"),
        }
        assert_eq!(
            turns[3],
            Turn::ToolResult {
                id: "t1".into(),
                content: "a.txt".into(),
                is_error: true
            }
        );
    }
}
