//! Anthropic Messages API.

use crate::prelude::*;
use wasiclaw_json::Value;

use super::openai::excerpt;
use super::{object_text, str_field, ChatRequest, Completion};
use crate::jsonw::JsonWriter;
use crate::message::{Message, Role, ToolCall, Usage};
use crate::sse::Event;

pub fn request_body(req: &ChatRequest) -> String {
    let mut w = JsonWriter::default();
    w.open('{')
        .field("model", req.model)
        .key("max_tokens")
        .raw(&cat!(req.max_tokens));
    if !req.system.is_empty() {
        w.field("system", req.system);
    }
    w.key("messages").open('[');
    messages(&mut w, req.messages);
    w.close(']');
    if !req.tools.is_empty() {
        w.key("tools").open('[');
        for t in req.tools {
            w.open('{')
                .field("name", &t.name)
                .field("description", &t.description)
                .key("input_schema")
                .raw(object_text(&t.parameters, r#"{"type":"object"}"#))
                .close('}');
        }
        w.close(']');
    }
    if req.stream {
        w.key("stream").raw("true");
    }
    w.close('}');
    w.out
}

/// Anthropic wants strictly alternating roles and tool results inside a user
/// message, so consecutive same-role messages become one message with
/// several content blocks.
fn messages(w: &mut JsonWriter, msgs: &[Message]) {
    let mut open_role = "";
    for m in msgs {
        let role = match m.role {
            Role::User | Role::Tool => "user",
            // An empty assistant text: Anthropic rejects empty blocks.
            Role::Assistant if m.content.is_empty() && m.tool_calls.is_empty() => continue,
            Role::Assistant => "assistant",
        };
        if role != open_role {
            if !open_role.is_empty() {
                w.close(']').close('}');
            }
            w.open('{').field("role", role).key("content").open('[');
            open_role = role;
        }
        match m.role {
            Role::User => text_block(w, &m.content),
            Role::Tool => {
                w.open('{')
                    .field("type", "tool_result")
                    .field("tool_use_id", &m.tool_call_id)
                    .field("content", &m.content);
                if m.is_error {
                    w.key("is_error").raw("true");
                }
                w.close('}');
            }
            Role::Assistant => {
                if !m.content.is_empty() {
                    text_block(w, &m.content);
                }
                for c in &m.tool_calls {
                    // Bad arguments were already reported back as an error
                    // result; the replayed call just needs a valid object.
                    w.open('{')
                        .field("type", "tool_use")
                        .field("id", &c.id)
                        .field("name", &c.name)
                        .key("input")
                        .raw(object_text(&c.arguments, "{}"))
                        .close('}');
                }
            }
        }
    }
    if !open_role.is_empty() {
        w.close(']').close('}');
    }
}

fn text_block(w: &mut JsonWriter, text: &str) {
    w.open('{')
        .field("type", "text")
        .field("text", text)
        .close('}');
}

fn api_error(v: &Value) -> Option<String> {
    if v.get("type").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let e = v.get("error");
    let msg = e.and_then(|e| e.get("message")).and_then(Value::as_str);
    Some(cat!("provider error: ", msg.unwrap_or("(no message)")))
}

fn add_usage(into: &mut Usage, u: &Value) {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let input = [
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .filter_map(|k| n(k))
    .reduce(|a, b| a + b);
    // Both counts are cumulative in message_delta, so they replace.
    if let Some(i) = input {
        into.input_tokens = i;
    }
    if let Some(o) = n("output_tokens") {
        into.output_tokens = o;
    }
}

pub fn parse_reply(body: &str) -> Result<Completion, String> {
    from_value(&wasiclaw_json::parse(body).map_err(|e| e.message())?)
}

pub fn from_value(v: &Value) -> Result<Completion, String> {
    if let Some(e) = api_error(v) {
        return Err(e);
    }
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or("no \"content\" array in the reply")?;
    let mut c = Completion::default();
    for block in content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => c.text.push_str(str_field(block, "text", "text block")?),
            Some("tool_use") => c.tool_calls.push(ToolCall {
                id: str_field(block, "id", "tool_use block")?.to_string(),
                name: str_field(block, "name", "tool_use block")?.to_string(),
                arguments: block
                    .get("input")
                    .map_or_else(|| "{}".into(), Value::to_json),
            }),
            _ => {} // thinking and future block types carry nothing we use
        }
    }
    if let Some(u) = v.get("usage") {
        add_usage(&mut c.usage, u);
    }
    Ok(c)
}

enum Block {
    Text,
    Tool {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// Follows message_start / content_block_* / message_delta / message_stop.
#[derive(Default)]
pub struct Stream {
    text: String,
    blocks: Vec<(u64, Block)>,
    usage: Usage,
    started: bool,
    done: bool,
}

impl Stream {
    pub fn on_event(&mut self, ev: &Event, on_text: &mut dyn FnMut(&str)) -> Result<(), String> {
        let v =
            wasiclaw_json::parse(&ev.data).map_err(|e| cat!(e, " in event ", excerpt(&ev.data)))?;
        if let Some(e) = api_error(&v) {
            return Err(e);
        }
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(&ev.event);
        if self.done && kind != "ping" {
            return Err(cat!(kind, " after message_stop"));
        }
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                self.started = true;
                if let Some(u) = v.get("message").and_then(|m| m.get("usage")) {
                    add_usage(&mut self.usage, u);
                }
            }
            "content_block_start" => {
                let b = v
                    .get("content_block")
                    .ok_or("content_block_start without a block")?;
                let block = match b.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = b.get("text").and_then(Value::as_str) {
                            self.push_text(t, on_text);
                        }
                        Block::Text
                    }
                    Some("tool_use") => Block::Tool {
                        id: str_field(b, "id", "tool_use block")?.to_string(),
                        name: str_field(b, "name", "tool_use block")?.to_string(),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.push((index, block));
            }
            "content_block_delta" => {
                let d = v
                    .get("delta")
                    .ok_or("content_block_delta without a delta")?;
                match d.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let t = str_field(d, "text", "text_delta")?;
                        self.push_text(t, on_text);
                    }
                    Some("input_json_delta") => {
                        let part = str_field(d, "partial_json", "input_json_delta")?;
                        match self.blocks.iter_mut().rev().find(|(i, _)| *i == index) {
                            Some((_, Block::Tool { json, .. })) => json.push_str(part),
                            _ => return Err(cat!("input_json_delta for unknown block ", index)),
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    add_usage(&mut self.usage, u);
                }
            }
            "message_stop" => self.done = true,
            _ => {} // ping, content_block_stop, future events
        }
        Ok(())
    }

    fn push_text(&mut self, t: &str, on_text: &mut dyn FnMut(&str)) {
        if !t.is_empty() {
            self.text.push_str(t);
            on_text(t);
        }
    }

    pub fn done(&self) -> bool {
        self.started && self.done
    }

    pub fn finish(self) -> Result<Completion, String> {
        if !self.started || !self.done {
            return Err("the stream ended before message_stop (truncated reply)".into());
        }
        let mut tool_calls = Vec::new();
        for (_, b) in self.blocks {
            if let Block::Tool { id, name, json } = b {
                let arguments = if json.trim().is_empty() {
                    "{}".into()
                } else {
                    json
                };
                tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments,
                });
            }
        }
        Ok(Completion {
            text: self.text,
            tool_calls,
            usage: self.usage,
        })
    }
}
