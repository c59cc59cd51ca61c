//! OpenAI-compatible Chat Completions (OpenAI, Ollama, vLLM, llama.cpp, ...).

use crate::prelude::*;
use wasiclaw_json::Value;

use super::{object_text, str_field, ChatRequest, Completion};
use crate::jsonw::JsonWriter;
use crate::message::{Message, Role, ToolCall, Usage};
use crate::sse::Event;

pub fn request_body(req: &ChatRequest) -> String {
    let mut w = JsonWriter::default();
    w.open('{').field("model", req.model);
    w.key("messages").open('[');
    if !req.system.is_empty() {
        w.open('{')
            .field("role", "system")
            .field("content", req.system)
            .close('}');
    }
    for m in req.messages {
        message(&mut w, m);
    }
    w.close(']');
    if !req.tools.is_empty() {
        w.key("tools").open('[');
        for t in req.tools {
            w.open('{')
                .field("type", "function")
                .key("function")
                .open('{');
            w.field("name", &t.name)
                .field("description", &t.description)
                .key("parameters")
                .raw(object_text(&t.parameters, r#"{"type":"object"}"#));
            w.close('}').close('}');
        }
        w.close(']');
    }
    if req.stream {
        w.key("stream").raw("true");
        w.key("stream_options").raw(r#"{"include_usage":true}"#);
    }
    w.close('}');
    w.out
}

fn message(w: &mut JsonWriter, m: &Message) {
    w.open('{');
    match m.role {
        Role::User => {
            w.field("role", "user").field("content", &m.content);
        }
        Role::Tool => {
            w.field("role", "tool")
                .field("tool_call_id", &m.tool_call_id)
                .field("content", &m.content);
        }
        Role::Assistant => {
            w.field("role", "assistant").key("content");
            if m.tool_calls.is_empty() || !m.content.is_empty() {
                w.str(&m.content);
            } else {
                w.raw("null");
            }
            if !m.tool_calls.is_empty() {
                w.key("tool_calls").open('[');
                for c in &m.tool_calls {
                    w.open('{').field("id", &c.id).field("type", "function");
                    w.key("function")
                        .open('{')
                        .field("name", &c.name)
                        .field("arguments", &c.arguments)
                        .close('}');
                    w.close('}');
                }
                w.close(']');
            }
        }
    }
    w.close('}');
}

fn usage(v: &Value) -> Usage {
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("prompt_tokens"),
        output_tokens: n("completion_tokens"),
    }
}

fn api_error(v: &Value) -> Option<String> {
    let e = v.get("error").filter(|e| !e.is_null())?;
    let msg = e.get("message").and_then(Value::as_str).or(e.as_str());
    Some(cat!("provider error: ", msg.unwrap_or("(no message)")))
}

pub fn parse_reply(body: &str) -> Result<Completion, String> {
    from_value(&wasiclaw_json::parse(body).map_err(|e| e.message())?)
}

pub fn from_value(v: &Value) -> Result<Completion, String> {
    if let Some(e) = api_error(v) {
        return Err(e);
    }
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or("no \"choices\" in the reply")?;
    let msg = choice.get("message").ok_or("choice has no \"message\"")?;
    let text = match msg.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::Str(s)) => s.clone(),
        Some(_) => return Err("\"content\" is not a string".into()),
    };
    let mut tool_calls = Vec::new();
    if let Some(calls) = msg.get("tool_calls").filter(|c| !c.is_null()) {
        let calls = calls.as_array().ok_or("\"tool_calls\" is not an array")?;
        for (i, c) in calls.iter().enumerate() {
            let f = c.get("function").ok_or("tool call has no \"function\"")?;
            let arguments = match f.get("arguments") {
                None | Some(Value::Null) => String::new(),
                Some(Value::Str(s)) => s.clone(),
                // Some servers send an object instead of JSON text.
                Some(other) => other.to_json(),
            };
            tool_calls.push(ToolCall {
                id: call_id(c.get("id").and_then(Value::as_str), i),
                name: str_field(f, "name", "tool call")?.to_string(),
                arguments,
            });
        }
    }
    Ok(Completion {
        text,
        tool_calls,
        usage: v.get("usage").map(usage).unwrap_or_default(),
    })
}

/// Ids tie results to calls; servers that omit them get stable synthetic ones.
fn call_id(id: Option<&str>, index: usize) -> String {
    match id {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => cat!("call_", index),
    }
}

#[derive(Default)]
struct PartialCall {
    index: u64,
    id: String,
    name: String,
    arguments: String,
}

/// Accumulates `chat.completion.chunk` deltas; tool calls arrive as
/// fragments keyed by `index`.
#[derive(Default)]
pub struct Stream {
    text: String,
    calls: Vec<PartialCall>,
    usage: Usage,
    done: bool,
}

impl Stream {
    pub fn on_event(&mut self, ev: &Event, on_text: &mut dyn FnMut(&str)) -> Result<(), String> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if self.done {
            return Err("data after [DONE]".into());
        }
        let v = wasiclaw_json::parse(data).map_err(|e| cat!(e, " in event ", excerpt(data)))?;
        if let Some(e) = api_error(&v) {
            return Err(e);
        }
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            self.usage = usage(u);
        }
        let Some(choices) = v.get("choices").and_then(Value::as_array) else {
            return Ok(());
        };
        for choice in choices {
            let Some(delta) = choice.get("delta") else {
                continue;
            };
            if let Some(t) = delta.get("content").and_then(Value::as_str) {
                if !t.is_empty() {
                    self.text.push_str(t);
                    on_text(t);
                }
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for c in calls {
                    self.call_delta(c);
                }
            }
        }
        Ok(())
    }

    fn call_delta(&mut self, c: &Value) {
        let index = c
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(self.calls.len() as u64);
        let pos = match self.calls.iter().position(|p| p.index == index) {
            Some(p) => p,
            None => {
                self.calls.push(PartialCall {
                    index,
                    ..PartialCall::default()
                });
                self.calls.len() - 1
            }
        };
        let p = &mut self.calls[pos];
        if let Some(id) = c.get("id").and_then(Value::as_str) {
            if p.id.is_empty() {
                p.id = id.to_string();
            }
        }
        if let Some(f) = c.get("function") {
            if let Some(name) = f.get("name").and_then(Value::as_str) {
                if p.name.is_empty() {
                    p.name = name.to_string();
                }
            }
            if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                p.arguments.push_str(a);
            }
        }
    }

    pub fn done(&self) -> bool {
        self.done
    }

    pub fn finish(self) -> Result<Completion, String> {
        if !self.done {
            return Err("the stream ended before [DONE] (truncated reply)".into());
        }
        let mut tool_calls = Vec::with_capacity(self.calls.len());
        for (i, p) in self.calls.into_iter().enumerate() {
            if p.name.is_empty() {
                return Err("a streamed tool call has no name".into());
            }
            tool_calls.push(ToolCall {
                id: call_id(Some(&p.id), i),
                name: p.name,
                arguments: p.arguments,
            });
        }
        Ok(Completion {
            text: self.text,
            tool_calls,
            usage: self.usage,
        })
    }
}

/// The start of a bad payload, for error messages.
pub(crate) fn excerpt(s: &str) -> String {
    let head = wasiclaw_json::text::prefix_chars(s, 80);
    let mut out = wasiclaw_json::quote(head);
    if head.len() < s.len() {
        out.push_str("...");
    }
    out
}
