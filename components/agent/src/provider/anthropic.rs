//! Anthropic Messages API.

use wasiclaw_json::Value;

use super::openai::excerpt;
use super::{arguments_value, schema_value, str_field, ChatRequest, Completion};
use crate::message::{Message, Role, ToolCall, Usage};
use crate::sse::Event;

pub fn request_body(req: &ChatRequest) -> Value {
    let mut body = Value::from_pairs([
        ("model", Value::from(req.model)),
        ("max_tokens", Value::from(req.max_tokens)),
    ]);
    if !req.system.is_empty() {
        body.set("system", req.system);
    }
    body.set("messages", messages(req.messages));
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|t| {
                Value::from_pairs([
                    ("name", Value::from(t.name.as_str())),
                    ("description", Value::from(t.description.as_str())),
                    ("input_schema", schema_value(t)),
                ])
            })
            .collect::<Vec<_>>();
        body.set("tools", tools);
    }
    if req.stream {
        body.set("stream", true);
    }
    body
}

/// Anthropic wants strictly alternating roles and tool results inside a user
/// message, so consecutive same-role messages are merged into one message
/// with several content blocks.
fn messages(msgs: &[Message]) -> Value {
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in msgs {
        let (role, blocks) = match m.role {
            Role::User => ("user", vec![text_block(&m.content)]),
            Role::Tool => {
                let mut b = Value::from_pairs([
                    ("type", Value::from("tool_result")),
                    ("tool_use_id", Value::from(m.tool_call_id.as_str())),
                    ("content", Value::from(m.content.as_str())),
                ]);
                if m.is_error {
                    b.set("is_error", true);
                }
                ("user", vec![b])
            }
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(text_block(&m.content));
                }
                for c in &m.tool_calls {
                    blocks.push(Value::from_pairs([
                        ("type", Value::from("tool_use")),
                        ("id", Value::from(c.id.as_str())),
                        ("name", Value::from(c.name.as_str())),
                        // Bad arguments were already reported back as an error
                        // result; the replayed call just needs a valid object.
                        (
                            "input",
                            arguments_value(&c.arguments).unwrap_or_else(Value::object),
                        ),
                    ]));
                }
                ("assistant", blocks)
            }
        };
        if blocks.is_empty() {
            continue; // an empty assistant text: Anthropic rejects empty blocks
        }
        match out.last_mut() {
            Some((r, b)) if *r == role => b.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    Value::from(
        out.into_iter()
            .map(|(role, blocks)| {
                Value::from_pairs([
                    ("role", Value::from(role)),
                    ("content", Value::from(blocks)),
                ])
            })
            .collect::<Vec<_>>(),
    )
}

fn text_block(text: &str) -> Value {
    Value::from_pairs([("type", Value::from("text")), ("text", Value::from(text))])
}

fn api_error(v: &Value) -> Option<String> {
    if v.get("type").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let e = v.get("error");
    let msg = e.and_then(|e| e.get("message")).and_then(Value::as_str);
    Some(format!("provider error: {}", msg.unwrap_or("(no message)")))
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
    let v = wasiclaw_json::parse(body).map_err(|e| e.to_string())?;
    if let Some(e) = api_error(&v) {
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
        let v = wasiclaw_json::parse(&ev.data)
            .map_err(|e| format!("{e} in event {}", excerpt(&ev.data)))?;
        if let Some(e) = api_error(&v) {
            return Err(e);
        }
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(&ev.event);
        if self.done && kind != "ping" {
            return Err(format!("{kind} after message_stop"));
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
                            _ => return Err(format!("input_json_delta for unknown block {index}")),
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
